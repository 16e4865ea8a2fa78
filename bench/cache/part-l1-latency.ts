/**
 * L1 latency (issue 16): get and set, median and p99 ns/op, on a Zipf(0.99) stream of get +
 * set-on-miss at 1,000 and 10,000 entries, for our `L1Cache` beside lru-cache, mnemonist
 * (`LRUCache`, `LRUMap`) and bentocache (memory driver only, through its `get`/`set` API, which
 * returns promises: each operation is awaited, so its figures include a microtask turn), in the
 * same round-robin. The seed's claim (L1 2.3 µs, SEED.md) is printed beside them.
 *
 * Workload: keys `key:0 … key:(10 × entries − 1)`, drawn Zipf(0.99) (most popular first) into a
 * stream of 2^20 requests, the same stream for every cache; each task walks it from its own
 * cursor. Groups:
 * - `get+set`: one request = `get`, then `set` when it missed (what the hit-ratio bench does).
 * - `get`: `get` alone on a cache warmed by one pass of get+set (hits and misses as the stream
 *   gives them; the policy still updates on every hit).
 * - `set`: `set` of the next stream key (an update or an insert that evicts).
 * Batch mode, 128 calls per batch (median of batch means; p99 = p99 of batch means, see
 * bench/lib/suite.ts); the
 * `per call` groups time single calls of our get and set and lru-cache's, for their tails.
 */
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { LRUCache } from 'lru-cache';
import { LRUCache as MnemonistLRUCache, LRUMap as MnemonistLRUMap } from 'mnemonist';

import { L1Cache } from '../../lib/cache/l1.js';
import { seeded } from '../../test/fixtures/seeded.js';
import { formatNs, table } from '../lib/format.mjs';
import type { Figure, GroupSpec, TaskSpec } from '../lib/suite.js';
import type { CacheBenchPart } from './index.js';

/** SEED.md: "L1 CPU | 95.2% | 2.3μs | 1,000 entries". */
export const kSeedL1AccessNs = 2300;
const kStreamBits = 20;
const kMask = (1 << kStreamBits) - 1;
const kSizes = [1000, 10_000];
const kTargetGetNs: Record<number, number> = { 1000: 60, 10_000: 100 };
/** Fixed, so every peer's batch mean covers the same number of calls (auto-calibration on a loaded 2-core box picked 1 for some). */
const kBatch = 128;

/** `count` draws from Zipf(s) over ranks 0..n-1 (0 most popular), by inverse CDF. */
export function zipfStream(n: number, s: number, count: number, seed = 16): Int32Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s;
    cdf[i] = sum;
  }
  const u = seeded(seed);
  const out = new Int32Array(count);
  for (let j = 0; j < count; j++) {
    const x = u() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    out[j] = lo;
  }
  return out;
}

interface SyncCache {
  get(k: string): unknown;
  set(k: string, v: number): unknown;
}

type Maker = (entries: number) => SyncCache;

const syncPeers: [string, Maker][] = [
  ['L1Cache (ours)', (n) => new L1Cache<number>({ maxEntries: n })],
  ['lru-cache', (n) => new LRUCache<string, number>({ max: n })],
  ['mnemonist LRUCache', (n) => new MnemonistLRUCache<string, number>(n)],
  ['mnemonist LRUMap', (n) => new MnemonistLRUMap<string, number>(n)],
];

function bento(entries: number): BentoCache<{ mem: ReturnType<typeof bentostore> }> {
  return new BentoCache({ default: 'mem', stores: { mem: bentostore().useL1Layer(memoryDriver({ maxItems: entries })) } });
}

function warm(cache: SyncCache, stream: readonly string[]): void {
  for (let i = 0; i < stream.length; i++) if (cache.get(stream[i]!) === undefined) cache.set(stream[i]!, i);
}

