/**
 * L2: a cache shared by every worker_thread that holds its `SharedArrayBuffer` (DESIGN.md
 * "Tiered cache"). An open-addressing index (linear probing, backward-shift deletion) over a
 * fixed array of entry slots, each slot guarded by a seqlock; values are bytes written by a
 * `lib/net` codec (msgpackr by default). The layout and the concurrency protocol are in
 * l2-layout.ts and docs/cache.md "L2: shared memory"; cpp/cache implements the same bytes.
 *
 * Eviction: when every slot is taken, a set samples kEvictionSample slots (Redis's
 * approximated LFU, "Using Redis as an LRU cache", and Caffeine's sampled policy idea): an
 * entry past its `staleUntil` goes first, else the one read least since it was written, ties
 * to the oldest write; the sampled counters are halved (aging), so a key once hot fades.
 */
import type { CacheAddon } from '../addon-types.js';
import { invalidType, invalidValue, withCode } from '../errors.js';
import { addonWith, backendName } from '../internal/backend.js';
import { optionsObject, unknownOptionError } from '../internal/options.js';
import { type Codec, msgpackCodec } from '../net/codec.js';
import { CacheLevelUnavailableError } from './errors.js';
import { checkKey } from './keys.js';
import {
  type CacheGeometry,
  EntryF64,
  EntryWord,
  fnv1a,
  geometryFromOptions,
  HeaderWord,
  L2,
  L2Status,
  readGeometry,
  writeHeader,
} from './l2-layout.js';
import { type CacheEntry, type Clock, type LevelStats, type SyncLevel, systemClock } from './types.js';

export { cacheLayout } from './l2-layout.js';

/** Default number of entry slots. */
export const kL2DefaultEntries = 10_000;
/** Default bytes per slot for the UTF-8 key (padded to 8) plus the encoded value. */
export const kL2DefaultValueBytes = 1024;
/** A writer that sees no write complete for this long while it waits for the lock gives up with CacheLevelUnavailableError. */
export const kLockTimeoutMs = 1000;
/** CAS tries before a waiting writer starts sleeping in short slices. */
const kLockSpins = 2000;

/** Which implementation each operation of a SharedCache object uses. */
export interface SharedCachePaths {
  get: 'ts' | 'native';
  set: 'ts' | 'native';
  delete: 'ts' | 'native';
}

/**
 * The measured default with the addon loaded (bench/cache/part-l2.ts; numbers in docs/cache.md
 * "L2: shared memory"): every operation in TS. The key is encoded and the value decoded in JS
 * either way, so a native call adds its crossing (~50-100 ns) to a lookup the TS kernel does in
 * about the same time; set is dominated by encoding.
 */
export const kL2DefaultPaths: Readonly<SharedCachePaths> = Object.freeze({ get: 'ts', set: 'ts', delete: 'ts' });
const kAllNative: Readonly<SharedCachePaths> = Object.freeze({ get: 'native', set: 'native', delete: 'native' });

export interface SharedCacheCreateOptions<V> {
  /** Entry slots, 1..2^24; default 10,000. A set beyond this evicts. */
  maxEntries?: number;
  /**
   * Bytes per slot for the UTF-8 key (padded to 8) plus the encoded value, 8..2^20 (rounded up
   * to 8); default 1024. A value that does not fit is refused by setEntry (see `maxValueBytes`).
   */
  valueBytes?: number;
  /** Default `msgpackCodec()`. Every thread attaching must use a codec that reads the same bytes. */
  codec?: Codec<V>;
  /** ms epoch for expiry checks; default Date.now. */
  clock?: Clock;
  /** 'auto' (default: the measured per-operation paths), 'ts' or 'native' (every operation in the addon). */
  backend?: 'auto' | 'ts' | 'native';
}

export type SharedCacheAttachOptions<V> = Pick<SharedCacheCreateOptions<V>, 'codec' | 'clock' | 'backend'>;

const kCreateKeys = ['maxEntries', 'valueBytes', 'codec', 'clock', 'backend'] as const;
const kAttachKeys = ['codec', 'clock', 'backend'] as const;

