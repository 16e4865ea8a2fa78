/**
 * L4: the persistent level, LMDB on disk through lmdb-js (DESIGN.md "Tiered cache"; issue 16).
 * Reads are synchronous memory-mapped lookups (`getEntrySync`, ~1 µs with the decode); writes
 * go through lmdb-js's write thread in transactions and resolve once committed. Several
 * processes on one host may open the same `path` (LMDB locks across processes).
 *
 * Layout on disk: one LMDB environment per `path` (a directory: `data.mdb` + `lock.mdb`), and
 * per namespace three named databases:
 * - `e:<namespace>`: key (lmdb-js ordered-binary string) → the entry in the shared byte layout
 *   of lib/cache/entry-codec.ts (stored raw, `encoding: 'binary'`), so a foreign or corrupted
 *   record is refused with `SourceFormatError` naming the byte, never misread;
 * - `x:<namespace>`: the expiry index, key `[staleUntil, key]` → empty, in staleUntil order:
 *   the sweep and eviction read it from the start;
 * - `m:<namespace>`: the warmer's side store (`putMeta` / `getMeta`), never evicted.
 *
 * Eviction (`maxEntries`, default 100,000): oldest-expiring first. Each write transaction that
 * leaves more than `maxEntries` entries removes the entries whose `staleUntil` comes first
 * (those that would leave soonest anyway; ties, e.g. entries without TTL, in key order). A
 * sampled LRU would need a write per read, which a memory-mapped read path cannot afford.
 * The map grows by itself (lmdb-js resizes on MDB_MAP_FULL), so a set never fails because
 * the store is full; only a full disk fails it.
 *
 * TTL: an entry at or past `staleUntil` is never returned; a read that meets one queues its
 * removal, and every write transaction also removes up to 64 expired entries from the start
 * of the expiry index (plus a timer sweep every `sweepIntervalMs`).
 *
 * Durability (`durability`): `'commit'` (default) resolves a write when its transaction is
 * committed: visible to every process, and kept if the writing process dies (the crash test
 * SIGKILLs a writer mid-burst and checks exactly this); the fsync runs after the commit
 * (lmdb-js `overlappingSync`), so an OS crash or power loss may lose the last commits, never
 * tear one (lmdb-js falls back to the last flushed transaction). `'flush'` also waits for the
 * fsync (`db.flushed`): survives power loss, costs a disk flush per write.
 *
 * Freshness across processes: `getEntry`/`getEntries` start a fresh read snapshot, so they
 * see every write another process committed before the call. `getEntrySync` reads lmdb-js's
 * current snapshot, which lmdb-js renews after this process's own commits and on a
 * `setTimeout(0)` after a read: up to about a millisecond old.
 */
import { Buffer } from 'node:buffer';
import { resolve } from 'node:path';

import { open, type Database, type RootDatabase } from 'lmdb';

import { invalidRange, invalidType, invalidValue } from '../errors.js';
import { defineOptions, readOptions } from '../internal/options.js';
import { type Codec, msgpackCodec } from '../net/codec.js';

import { checkTags, decodeEntry, encodeEntry, entryExpiry } from './entry-codec.js';
import { CacheLevelUnavailableError } from './errors.js';
import { checkKey, checkKeys } from './keys.js';
import { type AsyncLevel, type CacheEntry, type Clock, type LevelStats, systemClock } from './types.js';

/** Options of `LmdbLevel.open`. */
export interface LmdbLevelOptions<V> {
  /**
   * Directory of the LMDB environment (created if missing; a directory even when its name has a
   * dot). Several levels and processes may share it; in one process they share one environment,
   * whose `mapSize` is the first open's.
   */
  path: string;
  /** Separates caches in one environment (its own named databases); default `'default'`. 1..100 characters; at most 85 per path. */
  namespace?: string;
  /** How values become bytes; default `msgpackCodec()`. Every process sharing a namespace must use the same. */
  codec?: Codec<V>;
  /** Wall clock in ms (expiries are compared across processes); default `Date.now`. */
  clock?: Clock;
  /** Bound on live entries in this namespace; a positive integer or `Infinity`. Default 100,000. */
  maxEntries?: number;
  /** `'commit'` (default) or `'flush'`: what an acknowledged write survives (see the module doc). */
  durability?: 'commit' | 'flush';
  /** Period of the background expiry sweep in ms; 0 turns it off. Default 60,000. */
  sweepIntervalMs?: number;
  /** Initial map size in bytes (lmdb-js grows it when full); default lmdb-js's (1 GiB of address space). */
  mapSize?: number;
}

