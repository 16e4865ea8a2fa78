/**
 * The shared-memory layout of SpscQueue and MpmcQueue. cpp/queue/layout.hpp is the
 * same layout for C++ (with static_asserts); the addon exports its offsets and the
 * loader refuses one that differs from `queueLayout` below (lib/internal/layout-check.ts).
 *
 * ```
 * offset  size  field              written by        read by
 * line 0 (config: written once by create, then read-mostly)
 *      0     4  magic 0x55505155   create            attach
 *      4     4  version (1)
 *      8     4  kind (1 SPSC, 2 MPMC)
 *     12     4  capacity           power of two, 2..2^30
 *     16     4  slotBytes          largest message, 1..2^24
 *     20     4  slotStride         8 + slotBytes rounded up to 8
 *     24     4  dataOffset         896
 *     28     4  totalBytes         dataOffset + capacity * slotStride, rounded up to 128
 *     32     4  closed             close()           everyone
 * line 1 @128  tail / enqueuePos  producer(s)       consumer(s), size()
 * line 2 @256  headCache          the SPSC producer only (its cached copy of head)
 * line 3 @384  head / dequeuePos  consumer(s)       producer(s), size()
 * line 4 @512  tailCache          the SPSC consumer only (its cached copy of tail)
 * line 5 @640  notEmptySeq, consumersAsleep (flag), nativeProducers
 * line 6 @768  notFullSeq, producersAsleep (flag)
 * @896         capacity slots of slotStride bytes:
 *                +0 u32 seq (MPMC: Vyukov's per-slot sequence; SPSC: unused, 0)
 *                +4 u32 length of the payload
 *                +8 payload, slotBytes padded to 8
 * ```
 * "Lines" are 128 bytes (two 64-byte cache lines, since the adjacent-line prefetcher
 * pulls pairs), so indices owned by different threads never share one. Indices are
 * free-running u32 counters; a slot is `index & (capacity - 1)`. Every field is 4 bytes
 * so JS can `Atomics.wait` on it through an Int32Array; C++ uses std::atomic_ref.
 *
 * Sleeping: a consumer that finds the queue empty reads `notEmptySeq`, raises the
 * `consumersAsleep` flag, tries once more, then `Atomics.wait(notEmptySeq, seen)`. A
 * producer, after publishing, reads the flag and only when it is up takes it down
 * (`Atomics.exchange`), bumps `notEmptySeq` and notifies every waiter: one wake-up per
 * sleep episode, not one per push until the sleeper is back. Both sides use
 * sequentially consistent operations, so either the producer sees the flag or the
 * sleeper's last try sees the message; and because the sleeper read the sequence before
 * raising the flag, a producer that takes the flag down has bumped the sequence the
 * sleeper waits on. The other direction uses `notFullSeq`/`producersAsleep`.
 * `nativeProducers` counts native replay threads: they cannot call Atomics.notify
 * themselves (they ask the JS thread that started them), so
 * while one runs, consumers sleep in short slices as a safety net.
 */
import { describe as describeValue, invalidRange, invalidType, withCode } from '../errors.js';
import { isPlainObject } from '../internal/options.js';
import { hex32 } from '../internal/layout-check.js';
import { Layout, Status, Word } from './kernel.js';

export { Layout, Status, Word };

export type QueueKind = 'spsc' | 'mpmc';

/** The immutable geometry of a queue, read once from a checked header. */
export interface Geometry {
  kind: number;
  capacity: number;
  slotBytes: number;
  slotStride: number;
  totalBytes: number;
}

/**
 * Every constant and offset of the layout, keyed as the addon's `queueLayout` is, for
 * code in other languages or processes that maps the same bytes.
 * @example
 * const tail = new Int32Array(queue.buffer)[queueLayout.tailOffset / 4];
 */
