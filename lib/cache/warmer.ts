/**
 * `CacheWarmer` (DESIGN.md "Tiered cache"; the seed's IntelligentCacheWarmer +
 * PredictiveCacheLoader): learns which keys are hot and which key tends to follow which, warms
 * a cache with the hot set, prefetches likely successors as keys are read, and persists what
 * it learned (plus an L1's frequency sketch) so a restarted process starts warm.
 *
 * Memory is bounded by the options, whatever the stream: `hotCapacity` Space-Saving counters
 * (warmer-model.ts), `successorSources` × `successorsPerKey` Markov transitions, and at most
 * `prefetch.maxInFlight` prefetches in flight. `recordAccess` is O(1) expected (O(successorsPerKey)).
 */
import { performance } from 'node:perf_hooks';

import { invalidRange, invalidType } from '../errors.js';
import { defineOptions, functionCheck, integerCheck, nonEmptyStringCheck, oneOfCheck, type OptionCheck, readOptions } from '../internal/options.js';

import { checkKey, checkKeys } from './keys.js';
import { type Clock, systemClock } from './types.js';
import { decodeWarmState, encodeWarmState } from './warmer-format.js';
import { type HeavyHitter, HeavyHitters, SuccessorTable } from './warmer-model.js';

export type { HeavyHitter } from './warmer-model.js';

/**
 * Where `persist`/`restore` keep their bytes: `LmdbLevel` (l4-lmdb.ts) implements it; a `Map`
 * wrapper does for tests.
 */
export interface MetaStore {
  putMeta(name: string, bytes: Uint8Array): Promise<void>;
  getMeta(name: string): Uint8Array | undefined;
}

/** What the warmer reads from an L1 (L1Cache in l1.ts): its hot keys and W-TinyLFU sketch. */
export interface SketchSource {
  hotKeys(limit?: number): string[];
  sketchState(): Uint8Array;
  loadSketch(bytes: Uint8Array): void;
}

/**
 * The cache a warmer fills: anything with `set` (TieredCache, L1Cache, lru-cache). With
 * `getOrLoad` the warmer loads through it (one loader call per key, the cache's own TTLs and
 * single flight); with `has` it skips keys already present.
 */
export interface WarmTarget<V, O = unknown> {
  set(key: string, value: V, options?: O): unknown;
  getOrLoad?(key: string, loader: (key: string) => V | undefined | Promise<V | undefined>, options?: O): Promise<V | undefined>;
  has?(key: string): boolean;
}

/** Loads the value of `key`; `undefined` = not found (not cached by a plain `set` target). */
export type WarmLoader<V> = (key: string) => V | undefined | Promise<V | undefined>;

export interface PrefetchOptions<V, O = unknown> {
  cache: WarmTarget<V, O>;
  loader: WarmLoader<V>;
  /** Most prefetches in flight at once; more are dropped (counted), never queued. Default 4. */
  maxInFlight?: number;
  /** Prefetch `next` after `key` only when P(next | key) ≥ this. Default 0.5. */
  minProbability?: number;
  /** Transitions out of `key` that must have been seen first. Default 2. */
  minObservations?: number;
  /** Successors prefetched per access, most likely first. Default 1. */
  maxPerAccess?: number;
  /** Passed to `cache.set` / `cache.getOrLoad` as is (e.g. `{ ttlMs }` for TieredCache). */
  setOptions?: O;
}

export interface CacheWarmerOptions<V = unknown, O = unknown> {
  /** Names the persisted blob: meta `warmer:<name>`. Default 'default'. */
  name?: string;
  /** Space-Saving counters: the hot set holds every key with frequency > accesses / hotCapacity. Default 1024. */
  hotCapacity?: number;
  /** Source keys with a successor row (CLOCK picks the row a new source replaces). Default 4096. */
  successorSources?: number;
  /** Next keys kept per source (Space-Saving inside the row). Default 4, at most 255. */
  successorsPerKey?: number;
  /** Halve all hot counts every this many accesses (0 = never). Default 16 × hotCapacity. */
  agingInterval?: number;
  /** Inter-access times for `periodic`. Default `Date.now`. */
  clock?: Clock;
  /** A key is periodic after ≥ minIntervals gaps whose coefficient of variation is ≤ maxCv. Defaults 4 and 0.25. */
  periodic?: { minIntervals?: number; maxCv?: number };
  /** Prefetch likely successors on each `recordAccess`. Off by default. */
  prefetch?: PrefetchOptions<V, O>;
}