/** Expired entries one write transaction removes at most (the bounded sweep). */
const kSweepPerTxn = 64;
const kDefaultMaxEntries = 100_000;
const kEmpty = new Uint8Array(0);
const kMaxNamespace = 100;
/** LMDB named databases per environment handle (lmdb-js `maxDbs`): 3 per namespace. */
const kMaxDbs = 256;
const kMaxNamespaces = Math.floor(kMaxDbs / 3);

const kByOpen = { check: null, checkedBy: 'LmdbLevel.open' } as const;
/** The option names, for the strict-options check (values are checked in `open`). */
const kOpenSchema = defineOptions('LmdbLevel.open', {
  path: kByOpen,
  namespace: kByOpen,
  codec: kByOpen,
  clock: kByOpen,
  maxEntries: kByOpen,
  durability: kByOpen,
  sweepIntervalMs: kByOpen,
  mapSize: kByOpen,
});

interface Env {
  root: RootDatabase;
  refs: number;
}

/** One lmdb-js root per resolved path in this process: LMDB wants one environment handle per process. */
const envs = new Map<string, Env>();

type Op = { key: string; bytes: Uint8Array | null; staleUntil: number };

/**
 * True for an expiry-index key as this module writes it, `[staleUntil, key]`. Another program
 * writing into `x:<namespace>` (or a damaged file) can leave anything there; the sweep and
 * eviction drop such records instead of reading `k[0]` of a number or evicting `k[1]` of a
 * stranger's array.
 */
function isIndexKey(k: unknown): k is [number, string] {
  return Array.isArray(k) && k.length === 2 && typeof k[0] === 'number' && typeof k[1] === 'string';
}

/** Checks the lifetime fields of an entry; names the field (`entry.staleUntil`). */
function checkEntry(entry: unknown, argument: string): asserts entry is CacheEntry<unknown> {
  if (typeof entry !== 'object' || entry === null) throw invalidType(argument, 'a CacheEntry object', entry);
  const e = entry as CacheEntry<unknown>;
  if (typeof e.expiresAt !== 'number' || Number.isNaN(e.expiresAt)) throw invalidValue(`${argument}.expiresAt`, 'a number of ms (epoch) or Infinity', e.expiresAt);
  if (typeof e.staleUntil !== 'number' || !(e.staleUntil >= e.expiresAt)) {
    throw invalidValue(`${argument}.staleUntil`, `a number of ms (epoch) ≥ expiresAt (${e.expiresAt})`, e.staleUntil);
  }
  if (typeof e.version !== 'number' || !Number.isInteger(e.version) || e.version < 0) throw invalidValue(`${argument}.version`, 'a non-negative integer', e.version);
  if (e.tags !== undefined && (!Array.isArray(e.tags) || e.tags.some((t) => typeof t !== 'string'))) {
    throw invalidType(`${argument}.tags`, 'an array of strings', e.tags);
  }
  if (e.tags !== undefined) checkTags(e.tags, `${argument}.tags`);
}

/**
 * The LMDB level. Open with `await LmdbLevel.open({ path })`; close with `close()` (a closed
 * level throws / rejects `CacheLevelUnavailableError` with level `'l4'`).
 *
 * @example
 * const l4 = await LmdbLevel.open<{ px: number }>({ path: '/var/cache/app', maxEntries: 50_000 });
 * await l4.setEntry('q:AAPL', { value: { px: 1.5 }, expiresAt: Date.now() + 60_000, staleUntil: Date.now() + 120_000, version: 0 });
 * l4.getEntrySync('q:AAPL')?.value; // { px: 1.5 }
 */
