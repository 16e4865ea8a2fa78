/**
 * Shared-memory queues. Two halves:
 *
 * 1. In one thread (round-robin groups): what one tryPush + tryPop, and one pushBatch +
 *    popBatch of 64 messages, cost on the TS path and on the native path. These are the
 *    numbers lib/queue/queue.ts `defaultPaths` is chosen on, with an allocation check.
 * 2. Across threads (extras, its own table): SPSC between two worker threads, 64-byte
 *    messages, single and batched, in messages/s; ping-pong round trips (p50/p99) with
 *    spinning, with Atomics.wait at once (spinTries: 0), and with the default spin-then-wait;
 *    the same workloads over MessagePort.postMessage as the peer; MPMC 2x2 throughput.
 *    Each throughput workload is timed over several runs from one start word (released
 *    by this thread) to the last consumer seeing the queue closed and drained.
 *
 * Targets (the seed report's queue claims): SPSC >= 30M msg/s batched and >= 10M single; spin RTT p50 <= 1 µs;
 * >= 50x postMessage throughput. The table says which were met on this machine.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';

import { cpuAddon } from '../../lib/backend.js';
import { MpmcQueue, SpscQueue, type QueueBackend, type SharedQueue } from '../../lib/index.js';
import { nowNs } from '../../lib/monitor/clock.js';
import { MicrosecondTimer } from '../../lib/monitor/index.js';
import { currentLoad, defineSuite, type Figure, formatNs, formatRate, formatRatio, loadNote, progressDetail, table } from '../lib/index.js';
import type { RunMessage, WorkerConfig } from './worker.js';

const quick = process.argv.includes('--quick');
const native = cpuAddon !== null;
const noNative = native ? undefined : 'the CPU addon is not loaded (ULTRA_PERF_BACKEND=ts or no build)';
const kMessageBytes = 64;
const kBatch = 64;

// ---- in one thread ------------------------------------------------------------------------

const message = new Uint8Array(kMessageBytes).fill(0x5a);
const out = new Uint8Array(kMessageBytes);
const packed = new Uint8Array(kMessageBytes * kBatch).fill(0x5a);
const lengths = new Uint32Array(kBatch).fill(kMessageBytes);
const packedOut = new Uint8Array(kMessageBytes * kBatch);
const lengthsOut = new Uint32Array(kBatch);

function queue(kind: 'spsc' | 'mpmc', backend: QueueBackend, capacity = 1024): SharedQueue {
  const options = { capacity, slotBytes: kMessageBytes, backend };
  return kind === 'spsc' ? SpscQueue.create(options) : MpmcQueue.create(options);
}

function opTasks(kind: 'spsc' | 'mpmc'): { name: string; fn: () => unknown; allocationCheck: number; skip?: string }[] {
  const label = kind === 'spsc' ? 'SpscQueue' : 'MpmcQueue';
  const ts = queue(kind, 'ts');
  const nat = native ? queue(kind, 'native') : null;
  return [
    { name: `${label} TS tryPush+tryPop`, fn: () => (ts.tryPush(message), ts.tryPop(out)), allocationCheck: 1_000_000 },
    {
      name: `${label} native tryPush+tryPop`,
      fn: () => (nat!.tryPush(message), nat!.tryPop(out)),
      allocationCheck: 1_000_000,
      ...(noNative ? { skip: noNative } : {}),
    },
  ];
}

/** Large slots: above kWholeSlotCopyMaxBytes the TS pop needs a view per call, and the addon takes tryPop. */
function largeTasks(): { name: string; fn: () => unknown; allocationCheck: number; skip?: string }[] {
  const big = new Uint8Array(4096).fill(0x5a);
  const bigOut = new Uint8Array(4096);
  const ts = SpscQueue.create({ capacity: 256, slotBytes: 4096, backend: 'ts' });
  const nat = native ? SpscQueue.create({ capacity: 256, slotBytes: 4096, backend: 'native' }) : null;
  const auto = SpscQueue.create({ capacity: 256, slotBytes: 4096 });
  return [
    { name: 'SpscQueue 4 KiB TS tryPush+tryPop', fn: () => (ts.tryPush(big), ts.tryPop(bigOut)), allocationCheck: 200_000 },
    {
      name: 'SpscQueue 4 KiB native tryPush+tryPop',
      fn: () => (nat!.tryPush(big), nat!.tryPop(bigOut)),
      allocationCheck: 200_000,
      ...(noNative ? { skip: noNative } : {}),
    },
    {
      name: `SpscQueue 4 KiB default (push ${auto.paths.tryPush}, pop ${auto.paths.tryPop})`,
      fn: () => (auto.tryPush(big), auto.tryPop(bigOut)),
      allocationCheck: 200_000,
    },
  ];
}