const cacheAddon: CacheAddon | null = addonWith('cacheGet') as CacheAddon | null;

function readCommon<V>(o: Record<string, unknown>, fn: string): { codec: Codec<V>; clock: Clock; paths: Readonly<SharedCachePaths> } {
  const codec = o.codec === undefined ? msgpackCodec<V>() : (o.codec as Codec<V>);
  if (typeof codec !== 'object' || codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    throw invalidType('options.codec', 'a Codec (lib/net, e.g. msgpackCodec())', o.codec);
  }
  const clock = o.clock === undefined ? systemClock : o.clock;
  if (typeof clock !== 'function') throw invalidType('options.clock', 'a function returning ms since the epoch', clock);
  const backend = o.backend === undefined ? 'auto' : backendName(o.backend, 'options.backend', ['auto', 'native', 'ts']);
  let paths: Readonly<SharedCachePaths>;
  if (backend === 'native') {
    if (cacheAddon === null) throw withCode(new Error(`${fn} with backend 'native' needs the CPU addon with the cache bindings (see backendInfo().nativeError)`), 'ERR_ULTRA_PERF_BACKEND_UNAVAILABLE');
    paths = kAllNative;
  } else if (backend === 'ts' || cacheAddon === null) {
    paths = Object.freeze({ get: 'ts', set: 'ts', delete: 'ts' });
  } else {
    paths = kL2DefaultPaths;
  }
  return { codec, clock: clock as Clock, paths };
}

function checkKnown(o: Record<string, unknown>, known: readonly string[], fn: string): void {
  for (const key of Object.keys(o)) if (!known.includes(key)) throw unknownOptionError(key, fn, known);
}

function checkEntry(entry: unknown): asserts entry is CacheEntry<unknown> {
  if (typeof entry !== 'object' || entry === null) throw invalidType('entry', 'a CacheEntry { value, expiresAt, staleUntil, version }', entry);
  const { expiresAt, staleUntil, version } = entry as CacheEntry<unknown>;
  if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) throw invalidType('entry.expiresAt', 'a number of ms since the epoch or Infinity', expiresAt);
  if (typeof staleUntil !== 'number' || !(staleUntil >= expiresAt)) throw invalidValue('entry.staleUntil', `a number >= entry.expiresAt (${expiresAt})`, staleUntil);
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) throw invalidValue('entry.version', 'a non-negative integer', version);
}

let nextToken = 1;

/**
 * L2 of the tiered cache: entries in a SharedArrayBuffer that every worker_thread holding it
 * reads and writes, synchronously, with no lock on reads. Implements `SyncLevel`.
 *
 * - Keys are strings of 1..512 UTF-16 units (`checkKey`), stored as UTF-8 beside the value.
 * - Values go through the codec; `undefined` is stored as a cached miss (no bytes).
 * - Tags are not kept by L2 (`getEntry` returns entries without `tags`): `TieredCache`
 *   keeps tag membership itself and deletes from L2 by key.
 * - A full cache evicts (sampled frequency); a set never fails for want of room. A value whose
 *   encoding plus its key does not fit a slot (`maxValueBytes`) is refused with a RangeError
 *   (code ERR_ULTRA_PERF_CACHE_VALUE_TOO_LARGE) naming the limit.
 * - Entries past `staleUntil` are never returned; fresh vs stale is the caller's call.
 *
 * @example
 * import { Worker } from 'node:worker_threads';
 * const l2 = SharedCache.create({ maxEntries: 10_000 });
 * l2.setEntry('px:AAPL', { value: { bid: 189.5 }, expiresAt: Date.now() + 1000, staleUntil: Date.now() + 5000, version: 0 });
 * new Worker('./reader.js', { workerData: l2.buffer });
 * // reader.js
 * const l2 = SharedCache.attach(workerData);
 * l2.getEntry('px:AAPL')?.value; // { bid: 189.5 }
 */
