/**
 * network/* routes over a real listening server: status, create-connection (SSRF guard,
 * registry cap, connect failures), the connection list/get/delete, and measure-latency over a
 * connection to a lib/net echo peer started here or over the route's own loopback echo. The
 * refused hosts are never looked up or connected to: net.createConnection and dns.lookup are
 * watched while they are tried.
 */
import dns from 'node:dns';
import net from 'node:net';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { type TcpServer, createServer as createTcpServer } from '../lib/net/tcp.js';
import { type TestServer, startServer } from './helpers/server.js';

const json = (body: unknown, method = 'POST'): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function call(url: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, body: text === '' ? undefined : JSON.parse(text), headers: r.headers };
}

/** A lib/net framed peer that echoes every message (PINGs are answered by the library). */
async function echoPeer(): Promise<{ server: TcpServer; port: number }> {
  const server = createTcpServer({
    host: '127.0.0.1',
    port: 0,
    onConnection: (c) => {
      void (async () => {
        try {
          for await (const m of c) await c.send(m);
        } catch {
          // peer gone
        }
      })();
    },
  });
  const { port } = await server.listen();
  return { server, port };
}

/** A loopback port with nothing listening. */
async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * The route's answer, or (when its job outlived limits.syncWaitMs: 202) the job's result once
 * `GET jobs/:id` says it is done.
 */
