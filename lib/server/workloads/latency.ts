/**
 * The named built-in workloads `latency/benchmark-function` may time (never user code). A
 * request names one of `kBenchmarkNames`; nothing else can run. Each workload builds its
 * own state from the library (books, queues, pools...) inside the thread that runs the job,
 * so it touches no server state and its input and result are plain data.
 */
import { L1Cache } from '../../cache/index.js';
import { ObjectPool, SlabAllocator } from '../../memory/index.js';
import { LatencyHistogram, MicrosecondTimer } from '../../monitor/index.js';
import { MatchingEngine, OrderBook, type OrderRequest } from '../../orderbook/index.js';
import { SpscQueue } from '../../queue/index.js';
import { calculateVaRSync, philoxNormals, simulateGBMSync } from '../../risk/index.js';
import type { Workload } from './index.js';

/** Which implementation a benchmark asks for; 'auto' is what the library would pick. */
export type BenchmarkBackend = 'auto' | 'native' | 'ts';

export interface BenchmarkInput {
  workload: BenchmarkName;
  /** Timed operations (the route has checked them against the workload's cap). */
  iterations: number;
  /** Untimed operations first, so the JIT has optimised the loop. */
  warmup: number;
  /** Operations per clock reading: each sample is the batch's time / batchSize. */
  batchSize: number;
  backend: BenchmarkBackend;
  /** Stop timing after this long (ms) and report the iterations done (`truncated`). */
  maxMs: number;
}

export interface BenchmarkResult {
  workload: BenchmarkName;
  description: string;
  /** Every latency below is in nanoseconds per operation. */
  unit: 'ns';
  iterations: number;
  requestedIterations: number;
  warmup: number;
  batchSize: number;
  /** Clock readings taken (iterations / batchSize). */
  samples: number;
  truncated: boolean;
  /** The implementation that ran ('ts' for workloads that have only one). */
  backend: 'native' | 'ts';
  /** MicrosecondTimer's calibrated start/stop cost, subtracted from every sample. */
  timerOverheadNs: number;
  latencyNs: { min: number; mean: number; p50: number; p90: number; p99: number; p999: number; max: number };
  /** Operations per second over the timed time only. */
  opsPerSec: number;
  /** Wall time of the job, setup and warm-up included, ms. */
  totalMs: number;
}

interface Bench {
  backend: 'native' | 'ts';
  /** Runs operations [from, from + count). */
  run(from: number, count: number): void;
}

interface BenchmarkSpec {
  description: string;
  /** Cost of one operation relative to an order-book update: its cap is maxBenchmarkIterations / cost. */
  cost: number;
  /** Whether the workload has a native implementation (else 'native' is refused). */
  native: boolean;
  setup(backend: BenchmarkBackend): Bench;
}

/** Standard normals from the library's Philox generator: every run times the same inputs. */
function normals(n: number, seed: number): Float64Array {
  const z = new Float64Array(n);
  philoxNormals(z, { seed });
  return z;
}

function normalReturns(n: number, seed: number): Float64Array {
  const z = normals(n, seed);
  for (let i = 0; i < n; i++) z[i] = 0.0005 + 0.02 * z[i]!;
  return z;
}

const kMask = 4095;