export class SharedCache<V = unknown> implements SyncLevel<V> {
  readonly name = 'l2' as const;
  /** The shared memory: post it to a worker and `SharedCache.attach` it there. */
  readonly buffer: SharedArrayBuffer;
  /** Entry slots; a set beyond this evicts. */
  readonly capacity: number;
  /** Bytes of a slot: UTF-8 key (padded to 8) + encoded value must fit in this. */
  readonly maxValueBytes: number;
  /** The implementation each operation uses (`backend` option; `kL2DefaultPaths` under 'auto'). */
  readonly paths: Readonly<SharedCachePaths>;

  private readonly g: CacheGeometry;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u8: Uint8Array;
  private readonly codec: Codec<V>;
  private readonly clock: Clock;
  private readonly token: number;
  private readonly keyBuf = new Uint8Array(L2.MaxKeyBytes + 8);
  private readonly keyBuf32 = new Int32Array(this.keyBuf.buffer);
  private readonly valBuf: Uint8Array;
  private readonly valBuf32: Int32Array;
  private readonly meta = new Float64Array(6);
  private rng: number;
  private hits = 0;
  private misses = 0;
  private sets = 0;
  private deletes = 0;
  private evictions = 0;
  private expirations = 0;
  private contended = 0;

  private constructor(buffer: SharedArrayBuffer, g: CacheGeometry, codec: Codec<V>, clock: Clock, paths: Readonly<SharedCachePaths>) {
    this.buffer = buffer;
    this.g = g;
    this.capacity = g.maxEntries;
    this.maxValueBytes = g.slotBytes;
    this.paths = paths;
    this.i32 = new Int32Array(buffer, 0, g.totalBytes >> 2);
    this.f64 = new Float64Array(buffer, 0, g.totalBytes >> 3);
    this.u8 = new Uint8Array(buffer, 0, g.totalBytes);
    this.codec = codec;
    this.clock = clock;
    this.token = ((Math.random() * 0x3fffffff) | 0) + (nextToken++ & 0xffff) + 1;
    this.rng = this.token | 1;
    this.valBuf = new Uint8Array(g.slotBytes + 8);
    this.valBuf32 = new Int32Array(this.valBuf.buffer);
    if (paths.get === 'native') this.getEntry = this.nativeGetEntry;
    if (paths.set === 'native') this.writeEncoded = this.nativeWriteEncoded;
    if (paths.delete === 'native') this.deleteEncoded = this.nativeDeleteEncoded;
  }

  /**
   * Allocates a cache in a new SharedArrayBuffer.
   * @example
   * const l2 = SharedCache.create({ maxEntries: 50_000, valueBytes: 512 });
   */
  static create<V = unknown>(options?: SharedCacheCreateOptions<V>): SharedCache<V> {
    const o = optionsObject(options, 'options', 'an options object for SharedCache.create', false);
    checkKnown(o, kCreateKeys, 'SharedCache.create');
    const g = geometryFromOptions(o.maxEntries ?? kL2DefaultEntries, o.valueBytes ?? kL2DefaultValueBytes);
    const { codec, clock, paths } = readCommon<V>(o, 'SharedCache.create');
    const buffer = new SharedArrayBuffer(g.totalBytes);
    writeHeader(buffer, g);
    return new SharedCache<V>(buffer, g, codec, clock, paths);
  }

  /**
   * Attaches to a cache made by SharedCache.create in this thread or another. Throws a
   * TypeError or RangeError for a buffer that is not an L2 cache.
   * @example
   * const l2 = SharedCache.attach(workerData.buffer);
   */
  static attach<V = unknown>(buffer: SharedArrayBuffer, options?: SharedCacheAttachOptions<V>): SharedCache<V> {
    const o = optionsObject(options, 'options', 'an options object for SharedCache.attach', false);
    checkKnown(o, kAttachKeys, 'SharedCache.attach');
    const g = readGeometry(buffer);
    const { codec, clock, paths } = readCommon<V>(o, 'SharedCache.attach');
    return new SharedCache<V>(buffer, g, codec, clock, paths);
  }

  /** Live entries, across every thread. */
  get size(): number {
    const n = Atomics.load(this.i32, HeaderWord.Live);
    return n < 0 ? 0 : Math.min(n, this.g.maxEntries);
  }

