/**
 * UDP on loopback, 64-byte datagrams: the native recvmmsg receiver (lib/net/native-source.ts)
 * against a `dgram` socket in the same run. The sender is another process running the
 * addon's sendmmsg load generator (udpSendBurst: sequence number and CLOCK_MONOTONIC send
 * stamp in each datagram), so the receivers, not the sender, are what runs out first.
 *
 * - Capacity: the socket buffer filled while the receiver cannot read, then the time until JS
 *   has seen every datagram (the sender out of the way: on a loaded 2-core machine it cannot
 *   outrun the native receiver). This is the throughput figure the target is judged on.
 * - Throughput: a ladder of paced rates; at each, how many of the datagrams sent reached
 *   JS. The figure is the highest rate with no loss; the flat-out step (the sender as fast as
 *   sendmmsg goes) gives received/s and received/sent.
 * - Latency: at a rate both receivers keep up with, send stamp to the moment JS sees the
 *   datagram (same host clock), p50 and p99.
 * Target (issue 14): native >= 3x dgram throughput.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { cpuAddon } from '../../lib/backend.js';
import { nowNs } from '../../lib/monitor/clock.js';
import { kUdpRecord, monotonicOriginNs, type NativeUdpReceiver, openNativeUdpReceiver } from '../../lib/net/native-source.js';
import { currentLoad, type Figure, formatNs, formatRate, formatRatio, loadNote, progressDetail, table } from '../lib/index.js';
import type { NetBenchPart } from './index.js';

const quick = process.argv.includes('--quick');
const root = fileURLToPath(new URL('../..', import.meta.url));
const kBytes = 64;
const kReceiveBuffer = 4 << 20;
/** Datagrams for the drain measurement: what a 4 MiB receive buffer holds with room to spare. */
const kDrainCount = 4000;
const available = cpuAddon !== null && process.platform === 'linux' && typeof cpuAddon.udpSendBurst === 'function';

interface Receiver {
  name: string;
  port: number;
  received: number;
  /** Latency samples (ns) while `sampling`. */
  samples: Float64Array;
  count: number;
  sampling: boolean;
  close(): Promise<void>;
}

function newReceiver(name: string, port = 0): Receiver {
  return { name, port, received: 0, samples: new Float64Array(1 << 20), count: 0, sampling: false, close: async () => {} };
}

async function nativeReceiver(wakeup: 'notify' | 'poll'): Promise<Receiver> {
  const source: NativeUdpReceiver = await openNativeUdpReceiver({
    receiveBufferBytes: kReceiveBuffer,
    batch: 64,
    capacity: 16384,
    maxPacketBytes: 256,
    wakeup,
  });
  const r = newReceiver(`native recvmmsg (${wakeup})`, source.local.port);
  const origin = monotonicOriginNs();
  let buf: ArrayBufferLike | null = null;
  let dv: DataView | null = null;
  source.start((bytes, info) => {
    r.received++;
    if (!r.sampling) return;
    if (bytes.buffer !== buf) {
      buf = bytes.buffer;
      dv = new DataView(buf);
    }
    const sent = dv!.getFloat64(bytes.byteOffset + kUdpRecord.burstStampOffset, true) - origin;
    if (r.count < r.samples.length) r.samples[r.count++] = info.receivedNs - sent;
  });
  r.close = () => source.close();
  return r;
}

async function dgramReceiver(): Promise<Receiver> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: kReceiveBuffer });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const r = newReceiver('dgram', socket.address().port);
  const origin = monotonicOriginNs();
  socket.on('message', (msg: Buffer) => {
    r.received++;
    if (!r.sampling) return;
    const sent = msg.readDoubleLE(kUdpRecord.burstStampOffset) - origin;
    if (r.count < r.samples.length) r.samples[r.count++] = nowNs() - sent;
  });
  r.close = () => new Promise<void>((resolve) => socket.close(() => resolve()));
  return r;
}

