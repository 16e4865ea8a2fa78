/**
 * The shapes every part of the HTTP control API shares: the Fastify instance the routes
 * are written against (TypeBox type provider), the context each route module receives,
 * and the signature of a route module. Route modules live in `routes/` and are
 * registered by `plugin.ts` under {@link kApiPrefix}.
 */
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';

import type { ServerLimits } from './limits.js';
import type { JobRunner } from './jobs.js';
import type { ObjectRegistry } from './registry.js';
import type { UltraPerformancePluginOptions } from './plugin.js';
import type { ServerTelemetry } from './telemetry.js';

/** Every seed route lives under this prefix (SEED.md, "API Endpoints"). */
export const kApiPrefix = '/api/v1/ultra-performance';

/** The Fastify instance route modules are written against: TypeBox schemas give the types. */
export type ServerApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression<RawServerDefault>,
  RawReplyDefaultExpression<RawServerDefault>,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * What a route module gets besides the app: the caps on work, the job runner for heavy
 * work, the bounded registry of objects created over HTTP, and the live services the
 * status routes report on. One context per registered plugin.
 */
export interface ServerContext {
  /** The options the plugin was registered with (user-supplied services such as `cache` are read from here). */
  readonly options: UltraPerformancePluginOptions;
  readonly limits: ServerLimits;
  readonly jobs: JobRunner;
  readonly registry: ObjectRegistry;
  /** `performance.now()` when the plugin was registered (ms). */
  readonly startedAt: number;
  /** Live services shared by the routes (monitoring, caches, ...), filled by the route modules. */
  readonly services: Map<string, unknown>;
  /** Request latency and throughput per route, event loop and memory (the dashboard's live numbers). */
  readonly telemetry: ServerTelemetry;
  /**
   * One entry per component (the seed's `system_info` keys: gpu_acceleration, ultra_low_latency,
   * advanced_caching, memory_optimization, network_io, performance_monitoring), set by the route
   * module that owns it; `status/comprehensive` and the dashboard call each on every read.
   */
  readonly components: Map<string, () => ComponentReport>;
}

/** What a component reports: its health and measured fields (never constants). */
export interface ComponentReport {
  health: 'ok' | 'degraded' | 'unavailable' | 'idle';
  [field: string]: unknown;
}

/** A group of routes (gpu, latency, cache, ...), registered inside the API prefix. */
export type RouteModule = (app: ServerApp, ctx: ServerContext) => Promise<void> | void;
