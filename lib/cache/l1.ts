/**
 * L1: the per-thread cache of JS values, W-TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A
 * Highly Efficient Cache Admission Policy", ACM ToS 2017, §4 "W-TinyLFU") with the adaptive
 * window of Caffeine (Ben Manes, `BoundedLocalCache`: window LRU, segmented main, hill climber
 * over the sampled hit rate).
 *
 * - New entries enter a small LRU *window* (1% of capacity at start).
 * - An entry pushed out of the window is a *candidate* for the main space: it goes to the
 *   *probation* segment when the main space has room; when the cache is full it is compared with
 *   the main space's victim (probation's LRU end) by their `FrequencySketch` counts and the
 *   less frequent one is evicted (a warm candidate also wins 1 time in 128 at random, Caffeine's
 *   guard against an attacker who keeps a victim's count high).
 * - A probation entry that is read again moves to *protected* (80% of the main space); protected
 *   overflow is demoted back to probation.
 * - Every sample (10 × capacity lookups, Caffeine's period; stretched up to 4× for caches of
 *   ≤ 512 entries as the step decays) the hill climber moves the window. Caffeine's hit-rate law
 *   (`WindowClimber`'s reactive climber, older `BoundedLocalCache.determineAdjustment`): keep the
 *   direction while the sample's hit rate matched or beat the previous one, else reverse; step
 *   6.25% of capacity (at least 2), decaying ×0.98 (×0.995 at ≤ 512 entries) per sample,
 *   restarted at full size when the hit rate moved ≥ 5 points. Ours, differing from Caffeine:
 *   it opens by growing at every size (Caffeine does so only at ≤ 512), samples start once the
 *   cache is full, and when one region earns ≥ 4× the hits per slot of the other (the density
 *   signal Caffeine 2026 steers large caches by), the step is 0.1 × capacity × ln(ratio), up to
 *   30%; and a sample may close after 1 × capacity requests when the window has earned 16× the
 *   main space's hits outright — so a recency-only workload (the corda trace) gets a large
 *   window in a few samples; the opening move comes at that first look (> 512 entries) or
 *   after 3 × capacity requests (smaller caches), not after a full sample.
 *   The hit path is one index lookup and one read-buffer store; the policy catches up per batch.
 *
 * Storage: nodes are slots in typed arrays (prev/next links, queue id, expiry times, version,
 * the key's hash computed once on insert) beside an array of values, found through one
 * null-prototype object (key → slot); no object per entry, so a `set` allocates nothing. Expiry: `get` returns fresh values only; no read returns an entry past
 * its `staleUntil`, and the clock is read only for entries that have a finite TTL.
 */
import { invalidRange, invalidType, invalidValue } from '../errors.js';
import { checkKey, checkTtl } from './keys.js';
import { FrequencySketch, hashKey } from './sketch.js';
import { type CacheEntry, type Clock, type LevelStats, type SyncLevel, systemClock } from './types.js';

export { FrequencySketch, hashKey } from './sketch.js';

/** Options of `new L1Cache(...)`. */
export interface L1CacheOptions {
  /** Maximum entries (integer ≥ 1); default 1,000. */
  maxEntries?: number;
  /** ms epoch clock for TTLs; default `Date.now`. */
  clock?: Clock;
  /** TTL of `set` without one, ms (≥ 0 or `Infinity`); default `Infinity` (no expiry). */
  defaultTtlMs?: number;
}

/** `L1Cache.stats()`: the shared `LevelStats` plus the W-TinyLFU state. */
export interface L1Stats extends LevelStats {
  name: 'l1';
  /** Candidates from the window that lost the frequency comparison and were evicted (counted in `evictions` too). */
  admissionsRejected: number;
  /** Entries in the window now. */
  windowSize: number;
  /** The window's current maximum (moved by the hill climber). */
  windowMaximum: number;
  /** Entries in the probation and protected segments now. */
  probationSize: number;
  protectedSize: number;
  /** Times the hill climber ran, and times the sketch halved its counters. */
  climbs: number;
  sketchResets: number;
}

// Queue ids; slots 0..2 are the three lists' sentinels.
const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;
/** Bytes of the climber block `sketchState()` appends after the sketch; "CLMB" little-endian. */
const kClimberBytes = 32;
const kClimberMagic = 0x424d4c43;
const kFirstSlot = 3;

