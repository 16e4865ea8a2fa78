/**
 * `ultra-performance/server`: the HTTP control API (DESIGN.md "HTTP control API"). A
 * separate entry point so that importing the library's books and queues never loads Fastify.
 */
export { ultraPerformancePlugin, type UltraPerformancePluginOptions, type UltraPerformanceRouteConfig } from './plugin.js';
export { createServer, serve, isLoopback, type ServeOptions } from './serve.js';
export { kDefaultLimits, resolveLimits, type ServerLimits } from './limits.js';
export { HttpError, tooLarge, unprocessable, notFound, objectCapReached, unavailable } from './http-errors.js';
export { JobRunner, type Job, type JobState, type JobStats, type JobRunnerOptions } from './jobs.js';
export type { Workload } from './workloads/index.js';
export { kApiPrefix, type ServerApp, type ServerContext, type RouteModule, type ComponentReport } from './types.js';
// What a user's own route module (the `routes` option) and a typed client need: the shapes of
// ctx.telemetry / ctx.registry, the telemetry answer (GET monitoring/telemetry, the stream), the
// error and job bodies, and the shared schema references every route's responses use.
export type { ServerTelemetry, TelemetrySnapshot, RouteLatency } from './telemetry.js';
export type { ObjectRegistry, RegisteredObject } from './registry.js';
export { ErrorRef, JobRef, errorResponses, type ErrorResponse, type JobView } from './schemas/common.js';
