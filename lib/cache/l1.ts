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
 * - Every 10 × capacity lookups the hill climber compares the sample's hit rate with the
 *   previous one and moves the window size by a step (6.25% of capacity, decaying ×0.98 per
 *   sample, restarted when the hit rate moves by ≥ 5 points), in the direction that helped:
 *   recency-heavy workloads (the corda trace) grow the window toward LRU, frequency-heavy ones
 *   shrink it toward LFU.
 *
 * Storage: nodes are slots in typed arrays (prev/next links, queue id, the key's hash computed
 * once on insert), found through one `Map<string, slot>`; no per-entry object besides the
 * `CacheEntry` itself. Expiry: `get` returns fresh values only; no read returns an entry past
 * its `staleUntil`, and the clock is read only for entries that have a finite TTL.
 */
import { invalidRange, invalidType } from '../errors.js';
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
  return capacity <= kSlowAdaptMaximum ? restartStep(capacity) : -restartStep(capacity);
}

/** Candidates at least this frequent are admitted 1 time in 128 even when they lose (Caffeine's hash-flooding guard). */
const kAdmitWarmThreshold = 6;
/** Largest `maxEntries`: the typed arrays index slots with int32. */
export const kMaxL1Entries = 1 << 26;

/**
 * W-TinyLFU cache of JS values (no serialization), the `l1` level of `TieredCache`.
 * Synchronous and single-threaded (one per thread). Values are kept by reference; the
 * `CacheEntry` objects passed to `setEntry` are stored as given and returned by `getEntry`,
 * so treat them as immutable.
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
  private readonly map = new Map<string, number>();
  private readonly keys: (string | undefined)[];
  private readonly entries: (CacheEntry<V> | undefined)[];
  private readonly hashes: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly queue: Uint8Array;
  private freeTop = 0;
  private readonly free: Int32Array;

  private windowSize = 0;
  private protectedSize = 0;
  private probationSize = 0;
  private windowMaximum: number;
  private protectedMaximum: number;

  // Hill climber state (Caffeine's determineAdjustment).
  private sampleHits = 0;
  private sampleCount = 0;
  private previousHitRate = 0;
  private stepSize: number;
  private samplePeriod: number;
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
    this.entries = new Array<CacheEntry<V> | undefined>(slots).fill(undefined);
    this.hashes = new Int32Array(slots);
    this.prev = new Int32Array(slots);
    this.next = new Int32Array(slots);
    this.queue = new Uint8Array(slots);
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
    this.samplePeriod = this.sketch.sampleSize;
  }

  /** Live entries (expired ones count until a read or an eviction drops them). */
  get size(): number {
    return this.map.size;
  }

  /**
   * The fresh value of `key`, or `undefined` when absent, stale, expired, or a cached miss
   * (use `getEntry` to tell a cached miss). Counts a hit or a miss and feeds the policy.
   */
  get(key: string): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) {
      this.recordMiss();
      return undefined;
    }
    const e = this.entries[slot]!;
    if (e.expiresAt !== Infinity) {
      const now = this.clock();
      if (now >= e.expiresAt) {
        if (now >= e.staleUntil) this.expire(key, slot);
        this.recordMiss();
        return undefined;
      }
    }
    this.recordHit(slot);
    return e.value;
  }

  /** True when `get(key)` would find a fresh entry (a cached miss included). No policy or stats effect. */
  has(key: string): boolean {
    const slot = this.map.get(key);
    if (slot === undefined) return false;
    const e = this.entries[slot]!;
    return e.expiresAt === Infinity || this.clock() < e.expiresAt;
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
    this.store(key, { value, expiresAt, staleUntil: expiresAt, version: 0 });
  }

  /** The entry of `key` (fresh or stale), or `undefined` when absent or past `staleUntil`. Counts a hit or miss. */
  getEntry(key: string): CacheEntry<V> | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) {
      this.recordMiss();
      return undefined;
    }
    const e = this.entries[slot]!;
    if (e.staleUntil !== Infinity && this.clock() >= e.staleUntil) {
      this.expire(key, slot);
      this.recordMiss();
      return undefined;
    }
    this.recordHit(slot);
    return e;
  }

  /** Stores `entry` as given (not copied). An entry already past its `staleUntil` removes the key instead. */
  setEntry(key: string, entry: CacheEntry<V>): void {
    checkKey(key);
    if (entry === null || typeof entry !== 'object') throw invalidType('entry', 'a CacheEntry object', entry);
    const { expiresAt, staleUntil } = entry;
    if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) throw invalidType('entry.expiresAt', 'a number (ms epoch or Infinity)', expiresAt);
    if (typeof staleUntil !== 'number' || !(staleUntil >= expiresAt)) throw invalidRange('entry.staleUntil', `a number ≥ entry.expiresAt (${expiresAt})`, staleUntil);
    this.store(key, entry);
  }

  /** Removes `key`; true when it was present. */
  delete(key: string): boolean {
    const slot = this.map.get(key);
    if (slot === undefined) return false;
    this.deletes++;
    this.removeSlot(key, slot);
    return true;
  }

  /** Removes every entry and resets the counters, the sketch and the window. */
  clear(): void {
    for (const slot of this.map.values()) {
      this.keys[slot] = undefined;
      this.entries[slot] = undefined;
    }
    this.map.clear();
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
    this.samplePeriod = this.sketch.sampleSize;
    this.sampleHits = this.sampleCount = this.previousHitRate = this.climbs = 0;
    this.sketch.clear();
    this.hits = this.misses = this.sets = this.deletes = this.evictions = this.expirations = this.admissionsRejected = 0;
  }

  /** Counters and the W-TinyLFU state. */
  stats(): L1Stats {
    const lookups = this.hits + this.misses;
    return {
      name: 'l1',
      hits: this.hits,
      misses: this.misses,
      hitRatio: lookups === 0 ? 0 : this.hits / lookups,
      sets: this.sets,
      deletes: this.deletes,
      evictions: this.evictions,
      expirations: this.expirations,
      size: this.map.size,
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
  hotKeys(limit = this.map.size): string[] {
    if (typeof limit !== 'number' || !(limit >= 0)) throw invalidRange('limit', 'a number ≥ 0', limit);
    const now = this.clock();
    const slots: number[] = [];
    const rank = new Map<number, number>();
    let r = 0;
    for (const q of [PROTECTED, PROBATION, WINDOW]) {
      for (let s = this.prev[q]!; s !== q; s = this.prev[s]!) {
        const e = this.entries[s]!;
        if (e.staleUntil !== Infinity && now >= e.staleUntil) continue;
        slots.push(s);
        rank.set(s, r++);
      }
    }
    const freq = new Map<number, number>();
    for (const s of slots) freq.set(s, this.sketch.frequency(this.hashes[s]!));
    slots.sort((a, b) => freq.get(b)! - freq.get(a)! || rank.get(a)! - rank.get(b)!);
    return slots.slice(0, Math.floor(limit)).map((s) => this.keys[s]!);
  }

  /** The frequency sketch's counters as bytes (`FrequencySketch.toBytes`), for the warmer to persist. */
  sketchState(): Uint8Array {
    return this.sketch.toBytes();
  }

  /** Loads counters saved by `sketchState()` of a cache of the same capacity class; throws naming `bytes` otherwise. */
  loadSketch(bytes: Uint8Array): void {
    this.sketch.loadBytes(bytes, 'bytes');
  }

  // ---- policy ------------------------------------------------------------------------------

  private recordMiss(): void {
    this.misses++;
    if (++this.sampleCount >= this.samplePeriod) this.climb();
  }

  private recordHit(slot: number): void {
    this.hits++;
    this.sampleHits++;
    this.sketch.increment(this.hashes[slot]!);
    this.onAccess(slot);
    if (++this.sampleCount >= this.samplePeriod) this.climb();
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

  private store(key: string, entry: CacheEntry<V>): void {
    this.sets++;
    const existing = this.map.get(key);
    if (entry.staleUntil !== Infinity && this.clock() >= entry.staleUntil) {
      if (existing !== undefined) this.removeSlot(key, existing);
      return;
    }
    if (existing !== undefined) {
      this.entries[existing] = entry;
      this.sketch.increment(this.hashes[existing]!);
      this.onAccess(existing);
      return;
    }
    const hash = hashKey(key);
    this.sketch.increment(hash);
    const slot = this.free[--this.freeTop]!;
    this.keys[slot] = key;
    this.entries[slot] = entry;
    this.hashes[slot] = hash;
    this.map.set(key, slot);
    this.linkLast(WINDOW, slot);
    this.windowSize++;
    this.evictEntries();
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
    while (this.map.size > this.capacity) this.evictOne(candidate);
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
    this.expirations++;
    this.removeSlot(key, slot);
  }

  private removeSlot(key: string, slot: number): void {
    const q = this.queue[slot]!;
    if (q === WINDOW) this.windowSize--;
    else if (q === PROBATION) this.probationSize--;
    else this.protectedSize--;
    this.unlink(slot);
    this.map.delete(key);
    this.keys[slot] = undefined;
    this.entries[slot] = undefined;
    this.free[this.freeTop++] = slot;
  }

  /**
   * Caffeine's hit-rate hill climber (`WindowClimber`'s reactive law; `determineAdjustment` in
   * older `BoundedLocalCache`): once per sample, keep the direction when the sample's hit rate
   * matched or beat the previous one, reverse otherwise; decay the step toward convergence and
   * re-seed it at full size when the hit rate moved by ≥ 5 points (a workload change).
   */
  private climb(): void {
    const hitRate = this.sampleHits / this.sampleCount;
    const change = hitRate - this.previousHitRate;
    const amount = change >= 0 ? this.stepSize : -this.stepSize;
    this.stepSize = Math.abs(change) >= kRestartThreshold
      ? Math.sign(amount || 1) * restartStep(this.capacity)
      : (this.capacity <= kSlowAdaptMaximum ? kSlowStepDecay : kStepDecay) * amount;
    this.previousHitRate = hitRate;
    this.sampleHits = 0;
    this.sampleCount = 0;
    this.samplePeriod = samplePeriod(this.capacity, this.sketch.sampleSize, this.stepSize);
    this.climbs++;
    const quota = Math.trunc(amount);
    this.demoteFromProtected();
    if (quota > 0) this.increaseWindow(quota);
    else if (quota < 0) this.decreaseWindow(-quota);
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
