/**
 * The shared-memory layout of the L2 cache (`SharedCache`, l2.ts). cpp/cache/layout.hpp is the
 * same layout for C++ (with static_asserts); the addon exports its offsets as `cacheLayout` and
 * the loader refuses one that differs from `cacheLayout` below (lib/backend.ts cpuLayoutChecks).
 *
 * ```
 * offset  size  field              written by          read by
 * line 0 (config: written once by create, then read-only)
 *      0     4  magic 0x55504332   create              attach
 *      4     4  version (1)
 *      8     4  maxEntries         1..2^24 entry slots
 *     12     4  indexCapacity      power of two >= 2 * maxEntries
 *     16     4  slotBytes          key + value bytes per entry, multiple of 8, 8..2^20
 *     20     4  entryStride        64 + slotBytes
 *     24     4  indexOffset        256
 *     28     4  entriesOffset      indexOffset + indexCapacity * 8, rounded up to 128
 *     32     4  totalBytes         entriesOffset + maxEntries * entryStride
 * line 1 @128 (writer state: read and written only under the write lock)
 *    128     4  writeLock          0 free, else the holder's token
 *    132     4  used               entry slots ever handed out (bump allocator)
 *    136     4  freeHead           first free entry + 1 (0: none); linked through entry.next
 *    140     4  live               live entries
 *    144     4  stamp              bumped by every set, delete and clear (entry age; lock progress)
 *    148     4  evictions          entries evicted to make room (all threads)
 * @256          index: indexCapacity buckets of 8 bytes: u32 hash, u32 ref (entry + 1; 0 empty)
 * @entriesOffset maxEntries entries of entryStride bytes:
 *     +0  u32 seq        seqlock: odd while a writer rewrites the entry
 *     +4  u32 flags      bit 0 live, bit 1 cached miss (no value bytes)
 *     +8  u32 hash       FNV-1a 32 of the UTF-8 key
 *     +12 u32 keyBytes   UTF-8 key length, 1..1536
 *     +16 u32 valueBytes encoded value length; keyBytes + valueBytes <= slotBytes
 *     +20 u32 freq       reads since written (approximate: readers add without the lock)
 *     +24 u32 stamp      the header's stamp when written
 *     +28 u32 next       free-list link (entry + 1)
 *     +32 f64 expiresAt  ms epoch, Infinity = never
 *     +40 f64 staleUntil
 *     +48 f64 version
 *     +56 u32 reserved (0)
 *     +64     key (UTF-8), then the value as the codec wrote it
 * ```
 * Every field is little-endian (the platforms Node runs on); u32 fields are read with
 * `Atomics` through an Int32Array, f64 through a Float64Array, inside the seqlock.
 *
 * Concurrency (docs/cache.md "L2: shared memory"):
 * - Writers (set, delete, clear, eviction) take `writeLock` (a CAS spin lock; a waiter gives up
 *   with CacheLevelUnavailableError only after kLockTimeoutMs in which `stamp` did not move, i.e.
 *   no write completed: the holder died) so index inserts, backward-shift deletes and entry
 *   rewrites never interleave. Inside, each entry rewrite makes
 *   the entry's `seq` odd (CAS even -> odd), writes, then stores seq + 2.
 * - Readers take no lock: hash, probe the index (linear, at most indexCapacity buckets, stop at
 *   an empty one), and for a bucket whose hash matches read the entry between two loads of
 *   `seq`; an odd or changed seq retries, at most kReadRetries times, then the read is a miss.
 *   The key bytes are compared inside the same snapshot, so a bucket moved or reused under a
 *   reader yields a miss, never another key's value. Deletion by backward shift (no
 *   tombstones) may make a concurrent reader miss a key that is present: a cache may miss.
 * - Every length and reference read from the buffer is checked against the geometry copied out
 *   at attach before it is used, so a scribbled buffer gives misses or dropped writes, never an
 *   out-of-bounds access.
 */
import { describe as describeValue, invalidRange, invalidType, withCode } from '../errors.js';
import { hex32 } from '../internal/layout-check.js';