// Caffeine's tuning (BoundedLocalCache): main = 99% at start, protected = 80% of main,
// climber step 6.25% of capacity, decay 0.98 per sample, restart at a 5-point hit-rate change.
const kPercentMain = 0.99;
const kPercentMainProtected = 0.8;
const kStepPercent = 0.0625;
const kStepDecay = 0.98;
const kRestartThreshold = 0.05;
/** At or below this capacity the window is a few entries and one sample is noisy: open by growing, decay slower, sample longer (Caffeine's slow-adapt regime). */
const kSlowAdaptMaximum = 512;
const kSlowStepDecay = 0.995;
/** The slow-adapt sample period grows up to this factor as the step decays. */
const kSlowSampleRatioCap = 4;
/** A small cache's opening move comes after this many × capacity requests of its first full sample. */
const kSmallOpeningLooks = 3;
/** Smallest restart step, so a small cache can move its window at all. */
const kMinStep = 2;

function restartStep(capacity: number): number {
  return Math.max(kStepPercent * capacity, kMinStep);
}

/** Requests per climber sample: the sketch's sample (10 × capacity), stretched up to 4× for small caches as the step decays. */
function samplePeriod(capacity: number, sketchSample: number, step: number): number {
  if (capacity > kSlowAdaptMaximum) return sketchSample;
  const initial = kStepPercent * capacity;
  const magnitude = Math.max(Math.abs(step), initial / kSlowSampleRatioCap);
  const ratio = Math.max(1, Math.min(kSlowSampleRatioCap, initial / magnitude));
  return Math.floor(sketchSample * ratio);
}

function initialStep(capacity: number): number {
  return restartStep(capacity);
}

/**
 * Density law (Caffeine's 2026 `WindowClimber` steers large caches by it): when one region earns
 * at least 4× the hits per slot of the other in a sample, the window moves toward it by
 * 0.1 × capacity per unit of ln(density ratio), at most 30% of capacity per sample. A
 * recency-only workload (corda) then grows the window in a few samples instead of dozens.
 */
const kDensityVerdictLog = Math.log(4);
const kDensityGain = 0.1;
const kMaxStepPercent = 0.3;

/** Candidates at least this frequent are admitted 1 time in 128 even when they lose (Caffeine's hash-flooding guard). */
const kAdmitWarmThreshold = 6;
/** Hits noted before the policy applies them (see `drainReads`). */
const kReadBufferSize = 64;
/** Largest `maxEntries`: the typed arrays index slots with int32. */
export const kMaxL1Entries = 1 << 26;

/**
 * W-TinyLFU cache of JS values (no serialization), the `l1` level of `TieredCache`.
 * Synchronous and single-threaded (one per thread). Values are kept by reference; an entry's
 * fields live in typed arrays beside its value (no object per entry), and `getEntry` returns
 * a new `CacheEntry` each call.
 *
 * @example
 * const l1 = new L1Cache<number>({ maxEntries: 10_000, defaultTtlMs: 5_000 });
 * l1.set('px:AAPL', 189.5);
 * l1.get('px:AAPL'); // 189.5 until 5 s have passed, then undefined
 * l1.stats().hitRatio;
 */
export class L1Cache<V = unknown> implements SyncLevel<V> {
  readonly name = 'l1' as const;
  /** Maximum entries. */
  readonly capacity: number;
  /** The frequency sketch (exported for tests and the warmer). */
  readonly sketch: FrequencySketch;

  private readonly clock: Clock;
  private readonly defaultTtlMs: number;
  /**
   * Key → slot. A null-prototype object in dictionary mode, not a `Map`: its keyed lookup costs
   * ~30 ns against `Map.get`'s ~45 ns at 1,000 string keys (~45 vs ~72 at 10,000; measured on
   * the shared 2-core box), and the lookup is most of a hit. No prototype, so any string is an
   * own key (`__proto__` included).
   */
  private index: Record<string, number> = Object.create(null) as Record<string, number>;
  /** Keys in `index`. */
  private count = 0;
  private readonly keys: (string | undefined)[];
  private readonly values: (V | undefined)[];
  private readonly expiresAt: Float64Array;
  private readonly staleUntil: Float64Array;
  private readonly versions: Float64Array;
  /** Tags per slot, created on the first entry that has any. */
  private tags: (readonly string[] | undefined)[] | undefined;
  private readonly hashes: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly queue: Uint8Array;
  private freeTop = 0;
  private readonly free: Int32Array;
  private readonly readBuffer = new Int32Array(kReadBufferSize);
  private readCount = 0;
  /** Per slot: the drain that last applied it (dedupes a batch). */
  private readonly seen: Int32Array;
  private drainEpoch = 0;