const kSpecs = {
  noop: {
    description: 'an empty loop body: the floor under every other number (clock reading and loop)',
    cost: 1,
    native: false,
    setup: () => ({ backend: 'ts', run: (from, count) => { for (let i = from; i < from + count; i++); } }),
  },
  'orderbook-update': {
    description: 'OrderBook (L2) updateBid/updateAsk on 200 levels a side around 100.00 (tick 0.01), most near the touch, 1 in 8 removing its level',
    cost: 1,
    native: true,
    setup: (backend) => {
      const book = new OrderBook({ symbol: 'BENCH', tickSize: 0.01, lotSize: 1, backend });
      const z = normals(3 * (kMask + 1), 1);
      const price = new Float64Array(kMask + 1);
      const size = new Float64Array(kMask + 1);
      const ask = new Uint8Array(kMask + 1);
      for (let i = 0; i <= kMask; i++) {
        ask[i] = i & 1;
        // |z| * 60 puts most updates near the touch, as a feed does; z > 1.15 (12.5%) removes.
        const level = Math.floor(Math.abs(z[3 * i]!) * 60) % 200;
        price[i] = (ask[i] === 1 ? 10_001 + level : 10_000 - level) / 100;
        size[i] = z[3 * i + 1]! > 1.15 ? 0 : 1 + Math.floor(Math.abs(z[3 * i + 2]!) * 200);
      }
      return {
        backend: book.backend,
        run: (from, count) => {
          for (let i = from; i < from + count; i++) {
            const j = i & kMask;
            if (ask[j] === 1) book.updateAsk(price[j]!, size[j]!);
            else book.updateBid(price[j]!, size[j]!);
          }
        },
      };
    },
  },
  matching: {
    description: 'MatchingEngine (L3) submit: a resting sell at 100.00 then a buy that crosses and fills it, over 50 levels a side of resting depth',
    cost: 2,
    native: true,
    setup: (backend) => {
      const engine = new MatchingEngine({ symbol: 'BENCH', tickSize: 0.01, lotSize: 1, backend });
      for (let l = 1; l <= 50; l++) {
        engine.submit({ side: 'buy', price: (9_950 - l) / 100, quantity: 10 });
        engine.submit({ side: 'sell', price: (10_050 + l) / 100, quantity: 10 });
      }
      const sell: OrderRequest = { side: 'sell', price: 100, quantity: 1 };
      const buy: OrderRequest = { side: 'buy', price: 100, quantity: 1 };
      return {
        backend: engine.backend,
        run: (from, count) => {
          for (let i = from; i < from + count; i++) engine.submit((i & 1) === 0 ? sell : buy);
        },
      };
    },
  },
  'var-historical': {
    description: 'calculateVaRSync, historical method, 99%, on 10,000 returns',
    cost: 500,
    native: true,
    setup: (backend) => {
      const returns = normalReturns(10_000, 2);
      const first = calculateVaRSync(returns, { confidence: 0.99, method: 'historical', backend });
      return {
        backend: first.backend === 'native' ? 'native' : 'ts',
        run: (from, count) => {
          for (let i = from; i < from + count; i++) calculateVaRSync(returns, { confidence: 0.99, method: 'historical', backend });
        },
      };
    },
  },
  gbm: {
    description: 'simulateGBMSync: 1,024 paths x 16 steps (Philox normals), terminal VaR and CVaR',
    cost: 2000,
    native: true,
    setup: (backend) => {
      const options = { spot: 100, drift: 0.05, volatility: 0.2, steps: 16, paths: 1024, seed: 7, backend };
      const first = simulateGBMSync(options);
      return {
        backend: first.backend === 'native' ? 'native' : 'ts',
        run: (from, count) => {
          for (let i = from; i < from + count; i++) simulateGBMSync(options);
        },
      };
    },
  },
  'queue-round-trip': {
    description: 'SpscQueue (SharedArrayBuffer, 1,024 slots of 64 bytes): tryPush then tryPop of a 64-byte message on one thread',
    cost: 1,
    native: true,
    setup: (backend) => {
      const queue = SpscQueue.create({ capacity: 1024, slotBytes: 64, backend });
      const message = new Uint8Array(64).fill(7);
      const out = new Uint8Array(64);
      return {
        backend: queue.paths.tryPush,
        run: (from, count) => {
          for (let i = from; i < from + count; i++) {
            queue.tryPush(message);
            queue.tryPop(out);
          }
        },
      };
    },
  },
  'pool-acquire-release': {
    description: 'ObjectPool of order objects ({ id, price, qty }): acquire() then release() with a reset',
    cost: 1,
    native: false,
    setup: () => {
      const pool = new ObjectPool({
        create: () => ({ id: 0, price: 0, qty: 0 }),
        reset: (o) => {
          o.id = 0;
          o.price = 0;
          o.qty = 0;
        },
        initialSize: 64,
      });
      return {
        backend: 'ts',
        run: (from, count) => {
          for (let i = from; i < from + count; i++) {
            const o = pool.acquire();
            o.id = i;
            pool.release(o);
          }
        },
      };
    },
  },
  'slab-alloc-free': {
    description: 'SlabAllocator (1,024 slots of 64 bytes): alloc() then free()',
    cost: 1,
    // The allocators have no native backend from JS (docs/memory-layout.md).
    native: false,
    setup: () => {
      const slab = new SlabAllocator({ slotBytes: 64, slots: 1024 });
      return {
        backend: slab.backend,
        run: (from, count) => {
          for (let i = from; i < from + count; i++) slab.free(slab.alloc());
        },
      };
    },
  },
  'cache-l1-get': {
    description: 'L1Cache (W-TinyLFU, 1,000 entries) get() of a present key',
    cost: 1,
    native: false,
    setup: () => {
      const cache = new L1Cache<number>({ maxEntries: 1000 });
      const keys: string[] = [];
      for (let i = 0; i < 1000; i++) {
        keys.push(`key-${i}`);
        cache.set(keys[i]!, i);
      }
      return {
        backend: 'ts',
        run: (from, count) => {
          for (let i = from; i < from + count; i++) cache.get(keys[i % 1000]!);
        },
      };
    },
  },
} satisfies Record<string, BenchmarkSpec>;

