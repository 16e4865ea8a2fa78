/**
 * Power-of-two buddy allocator over an ArrayBuffer or SharedArrayBuffer (docs/memory-layout.md
 * "Buddy"); cpp/memory/buddy.hpp implements the same bytes. A request is rounded up
 * to a power of two (at least minBlock); bigger free blocks split in halves on alloc
 * and a freed block merges with its buddy while the buddy is free too.
 *
 * Shared buddies take one Atomics lock word around each call (lock.ts): a call is a
 * few list operations, so a lock costs less than making split/merge lock-free.
 */
import { describe, invalidRange, invalidType } from '../errors.js';
import {
  CorruptAllocatorError,
  type MemoryBackend,
  kAttach,
  checkAttached,
  kCrossCheckNative,
  lockError,
  lockTimeoutOption,
  openAllocatorBuffer,
  intOption,
  memoryAddon,
  offsetTypeError,
  requireOptions,
  resolveBackend,
  statusError,
  choosePath,
} from './common.js';
import { BuddyLayout, Kind, Status, type Geometry, buddyGeometry, lockTimeoutOf, writeHeader, writeLockTimeout } from './layout.js';
import { lockWord, unlockWord } from './lock.js';

export interface BuddyAllocatorOptions {
  /** Bytes to hand out: a power of two, 16 to 2^30. */
  bytes: number;
  /** Smallest block: a power of two, at least 8 and at most bytes. Metadata costs 9 bytes per minBlock. */
  minBlock: number;
  /** Back it with a SharedArrayBuffer and make every operation thread-safe. Default false. */
  shared?: boolean;
  /** Format this buffer instead of allocating one (at least `BuddyAllocator.requiredBytes()` bytes). */
  buffer?: ArrayBuffer | SharedArrayBuffer;
  /** Default 'auto' (the TS path; see MemoryBackend). */
  backend?: MemoryBackend;
  /**
   * Shared only: how long a call waits for the lock word before it throws
   * AllocatorLockTimeoutError (a thread died holding it). Kept in the header, so every
   * thread and the C++ side use it; 1 to 60000, default 1000.
   */
  lockTimeoutMs?: number;
}

export interface BuddyStats {
  /** Bytes the allocator hands out (options.bytes). */
  bytes: number;
  /** Bytes in live blocks (after rounding requests up to their block size). */
  used: number;
  free: number;
  /** The largest size alloc() can satisfy right now. */
  largestFreeBlock: number;
  /** 1 - largestFreeBlock / free: 0 when the free space is one block (or there is none). */
  fragmentation: number;
  liveBlocks: number;
}

const LOCK = BuddyLayout.lock >> 2;
const AVAIL = BuddyLayout.avail >> 2;
const USED_BYTES = BuddyLayout.usedBytes >> 2;
const LIVE = BuddyLayout.liveBlocks >> 2;
const HEADS = BuddyLayout.freeHeads >> 2;
const FREE = BuddyLayout.free;
const USED = BuddyLayout.used;
const ORDER_MASK = 0x3f;

/**
 * Variable-size blocks from one buffer: `alloc(size)` returns the byte offset of a
 * block of the next power of two (or -1 when no block that big is free).
 *
 * @example
 * import { BuddyAllocator } from 'ultra-performance';
 * const heap = new BuddyAllocator({ bytes: 1 << 20, minBlock: 64 });
 * const off = heap.alloc(300); // a 512-byte block
 * heap.view(off, 300).set(payload);
 * heap.free(off);
 * heap.stats(); // { bytes, used, free, largestFreeBlock, fragmentation, liveBlocks }
 */
export class BuddyAllocator {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly shared: boolean;
  /** Bytes it hands out. */
  readonly bytes: number;
  readonly minBlock: number;
  /** log2(bytes / minBlock): the number of times the whole region can be halved. */
  readonly maxOrder: number;
  /** Offset of the data region; every block offset is dataOffset + a multiple of its size. */
  readonly dataOffset: number;
  /** 'ts' for every allocator the public API makes ('native' only on the tests' kCrossCheckNative handles). */
  readonly backend: 'ts' | 'native';

