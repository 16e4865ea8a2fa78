// Framed TCP connections (lib/net/tcp.ts, issue 14 items 4 and 7) against real servers on
// loopback (port 0). The promise under test: a message whose send resolved reaches the peer
// exactly once, and one that cannot reach it gets a coded error; through peer closes
// (graceful and reset), half-open connections (a peer that goes silent without a FIN), a
// slow reader (each overflow policy), a dropped socket (session resumed, frames replayed)
// and a server restart mid-stream (new session: outstanding sends rejected, never duplicated).
// No timing assertions: timeouts are short so tests are quick, but only outcomes are checked.
import net from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import {
  type Connection,
  ConnectionClosedError,
  ConnectionLostError,
  DeliveryUnknownError,
  HeartbeatTimeoutError,
  MessageDroppedError,
  SendQueueFullError,
  closeAll,
  createConnection,
  createServer,
  getConnection,
  measureLatency,
} from '../lib/net/index.js';

let ids = 0;
const nextId = (): string => `t${++ids}`;
const fast = { heartbeatMs: 20, heartbeatTimeoutMs: 200 };
const fastReconnect = { initialDelayMs: 5, maxDelayMs: 40, factor: 2, jitter: 0.5 };

afterEach(async () => {
  await closeAll();
});

function tag(i: number): Uint8Array {
  const b = new Uint8Array(12);
  new DataView(b.buffer).setUint32(0, i, true);
  return b;
}
const taggedOnly = (got: number[]): number[] => got.filter((g) => g >= 0);
const untag = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);

