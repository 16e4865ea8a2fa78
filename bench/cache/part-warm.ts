/**
 * The warmer's part of `npm run bench -- cache` (issue 16, "Warm restart" and "predictive
 * prefetch"), on real traces:
 *
 * - Warm restart: replay a trace up to a cut point with a `CacheWarmer` recording (the
 *   "before" process), `persist()` it; then, on the next 10,000 requests, compare three
 *   caches: the one that never restarted (steady state), a new empty one (cold start), and a
 *   new one after `restore()` + `warm(maxKeys = capacity)` in a new warmer (warm restart).
 *   Target: warm ≥ 90% of steady.
 * - Predictive prefetch on/off: hit ratio and loader calls (demand misses + prefetches) on
 *   traces whose successors repeat. The prefetch loader completes before the next request
 *   (a loader faster than the gap between requests), which is the best case for prefetch.
 *
 * Each on our L1Cache (W-TinyLFU) and on lru-cache (recency only), the same trace and sizes.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { LRUCache } from 'lru-cache';

import { L1Cache } from '../../lib/cache/l1.js';
import { CacheWarmer, type MetaStore, type SketchSource } from '../../lib/cache/warmer.js';
import { table } from '../lib/format.mjs';
import { currentLoad, loadNote } from '../lib/machine.js';
import type { Figure } from '../lib/suite.js';
import { zipfRanks } from '../../test/fixtures/zipf.js';
import type { CacheBenchPart } from './index.js';
import { readTrace as readCommittedTrace, type TraceFormat } from './traces.js';

const quick = process.argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));

/** Keys of a committed trace (bench/data/cache-traces/, read by bench/cache/traces.ts) as strings. */
function readTrace(name: string): string[] {
  const spec: Record<string, [string, TraceFormat]> = {
    loop: ['lirs/loop.trace.gz', 'lirs'],
    multi2: ['lirs/multi2.trace.gz', 'lirs'],
    sprite: ['lirs/sprite.trace.gz', 'lirs'],
    '2_pools': ['lirs/2_pools.trace.gz', 'lirs'],
    OLTP: ['arc/OLTP.lis.gz', 'arc'],
    web07: ['cache2k/web07.trace.gz', 'cache2k'],
  };
  const [rel, format] = spec[name]!;
  const { ids } = readCommittedTrace(format, join(here, '..', 'data', 'cache-traces', rel));
  const keys = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) keys[i] = String(ids[i]);
  return keys;
}

/** The caches under test: our L1 (W-TinyLFU) and lru-cache as the recency-only reference. */
type CacheKind = 'L1Cache' | 'lru-cache';
interface SimCache {
  get(key: string): string | undefined;
  set(key: string, value: string): unknown;
  has(key: string): boolean;
}
function newCache(kind: CacheKind, capacity: number): SimCache {
  return kind === 'L1Cache' ? new L1Cache<string>({ maxEntries: capacity }) : new LRUCache<string, string>({ max: capacity });
}

function mapStore(): MetaStore {
  const m = new Map<string, Uint8Array>();
  return { putMeta: async (n, b) => void m.set(n, b.slice()), getMeta: (n) => m.get(n) };
}

/** Hits over `keys[from, to)`, setting on a miss; records into `warmer` if given. */
function replay(cache: SimCache, keys: readonly string[], from: number, to: number, warmer?: CacheWarmer): number {
  let hits = 0;
  for (let i = from; i < to; i++) {
    const k = keys[i]!;
    if (cache.get(k) !== undefined) hits++;
    else cache.set(k, k);
    warmer?.recordAccess(k);
  }
  return hits;
}

interface WarmRow {
  cache: CacheKind;
  trace: string;
  capacity: number;
  requests: number;
  cut: number;
  steady: number;
  cold: number;
  warm: number;
  warmOfSteady: number;
  /** With the cache's own hot keys persisted too (L1's `hotKeys()`), loaded first. */
  warmL1: number;
  warmL1OfSteady: number;
  warmedKeys: number;
  warmingTimeMs: number;
  persistedBytes: number;
}

const kWindow = 10_000;
const kKinds: CacheKind[] = ['L1Cache', 'lru-cache'];

/** The cache's own view of its hot keys: L1Cache's `hotKeys`/sketch; lru-cache's keys, most recent first. */
function sketchSourceOf(cache: SimCache): SketchSource {
  if (cache instanceof L1Cache) return cache;
  const lru = cache as LRUCache<string, string>;
  return { hotKeys: (limit = Infinity) => [...lru.keys()].slice(0, limit), sketchState: () => new Uint8Array(0), loadSketch: () => undefined };
}

