/**
 * `ultraPerformancePlugin`: the HTTP control API as an encapsulated Fastify plugin. Its
 * hooks (auth, rate limit, error handler) apply to its own routes only, so it can sit in
 * a user's app beside their routes:
 *
 *     import Fastify from 'fastify';
 *     import { ultraPerformancePlugin } from 'ultra-performance/server';
 *     const app = Fastify();
 *     await app.register(ultraPerformancePlugin, { token: process.env.ULTRA_PERF_TOKEN });
 *
 * Routes: every seed route under `/api/v1/ultra-performance/`, `jobs/:id`, the listing and
 * deletion of objects created over HTTP, `/metrics`, `/livez`, `/readyz`, the OpenAPI
 * document and docs page, and the dashboard.
 */
import type { FastifyError, FastifyInstance } from 'fastify';

import type { CacheWarmer, WarmLoader } from '../cache/warmer.js';
import type { TieredCache } from '../cache/tiered.js';

import { registerDashboard } from './dashboard.js';
import { HttpError } from './http-errors.js';
import { JobRunner } from './jobs.js';
import { kDefaultLimits, type ServerLimits } from './limits.js';
import { registerMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { ObjectRegistry } from './registry.js';
import { kRouteModules } from './routes/index.js';
import { kSharedSchemas } from './schemas/common.js';
import { ServerTelemetry } from './telemetry.js';
import { kApiPrefix, type ServerApp, type ServerContext } from './types.js';

export interface UltraPerformancePluginOptions {
  /** Bearer token the API requires (compared in constant time). Required by `serve` beyond loopback. */
  token?: string;
  /** Caps on work and on objects; unset fields keep `kDefaultLimits`. */
  limits?: Partial<ServerLimits>;
  /** The cache the cache/* routes report on and warm (yours); default: an in-process TieredCache with L1 only. */
  cache?: TieredCache<unknown>;
  /** The warmer that records your accesses (call `warmer.recordAccess(key)` on reads); default: a new CacheWarmer. */
  warmer?: CacheWarmer<unknown>;
  /** Loads a key's value for cache/warm-intelligent; without one that route answers 409 (never invents values). */
  warmLoader?: WarmLoader<unknown>;
  /** Hosts network/create-connection may reach besides loopback (exact names or addresses; default none). */
  allowedHosts?: readonly string[];
}

const kArgumentCodes = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE']);

export async function ultraPerformancePlugin(fastify: FastifyInstance, options: UltraPerformancePluginOptions = {}): Promise<void> {
  const app = fastify as unknown as ServerApp;
  const limits: ServerLimits = { ...kDefaultLimits, ...options.limits };
  const ctx: ServerContext = {
    options,
    limits,
    jobs: new JobRunner(limits),
    registry: new ObjectRegistry(limits.maxObjectsPerKind),
    startedAt: performance.now(),
    services: new Map(),
    telemetry: new ServerTelemetry(),
    components: new Map(),
  };
  for (const schema of kSharedSchemas) app.addSchema(schema);
  await registerOpenApi(app, ctx);

  app.setErrorHandler((err: FastifyError | HttpError, _request, reply) => {
    if (err instanceof HttpError) {
      for (const [name, value] of Object.entries(err.headers)) void reply.header(name, value);
      return reply.code(err.statusCode).send({ statusCode: err.statusCode, code: err.code, error: reasonPhrase(err.statusCode), message: err.message });
    }
    const code = (err as { code?: string }).code ?? 'ERR_ULTRA_PERF_HTTP_INTERNAL';
    let status = (err as FastifyError).statusCode ?? 500;
    if (kArgumentCodes.has(code) || err instanceof RangeError || err instanceof TypeError) status = 422;
    if ((err as FastifyError).validation !== undefined) status = 400;
    if (status >= 500) app.log.error(err);
    return reply.code(status).send({ statusCode: status, code, error: reasonPhrase(status), message: err.message });
  });

  await app.register(
    async (api) => {
      for (const module of kRouteModules) await module(api as unknown as ServerApp, ctx);
    },
    { prefix: kApiPrefix },
  );
  await registerMetrics(app, ctx);
  await registerDashboard(app, ctx);
  app.get('/livez', () => ({ status: 'ok' }));
  app.addHook('onClose', async () => {
    ctx.telemetry.close();
    await ctx.jobs.close();
    await ctx.registry.closeAll();
  });
}

const kPhrases: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

function reasonPhrase(status: number): string {
  return kPhrases[status] ?? 'Error';
}
