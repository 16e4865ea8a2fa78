/**
 * FIFO allocator over an ArrayBuffer or SharedArrayBuffer (docs/memory-layout.md "Ring");
 * cpp/memory/ring.hpp implements the same bytes. alloc(size) takes space at the head;
 * release() gives back the oldest allocation. Each allocation is preceded by an
 * 8-byte record {size, check}; an allocation that would cross the end of the region
 * leaves a skip record there and starts again at the beginning.
 */
import { describe, invalidRange, invalidType } from '../errors.js';
import {
  CorruptAllocatorError,
  type MemoryBackend,
  kAttach,
  checkAttached,
  kCrossCheckNative,
  openAllocatorBuffer,
  intOption,
  memoryAddon,
  offsetTypeError,
  requireOptions,
  resolveBackend,
  statusError,
  lockError,
  lockTimeoutOption,
  choosePath,
} from './common.js';
import { Kind, RingLayout, Status, type Geometry, lockTimeoutOf, ringGeometry, writeHeader, writeLockTimeout } from './layout.js';
import { lockWord, unlockWord } from './lock.js';

export interface RingAllocatorOptions {
  /** Bytes of the circular region: a multiple of 8, 16 to 2^30. Each allocation costs 8 more. */
  bytes: number;
  shared?: boolean;
  buffer?: ArrayBuffer | SharedArrayBuffer;
  backend?: MemoryBackend;
  /**
   * Shared only: how long a call waits for the lock word before it throws
   * AllocatorLockTimeoutError. Kept in the header (every thread and C++ use it); 1 to
   * 60000, default 1000.
   */
  lockTimeoutMs?: number;
}

export interface RingStats {
  bytes: number;
  /** Bytes taken by live allocations, their record headers and skipped tail space. */
  used: number;
  free: number;
  /** Live allocations. */
  live: number;
  /** The largest size alloc() accepts (bytes - 8). */
  maxSize: number;
}

const LOCK = RingLayout.lock >> 2;
const HEAD = RingLayout.head >> 2;
const TAIL = RingLayout.tail >> 2;
const USED = RingLayout.used >> 2;
const COUNT = RingLayout.count >> 2;
const SKIP = RingLayout.skip | 0;
const CHECK = RingLayout.check;
const SKIP_CHECK = SKIP ^ CHECK;
const REC = RingLayout.recordHeader;

const recordBytes = (size: number): number => REC + ((size + 7) & ~7);

/**
 * Allocations that die in the order they were made (outbound frames, log records):
 * `alloc(size)` at the head, `release()` of the oldest.
 *
 * @example
 * import { RingAllocator } from 'ultra-performance';
 * const ring = new RingAllocator({ bytes: 1 << 16 });
 * const a = ring.alloc(100);
 * const b = ring.alloc(40);
 * ring.release(); // === a
 * ring.free(b);   // free(offset) must name the oldest
 */
export class RingAllocator {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly shared: boolean;
  readonly bytes: number;
  readonly dataOffset: number;
  /** The largest size alloc() accepts. */
  readonly maxSize: number;
  /** 'ts' for every allocator the public API makes ('native' only on the tests' kCrossCheckNative handles). */
  readonly backend: 'ts' | 'native';

  /** Takes `size` bytes (8-aligned) at the head: the offset, or -1 when there is no room now. */
  readonly alloc: (size: number) => number;
  /** Gives back the oldest allocation: its offset, or -1 when there is none. */
  readonly release: () => number;
  /**
   * Gives back `offset`, which must be the oldest live allocation (FIFO); throws and
   * changes nothing otherwise.
   */
  readonly free: (offset: number) => void;

  private readonly i32: Int32Array;
  private readonly mem: Uint8Array;
  private readonly data: number;
  private readonly lockTimeoutMs: number;

  constructor(options: RingAllocatorOptions) {
    const o = requireOptions(options, 'RingAllocator');
    const { g, buffer, shared, created } = openAllocatorBuffer(o, Kind.ring, 'RingAllocator', () => geometryFor(o));
    if (created) {
      const timeout = lockTimeoutOption(o);
      writeHeader(buffer, Kind.ring, g, shared);
      writeLockTimeout(buffer, timeout ?? 0);
      new Int32Array(buffer, RingLayout.lock, (RingLayout.data - RingLayout.lock) >> 2).fill(0);
    }
    this.lockTimeoutMs = lockTimeoutOf(buffer);
    this.buffer = buffer;
    this.shared = shared;
    this.bytes = g.g0;
    this.dataOffset = g.dataOffset;
    this.maxSize = g.g0 - REC;
    this.backend = resolveBackend(o, 'RingAllocator');
    this.i32 = new Int32Array(buffer, 0, g.totalBytes >> 2);
    this.mem = new Uint8Array(buffer, 0, g.totalBytes);
    this.data = g.dataOffset >> 2;
    ({ alloc: this.alloc, release: this.release, free: this.free } = choosePath(this.backend, shared, {
      native: { alloc: RingAllocator.allocNative, release: RingAllocator.releaseNative, free: RingAllocator.freeNative },
      shared: { alloc: RingAllocator.allocShared, release: RingAllocator.releaseShared, free: RingAllocator.freeShared },
      local: { alloc: RingAllocator.allocLocal, release: RingAllocator.releaseLocal, free: RingAllocator.freeLocal },
    }));
  }