function groupsFor(entries: number): GroupSpec[] {
  let stream: string[] = [];
  const ensureStream = (): void => {
    if (stream.length > 0) return;
    const keys = Array.from({ length: 10 * entries }, (_, i) => `key:${i}`);
    stream = Array.from(zipfStream(keys.length, 0.99, 1 << kStreamBits), (r) => keys[r]!);
  };
  const tag = `${entries / 1000}k entries`;
  const mixed: TaskSpec[] = [];
  const gets: TaskSpec[] = [];
  const sets: TaskSpec[] = [];
  const perCall: TaskSpec[] = [];
  for (const [name, make] of syncPeers) {
    const ours = name.startsWith('L1Cache');
    {
      let c: SyncCache;
      let i = 0;
      mixed.push({
        name: `get+set ${tag}: ${name}`,
        batch: kBatch,
        beforeAll: () => {
          ensureStream();
          c = make(entries);
        },
        fn: () => {
          const k = stream[i++ & kMask]!;
          const v = c.get(k);
          if (v === undefined) c.set(k, i);
          return v;
        },
      });
    }
    {
      let c: SyncCache;
      let i = 0;
      gets.push({
        name: `get ${tag}: ${name}`,
        batch: kBatch,
        beforeAll: () => {
          ensureStream();
          c = make(entries);
          warm(c, stream);
        },
        fn: () => c.get(stream[i++ & kMask]!),
        target: ours ? { maxNs: kTargetGetNs[entries] } : undefined,
      });
    }
    {
      let c: SyncCache;
      let i = 0;
      sets.push({
        name: `set ${tag}: ${name}`,
        batch: kBatch,
        beforeAll: () => {
          ensureStream();
          c = make(entries);
          warm(c, stream);
        },
        fn: () => c.set(stream[i++ & kMask]!, i),
      });
    }
    if (ours || name === 'lru-cache') {
      let c: SyncCache;
      let i = 0;
      let j = 0;
      perCall.push(
        {
          name: `get per call ${tag}: ${name}`,
          mode: 'per-call',
          beforeAll: () => {
            ensureStream();
            c = make(entries);
            warm(c, stream);
          },
          fn: () => c.get(stream[i++ & kMask]!),
        },
        { name: `set per call ${tag}: ${name}`, mode: 'per-call', fn: () => c.set(stream[j++ & kMask]!, j) },
      );
    }
  }
  {
    let b: ReturnType<typeof bento>;
    let i = 0;
    mixed.push({
      name: `get+set ${tag}: bentocache (memory, awaited)`,
      mode: 'async',
      beforeAll: () => {
        ensureStream();
        b = bento(entries);
      },
      fn: async () => {
        const k = stream[i++ & kMask]!;
        const v = await b.get({ key: k });
        if (v === undefined) await b.set({ key: k, value: i });
        return v;
      },
    });
    let g: ReturnType<typeof bento>;
    let gi = 0;
    gets.push({
      name: `get ${tag}: bentocache (memory, awaited)`,
      mode: 'async',
      beforeAll: () => {
        ensureStream();
        g = bento(entries);
      },
      fn: async () => g.get({ key: stream[gi++ & kMask]! }),
    });
    sets.push({
      name: `set ${tag}: bentocache (memory, awaited)`,
      mode: 'async',
      fn: async () => g.set({ key: stream[gi++ & kMask]!, value: gi }),
    });
  }
  const what = `Zipf(0.99) over ${10 * entries} keys, ${entries} entries`;
  return [
    { name: `l1 get+set-on-miss ${tag}`, description: `one request = get, then set on a miss; ${what}`, tasks: mixed },
    { name: `l1 get ${tag}`, description: `get on a warmed cache; ${what}`, tasks: gets },
    { name: `l1 set ${tag}`, description: `set (update, or insert + evict); ${what}`, tasks: sets },
    { name: `l1 per call ${tag}`, description: `single calls timed alone, for the tail; ${what}`, tasks: perCall },
  ];
}

export const part: CacheBenchPart = {
  name: 'l1-latency',
  groups: kSizes.flatMap(groupsFor),
  extras: async () => {
    console.log('\n  seed claim beside the L1 figures above (SEED.md "L1 CPU | 95.2% | 2.3μs | 1,000 entries")');
    console.log(table(['what', 'access time'], [['seed L1 (1,000 entries)', formatNs(kSeedL1AccessNs)]]));
    const figures: Figure[] = [];
    return { figures, seedL1AccessNs: kSeedL1AccessNs };
  },
};
