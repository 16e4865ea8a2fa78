/**
 * `ultraPerformancePlugin`: the HTTP control API as an encapsulated Fastify plugin. Its
 * hooks (auth, rate limit, load shedding, error handler) apply to its own routes only, so
 * it can sit in a user's app beside their routes:
 *
 *     import Fastify from 'fastify';
 *     import { ultraPerformancePlugin } from 'ultra-performance/server';
 *     const app = Fastify();
 *     await app.register(ultraPerformancePlugin, { token: process.env.ULTRA_PERF_TOKEN });
 *
 * Routes: every seed route under `/api/v1/ultra-performance/`, `jobs/:id`, the listing and
 * deletion of objects created over HTTP, `/metrics`, `/livez`, `/readyz`, the OpenAPI
 * document and docs page, and the dashboard.
 *
 * What guards a request, in order (docs/server.md "Serving and security"):
 * 1. closing: while the server shuts down, every route but `/livez` answers 503;
 * 2. load shedding (@fastify/under-pressure): past the event-loop delay, heap or
 *    utilisation limits, 503 + Retry-After (never on `/livez` and `/readyz`);
 * 3. rate limit (@fastify/rate-limit): `limits.rateLimitPerSec` per token (per client
 *    address without one), 429 + Retry-After (not on the probes);
 * 4. bearer token (auth.ts) on the API, `/metrics` and server-sent-event routes;
 * 5. schema validation (400), the body limit (413), content types (415: JSON only);
 * 6. the handler, cut off after `limits.handlerTimeoutMs` (503 + Retry-After).
 * Every error body is an `ErrorResponse`.
 */
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Type } from 'typebox';

import type { CacheWarmer, WarmLoader } from '../cache/warmer.js';
import type { TieredCache } from '../cache/tiered.js';