async function warmRestart(kind: CacheKind, trace: string, keys: readonly string[], capacity: number): Promise<WarmRow> {
  // the cut leaves the 10,000-request window after it; at least 60% of the trace runs before it
  const cut = Math.max(Math.floor(keys.length * 0.6), Math.min(keys.length - kWindow, Math.floor(keys.length * 0.8)));
  const end = Math.min(keys.length, cut + kWindow);
  const store = mapStore();
  const storeL1 = mapStore();
  const before = new CacheWarmer({ hotCapacity: 4 * capacity });
  const steadyCache = newCache(kind, capacity);
  replay(steadyCache, keys, 0, cut, before);
  const persisted = await before.persist(store);
  await before.persist(storeL1, { l1: sketchSourceOf(steadyCache) });
  const steadyHits = replay(steadyCache, keys, cut, end);

  const coldHits = replay(newCache(kind, capacity), keys, cut, end);

  // a restart: a new cache and a new warmer, restore() + warm()
  const restart = async (from: MetaStore): Promise<[number, Awaited<ReturnType<CacheWarmer['warm']>>]> => {
    const after = new CacheWarmer({ hotCapacity: 4 * capacity });
    const cache = newCache(kind, capacity);
    after.restore(from, { l1: sketchSourceOf(cache) });
    const r = await after.warm(cache, (k) => k, { maxKeys: capacity });
    return [replay(cache, keys, cut, end), r];
  };
  const [warmHits, r] = await restart(store);
  const [warmL1Hits] = await restart(storeL1);
  const n = end - cut;
  return {
    cache: kind,
    trace,
    capacity,
    requests: keys.length,
    cut,
    steady: steadyHits / n,
    cold: coldHits / n,
    warm: warmHits / n,
    warmOfSteady: steadyHits === 0 ? Number.NaN : warmHits / steadyHits,
    warmL1: warmL1Hits / n,
    warmL1OfSteady: steadyHits === 0 ? Number.NaN : warmL1Hits / steadyHits,
    warmedKeys: r.warmedKeys,
    warmingTimeMs: r.warmingTimeMs,
    persistedBytes: persisted.bytes,
  };
}

interface PrefetchRow {
  cache: CacheKind;
  trace: string;
  capacity: number;
  requests: number;
  hitOff: number;
  hitOn: number;
  loadsOff: number;
  loadsOn: number;
  prefetches: number;
  prefetchUsed: number;
  dropped: number;
}

async function prefetchOnOff(kind: CacheKind, trace: string, keys: readonly string[], capacity: number): Promise<PrefetchRow> {
  const off = newCache(kind, capacity);
  const hitsOff = replay(off, keys, 0, keys.length);
  const on = newCache(kind, capacity);
  let demandLoads = 0;
  let prefetchLoads = 0;
  const warmer = new CacheWarmer<string>({
    successorSources: 16_384,
    prefetch: { cache: on, loader: (k) => (prefetchLoads++, k) }, // defaults: P(next | key) ≥ 0.5, 1 per access, 4 in flight
  });
  let hitsOn = 0;
  for (const k of keys) {
    if (on.get(k) !== undefined) hitsOn++;
    else demandLoads++, on.set(k, k);
    warmer.recordAccess(k);
    await warmer.idle();
  }
  const s = warmer.stats().prefetch;
  return {
    cache: kind,
    trace,
    capacity,
    requests: keys.length,
    hitOff: hitsOff / keys.length,
    hitOn: hitsOn / keys.length,
    loadsOff: keys.length - hitsOff,
    loadsOn: demandLoads + prefetchLoads,
    prefetches: s.issued,
    prefetchUsed: s.used,
    dropped: s.dropped,
  };
}