/** Byte offsets and constants of the layout (cpp/cache/layout.hpp). */
export const enum L2 {
  Magic = 0x55504332,
  Version = 1,
  LineBytes = 128,
  HeaderBytes = 256,
  IndexOffset = 256,
  BucketBytes = 8,
  EntryHeaderBytes = 64,
  MaxEntries = 16777216,
  MinSlotBytes = 8,
  MaxSlotBytes = 1048576,
  MaxTotalBytes = 2147483520,
  MaxKeyBytes = 1536,
  FlagLive = 1,
  FlagMiss = 2,
  /** Reader retries on an odd or changed seq before the read counts as a miss. */
  ReadRetries = 64,
  /** Entries sampled per eviction. */
  EvictionSample = 8,
}

/** Int32 word index of each header field (byte offset / 4). */
export const enum HeaderWord {
  Magic = 0,
  Version = 1,
  MaxEntries = 2,
  IndexCapacity = 3,
  SlotBytes = 4,
  EntryStride = 5,
  IndexOffset = 6,
  EntriesOffset = 7,
  TotalBytes = 8,
  WriteLock = 32,
  Used = 33,
  FreeHead = 34,
  Live = 35,
  Stamp = 36,
  Evictions = 37,
}

/** Int32 word offset of each u32 entry field from the entry's first word. */
export const enum EntryWord {
  Seq = 0,
  Flags = 1,
  Hash = 2,
  KeyBytes = 3,
  ValueBytes = 4,
  Freq = 5,
  Stamp = 6,
  Next = 7,
  Reserved = 14,
}

/** Float64 offset of each f64 entry field from the entry's first f64. */
export const enum EntryF64 {
  ExpiresAt = 4,
  StaleUntil = 5,
  Version = 6,
}

/** Status codes shared with the C++ core (layout.hpp). */
export const enum L2Status {
  Ok = 0,
  Miss = -1,
  TooBig = -2,
  BadCache = -3,
  Busy = -4,
  OutTooSmall = -5,
  BadArgument = -6,
}

/**
 * Every constant and offset of the layout, keyed as the addon's `cacheLayout` is, for code in
 * other languages that maps the same bytes.
 * @example
 * const live = new Int32Array(cache.buffer)[cacheLayout.liveOffset / 4];
 */
export const cacheLayout: Readonly<Record<string, number>> = Object.freeze({
  magic: L2.Magic,
  version: L2.Version,
  lineBytes: L2.LineBytes,
  headerBytes: L2.HeaderBytes,
  indexOffset: L2.IndexOffset,
  bucketBytes: L2.BucketBytes,
  entryHeaderBytes: L2.EntryHeaderBytes,
  maxEntries: L2.MaxEntries,
  minSlotBytes: L2.MinSlotBytes,
  maxSlotBytes: L2.MaxSlotBytes,
  maxTotalBytes: L2.MaxTotalBytes,
  maxKeyBytes: L2.MaxKeyBytes,
  flagLive: L2.FlagLive,
  flagMiss: L2.FlagMiss,
  readRetries: L2.ReadRetries,
  evictionSample: L2.EvictionSample,
  magicOffset: HeaderWord.Magic * 4,
  versionOffset: HeaderWord.Version * 4,
  maxEntriesOffset: HeaderWord.MaxEntries * 4,
  indexCapacityOffset: HeaderWord.IndexCapacity * 4,
  slotBytesOffset: HeaderWord.SlotBytes * 4,
  entryStrideOffset: HeaderWord.EntryStride * 4,
  indexOffsetOffset: HeaderWord.IndexOffset * 4,
  entriesOffsetOffset: HeaderWord.EntriesOffset * 4,
  totalBytesOffset: HeaderWord.TotalBytes * 4,
  writeLockOffset: HeaderWord.WriteLock * 4,
  usedOffset: HeaderWord.Used * 4,
  freeHeadOffset: HeaderWord.FreeHead * 4,
  liveOffset: HeaderWord.Live * 4,
  stampOffset: HeaderWord.Stamp * 4,
  evictionsOffset: HeaderWord.Evictions * 4,
  entrySeqOffset: EntryWord.Seq * 4,
  entryFlagsOffset: EntryWord.Flags * 4,
  entryHashOffset: EntryWord.Hash * 4,
  entryKeyBytesOffset: EntryWord.KeyBytes * 4,
  entryValueBytesOffset: EntryWord.ValueBytes * 4,
  entryFreqOffset: EntryWord.Freq * 4,
  entryStampOffset: EntryWord.Stamp * 4,
  entryNextOffset: EntryWord.Next * 4,
  entryExpiresAtOffset: EntryF64.ExpiresAt * 8,
  entryStaleUntilOffset: EntryF64.StaleUntil * 8,
  entryVersionOffset: EntryF64.Version * 8,
  ok: L2Status.Ok,
  miss: L2Status.Miss,
  tooBig: L2Status.TooBig,
  badCache: L2Status.BadCache,
  busy: L2Status.Busy,
  outTooSmall: L2Status.OutTooSmall,
  badArgument: L2Status.BadArgument,
});

