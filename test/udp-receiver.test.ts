// The native recvmmsg receiver (lib/net/native-source.ts, cpp/net/udp_receiver): datagrams
// sent with dgram (from a worker_thread, so the receiving JS thread can block) arrive intact
// and in order with their sender; kernel timestamps; the drop-newest policy; close while
// datagrams flow; bad arguments, through lib/ and through the raw addon.
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { BackendUnavailableError } from '../lib/errors.js';
import { kUdpRecord, type NativePacketInfo, openNativeUdpReceiver } from '../lib/net/native-source.js';
import { SpscQueue } from '../lib/queue/spsc.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native' && process.platform === 'linux';

/** A worker that binds a dgram socket and sends `count` datagrams of [seq u32][filler] (or until `stop` when count is 0). */
const kSender = `
const { workerData: w, parentPort } = require('node:worker_threads');
const dgram = require('node:dgram');
const s = dgram.createSocket(w.family === 6 ? 'udp6' : 'udp4');
const flag = new Int32Array(w.stop);
// A connected socket hears ECONNREFUSED once the receiver has closed: expected here.
s.on('error', () => {});
s.bind(0, w.host, () => {
  s.connect(w.port, w.host, () => {
    parentPort.postMessage({ port: s.address().port });
    // Gated senders wait for go() (word 1) before their first datagram.
    if (w.gated) Atomics.wait(flag, 1, 0);
    let seq = 0;
    const sendSome = () => {
      for (let k = 0; k < 64; k++) {
        if (w.count > 0 && seq >= w.count) { s.close(() => parentPort.postMessage({ sent: seq })); return; }
        if (Atomics.load(flag, 0) === 1) { s.close(() => parentPort.postMessage({ sent: seq })); return; }
        const size = w.sizes[seq % w.sizes.length];
        const b = Buffer.alloc(size);
        b.writeUInt32LE(seq, 0);
        for (let i = 4; i < size; i++) b[i] = (seq + i) & 255;
        s.send(b);
        seq++;
      }
      setImmediate(sendSome);
    };
    sendSome();
  });
});`;

interface Sender {
  port: Promise<number>;
  done: Promise<number>;
  stop(): void;
  /** Lets a gated sender start sending. */
  go(): void;
}

function startSender(port: number, count: number, sizes: number[], host = '127.0.0.1', family = 4, gated = false): Sender {
  const stop = new SharedArrayBuffer(8);
  const worker = new Worker(kSender, { eval: true, workerData: { port, count, sizes, host, family, stop, gated } });
  let resolvePort!: (p: number) => void;
  const portP = new Promise<number>((r) => (resolvePort = r));
  const done = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: { port?: number; sent?: number }) => {
      if (m.port !== undefined) resolvePort(m.port);
      if (m.sent !== undefined) {
        void worker.terminate();
        resolve(m.sent);
      }
    });
    worker.once('error', reject);
  });
  const words = new Int32Array(stop);
  return {
    port: portP,
    done,
    stop: () => Atomics.store(words, 0, 1),
    go: () => {
      Atomics.store(words, 1, 1);
      Atomics.notify(words, 1);
    },
  };
}

function check(bytes: Uint8Array, seq: number, size: number): boolean {
  if (bytes.length !== size) return false;
  for (let i = 4; i < size; i++) if (bytes[i] !== ((seq + i) & 255)) return false;
  return true;
}

const until = async (cond: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** Blocks this thread (no event loop turns) until cond holds or ms pass. */
function blockUntil(cond: () => boolean, ms = 10_000): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) Atomics.wait(nap, 0, 0, 1);
}

describe.skipIf(native)('without the native receiver', () => {
  it('refuses with a BackendUnavailableError that names the fallback', async () => {
    const err = await openNativeUdpReceiver().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/openNativeUdpReceiver needs .*dgram source/);
  });
});