  /** The entry under `key` if present and not past `staleUntil` (without tags). */
  getEntry(key: string): CacheEntry<V> | undefined {
    checkKey(key);
    const n = this.encodeKey(key);
    const r = this.tsFind(fnv1a(this.keyBuf, n), n);
    return this.finishGet(r);
  }

  /** The value under `key` while fresh (`now < expiresAt`); undefined otherwise (or for a cached miss). */
  get(key: string): V | undefined {
    const e = this.getEntry(key);
    return e !== undefined && this.clock() < e.expiresAt ? e.value : undefined;
  }

  /**
   * Stores `entry` under `key` (tags are not kept). Evicts when full. Throws for a bad key or
   * entry, for a value the codec cannot encode (ERR_INVALID_ARG_VALUE naming `value`), for a
   * value too large for a slot (ERR_ULTRA_PERF_CACHE_VALUE_TOO_LARGE), and
   * CacheLevelUnavailableError when the write lock stays held with no write completing for
   * kLockTimeoutMs (a thread died holding it).
   */
  setEntry(key: string, entry: CacheEntry<V>): void {
    checkKey(key);
    checkEntry(entry);
    const n = this.encodeKey(key);
    let bytes: Uint8Array | null = null;
    let len = 0;
    if (entry.value !== undefined) {
      try {
        len = this.codec.encode(entry.value);
      } catch (cause) {
        const err = invalidValue('value', `a value the ${this.codec.name} codec can encode`, entry.value);
        (err as Error & { cause?: unknown }).cause = cause;
        throw err;
      }
      bytes = this.codec.scratch;
    }
    const need = ((n + 7) & ~7) + len;
    if (need > this.g.slotBytes) {
      throw withCode(
        new RangeError(
          `Expected a value whose encoding (${len} bytes) plus its UTF-8 key (${n} bytes, padded to ${(n + 7) & ~7}) fits an L2 slot, maxValueBytes = ${this.g.slotBytes} bytes, for value but received ${need} bytes; create the cache with a larger valueBytes or keep such values out of L2`,
        ),
        'ERR_ULTRA_PERF_CACHE_VALUE_TOO_LARGE',
      );
    }
    const m = this.meta;
    m[0] = entry.expiresAt;
    m[1] = entry.staleUntil;
    m[2] = entry.version;
    m[3] = bytes === null ? L2.FlagMiss : 0;
    m[4] = this.clock();
    const r = this.writeEncoded(n, bytes, len);
    if (r === L2Status.Busy) throw this.busyError('set');
    if (r < 0) throw new CacheLevelUnavailableError('l2', `the shared buffer is corrupt (status ${r})`);
    this.sets++;
    if (r > 0) this.evictions++;
  }

  /** Removes `key`; true when it was present (live, expired or not). */
  delete(key: string): boolean {
    checkKey(key);
    const n = this.encodeKey(key);
    const r = this.deleteEncoded(n);
    if (r === L2Status.Busy) throw this.busyError('delete');
    if (r < 0) throw new CacheLevelUnavailableError('l2', `the shared buffer is corrupt (status ${r})`);
    this.deletes++;
    return r === 1;
  }

  /** Removes every entry, for every thread. */
  clear(): void {
    if (!this.lock()) throw this.busyError('clear');
    try {
      const { i32, g } = this;
      i32.fill(0, L2.IndexOffset >> 2, (L2.IndexOffset >> 2) + g.indexCapacity * 2);
      const used = Math.min(Math.max(i32[HeaderWord.Used]!, 0), g.maxEntries);
      for (let e = 0; e < used; e++) {
        const w = (g.entriesOffset + e * g.entryStride) >> 2;
        const s = this.beginWrite(w);
        i32[w + EntryWord.Flags] = 0;
        Atomics.store(i32, w, s + 1);
      }
      Atomics.store(i32, HeaderWord.Used, 0);
      Atomics.store(i32, HeaderWord.FreeHead, 0);
      Atomics.store(i32, HeaderWord.Live, 0);
      Atomics.add(i32, HeaderWord.Stamp, 1);
    } finally {
      this.unlock();
    }
  }

