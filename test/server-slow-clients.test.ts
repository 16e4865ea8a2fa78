/**
 * Issue 17 item 5, slow clients: a request trickled byte by byte (from the first byte of the
 * request line, then a body after complete headers) is cut off by the server's timeouts
 * (limits.headersTimeoutMs / requestTimeoutMs: 408 or a closed socket) long before the
 * client would have finished; hundreds of idle sockets, fresh or kept alive, do not starve
 * the server (it answers /livez meanwhile, and closes the kept-alive ones after
 * keepAliveTimeoutMs); and /livez answers while a heavy Monte Carlo job runs (it answers
 * before the job does: completion order, no timing threshold).
 */
import { connect, type Socket } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kDefaultLimits, type ServerLimits } from '../lib/server/index.js';
import { kApiPrefix } from '../lib/server/types.js';
import { startServer, type TestServer } from './helpers/server.js';

const kToken = 'slow-token-29d4b7c1';
/** Small timeouts so the test runs in seconds. */
const kHeadersTimeoutMs = 400;
const kRequestTimeoutMs = 800;
const kLimits: Partial<ServerLimits> = {
  headersTimeoutMs: kHeadersTimeoutMs,
  requestTimeoutMs: kRequestTimeoutMs,
  // Longer than the heavy job below: a socket with no traffic while its request computes is cut at this.
  connectionTimeoutMs: 60_000,
  keepAliveTimeoutMs: 500,
  // Load shedding off: on a shared 2-core machine its first sample right after start-up (schema
  // compiling in this process) can pass 1 s and shed the first requests; this suite is about timeouts.
  maxEventLoopDelayMs: 0,
  // The heavy job must finish as a 200, not a 202 after the default 2 s wait, to be compared with /livez.
  syncWaitMs: 50_000,
  handlerTimeoutMs: 60_000,
  rateLimitPerSec: 100_000,
};
/** Between two trickled bytes. */
const kDripMs = 50;

interface Trickled {
  /** Bytes written before the server cut the socket off. */
  sent: number;
  total: number;
  answer: string;
  elapsedMs: number;
}

/** Writes `text` one byte every kDripMs (after `head` at once) until done or the server closes the socket. */
function trickle(port: number, head: string, text: string): Promise<Trickled> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const started = performance.now();
    let sent = 0;
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ sent, total: text.length, answer, elapsedMs: performance.now() - started });
    });
    socket.on('connect', () => {
      if (head !== '') socket.write(head);
      timer = setInterval(() => {
        if (sent >= text.length) {
          // The whole request went through: the server did not cut it off. Stop waiting.
          clearInterval(timer);
          setTimeout(() => socket.destroy(), 2_000);
          return;
        }
        if (!socket.destroyed && socket.writable) socket.write(text[sent++]!);
      }, kDripMs);
    });
  });
}

/** A connected socket that reads (so it sees the server's 408 and end-of-stream) and keeps what it got. */
function openSocket(port: number): Promise<Socket & { got: string }> {
  return new Promise((resolve, reject) => {
    const s = Object.assign(connect(port, '127.0.0.1', () => resolve(s)), { got: '' });
    s.setEncoding('latin1');
    s.on('data', (d: string) => (s.got += d));
    s.on('error', reject);
  });
}

