/**
 * The server under test for `npm run bench -- server`, in a process of its own (the parent
 * runs autocannon; see index.ts for how the two cores are split). Started as
 *
 *     node --import tsx bench/server/server-child.ts ours|bare
 *
 * with an IPC channel. `ours`: `createServer()` from lib/server with the options the parent
 * passes in ULTRA_PERF_BENCH_SERVER_OPTIONS (JSON: token, raised rate limit...). `bare`: a
 * plain `node:http` server that answers each captured route with the exact bytes our server
 * sent for it (status, content-type, body), draining request bodies first as Fastify does.
 * Messages: child → parent `{ ready: port }`; parent → child `{ routes: [...] }` (bare only,
 * answered `{ routesSet: n }`), `{ mark: true }` (answered `{ markUs }`: now on the clock of V8's
 * CPU profiles, so a `--cpu-prof` profile can be cut to the loaded window), and `{ stop: true }`
 * (close, then exit 0, so `--cpu-prof` writes its profile).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapturedRoute {
  method: string;
  path: string;
  status: number;
  contentType: string;
  /** The response body our server sent, base64. */
  body: string;
}

type Message = { routes: CapturedRoute[] } | { stop: true } | { mark: true };

const kind = process.argv[2];
if (kind !== 'ours' && kind !== 'bare') throw new Error(`usage: server-child.ts ours|bare (got ${String(kind)})`);
if (process.send === undefined) throw new Error('server-child.ts needs an IPC channel (spawn it with stdio "ipc")');
const send = process.send.bind(process);

let close: () => Promise<void>;
let port: number;

if (kind === 'ours') {
  const { createServer } = await import('../../lib/server/index.js');
  const options = JSON.parse(process.env.ULTRA_PERF_BENCH_SERVER_OPTIONS ?? '{}') as Parameters<typeof createServer>[0];
  const app = await createServer({ ...options, host: '127.0.0.1', logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  close = () => app.close();
} else {
  let answers = new Map<string, { status: number; headers: Record<string, string | number>; body: Buffer }>();
  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    const a = answers.get(`${req.method} ${req.url}`);
    if (a === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not captured');
      return;
    }
    res.writeHead(a.status, a.headers).end(a.body);
  };
  const server = createHttpServer((req, res) => {
    // Fastify reads and parses a body before its handler runs; the bare server at least reads it.
    if (req.method === 'GET' || req.method === 'HEAD') answer(req, res);
    else {
      req.on('data', () => {});
      req.on('end', () => answer(req, res));
    }
  });
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  process.on('message', (m: Message) => {
    if (!('routes' in m)) return;
    answers = new Map(
      m.routes.map((r) => {
        const body = Buffer.from(r.body, 'base64');
        return [`${r.method} ${r.path}`, { status: r.status, headers: { 'content-type': r.contentType, 'content-length': body.length }, body }];
      }),
    );
    send({ routesSet: answers.size });
  });
}

process.on('message', (m: Message) => {
  if ('stop' in m) void close().then(() => process.exit(0));
  // On V8's profile clock (CLOCK_MONOTONIC, µs), so the parent can cut a --cpu-prof profile to a window.
  else if ('mark' in m) send({ markUs: Number(process.hrtime.bigint() / 1000n) });
});
process.on('disconnect', () => void close().then(() => process.exit(0)));
send({ ready: port });