  /** This object's counters (hits, misses, ... are per thread); `size` and `sharedEvictions` are the cache's. */
  stats(): LevelStats {
    const lookups = this.hits + this.misses;
    return {
      name: 'l2',
      hits: this.hits,
      misses: this.misses,
      hitRatio: lookups === 0 ? 0 : this.hits / lookups,
      sets: this.sets,
      deletes: this.deletes,
      evictions: this.evictions,
      expirations: this.expirations,
      size: this.size,
      capacity: this.capacity,
      sharedEvictions: Atomics.load(this.i32, HeaderWord.Evictions) >>> 0,
      contendedReads: this.contended,
      maxValueBytes: this.maxValueBytes,
      paths: { ...this.paths },
    };
  }

  // ---- internals --------------------------------------------------------------------------

  private busyError(op: string): CacheLevelUnavailableError {
    return new CacheLevelUnavailableError('l2', `${op}: the write lock stayed held with no write completing for ${kLockTimeoutMs} ms (a thread may have died holding it)`);
  }

  /** UTF-8 of `key` into keyBuf; returns its length (1..1536). ASCII without TextEncoder. */
  private encodeKey(key: string): number {
    const b = this.keyBuf;
    const n = key.length;
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) return utf8.encodeInto(key, b).written!;
      b[i] = c;
    }
    return n;
  }

  private finishGet(r: number): CacheEntry<V> | undefined {
    if (r < 0) {
      this.misses++;
      return undefined;
    }
    const m = this.meta;
    if (m[3] !== 0) {
      this.hits++;
      return { value: undefined, expiresAt: m[0]!, staleUntil: m[1]!, version: m[2]! };
    }
    let value: V;
    try {
      value = this.codec.decode(this.valBuf, 0, r);
    } catch {
      // Bytes another codec wrote (a thread attached with a different codec): a miss, not a throw.
      this.misses++;
      return undefined;
    }
    this.hits++;
    return { value, expiresAt: m[0]!, staleUntil: m[1]!, version: m[2]! };
  }

  /** Probes for the key in keyBuf[0..n); value bytes into valBuf, meta filled; returns the value length or Miss. */
  private tsFind(h: number, n: number): number {
    const { i32, g } = this;
    const mask = g.indexCapacity - 1;
    let b = h & mask;
    for (let probes = 0; probes < g.indexCapacity; probes++, b = (b + 1) & mask) {
      const w = (L2.IndexOffset >> 2) + b * 2;
      const ref = Atomics.load(i32, w + 1);
      if (ref === 0) return L2Status.Miss;
      if (Atomics.load(i32, w) !== h || ref < 1 || ref > g.maxEntries) continue;
      const r = this.readEntry(ref - 1, h, n);
      if (r !== kNotThisKey) return r;
    }
    return L2Status.Miss;
  }

  /**
   * One seqlocked read of entry e: its value length, Miss (expired, contended) or kNotThisKey.
   * The clock is read only for an entry that expires (staleUntil finite).
   */
  private readEntry(e: number, h: number, n: number): number {
    const { i32, f64, g } = this;
    const w = (g.entriesOffset + e * g.entryStride) >> 2;
    for (let tries = 0; tries < L2.ReadRetries; tries++) {
      const s1 = Atomics.load(i32, w);
      if ((s1 & 1) !== 0) continue;
      let r = kNotThisKey;
      const flags = i32[w + EntryWord.Flags]!;
      const kb = i32[w + EntryWord.KeyBytes]!;
      const vb = i32[w + EntryWord.ValueBytes]!;
      const vOff = (kb + 7) & ~7;
      if ((flags & L2.FlagLive) !== 0 && i32[w + EntryWord.Hash] === h && kb === n && vb >= 0 && vOff + vb <= g.slotBytes && this.keyEquals(w + 16, n)) {
        const f = w >> 1;
        const staleUntil = f64[f + EntryF64.StaleUntil]!;
        if (staleUntil !== Infinity && !(this.clock() < staleUntil)) {
          r = kExpired;
        } else {
          const m = this.meta;
          m[0] = f64[f + EntryF64.ExpiresAt]!;
          m[1] = staleUntil;
          m[2] = f64[f + EntryF64.Version]!;
          m[3] = flags & L2.FlagMiss;
          const src = w + 16 + (vOff >> 2);
          const words = (vb + 3) >> 2;
          const dst = this.valBuf32;
          for (let i = 0; i < words; i++) dst[i] = i32[src + i]!;
          r = vb;
        }
      }
      if (Atomics.load(i32, w) === s1) {
        if (r >= 0) {
          if (i32[w + EntryWord.Freq]! < 255) Atomics.add(i32, w + EntryWord.Freq, 1);
        } else if (r === kExpired) {
          this.expirations++;
          return L2Status.Miss;
        }
        return r;
      }
    }
    this.contended++;
    return L2Status.Miss;
  }

  /** Whether n bytes at i32 word w equal keyBuf[0..n). */
  private keyEquals(w: number, n: number): boolean {
    const { i32, keyBuf32 } = this;
    const words = n >> 2;
    for (let i = 0; i < words; i++) if (i32[w + i] !== keyBuf32[i]) return false;
    const rest = n & 3;
    if (rest === 0) return true;
    const mask = rest === 1 ? 0xff : rest === 2 ? 0xffff : 0xffffff;
    return ((i32[w + words]! ^ keyBuf32[words]!) & mask) === 0;
  }

  private nativeGetEntry(key: string): CacheEntry<V> | undefined {
    checkKey(key);
    const n = this.encodeKey(key);
    const r = cacheAddon!.cacheGet(this.u8, this.keyBuf, n, this.clock(), this.valBuf, this.meta);
    if (r === L2Status.Miss && this.meta[5] === 1) this.expirations++;
    return this.finishGet(r);
  }

  private nativeWriteEncoded(n: number, bytes: Uint8Array | null, len: number): number {
    return cacheAddon!.cacheSet(this.u8, this.keyBuf, n, bytes ?? this.valBuf, len, this.meta);
  }

  private nativeDeleteEncoded(n: number): number {
    return cacheAddon!.cacheDelete(this.u8, this.keyBuf, n);
  }

  /**
   * Takes the write lock: CAS spin, then short sleeps. Gives up (false) only after
   * kLockTimeoutMs without progress (the header's stamp, bumped by every write, unchanged): a
   * busy lock is waited for, a holder that died is not.
   */
  private lock(): boolean {
    const i32 = this.i32;
    for (let i = 0; i < kLockSpins; i++) {
      if (Atomics.compareExchange(i32, HeaderWord.WriteLock, 0, this.token) === 0) return true;
    }
    let seen = Atomics.load(i32, HeaderWord.Stamp);
    let deadline = performance.now() + kLockTimeoutMs;
    for (;;) {
      const held = Atomics.load(i32, HeaderWord.WriteLock);
      if (held === 0 && Atomics.compareExchange(i32, HeaderWord.WriteLock, 0, this.token) === 0) return true;
      const now = performance.now();
      const stamp = Atomics.load(i32, HeaderWord.Stamp);
      if (stamp !== seen) {
        seen = stamp;
        deadline = now + kLockTimeoutMs;
      } else if (now > deadline) {
        return false;
      }
      if (held !== 0) Atomics.wait(i32, HeaderWord.WriteLock, held, 0.05);
    }
  }

  private unlock(): void {
    Atomics.store(this.i32, HeaderWord.WriteLock, 0);
  }

  /** Makes entry word w's seq odd (we hold the write lock, so no writer races us); returns the odd value. */
  private beginWrite(w: number): number {
    const s = Atomics.load(this.i32, w) | 1;
    Atomics.store(this.i32, w, s);
    return s;
  }

  /** Finds the bucket of the key in keyBuf (under the lock); -1 when absent. */
  private findBucket(h: number, n: number): number {
    const { i32, g } = this;
    const mask = g.indexCapacity - 1;
    let b = h & mask;
    for (let probes = 0; probes < g.indexCapacity; probes++, b = (b + 1) & mask) {
      const w = (L2.IndexOffset >> 2) + b * 2;
      const ref = i32[w + 1]!;
      if (ref === 0) return -1;
      if (i32[w] !== h || ref < 1 || ref > g.maxEntries) continue;
      const ew = (g.entriesOffset + (ref - 1) * g.entryStride) >> 2;
      if ((i32[ew + EntryWord.Flags]! & L2.FlagLive) !== 0 && i32[ew + EntryWord.Hash] === h && i32[ew + EntryWord.KeyBytes] === n && this.keyEquals(ew + 16, n)) return b;
    }
    return -1;
  }

  /** Removes bucket b by backward shift (Knuth 6.4 Algorithm R), under the lock. */
  private removeBucket(b: number): void {
    const { i32, g } = this;
    const mask = g.indexCapacity - 1;
    const base = L2.IndexOffset >> 2;
    let i = b;
    let j = b;
    for (let steps = 0; steps < g.indexCapacity; steps++) {
      j = (j + 1) & mask;
      const ref = i32[base + j * 2 + 1]!;
      if (ref === 0) break;
      const k = i32[base + j * 2]! & mask;
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      Atomics.store(i32, base + i * 2, i32[base + j * 2]!);
      Atomics.store(i32, base + i * 2 + 1, ref);
      i = j;
    }
    Atomics.store(i32, base + i * 2 + 1, 0);
    Atomics.store(i32, base + i * 2, 0);
  }

  /** Inserts (h, ref) at the first empty bucket from h's home, under the lock. */
  private insertBucket(h: number, ref: number): void {
    const { i32, g } = this;
    const mask = g.indexCapacity - 1;
    const base = L2.IndexOffset >> 2;
    let b = h & mask;
    for (let probes = 0; probes < g.indexCapacity; probes++, b = (b + 1) & mask) {
      if (i32[base + b * 2 + 1] === 0) {
        Atomics.store(i32, base + b * 2, h);
        Atomics.store(i32, base + b * 2 + 1, ref);
        return;
      }
    }
  }

  private nextRandom(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return x >>> 0;
  }

  /** Picks and unlinks a victim among kEvictionSample sampled live entries; returns it, or -1. */
  private evict(now: number): number {
    const { i32, f64, g } = this;
    const stamp = i32[HeaderWord.Stamp]!;
    let best = -1;
    let bestExpired = false;
    let bestFreq = 0;
    let bestAge = 0;
    for (let k = 0; k < L2.EvictionSample; k++) {
      const e = this.nextRandom() % g.maxEntries;
      const w = (g.entriesOffset + e * g.entryStride) >> 2;
      if ((i32[w + EntryWord.Flags]! & L2.FlagLive) === 0) continue;
      const expired = !(now < f64[(w >> 1) + EntryF64.StaleUntil]!);
      const freq = i32[w + EntryWord.Freq]!;
      const age = (stamp - i32[w + EntryWord.Stamp]!) >>> 0;
      if (best < 0 || (expired && !bestExpired) || (expired === bestExpired && (freq < bestFreq || (freq === bestFreq && age > bestAge)))) {
        best = e;
        bestExpired = expired;
        bestFreq = freq;
        bestAge = age;
      }
      i32[w + EntryWord.Freq] = freq >> 1;
    }
    if (best < 0) {
      // Every sample was a free slot (a scribbled free list): take the first live entry found by a scan.
      for (let e = 0; e < g.maxEntries && best < 0; e++) {
        if ((i32[((g.entriesOffset + e * g.entryStride) >> 2) + EntryWord.Flags]! & L2.FlagLive) !== 0) best = e;
      }
      if (best < 0) return -1;
    }
    const w = (g.entriesOffset + best * g.entryStride) >> 2;
    const h = i32[w + EntryWord.Hash]!;
    const mask = g.indexCapacity - 1;
    let b = h & mask;
    for (let probes = 0; probes < g.indexCapacity; probes++, b = (b + 1) & mask) {
      const ref = i32[(L2.IndexOffset >> 2) + b * 2 + 1]!;
      if (ref === 0) break;
      if (ref === best + 1) {
        this.removeBucket(b);
        break;
      }
    }
    Atomics.add(i32, HeaderWord.Evictions, 1);
    Atomics.sub(i32, HeaderWord.Live, 1);
    return best;
  }

  /** set in TS: 0 stored, 1 stored after an eviction, or a negative status. meta = [expiresAt, staleUntil, version, flags, now]. */
  private writeEncoded(n: number, bytes: Uint8Array | null, len: number): number {
    if (!this.lock()) return L2Status.Busy;
    try {
      const { i32, f64, g, meta } = this;
      const h = fnv1a(this.keyBuf, n);
      const b = this.findBucket(h, n);
      let e: number;
      let evicted = 0;
      let fresh = false;
      if (b >= 0) {
        e = i32[(L2.IndexOffset >> 2) + b * 2 + 1]! - 1;
      } else {
        fresh = true;
        const free = i32[HeaderWord.FreeHead]!;
        const used = i32[HeaderWord.Used]!;
        if (free >= 1 && free <= g.maxEntries) {
          e = free - 1;
          const next = i32[((g.entriesOffset + e * g.entryStride) >> 2) + EntryWord.Next]!;
          Atomics.store(i32, HeaderWord.FreeHead, next >= 1 && next <= g.maxEntries ? next : 0);
        } else if (used >= 0 && used < g.maxEntries) {
          e = used;
          Atomics.store(i32, HeaderWord.Used, used + 1);
        } else {
          e = this.evict(meta[4]!);
          if (e < 0) return L2Status.BadCache;
          evicted = 1;
        }
      }
      const w = (g.entriesOffset + e * g.entryStride) >> 2;
      const stamp = (i32[HeaderWord.Stamp]! + 1) | 0;
      Atomics.store(i32, HeaderWord.Stamp, stamp);
      const s = this.beginWrite(w);
      i32[w + EntryWord.Flags] = L2.FlagLive | (meta[3]! === L2.FlagMiss ? L2.FlagMiss : 0);
      i32[w + EntryWord.Hash] = h;
      i32[w + EntryWord.KeyBytes] = n;
      i32[w + EntryWord.ValueBytes] = len;
      i32[w + EntryWord.Freq] = 0;
      i32[w + EntryWord.Stamp] = stamp;
      i32[w + EntryWord.Next] = 0;
      const f = w >> 1;
      f64[f + EntryF64.ExpiresAt] = meta[0]!;
      f64[f + EntryF64.StaleUntil] = meta[1]!;
      f64[f + EntryF64.Version] = meta[2]!;
      const d = (w << 2) + L2.EntryHeaderBytes;
      const kw = (n + 3) >> 2;
      for (let i = 0; i < kw; i++) i32[(d >> 2) + i] = this.keyBuf32[i]!;
      if (bytes !== null && len > 0) this.u8.set(len === bytes.length ? bytes : bytes.subarray(0, len), d + ((n + 7) & ~7));
      Atomics.store(i32, w, s + 1);
      if (fresh) {
        this.insertBucket(h, e + 1);
        Atomics.add(i32, HeaderWord.Live, 1);
      }
      return evicted;
    } finally {
      this.unlock();
    }
  }

  /** delete in TS: 1 removed, 0 absent, or a negative status. */
  private deleteEncoded(n: number): number {
    if (!this.lock()) return L2Status.Busy;
    try {
      const { i32, g } = this;
      const h = fnv1a(this.keyBuf, n);
      const b = this.findBucket(h, n);
      if (b < 0) return 0;
      const e = i32[(L2.IndexOffset >> 2) + b * 2 + 1]! - 1;
      this.removeBucket(b);
      const w = (g.entriesOffset + e * g.entryStride) >> 2;
      const s = this.beginWrite(w);
      i32[w + EntryWord.Flags] = 0;
      i32[w + EntryWord.Next] = i32[HeaderWord.FreeHead]!;
      Atomics.store(i32, w, s + 1);
      Atomics.store(i32, HeaderWord.FreeHead, e + 1);
      Atomics.sub(i32, HeaderWord.Live, 1);
      Atomics.add(i32, HeaderWord.Stamp, 1);
      return 1;
    } finally {
      this.unlock();
    }
  }
}

const kNotThisKey = -100;
const kExpired = -101;
const utf8 = new TextEncoder();