/** The immutable geometry of a cache, read once from a checked header. */
export interface CacheGeometry {
  maxEntries: number;
  indexCapacity: number;
  slotBytes: number;
  entryStride: number;
  entriesOffset: number;
  totalBytes: number;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Smallest power of two >= 2 * maxEntries (load factor <= 0.5 keeps linear probes short). */
export function indexCapacityFor(maxEntries: number): number {
  let c = 2;
  while (c < 2 * maxEntries) c *= 2;
  return c;
}

/** The geometry of a cache of `maxEntries` entries of `slotBytes` (already a multiple of 8). */
export function geometryFor(maxEntries: number, slotBytes: number): CacheGeometry {
  const indexCapacity = indexCapacityFor(maxEntries);
  const entryStride = L2.EntryHeaderBytes + slotBytes;
  const entriesOffset = roundUp(L2.IndexOffset + indexCapacity * L2.BucketBytes, L2.LineBytes);
  return { maxEntries, indexCapacity, slotBytes, entryStride, entriesOffset, totalBytes: entriesOffset + maxEntries * entryStride };
}

/** Checks create()'s maxEntries and valueBytes and returns the geometry they ask for. */
export function geometryFromOptions(maxEntries: unknown, valueBytes: unknown): CacheGeometry {
  if (typeof maxEntries !== 'number' || !Number.isInteger(maxEntries)) throw invalidType('options.maxEntries', 'an integer number of entries', maxEntries);
  if (maxEntries < 1 || maxEntries > L2.MaxEntries) throw invalidRange('options.maxEntries', `an integer in [1, ${L2.MaxEntries}]`, maxEntries);
  if (typeof valueBytes !== 'number' || !Number.isInteger(valueBytes)) throw invalidType('options.valueBytes', 'an integer number of bytes', valueBytes);
  if (valueBytes < L2.MinSlotBytes || valueBytes > L2.MaxSlotBytes) {
    throw invalidRange('options.valueBytes', `an integer in [${L2.MinSlotBytes}, ${L2.MaxSlotBytes}]`, valueBytes);
  }
  const g = geometryFor(maxEntries, roundUp(valueBytes, 8));
  if (g.totalBytes > L2.MaxTotalBytes) {
    throw withCode(
      new RangeError(
        `Expected maxEntries x valueBytes to fit in ${L2.MaxTotalBytes} bytes for options.maxEntries but received ${maxEntries} entries of ${valueBytes} bytes (${g.totalBytes} bytes)`,
      ),
      'ERR_OUT_OF_RANGE',
    );
  }
  return g;
}

/** Writes a fresh header into a zeroed buffer; magic last (the TS twin of layout.hpp init_cache). */
export function writeHeader(buffer: SharedArrayBuffer, g: CacheGeometry): void {
  const i32 = new Int32Array(buffer, 0, L2.HeaderBytes >> 2);
  i32[HeaderWord.Version] = L2.Version;
  i32[HeaderWord.MaxEntries] = g.maxEntries;
  i32[HeaderWord.IndexCapacity] = g.indexCapacity;
  i32[HeaderWord.SlotBytes] = g.slotBytes;
  i32[HeaderWord.EntryStride] = g.entryStride;
  i32[HeaderWord.IndexOffset] = L2.IndexOffset;
  i32[HeaderWord.EntriesOffset] = g.entriesOffset;
  i32[HeaderWord.TotalBytes] = g.totalBytes;
  Atomics.store(i32, HeaderWord.Magic, L2.Magic | 0);
}

/**
 * Checks that `buffer` holds an L2 cache and returns its geometry. Throws a TypeError (not a
 * cache) or a RangeError (size, version, inconsistent geometry).
 */
export function readGeometry(buffer: unknown, argument = 'buffer'): CacheGeometry {
  if (!(buffer instanceof SharedArrayBuffer)) throw invalidType(argument, 'a SharedArrayBuffer made by SharedCache.create', buffer);
  const bytes = buffer.byteLength;
  if (bytes < L2.HeaderBytes) {
    throw invalidRange(argument, `a SharedArrayBuffer of at least ${L2.HeaderBytes} bytes (an L2 cache header)`, `${bytes} bytes`);
  }
  const i32 = new Int32Array(buffer, 0, L2.HeaderBytes >> 2);
  const magic = Atomics.load(i32, HeaderWord.Magic);
  if (magic >>> 0 !== L2.Magic) {
    throw new TypeError(`Expected an L2 cache buffer (magic ${hex32(L2.Magic)}) made by SharedCache.create for ${argument} but received a SharedArrayBuffer whose magic is ${hex32(magic)}`);
  }
  const version = Atomics.load(i32, HeaderWord.Version);
  if (version !== L2.Version) throw withCode(new RangeError(`Expected L2 cache layout version ${L2.Version} for ${argument} but received version ${version}`), 'ERR_OUT_OF_RANGE');
  const maxEntries = Atomics.load(i32, HeaderWord.MaxEntries);
  const slotBytes = Atomics.load(i32, HeaderWord.SlotBytes);
  const ok = maxEntries >= 1 && maxEntries <= L2.MaxEntries && slotBytes >= L2.MinSlotBytes && slotBytes <= L2.MaxSlotBytes && slotBytes % 8 === 0;
  const g = ok ? geometryFor(maxEntries, slotBytes) : null;
  const consistent =
    g !== null &&
    Atomics.load(i32, HeaderWord.IndexCapacity) === g.indexCapacity &&
    Atomics.load(i32, HeaderWord.EntryStride) === g.entryStride &&
    Atomics.load(i32, HeaderWord.IndexOffset) === L2.IndexOffset &&
    Atomics.load(i32, HeaderWord.EntriesOffset) === g.entriesOffset &&
    Atomics.load(i32, HeaderWord.TotalBytes) === g.totalBytes &&
    g.totalBytes <= L2.MaxTotalBytes;
  if (!consistent) {
    throw withCode(
      new RangeError(
        `Expected a consistent L2 cache header for ${argument} but received maxEntries ${describeValue(maxEntries)}, slotBytes ${describeValue(slotBytes)}, indexCapacity ${Atomics.load(i32, HeaderWord.IndexCapacity)}, totalBytes ${Atomics.load(i32, HeaderWord.TotalBytes)}`,
      ),
      'ERR_OUT_OF_RANGE',
    );
  }
  if (g.totalBytes > bytes) {
    throw withCode(
      new RangeError(`Expected at least ${g.totalBytes} bytes (${maxEntries} entries x ${g.entryStride} bytes + index + header) for ${argument} but received a SharedArrayBuffer of ${bytes} bytes`),
      'ERR_OUT_OF_RANGE',
    );
  }
  return g;
}

/** FNV-1a, 32 bits, over `n` bytes of `b` (the C++ twin is layout.hpp fnv1a). Never 0. */
export function fnv1a(b: Uint8Array, n: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h === 0 ? 1 : h;
}