export interface WarmOptions<O = unknown> {
  /** Most keys to load. Default 500 (the seed's max_warming_keys). */
  maxKeys?: number;
  /** Loader calls in flight at once. Default 8. */
  concurrency?: number;
  /** Warm these keys (best first) instead of the learned hot set; the first `maxKeys` are taken. */
  keys?: readonly string[];
  /**
   * The order keys are loaded and set in. 'hottest-last' (default): the coldest of the chosen
   * keys first, so a recency-ordered cache (LRU, W-TinyLFU's window and probation) keeps the
   * hottest longest; on ARC OLTP at 5,000 entries this alone took a warm restart from 89% to
   * 98% of the steady-state hit ratio. 'hottest-first' when warming may be cut short.
   */
  order?: 'hottest-last' | 'hottest-first';
  /** Passed to `cache.set` / `cache.getOrLoad` as is. */
  setOptions?: O;
}

export interface WarmResult {
  /** Keys now in the cache because of this call. */
  warmedKeys: number;
  warmingTimeMs: number;
  /** Keys whose loader threw or rejected (the errors are in `errors`, first 10). */
  failedKeys: number;
  /** Keys the cache already held (`has`). */
  skippedKeys: number;
  /** Keys the loader returned `undefined` for. */
  notFoundKeys: number;
  errors: { key: string; error: unknown }[];
}

export interface AccessPatterns {
  /** Hottest first; `count` over-estimates the true count by at most `error` (Space-Saving). */
  hotKeys: HeavyHitter[];
  /** Rows with the most transitions first; `probability` = count / total out of `key`. */
  successors: { key: string; total: number; next: { key: string; count: number; probability: number }[] }[];
  /** Keys read at regular intervals: mean gap `periodMs`, its coefficient of variation `cv`. */
  periodic: { key: string; periodMs: number; cv: number; intervals: number; lastAt: number; nextAt: number }[];
  /** Accesses recorded (restored ones included). */
  accesses: number;
}

export interface WarmerStats {
  accesses: number;
  hotKeysTracked: number;
  successorSources: number;
  prefetch: { issued: number; completed: number; failed: number; dropped: number; used: number; inFlight: number };
}

/** A finite number in [min, max]. */
function numberCheck(min: number, max: number): OptionCheck {
  return (value, argument) => {
    if (typeof value !== 'number') throw invalidType(argument, 'a number', value);
    if (!(value >= min && value <= max)) throw invalidRange(argument, `a number in [${min}, ${max}]`, value);
    return value;
  };
}

const targetCheck: OptionCheck = (value, argument) => {
  checkTarget(value, argument);
  return value;
};

const kPrefetchSchema = defineOptions('CacheWarmer prefetch', {
  cache: { check: targetCheck, always: true },
  loader: { check: functionCheck('a function (key) => value | Promise<value>'), always: true },
  maxInFlight: { check: integerCheck(1, 1 << 16), default: 4 },
  minProbability: { check: numberCheck(0, 1), default: 0.5 },
  minObservations: { check: integerCheck(1, 1 << 30), default: 2 },
  maxPerAccess: { check: integerCheck(1, 255), default: 1 },
  setOptions: { check: null, checkedBy: 'the cache (passed to set / getOrLoad as is)' },
});

const kPeriodicSchema = defineOptions('CacheWarmer periodic', {
  minIntervals: { check: integerCheck(2, 1 << 30), default: 4 },
  maxCv: { check: numberCheck(0, 10), default: 0.25 },
});

