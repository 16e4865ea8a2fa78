/**
 * `TieredCache` (DESIGN.md "Tiered cache"): up to four levels walked in order — L1 (JS heap,
 * per thread), L2 (shared memory, per process), L3 (Redis, per fleet, also the fleet's
 * coordinator) and L4 (LMDB, per host) — behind one get/set API, with single flight and a
 * fleet-wide lease on loads, stale-while-revalidate, stale-if-error and negative caching.
 * Each level is an instance of the interfaces in types.ts; this file only orchestrates them.
 *
 * Correctness rules it keeps (and test/cache-tiered-model.test.ts checks against a Map):
 * - A read returns only fresh entries (`now < expiresAt`) whose tags were not deleted since
 *   they were written; stale ones are served only by `getOrLoad` (SWR, stale-if-error).
 * - Every write gets a version (wall-clock ms × 1024 plus a counter, bumped past every version
 *   seen from the fleet: a Lamport clock), so an invalidation older than a held copy is ignored.
 * - A value read from a slower level is promoted into the faster ones only if no write, delete
 *   or invalidation of that key happened in this process since the read began (`gen_`), so a
 *   slow read can never put an overwritten value back into L1/L2.
 * - A value the codec cannot encode is refused before any level is written.
 * - A level that fails is skipped (one warning per outage); writes it missed are deleted from
 *   it when it is back, so it cannot serve them later.
 */
import { performance } from 'node:perf_hooks';

import { UltraPerfError, invalidType, invalidValue } from '../errors.js';
import { type OptionCheck, defineOptions, readOptions } from '../internal/options.js';
import { LatencyHistogram, type LatencySummary } from '../monitor/histogram.js';
import { type Codec, msgpackCodec } from '../net/codec.js';

import { encodeEntry } from './entry-codec.js';
import { CacheLoadTimeoutError } from './errors.js';
import { checkKey, checkKeys, checkTtl } from './keys.js';
import { L1Cache } from './l1.js';
import { SingleFlight } from './single-flight.js';
import {
  type AsyncLevel,
  type CacheEntry,
  type Clock,
  type FleetCoordinator,
  type LevelName,
  type LevelStats,
  type SyncLevel,
  systemClock,
} from './types.js';

/** How other processes learn of writes: L3's pub/sub with versions, RESP3 client tracking, or not at all. */
export type CacheCoherency = 'none' | 'pubsub' | 'tracking';

export interface TieredCacheOptions<V> {
  /** Names the cache in warnings, stats and metric labels. Non-empty. */
  name: string;
  /** Per-thread level (JS values). Default `new L1Cache({ clock })` (1,000 entries); `false` for none. */
  l1?: SyncLevel<V> | false;
  /** Shared-memory level (worker_threads of one process). */
  l2?: SyncLevel<V>;
  /** Fleet level and coordinator (Redis): leases for getOrLoad, invalidation of other processes. */
  l3?: AsyncLevel<V> & FleetCoordinator;
  /** Host level (LMDB). */
  l4?: AsyncLevel<V>;
  /** The codec the byte levels use; `set` checks a value encodes before writing any level. Default msgpackCodec(). */
  codec?: Codec<V>;
  /** TTL of `set`/`getOrLoad` without `ttlMs`. Default Infinity (no expiry). */
  defaultTtlMs?: number;
  /**
   * Stale-while-revalidate window (RFC 5861): for this long past its TTL, getOrLoad serves an
   * entry at once and refreshes it once in the background. Default 0.
   */
  staleWhileRevalidateMs?: number;
  /**
   * Stale-if-error window (RFC 5861): for this long past its TTL (and past the SWR window),
   * getOrLoad loads in the foreground and, when the loader throws or times out, serves the
   * stale entry instead of rejecting. Default 0.
   */
  staleIfErrorMs?: number;
  /** A loader running longer fails with CacheLoadTimeoutError (> 0, or Infinity). Default Infinity. */
  loadTimeoutMs?: number;
  /** How long a fleet lease on a load lasts (> 0, finite). Default loadTimeoutMs when finite, else 10,000. */
  leaseTtlMs?: number;
  /** Default 'pubsub' with an l3, else 'none'. */
  coherency?: CacheCoherency;
  /** Wall clock in ms (expiries cross processes). Default Date.now. */
  clock?: Clock;
}

export interface CacheSetOptions {
  /** TTL in ms (≥ 0 or Infinity). Default: the cache's defaultTtlMs. */
  ttlMs?: number;
  /** Tags for deleteByTag. */
  tags?: readonly string[];
}

export interface GetOrLoadOptions extends CacheSetOptions {}

/** A loader: the value for `key`, or `undefined` for "not found" (cached as a miss). */
export type CacheLoader<V> = (key: string) => V | undefined | Promise<V | undefined>;

/** One level as TieredCache sees it. */
export interface TieredLevelStats {
  name: LevelName;
  /** False while the level is failing (or its connection is down). */
  up: boolean;
  /** Fresh entries found at this level by TieredCache lookups. */
  hits: number;
  /** Lookups that reached this level and found nothing fresh there. */
  misses: number;
  hitRatio: number;
  /** Errors the level raised (each answered by the other levels). */
  errors: number;
  evictions: number;
  /** W-TinyLFU admissions rejected, when the level reports it (L1). */
  admissionsRejected: number | undefined;
  /** W-TinyLFU window size, when the level reports it (L1). */
  windowSize: number | undefined;
  size: number;
  capacity: number;
  /**
   * Get/set latency in ns. L1/L2 (synchronous): one call in 256 is timed, so getSync stays a
   * map lookup; L3/L4: every call (its network/disk time dwarfs the timer's ~30 ns).
   */
  getLatency: LatencySummary;
  setLatency: LatencySummary;
  /** The level's own stats (its extras included). */
  level: LevelStats;
}

export interface TieredCacheStats {
  name: string;
  hits: number;
  misses: number;
  hitRatio: number;
  /** Loader calls made by this process. */
  loaderCalls: number;
  /** getOrLoad calls that shared a load already running in this process. */
  singleFlightJoins: number;
  /** getOrLoad calls that waited on another process's lease instead of loading. */
  leaseWaits: number;
  /** Stale values served (stale-while-revalidate or stale-if-error). */
  staleServed: number;
  /** Loader failures (throws and timeouts). */
  loadErrors: number;
  loadTimeouts: number;
  /** Invalidations received from other processes (keys). */
  invalidationsReceived: number;
  levels: TieredLevelStats[];
}

export interface TieredCacheStatus extends TieredCacheStats {
  coherency: CacheCoherency;
  defaultTtlMs: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  loadTimeoutMs: number;
  closed: boolean;
}

