/**
 * A real listening server on a free loopback port (tests talk to it over TCP with fetch,
 * not only `inject`). `close()` closes the app and every connection.
 */
import type { FastifyInstance } from 'fastify';

import { createServer, type ServeOptions } from '../../lib/server/index.js';

export interface TestServer {
  app: FastifyInstance;
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** `origin` + the API prefix, no trailing slash. */
  api: string;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions = {}): Promise<TestServer> {
  const app = await createServer({ host: '127.0.0.1', ...options });
  await app.listen({ host: options.host ?? '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the test server has no TCP address');
  const origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    app,
    port: address.port,
    origin,
    api: `${origin}/api/v1/ultra-performance`,
    close: () => app.close(),
  };
}
