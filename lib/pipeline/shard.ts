/**
 * Several symbols over worker_threads (docs/pipeline.md "Running the pipeline", sharding).
 * The main thread reads every source, decodes each record (the market-data stage) and routes
 * its events to the worker that owns the symbol through an SpscQueue (lib/queue), in batches
 * of fixed-size messages; each worker runs book → signal → risk → venue for its symbols with
 * the very stage functions runPipeline uses (lib/pipeline/run.ts stepRecord). Symbol i goes to
 * worker i mod threads, so per-symbol results equal a single-threaded run's whenever the risk
 * limits are per symbol: a RiskGate's portfolio rules (gross exposure, VaR, the order-rate
 * throttle) apply per worker, over that worker's symbols, here.
 *
 * Throughput = events over the wall time from the first record routed to the last worker
 * done. With `pin`, worker w is pinned to core (w + 1) mod cores and the main thread to core 0
 * for the run (its cores are given back after), through lib/system/affinity.ts, where the OS
 * allows it. Built for more cores than this machine
 * has: with more threads than idle cores the figures show the contention, not the design.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { UltraPerfError, invalidRange, invalidType, withCode } from '../errors.js';
import { defineOptions, readOptions } from '../internal/options.js';
import { nowNs } from '../monitor/clock.js';
import { SpscQueue } from '../queue/spsc.js';
import { getThreadAffinity, setThreadAffinity } from '../system/affinity.js';
import { kEventStride, type MarketDataSource } from './events.js';
import type { ThreadPoint } from './report-data.js';
import type { RiskGateOptions } from './risk-gate.js';
import { kPipelineVenueSchema, type SymbolResult, tradingOf } from './run.js';
import type { QuoteAroundMidOptions } from './strategy.js';
import type { FillModel } from './venue.js';

export interface ShardedOptions {
  /** One source per symbol (names must differ). */
  sources: readonly MarketDataSource[];
  backend: 'native' | 'ts';
  /** Worker threads (>= 1). */
  threads: number;
  /** quoteAroundMid's options for every symbol (workers build their strategies from data). */
  strategy?: QuoteAroundMidOptions;
  /**
   * A module (URL or absolute path) whose `makeStrategy(symbol, index)` export makes each
   * symbol's strategy in the worker, instead of quoteAroundMid.
   */
  makeStrategyFrom?: string;
  /** RiskGate options; each worker builds a gate over its own symbols (the ones listed here). */
  risk?: RiskGateOptions | null;
  venue?: { fillModel?: FillModel; feedLatencyNs?: number; orderLatencyNs?: number; maxOrders?: number };
  /** Records of each source (default all). */
  records?: number;
  /** Messages per queue batch, 1 to 4096 (default 64). */
  batch?: number;
  /** Queue capacity in messages, a power of two (default 4096). */
  capacity?: number;
  /** Pin threads to cores (default false). */
  pin?: boolean;
}

export interface ShardedResult {
  threads: number;
  symbols: SymbolResult[];
  records: number;
  events: number;
  elapsedNs: number;
  eventsPerSecond: number;
  recordsPerSecond: number;
  /** Whether pinning was asked for and applied on every thread. */
  pinned: boolean;
  trading: ReturnType<typeof tradingOf>;
}

/** What a worker gets (lib/pipeline/shard-worker.ts). */
export interface ShardWorkerData {
  queue: SharedArrayBuffer;
  backend: 'native' | 'ts';
  symbols: { symbol: string; tickSize: number; lotSize: number; length: number; maxEventsPerRecord: number; initial: Float64Array; index: number }[];
  /** Doubles per message: one event-sized header (lane, record, event count) and the events. */
  messageDoubles: number;
  strategy?: QuoteAroundMidOptions;
  makeStrategyFrom?: string;
  risk: RiskGateOptions | null;
  venue: NonNullable<ShardedOptions['venue']>;
  /** Core to pin to, or -1. */
  core: number;
}

