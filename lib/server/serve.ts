/**
 * `createServer(options)`: a Fastify instance with the plugin registered and the server
 * timeouts set; `serve(options)` also listens. Binding beyond loopback without a token is
 * refused (`ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED`).
 */
import Fastify, { type FastifyInstance } from 'fastify';

import { UltraPerfError } from '../errors.js';
import { kDefaultLimits } from './limits.js';
import { ultraPerformancePlugin, type UltraPerformancePluginOptions } from './plugin.js';

export interface ServeOptions extends UltraPerformancePluginOptions {
  /** Address to bind (default 127.0.0.1). Anything but loopback needs `token`. */
  host?: string;
  /** Port (default 8420; 0 picks a free one). */
  port?: number;
  /** Fastify's logger option (default off). */
  logger?: boolean;
}

const kLoopback = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return kLoopback.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function createServer(options: ServeOptions = {}): Promise<FastifyInstance> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && (options.token === undefined || options.token === '')) {
    throw new UltraPerfError('ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED', `binding to ${host} (beyond loopback) needs a bearer token: pass token or set ULTRA_PERF_TOKEN`);
  }
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.limits?.maxBodyBytes ?? kDefaultLimits.maxBodyBytes,
  });
  await app.register(ultraPerformancePlugin, options);
  return app;
}

export async function serve(options: ServeOptions = {}): Promise<FastifyInstance> {
  const app = await createServer(options);
  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8420 });
  return app;
}