const kWarmerSchema = defineOptions('CacheWarmer', {
  name: { check: nonEmptyStringCheck, default: 'default' },
  hotCapacity: { check: integerCheck(1, 1 << 22), default: 1024 },
  successorSources: { check: integerCheck(0, 1 << 22), default: 4096 },
  successorsPerKey: { check: integerCheck(1, 255), default: 4 },
  agingInterval: { check: integerCheck(0, Number.MAX_SAFE_INTEGER), default: undefined },
  clock: { check: functionCheck('a function returning ms since the epoch'), default: systemClock },
  periodic: { check: (v, arg) => readOptions(kPeriodicSchema, v, { argument: arg }), always: true },
  prefetch: { check: (v, arg) => readOptions(kPrefetchSchema, v, { argument: arg, required: true, what: 'an object { cache, loader }' }) },
});

const kWarmSchema = defineOptions('CacheWarmer.warm', {
  maxKeys: { check: integerCheck(0, 1 << 24), default: 500 },
  concurrency: { check: integerCheck(1, 1024), default: 8 },
  keys: { check: (v, arg) => (checkKeys(v, arg), v) },
  order: { check: oneOfCheck(['hottest-last', 'hottest-first']), default: 'hottest-last' },
  setOptions: { check: null, checkedBy: 'the cache (passed to set / getOrLoad as is)' },
});

const kPersistSchema = defineOptions('CacheWarmer.persist', {
  l1: { check: (v, arg) => (checkSketchSource(v, arg), v) },
  maxL1HotKeys: { check: integerCheck(0, 1 << 24), default: 1 << 16 },
});

const kRestoreSchema = defineOptions('CacheWarmer.restore', {
  l1: { check: (v, arg) => (checkSketchSource(v, arg), v) },
});

const kAnalyzeSchema = defineOptions('CacheWarmer.analyzeAccessPatterns', {
  limit: { check: integerCheck(1, 1 << 22), default: 100 },
});

function checkStore(store: unknown, argument: string): asserts store is MetaStore {
  const s = store as Partial<MetaStore> | null;
  if (typeof s !== 'object' || s === null || typeof s.putMeta !== 'function' || typeof s.getMeta !== 'function') {
    throw invalidType(argument, 'a MetaStore (putMeta and getMeta, e.g. an LmdbLevel)', store);
  }
}

function checkSketchSource(l1: unknown, argument: string): asserts l1 is SketchSource | undefined {
  if (l1 === undefined) return;
  const s = l1 as Partial<SketchSource> | null;
  if (typeof s !== 'object' || s === null || typeof s.hotKeys !== 'function' || typeof s.sketchState !== 'function' || typeof s.loadSketch !== 'function') {
    throw invalidType(argument, 'an L1 with hotKeys, sketchState and loadSketch (L1Cache)', l1);
  }
}

function checkTarget(cache: unknown, argument: string): void {
  const c = cache as Partial<WarmTarget<unknown>> | null;
  if (typeof c !== 'object' || c === null || typeof c.set !== 'function') throw invalidType(argument, 'a cache with set(key, value)', cache);
}

/** Bound on keys remembered as "prefetched, not yet read" (for the `used` count). */
const kPendingCap = 4096;

/**
 * Learns hot keys and key-to-key transitions from `recordAccess`, warms caches and persists
 * what it learned.
 *
 * @example
 * const warmer = new CacheWarmer({ prefetch: { cache, loader } });
 * for (const key of requests) { warmer.recordAccess(key); await cache.getOrLoad(key, loader); }
 * await warmer.persist(lmdbLevel, { l1 });
 * // after a restart:
 * const next = new CacheWarmer();
 * next.restore(lmdbLevel, { l1: freshL1 });
 * const { warmedKeys, warmingTimeMs } = await next.warm(cache, loader, { maxKeys: 1000 });
 */
export class CacheWarmer<V = unknown, O = unknown> {
  readonly name: string;
  readonly metaName: string;
  private readonly hot: HeavyHitters;
  private readonly successors: SuccessorTable;
  private readonly agingInterval: number;
  private readonly clock: Clock;
  private readonly minIntervals: number;
  private readonly maxCv: number;
  // per hot counter: last access time and Welford running mean / M2 of the gaps
  private readonly lastAt: Float64Array;
  private readonly gaps: Float64Array;
  private readonly gapMean: Float64Array;
  private readonly gapM2: Float64Array;
  private accesses = 0;
  private sinceAging = 0;
  private prev: string | undefined;
  private restoredL1Hot: string[] = [];