/** Collects what `conn` receives until it ends (with or without an error). */
function collect(conn: Connection, into: number[]): Promise<unknown> {
  return (async () => {
    try {
      for await (const m of conn) into.push(m.length === 12 ? untag(m) : -1);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A TCP relay between a client and `port` that can go silent (half-open: no FIN) or cut every socket. */
async function relay(port: number): Promise<{ port: number; freeze(): void; cut(): void; close(): Promise<void> }> {
  const pairs = new Set<{ a: net.Socket; b: net.Socket; frozen: boolean }>();
  const srv = net.createServer((a) => {
    const b = net.connect(port, '127.0.0.1');
    const pair = { a, b, frozen: false };
    pairs.add(pair);
    a.on('data', (d) => void (pair.frozen || b.write(d)));
    b.on('data', (d) => void (pair.frozen || a.write(d)));
    for (const s of [a, b]) {
      s.on('error', () => undefined);
      s.on('close', () => {
        a.destroy();
        b.destroy();
        pairs.delete(pair);
      });
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    freeze: () => pairs.forEach((p) => (p.frozen = true)),
    cut: () => pairs.forEach((p) => p.a.resetAndDestroy()),
    close: () => {
      pairs.forEach((p) => p.a.destroy());
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

/** `p`, marked handled now (its outcome is read later with `outcomes`). */
function observed(p: Promise<void>): Promise<void> {
  p.catch(() => undefined);
  return p;
}

/** Settles every promise; for each index whether it resolved or the error it rejected with. */
async function outcomes(promises: Promise<void>[]): Promise<(true | Error)[]> {
  return Promise.all(promises.map((p) => p.then(() => true as const, (e: Error) => e)));
}

describe('createConnection / createServer', () => {
  it('carries messages both ways, resolves send on acknowledgement, and keeps a registry by id', async () => {
    const server = createServer({ ...fast, onConnection: (c) => void (async () => { for await (const m of c) await c.send(m); })() });
    const { port } = await server.listen();
    const id = nextId();
    const conn = createConnection({ id, host: '127.0.0.1', port, noDelay: true, ...fast });
    expect(getConnection(id)).toBe(conn);
    await conn.opened();
    const sent = Array.from({ length: 100 }, (_, i) => tag(i));
    await conn.sendBatch(sent.slice(0, 50));
    for (const m of sent.slice(50)) await conn.send(m);
    const got: number[] = [];
    for await (const m of conn) {
      got.push(untag(m));
      if (got.length === 100) break;
    }
    expect(got).toEqual(sent.map((_, i) => i));
    const s = conn.stats();
    expect(s.messagesSent).toBe(100);
    expect(s.messagesReceived).toBe(100);
    expect(s.inFlightMessages + s.queuedMessages).toBe(0);
    expect(server.connections()).toHaveLength(1);
    expect(getConnection(server.connections()[0]!.id)).toBe(server.connections()[0]);
    await conn.close();
    expect(conn.state).toBe('closed');
    expect(getConnection(id)).toBeUndefined();
    await expect(conn.send(tag(1))).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('batches() yields everything queued per read, in order, and ends when the peer closes', async () => {
    const server = createServer(fast);
    const { port } = await server.listen();
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, ...fast });
    const peer = await server.accept();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 5000; i++) sends.push(conn.send(tag(i)));
    await Promise.all(sends);
    await conn.close();
    const got: number[] = [];
    let steps = 0;
    for await (const batch of peer.batches()) {
      expect(batch.length).toBeGreaterThan(0);
      steps++;
      for (const m of batch) got.push(untag(m));
    }
    expect(got).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(steps).toBeLessThan(5000);
  });

  it('encodes and decodes through a codec given by shape', async () => {
    const json = {
      name: 'json',
      encodeToBytes: (v: unknown) => new TextEncoder().encode(JSON.stringify(v)),
      decode: (b: Uint8Array, o = 0, n = b.length - o) => JSON.parse(new TextDecoder().decode(b.subarray(o, o + n))) as unknown,
    };
    const server = createServer<unknown>({ protocol: 'json', codec: json });
    const { port } = await server.listen();
    const conn = createConnection<unknown>({ id: nextId(), host: '127.0.0.1', port, protocol: 'json', codec: json });
    await conn.send({ px: 101.5, qty: 3, sym: 'AAPL' });
    const peer = await server.accept();
    const it = peer[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ px: 101.5, qty: 3, sym: 'AAPL' });
  });

  it('measureLatency gives ordered percentiles over the requested count', async () => {
    const server = createServer();
    const { port } = await server.listen();
    const id = nextId();
    createConnection({ id, host: '127.0.0.1', port });
    const r = await measureLatency(id, { count: 200, bytes: 64, warmup: 10 });
    expect(r.count).toBe(200);
    expect(r.histogram.count).toBe(200);
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p50).toBeLessThanOrEqual(r.p99);
    expect(r.p99).toBeLessThanOrEqual(r.p999);
    expect(r.p999).toBeLessThanOrEqual(r.max);
  });
});

describe('peer closes', () => {
  it('graceful: the peer says CLOSE, the iterator ends after what was sent, no reconnect', async () => {
    const server = createServer(fast);
    const { port } = await server.listen();
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, ...fast, reconnect: fastReconnect });
    const peer = await server.accept();
    await peer.sendBatch([tag(1), tag(2), tag(3)]);
    await peer.close();
    const got: number[] = [];
    expect(await collect(conn, got)).toBeUndefined();
    expect(got).toEqual([1, 2, 3]);
    expect(await conn.closed).toBeUndefined();
    expect(conn.stats().reconnects).toBe(0);
    await expect(conn.send(tag(4))).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_CONNECTION_CLOSED' });
  });

  it('reset (RST) with reconnect off: the connection ends with ConnectionLostError and so do outstanding sends', async () => {
    const server = createServer({ ...fast, sendQueue: { maxMessages: 4096 } });
    const { port } = await server.listen();
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, ...fast, reconnect: false, receiveQueueMessages: 1 });
    const peer = await server.accept();
    await conn.opened();
    // the client reads nothing: the server's sends stay unacknowledged until it is destroyed
    const pending = peer.send(tag(1));
    peer.destroy();
    await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
    const error = await conn.closed;
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as ConnectionLostError).code).toBe('ERR_ULTRA_PERF_CONNECTION_LOST');
    expect((error as Error).message).toMatch(/socket lost and reconnect is off/);
    await expect(conn.send(tag(2))).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('reset with reconnect on: a new session; each send either arrived once or was rejected as delivery unknown', async () => {
    const received: number[] = [];
    const server = createServer({ ...fast, onConnection: (c) => void collect(c, received) });
    const { port } = await server.listen();
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, ...fast, reconnect: fastReconnect });
    await conn.opened();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) sends.push(conn.send(tag(i)));
    server.connections()[0]!.destroy();
    for (let i = 200; i < 400; i++) sends.push(conn.send(tag(i)));
    const out = await outcomes(sends);
    await until(() => received.length >= out.filter((o) => o === true).length, 'resolved sends to arrive');
    expect(conn.stats().reconnects).toBe(1);
    for (let i = 0; i < out.length; i++) {
      const times = received.filter((r) => r === i).length;
      if (out[i] === true) expect(times, `message ${i}`).toBe(1);
      else {
        expect(out[i]).toBeInstanceOf(DeliveryUnknownError);
        expect(times).toBeLessThanOrEqual(1);
      }
    }
    expect(new Set(received).size).toBe(received.length);
  });
});

