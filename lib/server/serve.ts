/**
 * `createServer(options)`: a Fastify instance with the plugin registered and the server
 * timeouts set from the limits; `serve(options)` also listens. Binding beyond loopback
 * (`0.0.0.0`, `::`, a LAN address, a host name) without a token is refused
 * (`ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED`) before anything listens.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

import Fastify, { type FastifyInstance } from 'fastify';

import { isLoopback } from './auth.js';
import { UltraPerfError } from './lib.js';
import { resolveLimits } from './limits.js';
import { ultraPerformancePlugin, type UltraPerformancePluginOptions } from './plugin.js';

export { isLoopback };

export interface ServeOptions extends UltraPerformancePluginOptions {
  /** Address to bind (default 127.0.0.1). Anything but loopback needs `token`. */
  host?: string;
  /** Port (default 8420; 0 picks a free one). */
  port?: number;
  /** Fastify's logger option (default off). */
  logger?: boolean;
}

export async function createServer(options: ServeOptions = {}): Promise<FastifyInstance> {
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) {
    throw Object.assign(new TypeError(`Expected a host name or address for options.host but received ${JSON.stringify(host)}`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  if (!isLoopback(host) && (options.token === undefined || options.token === '')) {
    throw new UltraPerfError('ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED', `binding to options.host ${JSON.stringify(host)} (beyond loopback) needs a bearer token: options.token (createServer/serve do not read the environment), or for npx ultra-performance serve --token-file <file> or the ULTRA_PERF_TOKEN environment variable; loopback is 127.0.0.0/8, ::1, localhost`);
  }
  const limits = resolveLimits(options.limits);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: limits.maxBodyBytes,
    // Socket-level guards against slow and stalled clients (limits.ts says why these values).
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // Node checks the two timeouts above on this period (default 30 s, which would let a
      // trickling client live 30 s past them).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4))),
    },
    // The plugin answers 503 itself while closing (an ErrorResponse, /livez still 200).
    return503OnClosing: false,
    // An unknown field is a 400 naming it, not silently dropped (Fastify's default): a typo
    // in an option name must not run the request with the default value instead.
    ajv: { customOptions: { removeAdditional: false } },
    // Requests Node refuses before routing (not HTTP, a head too large, too slow) answer an
    // ErrorResponse too.
    clientErrorHandler: (err: Error & { code?: string }, socket: Duplex) => answerClientError(err, socket, limits),
  });
  await app.register(ultraPerformancePlugin, options);
  return app;
}

function answerClientError(err: Error & { code?: string }, socket: Duplex, limits: ReturnType<typeof resolveLimits>): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let message = `the request is not valid HTTP/1.1 (${err.code ?? err.message})`;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = `the request did not arrive in time (headers within limits.headersTimeoutMs = ${limits.headersTimeoutMs} ms, all of it within limits.requestTimeoutMs = ${limits.requestTimeoutMs} ms)`;
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = `the request line and headers are over limits.maxHeaderBytes (${limits.maxHeaderBytes} bytes)`;
  }
  const phrase = STATUS_CODES[status]!;
  const body = JSON.stringify({ statusCode: status, code: err.code ?? 'ERR_ULTRA_PERF_HTTP_BAD_REQUEST', error: phrase, message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${phrase}\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

export async function serve(options: ServeOptions = {}): Promise<FastifyInstance> {
  const app = await createServer(options);
  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8420 });
  return app;
}