/** Keys starting with U+0000 are the cache's own records (tag versions, clear markers); user keys may not. */
const kReservedPrefix = '\u0000';
const kTagPrefix = '\u0000tag:';
const kClearKey = '\u0000clear';
/** getSync/sync-level timing: one call in this many is timed. */
const kSyncSampleEvery = 256;
/** Bounds on bookkeeping maps; past them we fall back to a conservative rule (see each use). */
const kMaxTouched = 10_000;
const kMaxTagVersions = 100_000;
const kMaxPendingDeletes = 100_000;
/** SharedCache.setEntry's code for a value (plus key) larger than its slots. */
const kValueTooLarge = 'ERR_ULTRA_PERF_CACHE_VALUE_TOO_LARGE';

type AnyLevel<V> = SyncLevel<V> | AsyncLevel<V>;

/** What a load settles with: the value, and whether it is a stale one served because the loader failed. */
interface Loaded<V> {
  value: V | undefined;
  stale: boolean;
}

class LevelState<V> {
  up = true;
  hits = 0;
  misses = 0;
  errors = 0;
  readonly getLatency = new LatencyHistogram();
  readonly setLatency = new LatencyHistogram();
  /** Keys written or deleted while the level was failing: deleted from it when it is back. */
  readonly pending = new Set<string>();
  pendingOverflow = false;
  /** The level reports its connection state (onStateChange), so calls are skipped while it is down. */
  reportsState = false;
  constructor(readonly level: AnyLevel<V>, readonly isAsync: boolean) {}
}

/**
 * getOrLoad waited on another process's load lease and the holder released it without a value
 * (its loader threw or timed out). Code ERR_ULTRA_PERF_CACHE_LOAD_FAILED. The waiter does not
 * call its own loader, so a failing backend sees one call per key across the fleet.
 */
export class CacheLoadFailedElsewhereError extends UltraPerfError {
  readonly key: string;
  constructor(key: string) {
    super(
      'ERR_ULTRA_PERF_CACHE_LOAD_FAILED',
      `the process holding the load lease for key ${JSON.stringify(key)} released it without a value (its loader failed)`,
    );
    this.key = key;
  }
}

/** The cache was closed. Code ERR_ULTRA_PERF_CACHE_CLOSED. */
export class CacheClosedError extends UltraPerfError {
  constructor(name: string) {
    super('ERR_ULTRA_PERF_CACHE_CLOSED', `cache ${JSON.stringify(name)} is closed`);
  }
}

function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (value === null || typeof value !== 'object') return false;
  for (const n of names) if (typeof (value as Record<string, unknown>)[n] !== 'function') return false;
  return true;
}

const kSyncMethods = ['getEntry', 'setEntry', 'delete', 'clear', 'stats'];
const kAsyncMethods = ['getEntry', 'getEntries', 'setEntry', 'setEntries', 'delete', 'clear', 'stats', 'close'];
const kFleetMethods = ['acquireLease', 'releaseLease', 'waitForLease', 'publishInvalidation', 'onInvalidate'];

function levelCheck(slot: LevelName, what: string, methods: readonly string[], allowFalse: boolean): OptionCheck {
  return (value, argument) => {
    if (allowFalse && value === false) return value;
    if (!hasMethods(value, methods)) throw invalidType(argument, `${what}${allowFalse ? ' or false' : ''}`, value);
    const name = (value as { name?: unknown }).name;
    if (name !== slot) throw invalidValue(argument, `a level named '${slot}' (level.name is ${JSON.stringify(name)})`, value);
    return value;
  };
}

const msCheck = (what: string, ok: (v: number) => boolean): OptionCheck => (value, argument) => {
  if (typeof value !== 'number') throw invalidType(argument, `a number of milliseconds`, value);
  if (!ok(value)) throw invalidValue(argument, what, value);
  return value;
};

const kSchema = defineOptions('TieredCache', {
  name: {
    check: (value, argument) => {
      if (typeof value !== 'string' || value.length === 0) throw invalidType(argument, 'a non-empty string naming the cache', value);
      return value;
    },
    always: true,
  },
  l1: { check: levelCheck('l1', 'a SyncLevel (getEntry, setEntry, delete, clear, stats)', kSyncMethods, true) },
  l2: { check: levelCheck('l2', 'a SyncLevel (getEntry, setEntry, delete, clear, stats)', kSyncMethods, false) },
  l3: { check: levelCheck('l3', 'an AsyncLevel that is also a FleetCoordinator (RedisLevel)', [...kAsyncMethods, ...kFleetMethods], false) },
  l4: { check: levelCheck('l4', 'an AsyncLevel (getEntry, getEntries, setEntry, setEntries, delete, clear, stats, close)', kAsyncMethods, false) },
  codec: {
    check: (value, argument) => {
      if (!hasMethods(value, ['encode', 'decode'])) throw invalidType(argument, 'a Codec (lib/net: msgpackCodec(), jsonCodec(), ...)', value);
      return value;
    },
  },
  defaultTtlMs: { check: (value, argument) => (checkTtl(value, argument), value), default: Infinity },
  staleWhileRevalidateMs: { check: (value, argument) => (checkTtl(value, argument), value), default: 0 },
  staleIfErrorMs: { check: (value, argument) => (checkTtl(value, argument), value), default: 0 },
  loadTimeoutMs: { check: msCheck('a number of milliseconds > 0, or Infinity', (v) => v > 0), default: Infinity },
  leaseTtlMs: { check: msCheck('a finite number of milliseconds > 0', (v) => v > 0 && v < Infinity) },
  coherency: {
    check: (value, argument) => {
      if (value !== 'none' && value !== 'pubsub' && value !== 'tracking') throw invalidValue(argument, "'none', 'pubsub' or 'tracking'", value);
      return value;
    },
  },
  clock: {
    check: (value, argument) => {
      if (typeof value !== 'function') throw invalidType(argument, 'a function returning ms since the epoch', value);
      return value;
    },
    default: systemClock,
  },
});

function checkTags(tags: unknown, argument: string): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags)) throw invalidType(argument, 'an array of strings', tags);
  for (let i = 0; i < tags.length; i++) {
    const t: unknown = tags[i];
    if (typeof t !== 'string' || t.length === 0) throw invalidType(`${argument}[${i}]`, 'a non-empty string', t);
  }
  return tags.length === 0 ? undefined : (tags as string[]);
}

function noop(): void {}

/**
 * A cache over up to four levels. Lookups walk L1 → L2 → L3 → L4 and promote a hit into
 * the faster levels; writes go through to every level; `getOrLoad` loads a missing key once
 * per process (single flight) and, with an L3, once per fleet (a lease).
 *
 * @example
 * const cache = new TieredCache<Quote>({ name: 'quotes', l1: new L1Cache(), l4: await LmdbLevel.open({ path }), defaultTtlMs: 5_000 });
 * await cache.set('AAPL', quote, { tags: ['equities'] });
 * cache.getSync('AAPL');                                   // from L1, no await
 * const q = await cache.getOrLoad('MSFT', (k) => fetchQuote(k), { ttlMs: 1_000 });
 * await cache.deleteByTag('equities');
 */