describe('half-open connections', () => {
  it('a peer that accepts and then says nothing is declared dead by the heartbeat timeout', async () => {
    const accepted: net.Socket[] = [];
    const silent = net.createServer((s) => void accepted.push(s)); // never reads, never writes, never closes
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, heartbeatMs: 10, heartbeatTimeoutMs: 50, reconnect: false });
      const send = conn.send(tag(1));
      const error = await conn.closed;
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect((error as Error).cause).toBeInstanceOf(HeartbeatTimeoutError);
      expect((error as Error & { cause: HeartbeatTimeoutError }).cause.code).toBe('ERR_ULTRA_PERF_HEARTBEAT_TIMEOUT');
      expect(conn.stats().heartbeatTimeouts).toBe(1);
      await expect(send).rejects.toBeInstanceOf(ConnectionLostError);
    } finally {
      for (const s of accepted) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('a session gone silent mid-stream (no FIN) times out, reconnects, resumes, and delivers every message exactly once', async () => {
    const atServer: number[] = [];
    // the server's own timeout is long, so it is the client that finds the silence
    const server = createServer({ heartbeatMs: 20, heartbeatTimeoutMs: 30_000, resumeTimeoutMs: 10_000, onConnection: (c) => void collect(c, atServer) });
    const { port } = await server.listen();
    const r = await relay(port);
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port: r.port, ...fast, reconnect: fastReconnect });
    const atClient: number[] = [];
    void collect(conn, atClient);
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) sends.push(conn.send(tag(i)));
    await Promise.all(sends);
    const peer = server.connections()[0]!;
    r.freeze();
    for (let i = 50; i < 300; i++) sends.push(conn.send(tag(i)));
    const back: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) back.push(peer.send(tag(i)));
    await Promise.all([...sends, ...back]);
    expect(conn.stats().heartbeatTimeouts).toBeGreaterThanOrEqual(1);
    expect(conn.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(server.connections()).toEqual([peer]); // the same server-side connection, resumed
    await until(() => atClient.length >= 100, 'server messages at the client');
    expect(atServer).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(atClient).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await r.close();
  });
});

describe('a dropped socket resumes the session', () => {
  it('replays unacknowledged frames both ways: all sends resolve, each message arrives once, in order', async () => {
    const atServer: number[] = [];
    const server = createServer({ ...fast, onConnection: (c) => void collect(c, atServer) });
    const { port } = await server.listen();
    const r = await relay(port);
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port: r.port, ...fast, reconnect: fastReconnect });
    const atClient: number[] = [];
    void collect(conn, atClient);
    await conn.opened();
    const peer = await server.accept();
    const sends: Promise<void>[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 500; i++) {
        sends.push(conn.send(tag(round * 500 + i)));
        sends.push(peer.send(tag(round * 500 + i)));
      }
      r.cut();
      await new Promise((res) => setTimeout(res, 10));
    }
    await Promise.all(sends);
    await until(() => atClient.length >= 2500, 'all messages at the client');
    expect(atServer).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(atClient).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(conn.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(conn.stats().deliveryUnknown).toBe(0);
    await r.close();
  });
});

