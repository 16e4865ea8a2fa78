/**
 * The shapes every cache level shares (DESIGN.md "Tiered cache"): an entry with its expiry,
 * the synchronous levels (L1 JS heap, L2 shared memory), the asynchronous ones (L3 Redis,
 * L4 LMDB), the fleet coordination L3 offers (leases, invalidation), and per-level stats.
 * `TieredCache` (tiered.ts) walks these; each level is usable on its own too.
 */

/** Milliseconds since the Unix epoch (wall time: expiries cross processes through Redis and LMDB). */
export type Clock = () => number;

/** The default clock: `Date.now`. Tests pass a fake one. */
export const systemClock: Clock = Date.now;

/**
 * One cached value with its lifetime, as every level stores it.
 *
 * - Fresh while `now < expiresAt`; stale but servable (stale-while-revalidate, stale-if-error)
 *   while `now < staleUntil`; gone after. `Infinity` means never.
 * - `value === undefined` is a cached miss (negative caching): the loader said "not found".
 * - `version` orders writes to one key across processes (coherency drops older invalidations).
 */
export interface CacheEntry<V = unknown> {
  value: V | undefined;
  /** ms epoch; `Infinity` = no TTL. */
  expiresAt: number;
  /** ms epoch, ≥ `expiresAt`; `Infinity` = no TTL. */
  staleUntil: number;
  /** Non-negative integer; 0 when the writer does not version. */
  version: number;
  /** Tags for `deleteByTag`, if any. */
  tags?: readonly string[];
}

/** The level names, in lookup order. */
export type LevelName = 'l1' | 'l2' | 'l3' | 'l4';

/** Counters every level keeps (monotonic since creation or `clear()` where noted). */
export interface LevelStats {
  name: LevelName;
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before the first lookup. */
  hitRatio: number;
  sets: number;
  deletes: number;
  /** Entries removed to make room (not expiries, not deletes). */
  evictions: number;
  /** Entries dropped because their TTL ran out (found on read or by a sweep). */
  expirations: number;
  /** Live entries now (approximate for L3/L4 where counting is costly: see the level's docs). */
  size: number;
  /** Maximum entries, or `Infinity`. */
  capacity: number;
  /** Level-specific extras (W-TinyLFU window size, admissions rejected, connection state...). */
  [extra: string]: unknown;
}

/** L1 and L2: answer in the calling thread, without awaiting. Entries past `staleUntil` are never returned. */
export interface SyncLevel<V = unknown> {
  readonly name: LevelName;
  getEntry(key: string): CacheEntry<V> | undefined;
  setEntry(key: string, entry: CacheEntry<V>): void;
  /** True when the key was present. */
  delete(key: string): boolean;
  clear(): void;
  stats(): LevelStats;
  readonly size: number;
}

/** L3 and L4. Entries past `staleUntil` are never returned. A level that is down rejects with `CacheLevelUnavailableError`. */
export interface AsyncLevel<V = unknown> {
  readonly name: LevelName;
  getEntry(key: string): Promise<CacheEntry<V> | undefined>;
  /** One round trip where the store allows it (MGET, one read transaction); results in `keys` order. */
  getEntries(keys: readonly string[]): Promise<(CacheEntry<V> | undefined)[]>;
  setEntry(key: string, entry: CacheEntry<V>): Promise<void>;
  /** One round trip where the store allows it (a pipeline, one write transaction). */
  setEntries(entries: readonly (readonly [string, CacheEntry<V>])[]): Promise<void>;
  delete(key: string): Promise<boolean>;
  clear(): Promise<void>;
  stats(): LevelStats;
  close(): Promise<void>;
}

/**
 * What a shared store (L3) offers the fleet: one loader per key across processes, and
 * invalidation of other processes' L1/L2 copies.
 */
export interface FleetCoordinator {
  /** Takes the load lease for `key` for `ttlMs`; a token when taken, `null` when another holder has it. */
  acquireLease(key: string, ttlMs: number): Promise<string | null>;
  /** Gives the lease back if `token` still holds it (compare-and-delete). */
  releaseLease(key: string, token: string): Promise<void>;
  /**
   * Resolves when the lease on `key` ends: 'loaded' when the holder stored a value,
   * 'released' when it gave the lease up without one (its loader failed), 'timeout' after `timeoutMs`.
   */
  waitForLease(key: string, timeoutMs: number): Promise<'loaded' | 'released' | 'timeout'>;
  /** Tells every other process to drop `keys` (written at `version`). */
  publishInvalidation(keys: readonly string[], version: number): Promise<void>;
  /**
   * Calls `handler` with the keys another process wrote or deleted, or with `null` when
   * invalidations may have been missed (after a reconnect): drop or re-validate everything.
   * Returns the unsubscribe function.
   */
  onInvalidate(handler: (keys: readonly string[] | null, version: number) => void): () => void;
  /** False while the connection is down. */
  readonly connected: boolean;
}