async function settled(origin: string, r: { status: number; body: any }): Promise<{ status: number; body: any }> {
  if (r.status !== 202) return r;
  for (;;) {
    const job = await call(`${origin}${r.body.location}`);
    if (job.body.state === 'done') return { status: 200, body: job.body.result };
    if (job.body.state === 'failed' || job.body.state === 'cancelled') return { status: 422, body: job.body.error };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('network routes', () => {
  let s: TestServer;
  let peer: { server: TcpServer; port: number };

  beforeAll(async () => {
    peer = await echoPeer();
    s = await startServer({ limits: { maxObjectsPerKind: 3, maxPings: 500, maxPingBytes: 1024, maxCodecMessageBytes: 512, maxCodecIterations: 4096, connectTimeoutMs: 300 } });
  });
  afterAll(async () => {
    await s.close();
    await peer.server.close();
  });

  it('network/status: transports (not zero-copy), the four codecs, no connections yet', async () => {
    const r = await call(`${s.api}/network/status`);
    expect(r.status).toBe(200);
    expect(r.body.zeroCopyIo).toBe(false);
    expect(r.body.kernelBypass).toBe(false);
    expect(r.body.transports[0]).toMatchObject({ name: 'tcp-framed', zeroCopy: false });
    expect(r.body.codecs.map((c: { protocol: string }) => c.protocol).sort()).toEqual(['binary-struct', 'json', 'msgpack', 'raw']);
    expect(r.body.connections).toMatchObject({ count: 0, open: 0, cap: 3 });
    expect(r.body.backend.native).toBe(process.env.ULTRA_PERF_BACKEND === 'native');
    expect(r.body.allowedHosts).toEqual([]);
  });

  it('create → list → get → measure → delete → 404', async () => {
    const created = await call(`${s.api}/network/create-connection`, json({ host: 'localhost', port: peer.port, name: 'primary_feed' }));
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    expect(created.body).toMatchObject({ host: 'localhost', address: '127.0.0.1', port: peer.port, protocol: 'raw', noDelay: true, state: 'open', name: 'primary_feed', pings: 0 });
    expect(created.body.connectMs).toBeGreaterThan(0);
    expect(created.headers.get('location')).toBe(`/api/v1/ultra-performance/network/connections/${id}`);

    const list = await call(`${s.api}/network/connections`);
    expect(list.status).toBe(200);
    expect(list.body.count).toBe(1);
    expect(list.body.connections[0].id).toBe(id);

    const m = await call(`${s.api}/network/measure-latency`, json({ connectionId: id, count: 200, payloadBytes: 32 }));
    expect(m.status).toBe(200);
    expect(m.body.target).toEqual({ kind: 'connection', connectionId: id, address: '127.0.0.1', port: peer.port, protocol: 'raw' });
    const p = m.body.pings;
    expect(p.requested).toBe(200);
    expect(p.count).toBeGreaterThanOrEqual(1);
    expect(p.count).toBeLessThanOrEqual(200);
    expect(p.truncated).toBe(p.count < 200);
    expect(p.payloadBytes).toBe(32);
    expect(p.minUs).toBeGreaterThan(0);
    expect(p.p50Us).toBeGreaterThanOrEqual(p.minUs);
    expect(p.p99Us).toBeGreaterThanOrEqual(p.p50Us);
    expect(p.maxUs).toBeGreaterThanOrEqual(p.p99Us);
    expect(m.body.codecs).toBeUndefined();

    const one = await call(`${s.api}/network/connections/${id}`);
    expect(one.status).toBe(200);
    expect(one.body.pings).toBe(p.count);
    expect(one.body.lastLatency).toEqual(p);
    expect(one.body.bytesSent).toBeGreaterThan(p.count * 32);

    const status = await call(`${s.api}/network/status`);
    expect(status.body.connections).toMatchObject({ count: 1, open: 1 });
    expect(status.body.connections.bytesReceived).toBeGreaterThan(0);
    expect(status.body.measurements.last).toEqual(p);

    const del = await call(`${s.api}/network/connections/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ id, state: 'closed' });
    for (const init of [undefined, { method: 'DELETE' }]) {
      const gone = await call(`${s.api}/network/connections/${id}`, init);
      expect(gone.status).toBe(404);
      expect(gone.body.message).toBe(`no connection with id ${JSON.stringify(id)}`);
    }
    const measureGone = await call(`${s.api}/network/measure-latency`, json({ connectionId: id }));
    expect(measureGone.status).toBe(404);
    expect((await call(`${s.api}/network/connections`)).body.count).toBe(0);
  });

  it('non-loopback hosts are refused with 403 naming the host, before any DNS lookup or connect', async () => {
    const connectSpy = vi.spyOn(net, 'createConnection');
    const lookupSpy = vi.spyOn(dns, 'lookup');
    try {
      const hosts = ['10.0.0.1', '8.8.8.8', 'example.com', 'localhost.example.com', 'db.internal', '0.0.0.0', '::', '[::2]', '::ffff:127.0.0.1', '0177.0.0.1', '2130706433', '127.1', '169.254.169.254'];
      for (const host of hosts) {
        const r = await call(`${s.api}/network/create-connection`, json({ host, port: 80 }));
        expect(r.status, host).toBe(403);
        expect(r.body.code).toBe('ERR_ULTRA_PERF_HTTP_HOST_NOT_ALLOWED');
        expect(r.body.message).toContain(JSON.stringify(host));
      }
      expect(connectSpy).not.toHaveBeenCalled();
      expect(lookupSpy).not.toHaveBeenCalled();
    } finally {
      connectSpy.mockRestore();
      lookupSpy.mockRestore();
    }
    expect((await call(`${s.api}/network/connections`)).body.count).toBe(0);
  });

  it('loopback spellings are accepted: 127.x.y.z, ::1, [::1], LOCALHOST', async () => {
    const v6 = createTcpServer({ host: '::1', port: 0 });
    let v6port: number | undefined;
    try {
      v6port = (await v6.listen()).port;
    } catch {
      // no IPv6 loopback on this host
    }
    const cases: [string, number, string][] = [
      ['127.0.0.1', peer.port, '127.0.0.1'],
      ['LOCALHOST', peer.port, '127.0.0.1'],
    ];
    if (v6port !== undefined) cases.push(['[::1]', v6port, '::1'], ['0:0:0:0:0:0:0:1', v6port, '::1']);
    for (const [host, port, address] of cases) {
      const r = await call(`${s.api}/network/create-connection`, json({ host, port }));
      expect(r.status, host).toBe(201);
      expect(r.body.address).toBe(address);
      expect((await call(`${s.api}/network/connections/${r.body.id}`, { method: 'DELETE' })).status).toBe(200);
    }
    await v6.close();
    // 127.0.0.2 is loopback too: accepted by the guard, refused by the kernel (nothing listens there)
    const other = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.2', port: await deadPort() }));
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('ERR_ULTRA_PERF_HTTP_CONNECT_FAILED');
  });

  it('the registry cap answers 409; deleting one makes room', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port: peer.port, protocol: (['json', 'msgpack', 'binary-struct'] as const)[i] }));
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
    const full = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port: peer.port }));
    expect(full.status).toBe(409);
    expect(full.body.code).toBe('ERR_ULTRA_PERF_HTTP_OBJECT_CAP');
    expect(full.body.message).toMatch(/^3 connection objects exist/);
    const list = await call(`${s.api}/network/connections`);
    expect(list.body.connections.map((c: { protocol: string }) => c.protocol)).toEqual(['json', 'msgpack', 'binary-struct']);
    expect((await call(`${s.api}/network/connections/${ids[0]}`, { method: 'DELETE' })).status).toBe(200);
    const again = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port: peer.port }));
    expect(again.status).toBe(201);
    for (const id of [...ids.slice(1), again.body.id]) expect((await call(`${s.api}/network/connections/${id}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('a refused connect and a peer that never answers the handshake are 422 and leave nothing behind', async () => {
    const refused = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port: await deadPort() }));
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('ERR_ULTRA_PERF_HTTP_CONNECT_FAILED');
    expect(refused.body.message).toMatch(/^could not connect to 127\.0\.0\.1:\d+: ECONNREFUSED$/);

    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket.on('error', () => undefined)));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const r = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port }));
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('ERR_ULTRA_PERF_HTTP_CONNECT_TIMEOUT');
      expect(r.body.message).toMatch(/limits\.connectTimeoutMs \(300 ms\)/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
    expect((await call(`${s.api}/network/connections`)).body.count).toBe(0);
  });

  it('bad create-connection bodies are 400 (schema) or 422 (past a limit)', async () => {
    const bad: unknown[] = [
      {},
      { host: '127.0.0.1' },
      { port: 80 },
      { host: '', port: 80 },
      { host: '127.0.0.1', port: 0 },
      { host: '127.0.0.1', port: 70_000 },
      { host: '127.0.0.1', port: 'http' },
      { host: '127.0.0.1', port: 80, protocol: 'xml' },
      { host: '127.0.0.1', port: 80, heartbeatMs: 1 },
      { host: 'x'.repeat(254), port: 80 },
    ];
    for (const body of bad) {
      const r = await call(`${s.api}/network/create-connection`, json(body));
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    const big = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port: peer.port, batchBytes: (1 << 20) + 1 }));
    expect(big.status).toBe(422);
    expect(big.body.message).toMatch(/^batchBytes: at most 1048576 \(limits\.connectionBufferBytes\)/);
    const longId = await call(`${s.api}/network/connections/${'x'.repeat(129)}`);
    expect(longId.status).toBe(414); // Fastify's maxParamLength (100) answers before the schema's 128
    const oddId = await call(`${s.api}/network/connections/${encodeURIComponent('../../jobs')}`);
    expect(oddId.status).toBe(404);
  });

  it('measure-latency without a connection times a loopback echo the route starts and stops', async () => {
    const r = await call(`${s.api}/network/measure-latency`, json({ count: 50 }));
    expect(r.status).toBe(200);
    expect(r.body.target).toMatchObject({ kind: 'loopback-echo', address: '127.0.0.1', protocol: 'raw' });
    expect(r.body.pings.requested).toBe(50);
    expect(r.body.pings.count).toBeGreaterThanOrEqual(1);
    expect(r.body.pings.payloadBytes).toBe(64);
    const bare = await call(`${s.api}/network/measure-latency`, { method: 'POST' });
    expect(bare.status).toBe(200);
    expect(bare.body.pings.requested).toBe(500); // min(1000, limits.maxPings)
    // the echo is gone: its port refuses now
    const after = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port: r.body.target.port }));
    expect(after.status).toBe(422);
  });

  it('measure-latency with codecs: encode/decode time and size per protocol', async () => {
    const r = await settled(s.origin, await call(`${s.api}/network/measure-latency`, json({ count: 20, codecs: { protocols: ['json', 'msgpack', 'binary-struct', 'raw'], iterations: 256 } })));
    expect(r.status).toBe(200);
    expect(r.body.pings.requested).toBe(20);
    const byProtocol = Object.fromEntries(r.body.codecs.map((c: { protocol: string }) => [c.protocol, c]));
    expect(Object.keys(byProtocol).sort()).toEqual(['binary-struct', 'json', 'msgpack', 'raw']);
    expect(byProtocol['binary-struct']).toMatchObject({ codec: 'struct Quote', encodedBytes: 48, iterations: 256 });
    expect(byProtocol.json.sizeVsJson).toBe(1);
    expect(byProtocol.raw.encodedBytes).toBe(byProtocol.json.encodedBytes);
    expect(byProtocol.msgpack.encodedBytes).toBeLessThan(byProtocol.json.encodedBytes);
    for (const c of r.body.codecs) {
      expect(c.encodeNs.p50).toBeGreaterThan(0);
      expect(c.decodeNs.p99).toBeGreaterThanOrEqual(c.decodeNs.p50);
    }
    const custom = await settled(s.origin, await call(`${s.api}/network/measure-latency`, json({ count: 5, codecs: { protocols: ['json'], message: { symbol: 'AAPL', px: 189.5 } } })));
    expect(custom.status).toBe(200);
    expect(custom.body.codecs[0].encodedBytes).toBe(JSON.stringify({ symbol: 'AAPL', px: 189.5 }).length);
  });

  it('measure-latency caps and bad input: 413/422 naming the cap, 404, 400', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ count: 501 }, 422, /^count: at most 500 pings \(limits\.maxPings\), received 501$/],
      [{ payloadBytes: 1025 }, 413, /^payloadBytes holds 1025 bytes; the cap is 1024$/],
      [{ codecs: { iterations: 4097 } }, 422, /^codecs\.iterations: at most 4096 \(limits\.maxCodecIterations\)/],
      [{ codecs: { message: { blob: 'x'.repeat(600) } } }, 413, /^codecs\.message holds \d+ JSON bytes; the cap is 512$/],
      [{ codecs: { protocols: ['binary-struct'], message: { symbol: 'AAPL' } } }, 422, /^codecs\.message: binary-struct cannot carry it/],
      [{ connectionId: 'connection-999' }, 404, /^no connection with id "connection-999"$/],
    ];
    for (const [body, status, message] of cases) {
      const r = await call(`${s.api}/network/measure-latency`, json(body));
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.message).toMatch(message);
    }
    const bad: unknown[] = [{ count: 0 }, { count: 'ten' }, { payloadBytes: -1 }, { connectionId: '' }, { codecs: { protocols: ['xml'] } }, { codecs: { protocols: [] } }, { codecs: { iterations: 8 } }, { codecs: { message: 'hi' } }];
    for (const body of bad) {
      const r = await call(`${s.api}/network/measure-latency`, json(body));
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('a connection whose peer closed is not open: measure-latency answers 409, the list shows it closed', async () => {
    const other = await echoPeer();
    const c = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port: other.port }));
    expect(c.status).toBe(201);
    await other.server.close();
    await until(async () => (await call(`${s.api}/network/connections/${c.body.id}`)).body.state === 'closed');
    const r = await call(`${s.api}/network/measure-latency`, json({ connectionId: c.body.id, count: 5 }));
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('ERR_ULTRA_PERF_HTTP_CONNECTION_NOT_OPEN');
    expect(r.body.message).toBe(`connection ${c.body.id} is closed, not open`);
    expect((await call(`${s.api}/network/connections/${c.body.id}`, { method: 'DELETE' })).status).toBe(200);
  });
});

