/**
 * TCP loopback, ours beside a bare `net.Socket` (issue 14 benchmarks): round-trip time
 * p50/p99/p99.9 at 64-byte messages and one-way throughput of batched 64-byte messages.
 *
 * The peer is another process (this file forked with ULTRA_PERF_TCP_PEER=1), so every round
 * trip crosses processes as a real one does. It runs four servers: ours answering PING in
 * its receive path (measureLatency) and draining messages, ours echoing each message through
 * its iterator and `send`, a bare echo (`socket.write(chunk)` per 'data'), and a bare sink
 * that counts bytes and answers one byte when a run's bytes are in. Everything has
 * TCP_NODELAY. Rows alternate ours / bare, three rounds; the tables give medians of rounds.
 *
 * - RTT ours: `measureLatency(id, { bytes: 64 })`: a 73-byte PING frame (9 bytes of framing),
 *   answered with the same bytes by the peer Connection. RTT ours, app echo: `send()` → the
 *   peer's iterator → its `send()` → our iterator. RTT bare: 64 bytes written, 64 read back.
 * - Throughput ours: `sendBatch` of 1024 × 64 B, up to 16 batches unacknowledged; the clock
 *   stops when the peer has acknowledged every message. The peer reads with `for await` per
 *   message, and (a second row) with `batches()`, one array per socket read. Bare: the same bytes as corked
 *   `write()`s of each 64-byte Buffer (and, the pipe's ceiling, one 64 KiB write per batch);
 *   the clock stops when the sink says it has every byte.
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

import { LatencyHistogram } from '../../lib/monitor/histogram.js';
import { nowNs } from '../../lib/monitor/clock.js';
import { type Connection, closeAll, createConnection, createServer, measureLatency } from '../../lib/net/tcp.js';
import { type Figure, formatNs, formatRate, loadNote, progressDetail, table } from '../lib/index.js';
import type { NetBenchPart } from './index.js';

interface PeerPorts {
  sink: number;
  sinkBatches: number;
  echo: number;
  bareEcho: number;
  bareSink: number;
}

const kHost = '127.0.0.1';
const kBytes = 64;
const kBatch = 1024;
const kWindow = 16;

// ---------------------------------------------------------------------------------------
// The peer process

async function peerMain(): Promise<void> {
  const sink = createServer({ id: 'bench-sink', onConnection: (c) => void drain(c) });
  const sinkBatches = createServer({ id: 'bench-sink-batches', onConnection: (c) => void drain(c, true) });
  const echo = createServer({
    id: 'bench-echo',
    onConnection: (c) =>
      void (async () => {
        try {
          for await (const m of c) c.send(m).catch(() => undefined);
        } catch {
          /* the bench closed it */
        }
      })(),
  });
  const bareEcho = net.createServer({ noDelay: true }, (s) => {
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
  });
  const bareSink = net.createServer({ noDelay: true }, (s) => {
    // each run: a u32 LE byte count, then that many bytes; one byte back when they are in
    let need = -1;
    let header = 0;
    let headerBytes = 0;
    s.on('data', (d: Buffer) => {
      let i = 0;
      while (i < d.length) {
        if (need < 0) {
          header += d[i++]! * 2 ** (8 * headerBytes++);
          if (headerBytes === 4) {
            need = header;
            header = headerBytes = 0;
          }
          continue;
        }
        const take = Math.min(need, d.length - i);
        need -= take;
        i += take;
        if (need === 0) {
          s.write(Buffer.of(1));
          need = -1;
        }
      }
    });
    s.on('error', () => undefined);
  });
  const listen = (srv: net.Server): Promise<number> =>
    new Promise((resolve) => srv.listen(0, kHost, () => resolve((srv.address() as net.AddressInfo).port)));
  const ports: PeerPorts = {
    sink: (await sink.listen()).port,
    sinkBatches: (await sinkBatches.listen()).port,
    echo: (await echo.listen()).port,
    bareEcho: await listen(bareEcho),
    bareSink: await listen(bareSink),
  };
  process.send!(ports);
  process.on('disconnect', () => process.exit(0));
}

async function drain(c: Connection, batches = false): Promise<void> {
  try {
    if (batches) for await (const _ of c.batches());
    else for await (const _ of c);
  } catch {
    /* the bench closed it */
  }
}

// ---------------------------------------------------------------------------------------
// Measurements

interface Rtt {
  p50: number;
  p99: number;
  p999: number;
}

function summary(h: LatencyHistogram): Rtt {
  return { p50: h.percentile(50), p99: h.percentile(99), p999: h.percentile(99.9) };
}