function batchTasks(kind: 'spsc' | 'mpmc'): { name: string; fn: () => unknown; allocationCheck: number; skip?: string }[] {
  const label = kind === 'spsc' ? 'SpscQueue' : 'MpmcQueue';
  const ts = queue(kind, 'ts');
  const nat = native ? queue(kind, 'native') : null;
  return [
    {
      name: `${label} TS pushBatch+popBatch x64`,
      fn: () => (ts.pushBatch(packed, lengths), ts.popBatch(packedOut, lengthsOut)),
      allocationCheck: 100_000,
    },
    {
      name: `${label} native pushBatch+popBatch x64`,
      fn: () => (nat!.pushBatch(packed, lengths), nat!.popBatch(packedOut, lengthsOut)),
      allocationCheck: 100_000,
      ...(noNative ? { skip: noNative } : {}),
    },
  ];
}

// ---- across threads -----------------------------------------------------------------------

function startWorker(config: Omit<WorkerConfig, 'control'>, control: SharedArrayBuffer, transfer: MessagePort[] = []): Worker {
  const file = new URL('./worker.ts', import.meta.url);
  // Node 20 applies --import hooks too late for a worker's entry file: register tsx first.
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(file.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: { ...config, control }, transferList: transfer });
}

function next<T>(worker: Worker, key: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>): void => {
      if (key in m) {
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(m as T);
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

function nowAbs(): number {
  return Number(process.hrtime.bigint());
}

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * (sorted.length - 1)))]!;
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

interface CrossRecord {
  group: string;
  name: string;
  /** 'msg/s' for throughput (median and worst of the runs), 'ns' for round trips (p50, p99 of samples). */
  unit: 'msg/s' | 'ns';
  median: number;
  /** Throughput: the slowest run; round trips: the 99th percentile. */
  p99: number;
  opsPerSec: number;
  samples: number;
  ratioTo: Record<string, number>;
  note?: string;
}

const kRuns = quick ? 2 : 5;

async function queueThroughput(
  kind: 'spsc' | 'mpmc',
  producers: number,
  consumers: number,
  total: number,
  backend: QueueBackend,
  batch: number,
): Promise<number[]> {
  const control = new SharedArrayBuffer(4);
  const ctl = new Int32Array(control);
  const common = { kind, backend, batch, messageBytes: kMessageBytes };
  const ps = Array.from({ length: producers }, () => startWorker({ role: 'producer', ...common }, control));
  const cs = Array.from({ length: consumers }, () => startWorker({ role: 'consumer', ...common }, control));
  const rates: number[] = [];
  try {
    for (let run = 1; run <= kRuns; run++) {
      const q = kind === 'spsc' ? SpscQueue.create({ capacity: 8192, slotBytes: kMessageBytes }) : MpmcQueue.create({ capacity: 8192, slotBytes: kMessageBytes });
      const producersLeft = new SharedArrayBuffer(4);
      new Int32Array(producersLeft)[0] = producers;
      const msg: RunMessage = { run, buffer: q.buffer, count: total / producers, producersLeft };
      const ready = [...ps, ...cs].map((w) => next(w, 'ready'));
      const done = cs.map((w) => next<{ endNs: number; received: number }>(w, 'done'));
      const producersDone = ps.map((w) => next(w, 'done'));
      for (const w of [...ps, ...cs]) w.postMessage(msg);
      await Promise.all(ready);
      const t0 = nowAbs();
      Atomics.store(ctl, 0, run);
      Atomics.notify(ctl, 0);
      const reports = await Promise.all(done);
      await Promise.all(producersDone);
      const received = reports.reduce((a, r) => a + r.received, 0);
      if (received !== total) throw new Error(`${kind} throughput run lost messages: ${received} of ${total}`);
      const end = Math.max(...reports.map((r) => r.endNs));
      rates.push(total / ((end - t0) / 1e9));
    }
  } finally {
    await Promise.all([...ps, ...cs].map((w) => w.terminate()));
  }
  return rates;
}