  private windowSize = 0;
  private protectedSize = 0;
  private probationSize = 0;
  private windowMaximum: number;
  private protectedMaximum: number;

  // Hill climber state (Caffeine's determineAdjustment).
  private sampleHits = 0;
  private sampleWindowHits = 0;
  private sampleCount = 0;
  private previousHitRate = 0;
  private stepSize: number;
  private samplePeriod: number;
  private fullSamplePeriod: number;
  private filled = false;
  private climbs = 0;
  private rng = 0x2545f491;

  private hits = 0;
  private misses = 0;
  private sets = 0;
  private deletes = 0;
  private evictions = 0;
  private expirations = 0;
  private admissionsRejected = 0;

  /** Throws a RangeError naming `maxEntries` or `defaultTtlMs`, a TypeError naming `clock`. */
  constructor(options: L1CacheOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
    const { maxEntries = 1000, clock = systemClock, defaultTtlMs = Infinity } = options;
    if (typeof maxEntries !== 'number' || !Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > kMaxL1Entries) {
      throw invalidRange('maxEntries', `an integer from 1 to ${kMaxL1Entries}`, maxEntries);
    }
    if (typeof clock !== 'function') throw invalidType('clock', 'a function returning ms since the epoch', clock);
    checkTtl(defaultTtlMs, 'defaultTtlMs');
    this.capacity = maxEntries;
    this.clock = clock;
    this.defaultTtlMs = defaultTtlMs;
    this.sketch = new FrequencySketch(maxEntries);
    // One spare slot: a new entry is linked before the policy picks what to evict.
    const slots = maxEntries + 1 + kFirstSlot;
    this.keys = new Array<string | undefined>(slots).fill(undefined);
    this.values = new Array<V | undefined>(slots).fill(undefined);
    this.expiresAt = new Float64Array(slots);
    this.staleUntil = new Float64Array(slots);
    this.versions = new Float64Array(slots);
    this.hashes = new Int32Array(slots);
    this.prev = new Int32Array(slots);
    this.next = new Int32Array(slots);
    this.queue = new Uint8Array(slots);
    this.seen = new Int32Array(slots);
    this.free = new Int32Array(maxEntries + 1);
    for (let q = 0; q < kFirstSlot; q++) {
      this.prev[q] = q;
      this.next[q] = q;
      this.queue[q] = q;
    }
    // Hand out low slots first (better locality while the cache fills).
    for (let i = 0; i <= maxEntries; i++) this.free[i] = slots - 1 - i;
    this.freeTop = maxEntries + 1;
    const window = maxEntries - Math.floor(kPercentMain * maxEntries);
    this.windowMaximum = window;
    this.protectedMaximum = Math.floor(kPercentMainProtected * (maxEntries - window));
    this.stepSize = initialStep(maxEntries);
    this.samplePeriod = Math.min(this.capacity, this.sketch.sampleSize);
    this.fullSamplePeriod = this.sketch.sampleSize;
  }

  /** Live entries (expired ones count until a read or an eviction drops them). */
  get size(): number {
    return this.count;
  }

  /**
   * The fresh value of `key`, or `undefined` when absent, stale, expired, or a cached miss
   * (use `getEntry` to tell a cached miss). Counts a hit or a miss and feeds the policy.
   */
  get(key: string): V | undefined {
    // The index is a dictionary object, which would read 42 as '42': a key that is not a string misses.
    const slot = typeof key === 'string' ? this.index[key] : undefined;
    if (slot === undefined) {
      this.recordMiss();
      return undefined;
    }
    const expiresAt = this.expiresAt[slot]!;
    if (expiresAt !== Infinity) {
      const now = this.clock();
      if (now >= expiresAt) {
        if (now >= this.staleUntil[slot]!) this.expire(key, slot);
        this.recordMiss();
        return undefined;
      }
    }
    // The hit only notes its slot (see `drainReads`); counters and the policy catch up there.
    const n = this.readCount;
    this.readBuffer[n] = slot;
    if ((this.readCount = n + 1) === kReadBufferSize) this.drainFull();
    return this.values[slot];
  }