  /**
   * Takes a block of at least `size` bytes.
   * @returns its byte offset in `buffer`, or -1 when no free block is big enough.
   * Throws for a size that is not an integer from 1 to `bytes`.
   */
  readonly alloc: (size: number) => number;
  /**
   * Gives a block back and merges it with its free buddies. Throws (and changes
   * nothing) for a block that is already free, or an offset that is not the start
   * of a live block of this allocator.
   */
  readonly free: (offset: number) => void;

  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly mem: Uint8Array;
  private readonly minShift: number;
  private readonly meta: number;
  private readonly prev: number;
  private readonly next: number;
  /** Min blocks: every link and head is checked against it before it is followed. */
  private readonly blocks: number;
  private readonly lockTimeoutMs: number;

  constructor(options: BuddyAllocatorOptions) {
    const o = requireOptions(options, 'BuddyAllocator');
    const { g, buffer, shared, created } = openAllocatorBuffer(o, Kind.buddy, 'BuddyAllocator', () => geometryFor(o));
    this.buffer = buffer;
    this.shared = shared;
    this.bytes = g.dataBytes;
    this.minBlock = g.g0;
    this.maxOrder = g.g1;
    this.dataOffset = g.dataOffset;
    this.backend = resolveBackend(o, 'BuddyAllocator');
    this.i32 = new Int32Array(buffer, 0, g.dataOffset >> 2);
    this.u8 = new Uint8Array(buffer, 0, g.dataOffset);
    this.mem = new Uint8Array(buffer, 0, g.totalBytes);
    this.minShift = 31 - Math.clz32(g.g0);
    this.meta = g.array0;
    this.prev = g.array1 >> 2;
    this.next = g.array2 >> 2;
    this.blocks = g.g2;
    const timeout = created ? lockTimeoutOption(o) : undefined;
    if (created) this.format(g);
    if (created) writeLockTimeout(buffer, timeout ?? 0);
    this.lockTimeoutMs = lockTimeoutOf(buffer);
    ({ alloc: this.alloc, free: this.free } = choosePath(this.backend, shared, {
      native: { alloc: BuddyAllocator.allocNative, free: BuddyAllocator.freeNative },
      shared: { alloc: BuddyAllocator.allocShared, free: BuddyAllocator.freeShared },
      local: { alloc: BuddyAllocator.allocLocal, free: BuddyAllocator.freeLocal },
    }));
  }

  /**
   * Uses a buddy allocator that already lives in `buffer` (made in another thread, by
   * TS or C++).
   * @example
   * const heap = BuddyAllocator.attach(workerData.buffer);
   */
  static attach(buffer: ArrayBuffer | SharedArrayBuffer, options: { backend?: MemoryBackend } = {}): BuddyAllocator {
    const o = requireOptions(options, 'BuddyAllocator.attach');
    return new BuddyAllocator({ [kAttach]: buffer, backend: o.backend, [kCrossCheckNative]: (o as Record<symbol, unknown>)[kCrossCheckNative] } as unknown as BuddyAllocatorOptions);
  }

  /** Bytes a buddy allocator of this geometry needs (for options.buffer). */
  static requiredBytes(options: Pick<BuddyAllocatorOptions, 'bytes' | 'minBlock'>): number {
    return geometryFor(requireOptions(options, 'BuddyAllocator.requiredBytes')).totalBytes;
  }

  /** The size of the live block at `offset` (a power of two); throws if there is none. */
  blockSize(offset: number): number {
    const block = this.blockOf(offset);
    this.lock();
    const m = this.u8[this.meta + block]!;
    if (this.shared) unlockWord(this.i32, LOCK);
    if ((m & USED) === 0) throw this.statusError(m & FREE ? Status.doubleFree : Status.foreign, offset);
    if ((m & ORDER_MASK) > this.maxOrder) throw this.statusError(Status.corrupt, offset);
    return this.minBlock << (m & ORDER_MASK);
  }