  private readonly pf: Required<Omit<PrefetchOptions<V, O>, 'setOptions'>> & { setOptions: O | undefined } | null;
  private readonly inFlight = new Set<string>();
  private readonly pending = new Set<string>();
  private readonly pfStats = { issued: 0, completed: 0, failed: 0, dropped: 0, used: 0 };

  constructor(options: CacheWarmerOptions<V, O> = {}) {
    const o = readOptions(kWarmerSchema, options, { what: 'an options object for CacheWarmer' });
    this.name = o.name as string;
    this.metaName = `warmer:${this.name}`;
    const hotCapacity = o.hotCapacity as number;
    this.hot = new HeavyHitters(hotCapacity);
    this.successors = new SuccessorTable(o.successorSources as number, o.successorsPerKey as number);
    this.agingInterval = (o.agingInterval as number | undefined) ?? 16 * hotCapacity;
    this.clock = o.clock as Clock;
    const periodic = o.periodic as { minIntervals: number; maxCv: number };
    this.minIntervals = periodic.minIntervals;
    this.maxCv = periodic.maxCv;
    this.lastAt = new Float64Array(hotCapacity).fill(Number.NaN);
    this.gaps = new Float64Array(hotCapacity);
    this.gapMean = new Float64Array(hotCapacity);
    this.gapM2 = new Float64Array(hotCapacity);
    this.hot.onReplace = (c) => {
      this.lastAt[c] = Number.NaN;
      this.gaps[c] = 0;
      this.gapMean[c] = 0;
      this.gapM2[c] = 0;
    };
    this.pf = (o.prefetch as CacheWarmer<V, O>['pf'] | undefined) ?? null;
  }

  /**
   * Records one read of `key`: counts it, learns the transition from the previous key, tracks
   * its inter-access time, and (with `prefetch`) starts loading its likely successors in the
   * background. Never awaits; O(1) expected.
   */
  recordAccess(key: string): void {
    checkKey(key);
    this.accesses++;
    if (this.agingInterval > 0 && ++this.sinceAging >= this.agingInterval) {
      this.sinceAging = 0;
      this.hot.halve();
    }
    const c = this.hot.add(key);
    const t = this.clock();
    const last = this.lastAt[c]!;
    if (last === last) {
      // Welford's running mean and M2 of the gaps
      const gap = t - last;
      const n = ++this.gaps[c]!;
      const d = gap - this.gapMean[c]!;
      this.gapMean[c]! += d / n;
      this.gapM2[c]! += d * (gap - this.gapMean[c]!);
    }
    this.lastAt[c] = t;
    const prev = this.prev;
    if (prev !== undefined && prev !== key && this.successors.maxSources > 0) this.successors.add(prev, key);
    this.prev = key;
    if (this.pf !== null) {
      if (this.pending.delete(key)) this.pfStats.used++;
      this.prefetchAfter(key);
    }
  }

  /** The hot keys (hottest first), the successor model and the periodic keys, each at most `limit` long. */
  analyzeAccessPatterns(options: { limit?: number } = {}): AccessPatterns {
    const limit = readOptions(kAnalyzeSchema, options).limit as number;
    const hotKeys = this.hot.top(limit);
    const rows = [...this.successors.entries()].sort((a, b) => b[1].total - a[1].total).slice(0, limit);
    const successors = rows.map(([key, row]) => ({
      key,
      total: row.total,
      next: row.next.map((k, i) => ({ key: k, count: row.counts[i]!, probability: row.counts[i]! / row.total })),
    }));
    const periodic: AccessPatterns['periodic'] = [];
    for (const h of this.hot.top()) {
      const c = this.hot.counterOf(h.key);
      const n = this.gaps[c]!;
      if (n < this.minIntervals) continue;
      const mean = this.gapMean[c]!;
      if (!(mean > 0)) continue;
      const cv = Math.sqrt(this.gapM2[c]! / (n - 1)) / mean;
      if (cv <= this.maxCv) periodic.push({ key: h.key, periodMs: mean, cv, intervals: n, lastAt: this.lastAt[c]!, nextAt: this.lastAt[c]! + mean });
    }
    periodic.sort((a, b) => b.intervals - a.intervals);
    return { hotKeys, successors, periodic: periodic.slice(0, limit), accesses: this.accesses };
  }