async function bareRtt(port: number, count: number, warmup: number): Promise<Rtt> {
  const s = net.connect({ port, host: kHost, noDelay: true });
  await new Promise((r) => s.once('connect', r));
  let got = 0;
  let done: (() => void) | null = null;
  s.on('data', (d) => {
    got += d.length;
    if (got >= kBytes && done !== null) {
      got -= kBytes;
      const f = done;
      done = null;
      f();
    }
  });
  const msg = Buffer.alloc(kBytes, 7);
  const h = new LatencyHistogram({ highestTrackableValue: 60e9 });
  for (let i = 0; i < warmup + count; i++) {
    const t0 = nowNs();
    await new Promise<void>((resolve) => {
      done = resolve;
      s.write(msg);
    });
    if (i >= warmup) h.record(nowNs() - t0);
  }
  s.destroy();
  return summary(h);
}

async function appEchoRtt(port: number, count: number, warmup: number): Promise<Rtt> {
  const c = createConnection({ id: 'bench-tcp-echo', host: kHost, port, noDelay: true });
  await c.opened();
  const it = c[Symbol.asyncIterator]();
  const msg = new Uint8Array(kBytes).fill(7);
  const h = new LatencyHistogram({ highestTrackableValue: 60e9 });
  for (let i = 0; i < warmup + count; i++) {
    const t0 = nowNs();
    c.send(msg).catch(() => undefined);
    await it.next();
    if (i >= warmup) h.record(nowNs() - t0);
  }
  c.destroy();
  return summary(h);
}

async function oursThroughput(port: number, messages: number): Promise<number> {
  const c = createConnection({ id: 'bench-tcp-throughput', host: kHost, port, noDelay: true, sendQueue: { maxMessages: 1 << 20 } });
  await c.opened();
  const batch = Array.from({ length: kBatch }, (_, i) => new Uint8Array(kBytes).fill(i & 0xff));
  const batches = Math.ceil(messages / kBatch);
  const t0 = nowNs();
  const inflight: Promise<void>[] = [];
  for (let b = 0; b < batches; b++) {
    inflight.push(c.sendBatch(batch));
    if (inflight.length >= kWindow) await inflight.shift();
  }
  await Promise.all(inflight);
  const ns = nowNs() - t0;
  await c.close();
  return (batches * kBatch) / (ns / 1e9);
}

async function bareThroughput(port: number, messages: number, oneBufferPerBatch: boolean): Promise<number> {
  const s = net.connect({ port, host: kHost, noDelay: true });
  await new Promise((r) => s.once('connect', r));
  const batch = Array.from({ length: kBatch }, (_, i) => Buffer.alloc(kBytes, i & 0xff));
  const joined = Buffer.concat(batch);
  const batches = Math.ceil(messages / kBatch);
  const header = Buffer.alloc(4);
  header.writeUInt32LE(batches * kBatch * kBytes);
  const acked = new Promise((r) => s.once('data', r));
  const t0 = nowNs();
  s.write(header);
  for (let b = 0; b < batches; b++) {
    let ok: boolean;
    if (oneBufferPerBatch) ok = s.write(joined);
    else {
      s.cork();
      for (let i = 0; i < kBatch; i++) s.write(batch[i]!);
      s.uncork();
      ok = !s.writableNeedDrain;
    }
    if (!ok) await new Promise((r) => s.once('drain', r));
  }
  await acked;
  const ns = nowNs() - t0;
  s.destroy();
  return (batches * kBatch) / (ns / 1e9);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function medianRtt(rs: Rtt[]): Rtt {
  return { p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), p999: median(rs.map((r) => r.p999)) };
}