  /** A zero-copy Uint8Array over the live block at `offset`: `size` bytes (default the whole block). */
  view(offset: number, size?: number): Uint8Array {
    const block = this.blockSize(offset);
    if (size === undefined) return new Uint8Array(this.buffer, offset, block);
    if (typeof size !== 'number' || !Number.isInteger(size)) throw invalidType('size', `an integer from 0 to ${block}`, size);
    if (size < 0 || size > block) throw invalidRange('size', `an integer from 0 to ${block} (the block's size)`, size);
    return new Uint8Array(this.buffer, offset, size);
  }

  stats(): BuddyStats {
    checkAttached(this.mem, 'BuddyAllocator', this.dataOffset + this.bytes);
    const i32 = this.i32;
    this.lock();
    // Bits above maxOrder and counts beyond the region can only come from a scribble.
    const avail = i32[AVAIL]! & ((2 << this.maxOrder) - 1);
    const used = Math.min(Math.max(i32[USED_BYTES]!, 0), this.bytes);
    const liveBlocks = Math.min(Math.max(i32[LIVE]!, 0), this.blocks);
    if (this.shared) unlockWord(i32, LOCK);
    const free = this.bytes - used;
    const largestFreeBlock = avail === 0 ? 0 : this.minBlock * 2 ** (31 - Math.clz32(avail));
    const fragmentation = free === 0 ? 0 : 1 - largestFreeBlock / free;
    return { bytes: this.bytes, used, free, largestFreeBlock, fragmentation, liveBlocks };
  }

  private format(g: Geometry): void {
    writeHeader(this.buffer, Kind.buddy, g, this.shared);
    const i32 = this.i32;
    i32.fill(0, LOCK, HEADS);
    i32.fill(-1, HEADS, HEADS + BuddyLayout.maxOrders);
    this.u8.fill(0, this.meta, this.meta + g.g2);
    i32.fill(-1, this.prev, this.prev + g.g2);
    i32.fill(-1, this.next, this.next + g.g2);
    this.push(this.maxOrder, 0);
  }

  /** The order of the block that holds `size` bytes; throws for a bad size. */
  private orderOf(size: number): number {
    if (typeof size === 'number' && size >= 1 && size <= this.bytes && (size | 0) === size) {
      return size <= this.minBlock ? 0 : 32 - Math.clz32(size - 1) - this.minShift;
    }
    throw this.sizeError(size);
  }

  private sizeError(size: unknown): Error {
    if (typeof size !== 'number' || !Number.isInteger(size)) return invalidType('size', `an integer from 1 to ${this.bytes}`, size);
    if (size > this.bytes) {
      return invalidRange('size', `at most ${this.bytes} bytes (the most this BuddyAllocator holds)`, size);
    }
    return invalidRange('size', `an integer from 1 to ${this.bytes}`, size);
  }

  /** The min-block index of a block offset; throws for anything else. */
  private blockOf(offset: number): number {
    if (typeof offset === 'number') {
      const rel = offset - this.dataOffset;
      if (rel >= 0 && rel < this.bytes && (rel | 0) === rel && (rel & (this.minBlock - 1)) === 0) return rel >>> this.minShift;
    }
    throw this.offsetError(offset);
  }

  private offsetError(offset: unknown): Error {
    const typeError = offsetTypeError('offset', offset);
    if (typeError !== null) return typeError;
    const o = offset as number;
    const end = this.dataOffset + this.bytes;
    if (o < this.dataOffset || o >= end) {
      return invalidRange('offset', `an offset returned by this BuddyAllocator (in [${this.dataOffset}, ${end}))`, o);
    }
    return invalidRange('offset', `a block offset (${this.dataOffset} + a multiple of ${this.minBlock}); misaligned`, o);
  }