/** What a worker posts when done. */
export interface ShardWorkerReply {
  symbols: SymbolResult[];
  pinned: boolean;
  error?: string;
}

const kShardKeys = ['sources', 'backend', 'strategy', 'makeStrategyFrom', 'risk', 'venue', 'records', 'batch', 'capacity', 'pin'];
const checked = (k: string) => [k, { check: null, checkedBy: 'runSharded' }] as const;
/** Strict keys for runSharded and threadSweep; values checked in runSharded (strategy by quoteAroundMid, risk by RiskGate, in the workers). */
const kShardSchema = defineOptions('runSharded', Object.fromEntries([...kShardKeys, 'threads'].map(checked)));
const kSweepSchema = defineOptions('threadSweep', Object.fromEntries([...kShardKeys, 'threads', 'runs'].map(checked)));

let workerEntry: URL | undefined;

/**
 * The worker's entry next to this module (as replay.ts finds its worker): from source (tsx,
 * vitest) shard-worker-source.mjs, which registers tsx first; in the package the tsup entry
 * dist/pipeline-worker.js (.cjs).
 */
function shardWorkerEntry(): URL {
  if (workerEntry !== undefined) return workerEntry;
  const here = import.meta.url;
  const name = here.endsWith('.ts') ? './shard-worker-source.mjs' : here.endsWith('.cjs') ? './pipeline-worker.cjs' : './pipeline-worker.js';
  const entry = new URL(name, here);
  if (!existsSync(entry)) {
    throw new UltraPerfError('ERR_ULTRA_PERF_PIPELINE', `runSharded's worker needs ${fileURLToPath(entry)}, which is missing: copy it from ultra-performance's dist/ when bundling`);
  }
  workerEntry = entry;
  return entry;
}

/** Most messages per queue batch (each main-thread batch buffer is batch × message bytes per worker). */
const kMaxBatch = 4096;

function reply(worker: Worker): Promise<ShardWorkerReply> {
  return new Promise((resolve, reject) => {
    worker.once('message', (m: ShardWorkerReply) => (m.error !== undefined ? reject(new UltraPerfError('ERR_ULTRA_PERF_PIPELINE', `shard worker: ${m.error}`)) : resolve(m)));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new UltraPerfError('ERR_ULTRA_PERF_PIPELINE', `shard worker exited (code ${code}) before it replied`)));
  });
}

/**
 * Runs the pipeline with `threads` workers (see the file comment) and returns per-symbol
 * results, the same shape as runPipeline's, and events per second.
 * @example
 * const r = await runSharded({ sources: [aapl, goog], backend: 'native', threads: 2 });
 * r.eventsPerSecond;
 */