async function portThroughput(total: number, batch: number): Promise<number[]> {
  const control = new SharedArrayBuffer(4);
  const ctl = new Int32Array(control);
  const { port1, port2 } = new MessageChannel();
  const producer = startWorker({ role: 'port-producer', batch, messageBytes: kMessageBytes, port: port1 }, control, [port1]);
  const consumer = startWorker({ role: 'port-consumer', batch, messageBytes: kMessageBytes, port: port2 }, control, [port2]);
  const rates: number[] = [];
  try {
    for (let run = 1; run <= kRuns; run++) {
      const readyC = next(consumer, 'ready');
      consumer.postMessage({ run, count: total });
      await readyC;
      const readyP = next(producer, 'ready');
      const done = next<{ endNs: number; received: number }>(consumer, 'done');
      producer.postMessage({ run, count: total });
      await readyP;
      const t0 = nowAbs();
      Atomics.store(ctl, 0, run);
      Atomics.notify(ctl, 0);
      const report = await done;
      rates.push(total / ((report.endNs - t0) / 1e9));
    }
  } finally {
    await Promise.all([producer.terminate(), consumer.terminate()]);
  }
  return rates;
}

type RttMode = 'spin' | 'wait' | 'default';

async function queueRoundTrips(mode: RttMode, samples: number): Promise<Float64Array> {
  const control = new SharedArrayBuffer(4);
  const spinTries = mode === 'wait' ? 0 : undefined;
  const ping = SpscQueue.create({ capacity: 16, slotBytes: kMessageBytes, spinTries });
  const pong = SpscQueue.create({ capacity: 16, slotBytes: kMessageBytes, spinTries });
  const echo = startWorker({ role: 'echo', kind: 'spsc', spin: mode === 'spin', spinTries }, control);
  const ready = next(echo, 'ready');
  const done = next(echo, 'done');
  echo.postMessage({ run: 1, buffer: ping.buffer, pong: pong.buffer } satisfies RunMessage);
  await ready;
  Atomics.store(new Int32Array(control), 0, 1);
  Atomics.notify(new Int32Array(control), 0);
  const warmup = Math.min(20_000, samples);
  const rtt = new Float64Array(samples);
  const reply = new Uint8Array(kMessageBytes);
  for (let i = -warmup; i < samples; i++) {
    const t0 = nowNs();
    if (mode === 'spin') {
      while (!ping.tryPush(message));
      while (pong.tryPop(reply) < 0);
    } else {
      ping.push(message);
      pong.pop(reply);
    }
    if (i >= 0) rtt[i] = nowNs() - t0;
  }
  ping.push(new Uint8Array(0));
  await done;
  await echo.terminate();
  return rtt.sort();
}

async function portRoundTrips(samples: number): Promise<Float64Array> {
  const control = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const echo = startWorker({ role: 'port-echo', port: port2 }, control, [port2]);
  await next(echo, 'ready');
  let wake: () => void = () => {};
  port1.on('message', () => wake());
  const warmup = Math.min(2000, samples);
  const rtt = new Float64Array(samples);
  for (let i = -warmup; i < samples; i++) {
    const t0 = nowNs();
    const back = new Promise<void>((resolve) => {
      wake = resolve;
    });
    port1.postMessage(message);
    await back;
    if (i >= 0) rtt[i] = nowNs() - t0;
  }
  port1.close();
  await echo.terminate();
  return rtt.sort();
}

function throughputRecord(group: string, name: string, rates: number[], note?: string): CrossRecord {
  const med = median(rates);
  return {
    group,
    name,
    unit: 'msg/s',
    median: med,
    p99: Math.min(...rates),
    opsPerSec: med,
    samples: rates.length,
    ratioTo: {},
    ...(note !== undefined ? { note } : {}),
  };
}

function rttRecord(group: string, name: string, sorted: Float64Array, note?: string): CrossRecord {
  const p50 = percentile(sorted, 50);
  return {
    group,
    name,
    unit: 'ns',
    median: p50,
    p99: percentile(sorted, 99),
    opsPerSec: 1e9 / p50,
    samples: sorted.length,
    ratioTo: {},
    ...(note !== undefined ? { note } : {}),
  };
}

/** Within a group: throughput ratios are mine / peer's (2.0 = twice the peer's msg/s); latency ratios likewise (2.0 = twice as slow). */
function addRatios(records: CrossRecord[]): void {
  for (const r of records) {
    for (const peer of records) {
      if (peer !== r && peer.group === r.group && peer.median > 0) r.ratioTo[peer.name] = r.median / peer.median;
    }
  }
}