const pct = (x: number): string => (Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)}%`);

/** A Zipf(0.99) stream over 100,000 keys, 2^16 requests cycled by the task. */
const nextRank = zipfRanks(100_000, 0.99, 42);
const zipfStream = Array.from({ length: 1 << 16 }, () => `key:${nextRank()}`);
const recorder = new CacheWarmer({ hotCapacity: 1024, successorSources: 4096 });
let zi = 0;

export const part: CacheBenchPart = {
  name: 'warm',
  groups: [
    {
      name: 'warmer recordAccess',
      description: 'CacheWarmer.recordAccess on a Zipf(0.99) stream over 100,000 keys (1,024 hot counters, 4,096 successor rows, no prefetch)',
      tasks: [{ name: 'CacheWarmer.recordAccess', fn: () => recorder.recordAccess(zipfStream[zi++ & 0xffff]!) }],
    },
  ],
  extras: async () => {
    const load = currentLoad();
    const figures: Figure[] = [];
    const warmCases: [string, number[]][] = [
      ['OLTP', [1000, 5000]],
      ['web07', [500, 2000]],
      ['sprite', [500, 1000]],
      ['2_pools', [1000, 2500]],
    ];
    // loop: one 1,011-key sequence repeated (LRU below its length never hits); OLTP: a CODASYL
    // database's block reads (sequential runs recur); sprite and multi2: programs' file reads
    const prefetchCases: [string, number[]][] = quick ? [['multi2', [1000]]] : [['loop', [500]], ['OLTP', [1000, 5000]], ['sprite', [500, 1000]], ['multi2', [1000, 2000]]];
    const warmRows: WarmRow[] = [];
    const traces = new Map<string, string[]>();
    const get = (t: string): string[] => {
      if (!traces.has(t)) traces.set(t, readTrace(t));
      return traces.get(t)!;
    };
    for (const [t, sizes] of quick ? warmCases.slice(0, 2) : warmCases) {
      const keys = get(t);
      for (const c of quick ? sizes.slice(0, 1) : sizes) for (const kind of kKinds) warmRows.push(await warmRestart(kind, t, keys, c));
    }
    const pfRows: PrefetchRow[] = [];
    for (const [t, sizes] of prefetchCases) {
      const keys = get(t);
      for (const c of sizes) for (const kind of kKinds) pfRows.push(await prefetchOnOff(kind, t, keys, c));
    }
    console.log(`\n-- warm: warm restart, hit ratio over the ${kWindow.toLocaleString('en-US')} requests after a restart (${loadNote(load)})`);
    console.log(
      table(
        ['cache', 'trace', 'entries', 'requests', 'cut at', 'steady', 'cold', 'warm', 'warm/steady', '+L1 keys', '+L1/steady', 'warmed', 'warm time', 'persisted'],
        warmRows.map((r) => [
          r.cache,
          r.trace,
          String(r.capacity),
          r.requests.toLocaleString('en-US'),
          r.cut.toLocaleString('en-US'),
          pct(r.steady),
          pct(r.cold),
          pct(r.warm),
          pct(r.warmOfSteady),
          pct(r.warmL1),
          pct(r.warmL1OfSteady),
          String(r.warmedKeys),
          `${r.warmingTimeMs.toFixed(1)} ms`,
          `${(r.persistedBytes / 1024).toFixed(0)} KiB`,
        ]),
      ),
    );
    console.log('  warm: restore() + warm(maxKeys = entries) from the warmer\'s hot set; +L1 keys: the cache\'s own hot keys persisted too and loaded first');
    console.log(`\n-- warm: predictive prefetch on/off (prefetch loads land before the next request; loads = demand misses + prefetches)`);
    console.log(
      table(
        ['cache', 'trace', 'entries', 'requests', 'hit off', 'hit on', 'loads off', 'loads on', 'prefetches', 'used', 'dropped'],
        pfRows.map((r) => [
          r.cache,
          r.trace,
          String(r.capacity),
          r.requests.toLocaleString('en-US'),
          pct(r.hitOff),
          pct(r.hitOn),
          r.loadsOff.toLocaleString('en-US'),
          r.loadsOn.toLocaleString('en-US'),
          r.prefetches.toLocaleString('en-US'),
          r.prefetchUsed.toLocaleString('en-US'),
          r.dropped.toLocaleString('en-US'),
        ]),
      ),
    );
    for (const r of warmRows) {
      figures.push({ group: 'warm restart', name: `${r.cache} ${r.trace} ${r.capacity}: warm hit % of steady`, unit: '%', median: 100 * r.warmOfSteady });
      figures.push({ group: 'warm restart', name: `${r.cache} ${r.trace} ${r.capacity}: warm + L1 keys hit % of steady`, unit: '%', median: 100 * r.warmL1OfSteady });
      figures.push({ group: 'warm restart', name: `${r.cache} ${r.trace} ${r.capacity}: cold hit % of steady`, unit: '%', median: r.steady === 0 ? Number.NaN : (100 * r.cold) / r.steady });
    }
    for (const r of pfRows) {
      figures.push({ group: 'prefetch', name: `${r.cache} ${r.trace} ${r.capacity}: hit % prefetch on`, unit: '%', median: 100 * r.hitOn });
      figures.push({ group: 'prefetch', name: `${r.cache} ${r.trace} ${r.capacity}: hit % prefetch off`, unit: '%', median: 100 * r.hitOff });
    }
    return { figures, load, warmRestart: warmRows, prefetch: pfRows };
  },
};