  /** Uses a ring that already lives in `buffer` (made in another thread, by TS or C++). */
  static attach(buffer: ArrayBuffer | SharedArrayBuffer, options: { backend?: MemoryBackend } = {}): RingAllocator {
    const o = requireOptions(options, 'RingAllocator.attach');
    return new RingAllocator({ [kAttach]: buffer, backend: o.backend, [kCrossCheckNative]: (o as Record<symbol, unknown>)[kCrossCheckNative] } as unknown as RingAllocatorOptions);
  }

  /** Bytes a ring of this size needs (for options.buffer). */
  static requiredBytes(options: Pick<RingAllocatorOptions, 'bytes'>): number {
    return geometryFor(requireOptions(options, 'RingAllocator.requiredBytes')).totalBytes;
  }

  /** The oldest live allocation's offset, or -1 when the ring is empty. */
  oldest(): number {
    this.lock();
    const pos = this.peek();
    this.unlock();
    if (pos === Status.full) return -1;
    if (pos < 0) throw this.corrupt();
    return this.dataOffset + pos + REC;
  }

  /** The size asked for when the live allocation at `offset` was made; throws if it is not live. */
  sizeOf(offset: number): number {
    const typeError = offsetTypeError('offset', offset);
    if (typeError !== null) throw typeError;
    this.lock();
    const size = this.liveSize(offset);
    this.unlock();
    if (size < 0) throw invalidRange('offset', 'a live allocation of this RingAllocator', offset);
    return size;
  }

  /** A zero-copy Uint8Array over the live allocation at `offset` (default its whole size). */
  view(offset: number, size?: number): Uint8Array {
    const have = this.sizeOf(offset);
    if (size === undefined) return new Uint8Array(this.buffer, offset, have);
    if (typeof size !== 'number' || !Number.isInteger(size)) throw invalidType('size', `an integer from 0 to ${have}`, size);
    if (size < 0 || size > have) throw invalidRange('size', `an integer from 0 to ${have} (the allocation's size)`, size);
    return new Uint8Array(this.buffer, offset, size);
  }

  stats(): RingStats {
    checkAttached(this.mem, 'RingAllocator', this.dataOffset + this.bytes);
    this.lock();
    const used = Math.min(this.i32[USED]! >>> 0, this.bytes);
    const live = this.i32[COUNT]! >>> 0;
    this.unlock();
    return { bytes: this.bytes, used, free: this.bytes - used, live, maxSize: this.maxSize };
  }

  /** Takes the lock when shared; throws AllocatorLockTimeoutError / CorruptAllocatorError when it cannot. */
  private lock(): void {
    if (!this.shared) return;
    const status = lockWord(this.i32, LOCK, this.lockTimeoutMs);
    if (status !== Status.ok) throw lockError(status, 'RingAllocator', this.i32, RingLayout.lock, this.lockTimeoutMs);
  }

  private unlock(): void {
    if (this.shared) unlockWord(this.i32, LOCK);
  }

  private corrupt(): CorruptAllocatorError {
    return new CorruptAllocatorError('RingAllocator: a record header is corrupted (something wrote past the end of an allocation)');
  }

  private freeError(status: number, offset: number): Error {
    if (status === Status.notOldest) {
      const oldest = this.oldest();
      const expected = oldest < 0 ? 'a live allocation (the ring is empty)' : `the oldest live allocation (${oldest})`;
      return new RangeError(`Expected ${expected} for offset but received ${describe(offset)}: a RingAllocator frees in FIFO order`);
    }
    this.throwLockStatus(status);
    return status === Status.corrupt ? this.corrupt() : statusError(status, 'RingAllocator', 'offset', offset);
  }