function printCross(records: CrossRecord[]): void {
  const groups = [...new Set(records.map((r) => r.group))];
  for (const group of groups) {
    const rows = records.filter((r) => r.group === group);
    const throughput = rows[0]!.unit === 'msg/s';
    console.log(`\n-- ${group}`);
    console.log(`   needs idle cores; ${loadNote()}`);
    const fmt = (r: CrossRecord, v: number): string => (r.unit === 'msg/s' ? formatRate(v, 'msg/s') : formatNs(v));
    console.log(
      table(
        ['#', 'task', throughput ? 'median run' : 'p50', throughput ? 'slowest run' : 'p99', throughput ? 'runs' : 'samples', ...rows.map((_, j) => `vs #${j + 1}`), 'note'],
        rows.map((r, i) => [
          `#${i + 1}`,
          r.name,
          fmt(r, r.median),
          fmt(r, r.p99),
          r.samples.toLocaleString('en-US'),
          ...rows.map((peer) => (peer === r ? '' : r.ratioTo[peer.name] !== undefined ? formatRatio(r.ratioTo[peer.name]!) : '-')),
          r.note ?? '',
        ]),
        ['l', 'l', 'r', 'r', 'r', ...rows.map(() => 'r' as const), 'l'],
      ),
    );
    console.log(throughput ? '  vs #j: this msg/s / task #j\'s msg/s (2.00× = twice the throughput)' : '  vs #j: this p50 / task #j\'s p50 (2.00× = twice as slow)');
  }
}

