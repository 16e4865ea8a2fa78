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