  private sizeCheck(size: number): void {
    if (typeof size === 'number' && size >= 1 && size <= this.maxSize && (size | 0) === size) return;
    if (typeof size !== 'number' || !Number.isInteger(size)) throw invalidType('size', `an integer from 1 to ${this.maxSize}`, size);
    if (size > this.maxSize) throw invalidRange('size', `at most ${this.maxSize} bytes (the most this RingAllocator holds)`, size);
    throw invalidRange('size', `an integer from 1 to ${this.maxSize}`, size);
  }

  // head, tail, used and every record word are read once into locals and checked before
  // use (docs/memory-layout.md "Shared memory is hostile"): a position must be 8-aligned and inside
  // the region, so a scribbled header gives Status.corrupt, never a record out of place.

  private validPos(pos: number): boolean {
    return pos >= 0 && pos < this.bytes && (pos & 7) === 0;
  }

  /**
   * Position (relative to data) of the oldest record, Status.full when empty, or
   * Status.corrupt; what it read is left in this.peeked* for releaseAt.
   */
  private peek(): number {
    const i32 = this.i32;
    const used = i32[USED]! >>> 0;
    if (used === 0) {
      // A detached or shrunk buffer reads every word as undefined (0 here): refuse it.
      if (i32.length === 0) this.detached();
      return Status.full;
    }
    const oldTail = i32[TAIL]! >>> 0;
    if (!this.validPos(oldTail) || used > this.bytes) return Status.corrupt;
    const base = this.data;
    let tail = oldTail;
    let size = i32[base + (tail >> 2)]!;
    if (size === SKIP) {
      if (i32[base + (tail >> 2) + 1] !== SKIP_CHECK) return Status.corrupt;
      tail = 0;
      size = i32[base]!;
    }
    const check = (this.dataOffset + tail + REC) ^ CHECK;
    if (i32[base + (tail >> 2) + 1] !== check || size < 1 || size > this.maxSize || recordBytes(size) > this.bytes - tail) {
      return Status.corrupt;
    }
    this.peekedOldTail = oldTail;
    this.peekedSize = size;
    this.peekedUsed = used;
    return tail;
  }

  private peekedOldTail = 0;
  private peekedSize = 0;
  private peekedUsed = 0;

  /** Releases the record at `pos` from what peek() read: Status.ok or Status.corrupt. */
  private releaseAt(pos: number): number {
    const i32 = this.i32;
    const oldTail = this.peekedOldTail;
    const rec = recordBytes(this.peekedSize);
    const released = rec + (pos === oldTail ? 0 : this.bytes - oldTail);
    if (released > this.peekedUsed) return Status.corrupt;
    const used = this.peekedUsed - released;
    i32[USED] = used;
    i32[COUNT] = i32[COUNT]! - 1;
    const next = pos + rec;
    i32[TAIL] = next === this.bytes ? 0 : next;
    if (used === 0) {
      i32[HEAD] = 0;
      i32[TAIL] = 0;
    }
    return Status.ok;
  }

  private liveSize(offset: number): number {
    const i32 = this.i32;
    const pos = offset - this.dataOffset - REC;
    if (i32[USED] === 0 || !this.validPos(pos)) return -1;
    const head = i32[HEAD]! >>> 0;
    const tail = i32[TAIL]! >>> 0;
    const live = tail < head ? pos >= tail && pos < head : pos >= tail || pos < head;
    const size = i32[this.data + (pos >> 2)]!;
    if (!live || i32[this.data + (pos >> 2) + 1] !== (offset ^ CHECK) || size < 1 || size > this.maxSize) return -1;
    if (recordBytes(size) > this.bytes - pos) return -1;
    return size;
  }

  /** Status.ok after releasing `offset`, or why it cannot be released (nothing changed then). */
  private freeAt(offset: number): number {
    const pos = this.peek();
    if (pos === Status.full) return Status.notOldest;
    if (pos < 0) return pos;
    if (this.dataOffset + pos + REC !== offset) return Status.notOldest;
    return this.releaseAt(pos);
  }

