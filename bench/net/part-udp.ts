/**
 * UDP on loopback, 64-byte datagrams: the native recvmmsg receiver (lib/net/native-source.ts)
 * against a `dgram` socket in the same run. The sender is another process running the
 * addon's sendmmsg load generator (udpSendBurst: sequence number and CLOCK_MONOTONIC send
 * stamp in each datagram), so the receivers, not the sender, are what runs out first.
 *
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

import { cpuAddon } from '../../lib/backend.js';
import { nowNs } from '../../lib/monitor/clock.js';
import { kUdpRecord, monotonicOriginNs, type NativeUdpReceiver, openNativeUdpReceiver } from '../../lib/net/native-source.js';
import { currentLoad, type Figure, formatNs, formatRate, formatRatio, loadNote, progressDetail, table } from '../lib/index.js';
import type { NetBenchPart } from './index.js';

const quick = process.argv.includes('--quick');
const root = fileURLToPath(new URL('../..', import.meta.url));
const kBytes = 64;
const kReceiveBuffer = 4 << 20;
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

interface Result {
  name: string;
  zeroLossRate: number;
  flatReceivedPerSec: number;
  flatReceivedOfSent: number;
  p50: number;
  p99: number;
  ladder: Step[];
}

async function measure(make: () => Promise<Receiver>): Promise<Result> {
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
    const zero = ladder.filter((s) => s.rate > 0 && s.received === s.sent).map((s) => s.rate);
    return {
      name: r.name,
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
  for (const make of [() => dgramReceiver(), () => nativeReceiver('notify'), () => nativeReceiver('poll')]) results.push(await measure(make));
  const dg = results[0]!;
  console.log(`\n== UDP loopback, ${kBytes}-byte datagrams, sender: another process (sendmmsg x32); ${loadNote(load)}`);
  console.log(
    table(
      ['receiver', 'highest rate, 0 loss', 'flat out: received/s', 'received/sent', 'vs dgram', 'send-to-JS p50', 'p99'],
      results.map((x) => [
        x.name,
        formatRate(x.zeroLossRate, 'pkt/s'),
        formatRate(x.flatReceivedPerSec, 'pkt/s'),
        `${(x.flatReceivedOfSent * 100).toFixed(1)}%`,
        x === dg ? '' : formatRatio(x.flatReceivedPerSec / dg.flatReceivedPerSec),
        formatNs(x.p50),
        formatNs(x.p99),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  const best = results.slice(1).reduce((a, b) => (b.flatReceivedPerSec > a.flatReceivedPerSec ? b : a));
  const ratio = best.flatReceivedPerSec / dg.flatReceivedPerSec;
  for (const x of results) {
    if (x.flatReceivedOfSent >= 1) console.log(`  ${x.name}: received every datagram flat out, so its received/s is the sender's rate (a lower bound on the receiver's)`);
  }
  console.log(`  target native >= 3x dgram throughput: ${ratio >= 3 ? 'met' : 'MISSED'} (${formatRatio(ratio)}, ${best.name}, flat out, median of runs)`);
  const figures: Figure[] = results.flatMap((x) => [
    { group: 'udp', name: `${x.name}: highest rate with 0 loss`, unit: 'pkt/s', median: x.zeroLossRate },
    { group: 'udp', name: `${x.name}: received/s, sender flat out`, unit: 'pkt/s', median: x.flatReceivedPerSec },
    { group: 'udp', name: `${x.name}: send-to-JS latency at 20k pkt/s`, unit: 'ns', median: x.p50, p99: x.p99 },
  ]);
  return { figures, load, results, ratioToDgram: ratio };
}

export const part: NetBenchPart = { name: 'udp', extras };