export class TieredCache<V = unknown> {
  readonly name: string;
  readonly coherency: CacheCoherency;
  readonly defaultTtlMs: number;
  readonly staleWhileRevalidateMs: number;
  readonly staleIfErrorMs: number;
  readonly loadTimeoutMs: number;
  readonly leaseTtlMs: number;

  private readonly clock_: Clock;
  /** How long entries are kept past their TTL: the longer of the two stale windows. */
  private readonly staleMs_: number;
  private readonly codec_: Codec<V>;
  private readonly l1_: SyncLevel<V> | null;
  private readonly l2_: SyncLevel<V> | null;
  private readonly l3_: (AsyncLevel<V> & FleetCoordinator) | null;
  private readonly l4_: AsyncLevel<V> | null;
  private readonly s1_: LevelState<V> | null;
  private readonly s2_: LevelState<V> | null;
  private readonly s3_: LevelState<V> | null;
  private readonly s4_: LevelState<V> | null;
  private readonly states_: LevelState<V>[];
  private readonly asyncStates_: LevelState<V>[];
  /** A byte level exists, so values must encode. */
  private readonly checksEncoding_: boolean;

  private lastVersion_ = 0;
  /** Bumped by every local write/delete and every invalidation; see the file comment. */
  private gen_ = 0;
  private readonly touched_ = new Map<string, number>();
  private touchedAll_ = 0;
  /** Operations holding a `gen_` snapshot; at 0 the touched map can be emptied. */
  private pendingOps_ = 0;
  /**
   * Keys whose write or delete has not reached every async level yet (count of such writes),
   * and clears not finished: a read may still find the old copy in L3/L4 then, so it is not
   * promoted (see promote()).
   */
  private readonly writing_ = new Map<string, number>();
  private clearing_ = 0;
  /** deleteByTag versions (0 = never deleted); from this process, the fleet's invalidations, or L3/L4 markers. */
  private readonly tagVersions_ = new Map<string, number>();
  /** L4 entries older than this may have missed invalidations while L3 was away: not served while L3 is up. */
  private suspectBelow_ = 0;

  private readonly flights_ = new SingleFlight<string, Loaded<V>>();
  /** Loaded values being written to the levels (close() waits for these, not for loaders). */
  private readonly stores_ = new Set<Promise<void>>();
  private syncSample_ = kSyncSampleEvery;
  private readonly unsubscribe_: (() => void)[] = [];
  private closed_ = false;

  private hits_ = 0;
  private misses_ = 0;
  private loaderCalls_ = 0;
  private leaseWaits_ = 0;
  private staleServed_ = 0;
  private loadErrors_ = 0;
  private loadTimeouts_ = 0;
  private invalidationsReceived_ = 0;

  constructor(options: TieredCacheOptions<V>) {
    const o = readOptions(kSchema, options, { required: true, what: 'an options object for TieredCache' });
    this.name = o.name as string;
    this.clock_ = o.clock as Clock;
    this.codec_ = (o.codec as Codec<V> | undefined) ?? msgpackCodec<V>();
    this.defaultTtlMs = o.defaultTtlMs as number;
    this.staleWhileRevalidateMs = o.staleWhileRevalidateMs as number;
    this.staleIfErrorMs = o.staleIfErrorMs as number;
    this.staleMs_ = Math.max(this.staleWhileRevalidateMs, this.staleIfErrorMs);
    this.loadTimeoutMs = o.loadTimeoutMs as number;
    this.leaseTtlMs = (o.leaseTtlMs as number | undefined) ?? (this.loadTimeoutMs < Infinity ? this.loadTimeoutMs : 10_000);
    // Without `l1` the cache gets the default L1 (1,000 entries, W-TinyLFU) on its clock; `false` means none.
    const l1 = o.l1 as SyncLevel<V> | false | undefined;
    this.l1_ = l1 === undefined ? new L1Cache<V>({ clock: this.clock_ }) : l1 || null;
    this.l2_ = (o.l2 as SyncLevel<V> | undefined) ?? null;
    this.l3_ = (o.l3 as (AsyncLevel<V> & FleetCoordinator) | undefined) ?? null;
    this.l4_ = (o.l4 as AsyncLevel<V> | undefined) ?? null;
    const coherency = o.coherency as CacheCoherency | undefined;
    if (coherency !== undefined && coherency !== 'none' && this.l3_ === null) {
      throw invalidValue('options.coherency', "'none' without an l3 (coherency travels through L3)", coherency);
    }
    this.coherency = coherency ?? (this.l3_ !== null ? 'pubsub' : 'none');
    this.s1_ = this.l1_ === null ? null : new LevelState(this.l1_, false);
    this.s2_ = this.l2_ === null ? null : new LevelState(this.l2_, false);
    this.s3_ = this.l3_ === null ? null : new LevelState(this.l3_, true);
    this.s4_ = this.l4_ === null ? null : new LevelState(this.l4_, true);
    this.states_ = [this.s1_, this.s2_, this.s3_, this.s4_].filter((s): s is LevelState<V> => s !== null);
    this.asyncStates_ = [this.s3_, this.s4_].filter((s): s is LevelState<V> => s !== null);
    this.checksEncoding_ = this.l2_ !== null || this.l3_ !== null || this.l4_ !== null;

    for (const s of this.asyncStates_) this.watchState(s);
    if (this.l3_ !== null) {
      // L4 copies written before we could hear the fleet's invalidations are not trusted while L3 answers.
      this.suspectBelow_ = this.nextVersion();
      if (this.coherency !== 'none') {
        this.unsubscribe_.push(this.l3_.onInvalidate((keys, version) => this.onInvalidate(keys, version)));
      }
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  /**
   * The fresh value of `key` from L1 or L2, without awaiting (an L2 hit is promoted into L1);
   * `undefined` on a miss, a cached miss, or when only slower levels hold it.
   * @example
   * const q = cache.getSync('AAPL') ?? (await cache.get('AAPL'));
   */
  getSync(key: string): V | undefined {
    checkKey(key);
    if (--this.syncSample_ === 0) return this.getSyncTimed(key);
    const l1 = this.l1_;
    if (l1 !== null) {
      const e = this.readSync(this.s1_!, key);
      // The clock is read only for entries that expire (Date.now is a third of an L1 hit).
      if (e !== undefined && (e.expiresAt === Infinity || this.clock_() < e.expiresAt) && (e.tags === undefined || this.tagsLive(e))) {
        this.s1_!.hits++;
        this.hits_++;
        return e.value;
      }
      this.s1_!.misses++;
    }
    const l2 = this.l2_;
    if (l2 !== null) {
      const e = this.readSync(this.s2_!, key);
      if (e !== undefined && (e.expiresAt === Infinity || this.clock_() < e.expiresAt) && (e.tags === undefined || this.tagsLive(e))) {
        this.s2_!.hits++;
        this.hits_++;
        if (l1 !== null) this.writeSyncLevel(this.s1_!, key, e);
        return e.value;
      }
      this.s2_!.misses++;
    }
    this.misses_++;
    return undefined;
  }

  /** getSync with each sync level's lookup timed (one call in kSyncSampleEvery). */
  private getSyncTimed(key: string): V | undefined {
    this.syncSample_ = kSyncSampleEvery;
    const now = this.clock_();
    for (const s of [this.s1_, this.s2_]) {
      if (s === null) continue;
      const t0 = performance.now();
      const e = this.readSync(s, key);
      s.getLatency.record((performance.now() - t0) * 1e6);
      if (e !== undefined && now < e.expiresAt && (e.tags === undefined || this.tagsLive(e))) {
        s.hits++;
        this.hits_++;
        if (s === this.s2_ && this.s1_ !== null) this.writeSyncLevel(this.s1_, key, e);
        return e.value;
      }
      s.misses++;
    }
    this.misses_++;
    return undefined;
  }

  /**
   * The fresh value of `key` from the first level holding one (promoted into the faster levels);
   * `undefined` on a miss or a cached miss. Never rejects because a level failed.
   */
  async get(key: string): Promise<V | undefined> {
    checkKey(key);
    this.checkOpen();
    const found = await this.lookup(key, false);
    return found.fresh?.value;
  }

  /**
   * The fresh values of `keys`, in order (`undefined` for misses): L1/L2 per key, then one
   * `getEntries` (MGET, one read transaction) per async level for the keys still missing.
   */
  async getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    checkKeys(keys);
    this.checkOpen();
    const now = this.clock_();
    const out = new Array<V | undefined>(keys.length);
    let missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const e = this.lookupSync(keys[i]!, now);
      if (e !== undefined && now < e.expiresAt) {
        this.hits_++;
        out[i] = e.value;
      } else missing.push(i);
    }
    if (missing.length === 0 || this.asyncStates_.length === 0) {
      this.misses_ += missing.length;
      return out;
    }
    const gen0 = this.begin();
    try {
      for (const s of this.asyncStates_) {
        if (missing.length === 0) break;
        if (!this.usable(s)) continue;
        const ks = missing.map((i) => keys[i]!);
        const entries = await this.readAsyncMany(s, ks);
        if (entries === undefined) continue;
        const t = this.clock_();
        const still: number[] = [];
        for (let j = 0; j < missing.length; j++) {
          const e = await this.admissible(s, entries[j]);
          if (e !== undefined && t < e.expiresAt) {
            s.hits++;
            this.hits_++;
            out[missing[j]!] = e.value;
            this.promote(ks[j]!, e, gen0);
          } else {
            s.misses++;
            still.push(missing[j]!);
          }
        }
        missing = still;
      }
      this.misses_ += missing.length;
      return out;
    } finally {
      this.end();
    }
  }