/** Runs the sender process: count datagrams at rate (0: flat out); resolves with what it sent and how long it took. */
function send(port: number, count: number, rate: number): Promise<{ sent: number; seconds: number }> {
  const code =
    `const a = require('node-gyp-build')(${JSON.stringify(root)});` +
    `const t = process.hrtime.bigint();` +
    `const sent = a.udpSendBurst('127.0.0.1', ${port}, ${kBytes}, ${count}, ${rate}, 32);` +
    `process.stdout.write(JSON.stringify({ sent, seconds: Number(process.hrtime.bigint() - t) / 1e9 }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('close', (status) => {
      if (status === 0) resolve(JSON.parse(out) as { sent: number; seconds: number });
      else reject(new Error(`UDP sender exited with ${status}: ${err.trim().slice(-400)}`));
    });
  });
}

/** Waits until the receiver has seen `expected` datagrams or its count stops moving for 100 ms. */
async function settle(r: Receiver, expected: number): Promise<void> {
  let last = -1;
  let still = 0;
  while (r.received < expected && still < 20) {
    await new Promise((res) => setTimeout(res, 5));
    if (r.received === last) still++;
    else still = 0;
    last = r.received;
  }
}

interface Step {
  rate: number;
  sent: number;
  received: number;
  seconds: number;
}

async function step(r: Receiver, rate: number, count: number): Promise<Step> {
  r.received = 0;
  const { sent, seconds } = await send(r.port, count, rate);
  await settle(r, sent);
  return { rate, sent, received: r.received, seconds };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function percentile(xs: Float64Array, n: number, p: number): number {
  const s = Float64Array.from(xs.subarray(Math.floor(n * 0.05), n)).sort();
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

/** Sends count datagrams flat out from a worker thread; resolves once they are all out, while this thread is blocked. */
function fillBlocked(port: number, count: number): number {
  const done = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `const { workerData: d } = require('node:worker_threads');
     const a = require('node-gyp-build')(d.root);
     const flag = new Int32Array(d.done);
     let sent = 0;
     try { sent = a.udpSendBurst('127.0.0.1', d.port, ${kBytes}, d.count, 0, 32); } finally { Atomics.store(flag, 1, sent); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); }`,
    { eval: true, workerData: { root, port, count, done: done.buffer } },
  );
  // This thread (and so the dgram socket's reads, or the native source's start) waits here.
  Atomics.wait(done, 0, 0, 20_000);
  void worker.terminate();
  return Atomics.load(done, 1);
}

/**
 * Receiver capacity without the sender in the way: the socket buffer is filled while the
 * receiver cannot read (dgram: this thread blocked; native: not started yet), then the time
 * until JS has seen them all. Datagrams per second, and whether any were lost.
 */
async function drainRate(kind: 'dgram' | 'notify' | 'poll', count: number): Promise<{ rate: number; lost: number }> {
  let received = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const onOne = (): void => {
    if (++received === count) resolveAll();
  };
  const timeout = setTimeout(resolveAll, 5000);
  let t0: number;
  if (kind === 'dgram') {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: kReceiveBuffer });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    socket.on('message', onOne);
    fillBlocked(socket.address().port, count);
    t0 = nowNs();
    await all;
    socket.close();
  } else {
    const source = await openNativeUdpReceiver({ receiveBufferBytes: kReceiveBuffer, batch: 64, capacity: 16384, maxPacketBytes: 256, wakeup: kind });
    fillBlocked(source.local.port, count);
    t0 = nowNs();
    source.start(onOne);
    await all;
    await source.close();
  }
  const t1 = nowNs();
  clearTimeout(timeout);
  return { rate: (received / (t1 - t0)) * 1e9, lost: count - received };
}

interface Result {
  name: string;
  drainPerSec: number;
  drainLost: number;
  zeroLossRate: number;
  flatReceivedPerSec: number;
  flatReceivedOfSent: number;
  p50: number;
  p99: number;
  ladder: Step[];
}

async function measure(make: () => Promise<Receiver>, kind: 'dgram' | 'notify' | 'poll'): Promise<Result> {
  const drains: { rate: number; lost: number }[] = [];
  for (let i = 0; i < (quick ? 3 : 10); i++) {
    progressDetail(`udp ${kind}: drain a full socket buffer, run ${i + 1} (${loadNote()})`);
    drains.push(await drainRate(kind, kDrainCount));
  }
  const r = await make();
  try {
    const seconds = quick ? 0.25 : 0.5;
    const rates = quick ? [100e3, 400e3, 1.6e6] : [50e3, 100e3, 200e3, 400e3, 800e3, 1.2e6, 1.6e6, 2.4e6];
    const ladder: Step[] = [];
    let lossy = 0;
    for (const rate of rates) {
      progressDetail(`udp ${r.name}: ${formatRate(rate, 'pkt/s')} paced (${loadNote()})`);
      const s = await step(r, rate, Math.min(Math.round(rate * seconds), 1 << 22));
      ladder.push(s);
      lossy = s.received < s.sent ? lossy + 1 : 0;
      if (lossy === 2) break;
    }
    const flat: Step[] = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      progressDetail(`udp ${r.name}: flat out, run ${i + 1} (${loadNote()})`);
      flat.push(await step(r, 0, quick ? 300_000 : 1_000_000));
    }
    ladder.push(...flat);
    // Latency at a rate every receiver here keeps up with.
    const latencyRate = 20_000;
    progressDetail(`udp ${r.name}: latency at ${formatRate(latencyRate, 'pkt/s')}`);
    r.count = 0;
    r.sampling = true;
    await step(r, latencyRate, Math.round(latencyRate * (quick ? 0.3 : 1)));
    r.sampling = false;
    // The rate the sender achieved (a loaded machine can fall short of the one asked for).
    const zero = ladder.filter((s) => s.rate > 0 && s.received === s.sent).map((s) => Math.min(s.rate, s.sent / s.seconds));
    return {
      name: r.name,
      drainPerSec: median(drains.map((d) => d.rate)),
      drainLost: Math.max(...drains.map((d) => d.lost)),
      zeroLossRate: zero.length > 0 ? Math.max(...zero) : 0,
      flatReceivedPerSec: median(flat.map((s) => s.received / s.seconds)),
      flatReceivedOfSent: median(flat.map((s) => s.received / s.sent)),
      p50: r.count > 0 ? percentile(r.samples, r.count, 0.5) : NaN,
      p99: r.count > 0 ? percentile(r.samples, r.count, 0.99) : NaN,
      ladder,
    };
  } finally {
    await r.close();
  }
}

async function extras(): Promise<{ figures?: Figure[]; [key: string]: unknown }> {
  if (!available) {
    console.log('\n== UDP: skipped (the native receiver and sender need the CPU addon on Linux)');
    return { skipped: 'no CPU addon or not Linux' };
  }
  const load = currentLoad();
  const results: Result[] = [];
  results.push(await measure(() => dgramReceiver(), 'dgram'));
  results.push(await measure(() => nativeReceiver('notify'), 'notify'));
  results.push(await measure(() => nativeReceiver('poll'), 'poll'));
  const dg = results[0]!;
  console.log(`\n== UDP loopback, ${kBytes}-byte datagrams, sender: another process (sendmmsg x32); ${loadNote(load)}`);
  console.log(
    table(
      ['receiver', 'drain full buffer', 'vs dgram', 'highest rate, 0 loss', 'flat out: received/s', 'received/sent', 'send-to-JS p50', 'p99'],
      results.map((x) => [
        x.name,
        `${formatRate(x.drainPerSec, 'pkt/s')}${x.drainLost > 0 ? ` (lost ${x.drainLost})` : ''}`,
        x === dg ? '' : formatRatio(x.drainPerSec / dg.drainPerSec),
        formatRate(x.zeroLossRate, 'pkt/s'),
        formatRate(x.flatReceivedPerSec, 'pkt/s'),
        `${(x.flatReceivedOfSent * 100).toFixed(1)}%`,
        formatNs(x.p50),
        formatNs(x.p99),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  for (const x of results) {
    if (x.flatReceivedOfSent >= 1) console.log(`  ${x.name}: received every datagram flat out, so its received/s is the sender's rate (a lower bound on the receiver's)`);
  }
  const bestDrain = results.slice(1).reduce((a, b) => (b.drainPerSec > a.drainPerSec ? b : a));
  const drainRatio = bestDrain.drainPerSec / dg.drainPerSec;
  const bestFlat = results.slice(1).reduce((a, b) => (b.flatReceivedPerSec > a.flatReceivedPerSec ? b : a));
  const flatRatio = bestFlat.flatReceivedPerSec / dg.flatReceivedPerSec;
  const verdict = (r: number): string => (r >= 3 ? 'met' : 'MISSED');
  console.log(
    `  target native >= 3x dgram throughput, draining ${kDrainCount} datagrams from a full socket buffer: ${verdict(drainRatio)} (${formatRatio(drainRatio)}, ${bestDrain.name}, median of runs)`,
  );
  console.log(`  target native >= 3x dgram throughput, sender flat out: ${verdict(flatRatio)} (${formatRatio(flatRatio)}, ${bestFlat.name}, median of runs)`);
  const figures: Figure[] = results.flatMap((x) => [
    { group: 'udp', name: `${x.name}: drain of a full socket buffer`, unit: 'pkt/s', median: x.drainPerSec },
    { group: 'udp', name: `${x.name}: highest rate with 0 loss`, unit: 'pkt/s', median: x.zeroLossRate },
    { group: 'udp', name: `${x.name}: received/s, sender flat out`, unit: 'pkt/s', median: x.flatReceivedPerSec },
    { group: 'udp', name: `${x.name}: send-to-JS latency at 20k pkt/s`, unit: 'ns', median: x.p50, p99: x.p99 },
  ]);
  return { figures, load, results, drainRatioToDgram: drainRatio, flatOutRatioToDgram: flatRatio };
}

export const part: NetBenchPart = { name: 'udp', extras };