  private statusError(status: number, offset: number): Error {
    if (status === Status.doubleFree) {
      return new RangeError(`Expected a live block for offset but received ${describe(offset)}, which is already free (double free)`);
    }
    if (status === Status.foreign) {
      return new RangeError(
        `Expected the start of a live block of this BuddyAllocator for offset but received ${describe(offset)}, ` +
          'which lies inside another block (freed and merged already, or never returned by alloc)',
      );
    }
    return new CorruptAllocatorError(`BuddyAllocator: the allocator's metadata is corrupted at offset ${offset}`);
  }

  /** Takes the lock when shared; throws AllocatorLockTimeoutError / CorruptAllocatorError when it cannot. */
  private lock(): void {
    if (!this.shared) return;
    const status = lockWord(this.i32, LOCK, this.lockTimeoutMs);
    if (status !== Status.ok) throw lockError(status, 'BuddyAllocator', this.i32, BuddyLayout.lock, this.lockTimeoutMs);
  }

  // Every head, link and meta byte below is read once into a local and checked before it
  // is followed or written through (docs/memory-layout.md "Shared memory is hostile"): a wrong value
  // gives Status.corrupt, never a write outside the side arrays.

  private push(order: number, block: number): number {
    const i32 = this.i32;
    const head = i32[HEADS + order]!;
    if (head < -1 || head >= this.blocks || head === block) return Status.corrupt;
    i32[this.next + block] = head;
    i32[this.prev + block] = -1;
    if (head >= 0) i32[this.prev + head] = block;
    i32[HEADS + order] = block;
    this.u8[this.meta + block] = FREE | order;
    i32[AVAIL] = i32[AVAIL]! | (1 << order);
    return Status.ok;
  }

  private unlink(order: number, block: number): number {
    const i32 = this.i32;
    const p = i32[this.prev + block]!;
    const n = i32[this.next + block]!;
    if (p < -1 || p >= this.blocks || n < -1 || n >= this.blocks) return Status.corrupt;
    let head = n;
    if (p >= 0) {
      i32[this.next + p] = n;
      head = i32[HEADS + order]!;
    } else {
      i32[HEADS + order] = n;
    }
    if (n >= 0) i32[this.prev + n] = p;
    if (head < 0) i32[AVAIL] = i32[AVAIL]! & ~(1 << order);
    return Status.ok;
  }

  /** The block's offset, -1 when nothing fits, or Status.corrupt. */
  private allocOrder(order: number): number {
    const i32 = this.i32;
    const fits = i32[AVAIL]! & -(1 << order);
    if (fits === 0) return -1;
    let k = 31 - Math.clz32(fits & -fits);
    if (k > this.maxOrder) return Status.corrupt;
    const block = i32[HEADS + k]!;
    // A block of order k starts on a multiple of 2^k inside the region, marked free of order k.
    if (block < 0 || block >= this.blocks || (block & ((1 << k) - 1)) !== 0 || this.u8[this.meta + block] !== (FREE | k)) {
      return Status.corrupt;
    }
    if (this.unlink(k, block) !== Status.ok) return Status.corrupt;
    while (k > order) {
      k--;
      if (this.push(k, block + (1 << k)) !== Status.ok) return Status.corrupt;
    }
    this.u8[this.meta + block] = USED | order;
    i32[USED_BYTES] = i32[USED_BYTES]! + (this.minBlock << order);
    i32[LIVE] = i32[LIVE]! + 1;
    return this.dataOffset + block * this.minBlock;
  }

  /** Status.ok, or why the block cannot be freed (nothing changed then, unless corrupt). */
  private freeBlock(block: number): number {
    const u8 = this.u8;
    const m = u8[this.meta + block]!;
    if ((m & USED) === 0) return m & FREE ? Status.doubleFree : Status.foreign;
    let order = m & ORDER_MASK;
    if (order > this.maxOrder || (block & ((1 << order) - 1)) !== 0) return Status.corrupt;
    u8[this.meta + block] = 0;
    this.i32[USED_BYTES] = this.i32[USED_BYTES]! - (this.minBlock << order);
    this.i32[LIVE] = this.i32[LIVE]! - 1;
    while (order < this.maxOrder) {
      const buddy = block ^ (1 << order);
      if (u8[this.meta + buddy] !== (FREE | order)) break;
      if (this.unlink(order, buddy) !== Status.ok) return Status.corrupt;
      u8[this.meta + buddy] = 0;
      block &= ~(1 << order);
      order++;
    }
    return this.push(order, block);
  }

