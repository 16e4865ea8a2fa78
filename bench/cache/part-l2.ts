/**
 * L2's part of `npm run bench -- cache`: SharedCache get and set of a ~100-byte msgpack value
 * (a nine-field quote object, 97-99 bytes)
 * (decode included) in this thread, on the TS kernel and through the C++ core (what decides
 * `kL2DefaultPaths`), and get/set from another thread: a worker_thread attached to the cache
 * this thread filled reads 1,000 keys in a Zipf(0.99) order. The worker times batches of 100
 * calls; median and p99 are of those batch means (as bench/lib/suite.ts batch mode). The
 * seed's claim (L2 18.5 µs) is printed beside it. This file is also the worker's script.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { cpuAddon } from '../../lib/backend.js';
import { SharedCache } from '../../lib/cache/l2.js';
import type { CacheEntry } from '../../lib/cache/types.js';
import { msgpackCodec } from '../../lib/net/codec.js';
import { formatNs, table } from '../lib/format.mjs';
import { loadNote } from '../lib/machine.js';
import type { Figure } from '../lib/suite.js';
import type { CacheBenchPart } from './index.js';

const kKeys = 1000;
const kSeedClaimNs = 18_500;
const kBatch = 100;
const native = cpuAddon !== null && typeof cpuAddon.cacheGet === 'function';

/** A quote of 97-99 bytes once msgpack-encoded (nine fields). */
function quote(i: number): Record<string, unknown> {
  return { sym: `SYM${i}`, bid: 189.51 + i, ask: 189.53 + i, bidSize: 300, askSize: 200, ts: 1_700_000_000_000 + i, venue: 'XNAS', seq: 1234567 + i, cond: 'R' };
}
const entry = (i: number): CacheEntry<Record<string, unknown>> => ({ value: quote(i), expiresAt: Infinity, staleUntil: Infinity, version: i });

/** 65,536 key indices in Zipf(0.99) order over kKeys keys (inverse CDF, seeded). */
function zipfOrder(): Uint16Array {
  const weights = Array.from({ length: kKeys }, (_, i) => 1 / (i + 1) ** 0.99);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf = new Float64Array(kKeys);
  let acc = 0;
  weights.forEach((w, i) => (cdf[i] = acc += w / total));
  let x = 0x2545f491;
  const out = new Uint16Array(65536);
  for (let j = 0; j < out.length; j++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const u = (x >>> 0) / 2 ** 32;
    let lo = 0;
    let hi = kKeys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out[j] = lo;
  }
  return out;
}

const keys = Array.from({ length: kKeys }, (_, i) => `quote:${i}`);

function filled(backend: 'ts' | 'native'): SharedCache<Record<string, unknown>> {
  const c = SharedCache.create<Record<string, unknown>>({ maxEntries: 10_000, backend });
  for (let i = 0; i < kKeys; i++) c.setEntry(keys[i]!, entry(i));
  return c;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface ThreadResult {
  op: string;
  backend: string;
  medianNs: number;
  p99Ns: number;
  samples: number;
}

/** Worker side: attach, warm up, time batches of kBatch gets (or sets), reply with median and p99. */
function runWorker(): void {
  const { buffer, backend, op, samples } = workerData as { buffer: SharedArrayBuffer; backend: 'ts' | 'native'; op: 'get' | 'set'; samples: number };
  const c = SharedCache.attach<Record<string, unknown>>(buffer, { backend });
  const order = zipfOrder();
  const values = Array.from({ length: kKeys }, (_, i) => entry(i));
  let j = 0;
  let sink = 0;
  const one = op === 'get'
    ? () => {
        const e = c.getEntry(keys[order[j++ & 65535]!]!);
        sink += e === undefined ? 0 : 1;
      }
    : () => {
        const i = order[j++ & 65535]!;
        c.setEntry(keys[i]!, values[i]!);
      };
  for (let i = 0; i < 200_000; i++) one();
  const ns: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < kBatch; i++) one();
    ns.push(((performance.now() - t0) * 1e6) / kBatch);
  }
  ns.sort((a, b) => a - b);
  const result: ThreadResult & { sink: number } = { op, backend, medianNs: quantile(ns, 0.5), p99Ns: quantile(ns, 0.99), samples, sink };
  parentPort!.postMessage(result);
}

async function fromAnotherThread(backend: 'ts' | 'native', op: 'get' | 'set', samples: number): Promise<ThreadResult> {
  const c = filled(backend);
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const w = new Worker(bootstrap, { eval: true, workerData: { l2Bench: true, buffer: c.buffer, backend, op, samples } });
  try {
    return await new Promise<ThreadResult>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`L2 bench worker exited with ${code}`)));
    });
  } finally {
    await w.terminate();
  }
}

if (!isMainThread && (workerData as { l2Bench?: boolean } | undefined)?.l2Bench === true) runWorker();

const quick = process.argv.includes('--quick');
const order = zipfOrder();

function getTask(backend: 'ts' | 'native') {
  let c: SharedCache<Record<string, unknown>> | undefined;
  let j = 0;
  return {
    name: `L2 getEntry 100-byte msgpack value, this thread (${backend})`,
    skip: backend === 'native' && !native ? 'the CPU addon (cache bindings) is not loaded' : undefined,
    beforeAll: () => {
      c = filled(backend);
    },
    fn: () => c!.getEntry(keys[order[j++ & 65535]!]!),
    ...(backend === 'ts' ? { target: { maxNs: 300 } } : {}),
  };
}

function setTask(backend: 'ts' | 'native') {
  let c: SharedCache<Record<string, unknown>> | undefined;
  const values = Array.from({ length: kKeys }, (_, i) => entry(i));
  let j = 0;
  return {
    name: `L2 setEntry 100-byte msgpack value, this thread (${backend})`,
    skip: backend === 'native' && !native ? 'the CPU addon (cache bindings) is not loaded' : undefined,
    beforeAll: () => {
      c = filled(backend);
    },
    fn: () => {
      const i = order[j++ & 65535]!;
      c!.setEntry(keys[i]!, values[i]!);
    },
  };
}

export const part: CacheBenchPart = {
  name: 'l2',
  groups: [
    {
      name: 'L2 shared memory',
      description: 'SharedCache get/set of a ~100-byte msgpack quote over 1,000 keys in Zipf(0.99) order, TS kernel vs the C++ core',
      tasks: [getTask('ts'), getTask('native'), setTask('ts'), setTask('native')],
    },
  ],
  extras: async () => {
    const samples = quick ? 2000 : 20_000;
    const runs: ThreadResult[] = [];
    for (const backend of native ? (['ts', 'native'] as const) : (['ts'] as const)) {
      for (const op of ['get', 'set'] as const) runs.push(await fromAnotherThread(backend, op, samples));
    }
    const rows = runs.map((r) => [`${r.op} from a worker (${r.backend})`, formatNs(r.medianNs), formatNs(r.p99Ns), r.op === 'get' ? formatNs(kSeedClaimNs) : '', String(r.samples)]);
    console.log(`\nL2 from another thread: batches of ${kBatch} calls, 1,000 keys, Zipf(0.99); ${loadNote()}`);
    console.log(table(['operation', 'median', 'p99 (batch means)', "seed's claim", 'batches'], rows));
    const figures: Figure[] = runs.map((r) => ({ group: 'L2 shared memory', name: `${r.op} from another thread (${r.backend})`, unit: 'ns', median: r.medianNs, p99: r.p99Ns }));
    return { figures, fromAnotherThread: runs, seedClaimNs: kSeedClaimNs, targetNs: 300, valueBytes: msgpackCodec().encode(quote(0)) };
  },
};