export class LmdbLevel<V = unknown> implements AsyncLevel<V> {
  readonly name = 'l4' as const;
  readonly path: string;
  readonly namespace: string;
  readonly capacity: number;
  readonly durability: 'commit' | 'flush';
  readonly #root: RootDatabase;
  readonly #entries: Database<Uint8Array, string>;
  readonly #index: Database<Uint8Array, [number, string]>;
  readonly #meta: Database<Uint8Array, string>;
  readonly #codec: Codec<V>;
  readonly #clock: Clock;
  readonly #where: string;
  #closed = false;
  #expiredSeen = new Set<string>();
  #removalQueued = false;
  #sweepTimer: ReturnType<typeof setInterval> | null = null;
  #stats = { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, expirations: 0 };

  private constructor(root: RootDatabase, path: string, namespace: string, codec: Codec<V>, clock: Clock, capacity: number, durability: 'commit' | 'flush') {
    this.#root = root;
    this.path = path;
    this.namespace = namespace;
    this.capacity = capacity;
    this.durability = durability;
    this.#codec = codec;
    this.#clock = clock;
    this.#where = `lmdb ${path} namespace ${JSON.stringify(namespace)}`;
    this.#entries = root.openDB<Uint8Array, string>({ name: `e:${namespace}`, encoding: 'binary' });
    this.#index = root.openDB<Uint8Array, [number, string]>({ name: `x:${namespace}`, encoding: 'binary' });
    this.#meta = root.openDB<Uint8Array, string>({ name: `m:${namespace}`, encoding: 'binary' });
  }