describe('server restart mid-stream', () => {
  it('reconnects with backoff; every resolved send arrived exactly once, every other send got a coded error', async () => {
    const received: number[] = [];
    const first = createServer({ ...fast, onConnection: (c) => void collect(c, received) });
    const { port } = await first.listen();
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, ...fast, reconnect: fastReconnect });
    await conn.opened();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) sends.push(conn.send(tag(i)));
    await new Promise((res) => setImmediate(res));
    await first.destroy(); // a crash as the client sees it: RST, the sessions forgotten
    for (let i = 1000; i < 1100; i++) sends.push(observed(conn.send(tag(i)))); // maybe written to the dead socket
    await until(() => conn.state !== 'open', 'the client to see the crash');
    for (let i = 1100; i < 2000; i++) sends.push(conn.send(tag(i)));
    await new Promise((res) => setTimeout(res, 30)); // some reconnect attempts are refused
    const second = createServer({ ...fast, port, onConnection: (c) => void collect(c, received) });
    await second.listen();
    for (let i = 2000; i < 3000; i++) sends.push(conn.send(tag(i)));
    const out = await outcomes(sends);
    const resolved = out.filter((o) => o === true).length;
    await until(() => received.length >= resolved, 'resolved sends to arrive');
    const times = new Map<number, number>();
    for (const r of received) times.set(r, (times.get(r) ?? 0) + 1);
    for (let i = 0; i < out.length; i++) {
      if (out[i] === true) expect(times.get(i), `message ${i}`).toBe(1);
      else {
        expect((out[i] as Error & { code: string }).code, `message ${i}`).toBe('ERR_ULTRA_PERF_DELIVERY_UNKNOWN');
        expect(times.get(i) ?? 0).toBeLessThanOrEqual(1);
      }
    }
    for (let i = 1100; i < 3000; i++) expect(out[i], `message ${i}, sent after the client saw the crash`).toBe(true);
    expect(conn.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(conn.stats().deliveryUnknown).toBe(out.filter((o) => o !== true).length);
  });

  it('gives up after maxAttempts with ConnectionLostError', async () => {
    const server = createServer(fast);
    const { port } = await server.listen();
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, ...fast, reconnect: { ...fastReconnect, maxAttempts: 3 } });
    await conn.opened();
    await server.destroy();
    const error = await conn.closed;
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as Error).message).toMatch(/gave up after 3 reconnect attempts/);
  });
});