async function crossThread(): Promise<Record<string, unknown>> {
  const n = (full: number): number => (quick ? full / 10 : full);
  const records: CrossRecord[] = [];
  const backends: QueueBackend[] = native ? ['auto', 'ts', 'native'] : ['ts'];
  const label = (b: QueueBackend): string => (b === 'auto' ? 'default paths' : `${b} paths`);

  const single = 'SPSC between two workers, 64-byte messages, push/pop one at a time';
  const batched = 'SPSC between two workers, 64-byte messages, batches of 64';
  const mpmc = 'MPMC, 2 producer and 2 consumer workers, 64-byte messages';
  const clock = `includes one clock pair (~${MicrosecondTimer.overheadNs.toFixed(0)} ns)`;
  const rtt = 'ping-pong round trip, main thread <-> echo worker, 64 bytes';
  const jobs: { group: string; name: string; run: () => Promise<CrossRecord> }[] = [];
  const job = (group: string, name: string, measure: () => Promise<number[] | Float64Array>, note?: string): void => {
    jobs.push({
      group,
      name,
      run: async () => {
        const v = await measure();
        return v instanceof Float64Array ? rttRecord(group, name, v, note) : throughputRecord(group, name, v, note);
      },
    });
  };
  for (const b of backends) job(single, `SpscQueue push/pop (${label(b)})`, () => queueThroughput('spsc', 1, 1, n(4_000_000), b, 1));
  job(single, 'MessagePort.postMessage, one message per post', () => portThroughput(n(400_000), 1));
  for (const b of backends) job(batched, `SpscQueue pushBatch/popBatch (${label(b)})`, () => queueThroughput('spsc', 1, 1, n(16_000_000), b, kBatch));
  job(batched, 'MessagePort.postMessage, 64 messages per 4 KiB post', () => portThroughput(n(6_400_000), kBatch));
  job(mpmc, 'MpmcQueue 2x2 push/pop (default paths)', () => queueThroughput('mpmc', 2, 2, n(4_000_000), 'auto', 1));
  job(mpmc, 'MpmcQueue 2x2 pushBatch/popBatch x64 (default paths)', () => queueThroughput('mpmc', 2, 2, n(8_000_000), 'auto', kBatch));
  job(mpmc, 'SpscQueue 1x1 push/pop, for scale (default paths)', () => queueThroughput('spsc', 1, 1, n(4_000_000), 'auto', 1));
  job(rtt, 'SpscQueue pair, both sides spin on tryPush/tryPop', () => queueRoundTrips('spin', n(200_000)), clock);
  job(rtt, 'SpscQueue pair, push/pop default (spin 500 tries, then wait)', () => queueRoundTrips('default', n(100_000)), clock);
  job(rtt, 'SpscQueue pair, push/pop with Atomics.wait at once', () => queueRoundTrips('wait', n(50_000)), clock);
  job(rtt, 'MessagePort.postMessage echo (event loop)', () => portRoundTrips(n(20_000)), clock);
  for (const [i, j] of jobs.entries()) {
    const load = currentLoad();
    progressDetail(`across threads ${i + 1}/${jobs.length}: ${j.name} (load ${load.load1.toFixed(2)} on ${load.cores} cores${load.busy ? ', busy' : ''})`);
    records.push(await j.run());
  }

  addRatios(records);
  console.log(`\n== across threads (throughput: median and slowest of ${kRuns} runs; round trips: p50 and p99 of the samples)`);
  printCross(records);

  const find = (name: string): CrossRecord | undefined => records.find((r) => r.name === name);
  const spscSingle = find('SpscQueue push/pop (default paths)') ?? find('SpscQueue push/pop (ts paths)');
  const spscBatch = find('SpscQueue pushBatch/popBatch (default paths)') ?? find('SpscQueue pushBatch/popBatch (ts paths)');
  const single0 = records.find((r) => r.group === single && r.name.startsWith('SpscQueue'))!;
  const batch0 = records.find((r) => r.group === batched && r.name.startsWith('SpscQueue'))!;
  const portSingle = find('MessagePort.postMessage, one message per post')!;
  const portBatch = find('MessagePort.postMessage, 64 messages per 4 KiB post')!;
  const spinRtt = find('SpscQueue pair, both sides spin on tryPush/tryPop')!;
  const targets = [
    { target: 'SPSC batched >= 30M msg/s', measured: (spscBatch ?? batch0).median, met: (spscBatch ?? batch0).median >= 30e6 },
    { target: 'SPSC single >= 10M msg/s', measured: (spscSingle ?? single0).median, met: (spscSingle ?? single0).median >= 10e6 },
    { target: 'spin round trip p50 <= 1 µs', measured: spinRtt.median, met: spinRtt.median <= 1000 },
    {
      target: '>= 50x postMessage throughput (single)',
      measured: (spscSingle ?? single0).median / portSingle.median,
      met: (spscSingle ?? single0).median / portSingle.median >= 50,
    },
    {
      target: '>= 50x postMessage throughput (queue batches vs one message per post)',
      measured: (spscBatch ?? batch0).median / portSingle.median,
      met: (spscBatch ?? batch0).median / portSingle.median >= 50,
    },
    {
      target: '>= 50x postMessage throughput (batched vs batched posts)',
      measured: (spscBatch ?? batch0).median / portBatch.median,
      met: (spscBatch ?? batch0).median / portBatch.median >= 50,
    },
  ];
  console.log('\n-- targets');
  for (const t of targets) {
    const shown = t.target.startsWith('>= 50x') ? formatRatio(t.measured) : t.target.includes('µs') ? formatNs(t.measured) : formatRate(t.measured, 'msg/s');
    console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target.padEnd(70)} measured ${shown}`);
  }
  const figures: Figure[] = records.map((r) => ({ group: r.group, name: r.name, unit: r.unit, median: r.median, p99: r.p99 }));
  return { figures, crossThread: records, targets };
}

export default defineSuite({
  name: 'queue',
  description: 'SpscQueue/MpmcQueue: TS vs native per operation, and across worker threads vs MessagePort',
  timeMs: 1000,
  warmupMs: 250,
  groups: [
    {
      name: 'spsc-op',
      description: 'one tryPush + one tryPop of 64 bytes on an SPSC queue, one thread: the default-path choice',
      tasks: opTasks('spsc'),
    },
    {
      name: 'mpmc-op',
      description: 'one tryPush + one tryPop of 64 bytes on an MPMC queue, one thread',
      tasks: opTasks('mpmc'),
    },
    {
      name: 'spsc-op-4k',
      description: 'one tryPush + one tryPop of 4 KiB (slots above 1 KiB): where the default pop turns native',
      tasks: largeTasks(),
    },
    {
      name: 'spsc-batch',
      description: 'pushBatch + popBatch of 64 x 64-byte messages (ns per batch of 64), one thread',
      tasks: batchTasks('spsc'),
    },
    {
      name: 'mpmc-batch',
      description: 'pushBatch + popBatch of 64 x 64-byte messages (ns per batch of 64), one thread',
      tasks: batchTasks('mpmc'),
    },
  ],
  extras: crossThread,
});