async function extras(): Promise<{ figures: Figure[]; [key: string]: unknown }> {
  const quick = process.argv.includes('--quick');
  const rounds = 3;
  const count = quick ? 2000 : 20_000;
  const warmup = quick ? 200 : 2000;
  const messages = quick ? 256 * 1024 : 2 * 1024 * 1024;
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ULTRA_PERF_TCP_PEER: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ports = await new Promise<PeerPorts>((resolve, reject) => {
      child.once('message', (m) => resolve(m as PeerPorts));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the TCP bench peer exited with ${code}`)));
    });
    const rttOurs: Rtt[] = [];
    const rttApp: Rtt[] = [];
    const rttBare: Rtt[] = [];
    const tputOurs: number[] = [];
    const tputOursBatches: number[] = [];
    const tputBare: number[] = [];
    const tputBareJoined: number[] = [];
    const lat = createConnection({ id: 'bench-tcp-rtt', host: kHost, port: ports.sink, noDelay: true });
    await lat.opened();
    for (let r = 0; r < rounds; r++) {
      progressDetail(`TCP round ${r + 1}/${rounds}: RTT`);
      const m = await measureLatency('bench-tcp-rtt', { count, bytes: kBytes, warmup });
      rttOurs.push({ p50: m.p50, p99: m.p99, p999: m.p999 });
      rttBare.push(await bareRtt(ports.bareEcho, count, warmup));
      rttApp.push(await appEchoRtt(ports.echo, count, warmup));
      progressDetail(`TCP round ${r + 1}/${rounds}: throughput`);
      tputOurs.push(await oursThroughput(ports.sink, messages));
      tputOursBatches.push(await oursThroughput(ports.sinkBatches, messages));
      tputBare.push(await bareThroughput(ports.bareSink, messages, false));
      tputBareJoined.push(await bareThroughput(ports.bareSink, messages, true));
    }
    await closeAll();
    const ours = medianRtt(rttOurs);
    const app = medianRtt(rttApp);
    const bare = medianRtt(rttBare);
    const overheadP50 = ours.p50 / bare.p50 - 1;
    const tOurs = median(tputOurs);
    const tBatches = median(tputOursBatches);
    const tBare = median(tputBare);
    const tJoined = median(tputBareJoined);
    const group = 'tcp';
    console.log(
      `\n-- ${group}: loopback, peer in another process, TCP_NODELAY, ${kBytes}-byte messages; median of ${rounds} rounds of ${count} round trips; ${loadNote()}`,
    );
    const rttRow = (name: string, r: Rtt): string[] => [name, formatNs(r.p50), formatNs(r.p99), formatNs(r.p999), `${((r.p50 / bare.p50 - 1) * 100).toFixed(1)} %`];
    console.log(
      table(
        ['round trip', 'p50', 'p99', 'p99.9', 'p50 vs bare'],
        [
          rttRow('ours: measureLatency (PING/PONG frames)', ours),
          rttRow('ours: send -> peer iterator -> send -> iterator', app),
          rttRow('bare net.Socket ping-pong', bare),
        ],
      ),
    );
    console.log(`  framing overhead at p50: ${(overheadP50 * 100).toFixed(1)} % (target <= 10 %)`);
    console.log(`\n-- ${group}: one-way throughput, ${kBytes}-byte messages, ${messages} per run, median of ${rounds}`);
    console.log(
      table(
        ['sender', 'messages/s', 'vs bare corked writes'],
        [
          ['ours: sendBatch x1024, acked; peer: for await per message', formatRate(tOurs, ' msg/s'), `${(tOurs / tBare).toFixed(2)}x`],
          ['ours: sendBatch x1024, acked; peer: for await batches()', formatRate(tBatches, ' msg/s'), `${(tBatches / tBare).toFixed(2)}x`],
          ['bare net.Socket: corked write() per message', formatRate(tBare, ' msg/s'), '1.00x'],
          ['bare net.Socket: one 64 KiB write() per 1024', formatRate(tJoined, ' msg/s'), `${(tJoined / tBare).toFixed(2)}x`],
        ],
      ),
    );
    console.log(`  target >= 1M msg/s: ${Math.max(tOurs, tBatches) >= 1e6 ? 'met' : 'NOT met'} (best of the two peer readers)`);
    const figures: Figure[] = [
      { group, name: 'RTT ours measureLatency 64 B', unit: 'ns', median: ours.p50, p99: ours.p99 },
      { group, name: 'RTT ours app echo 64 B', unit: 'ns', median: app.p50, p99: app.p99 },
      { group, name: 'RTT bare net.Socket 64 B', unit: 'ns', median: bare.p50, p99: bare.p99 },
      { group, name: 'throughput ours 64 B', unit: 'msg/s', median: tOurs },
      { group, name: 'throughput ours 64 B, peer reads batches()', unit: 'msg/s', median: tBatches },
      { group, name: 'throughput bare corked writes 64 B', unit: 'msg/s', median: tBare },
    ];
    return {
      figures,
      rtt: { ours, appEcho: app, bare, overheadP50, rounds: { ours: rttOurs, appEcho: rttApp, bare: rttBare } },
      throughput: {
        ours: tOurs,
        oursPeerBatches: tBatches,
        bare: tBare,
        bareOneBufferPerBatch: tJoined,
        rounds: { ours: tputOurs, oursPeerBatches: tputOursBatches, bare: tputBare, bareJoined: tputBareJoined },
      },
      settings: { bytes: kBytes, count, warmup, messages, batch: kBatch, window: kWindow, load: loadNote() },
    };
  } finally {
    child.disconnect();
    child.kill();
  }
}

if (process.env.ULTRA_PERF_TCP_PEER === '1') await peerMain();

export const part: NetBenchPart = { name: 'tcp', extras };