  /** alloc() after the size check, without the lock: the payload offset, -1, or Status.corrupt. */
  private allocAt(size: number): number {
    const i32 = this.i32;
    const cap = this.bytes;
    const need = recordBytes(size);
    let head = i32[HEAD]! >>> 0;
    const tail = i32[TAIL]! >>> 0;
    const used = i32[USED]! >>> 0;
    if (!this.validPos(head) || !this.validPos(tail) || used > cap) return Status.corrupt;
    let taken = need;
    if (used === 0) {
      if (i32.length === 0) this.detached(); // as in peek()
      head = 0;
      i32[TAIL] = 0;
    } else if (head > tail) {
      // Live records are [tail, head): room at the end, else skip it and use [0, tail).
      if (cap - head < need) {
        if (tail < need) return -1;
        i32[this.data + (head >> 2)] = SKIP;
        i32[this.data + (head >> 2) + 1] = SKIP_CHECK;
        taken += cap - head;
        head = 0;
      }
    } else if (head === tail || tail - head < need) {
      return -1;
    }
    if (cap - used < taken) return Status.corrupt;
    const payload = this.dataOffset + head + REC;
    i32[this.data + (head >> 2)] = size;
    i32[this.data + (head >> 2) + 1] = payload ^ CHECK;
    head += need;
    i32[HEAD] = head === cap ? 0 : head;
    i32[USED] = used + taken;
    i32[COUNT] = i32[COUNT]! + 1;
    return payload;
  }

  /** For a native status: throws the lock's error when the lock is what failed (timed out, or a word not 0/1/2). */
  private throwLockStatus(status: number): void {
    if (!this.shared || (status !== Status.lockTimeout && status !== Status.corrupt)) return;
    const word = Atomics.load(this.i32, LOCK);
    if (status === Status.lockTimeout || word < 0 || word > 2) {
      throw lockError(status === Status.lockTimeout ? status : Status.corrupt, 'RingAllocator', this.i32, RingLayout.lock, this.lockTimeoutMs);
    }
  }

  private detached(): never {
    checkAttached(this.mem, 'RingAllocator', this.dataOffset + this.bytes);
    throw this.corrupt();
  }

  private allocResult(offset: number): number {
    if (offset >= -1) return offset;
    throw this.corrupt();
  }

  private static allocLocal(this: RingAllocator, size: number): number {
    this.sizeCheck(size);
    const offset = this.allocAt(size);
    return offset >= -1 ? offset : this.allocResult(offset);
  }

  private static allocShared(this: RingAllocator, size: number): number {
    this.sizeCheck(size);
    this.lock();
    const offset = this.allocAt(size);
    unlockWord(this.i32, LOCK);
    return offset >= -1 ? offset : this.allocResult(offset);
  }

  private static freeLocal(this: RingAllocator, offset: number): void {
    const typeError = offsetTypeError('offset', offset);
    if (typeError !== null) throw typeError;
    const status = this.freeAt(offset);
    if (status === Status.ok) return;
    checkAttached(this.mem, 'RingAllocator', this.dataOffset + this.bytes);
    throw this.freeError(status, offset);
  }

  private static freeShared(this: RingAllocator, offset: number): void {
    const typeError = offsetTypeError('offset', offset);
    if (typeError !== null) throw typeError;
    this.lock();
    const status = this.freeAt(offset);
    unlockWord(this.i32, LOCK);
    if (status !== Status.ok) throw this.freeError(status, offset);
  }

  private static freeNative(this: RingAllocator, offset: number): void {
    const typeError = offsetTypeError('offset', offset);
    if (typeError !== null) throw typeError;
    const status = memoryAddon!.ringFree(this.mem, offset);
    if (status !== Status.ok) throw this.freeError(status, offset);
  }

  private static releaseLocal(this: RingAllocator): number {
    const pos = this.peek();
    if (pos === Status.full) return -1;
    if (pos < 0 || this.releaseAt(pos) !== Status.ok) throw this.corrupt();
    return this.dataOffset + pos + REC;
  }

  private static releaseShared(this: RingAllocator): number {
    this.lock();
    let pos = this.peek();
    if (pos >= 0 && this.releaseAt(pos) !== Status.ok) pos = Status.corrupt;
    unlockWord(this.i32, LOCK);
    if (pos === Status.full) return -1;
    if (pos < 0) throw this.corrupt();
    return this.dataOffset + pos + REC;
  }

  private static allocNative(this: RingAllocator, size: number): number {
    this.sizeCheck(size);
    const result = memoryAddon!.ringAlloc(this.mem, size);
    if (result >= -1) return result;
    this.throwLockStatus(result);
    throw result === Status.corrupt ? this.corrupt() : statusError(result, 'RingAllocator', 'size', size);
  }

  private static releaseNative(this: RingAllocator): number {
    const result = memoryAddon!.ringRelease(this.mem);
    if (result >= -1) return result;
    this.throwLockStatus(result);
    throw result === Status.corrupt ? this.corrupt() : statusError(result, 'RingAllocator', 'release()', result);
  }
}

function geometryFor(o: Record<string, unknown>): Geometry {
  const bytes = intOption(o, 'bytes', RingLayout.minBytes, RingLayout.maxBytes, 'a multiple of 8', (n) => n % 8 === 0);
  return ringGeometry(bytes)!;
}