export const queueLayout: Readonly<Record<string, number>> = Object.freeze({
  cacheLineSize: Layout.CacheLineSize,
  lineBytes: Layout.LineBytes,
  magic: Layout.Magic,
  version: Layout.Version,
  kindSpsc: Layout.KindSpsc,
  kindMpmc: Layout.KindMpmc,
  minCapacity: Layout.MinCapacity,
  maxCapacity: Layout.MaxCapacity,
  maxSlotBytes: Layout.MaxSlotBytes,
  maxTotalBytes: Layout.MaxTotalBytes,
  slotHeaderBytes: Layout.SlotHeaderBytes,
  slotSeqOffset: Layout.SlotSeqOffset,
  slotLengthOffset: Layout.SlotLengthOffset,
  dataOffset: Layout.DataOffset,
  magicOffset: Word.Magic * 4,
  versionOffset: Word.Version * 4,
  kindOffset: Word.Kind * 4,
  capacityOffset: Word.Capacity * 4,
  slotBytesOffset: Word.SlotBytes * 4,
  slotStrideOffset: Word.SlotStride * 4,
  dataOffsetOffset: Word.DataOffset * 4,
  totalBytesOffset: Word.TotalBytes * 4,
  closedOffset: Word.Closed * 4,
  tailOffset: Word.Tail * 4,
  headCacheOffset: Word.HeadCache * 4,
  headOffset: Word.Head * 4,
  tailCacheOffset: Word.TailCache * 4,
  notEmptySeqOffset: Word.NotEmptySeq * 4,
  consumersAsleepOffset: Word.ConsumersAsleep * 4,
  nativeProducersOffset: Word.NativeProducers * 4,
  notFullSeqOffset: Word.NotFullSeq * 4,
  producersAsleepOffset: Word.ProducersAsleep * 4,
  full: Status.Full,
  pushed: Status.Pushed,
  empty: Status.Empty,
  closed: Status.Closed,
  tooBig: Status.TooBig,
  outTooSmall: Status.OutTooSmall,
  badQueue: Status.BadQueue,
  corrupt: Status.Corrupt,
  badBatch: Status.BadBatch,
  stopped: Status.Stopped,
  badArgument: Status.BadArgument,
  wakeBit: Status.WakeBit,
  replayBatch: 64,
});

export function kindCode(kind: QueueKind): number {
  return kind === 'spsc' ? Layout.KindSpsc : Layout.KindMpmc;
}

function kindName(code: number): string {
  return code === Layout.KindSpsc ? 'an SPSC' : code === Layout.KindMpmc ? 'an MPMC' : `an unknown (${code})`;
}

export function slotStrideFor(slotBytes: number): number {
  return Layout.SlotHeaderBytes + Math.ceil(slotBytes / 8) * 8;
}

export function totalBytesFor(capacity: number, slotBytes: number): number {
  const end = Layout.DataOffset + capacity * slotStrideFor(slotBytes);
  return Math.ceil(end / Layout.LineBytes) * Layout.LineBytes;
}

function isPowerOfTwo(v: number): boolean {
  return Number.isInteger(v) && v > 0 && (v & (v - 1)) === 0 && v <= Layout.MaxCapacity;
}

/** Checks create()'s options and returns the geometry they ask for. */
export function geometryFromOptions(kind: QueueKind, options: unknown): Geometry {
  if (typeof options !== 'object' || options === null) {
    throw invalidType('options', 'an object { capacity, slotBytes }', options);
  }
  // A Map or class instance: the options kit's wording, as every options object gets.
  if (!isPlainObject(options)) throw invalidType('options', 'an options object', options);
  const { capacity, slotBytes } = options as { capacity?: unknown; slotBytes?: unknown };
  if (typeof capacity !== 'number' || !Number.isInteger(capacity)) {
    throw invalidType('options.capacity', 'an integer power of two', capacity);
  }
  if (!isPowerOfTwo(capacity) || capacity < Layout.MinCapacity) {
    throw invalidRange('options.capacity', `a power of two in [${Layout.MinCapacity}, ${Layout.MaxCapacity}]`, capacity);
  }
  if (typeof slotBytes !== 'number' || !Number.isInteger(slotBytes)) {
    throw invalidType('options.slotBytes', 'an integer number of bytes', slotBytes);
  }
  if (slotBytes < 1 || slotBytes > Layout.MaxSlotBytes) {
    throw invalidRange('options.slotBytes', `an integer in [1, ${Layout.MaxSlotBytes}]`, slotBytes);
  }
  const totalBytes = totalBytesFor(capacity, slotBytes);
  if (totalBytes > Layout.MaxTotalBytes) {
    throw withCode(
      new RangeError(
        `Expected a capacity whose queue fits in ${Layout.MaxTotalBytes} bytes with slotBytes ${slotBytes} for options.capacity but received ${capacity} (${totalBytes} bytes)`,
      ),
      'ERR_OUT_OF_RANGE',
    );
  }
  return { kind: kindCode(kind), capacity, slotBytes, slotStride: slotStrideFor(slotBytes), totalBytes };
}