  // ---- writes --------------------------------------------------------------------------------

  /**
   * Writes `value` to every level (L1/L2 at once, L3/L4 awaited) and, with coherency, tells
   * other processes to drop their copies. `undefined` stores a cached miss. Throws (before any
   * level is written) for a bad key, TTL or tags, or a value the codec cannot encode.
   */
  async set(key: string, value: V | undefined, options?: CacheSetOptions): Promise<void> {
    this.checkUserKey(key, 'key');
    const entry = this.makeEntry(value, options, 'options');
    this.checkOpen();
    await this.writeAll([[key, entry]]);
  }

  /** `set` for many keys: checked first, then one `setEntries` (a pipeline, one transaction) per async level. */
  async setMany(entries: readonly (readonly [string, V | undefined])[], options?: CacheSetOptions): Promise<void> {
    if (!Array.isArray(entries)) throw invalidType('entries', 'an array of [key, value] pairs', entries);
    const version = this.nextVersion();
    const out: [string, CacheEntry<V>][] = [];
    for (let i = 0; i < entries.length; i++) {
      const pair: unknown = entries[i];
      if (!Array.isArray(pair) || pair.length !== 2) throw invalidType(`entries[${i}]`, 'a [key, value] pair', pair);
      this.checkUserKey(pair[0], `entries[${i}][0]`);
      out.push([pair[0] as string, this.makeEntry(pair[1] as V | undefined, options, 'options', version, `entries[${i}][1]`)]);
    }
    this.checkOpen();
    await this.writeAll(out);
  }

  /** Removes `key` from every level and, with coherency, from other processes' L1/L2. True when a level held it. */
  async delete(key: string): Promise<boolean> {
    this.checkUserKey(key, 'key');
    this.checkOpen();
    const version = this.nextVersion();
    this.touch(key);
    let held = false;
    for (const s of [this.s1_, this.s2_]) if (s !== null && this.deleteSync(s, key)) held = true;
    this.startWrites([key]);
    let results: boolean[];
    try {
      results = await Promise.all(this.asyncStates_.map((s) => this.deleteAsync(s, key)));
    } finally {
      this.endWrites([key]);
    }
    if (results.includes(true)) held = true;
    await this.publish([key], version);
    return held;
  }

  /**
   * Deletes every entry written with `tag` before now, in every level and every process.
   *
   * How: levels are not scanned. The tag gets a version (a tombstone): entries carry their tags
   * and their write version, and a read treats an entry as deleted when one of its tags has a
   * version above the entry's. The tag version is kept here, written to L3 and L4 as a marker
   * entry under the reserved key "\u0000tag:<tag>" (so a process that starts later, or reads an
   * entry from L3/L4 carrying a tag it has not seen, fetches it: one extra getEntries per such
   * read), and published to other processes as an invalidation of that key. Entries written
   * after the call (higher versions) are live.
   */
  async deleteByTag(tag: string): Promise<void> {
    if (typeof tag !== 'string' || tag.length === 0) throw invalidType('tag', 'a non-empty string', tag);
    this.checkOpen();
    const version = this.nextVersion();
    this.tagVersions_.set(tag, version);
    this.gen_++;
    this.touchedAll_ = this.gen_;
    const marker: CacheEntry<V> = { value: undefined, expiresAt: Infinity, staleUntil: Infinity, version };
    const key = kTagPrefix + tag;
    await Promise.all(this.asyncStates_.map((s) => this.writeAsync(s, [[key, marker]])));
    await this.publish([key], version);
  }

  /** Empties every level (L3/L4 included) and tells other processes to drop their L1/L2. */
  async clear(): Promise<void> {
    this.checkOpen();
    const version = this.nextVersion();
    this.dropLocal();
    // Until L3/L4 are empty a read can still find their old entries: none is promoted meanwhile.
    this.clearing_++;
    try {
      await Promise.all(
        this.asyncStates_.map(async (s) => {
          if (!this.usable(s)) return;
          try {
            await (s.level as AsyncLevel<V>).clear();
            this.succeeded(s);
          } catch (err) {
            this.failed(s, err);
          }
        }),
      );
    } finally {
      this.clearing_--;
      this.gen_++;
      this.touchedAll_ = this.gen_;
    }
    await this.publish([kClearKey], version);
  }