import { TokenAuth } from './auth.js';
import { registerDashboard } from './dashboard.js';
import { HttpError, unavailable } from './http-errors.js';
import { JobRunner, type JobRunnerOptions } from './jobs.js';
import { resolveLimits, type ServerLimits } from './limits.js';
import { registerMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { ObjectRegistry } from './registry.js';
import { kRouteModules } from './routes/index.js';
import { kSharedSchemas } from './schemas/common.js';
import { ServerTelemetry } from './telemetry.js';
import { kApiPrefix, type RouteModule, type ServerApp, type ServerContext } from './types.js';

export interface UltraPerformancePluginOptions {
  /**
   * Bearer token the API requires (compared in constant time). Without one the API answers
   * only requests that arrive on a loopback address; `createServer` refuses to bind beyond
   * loopback without it.
   */
  token?: string;
  /** Caps on work, rates, timeouts and load shedding; unset fields keep `kDefaultLimits`. */
  limits?: Partial<ServerLimits>;
  /** The job runner's workloads (default: the built-in ones). */
  jobs?: JobRunnerOptions;
  /**
   * Your own route modules, registered under the API prefix after the built-in ones with the
   * same context (job runner, registry, limits), token, rate limit and error handling.
   */
  routes?: readonly RouteModule[];
  /** The cache the cache/* routes report on and warm (yours); default: an in-process TieredCache with L1 only. */
  cache?: TieredCache<unknown>;
  /** The warmer that records your accesses (call `warmer.recordAccess(key)` on reads); default: a new CacheWarmer. */
  warmer?: CacheWarmer<unknown>;
  /** Loads a key's value for cache/warm-intelligent; without one that route answers 409 (never invents values). */
  warmLoader?: WarmLoader<unknown>;
  /** Hosts network/create-connection may reach besides loopback (exact names or addresses; default none). */
  allowedHosts?: readonly string[];
}

/** Route config the plugin reads. `auth`: require the token (default: API routes, `/metrics`, paths ending in `/stream`). */
export interface UltraPerformanceRouteConfig {
  auth?: boolean;
}

const kArgumentCodes = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE']);

const Live = Type.Object(
  { status: Type.Literal('ok'), uptimeS: Type.Number({ description: 'seconds since the plugin started' }) },
  { additionalProperties: false },
);
const Ready = Type.Object(
  {
    status: Type.Literal('ok'),
    jobs: Type.Object(
      { running: Type.Integer({ minimum: 0 }), queued: Type.Integer({ minimum: 0 }), queueCapacity: Type.Integer({ minimum: 1 }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** Probes: never shed, never rate limited, no token (a load balancer or kubelet calls them). */
const kProbeConfig = { auth: false, rateLimit: false, pressureHandler: () => undefined };

export async function ultraPerformancePlugin(fastify: FastifyInstance, options: UltraPerformancePluginOptions = {}): Promise<void> {
  const app = fastify as unknown as ServerApp;
  const limits: ServerLimits = resolveLimits(options.limits);
  const auth = new TokenAuth(options.token);
  const ctx: ServerContext = {
    options,
    limits,
    jobs: new JobRunner(limits, options.jobs),
    registry: new ObjectRegistry(limits.maxObjectsPerKind),
    startedAt: performance.now(),
    services: new Map(),
    telemetry: new ServerTelemetry(),
    components: new Map(),
  };
  for (const schema of kSharedSchemas) app.addSchema(schema);

  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if (err instanceof HttpError) {
      for (const [name, value] of Object.entries(err.headers)) void reply.header(name, value);
      return reply.code(err.statusCode).send({ statusCode: err.statusCode, code: err.code, error: reasonPhrase(err.statusCode), message: err.message });
    }
    const given = (err as FastifyError).statusCode;
    let status = typeof given === 'number' && given >= 400 && given <= 599 ? given : 500;
    // An error without a code (a plugin's http-errors, e.g. @fastify/static's 400 and 403 for a
    // bad path) is only "internal" when it is a 5xx.
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : status >= 500 ? 'ERR_ULTRA_PERF_HTTP_INTERNAL' : 'ERR_ULTRA_PERF_HTTP_BAD_REQUEST';
    if (status >= 500 && (kArgumentCodes.has(code) || err instanceof RangeError || err instanceof TypeError)) status = 422;
    let message = err.message;
    const validation = (err as FastifyError).validation;
    if (validation !== undefined) {
      status = 400;
      // Ajv's message leaves out which field was not allowed: name it.
      const unknown = validation.flatMap((v) => (typeof v.params?.additionalProperty === 'string' ? [`${v.instancePath || '/'}${v.instancePath ? '/' : ''}${v.params.additionalProperty}`] : []));
      if (unknown.length > 0) message += ` (unknown field ${unknown.map((f) => JSON.stringify(f)).join(', ')})`;
    }
    if (code === 'FST_ERR_HANDLER_TIMEOUT') void reply.header('retry-after', String(Math.ceil(limits.handlerTimeoutMs / 1000)));
    if (status >= 500) request.log.error(err);
    return reply.code(status).send({ statusCode: status, code, error: reasonPhrase(status), message });
  });
  const noRoute = (request: FastifyRequest, reply: FastifyReply): void => {
    void reply.code(404).send({
      statusCode: 404,
      code: 'ERR_ULTRA_PERF_HTTP_NO_ROUTE',
      error: reasonPhrase(404),
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    });
  };
  try {
    app.setNotFoundHandler(noRoute);
  } catch {
    // The app this plugin sits in has its own 404 handler for its prefix: it keeps it
    // there; unknown routes under the API prefix still answer an ErrorResponse (below).
  }
  // JSON is the only body the API reads: text/plain is refused with 415 like any other type.
  app.removeContentTypeParser('text/plain');

  const base = app.prefix;
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Hooks on every request are callback-style: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    // Every answer is JSON, text or a page with its own type: never let a browser sniff one
    // (a 404 message echoes the request path) into HTML or script.
    void reply.header('x-content-type-options', 'nosniff');
    if (closing && request.routeOptions.url !== `${base}/livez`) return done(unavailable('the server is shutting down', 5));
    done();
  });

  // Start-up (loading route modules, compiling schemas, first imports) can block the loop for
  // seconds right after under-pressure starts sampling; that stall is not load. Shedding and
  // the readiness check on pressure start two samples after the app is ready, once the
  // samples hold only what came after start-up.
  let pressureFrom = Number.POSITIVE_INFINITY;
  app.addHook('onReady', async () => {
    pressureFrom = performance.now() + 2 * limits.pressureSampleMs;
  });
  const pressured = (): boolean => performance.now() >= pressureFrom && app.isUnderPressure();
  await app.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    maxEventLoopUtilization: limits.maxEventLoopUtilization,
    eventLoopUtilizationMode: 'interval',
    sampleInterval: limits.pressureSampleMs,
    pressureHandler: async (_request, _reply, type, value) => {
      if (performance.now() < pressureFrom) return;
      throw unavailable(`the server is under pressure (${pressureReason(type, value, limits)})`, (2 * limits.pressureSampleMs) / 1000);
    },
  });

  // Per token when the request carries the right one, else per client address, so wrong
  // tokens are limited too. The auth result is kept for the auth hook that runs next.
  const allowed = new WeakMap<FastifyRequest, boolean>();
  const isAllowed = (request: FastifyRequest): boolean => {
    let ok = allowed.get(request);
    if (ok === undefined) allowed.set(request, (ok = auth.allows(request, isStream(request.routeOptions.url ?? ''))));
    return ok;
  };
  await app.register(rateLimit, {
    global: true,
    max: limits.rateLimitPerSec,
    timeWindow: 1000,
    hook: 'onRequest',
    keyGenerator: (request) => (auth.required && isAllowed(request) ? 'token' : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'ERR_ULTRA_PERF_HTTP_RATE_LIMITED', `more than ${context.max} requests per second from this ${auth.required ? 'token or client' : 'client'}; retry after ${context.after}`),
  });

  app.addHook('onRoute', (route: RouteOptions) => {
    const url = route.url.startsWith(base) ? route.url.slice(base.length) || '/' : route.url;
    const stream = isStream(url);
    // Long-lived streams set their own timeout (or hijack); everything else answers in time.
    if (!stream && route.handlerTimeout === undefined) route.handlerTimeout = limits.handlerTimeoutMs;
    const config = route.config as UltraPerformanceRouteConfig | undefined;
    const protect = config?.auth ?? (url.startsWith(kApiPrefix) || url === '/metrics' || stream);
    if (!protect) return;
    const check = (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
      if (isAllowed(request)) return done();
      try {
        auth.refuse(request, stream);
      } catch (err) {
        done(err as Error);
      }
    };
    const hooks = route.onRequest;
    route.onRequest = hooks === undefined ? [check] : Array.isArray(hooks) ? [...hooks, check] : [hooks, check];
  });
  app.addHook('onResponse', (request, reply, done) => {
    ctx.telemetry.recordRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, Math.round(reply.elapsedTime * 1e6));
    done();
  });

  await registerOpenApi(app, ctx);
  await app.register(
    async (api) => {
      api.setNotFoundHandler(noRoute);
      for (const module of [...kRouteModules, ...(options.routes ?? [])]) await module(api as unknown as ServerApp, ctx);
    },
    { prefix: kApiPrefix },
  );
  await registerMetrics(app, ctx);
  await registerDashboard(app, ctx);

  app.get(
    '/livez',
    {
      config: kProbeConfig,
      schema: {
        tags: ['probes'],
        operationId: 'livez',
        summary: 'Liveness probe',
        description: 'Answers 200 while the process runs its event loop, also under load and while shutting down: a load-shedding 503 must never restart the process. No token.',
        response: { 200: Live },
      },
    },
    async () => ({ status: 'ok' as const, uptimeS: (performance.now() - ctx.startedAt) / 1000 }),
  );
  app.get(
    '/readyz',
    {
      config: kProbeConfig,
      schema: {
        tags: ['probes'],
        operationId: 'readyz',
        summary: 'Readiness probe',
        description: 'Answers 503 (with the reasons and Retry-After, s) while the server sheds load, its job queue is full, or it is shutting down: send traffic elsewhere for now. No token.',
        response: { 200: Ready, 503: Type.Ref('ErrorResponse') },
      },
    },
    async () => {
      const reasons: string[] = [];
      if (closing) reasons.push('shutting down');
      if (pressured()) {
        const m = app.memoryUsage();
        reasons.push(`under pressure (event-loop delay ${m.eventLoopDelay.toFixed(1)} ms, heap used ${m.heapUsed} bytes, event-loop utilisation ${m.eventLoopUtilized.toFixed(2)})`);
      }
      if (ctx.jobs.full()) reasons.push(`job queue full (${ctx.limits.jobQueue} waiting)`);
      if (reasons.length > 0) {
        const err = unavailable(`not ready: ${reasons.join('; ')}`, Math.max(2 * limits.pressureSampleMs, 1000) / 1000);
        throw new HttpError(503, 'ERR_ULTRA_PERF_HTTP_NOT_READY', err.message, err.headers);
      }
      const stats = ctx.jobs.stats();
      return { status: 'ok' as const, jobs: { running: stats.running, queued: stats.queued, queueCapacity: limits.jobQueue } };
    },
  );

  app.addHook('onClose', async () => {
    ctx.telemetry.close();
    await ctx.jobs.close();
    await ctx.registry.closeAll();
  });
}

function isStream(url: string): boolean {
  return url.endsWith('/stream');
}

function pressureReason(type: string, value: number | undefined, limits: ServerLimits): string {
  switch (type) {
    case 'eventLoopDelay':
      return `event-loop delay ${value?.toFixed(1)} ms, limit ${limits.maxEventLoopDelayMs} ms`;
    case 'heapUsedBytes':
      return `heap used ${value} bytes, limit ${limits.maxHeapUsedBytes}`;
    case 'eventLoopUtilization':
      return `event-loop utilisation ${value?.toFixed(2)}, limit ${limits.maxEventLoopUtilization}`;
    default:
      return type;
  }
}

const kPhrases: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

function reasonPhrase(status: number): string {
  return kPhrases[status] ?? 'Error';
}