describe('a slow reader: the bounded send queue applies its policy', () => {
  // The server reads 8 messages and stops reading; TCP backpressure then fills the kernel's
  // buffers, the client's socket stops taking writes, and its queue (maxBytes 32 MiB) fills.
  // 1 MiB fillers (one shared buffer) make the bytes; small tagged messages between them are
  // the ones whose order is checked.
  const filler = new Uint8Array(1 << 20);
  async function setup(overflow: 'error' | 'drop-oldest' | 'block') {
    const server = createServer({ ...fast, receiveQueueMessages: 8 });
    const { port } = await server.listen();
    const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, ...fast, sendQueue: { maxMessages: 10_000, maxBytes: 32 << 20, overflow } });
    await conn.opened();
    const peer = await server.accept();
    return { conn, peer };
  }

  /** Sends filler, tag(i) pairs until `full()` says the policy acted; returns the tagged sends. */
  async function flood(conn: Connection, full: () => boolean): Promise<{ tagged: Promise<void>[]; fillers: Promise<void>[] }> {
    const tagged: Promise<void>[] = [];
    const fillers: Promise<void>[] = [];
    for (let i = 0; i < 2000 && !full(); i++) {
      fillers.push(observed(conn.send(filler)));
      tagged.push(observed(conn.send(tag(i))));
      if (i % 4 === 3) await new Promise((r) => setImmediate(r));
    }
    expect(full()).toBe(true);
    return { tagged, fillers };
  }

  it("'error' rejects the overflow with SendQueueFullError; what was accepted arrives in order", async () => {
    const { conn, peer } = await setup('error');
    const { tagged, fillers } = await flood(conn, () => conn.stats().queueFull > 0);
    const got: number[] = [];
    void collect(peer, got);
    const out = await outcomes(tagged);
    const fillerOut = await outcomes(fillers);
    const refused = [...out, ...fillerOut].filter((o) => o !== true);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) expect((e as SendQueueFullError).code).toBe('ERR_ULTRA_PERF_SEND_QUEUE_FULL');
    expect(conn.stats().queueFull).toBe(refused.length);
    const accepted = [...out, ...fillerOut].filter((o) => o === true).length;
    await until(() => got.length >= accepted, 'accepted messages');
    expect(got.length).toBe(accepted);
    expect(taggedOnly(got)).toEqual(tagged.map((_, i) => i).filter((i) => out[i] === true));
  });

  it("'drop-oldest' drops unsent messages (MessageDroppedError, counted); the rest arrive in order", async () => {
    const { conn, peer } = await setup('drop-oldest');
    const { tagged, fillers } = await flood(conn, () => conn.stats().dropped > 0);
    const got: number[] = [];
    void collect(peer, got);
    const out = await outcomes([...tagged, ...fillers]);
    const dropped = out.filter((o) => o instanceof MessageDroppedError);
    expect(dropped.length).toBeGreaterThan(0);
    for (const e of out) if (e !== true) expect((e as MessageDroppedError).code).toBe('ERR_ULTRA_PERF_MESSAGE_DROPPED');
    expect(conn.stats().dropped).toBe(dropped.length);
    const kept = out.filter((o) => o === true).length;
    await until(() => got.length >= kept, 'kept messages');
    expect(got.length).toBe(kept);
    const keptTags = tagged.map((_, i) => i).filter((i) => out[i] === true);
    expect(taggedOnly(got)).toEqual(keptTags);
  });

  it("'block' makes sends wait for room, in order; all arrive once the reader reads", async () => {
    const { conn, peer } = await setup('block');
    const { tagged, fillers } = await flood(conn, () => conn.stats().blockedSends > 0);
    const s = conn.stats();
    expect(s.queuedBytes).toBeLessThanOrEqual(32 << 20);
    const got: number[] = [];
    void collect(peer, got);
    expect(await outcomes([...tagged, ...fillers])).toEqual([...tagged, ...fillers].map(() => true));
    await until(() => got.length >= tagged.length * 2, 'all messages');
    expect(taggedOnly(got)).toEqual(tagged.map((_, i) => i));
    expect(conn.stats().dropped).toBe(0);
  });

  it('a batch larger than the whole queue is refused whatever the policy', async () => {
    const { conn } = await setup('block');
    await expect(conn.sendBatch(Array.from({ length: 33 }, () => filler))).rejects.toThrow(/exceed the whole send queue/);
  });
});