  /** For a native status: throws the lock's error when the lock is what failed (timed out, or a word not 0/1/2). */
  private throwLockStatus(status: number): void {
    if (!this.shared || (status !== Status.lockTimeout && status !== Status.corrupt)) return;
    const word = Atomics.load(this.i32, LOCK);
    if (status === Status.lockTimeout || word < 0 || word > 2) {
      throw lockError(status === Status.lockTimeout ? status : Status.corrupt, 'BuddyAllocator', this.i32, BuddyLayout.lock, this.lockTimeoutMs);
    }
  }

  private allocResult(offset: number, size: number): number {
    if (offset >= -1) return offset;
    throw new CorruptAllocatorError(`BuddyAllocator: the free lists are corrupted (found while allocating ${size} bytes)`);
  }

  private static allocLocal(this: BuddyAllocator, size: number): number {
    const offset = this.allocOrder(this.orderOf(size));
    if (offset >= 0) return offset;
    // -1 or a status: first rule out a detached or shrunk buffer (its words read as undefined).
    checkAttached(this.mem, 'BuddyAllocator', this.dataOffset + this.bytes);
    return offset === -1 ? -1 : this.allocResult(offset, size);
  }

  private static freeLocal(this: BuddyAllocator, offset: number): void {
    const status = this.freeBlock(this.blockOf(offset));
    if (status === Status.ok) return;
    checkAttached(this.mem, 'BuddyAllocator', this.dataOffset + this.bytes);
    throw this.statusError(status, offset);
  }

  private static allocShared(this: BuddyAllocator, size: number): number {
    const order = this.orderOf(size);
    this.lock();
    const offset = this.allocOrder(order);
    unlockWord(this.i32, LOCK);
    return offset >= -1 ? offset : this.allocResult(offset, size);
  }

  private static freeShared(this: BuddyAllocator, offset: number): void {
    const block = this.blockOf(offset);
    this.lock();
    const status = this.freeBlock(block);
    unlockWord(this.i32, LOCK);
    if (status !== Status.ok) throw this.statusError(status, offset);
  }

  private static allocNative(this: BuddyAllocator, size: number): number {
    this.orderOf(size);
    const result = memoryAddon!.buddyAlloc(this.mem, size);
    if (result >= -1) return result;
    this.throwLockStatus(result);
    if (result === Status.corrupt) return this.allocResult(result, size);
    throw statusError(result, 'BuddyAllocator', 'size', size);
  }

  private static freeNative(this: BuddyAllocator, offset: number): void {
    this.blockOf(offset);
    const status = memoryAddon!.buddyFree(this.mem, offset);
    if (status === Status.doubleFree || status === Status.foreign) throw this.statusError(status, offset);
    this.throwLockStatus(status);
    if (status !== Status.ok) throw statusError(status, 'BuddyAllocator', 'offset', offset);
  }
}

function geometryFor(o: Record<string, unknown>): Geometry {
  const isPow2 = (n: number) => (n & (n - 1)) === 0;
  const bytes = intOption(o, 'bytes', 16, BuddyLayout.maxBytes, 'a power of two', isPow2);
  const minBlock = intOption(o, 'minBlock', BuddyLayout.minMinBlock, bytes, 'a power of two', isPow2);
  const g = buddyGeometry(bytes, minBlock);
  if (g === null) {
    const most = bytes / BuddyLayout.maxMinBlocks;
    throw invalidRange('options.minBlock', `at least ${most} for ${bytes} bytes (at most 2^24 min blocks)`, minBlock);
  }
  return g;
}