/** Writes a fresh header (and MPMC slot sequences) into a zeroed buffer; magic last. */
export function writeHeader(buffer: SharedArrayBuffer, g: Geometry): void {
  const i32 = new Int32Array(buffer, 0, g.totalBytes >> 2);
  i32[Word.Version] = Layout.Version;
  i32[Word.Kind] = g.kind;
  i32[Word.Capacity] = g.capacity;
  i32[Word.SlotBytes] = g.slotBytes;
  i32[Word.SlotStride] = g.slotStride;
  i32[Word.DataOffset] = Layout.DataOffset;
  i32[Word.TotalBytes] = g.totalBytes;
  if (g.kind === Layout.KindMpmc) {
    const stride = g.slotStride >> 2;
    for (let i = 0, w = Layout.DataOffset >> 2; i < g.capacity; i++, w += stride) i32[w] = i;
  }
  Atomics.store(i32, Word.Magic, Layout.Magic | 0);
}

/**
 * Checks that buffer holds a queue of the given kind and returns its geometry. Throws a
 * TypeError (not a queue, wrong kind) or a RangeError (size, version, geometry).
 */
export function readGeometry(buffer: unknown, kind: QueueKind, argument = 'buffer'): Geometry {
  const wanted = kindCode(kind);
  const made = kind === 'spsc' ? 'SpscQueue.create' : 'MpmcQueue.create';
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw invalidType(argument, `a SharedArrayBuffer made by ${made}`, buffer);
  }
  const bytes = buffer.byteLength;
  if (bytes < Layout.DataOffset) {
    throw new RangeError(
      `Expected at least ${Layout.DataOffset} bytes (a queue header) for ${argument} but received a SharedArrayBuffer of ${bytes} bytes`,
    );
  }
  const i32 = new Int32Array(buffer, 0, Layout.DataOffset >> 2);
  const magic = Atomics.load(i32, Word.Magic);
  if (magic >>> 0 !== Layout.Magic) {
    throw new TypeError(
      `Expected a queue buffer (magic ${hex32(Layout.Magic)}) made by ${made} for ${argument} but received a SharedArrayBuffer whose magic is ${hex32(magic)}`,
    );
  }
  const version = i32[Word.Version]!;
  if (version !== Layout.Version) {
    throw new RangeError(`Expected queue layout version ${Layout.Version} for ${argument} but received version ${version}`);
  }
  const code = i32[Word.Kind]!;
  if (code !== wanted) {
    throw new TypeError(`Expected ${kindName(wanted)} queue buffer (kind ${wanted}) for ${argument} but received ${kindName(code)} queue buffer (kind ${code})`);
  }
  const capacity = i32[Word.Capacity]!;
  const slotBytes = i32[Word.SlotBytes]!;
  const slotStride = i32[Word.SlotStride]!;
  const totalBytes = i32[Word.TotalBytes]!;
  const consistent =
    isPowerOfTwo(capacity) &&
    capacity >= Layout.MinCapacity &&
    slotBytes >= 1 &&
    slotBytes <= Layout.MaxSlotBytes &&
    slotStride === slotStrideFor(slotBytes) &&
    i32[Word.DataOffset] === Layout.DataOffset &&
    totalBytes === totalBytesFor(capacity, slotBytes) &&
    totalBytes <= Layout.MaxTotalBytes;
  if (!consistent) {
    throw new RangeError(
      `Expected a consistent queue header for ${argument} but received capacity ${describeValue(capacity)}, slotBytes ${describeValue(slotBytes)}, slotStride ${slotStride}, dataOffset ${i32[Word.DataOffset]}, totalBytes ${totalBytes}`,
    );
  }
  if (totalBytes > bytes) {
    throw new RangeError(
      `Expected at least ${totalBytes} bytes (capacity ${capacity} x ${slotStride}-byte slots + header) for ${argument} but received a SharedArrayBuffer of ${bytes} bytes`,
    );
  }
  return { kind: code, capacity, slotBytes, slotStride, totalBytes };
}
