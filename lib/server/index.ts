/**
 * `ultra-performance/server`: the HTTP control API (DESIGN.md "HTTP control API"). A
 * separate entry point so that importing the library's books and queues never loads Fastify.
 */
export { ultraPerformancePlugin, type UltraPerformancePluginOptions } from './plugin.js';
export { createServer, serve, isLoopback, type ServeOptions } from './serve.js';
export { kDefaultLimits, type ServerLimits } from './limits.js';
export { HttpError } from './http-errors.js';
export { kApiPrefix, type ServerApp, type ServerContext, type RouteModule } from './types.js';