  /** True when `get(key)` would find a fresh entry (a cached miss included). No policy or stats effect. */
  has(key: string): boolean {
    const slot = typeof key === 'string' ? this.index[key] : undefined;
    if (slot === undefined) return false;
    const expiresAt = this.expiresAt[slot]!;
    return expiresAt === Infinity || this.clock() < expiresAt;
  }

  /**
   * Caches `value` (`undefined` = a cached miss) for `ttlMs` (default `defaultTtlMs`); no stale
   * window (`staleUntil = expiresAt`). Throws for a bad key or TTL, naming it.
   */
  set(key: string, value: V | undefined, ttlMs?: number): void {
    checkKey(key);
    let expiresAt = Infinity;
    const ttl = ttlMs === undefined ? this.defaultTtlMs : ttlMs;
    if (ttlMs !== undefined) checkTtl(ttlMs);
    if (ttl !== Infinity) expiresAt = this.clock() + ttl;
    this.store(key, value, expiresAt, expiresAt, 0, undefined);
  }

  /** The entry of `key` (fresh or stale), or `undefined` when absent or past `staleUntil`. Counts a hit or miss. */
  getEntry(key: string): CacheEntry<V> | undefined {
    const slot = typeof key === 'string' ? this.index[key] : undefined;
    if (slot === undefined) {
      this.recordMiss();
      return undefined;
    }
    const staleUntil = this.staleUntil[slot]!;
    if (staleUntil !== Infinity && this.clock() >= staleUntil) {
      this.expire(key, slot);
      this.recordMiss();
      return undefined;
    }
    this.recordHit(slot);
    const entry: CacheEntry<V> = { value: this.values[slot], expiresAt: this.expiresAt[slot]!, staleUntil, version: this.versions[slot]! };
    const tags = this.tags?.[slot];
    if (tags !== undefined) entry.tags = tags;
    return entry;
  }