describe('bad arguments are named', () => {
  const base = { id: 'bad', host: '127.0.0.1', port: 1 };
  it.each([
    [{ ...base, port: -1 }, RangeError, /options.port but received -1/],
    [{ ...base, port: 65536 }, RangeError, /a port number in \[1, 65535\] for options.port but received 65536/],
    [{ ...base, port: 0 }, RangeError, /options.port but received 0/],
    [{ ...base, port: 1.5 }, TypeError, /options.port but received 1.5/],
    [{ ...base, port: NaN }, TypeError, /options.port but received NaN/],
    [{ ...base, host: '' }, TypeError, /a non-empty string for options.host but received ""/],
    [{ ...base, id: '' }, TypeError, /options.id but received ""/],
    [{ ...base, batchBytes: -1 }, RangeError, /options.batchBytes but received -1/],
    [{ ...base, batchDelayUs: NaN }, RangeError, /options.batchDelayUs but received NaN/],
    [{ ...base, sendQueue: { maxMessages: NaN } }, TypeError, /options.sendQueue.maxMessages but received NaN/],
    [{ ...base, sendQueue: { maxBytes: -5 } }, RangeError, /options.sendQueue.maxBytes but received -5/],
    [{ ...base, sendQueue: { overflow: 'drop-newest' } }, TypeError, /'error', 'drop-oldest' or 'block' for options.sendQueue.overflow but received "drop-newest"/],
    [{ ...base, reconnect: { jitter: 2 } }, RangeError, /options.reconnect.jitter but received 2/],
    [{ ...base, reconnect: 'yes' }, TypeError, /options.reconnect but received "yes"/],
    [{ ...base, heartbeatMs: 100, heartbeatTimeoutMs: 100 }, RangeError, /an integer > heartbeatMs \(100\) for options.heartbeatTimeoutMs but received 100/],
    [{ ...base, maxFrameBytes: 4 }, RangeError, /options.maxFrameBytes but received 4/],
    [{ ...base, protocol: 'json' }, TypeError, /a codec for protocol 'json'/],
    [{ ...base, protocol: 'xml' }, TypeError, /options.protocol but received "xml"/],
    [{ ...base, codec: { encode: () => 0 } }, TypeError, /a codec \{ encodeToBytes, decode \} for options.codec/],
  ])('createConnection(%o)', (options, kind, message) => {
    let error: unknown;
    try {
      createConnection(options as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(message);
    expect((error as { code?: string }).code).toMatch(/^ERR_/);
    expect(getConnection('bad')).toBeUndefined();
  });

  it('createServer, a duplicate id, bad messages and measureLatency arguments', async () => {
    expect(() => createServer({ port: 70000 })).toThrow(/options.port but received 70000/);
    expect(() => createServer({ host: '' })).toThrow(/options.host but received ""/);
    expect(() => createServer({ resumeTimeoutMs: -1 })).toThrow(/options.resumeTimeoutMs but received -1/);
    expect(() => createConnection(undefined as never)).toThrow(/for options but received undefined/);
    const server = createServer({ maxFrameBytes: 64 });
    const { port } = await server.listen();
    const id = nextId();
    const conn = createConnection({ id, host: '127.0.0.1', port, maxFrameBytes: 64 });
    expect(() => createConnection({ id, host: '127.0.0.1', port })).toThrow(/an id not used by an open connection for options.id/);
    await expect(conn.send('text' as never)).rejects.toThrow(/Expected a Uint8Array \(protocol 'raw'\) for message but received "text"/);
    await expect(conn.send(new Uint8Array(60))).rejects.toThrow(/at most maxFrameBytes - 5 = 59 bytes for message.length but received 60/);
    await expect(conn.sendBatch([tag(1), 5 as never])).rejects.toThrow(/for messages\[1\] but received 5/);
    await expect(conn.sendBatch('x' as never)).rejects.toThrow(/for messages but received "x"/);
    await expect(measureLatency('nope')).rejects.toThrow(/the id of a registered connection for id but received "nope"/);
    await expect(measureLatency(id, { count: 0 })).rejects.toThrow(/options.count but received 0/);
    await expect(measureLatency(id, { bytes: 1000 })).rejects.toThrow(/options.bytes but received 1000/);
    expect(conn.stats().messagesSent).toBe(0);
  });
});

describe('an onConnection listener that throws', () => {
  it('surfaces the error as uncaught and leaves the accepted connection open (not failed as if its peer sent bad bytes)', async () => {
    const caught: unknown[] = [];
    const onError = (e: unknown): void => void caught.push(e);
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onError);
    try {
      const accepted: Connection[] = [];
      const server = createServer({
        ...fast,
        onConnection: (c) => {
          accepted.push(c);
          throw new Error('user onConnection boom');
        },
      });
      const { port } = await server.listen();
      const conn = createConnection({ id: nextId(), host: '127.0.0.1', port, ...fast });
      await conn.send(tag(1)); // DeliveryUnknownError when the server failed the connection
      await until(() => caught.length > 0, 'the uncaught error');
      expect((caught[0] as Error).message).toBe('user onConnection boom');
      const it = accepted[0]![Symbol.asyncIterator]();
      expect(untag((await it.next()).value as Uint8Array)).toBe(1);
      await server.close();
    } finally {
      process.off('uncaughtException', onError);
      for (const l of listeners) process.on('uncaughtException', l as NodeJS.UncaughtExceptionListener);
    }
  });
});