describe('network routes: a peer lost during a measurement', () => {
  it('answers 409 naming the loss, and the connection shows closed with its error', async () => {
    const s = await startServer({ limits: { maxPings: 100_000, measureBudgetMs: 3_000 } });
    const other = await echoPeer();
    try {
      const c = await call(`${s.api}/network/create-connection`, json({ host: '127.0.0.1', port: other.port }));
      expect(c.status).toBe(201);
      const measuring = call(`${s.api}/network/measure-latency`, json({ connectionId: c.body.id, count: 100_000 }));
      await new Promise((resolve) => setTimeout(resolve, 150));
      await other.server.destroy(); // resets every socket: a crash as the client sees it
      const r = await measuring;
      expect(r.status).toBe(409);
      expect(r.body.code).toBe('ERR_ULTRA_PERF_HTTP_CONNECTION_LOST');
      expect(r.body.message).toMatch(/^the connection was lost during the measurement: /);
      const view = await call(`${s.api}/network/connections/${c.body.id}`);
      expect(view.body.state).toBe('closed');
      expect(view.body.lastError.code).toMatch(/^ERR_ULTRA_PERF_CONNECTION_|^ECONNRESET$/);
    } finally {
      await s.close();
    }
  });
});

describe('network routes: allowedHosts and concurrency limits', () => {
  let peer: { server: TcpServer; port: number };
  beforeAll(async () => {
    peer = await echoPeer();
  });
  afterAll(async () => {
    await peer.server.close();
  });

  it('a host in allowedHosts may be reached; the same host without it is 403', async () => {
    // 0.0.0.0 is not loopback to the guard, but connecting to it reaches this machine: no traffic leaves it
    const open = await startServer({ allowedHosts: ['0.0.0.0'] });
    const closed = await startServer();
    try {
      const ok = await call(`${open.api}/network/create-connection`, json({ host: '0.0.0.0', port: peer.port }));
      expect(ok.status).toBe(201);
      expect(ok.body.address).toBe('0.0.0.0');
      expect((await call(`${open.api}/network/status`)).body.allowedHosts).toEqual(['0.0.0.0']);
      const refused = await call(`${closed.api}/network/create-connection`, json({ host: '0.0.0.0', port: peer.port }));
      expect(refused.status).toBe(403);
    } finally {
      await open.close();
      await closed.close();
    }
  });

  it('allowedHosts of the wrong type is refused at registration, naming it', async () => {
    await expect(startServer({ allowedHosts: 'localhost' as never })).rejects.toThrow(/options\.allowedHosts/);
    await expect(startServer({ allowedHosts: [''] })).rejects.toThrow(/options\.allowedHosts\[0\]/);
  });

  it('past limits.maxLatencyMeasurements the route answers 503 with Retry-After; one measurement per connection (409)', async () => {
    const s = await startServer({ limits: { maxLatencyMeasurements: 1, maxPings: 100_000, measureBudgetMs: 800 } });
    try {
      const [a, b] = await Promise.all([
        call(`${s.api}/network/measure-latency`, json({ count: 100_000 })),
        new Promise((resolve) => setTimeout(resolve, 100)).then(() => call(`${s.api}/network/measure-latency`, json({ count: 10 }))),
      ]);
      expect(a.status).toBe(200);
      expect(a.body.pings.truncated).toBe(true); // the budget cut 100,000 pings short
      expect(b.status).toBe(503);
      expect(b.body.code).toBe('ERR_ULTRA_PERF_HTTP_BUSY');
      expect(b.headers.get('retry-after')).toBe('1');
    } finally {
      await s.close();
    }
    const t = await startServer({ limits: { maxPings: 100_000, measureBudgetMs: 800 } });
    try {
      const c = await call(`${t.api}/network/create-connection`, json({ host: '127.0.0.1', port: peer.port }));
      const [a, b] = await Promise.all([
        call(`${t.api}/network/measure-latency`, json({ connectionId: c.body.id, count: 100_000 })),
        new Promise((resolve) => setTimeout(resolve, 100)).then(() => call(`${t.api}/network/measure-latency`, json({ connectionId: c.body.id, count: 10 }))),
      ]);
      expect(a.status).toBe(200);
      expect(b.status).toBe(409);
      expect(b.body.code).toBe('ERR_ULTRA_PERF_HTTP_BUSY_CONNECTION');
    } finally {
      await t.close();
    }
  });
});