  /** Stores `entry` as given (not copied). An entry already past its `staleUntil` removes the key instead. */
  setEntry(key: string, entry: CacheEntry<V>): void {
    checkKey(key);
    if (entry === null || typeof entry !== 'object') throw invalidType('entry', 'a CacheEntry object', entry);
    const { expiresAt, staleUntil } = entry;
    if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) throw invalidType('entry.expiresAt', 'a number (ms epoch or Infinity)', expiresAt);
    if (typeof staleUntil !== 'number' || !(staleUntil >= expiresAt)) throw invalidRange('entry.staleUntil', `a number ≥ entry.expiresAt (${expiresAt})`, staleUntil);
    const version = entry.version ?? 0;
    if (typeof version !== 'number' || !(version >= 0)) throw invalidRange('entry.version', 'a number ≥ 0', version);
    this.store(key, entry.value, expiresAt, staleUntil, version, entry.tags);
  }

  /** Removes `key`; true when it was present. */
  delete(key: string): boolean {
    const slot = typeof key === 'string' ? this.index[key] : undefined;
    if (slot === undefined) return false;
    if (this.readCount !== 0) this.drainReads();
    this.deletes++;
    this.removeSlot(key, slot);
    return true;
  }

  /** Removes every entry and resets the counters, the sketch and the window. */
  clear(): void {
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.tags = undefined;
    this.index = Object.create(null) as Record<string, number>;
    this.count = 0;
    this.readCount = 0;
    for (let q = 0; q < kFirstSlot; q++) {
      this.prev[q] = q;
      this.next[q] = q;
    }
    const slots = this.capacity + 1 + kFirstSlot;
    for (let i = 0; i <= this.capacity; i++) this.free[i] = slots - 1 - i;
    this.freeTop = this.capacity + 1;
    this.windowSize = this.protectedSize = this.probationSize = 0;
    const window = this.capacity - Math.floor(kPercentMain * this.capacity);
    this.windowMaximum = window;
    this.protectedMaximum = Math.floor(kPercentMainProtected * (this.capacity - window));
    this.stepSize = initialStep(this.capacity);
    this.samplePeriod = Math.min(this.capacity, this.sketch.sampleSize);
    this.fullSamplePeriod = this.sketch.sampleSize;
    this.sampleHits = this.sampleWindowHits = this.sampleCount = this.previousHitRate = this.climbs = 0;
    this.filled = false;
    this.sketch.clear();
    this.hits = this.misses = this.sets = this.deletes = this.evictions = this.expirations = this.admissionsRejected = 0;
  }

  /** Counters and the W-TinyLFU state. */
  stats(): L1Stats {
    const hits = this.hits + this.sampleHits + this.readCount;
    const misses = this.misses + this.sampleCount - this.sampleHits;
    const lookups = hits + misses;
    return {
      name: 'l1',
      hits,
      misses,
      hitRatio: lookups === 0 ? 0 : hits / lookups,
      sets: this.sets,
      deletes: this.deletes,
      evictions: this.evictions,
      expirations: this.expirations,
      size: this.count,
      capacity: this.capacity,
      admissionsRejected: this.admissionsRejected,
      windowSize: this.windowSize,
      windowMaximum: this.windowMaximum,
      probationSize: this.probationSize,
      protectedSize: this.protectedSize,
      climbs: this.climbs,
      sketchResets: this.sketch.resets,
    };
  }

  /**
   * Up to `limit` keys (default: all), hottest first: by sketch frequency, ties by segment
   * (protected, probation, window) then recency. Expired entries are left out. For the warmer.
   */
  hotKeys(limit = this.count): string[] {
    if (typeof limit !== 'number' || !(limit >= 0)) throw invalidRange('limit', 'a number ≥ 0', limit);
    if (this.readCount !== 0) this.drainReads();
    const now = this.clock();
    const slots: number[] = [];
    const rank = new Map<number, number>();
    let r = 0;
    for (const q of [PROTECTED, PROBATION, WINDOW]) {
      for (let s = this.prev[q]!; s !== q; s = this.prev[s]!) {
        const staleUntil = this.staleUntil[s]!;
        if (staleUntil !== Infinity && now >= staleUntil) continue;
        slots.push(s);
        rank.set(s, r++);
      }
    }
    const freq = new Map<number, number>();
    for (const s of slots) freq.set(s, this.sketch.frequency(this.hashes[s]!));
    slots.sort((a, b) => freq.get(b)! - freq.get(a)! || rank.get(a)! - rank.get(b)!);
    return slots.slice(0, Math.floor(limit)).map((s) => this.keys[s]!);
  }

  /**
   * What the policy has learned, as bytes for the warmer to persist: the frequency sketch's
   * counters (`FrequencySketch.toBytes`), then a 32-byte climber block (magic "CLMB", window and
   * protected maximums, step size, last sample's hit rate), so a restarted cache starts with the
   * window the climber had found instead of 1 % (on ARC's OLTP trace the window had grown to
   * 12–43 % of the cache, and a restart at 1 % lost 10–14 points of hit ratio).
   */
  sketchState(): Uint8Array {
    if (this.readCount !== 0) this.drainReads();
    const sketch = this.sketch.toBytes();
    const out = new Uint8Array(sketch.length + kClimberBytes);
    out.set(sketch);
    const dv = new DataView(out.buffer, sketch.length, kClimberBytes);
    dv.setUint32(0, kClimberMagic, true);
    dv.setUint32(4, this.capacity, true);
    dv.setUint32(8, this.windowMaximum, true);
    dv.setUint32(12, this.protectedMaximum, true);
    dv.setFloat64(16, this.stepSize, true);
    dv.setFloat64(24, this.previousHitRate, true);
    return out;
  }

  /**
   * Loads what `sketchState()` saved from a cache of the same capacity class (the sketch alone,
   * as older versions wrote it, is accepted too); throws naming `bytes` otherwise, and the cache is
   * unchanged then. The climber block is applied only while this cache is empty and of the same
   * capacity (a restart, before warming): resizing the regions of a filled cache would move entries.
   */
  loadSketch(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array from sketchState()', bytes);
    let climber: DataView | null = null;
    let sketch = bytes;
    if (bytes.length >= kClimberBytes) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - kClimberBytes, kClimberBytes);
      if (dv.getUint32(0, true) === kClimberMagic) {
        climber = dv;
        sketch = bytes.subarray(0, bytes.length - kClimberBytes);
      }
    }
    let state: { window: number; protect: number; step: number; rate: number } | null = null;
    if (climber !== null) {
      const window = climber.getUint32(8, true);
      const protect = climber.getUint32(12, true);
      const step = climber.getFloat64(16, true);
      const rate = climber.getFloat64(24, true);
      if (!(window >= 1 && window < this.capacity && protect <= this.capacity - window && Number.isFinite(step) && rate >= 0 && rate <= 1)) {
        throw invalidValue('bytes', `a climber block with 1 ≤ window < capacity and protected ≤ capacity − window (window ${window}, protected ${protect}, step ${step}, hit rate ${rate})`, bytes);
      }
      if (climber.getUint32(4, true) === this.capacity) state = { window, protect, step, rate };
    }
    this.sketch.loadBytes(sketch, 'bytes');
    if (state !== null && this.count === 0) {
      this.windowMaximum = state.window;
      this.protectedMaximum = state.protect;
      this.stepSize = state.step;
      this.previousHitRate = state.rate;
    }
  }

  // ---- policy ------------------------------------------------------------------------------

  private recordMiss(): void {
    if (++this.sampleCount >= this.samplePeriod) this.climb();
  }

  /**
   * A hit only notes its slot; the sketch increment and the LRU move happen in `drainReads`, in
   * batches (Caffeine's read buffer, here without loss: it is drained before any write, removal
   * or climb, so the policy sees every read in order and decides exactly as if applied at once).
   */
  private recordHit(slot: number): void {
    const n = this.readCount;
    this.readBuffer[n] = slot;
    if ((this.readCount = n + 1) === kReadBufferSize) this.drainFull();
  }

  /** The read buffer filled: apply it, then run the climber if the sample is complete. */
  private drainFull(): void {
    this.drainReads();
    if (this.sampleCount >= this.samplePeriod) this.climb();
  }

  /**
   * Applies the noted hits in order: each counts in the sample; the sketch increment and the LRU
   * move are applied once per slot per batch (a key read again within the same 64 reads is
   * already at its queue's MRU end in all but order among those reads, and its 4-bit counters
   * saturate at 15 anyway), which halves the policy work on skewed streams.
   */
  private drainReads(): void {
    const n = this.readCount;
    this.readCount = 0;
    this.sampleHits += n;
    this.sampleCount += n;
    const buf = this.readBuffer;
    const hashes = this.hashes;
    const queue = this.queue;
    const seen = this.seen;
    const epoch = (this.drainEpoch = ((this.drainEpoch + 1) & 0x3fffffff) || 1);
    const sketch = this.sketch;
    let windowHits = 0;
    for (let i = 0; i < n; i++) {
      const slot = buf[i]!;
      if (queue[slot] === WINDOW) windowHits++;
      if (seen[slot] === epoch) continue;
      seen[slot] = epoch;
      sketch.increment(hashes[slot]!);
      this.onAccess(slot);
    }
    this.sampleWindowHits += windowHits;
  }

  /** LRU move within the window or protected; probation → protected (demoting protected overflow). */
  private onAccess(slot: number): void {
    const q = this.queue[slot]!;
    if (q === PROBATION) {
      this.unlink(slot);
      this.probationSize--;
      this.linkLast(PROTECTED, slot);
      this.protectedSize++;
      this.demoteFromProtected();
    } else {
      this.unlink(slot);
      this.linkLast(q, slot);
    }
  }

  private demoteFromProtected(): void {
    while (this.protectedSize > this.protectedMaximum) {
      const s = this.next[PROTECTED]!;
      this.unlink(s);
      this.protectedSize--;
      this.linkLast(PROBATION, s);
      this.probationSize++;
    }
  }

  private store(key: string, value: V | undefined, expiresAt: number, staleUntil: number, version: number, tags: readonly string[] | undefined): void {
    if (this.readCount !== 0) this.drainReads();
    this.sets++;
    const existing = this.index[key];
    if (staleUntil !== Infinity && this.clock() >= staleUntil) {
      if (existing !== undefined) this.removeSlot(key, existing);
      return;
    }
    if (existing !== undefined) {
      this.write(existing, value, expiresAt, staleUntil, version, tags);
      this.sketch.increment(this.hashes[existing]!);
      this.onAccess(existing);
      return;
    }
    const hash = hashKey(key);
    this.sketch.increment(hash);
    const slot = this.free[--this.freeTop]!;
    this.keys[slot] = key;
    this.write(slot, value, expiresAt, staleUntil, version, tags);
    this.hashes[slot] = hash;
    this.index[key] = slot;
    this.count++;
    this.linkLast(WINDOW, slot);
    this.windowSize++;
    this.evictEntries();
  }

  private write(slot: number, value: V | undefined, expiresAt: number, staleUntil: number, version: number, tags: readonly string[] | undefined): void {
    this.values[slot] = value;
    this.expiresAt[slot] = expiresAt;
    this.staleUntil[slot] = staleUntil;
    this.versions[slot] = version;
    if (tags !== undefined || this.tags !== undefined) {
      if (this.tags === undefined) this.tags = [];
      this.tags[slot] = tags;
    }
  }

  /**
   * Moves window overflow to probation, then, while over capacity, evicts the less frequent of
   * the newest candidate and the main victim (TinyLFU admission).
   */
  private evictEntries(): void {
    let candidate = -1;
    while (this.windowSize > this.windowMaximum) {
      const s = this.next[WINDOW]!;
      this.unlink(s);
      this.windowSize--;
      this.linkLast(PROBATION, s);
      this.probationSize++;
      if (candidate === -1) candidate = s;
    }
    while (this.count > this.capacity) this.evictOne(candidate);
  }

  /** Evicts one entry: with a candidate, the loser of candidate vs victim; else the main (or window) LRU. */
  private evictOne(candidate = -1): void {
    let victim = this.next[PROBATION]!;
    if (victim === candidate) victim = this.next[candidate]!; // the candidate is probation's LRU: the next one is the victim
    if (victim === PROBATION) victim = this.next[PROTECTED]!;
    if (victim === PROTECTED) victim = this.next[WINDOW]!;
    if (victim === WINDOW) victim = candidate;
    if (candidate !== -1 && victim !== candidate) {
      if (!this.admit(this.hashes[candidate]!, this.hashes[victim]!)) {
        this.admissionsRejected++;
        victim = candidate;
      }
    }
    this.evictions++;
    this.removeSlot(this.keys[victim]!, victim);
  }

  /** TinyLFU §4: admit the candidate when it is more frequent than the victim (plus Caffeine's random guard). */
  private admit(candidateHash: number, victimHash: number): boolean {
    const c = this.sketch.frequency(candidateHash);
    const v = this.sketch.frequency(victimHash);
    if (c > v) return true;
    if (c >= kAdmitWarmThreshold) {
      let x = this.rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.rng = x;
      return (x & 127) === 0;
    }
    return false;
  }

  private expire(key: string, slot: number): void {
    if (this.readCount !== 0) this.drainReads();
    this.expirations++;
    this.removeSlot(key, slot);
  }

  private removeSlot(key: string, slot: number): void {
    const q = this.queue[slot]!;
    if (q === WINDOW) this.windowSize--;
    else if (q === PROBATION) this.probationSize--;
    else this.protectedSize--;
    this.unlink(slot);
    delete this.index[key];
    this.count--;
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    if (this.tags !== undefined) this.tags[slot] = undefined;
    this.free[this.freeTop++] = slot;
  }

  /**
   * Caffeine's hit-rate hill climber (`WindowClimber`'s reactive law; `determineAdjustment` in
   * older `BoundedLocalCache`): once per sample, keep the direction when the sample's hit rate
   * matched or beat the previous one, reverse otherwise; decay the step toward convergence and
   * re-seed it at full size when the hit rate moved by ≥ 5 points (a workload change).
   */
  private climb(): void {
    if (this.readCount !== 0) this.drainReads();
    if (!this.filled) {
      // Still filling: the hit rate of a cold cache rises whatever the window does. Look again
      // after `capacity` requests; the first sample starts once the cache is full.
      this.resetSample();
      this.filled = this.count >= this.capacity;
      this.fullSamplePeriod = this.sketch.sampleSize;
      this.samplePeriod = Math.min(this.capacity, this.sketch.sampleSize);
      return;
    }
    // The opening move is taken early, on the step alone: it grows the window whatever the
    // sample says, and a 10 × capacity sample at a 1% window costs a recency-only trace its hits
    // (corda at 1,024 entries: 30.76% → 32.95%). A large cache (> 512 entries) opens at the first
    // look, a small one after 3 × capacity requests (corda at 256: 32.09% → 32.53%; opening small
    // caches at the first look cost gli at 250 and cs at 300 3–8 points).
    const opening = this.climbs === 0 && (this.capacity > kSlowAdaptMaximum || this.sampleCount >= kSmallOpeningLooks * this.capacity);
    if (this.sampleCount < this.fullSamplePeriod && !opening) {
      // Early look after `capacity` requests: close the sample only when the window earned
      // 16× the main space's hits outright (a recency-only workload); else finish it.
      if (this.sampleWindowHits < 16 * (this.sampleHits - this.sampleWindowHits + 1)) {
        const openingLook = kSmallOpeningLooks * this.capacity;
        this.samplePeriod = this.climbs === 0 && this.sampleCount < openingLook ? Math.min(this.fullSamplePeriod, openingLook) : this.fullSamplePeriod;
        return;
      }
    }
    const hitRate = this.sampleHits / this.sampleCount;
    const change = hitRate - this.previousHitRate;
    let amount = change >= 0 ? this.stepSize : -this.stepSize;
    this.stepSize = Math.abs(change) >= kRestartThreshold
      ? Math.sign(amount || 1) * restartStep(this.capacity)
      : (this.capacity <= kSlowAdaptMaximum ? kSlowStepDecay : kStepDecay) * amount;
    // Hits per slot in each region this sample (+1: a region without hits still compares).
    const windowDensity = (this.sampleWindowHits + 1) / this.windowMaximum;
    const mainDensity = (this.sampleHits - this.sampleWindowHits + 1) / Math.max(1, this.capacity - this.windowMaximum);
    const error = Math.log(windowDensity / mainDensity);
    if (Math.abs(error) >= kDensityVerdictLog && !opening) {
      const limit = kMaxStepPercent * this.capacity;
      amount = Math.max(-limit, Math.min(limit, error * kDensityGain * this.capacity));
    }
    this.previousHitRate = hitRate;
    this.resetSample();
    this.fullSamplePeriod = samplePeriod(this.capacity, this.sketch.sampleSize, this.stepSize);
    this.samplePeriod = Math.min(this.capacity, this.fullSamplePeriod);
    this.climbs++;
    const quota = Math.trunc(amount);
    this.demoteFromProtected();
    if (quota > 0) this.increaseWindow(quota);
    else if (quota < 0) this.decreaseWindow(-quota);
  }

  private resetSample(): void {
    // Hits and misses are counted in the sample only (one increment per lookup); totals fold in here.
    this.hits += this.sampleHits;
    this.misses += this.sampleCount - this.sampleHits;
    this.sampleHits = 0;
    this.sampleWindowHits = 0;
    this.sampleCount = 0;
  }

  /**
   * Grows the window by up to `quota` slots taken from protected's maximum, moving main LRU
   * entries into it; what could not be moved goes back to protected (Caffeine's increaseWindow).
   */
  private increaseWindow(quota: number): void {
    let q = Math.min(quota, this.protectedMaximum);
    if (q <= 0) return;
    this.protectedMaximum -= q;
    this.windowMaximum += q;
    this.demoteFromProtected();
    while (q > 0) {
      let s = this.next[PROBATION]!;
      if (s !== PROBATION) this.probationSize--;
      else {
        s = this.next[PROTECTED]!;
        if (s === PROTECTED) break;
        this.protectedSize--;
      }
      this.unlink(s);
      this.linkLast(WINDOW, s);
      this.windowSize++;
      q--;
    }
    this.protectedMaximum += q;
    this.windowMaximum -= q;
  }

  /**
   * Shrinks the window by up to `quota` slots (never below 1), moving window LRU entries to
   * probation; slots the window did not hold go back to it (Caffeine's decreaseWindow).
   */
  private decreaseWindow(quota: number): void {
    let q = Math.min(quota, this.windowMaximum - 1);
    if (q <= 0) return;
    this.windowMaximum -= q;
    this.protectedMaximum += q;
    while (q > 0) {
      const s = this.next[WINDOW]!;
      if (s === WINDOW) break;
      this.unlink(s);
      this.windowSize--;
      this.linkLast(PROBATION, s);
      this.probationSize++;
      q--;
    }
    this.protectedMaximum -= q;
    this.windowMaximum += q;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    this.next[p] = n;
    this.prev[n] = p;
  }

  /** Appends `slot` at the MRU end of queue `q` (the sentinel's prev). */
  private linkLast(q: number, slot: number): void {
    const last = this.prev[q]!;
    this.next[last] = slot;
    this.prev[slot] = last;
    this.next[slot] = q;
    this.prev[q] = slot;
    this.queue[slot] = q;
  }
}