describe.runIf(native)('native recvmmsg receiver', () => {
  it('uses the record layout the addon was built with', () => {
    expect(cpuAddon!.udpRecordLayout).toEqual({ ...kUdpRecord });
  });

  it('delivers datagrams intact and in order, with the sender and plausible timestamps', async () => {
    const source = await openNativeUdpReceiver({ batch: 16, receiveBufferBytes: 1 << 22 });
    expect(source.kind).toBe('native-recvmmsg');
    expect(source.local.address).toBe('127.0.0.1');
    expect(source.local.port).toBeGreaterThan(0);
    const got: { seq: number; ok: boolean; address: string; port: number; k: number; t: number; r: number }[] = [];
    source.start((bytes, info) => {
      const i = info as NativePacketInfo;
      const seq = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
      got.push({ seq, ok: check(bytes, seq, sizes[seq % sizes.length]!), address: i.address, port: i.port, k: i.kernelNs, t: i.threadNs, r: i.receivedNs });
    });
    const sizes = [4, 5, 64, 200, 1472, 33];
    const count = 3000;
    const sender = startSender(source.local.port, count, sizes);
    const senderPort = await sender.port;
    await sender.done;
    await until(() => got.length + source.stats().dropped >= count);
    const stats = source.stats();
    await source.close();
    // Loopback within one host loses nothing at this rate, with a 4 MiB buffer.
    expect(stats.dropped).toBe(0);
    expect(got.length).toBe(count);
    expect(got.map((g) => g.seq)).toEqual([...Array(count).keys()]);
    expect(got.every((g) => g.ok)).toBe(true);
    expect(got.every((g) => g.address === '127.0.0.1' && g.port === senderPort)).toBe(true);
    expect(stats.packets).toBe(count);
    expect(stats.received).toBe(count);
    expect(stats.bytes).toBe(got.reduce((s, g) => s + sizes[g.seq % sizes.length]!, 0));
    if (source.settings.timestamps === 'on') {
      expect(got.every((g) => Number.isFinite(g.k))).toBe(true);
      // The kernel stamps before the thread reads, which is before JS sees it; the kernel's
      // clock is mapped from CLOCK_REALTIME once per batch, hence the 1 ms of slack.
      expect(got.every((g) => g.k <= g.t + 1e6 && g.t <= g.r)).toBe(true);
      for (let i = 1; i < got.length; i++) expect(got[i]!.k).toBeGreaterThanOrEqual(got[i - 1]!.k - 1e6);
    }
  });

  it('gives NaN kernel timestamps when they are not asked for, and receives on ::1', async () => {
    const source = await openNativeUdpReceiver({ host: '::1', timestamps: false });
    expect(source.local.address).toBe('::1');
    expect(source.settings.timestamps).toBe('off');
    const got: NativePacketInfo[] = [];
    source.start((_b, info) => got.push({ ...(info as NativePacketInfo) }));
    const s = dgram.createSocket('udp6');
    await new Promise<void>((r) => s.bind(0, '::1', r));
    for (let i = 0; i < 3; i++) s.send(Buffer.of(i), source.local.port, '::1');
    await until(() => got.length === 3);
    expect(got.every((g) => Number.isNaN(g.kernelNs) && g.address === '::1' && g.port === s.address().port)).toBe(true);
    s.close();
    await source.close();
  });

  it('drops the newest datagrams and counts them when JS does not drain', async () => {
    const capacity = 16;
    const count = 100;
    const source = await openNativeUdpReceiver({ capacity, receiveBufferBytes: 1 << 22 });
    const seqs: number[] = [];
    // Gated: nothing is sent until this thread is about to block, so JS drains nothing early.
    const sender = startSender(source.local.port, count, [64], '127.0.0.1', 4, true);
    await sender.port;
    source.start((bytes) => seqs.push(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)));
    sender.go();
    // This thread blocks: the receiver thread fills the queue and must drop the rest.
    blockUntil(() => source.stats().received === count, 30_000);
    const full = source.stats();
    expect(full.received).toBe(count);
    expect(full.queued).toBe(capacity);
    expect(full.queueFull).toBe(count - capacity);
    expect(full.dropped).toBe(count - capacity);
    await sender.done;
    await until(() => seqs.length === capacity);
    expect(seqs).toEqual([...Array(capacity).keys()]);
    await source.close();
  });

  it('drops datagrams longer than maxPacketBytes and counts them as truncated', async () => {
    const source = await openNativeUdpReceiver({ maxPacketBytes: 100 });
    const sizes: number[] = [];
    source.start((bytes) => sizes.push(bytes.length));
    const sender = startSender(source.local.port, 6, [100, 101]);
    await sender.done;
    await until(() => source.stats().received === 6);
    await until(() => sizes.length === 3);
    expect(sizes).toEqual([100, 100, 100]);
    expect(source.stats()).toMatchObject({ truncated: 3, dropped: 3, packets: 3 });
    await source.close();
  });

  it('closes while datagrams flow: no callback after close resolves, close twice is fine', async () => {
    for (const wakeup of ['notify', 'poll'] as const) {
      const source = await openNativeUdpReceiver({ wakeup });
      let calls = 0;
      source.start(() => calls++);
      const sender = startSender(source.local.port, 0, [64]);
      await sender.port;
      await until(() => calls > 200);
      await source.close();
      const after = calls;
      await new Promise((r) => setTimeout(r, 50));
      expect(calls).toBe(after);
      await source.close();
      sender.stop();
      await sender.done;
      expect(() => source.start(() => {})).toThrow(/closed/);
    }
  });

  it('goes on delivering after onPacket throws (the error is uncaught, as with dgram)', async () => {
    const source = await openNativeUdpReceiver();
    const seqs: number[] = [];
    const errors: unknown[] = [];
    const onError = (e: unknown): void => void errors.push(e);
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onError);
    try {
      source.start((bytes) => {
        const seq = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
        seqs.push(seq);
        if (seq === 3) throw new Error('from onPacket');
      });
      const sender = startSender(source.local.port, 10, [8]);
      await sender.done;
      await until(() => seqs.length === 10);
    } finally {
      process.off('uncaughtException', onError);
      for (const l of listeners) process.on('uncaughtException', l);
    }
    expect(seqs).toEqual([...Array(10).keys()]);
    expect(errors).toHaveLength(1);
    await source.close();
  });

  it('closes from inside onPacket: nothing more is delivered', async () => {
    const source = await openNativeUdpReceiver();
    let calls = 0;
    source.start(() => {
      calls++;
      void source.close();
    });
    const sender = startSender(source.local.port, 50, [16]);
    await sender.done;
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
  });

  it('pins the thread to a core, and busy-polls when asked (or says the kernel refused)', async () => {
    const source = await openNativeUdpReceiver({ cpu: 0, busyPollUs: 50 });
    expect(source.settings.cpu).toBe(0);
    expect(source.settings.busyPoll).toMatch(/^(on|refused: E[A-Z]+)$/);
    const got: number[] = [];
    source.start((b) => got.push(b.length));
    const sender = startSender(source.local.port, 10, [8]);
    await sender.done;
    await until(() => got.length === 10);
    await source.close();
  });

  it('refuses bad options, naming the option and the value', async () => {
    await expect(openNativeUdpReceiver({ port: 70000 })).rejects.toThrow(
      new RangeError('Expected a port number in [0, 65535] for options.port but received 70000'),
    );
    await expect(openNativeUdpReceiver({ host: '' })).rejects.toThrow(/options\.host/);
    await expect(openNativeUdpReceiver({ batch: 0 })).rejects.toThrow(/options\.batch/);
    await expect(openNativeUdpReceiver({ capacity: 3 })).rejects.toThrow(/options\.capacity/);
    await expect(openNativeUdpReceiver({ maxPacketBytes: 70000 })).rejects.toThrow(/options\.maxPacketBytes/);
    await expect(openNativeUdpReceiver({ cpu: 1023 })).rejects.toThrow(/options\.cpu/);
    await expect(openNativeUdpReceiver({ wakeup: 'spin' as never })).rejects.toThrow(/options\.wakeup/);
    await expect(openNativeUdpReceiver({ busyPollUs: -1 })).rejects.toThrow(/options\.busyPollUs/);
    await expect(openNativeUdpReceiver({ multicastGroup: '239.1.1.1' })).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_UNSUPPORTED' });
    await expect(openNativeUdpReceiver({ host: '10.255.255.1' })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'bind' });
    const taken = await openNativeUdpReceiver();
    await expect(openNativeUdpReceiver({ port: taken.local.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(() => taken.start('x' as never)).toThrow(/onPacket/);
    taken.start(() => {});
    expect(() => taken.start(() => {})).toThrow(/already started/);
    await taken.close();
  });

  it('raw bindings: bad arguments are errors with a code that name the argument, never crashes', () => {
    const a = cpuAddon!;
    const q = SpscQueue.create({ capacity: 8, slotBytes: 128 });
    const u8 = new Uint8Array(q.buffer);
    const thrown = (f: () => unknown): { code?: string; message: string } => {
      try {
        f();
      } catch (e) {
        return e as { code?: string; message: string };
      }
      throw new Error('did not throw');
    };
    const plain = thrown(() => a.udpReceiverOpen(new Uint8Array(u8), '127.0.0.1', 0, 0, 0, 32, true));
    expect(plain.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(plain.message).toMatch(/SharedArrayBuffer for queue \(argument 1\)/);
    const host = thrown(() => a.udpReceiverOpen(u8, 'nope', 0, 0, 0, 32, true));
    expect(host.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(host.message).toMatch(/host \(argument 2\).*'nope'/);
    expect(thrown(() => a.udpReceiverOpen(u8, '127.0.0.1', 65536, 0, 0, 32, true)).message).toMatch(/port \(argument 3\)/);
    expect(thrown(() => a.udpReceiverOpen(u8, '127.0.0.1', 0, 0, 0, 0, true)).message).toMatch(/batch \(argument 6\)/);
    expect(thrown(() => a.udpReceiverOpen(u8, '127.0.0.1', 0, 0, 0, 32, 1 as never)).message).toMatch(/timestamps \(argument 7\)/);
    const small = SpscQueue.create({ capacity: 8, slotBytes: 40 });
    expect(thrown(() => a.udpReceiverOpen(new Uint8Array(small.buffer), '127.0.0.1', 0, 0, 0, 32, true)).code).toBe('ERR_ULTRA_PERF_QUEUE_REFUSED');
    expect(thrown(() => a.udpReceiverStart({} as never, -1, () => {})).message).toMatch(/receiver \(argument 1\)/);
    const r = a.udpReceiverOpen(u8, '127.0.0.1', 0, 0, 0, 32, true);
    expect(thrown(() => a.udpReceiverStart(r, 0.5, () => {})).message).toMatch(/cpu \(argument 2\)/);
    expect(thrown(() => a.udpReceiverStart(r, -1, 'x' as never)).message).toMatch(/drain \(argument 3\)/);
    expect(thrown(() => a.udpReceiverStats(r, new Float64Array(3))).message).toMatch(/out \(argument 2\)/);
    expect(a.udpReceiverStart(r, -1, () => {})).toBe(0);
    expect(thrown(() => a.udpReceiverStart(r, -1, () => {})).code).toBe('ERR_ULTRA_PERF_RECEIVER_STARTED');
    expect(a.udpReceiverClose(r)).toBe(0);
    expect(a.udpReceiverClose(r)).toBe(0);
    expect(thrown(() => a.udpReceiverStart(r, -1, () => {})).code).toBe('ERR_ULTRA_PERF_RECEIVER_CLOSED');
    expect(a.udpReceiverStats(r, new Float64Array(kUdpRecord.statsCount))).toBe(kUdpRecord.statsCount);
  });

  it('udpSendBurst: sendmmsg load with sequence numbers and send stamps the receiver sees', async () => {
    const source = await openNativeUdpReceiver({ receiveBufferBytes: 1 << 22 });
    const got: { seq: number; stamp: number; at: number }[] = [];
    source.start((bytes, info) => {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      got.push({ seq: dv.getUint32(kUdpRecord.burstSeqOffset, true), stamp: dv.getFloat64(kUdpRecord.burstStampOffset, true), at: (info as NativePacketInfo).threadNs });
    });
    // From a worker: the call blocks its thread until every datagram is out.
    const sent = await new Promise<number>((resolve, reject) => {
      const w = new Worker(
        `const { workerData: d, parentPort } = require('node:worker_threads');
         const a = require('node-gyp-build')(d.root);
         parentPort.postMessage(a.udpSendBurst('127.0.0.1', d.port, 64, 1000, 200000, 16));`,
        { eval: true, workerData: { root: new URL('..', import.meta.url).pathname, port: source.local.port } },
      );
      w.once('message', (n: number) => {
        void w.terminate();
        resolve(n);
      });
      w.once('error', reject);
    });
    expect(sent).toBe(1000);
    await until(() => got.length === 1000);
    expect(got.map((g) => g.seq)).toEqual([...Array(1000).keys()]);
    // Stamps are raw CLOCK_MONOTONIC ns; threadNs is on nowNs()'s clock (the same clock less its origin).
    const origin = (source as unknown as { origin: number }).origin;
    for (const g of got) expect(g.stamp - origin).toBeLessThanOrEqual(g.at);
    await source.close();
    expect(() => cpuAddon!.udpSendBurst('127.0.0.1', 9, 8, 1, 0, 1)).toThrow(/size \(argument 3\)/);
    expect(() => cpuAddon!.udpSendBurst('127.0.0.1', 9, 64, 1, 0.5, 1)).toThrow(/ratePerSec \(argument 5\)/);
  });

  it('a process that exits, or a worker terminated, with a receiver running does not crash', () => {
    const root = new URL('..', import.meta.url).pathname;
    const code = `
      const { Worker } = require('node:worker_threads');
      const addon = require('node-gyp-build')(${JSON.stringify(root)});
      const dgram = require('node:dgram');
      const open = (a) => {
        const { buffer } = a.__q;
        return a.udpReceiverOpen(new Uint8Array(buffer), '127.0.0.1', 0, 0, 0, 32, true);
      };
      const makeQueue = () => {
        const L = addon.queueLayout;
        const total = Math.ceil((L.dataOffset + 64 * (8 + 128)) / 128) * 128;
        const q = new Uint8Array(new SharedArrayBuffer(total));
        addon.queueInit(q, 1, 64, 128);
        return q;
      };
      const q = makeQueue();
      const r = addon.udpReceiverOpen(q, '127.0.0.1', 0, 0, 0, 32, true);
      addon.udpReceiverStart(r, -1, () => {});
      const w = new Worker(\`
        const addon = require('node-gyp-build')(${JSON.stringify(root)});
        const L = addon.queueLayout;
        const total = Math.ceil((L.dataOffset + 64 * (8 + 128)) / 128) * 128;
        const q = new Uint8Array(new SharedArrayBuffer(total));
        addon.queueInit(q, 1, 64, 128);
        const r = addon.udpReceiverOpen(q, '127.0.0.1', 0, 0, 0, 32, true);
        addon.udpReceiverStart(r, -1, () => {});
        require('node:worker_threads').parentPort.postMessage(r.port);
        setInterval(() => {}, 1000);\`, { eval: true });
      w.once('message', async (port) => {
        const s = dgram.createSocket('udp4');
        for (let i = 0; i < 200; i++) { s.send(Buffer.alloc(64), port, '127.0.0.1'); s.send(Buffer.alloc(64), r.port, '127.0.0.1'); }
        setTimeout(async () => { await w.terminate(); process.exit(0); }, 50);
      });`;
    const res = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 20_000 });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });
});