  /**
   * The keys `warm` loads by default, best first: the restored L1's hot keys (what the cache
   * held when it was persisted), then the learned hot set.
   */
  warmKeys(maxKeys: number): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const k of this.restoredL1Hot) {
      if (out.length >= maxKeys) return out;
      if (!seen.has(k)) out.push(k), seen.add(k);
    }
    for (const h of this.hot.top()) {
      if (out.length >= maxKeys) break;
      if (!seen.has(h.key)) out.push(h.key), seen.add(h.key);
    }
    return out;
  }

  /**
   * Loads up to `maxKeys` keys (by default `warmKeys(maxKeys)`) into `cache` with at most
   * `concurrency` loader calls at once, in `order` (default: hottest last).
   * A loader that throws or rejects is counted in `failedKeys` (first 10 errors kept), never
   * thrown; `undefined` from the loader counts as `notFoundKeys`.
   */
  async warm(cache: WarmTarget<V, O>, loader: WarmLoader<V>, options: WarmOptions<O> = {}): Promise<WarmResult> {
    checkTarget(cache, 'cache');
    if (typeof loader !== 'function') throw invalidType('loader', 'a function (key) => value | Promise<value>', loader);
    const o = readOptions(kWarmSchema, options, { what: 'an options object for CacheWarmer.warm' });
    const maxKeys = o.maxKeys as number;
    const concurrency = o.concurrency as number;
    let keys = o.keys === undefined ? this.warmKeys(maxKeys) : (o.keys as readonly string[]).slice(0, maxKeys);
    if (o.order === 'hottest-last') keys = keys.slice().reverse();
    const setOptions = options.setOptions;
    const t0 = performance.now();
    const r: WarmResult = { warmedKeys: 0, warmingTimeMs: 0, failedKeys: 0, skippedKeys: 0, notFoundKeys: 0, errors: [] };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const key = keys[next++]!;
        try {
          if (cache.has?.(key) === true) {
            r.skippedKeys++;
            continue;
          }
          let v: V | undefined;
          if (typeof cache.getOrLoad === 'function') {
            v = await cache.getOrLoad(key, loader, setOptions);
          } else {
            v = await loader(key);
            if (v !== undefined) await cache.set(key, v, setOptions);
          }
          if (v === undefined) r.notFoundKeys++;
          else r.warmedKeys++;
        } catch (error) {
          r.failedKeys++;
          if (r.errors.length < 10) r.errors.push({ key, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
    r.warmingTimeMs = performance.now() - t0;
    return r;
  }

  /**
   * Writes the hot set, the successor table and (given `l1`) the L1's hot keys and sketch to
   * `store` under `metaName`, in the layout of warmer-format.ts. Resolves with the sizes written.
   */
  async persist(store: MetaStore, options: { l1?: SketchSource; maxL1HotKeys?: number } = {}): Promise<{ bytes: number; hotKeys: number; successorRows: number; l1HotKeys: number; sketchBytes: number }> {
    checkStore(store, 'store');
    const o = readOptions(kPersistSchema, options, { what: 'an options object for CacheWarmer.persist' });
    const l1 = o.l1 as SketchSource | undefined;
    const l1Limit = o.maxL1HotKeys as number;
    const hot = this.hot.top();
    const successors = [...this.successors.entries()];
    const l1HotKeys = l1 === undefined ? [] : l1.hotKeys(l1Limit).slice(0, l1Limit);
    const sketch = l1 === undefined ? null : l1.sketchState();
    const bytes = encodeWarmState({ accesses: this.accesses, hot, successors, l1HotKeys, sketch });
    await store.putMeta(this.metaName, bytes);
    return { bytes: bytes.length, hotKeys: hot.length, successorRows: successors.length, l1HotKeys: l1HotKeys.length, sketchBytes: sketch?.length ?? 0 };
  }

  /**
   * Replaces what this warmer learned with what `persist` wrote to `store` (and loads the sketch
   * into `l1` when one was persisted and `l1` is given). `restored: false` when the store has
   * nothing under `metaName`. A foreign or corrupted blob throws `SourceFormatError` naming the
   * byte, and leaves the warmer as it was.
   */
  restore(store: MetaStore, options: { l1?: SketchSource } = {}): { restored: boolean; hotKeys: number; successorRows: number; l1HotKeys: number; sketchBytes: number } {
    checkStore(store, 'store');
    const l1 = readOptions(kRestoreSchema, options, { what: 'an options object for CacheWarmer.restore' }).l1 as SketchSource | undefined;
    const bytes = store.getMeta(this.metaName);
    if (bytes === undefined) return { restored: false, hotKeys: 0, successorRows: 0, l1HotKeys: 0, sketchBytes: 0 };
    const s = decodeWarmState(bytes, `meta ${JSON.stringify(this.metaName)}`);
    if (s.sketch !== null && l1 !== undefined) l1.loadSketch(s.sketch);
    this.hot.load(s.hot);
    this.lastAt.fill(Number.NaN);
    this.gaps.fill(0);
    this.gapMean.fill(0);
    this.gapM2.fill(0);
    this.successors.clear();
    for (const [from, row] of s.successors) this.successors.loadRow(from, row);
    this.restoredL1Hot = s.l1HotKeys;
    this.accesses = s.accesses;
    this.prev = undefined;
    return { restored: true, hotKeys: s.hot.length, successorRows: s.successors.length, l1HotKeys: s.l1HotKeys.length, sketchBytes: s.sketch?.length ?? 0 };
  }

  stats(): WarmerStats {
    return {
      accesses: this.accesses,
      hotKeysTracked: this.hot.size,
      successorSources: this.successors.size,
      prefetch: { ...this.pfStats, inFlight: this.inFlight.size },
    };
  }

  /** Resolves when no prefetch is in flight (tests, benches, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await new Promise<void>((r) => setImmediate(r));
  }

  private prefetchAfter(key: string): void {
    const pf = this.pf!;
    const t = this.successors;
    const slot = t.slotOf(key);
    if (slot < 0) return;
    const total = t.totalOf(slot);
    if (total < pf.minObservations) return;
    let issued = 0;
    for (let i = 0, n = t.lengthOf(slot); i < n && issued < pf.maxPerAccess; i++) {
      if (t.countOf(slot, i) / total < pf.minProbability) break; // rows are sorted by count
      const next = t.nextOf(slot, i);
      if (this.inFlight.has(next) || pf.cache.has?.(next) === true) continue;
      if (this.inFlight.size >= pf.maxInFlight) {
        this.pfStats.dropped++;
        break;
      }
      issued++;
      this.startPrefetch(next);
    }
  }

  private startPrefetch(key: string): void {
    const pf = this.pf!;
    this.inFlight.add(key);
    this.pfStats.issued++;
    // the loader runs after the caller's turn: recordAccess never waits on it, nor on a sync loader's work
    void Promise.resolve()
      .then(async () => {
        if (typeof pf.cache.getOrLoad === 'function') {
          await pf.cache.getOrLoad(key, pf.loader, pf.setOptions);
        } else {
          const v = await pf.loader(key);
          if (v !== undefined) await pf.cache.set(key, v, pf.setOptions);
        }
        this.pfStats.completed++;
        if (this.pending.size >= kPendingCap) this.pending.delete(this.pending.values().next().value as string);
        this.pending.add(key);
      })
      .catch(() => {
        this.pfStats.failed++;
      })
      .finally(() => {
        this.inFlight.delete(key);
      });
  }
}