  // ---- getOrLoad -----------------------------------------------------------------------------

  /**
   * The value of `key`, loading it with `loader(key)` on a miss: one loader call per key in
   * this process (single flight) and, with an L3, in the fleet (the holder of L3's lease loads
   * and stores; other processes wait for the lease and read what it stored).
   * - A stale entry (past its TTL, within staleWhileRevalidateMs) is served at once and
   *   refreshed once in the background.
   * - The loader returning `undefined` caches a miss (negative caching): later calls resolve
   *   `undefined` without calling it until the TTL ends.
   * - A loader that throws or runs past loadTimeoutMs: callers get the stale value where there
   *   is one (stale-if-error), else every waiter rejects with the loader's error
   *   (or CacheLoadTimeoutError).
   * @example
   * const user = await cache.getOrLoad(`user:${id}`, () => db.findUser(id), { ttlMs: 60_000 });
   */
  async getOrLoad(key: string, loader: CacheLoader<V>, options?: GetOrLoadOptions): Promise<V | undefined> {
    this.checkUserKey(key, 'key');
    if (typeof loader !== 'function') throw invalidType('loader', 'a function (key) => value | undefined | Promise', loader);
    const ttlMs = this.readTtl(options, 'options');
    const tags = checkTags(options?.tags, 'options.tags');
    this.checkOpen();
    const found = await this.lookup(key, true);
    if (found.fresh !== undefined) return found.fresh.value;
    const stale = found.stale;
    if (stale !== undefined && this.clock_() < stale.expiresAt + this.staleWhileRevalidateMs) {
      // Stale-while-revalidate: answer now, refresh once (a refresh already running is not doubled).
      this.staleServed_++;
      if (!this.flights_.has(key)) {
        this.flights_.run(key, () => this.load(key, loader, ttlMs, tags, undefined)).catch(noop);
      }
      return stale.value;
    }
    let loaded: Loaded<V>;
    try {
      loaded = await this.flights_.run(key, () => this.load(key, loader, ttlMs, tags, stale));
    } catch (err) {
      // Stale-if-error for a caller that joined a flight started without a stale entry.
      if (stale === undefined || !(this.clock_() < stale.staleUntil)) throw err;
      loaded = { value: stale.value, stale: true };
    }
    if (loaded.stale) this.staleServed_++;
    return loaded.value;
  }

  /** One load of `key`: under L3's lease when there is one, with the timeout, storing the result. */
  private async load(key: string, loader: CacheLoader<V>, ttlMs: number, tags: readonly string[] | undefined, stale: CacheEntry<V> | undefined): Promise<Loaded<V>> {
    const gen0 = this.begin();
    try {
      const s3 = this.s3_;
      let token: string | null = null;
      if (s3 !== null && this.usable(s3)) {
        const l3 = this.l3_!;
        for (let attempt = 0; attempt < 2 && token === null; attempt++) {
          try {
            token = await l3.acquireLease(key, this.leaseTtlMs);
            this.succeeded(s3);
          } catch (err) {
            this.failed(s3, err);
            break;
          }
          if (token !== null) break;
          // Another process loads: wait for its lease to end, then read what it stored.
          this.leaseWaits_++;
          let outcome: string;
          try {
            outcome = await l3.waitForLease(key, this.leaseTtlMs);
          } catch (err) {
            this.failed(s3, err);
            break;
          }
          if (outcome === 'loaded' || outcome === 'released') {
            const found = await this.lookup(key, false);
            if (found.fresh !== undefined) return { value: found.fresh.value, stale: false };
          }
          if (outcome === 'released') {
            // The holder's loader failed. Not retried here: one loader call per key across the fleet.
            if (stale !== undefined && this.clock_() < stale.staleUntil) return { value: stale.value, stale: true };
            throw new CacheLoadFailedElsewhereError(key);
          }
          // Timed out (the holder may have died), or stored and gone again: take the lease ourselves (once more).
        }
      }
      let value: V | undefined;
      try {
        value = await this.callLoader(key, loader);
      } catch (err) {
        if (token !== null && !this.closed_) await this.releaseLease(key, token);
        if (stale !== undefined && this.clock_() < stale.staleUntil) return { value: stale.value, stale: true };
        throw err;
      }
      // Closed while the loader ran: the levels are closed (L3's lease ends with its TTL); callers get the value.
      if (this.closed_) return { value, stale: false };
      const entry = this.makeEntryFrom(value, ttlMs, tags, this.nextVersion());
      // A write, delete or invalidation during the load wins: the loaded value is returned, not stored.
      if (!this.touchedSince(key, gen0)) {
        try {
          if (this.checksEncoding_ && value !== undefined) encodeEntry(entry, this.codec_);
          const store = this.writeAll([[key, entry]]);
          this.stores_.add(store);
          try {
            await store;
          } finally {
            this.stores_.delete(store);
          }
        } catch (err) {
          if (token !== null) await this.releaseLease(key, token);
          throw err;
        }
      }
      if (token !== null) await this.releaseLease(key, token);
      return { value, stale: false };
    } finally {
      this.end();
    }
  }