describe('slow clients (issue 17 item 5)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ token: kToken, limits: kLimits });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a request trickled byte by byte from its first byte is cut off by headersTimeout (408 or closed)', async () => {
    // ~200 bytes at one byte per 50 ms would take 10 s; headersTimeoutMs is 400 ms.
    const request = `GET ${kApiPrefix}/latency/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${kToken}\r\nX-Slow: ${'s'.repeat(80)}\r\n\r\n`;
    const r = await trickle(server.port, '', request);
    console.log(`slow headers: cut off after ${r.sent}/${r.total} bytes, ${r.elapsedMs.toFixed(0)} ms (headersTimeoutMs ${kHeadersTimeoutMs}); answer ${JSON.stringify(r.answer.split('\r\n')[0])}`);
    expect(r.sent).toBeLessThan(r.total);
    if (r.answer !== '') expect(r.answer).toMatch(/^HTTP\/1\.1 408 /);
    // Not before the limit: the server waited at least headersTimeoutMs.
    expect(r.elapsedMs).toBeGreaterThanOrEqual(kHeadersTimeoutMs * 0.9);
  });

  it('a body trickled byte by byte after complete headers is cut off by requestTimeout (408 or closed)', async () => {
    const body = JSON.stringify({ paths: 1000, steps: 10, spot: 100, drift: 0.05, volatility: 0.2, seed: 1 }).padEnd(300, ' ');
    const head =
      `POST ${kApiPrefix}/gpu/monte-carlo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${kToken}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await trickle(server.port, head, body);
    console.log(`slow body: cut off after ${r.sent}/${r.total} body bytes, ${r.elapsedMs.toFixed(0)} ms (requestTimeoutMs ${kRequestTimeoutMs}); answer ${JSON.stringify(r.answer.split('\r\n')[0])}`);
    expect(r.sent).toBeLessThan(r.total);
    if (r.answer !== '') expect(r.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(kRequestTimeoutMs * 0.9);
  });

  it('hundreds of idle sockets, fresh and kept alive, do not starve the server; kept-alive ones are closed after keepAliveTimeoutMs', async () => {
    const fresh = await Promise.all(Array.from({ length: 200 }, () => openSocket(server.port)));
    // Kept alive: one complete request each, then silence.
    const kept = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const s = await openSocket(server.port);
        await new Promise<void>((resolve) => {
          s.once('data', () => resolve());
          s.write(`GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        });
        return s;
      }),
    );
    const closed = (sockets: Socket[]): Promise<void>[] =>
      sockets.map((s) => (s.destroyed || s.closed ? Promise.resolve() : new Promise<void>((resolve) => s.once('close', () => resolve()))));
    for (const s of [...fresh, ...kept]) s.on('error', () => {});
    const keptClosed = Promise.all(closed(kept)).then(() => 'closed');

    const livez = await fetch(`${server.origin}/livez`);
    expect(livez.status).toBe(200);
    const status = await fetch(`${server.api}/latency/status`, { headers: { authorization: `Bearer ${kToken}` } });
    expect(status.status).toBe(200);
    await status.arrayBuffer();

    // The server closes idle kept-alive sockets by itself (keepAliveTimeoutMs), well before the test would give up.
    const giveUp = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 20_000).unref());
    expect(await Promise.race([keptClosed, giveUp])).toBe('closed');
    // Fresh sockets that never sent a byte are closed too (headersTimeout / connectionTimeout).
    const freshClosed = Promise.all(closed(fresh)).then(() => 'closed');
    const giveUpFresh = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 20_000).unref());
    expect(await Promise.race([freshClosed, giveUpFresh])).toBe('closed');
    const answers = new Map<string, number>();
    for (const s of fresh) answers.set(s.got.split('\r\n')[0]!, (answers.get(s.got.split('\r\n')[0]!) ?? 0) + 1);
    console.log(`idle sockets: 100 kept alive and 200 that never sent a byte, all closed by the server; the fresh ones got ${JSON.stringify(Object.fromEntries(answers))}`);
    for (const line of answers.keys()) expect(line === '' || line.startsWith('HTTP/1.1 408 ')).toBe(true);
    for (const s of [...fresh, ...kept]) s.destroy();
  });

  it('answers /livez while a heavy Monte Carlo job runs: /livez first, then the job', async () => {
    // At the default cap on paths × steps (big, but under it).
    const paths = 40_000;
    const steps = Math.floor(kDefaultLimits.maxPathSteps / paths);
    const order: string[] = [];
    const job = fetch(`${server.api}/gpu/monte-carlo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${kToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ paths, steps, spot: 100, drift: 0.05, volatility: 0.2, seed: 7, backend: 'ts' }),
    }).then(async (res) => {
      order.push('job');
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    });
    // Let the request reach the server, then ask /livez a few times while the job runs.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const livez: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.origin}/livez`);
      livez.push(res.status);
      order.push('livez');
      await res.arrayBuffer();
    }
    const done = await job;
    console.log(`livez during a ${paths} × ${steps} Monte Carlo job: order ${order.join(', ')}; job answered ${done.status}`);
    expect(livez).toEqual([200, 200, 200, 200, 200]);
    expect(done.status).toBe(200);
    expect(order[0]).toBe('livez');
    expect(order.indexOf('job')).toBeGreaterThan(0);
  });
});