export async function runSharded(options: ShardedOptions): Promise<ShardedResult> {
  readOptions(kShardSchema, options, { required: true, what: 'an object of runSharded options' });
  readOptions(kPipelineVenueSchema, options.venue, { argument: 'options.venue', what: 'an object of venue options' });
  const { sources, backend } = options;
  if (!Array.isArray(sources) || sources.length === 0) throw invalidType('options.sources', 'a non-empty array of MarketDataSource', sources);
  if (backend !== 'native' && backend !== 'ts') throw invalidType('options.backend', "'native' or 'ts'", backend);
  const threads = options.threads;
  if (!Number.isInteger(threads) || threads < 1) throw invalidRange('options.threads', 'an integer >= 1', threads);
  const names = new Set(sources.map((s) => s.symbol));
  if (names.size !== sources.length) throw invalidRange('options.sources', 'sources of distinct symbols', [...sources.map((s) => s.symbol)]);
  const batch = options.batch ?? 64;
  if (!Number.isInteger(batch) || batch < 1 || batch > kMaxBatch) throw invalidRange('options.batch', `an integer from 1 to ${kMaxBatch}`, batch);
  const records = options.records;
  if (records !== undefined && !(Number.isInteger(records) && records >= 0)) throw invalidRange('options.records', 'an integer >= 0 (records of each source)', records);
  const capacity = options.capacity ?? 4096;
  if (options.makeStrategyFrom !== undefined && (typeof options.makeStrategyFrom !== 'string' || options.makeStrategyFrom.trim() === '')) {
    throw invalidType('options.makeStrategyFrom', 'a module URL or absolute path exporting makeStrategy(symbol, index)', options.makeStrategyFrom);
  }
  // What the workers receive must survive structuredClone (plain data: no functions, no class
  // instances with behaviour); say which option, not a bare DataCloneError from postMessage.
  for (const key of ['strategy', 'risk', 'venue'] as const) {
    try {
      structuredClone(options[key]);
    } catch (cause) {
      throw withCode(new TypeError(`Expected plain data (numbers, strings, arrays, plain objects) for options.${key}, sent to the worker threads, but it cannot be cloned: ${(cause as Error).message}`, { cause }), 'ERR_INVALID_ARG_VALUE');
    }
  }
  const cores = availableParallelism();
  const pin = options.pin === true;

  const maxEvents = Math.max(...sources.map((s) => s.maxEventsPerRecord));
  const messageDoubles = kEventStride * (1 + maxEvents);
  const slotBytes = 8 * messageDoubles;
  const owners = sources.map((_, i) => i % threads);
  const laneOf = sources.map((_, i) => Math.floor(i / threads));
  const ends = sources.map((s) => (records === undefined ? s.length : Math.min(s.length, records)));

  const queues: SpscQueue[] = [];
  const workers: Worker[] = [];
  const replies: Promise<ShardWorkerReply>[] = [];
  const gone = new Uint8Array(threads);
  const entry = shardWorkerEntry();
  // Set up every queue and worker before the main thread is pinned: a failure here (a bad
  // capacity, options a worker cannot be sent) ends the workers already started and leaves
  // the main thread's cores as they were.
  try {
    for (let w = 0; w < threads; w++) {
      const queue = SpscQueue.create({ capacity, slotBytes });
      queues.push(queue);
      const mine = sources.map((s, i) => ({ s, i })).filter(({ i }) => owners[i] === w);
      const data: ShardWorkerData = {
        queue: queue.buffer,
        backend,
        symbols: mine.map(({ s, i }) => ({
          symbol: s.symbol,
          tickSize: s.tickSize,
          lotSize: s.lotSize,
          length: s.length,
          maxEventsPerRecord: s.maxEventsPerRecord,
          initial: s.initial(),
          index: i,
        })),
        messageDoubles,
        strategy: options.strategy,
        makeStrategyFrom: options.makeStrategyFrom,
        risk: options.risk ?? null,
        venue: options.venue ?? {},
        core: pin ? (w + 1) % cores : -1,
      };
      const worker = new Worker(entry, { workerData: data });
      workers.push(worker);
      // A worker that answers while records are still being routed has failed (a worker stops
      // taking records only when its queue is closed): flush stops waiting on its queue.
      const answer = reply(worker).finally(() => (gone[w] = 1));
      // Handled here too: it may reject while routing awaits, before Promise.all below takes it.
      answer.catch(() => undefined);
      replies.push(answer);
    }
  } catch (err) {
    for (const q of queues) q.close();
    for (const worker of workers) void worker.terminate();
    throw err;
  }

  // Per worker: a batch of messages being filled.
  const buffers = queues.map(() => new Float64Array(batch * messageDoubles));
  const bytes = buffers.map((b) => new Uint8Array(b.buffer));
  const lengths = new Uint32Array(batch).fill(slotBytes);
  const fill = new Int32Array(threads);
  // Pushes worker w's batch; true when all of it went in. A full queue is waited on for a
  // while (50 µs sleeps), then false: the caller lets the event loop run (a failed worker's
  // reply arrives only then) and calls again, so a worker that died cannot hang the main thread.
  const push = (w: number): boolean => {
    const n = fill[w]!;
    for (let waits = 0; done[w]! < n; ) {
      const pushed = queues[w]!.pushBatch(bytes[w]!.subarray(done[w]! * slotBytes), lengths, n - done[w]!);
      done[w]! += pushed;
      if (pushed > 0) waits = 0;
      else if (++waits > 200) return false;
      else Atomics.wait(spinCell, 0, 0, 0.05);
    }
    fill[w] = 0;
    done[w] = 0;
    return true;
  };
  const flush = async (w: number): Promise<void> => {
    while (!push(w)) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (gone[w] === 1) throw new UltraPerfError('ERR_ULTRA_PERF_PIPELINE', `shard worker ${w} stopped taking records`);
    }
  };
  const done = new Int32Array(threads);
  const spinCell = new Int32Array(new SharedArrayBuffer(4));

  let pinned = pin;
  // The main thread's cores before pinning, given back at the end.
  let before: number[] | undefined;
  if (pin) {
    try {
      before = getThreadAffinity();
      setThreadAffinity([0]);
    } catch {
      pinned = false;
    }
  }

  let routed = 0;
  let events = 0;
  const next = new Int32Array(sources.length);
  const t0 = nowNs();
  let failed: unknown;
  try {
    for (let live = true; live; ) {
      live = false;
      for (let i = 0; i < sources.length; i++) {
        const r = next[i]!;
        if (r >= ends[i]!) continue;
        live = true;
        next[i] = r + 1;
        const w = owners[i]!;
        const buf = buffers[w]!;
        const at = fill[w]! * messageDoubles;
        const n = sources[i]!.decode(r, buf, at / kEventStride + 1);
        buf[at] = laneOf[i]!;
        buf[at + 1] = r;
        buf[at + 2] = n;
        routed++;
        events += n;
        fill[w]!++;
        if (fill[w] === batch && !push(w)) await flush(w);
      }
    }
    for (let w = 0; w < threads; w++) await flush(w);
  } catch (err) {
    failed = err;
  } finally {
    for (const q of queues) q.close();
  }
  let answers: ShardWorkerReply[];
  try {
    answers = await Promise.all(replies);
  } finally {
    for (const worker of workers) void worker.terminate();
    if (before !== undefined) setThreadAffinity(before);
  }
  if (failed !== undefined) throw failed;
  const elapsed = nowNs() - t0;
  const symbols: SymbolResult[] = new Array(sources.length);
  for (let w = 0; w < threads; w++) {
    const a = answers[w]!;
    if (!a.pinned && pin && a.symbols.length > 0) pinned = false;
    for (const s of a.symbols) symbols[sources.findIndex((x) => x.symbol === s.symbol)] = s;
  }
  return {
    threads,
    symbols,
    records: routed,
    events,
    elapsedNs: elapsed,
    eventsPerSecond: (events * 1e9) / elapsed,
    recordsPerSecond: (routed * 1e9) / elapsed,
    pinned,
    trading: tradingOf(symbols),
  };
}

/**
 * events/s against worker threads: one sharded run per entry of `threads` (median of `runs`
 * runs each), as the report's ThreadPoint[].
 * @example
 * await threadSweep({ sources, backend: 'native', threads: [1, 2, 4] });
 */
export async function threadSweep(options: Omit<ShardedOptions, 'threads'> & { threads: readonly number[]; runs?: number }): Promise<ThreadPoint[]> {
  readOptions(kSweepSchema, options, { required: true, what: 'an object of threadSweep options' });
  const { threads, runs = 3, ...rest } = options;
  if (!Array.isArray(threads) || threads.length === 0) throw invalidType('options.threads', 'a non-empty array of thread counts', threads);
  if (!Number.isInteger(runs) || runs < 1) throw invalidRange('options.runs', 'an integer >= 1', runs);
  const points: ThreadPoint[] = [];
  for (const t of threads) {
    const rates: number[] = [];
    for (let r = 0; r < runs; r++) rates.push((await runSharded({ ...rest, threads: t })).eventsPerSecond);
    rates.sort((a, b) => a - b);
    points.push({ threads: t, symbols: rest.sources.length, eventsPerSecond: rates[rates.length >> 1]! });
  }
  return points;
}