  private async callLoader(key: string, loader: CacheLoader<V>): Promise<V | undefined> {
    this.loaderCalls_++;
    const run = Promise.resolve().then(() => loader(key));
    const timeoutMs = this.loadTimeoutMs;
    try {
      if (timeoutMs === Infinity) return await run;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          this.loadTimeouts_++;
          reject(new CacheLoadTimeoutError(key, timeoutMs));
        }, timeoutMs);
      });
      try {
        return await Promise.race([run, timeout]);
      } finally {
        clearTimeout(timer);
        run.catch(noop);
      }
    } catch (err) {
      this.loadErrors_++;
      throw err;
    }
  }

  private async releaseLease(key: string, token: string): Promise<void> {
    const s3 = this.s3_!;
    try {
      await this.l3_!.releaseLease(key, token);
      this.succeeded(s3);
    } catch (err) {
      this.failed(s3, err);
    }
  }

  // ---- stats ---------------------------------------------------------------------------------

  /** Counters and latencies per level and for the loads (see TieredCacheStats). */
  stats(): TieredCacheStats {
    const levels = this.states_.map((s): TieredLevelStats => {
      let level: LevelStats;
      try {
        level = s.level.stats();
      } catch (err) {
        this.failed(s, err);
        level = { name: s.level.name, hits: 0, misses: 0, hitRatio: 0, sets: 0, deletes: 0, evictions: 0, expirations: 0, size: 0, capacity: 0 };
      }
      const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
      return {
        name: s.level.name,
        up: s.up,
        hits: s.hits,
        misses: s.misses,
        hitRatio: s.hits + s.misses === 0 ? 0 : s.hits / (s.hits + s.misses),
        errors: s.errors,
        evictions: level.evictions,
        admissionsRejected: num(level.admissionsRejected),
        windowSize: num(level.windowSize),
        size: level.size,
        capacity: level.capacity,
        getLatency: s.getLatency.summary(),
        setLatency: s.setLatency.summary(),
        level,
      };
    });
    return {
      name: this.name,
      hits: this.hits_,
      misses: this.misses_,
      hitRatio: this.hits_ + this.misses_ === 0 ? 0 : this.hits_ / (this.hits_ + this.misses_),
      loaderCalls: this.loaderCalls_,
      singleFlightJoins: this.flights_.joins,
      leaseWaits: this.leaseWaits_,
      staleServed: this.staleServed_,
      loadErrors: this.loadErrors_,
      loadTimeouts: this.loadTimeouts_,
      invalidationsReceived: this.invalidationsReceived_,
      levels,
    };
  }

  /** stats() plus the configuration and state (for the cache/status route). */
  status(): TieredCacheStatus {
    return {
      ...this.stats(),
      coherency: this.coherency,
      defaultTtlMs: this.defaultTtlMs,
      staleWhileRevalidateMs: this.staleWhileRevalidateMs,
      staleIfErrorMs: this.staleIfErrorMs,
      loadTimeoutMs: this.loadTimeoutMs,
      closed: this.closed_,
    };
  }

  /** The latency histograms by level (ns), for exporters: `get` and `set`. */
  latencyHistograms(): { level: LevelName; get: LatencyHistogram; set: LatencyHistogram }[] {
    return this.states_.map((s) => ({ level: s.level.name, get: s.getLatency, set: s.setLatency }));
  }

  /**
   * Waits for loaded values being stored (background refreshes included; not for loaders still
   * running: their callers get the value, nothing is stored), unsubscribes from the fleet and
   * closes L3 and L4. Later calls throw CacheClosedError.
   */
  async close(): Promise<void> {
    if (this.closed_) return;
    this.closed_ = true;
    await Promise.allSettled([...this.stores_]);
    for (const u of this.unsubscribe_.splice(0)) u();
    await Promise.allSettled(this.asyncStates_.map((s) => (s.level as AsyncLevel<V>).close()));
  }

  // ---- internals: lookups --------------------------------------------------------------------

  /** L1 then L2: the first entry found that is servable (fresh or stale), promoting an L2 entry. */
  private lookupSync(key: string, now: number): CacheEntry<V> | undefined {
    let stale: CacheEntry<V> | undefined;
    for (const s of [this.s1_, this.s2_]) {
      if (s === null) continue;
      const e = this.readSync(s, key);
      if (e === undefined || !(now < e.staleUntil) || (e.tags !== undefined && !this.tagsLive(e))) {
        s.misses++;
        continue;
      }
      if (now < e.expiresAt) {
        s.hits++;
        if (s === this.s2_ && this.s1_ !== null) this.writeSyncLevel(this.s1_, key, e);
        return e;
      }
      s.misses++;
      stale ??= e;
    }
    return stale;
  }

  /** Every level in turn: the first fresh entry (promoted), else the first stale one seen. */
  private async lookup(key: string, wantStale: boolean): Promise<{ fresh?: CacheEntry<V>; stale?: CacheEntry<V> }> {
    const now = this.clock_();
    const local = this.lookupSync(key, now);
    if (local !== undefined && now < local.expiresAt) {
      this.hits_++;
      return { fresh: local };
    }
    let stale = local;
    if (this.asyncStates_.length > 0) {
      const gen0 = this.begin();
      try {
        for (const s of this.asyncStates_) {
          if (!this.usable(s)) continue;
          const e = await this.admissible(s, await this.readAsync(s, key));
          const t = this.clock_();
          if (e !== undefined && t < e.expiresAt) {
            s.hits++;
            this.hits_++;
            this.promote(key, e, gen0);
            return { fresh: e };
          }
          s.misses++;
          if (e !== undefined && t < e.staleUntil && (stale === undefined || e.version > stale.version)) stale = e;
        }
      } finally {
        this.end();
      }
    }
    this.misses_++;
    return wantStale && stale !== undefined && this.clock_() < stale.staleUntil ? { stale } : {};
  }

  /** The entry an async level returned, unless its tags were deleted or it is an L4 copy L3 cannot vouch for. */
  private async admissible(s: LevelState<V>, e: CacheEntry<V> | undefined): Promise<CacheEntry<V> | undefined> {
    if (e === undefined) return undefined;
    if (s === this.s4_ && e.version < this.suspectBelow_ && this.s3_ !== null && this.usable(this.s3_)) return undefined;
    if (e.tags !== undefined) {
      await this.fetchTagVersions(e.tags);
      if (!this.tagsLive(e)) return undefined;
    }
    return e;
  }

  /** Puts an entry into L1/L2, unless the key changed since the read began. */
  private promote(key: string, e: CacheEntry<V>, gen0: number): void {
    if (this.touchedSince(key, gen0) || this.clearing_ > 0 || this.writing_.has(key)) return;
    if (this.s1_ !== null) this.writeSyncLevel(this.s1_, key, e);
    if (this.s2_ !== null) this.writeL2(key, e);
    // Never from L4 into L3: an L4 copy L3 lacks may be one another process just deleted (its
    // invalidation still on the way); putting it back in L3 would revive it for the whole fleet.
  }

  private tagsLive(e: CacheEntry<V>): boolean {
    for (const t of e.tags!) {
      const v = this.tagVersions_.get(t);
      if (v !== undefined && v >= e.version) return false;
    }
    return true;
  }

  /** Tag versions this process has not seen, from the first async level that answers. */
  private async fetchTagVersions(tags: readonly string[]): Promise<void> {
    const unknown = tags.filter((t) => !this.tagVersions_.has(t));
    if (unknown.length === 0) return;
    for (const s of this.asyncStates_) {
      if (!this.usable(s)) continue;
      const markers = await this.readAsyncMany(s, unknown.map((t) => kTagPrefix + t));
      if (markers === undefined) continue;
      if (this.tagVersions_.size + unknown.length > kMaxTagVersions) this.tagVersions_.clear();
      for (let i = 0; i < unknown.length; i++) {
        const t = unknown[i]!;
        this.tagVersions_.set(t, Math.max(this.tagVersions_.get(t) ?? 0, markers[i]?.version ?? 0));
      }
      return;
    }
  }

  // ---- internals: level calls with failure handling ------------------------------------------

  private readSync(s: LevelState<V>, key: string): CacheEntry<V> | undefined {
    try {
      return (s.level as SyncLevel<V>).getEntry(key);
    } catch (err) {
      this.failed(s, err);
      return undefined;
    }
  }

  private writeSyncLevel(s: LevelState<V>, key: string, e: CacheEntry<V>): void {
    const timed = --this.syncSample_ === 0;
    const t0 = timed ? performance.now() : 0;
    try {
      (s.level as SyncLevel<V>).setEntry(key, e);
    } catch (err) {
      // A level that cannot hold the new value must not keep the old one. A value too large
      // for the level (L2's slots) is a property of the value, not a failing level: skipped
      // without a warning, the level stays up.
      if ((err as { code?: unknown }).code !== kValueTooLarge) this.failed(s, err);
      this.deleteSync(s, key);
    }
    if (timed) {
      this.syncSample_ = kSyncSampleEvery;
      s.setLatency.record((performance.now() - t0) * 1e6);
    }
  }

  /**
   * L2 keeps no tags (SharedCache stores value and times only), so a tagged entry is not put
   * there (its old copy is deleted): read back without its tags it would outlive deleteByTag.
   */
  private writeL2(key: string, e: CacheEntry<V>): void {
    if (e.tags === undefined) this.writeSyncLevel(this.s2_!, key, e);
    else this.deleteSync(this.s2_!, key);
  }

  private deleteSync(s: LevelState<V>, key: string): boolean {
    try {
      return (s.level as SyncLevel<V>).delete(key);
    } catch (err) {
      this.failed(s, err);
      return false;
    }
  }

  private readAsync(s: LevelState<V>, key: string): Promise<CacheEntry<V> | undefined> {
    return this.readTimed(s, (level) => level.getEntry(key));
  }

  private readAsyncMany(s: LevelState<V>, keys: readonly string[]): Promise<(CacheEntry<V> | undefined)[] | undefined> {
    return this.readTimed(s, (level) => level.getEntries(keys));
  }

  /** A timed read from an async level; undefined (and the level marked down) when it fails. */
  private async readTimed<T>(s: LevelState<V>, read: (level: AsyncLevel<V>) => Promise<T>): Promise<T | undefined> {
    const t0 = performance.now();
    try {
      const result = await read(s.level as AsyncLevel<V>);
      s.getLatency.record((performance.now() - t0) * 1e6);
      this.succeeded(s);
      return result;
    } catch (err) {
      this.failed(s, err);
      return undefined;
    }
  }

  /** Writes to an async level; a failure marks it down and remembers the keys to delete from it once it is back. */
  private async writeAsync(s: LevelState<V>, entries: readonly (readonly [string, CacheEntry<V>])[]): Promise<void> {
    if (!this.usable(s)) {
      this.remember(s, entries.map((e) => e[0]));
      return;
    }
    const t0 = performance.now();
    try {
      const level = s.level as AsyncLevel<V>;
      if (entries.length === 1) await level.setEntry(entries[0]![0], entries[0]![1]);
      else await level.setEntries(entries);
      s.setLatency.record((performance.now() - t0) * 1e6);
      this.succeeded(s);
    } catch (err) {
      this.failed(s, err);
      this.remember(s, entries.map((e) => e[0]));
    }
  }

  private async deleteAsync(s: LevelState<V>, key: string): Promise<boolean> {
    if (!this.usable(s)) {
      this.remember(s, [key]);
      return false;
    }
    try {
      const held = await (s.level as AsyncLevel<V>).delete(key);
      this.succeeded(s);
      return held;
    } catch (err) {
      this.failed(s, err);
      this.remember(s, [key]);
      return false;
    }
  }

  private remember(s: LevelState<V>, keys: readonly string[]): void {
    for (const k of keys) {
      if (s.pending.size >= kMaxPendingDeletes) {
        s.pendingOverflow = true;
        return;
      }
      s.pending.add(k);
    }
  }

  /** Writes entries to L1/L2 at once and L3/L4 awaited, then publishes them. */
  private async writeAll(entries: readonly (readonly [string, CacheEntry<V>])[]): Promise<void> {
    let version = 0;
    for (const [key, e] of entries) {
      this.touch(key);
      if (this.s1_ !== null) this.writeSyncLevel(this.s1_, key, e);
      if (this.s2_ !== null) this.writeL2(key, e);
      if (e.version > version) version = e.version;
    }
    if (this.asyncStates_.length > 0) {
      const keys = entries.map((e) => e[0]);
      this.startWrites(keys);
      try {
        await Promise.all(this.asyncStates_.map((s) => this.writeAsync(s, entries)));
      } finally {
        this.endWrites(keys);
      }
    }
    await this.publish(entries.map((e) => e[0]), version);
  }

  /**
   * Marks keys as being written to the async levels. Until endWrites, a read may find their old
   * copies in L3/L4 (the write has not landed yet); promote() then leaves L1/L2 alone, and
   * endWrites touches the keys so a read that began during the write does not promote later.
   */
  private startWrites(keys: readonly string[]): void {
    for (const k of keys) this.writing_.set(k, (this.writing_.get(k) ?? 0) + 1);
  }

  private endWrites(keys: readonly string[]): void {
    for (const k of keys) {
      const n = this.writing_.get(k)! - 1;
      if (n === 0) this.writing_.delete(k);
      else this.writing_.set(k, n);
      this.touch(k);
    }
  }

  private async publish(keys: readonly string[], version: number): Promise<void> {
    const s3 = this.s3_;
    if (s3 === null || this.coherency === 'none' || keys.length === 0) return;
    if (!this.usable(s3)) return;
    try {
      await this.l3_!.publishInvalidation(keys, version);
      this.succeeded(s3);
    } catch (err) {
      this.failed(s3, err);
    }
  }

  /** A level may be called: it has not reported itself down (levels that report state), and L3 is connected. */
  private usable(s: LevelState<V>): boolean {
    if (s === this.s3_) {
      const connected = this.l3_!.connected;
      if (connected === false) {
        if (s.up) this.markDown(s, 'connection down');
        return false;
      }
      // Down after a failed command while the connection stayed up (no 'up' event will come):
      // tried again like a level that does not report state; its next success marks it up and
      // deletes from it the writes it missed.
      if (connected === true) return true;
    }
    return s.up || !s.reportsState;
  }

  private failed(s: LevelState<V>, err: unknown): void {
    s.errors++;
    if (s.up) this.markDown(s, err instanceof Error ? err.message : String(err));
  }

  private succeeded(s: LevelState<V>): void {
    if (!s.up) this.markUp(s);
  }

  private markDown(s: LevelState<V>, reason: string): void {
    if (!s.up) return;
    s.up = false;
    process.emitWarning(
      `cache ${JSON.stringify(this.name)}: level ${s.level.name} is unavailable (${reason}); answering from the other levels until it is back`,
      { code: 'ULTRA_PERF_CACHE_LEVEL_DOWN' },
    );
  }

  private markUp(s: LevelState<V>): void {
    if (s.up) return;
    s.up = true;
    if (s.pending.size > 0 || s.pendingOverflow) void this.flushPending(s);
  }

  /** Deletes from a recovered level the keys written or deleted while it was down, and tells the fleet. */
  private async flushPending(s: LevelState<V>): Promise<void> {
    const keys = [...s.pending];
    s.pending.clear();
    const overflow = s.pendingOverflow;
    s.pendingOverflow = false;
    const level = s.level as AsyncLevel<V>;
    try {
      if (overflow) {
        process.emitWarning(`cache ${JSON.stringify(this.name)}: more than ${kMaxPendingDeletes} writes missed level ${level.name} while it was down; clearing it`, {
          code: 'ULTRA_PERF_CACHE_LEVEL_DOWN',
        });
        await level.clear();
      } else {
        for (const k of keys) await level.delete(k);
      }
    } catch (err) {
      this.remember(s, keys);
      if (overflow) s.pendingOverflow = true;
      this.failed(s, err);
      return;
    }
    if (s === this.s3_) await this.publish(overflow ? [kClearKey] : keys, this.nextVersion());
  }

  private watchState(s: LevelState<V>): void {
    const on = (s.level as { onStateChange?: unknown }).onStateChange;
    if (typeof on !== 'function') return;
    s.reportsState = true;
    const off: unknown = on.call(s.level, (state: 'up' | 'down') => {
      if (state === 'down') this.markDown(s, 'connection lost');
      else if (state === 'up') this.markUp(s);
    });
    if (typeof off === 'function') this.unsubscribe_.push(off as () => void);
  }

  // ---- internals: coherency ------------------------------------------------------------------

  private onInvalidate(keys: readonly string[] | null, version: number): void {
    if (version > this.lastVersion_) this.lastVersion_ = version;
    if (keys === null) {
      // Invalidations may have been missed (a reconnect): drop every local copy.
      this.dropLocal();
      this.suspectBelow_ = this.nextVersion();
      return;
    }
    this.invalidationsReceived_ += keys.length;
    for (const key of keys) {
      if (key.startsWith(kReservedPrefix)) {
        if (key === kClearKey) this.dropLocal();
        else if (key.startsWith(kTagPrefix)) {
          const tag = key.slice(kTagPrefix.length);
          this.tagVersions_.set(tag, Math.max(this.tagVersions_.get(tag) ?? 0, version));
          this.gen_++;
          this.touchedAll_ = this.gen_;
        }
        continue;
      }
      this.touch(key);
      // Version 0 is "unknown" (RESP3 tracking reports a write by any client, ours or not, without
      // one): every local copy goes, whatever its version.
      const upTo = version === 0 ? Infinity : version;
      for (const s of [this.s1_, this.s2_]) {
        if (s === null) continue;
        const e = this.readSync(s, key);
        // A copy newer than the invalidation is kept: it was written after the write announced.
        // An equal version is dropped: two processes can pick one version in the same ms (safe: it is re-read).
        if (e !== undefined && e.version <= upTo) this.deleteSync(s, key);
      }
      const s4 = this.s4_;
      if (s4 !== null && this.usable(s4)) void this.dropOlderAsync(s4, key, upTo);
    }
  }

  private async dropOlderAsync(s: LevelState<V>, key: string, version: number): Promise<void> {
    const e = await this.readAsync(s, key);
    if (e !== undefined && e.version < version) await this.deleteAsync(s, key);
  }

  private dropLocal(): void {
    for (const s of [this.s1_, this.s2_]) {
      if (s === null) continue;
      try {
        (s.level as SyncLevel<V>).clear();
      } catch (err) {
        this.failed(s, err);
      }
    }
    if (this.asyncStates_.length > 0) this.tagVersions_.clear();
    this.gen_++;
    this.touchedAll_ = this.gen_;
  }

  // ---- internals: versions and generations ---------------------------------------------------

  private nextVersion(): number {
    const v = Math.max(this.lastVersion_ + 1, Math.floor(this.clock_()) * 1024);
    this.lastVersion_ = v;
    return v;
  }

  private begin(): number {
    this.pendingOps_++;
    return this.gen_;
  }

  private end(): void {
    if (--this.pendingOps_ === 0) this.touched_.clear();
  }

  private touch(key: string): void {
    this.gen_++;
    if (this.pendingOps_ === 0) return;
    if (this.touched_.size >= kMaxTouched) {
      // Too many to track one by one: treat every key as touched for the reads now running.
      this.touched_.clear();
      this.touchedAll_ = this.gen_;
      return;
    }
    this.touched_.set(key, this.gen_);
  }

  private touchedSince(key: string, gen0: number): boolean {
    return this.touchedAll_ > gen0 || (this.touched_.get(key) ?? 0) > gen0;
  }

  // ---- internals: argument checks ------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed_) throw new CacheClosedError(this.name);
  }

  private checkUserKey(key: unknown, argument: string): asserts key is string {
    checkKey(key, argument);
    if (key.startsWith(kReservedPrefix)) throw invalidValue(argument, 'a key that does not start with U+0000 (reserved for the cache\'s own records)', key);
  }

  private readTtl(options: CacheSetOptions | undefined, argument: string): number {
    if (options !== undefined && (options === null || typeof options !== 'object')) throw invalidType(argument, 'an options object', options);
    if (options !== undefined) {
      for (const k of Object.keys(options)) {
        if (k !== 'ttlMs' && k !== 'tags') throw invalidValue(`${argument}.${k}`, "no other options than 'ttlMs' and 'tags'", (options as Record<string, unknown>)[k]);
      }
    }
    const ttlMs = options?.ttlMs;
    if (ttlMs === undefined) return this.defaultTtlMs;
    checkTtl(ttlMs, `${argument}.ttlMs`);
    return ttlMs;
  }

  private makeEntry(value: V | undefined, options: CacheSetOptions | undefined, argument: string, version?: number, valueArgument = 'value'): CacheEntry<V> {
    const ttlMs = this.readTtl(options, argument);
    const tags = checkTags(options?.tags, `${argument}.tags`);
    const entry = this.makeEntryFrom(value, ttlMs, tags, version ?? 0);
    if (this.checksEncoding_) {
      try {
        encodeEntry(entry, this.codec_);
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ERR_INVALID_ARG_VALUE' && valueArgument !== 'value') {
          const e = invalidValue(valueArgument, `a value the ${this.codec_.name} codec can encode`, value);
          (e as Error & { cause?: unknown }).cause = (err as Error).cause;
          throw e;
        }
        throw err;
      }
    }
    if (version === undefined) entry.version = this.nextVersion();
    return entry;
  }

  private makeEntryFrom(value: V | undefined, ttlMs: number, tags: readonly string[] | undefined, version: number): CacheEntry<V> {
    const now = this.clock_();
    const expiresAt = now + ttlMs;
    const entry: CacheEntry<V> = { value, expiresAt, staleUntil: expiresAt + this.staleMs_, version };
    if (tags !== undefined) entry.tags = tags;
    return entry;
  }
}