  /**
   * Opens (creating if needed) the store at `options.path`. Throws ERR_INVALID_ARG_* naming the
   * option for bad options, and `CacheLevelUnavailableError` when LMDB cannot open the path.
   */
  static async open<V = unknown>(options: LmdbLevelOptions<V>): Promise<LmdbLevel<V>> {
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    readOptions(kOpenSchema, options, { required: true }); // unknown keys (a typo would keep a default)
    const { namespace = 'default', clock = systemClock, maxEntries = kDefaultMaxEntries, durability = 'commit', sweepIntervalMs = 60_000, mapSize } = options;
    if (typeof options.path !== 'string' || options.path.length === 0) throw invalidType('options.path', 'a non-empty directory path', options.path);
    if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > kMaxNamespace) {
      throw invalidValue('options.namespace', `a string of 1 to ${kMaxNamespace} characters`, namespace);
    }
    if (typeof clock !== 'function') throw invalidType('options.clock', 'a function returning ms', clock);
    if (maxEntries !== Infinity && !(Number.isInteger(maxEntries) && maxEntries >= 1)) throw invalidRange('options.maxEntries', 'a positive integer or Infinity', maxEntries);
    if (durability !== 'commit' && durability !== 'flush') throw invalidValue('options.durability', "'commit' or 'flush'", durability);
    if (typeof sweepIntervalMs !== 'number' || !(sweepIntervalMs >= 0) || !Number.isFinite(sweepIntervalMs)) {
      throw invalidRange('options.sweepIntervalMs', 'a non-negative finite number of ms (0 = off)', sweepIntervalMs);
    }
    if (mapSize !== undefined && !(Number.isInteger(mapSize) && mapSize >= 65536)) throw invalidRange('options.mapSize', 'an integer ≥ 65536 bytes', mapSize);
    const codec = options.codec ?? (msgpackCodec() as Codec<V>);
    if (typeof codec !== 'object' || codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
      throw invalidType('options.codec', 'a Codec (lib/net/codec.ts)', codec);
    }
    const path = resolve(options.path);
    let env = envs.get(path);
    if (env === undefined) {
      let root: RootDatabase;
      try {
        // noSubdir: false: lmdb-js takes a path with an extension (`quotes.lmdb`, `tmp.X`) for a file otherwise.
        root = open({ path, noSubdir: false, maxDbs: kMaxDbs, ...(mapSize === undefined ? {} : { mapSize }) });
      } catch (cause) {
        throw new CacheLevelUnavailableError('l4', `cannot open LMDB at ${path}: ${(cause as Error).message}`, { cause });
      }
      env = { root, refs: 0 };
      envs.set(path, env);
    }
    env.refs++;
    let level: LmdbLevel<V>;
    try {
      level = new LmdbLevel<V>(env.root, path, namespace, codec, clock, maxEntries, durability);
    } catch (cause) {
      // Let go of the environment this open took (else it stays open after every level closes).
      if (--env.refs === 0) {
        envs.delete(path);
        await env.root.close();
      }
      const full = /MDB_DBS_FULL/.test((cause as Error).message) ? ` (one path holds at most ${kMaxNamespaces} namespaces: ${kMaxDbs} named databases, 3 per namespace)` : '';
      throw new CacheLevelUnavailableError('l4', `cannot open namespace ${JSON.stringify(namespace)} at ${path}: ${(cause as Error).message}${full}`, { cause });
    }
    if (sweepIntervalMs > 0) {
      level.#sweepTimer = setInterval(() => {
        level.sweep().catch(() => {});
      }, sweepIntervalMs);
      level.#sweepTimer.unref();
    }
    return level;
  }

  #check(): void {
    if (this.#closed) throw new CacheLevelUnavailableError('l4', `${this.#where} is closed`);
  }

  /**
   * The entry under `key`, or `undefined` (absent, or at/past `staleUntil`). Synchronous: a
   * memory-mapped read of this process's current snapshot plus the decode. Throws
   * `SourceFormatError` for a record that is not in the entry layout, naming the byte.
   */
  getEntrySync(key: string): CacheEntry<V> | undefined {
    this.#check();
    checkKey(key);
    return this.#read(key);
  }

  #read(key: string): CacheEntry<V> | undefined {
    const fast = this.#entries.getBinaryFast(key);
    if (fast === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    // getBinaryFast's buffer is reused by the next read, and codecs may return views of their
    // input (rawCodec, msgpack bin): copy into a pooled Buffer first (~0.1 µs at 100 bytes).
    const n = fast.length;
    const bytes = Buffer.allocUnsafe(n);
    bytes.set(fast.subarray(0, n));
    let entry: CacheEntry<V>;
    try {
      entry = decodeEntry(bytes, this.#codec, this.#where);
    } catch {
      // Again with the key in the error's source (built only here: it costs a string per read).
      entry = decodeEntry(bytes, this.#codec, `${this.#where} key ${JSON.stringify(key)}`);
    }
    if (!(this.#clock() < entry.staleUntil)) {
      this.#stats.misses++;
      this.#stats.expirations++;
      this.#queueRemoval(key);
      return undefined;
    }
    this.#stats.hits++;
    return entry;
  }

  /** `getEntrySync` from a fresh read snapshot, as a promise (rejects instead of throwing). */
  async getEntry(key: string): Promise<CacheEntry<V> | undefined> {
    this.#check();
    this.#entries.resetReadTxn();
    return this.getEntrySync(key);
  }

  /** The entries of `keys`, in order, from one read snapshot (one read transaction). */
  async getEntries(keys: readonly string[]): Promise<(CacheEntry<V> | undefined)[]> {
    this.#check();
    checkKeys(keys);
    // A fresh snapshot, then a synchronous loop reads only it: lmdb-js renews its read
    // transaction on a timer, never inside a synchronous loop.
    this.#entries.resetReadTxn();
    const out = new Array<CacheEntry<V> | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.#read(keys[i]!);
    return out;
  }

  /** Stores `entry` under `key`; resolves once committed (see `durability`). An entry already past `staleUntil` removes the key. */
  async setEntry(key: string, entry: CacheEntry<V>): Promise<void> {
    this.#check();
    checkKey(key);
    checkEntry(entry, 'entry');
    const op = this.#op(key, entry);
    await this.#write([op]);
  }

  /** Stores every pair in one write transaction: all committed, or (on any error) none. */
  async setEntries(entries: readonly (readonly [string, CacheEntry<V>])[]): Promise<void> {
    this.#check();
    if (!Array.isArray(entries)) throw invalidType('entries', 'an array of [key, entry] pairs', entries);
    // Check and encode everything before the transaction, so a bad pair writes nothing.
    const ops: Op[] = [];
    for (let i = 0; i < entries.length; i++) {
      const pair = entries[i];
      if (!Array.isArray(pair) || pair.length !== 2) throw invalidType(`entries[${i}]`, 'a [key, entry] pair', pair);
      checkKey(pair[0], `entries[${i}][0]`);
      checkEntry(pair[1], `entries[${i}][1]`);
      ops.push(this.#op(pair[0] as string, pair[1] as CacheEntry<V>));
    }
    if (ops.length > 0) await this.#write(ops);
  }

  #op(key: string, entry: CacheEntry<V>): Op {
    if (!(this.#clock() < entry.staleUntil)) return { key, bytes: null, staleUntil: entry.staleUntil };
    return { key, bytes: encodeEntry(entry, this.#codec), staleUntil: entry.staleUntil };
  }

  /** True when a live entry (not yet past staleUntil) was there. */
  async delete(key: string): Promise<boolean> {
    this.#check();
    checkKey(key);
    const old = await this.#transact(() => this.#remove(key));
    this.#stats.deletes++;
    return old === null || (old !== undefined && this.#clock() < old);
  }

  /** Removes every entry of this namespace (not its meta records), in one transaction. */
  async clear(): Promise<void> {
    this.#check();
    await this.#transact(() => {
      this.#entries.clearSync();
      this.#index.clearSync();
    });
    this.#expiredSeen.clear();
  }

  /**
   * Removes up to `limit` entries at or past `staleUntil`, oldest first, in one transaction;
   * resolves to how many. Every write already sweeps 64; a timer calls this every `sweepIntervalMs`.
   */
  async sweep(limit = 1000): Promise<number> {
    this.#check();
    if (!(Number.isInteger(limit) && limit >= 1)) throw invalidRange('limit', 'a positive integer', limit);
    const now = this.#clock();
    const [first] = [...this.#index.getKeys({ limit: 1 })];
    // Nothing expired: no write at all (a record not ours at the head is removed by the transaction).
    if (first === undefined || (isIndexKey(first) && !(first[0] <= now))) return 0;
    return this.#transact(() => this.#sweep(this.#clock(), limit));
  }

  /** Stores `bytes` under `name` in the namespace's side store (never evicted, no TTL); resolves once committed. */
  async putMeta(name: string, bytes: Uint8Array): Promise<void> {
    this.#check();
    checkKey(name, 'name');
    if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
    const copy = Uint8Array.prototype.slice.call(bytes);
    await this.#transact(() => {
      this.#meta.putSync(name, copy);
    });
  }

  /** The bytes `putMeta` stored under `name` (a copy), or `undefined`. */
  getMeta(name: string): Uint8Array | undefined {
    this.#check();
    checkKey(name, 'name');
    const b = this.#meta.getBinary(name);
    return b === undefined ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Counters since open; `size` is the entry count of the current snapshot (all processes' writes, expired ones not yet swept included). */
  stats(): LevelStats {
    const { hits, misses } = this.#stats;
    return {
      name: 'l4',
      ...this.#stats,
      hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      size: this.#closed ? 0 : this.#count(),
      capacity: this.capacity,
      path: this.path,
      namespace: this.namespace,
      durability: this.durability,
    };
  }

  /** Entry count now; see `stats().size`. */
  get size(): number {
    this.#check();
    return this.#count();
  }

  /** Waits for this level's writes, then lets go of the environment (closed when its last level closes). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    const env = envs.get(this.path);
    await this.#root.committed;
    if (env !== undefined && --env.refs === 0) {
      envs.delete(this.path);
      await env.root.close();
    }
  }

  // ---- writes ---------------------------------------------------------------------------------------

  /** Entry count of the current read snapshot (lmdb-js getStats: renews the read transaction). */
  #count(): number {
    return (this.#entries.getStats() as { entryCount: number }).entryCount;
  }

  /**
   * Entry count inside a write transaction: mdb_stat on the entries database, O(1), without
   * getStats's walk of the free list (the native call reads the open write transaction).
   */
  #countInTxn(): number {
    const db = this.#entries as unknown as { db?: { stat?: () => { entryCount: number } } };
    return db.db?.stat?.().entryCount ?? this.#count();
  }

  /**
   * Runs `body` in one write transaction (an lmdb-js child transaction: aborted as a whole if
   * `body` throws) and resolves after the commit (after the flush with durability 'flush').
   */
  async #transact<T>(body: () => T): Promise<T> {
    let result: T;
    try {
      result = (await this.#entries.childTransaction(body as () => unknown)) as T;
    } catch (cause) {
      if (this.#closed) throw new CacheLevelUnavailableError('l4', `${this.#where} was closed during a write`, { cause });
      throw cause;
    }
    if (this.durability === 'flush') await this.#root.flushed;
    return result;
  }

  #write(ops: Op[]): Promise<void> {
    this.#stats.sets += ops.length;
    return this.#transact(() => {
      for (const op of ops) {
        this.#remove(op.key);
        if (op.bytes !== null) {
          this.#entries.putSync(op.key, op.bytes);
          this.#index.putSync([op.staleUntil, op.key], kEmpty);
        }
      }
      this.#sweep(this.#clock(), kSweepPerTxn);
      this.#evict();
    });
  }

  /**
   * In a write transaction: removes `key` and its index record. Returns the removed entry's
   * staleUntil, `null` for a record not in the entry layout, `undefined` when there was none.
   */
  #remove(key: string): number | null | undefined {
    const old = this.#entries.getBinaryFast(key);
    if (old === undefined) return undefined;
    let staleUntil: number | null = null;
    try {
      staleUntil = entryExpiry(old.subarray(0, old.length)).staleUntil;
    } catch {
      // A foreign or corrupted record: it has no index record; overwrite/remove it all the same.
    }
    if (staleUntil !== null) this.#index.removeSync([staleUntil, key]);
    this.#entries.removeSync(key);
    return staleUntil;
  }

  /** In a write transaction: removes up to `limit` expired entries from the start of the index. */
  #sweep(now: number, limit: number): number {
    const expired: [number, string][] = [];
    const foreign: unknown[] = [];
    for (const k of this.#index.getKeys({ limit }) as Iterable<unknown>) {
      if (!isIndexKey(k)) {
        foreign.push(k); // not [staleUntil, key]: another program's record; it would block the head
        continue;
      }
      if (!(k[0] <= now)) break; // the index is in staleUntil order: the rest are live
      expired.push(k);
    }
    for (const k of foreign) this.#index.removeSync(k as [number, string]);
    for (const [staleUntil, key] of expired) {
      this.#index.removeSync([staleUntil, key]);
      this.#entries.removeSync(key);
    }
    this.#stats.expirations += expired.length;
    return expired.length;
  }

  /** In a write transaction: removes the oldest-expiring entries while over `capacity`. */
  #evict(): void {
    if (this.capacity === Infinity) return;
    let excess = this.#countInTxn() - this.capacity;
    if (excess <= 0) return;
    const victims: [number, string][] = [];
    const foreign: unknown[] = [];
    for (const k of this.#index.getKeys() as Iterable<unknown>) {
      if (!isIndexKey(k)) foreign.push(k); // another program's record: drop it, evict nothing for it
      else if (victims.push(k) >= excess) break;
    }
    for (const k of foreign) this.#index.removeSync(k as [number, string]);
    for (const [staleUntil, key] of victims) {
      this.#index.removeSync([staleUntil, key]);
      this.#entries.removeSync(key);
    }
    this.#stats.evictions += victims.length;
    excess -= victims.length;
    if (excess > 0) {
      // Records without an index record (foreign, or written by another tool): evict in key order.
      for (const key of [...this.#entries.getKeys({ limit: excess })]) {
        this.#entries.removeSync(key);
        this.#stats.evictions++;
      }
    }
  }

  /** After a read met expired entries: remove them in one transaction, if still expired then. */
  #queueRemoval(key: string): void {
    this.#expiredSeen.add(key);
    if (this.#removalQueued) return;
    this.#removalQueued = true;
    setImmediate(() => {
      this.#removalQueued = false;
      if (this.#closed) return;
      const keys = [...this.#expiredSeen];
      this.#expiredSeen.clear();
      this.#transact(() => {
        const now = this.#clock();
        for (const k of keys) {
          const old = this.#entries.getBinaryFast(k);
          if (old === undefined) continue;
          let staleUntil: number;
          try {
            staleUntil = entryExpiry(old.subarray(0, old.length)).staleUntil;
          } catch {
            continue; // not ours to judge: a read of it throws SourceFormatError
          }
          if (staleUntil <= now) this.#remove(k);
        }
      }).catch(() => {});
    });
  }
}