export type BenchmarkName = keyof typeof kSpecs;

/** Every workload `benchmark-function` accepts, in the order the API lists them. */
export const kBenchmarkNames = Object.freeze(Object.keys(kSpecs)) as readonly BenchmarkName[];

/** What the API shows of each workload: its description, cost and whether it has a native implementation. */
export function benchmarkCatalog(maxIterations: number): { name: BenchmarkName; description: string; maxIterations: number; native: boolean }[] {
  return kBenchmarkNames.map((name) => {
    const spec: BenchmarkSpec = kSpecs[name];
    return { name, description: spec.description, maxIterations: benchmarkIterationCap(name, maxIterations), native: spec.native };
  });
}

/** The most iterations `name` may run: the server's cap divided by the workload's cost. */
export function benchmarkIterationCap(name: BenchmarkName, maxIterations: number): number {
  return Math.max(1, Math.floor(maxIterations / (kSpecs[name] as BenchmarkSpec).cost));
}

/** Whether `name` can run on `backend` ('native' needs a native implementation). */
export function benchmarkSupports(name: BenchmarkName, backend: BenchmarkBackend): boolean {
  return backend !== 'native' || (kSpecs[name] as BenchmarkSpec).native;
}

/**
 * Times `input.iterations` operations of a named workload, `batchSize` per clock reading,
 * after `warmup` untimed ones, and stops early at `maxMs`.
 */
export function runBenchmark(input: BenchmarkInput): BenchmarkResult {
  const started = performance.now();
  const spec: BenchmarkSpec | undefined = Object.hasOwn(kSpecs, input.workload) ? kSpecs[input.workload] : undefined;
  if (spec === undefined) throw new RangeError(`Expected one of ${kBenchmarkNames.join(', ')} for workload but received ${JSON.stringify(input.workload)}`);
  const bench = spec.setup(input.backend);
  const timer = new MicrosecondTimer();
  const batch = Math.max(1, input.batchSize);
  const deadline = started + input.maxMs;
  for (let done = 0; done < input.warmup && performance.now() < deadline; done += batch) bench.run(done, Math.min(batch, input.warmup - done));
  const histogram = new LatencyHistogram({ highestTrackableValue: 60e9, significantFigures: 3 });
  let timedNs = 0;
  let done = 0;
  let samples = 0;
  while (done < input.iterations) {
    const count = Math.min(batch, input.iterations - done);
    timer.start();
    bench.run(done, count);
    const ns = timer.stopNs();
    timedNs += ns;
    histogram.recordWithCount(Math.round(ns / count), count);
    done += count;
    samples++;
    // One clock read per 64 samples keeps the deadline check out of the timed path's cost.
    if ((samples & 63) === 0 && performance.now() > deadline) break;
  }
  const summary = histogram.summary();
  return {
    workload: input.workload,
    description: spec.description,
    unit: 'ns',
    iterations: done,
    requestedIterations: input.iterations,
    warmup: input.warmup,
    batchSize: batch,
    samples,
    truncated: done < input.iterations,
    backend: bench.backend,
    timerOverheadNs: MicrosecondTimer.overheadNs,
    latencyNs: {
      min: histogram.min,
      mean: summary.mean,
      p50: summary.p50,
      p90: histogram.percentile(90),
      p99: summary.p99,
      p999: summary.p999,
      max: summary.max,
    },
    opsPerSec: timedNs > 0 ? (done * 1e9) / timedNs : 0,
    totalMs: performance.now() - started,
  };
}

/** Mean, p50, p99 (nearest rank) and max of `count` timings in ns, for the routes that time calls one by one. */
export function summarizeNs(ns: Float64Array, count = ns.length): { meanNs: number; p50Ns: number; p99Ns: number; maxNs: number; totalNs: number } {
  if (count === 0) return { meanNs: 0, p50Ns: 0, p99Ns: 0, maxNs: 0, totalNs: 0 };
  const sorted = ns.slice(0, count).sort();
  let total = 0;
  for (const v of sorted) total += v;
  const at = (p: number) => sorted[Math.min(count - 1, Math.ceil((p / 100) * count) - 1)]!;
  return { meanNs: total / count, p50Ns: at(50), p99Ns: at(99), maxNs: sorted[count - 1]!, totalNs: total };
}

export const latencyWorkloads: Record<string, Workload> = {
  'benchmark-function': runBenchmark as Workload,
};
