/**
 * Fixed-size slot allocator over an ArrayBuffer or SharedArrayBuffer (docs/memory-layout.md
 * "Slab"); cpp/memory/slab.hpp implements the same bytes. Offsets are byte offsets
 * into `buffer`, so `new Float64Array(slab.buffer, offset, n)` works as well as view().
 *
 * Shared slabs run a lock-free Treiber free list whose head packs
 * (index | tag << indexBits) into one int32, so a CAS is one Atomics.compareExchange
 * with no BigInt; unshared ones run the same list with plain reads and writes.
 */
import { describe, invalidRange, invalidType } from '../errors.js';
import {
  type MemoryBackend,
  CorruptAllocatorError,
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
  choosePath,
} from './common.js';
import { Kind, SlabLayout, Status, type Geometry, slabGeometry, writeHeader } from './layout.js';

export interface SlabAllocatorOptions {
  /** Bytes per slot, 1 to 2^30; slots are laid out 8-byte aligned. */
  slotBytes: number;
  /** Number of slots, 1 to 2^24 - 1. */
  slots: number;
  /** Back it with a SharedArrayBuffer and make every operation thread-safe. Default false. */
  shared?: boolean;
  /** Format this buffer instead of allocating one (at least `SlabAllocator.requiredBytes()` bytes). */
  buffer?: ArrayBuffer | SharedArrayBuffer;
  /** Default 'auto' (the TS path; see MemoryBackend). */
  backend?: MemoryBackend;
}

export interface SlabStats {
  /** Bytes of the buffer the slab spans (header, free list and slots). */
  bytes: number;
  slotBytes: number;
  slots: number;
  used: number;
  free: number;
}

const HEAD = SlabLayout.head >> 2;
const NEXT = SlabLayout.next >> 2;
const ALLOCATED = SlabLayout.allocated;

/**
 * Fixed-size slots from one buffer: `alloc()` returns a byte offset (or -1 when every
 * slot is taken), `free(offset)` gives it back, `view(offset)` is a zero-copy window.
 *
 * @example
 * import { SlabAllocator } from 'ultra-performance';
 * const slab = new SlabAllocator({ slotBytes: 64, slots: 1024 });
 * const off = slab.alloc();
 * new Float64Array(slab.buffer, off, 8).fill(1);
 * slab.free(off);
 *
 * // Across threads: create shared, post slab.buffer, attach in the worker.
 * const shared = new SlabAllocator({ slotBytes: 64, slots: 1024, shared: true });
 * worker.postMessage(shared.buffer); // worker: SlabAllocator.attach(buffer)
 */
export class SlabAllocator {
  /** The memory the slab lives in; offsets index into it. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** True when every operation is thread-safe (the buffer is a SharedArrayBuffer). */
  readonly shared: boolean;
  readonly slotBytes: number;
  readonly slots: number;
  /** Distance between slots: slotBytes rounded up to 8. */
  readonly stride: number;
  /** Offset of the first slot. */
  readonly dataOffset: number;
  /** 'ts' for every allocator the public API makes ('native' only on the tests' kCrossCheckNative handles). */
  readonly backend: 'ts' | 'native';

  /**
   * Takes a free slot.
   * @returns its byte offset in `buffer`, or -1 when every slot is in use.
   */
  readonly alloc: () => number;
  /**
   * Gives a slot back. Throws (and changes nothing) for a slot that is already free,
   * an offset that is not a slot of this slab, or a misaligned one.
   */
  readonly free: (offset: number) => void;

  private readonly i32: Int32Array;
  private readonly mem: Uint8Array;
  private readonly end: number;
  private readonly indexMask: number;
  private readonly tagUnit: number;
  private readonly tagMask: number;

  constructor(options: SlabAllocatorOptions) {
    const o = requireOptions(options, 'SlabAllocator');
    const { g, buffer, shared, created } = openAllocatorBuffer(o, Kind.slab, 'SlabAllocator', () => geometryFor(o));
    if (created) format(buffer, g, shared);
    this.buffer = buffer;
    this.shared = shared;
    this.slotBytes = g.g0;
    this.stride = g.g1;
    this.slots = g.g2;
    this.dataOffset = g.dataOffset;
    this.backend = resolveBackend(o, 'SlabAllocator');
    this.i32 = new Int32Array(buffer, 0, g.dataOffset >> 2);
    this.mem = new Uint8Array(buffer, 0, g.totalBytes);
    this.end = g.dataOffset + g.dataBytes;
    this.indexMask = 2 ** g.g3 - 1;
    this.tagUnit = 2 ** g.g3;
    this.tagMask = ~this.indexMask;
    ({ alloc: this.alloc, free: this.free } = choosePath(this.backend, shared, {
      native: { alloc: SlabAllocator.allocNative, free: SlabAllocator.freeNative },
      shared: { alloc: SlabAllocator.allocShared, free: SlabAllocator.freeShared },
      local: { alloc: SlabAllocator.allocLocal, free: SlabAllocator.freeLocal },
    }));
  }

  /**
   * Uses a slab that already lives in `buffer` (made here or in another thread, by TS
   * or C++), typically a SharedArrayBuffer received from postMessage.
   * @example
   * const slab = SlabAllocator.attach(workerData.buffer);
   */
  static attach(buffer: ArrayBuffer | SharedArrayBuffer, options: { backend?: MemoryBackend } = {}): SlabAllocator {
    const o = requireOptions(options, 'SlabAllocator.attach');
    return new SlabAllocator({ [kAttach]: buffer, backend: o.backend, [kCrossCheckNative]: (o as Record<symbol, unknown>)[kCrossCheckNative] } as unknown as SlabAllocatorOptions);
  }

  /** Bytes a slab of this geometry needs (for options.buffer). */
  static requiredBytes(options: Pick<SlabAllocatorOptions, 'slotBytes' | 'slots'>): number {
    return geometryFor(requireOptions(options, 'SlabAllocator.requiredBytes')).totalBytes;
  }

  /**
   * A zero-copy Uint8Array over the live slot at `offset`: `size` bytes (default
   * slotBytes, at most slotBytes).
   */
  view(offset: number, size: number = this.slotBytes): Uint8Array {
    checkAttached(this.mem, 'SlabAllocator', this.end);
    const index = this.indexOf(offset);
    if (this.state(index) !== ALLOCATED) throw this.doubleFreeError(offset, 'a live slot');
    if (typeof size !== 'number' || !Number.isInteger(size)) throw invalidType('size', `an integer from 0 to ${this.slotBytes}`, size);
    if (size < 0 || size > this.slotBytes) throw invalidRange('size', `an integer from 0 to ${this.slotBytes}`, size);
    return new Uint8Array(this.buffer, offset, size);
  }

  /** Slot counts. Exact when no other thread is allocating at the same moment. */
  stats(): SlabStats {
    checkAttached(this.mem, 'SlabAllocator', this.end);
    let used = 0;
    for (let i = 0; i < this.slots; i++) if (this.state(i) === ALLOCATED) used++;
    return { bytes: this.end, slotBytes: this.slotBytes, slots: this.slots, used, free: this.slots - used };
  }

  private state(index: number): number {
    return this.shared ? Atomics.load(this.i32, NEXT + index) : this.i32[NEXT + index]!;
  }

  /** The slot index of a slot offset; throws for anything else. */
  private indexOf(offset: number): number {
    if (typeof offset === 'number') {
      const index = (offset - this.dataOffset) / this.stride;
      if (index >= 0 && index < this.slots && (index | 0) === index) return index;
    }
    throw this.offsetError(offset);
  }

  private offsetError(offset: unknown): Error {
    const typeError = offsetTypeError('offset', offset);
    if (typeError !== null) return typeError;
    const o = offset as number;
    if (o < this.dataOffset || o >= this.end) {
      return invalidRange('offset', `an offset returned by this SlabAllocator (in [${this.dataOffset}, ${this.end}))`, o);
    }
    return invalidRange('offset', `a slot offset (${this.dataOffset} + a multiple of ${this.stride}); misaligned`, o);
  }

  private doubleFreeError(offset: number, what = 'a live slot'): RangeError {
    return new RangeError(`Expected ${what} for offset but received ${describe(offset)}, which is already free (double free)`);
  }

  private corrupt(): CorruptAllocatorError {
    return new CorruptAllocatorError('SlabAllocator: the free list is corrupted (a head or link outside the slots)');
  }

  // The head and each link are read once and checked (an index below slots, or the end
  // marker) before they are followed: a scribbled free list throws CorruptAllocatorError,
  // never hands out an offset outside the slots.
  private static allocLocal(this: SlabAllocator): number {
    const i32 = this.i32;
    const head = i32[HEAD];
    // undefined only when the buffer was detached or shrunk (an unshared buffer can be).
    if (head === undefined) {
      checkAttached(this.mem, 'SlabAllocator', this.end);
      throw this.corrupt();
    }
    const index = head & this.indexMask;
    if (index === this.indexMask) return -1;
    const next = i32[NEXT + index]!;
    if (index >= this.slots || (next !== this.indexMask && (next < 0 || next >= this.slots))) throw this.corrupt();
    i32[HEAD] = next | ((head + this.tagUnit) & this.tagMask);
    i32[NEXT + index] = ALLOCATED;
    return this.dataOffset + index * this.stride;
  }

  private static freeLocal(this: SlabAllocator, offset: number): void {
    const index = this.indexOf(offset);
    const i32 = this.i32;
    if (i32[NEXT + index] !== ALLOCATED) {
      checkAttached(this.mem, 'SlabAllocator', this.end);
      throw this.doubleFreeError(offset);
    }
    const head = i32[HEAD]!;
    i32[NEXT + index] = head & this.indexMask;
    i32[HEAD] = index | ((head + this.tagUnit) & this.tagMask);
  }

  // Every Atomics call costs ~7 ns in Node 20 (a builtin call, not inlined), so the
  // shared path uses as few as the memory model allows: the head is read atomically
  // before its slot's link (that read must see the link its pusher wrote), a failed
  // CAS hands back the current head, and the slot's own words are written plainly
  // where a later seq-cst CAS publishes them.
  private static allocShared(this: SlabAllocator): number {
    const i32 = this.i32;
    const mask = this.indexMask;
    let head = Atomics.load(i32, HEAD);
    for (;;) {
      const index = head & mask;
      if (index === mask) return -1;
      if (index >= this.slots) throw this.corrupt();
      // May be stale if another thread took `index` meanwhile; the tagged CAS then fails.
      const next = i32[NEXT + index]!;
      if (next !== mask && (next < 0 || next >= this.slots)) {
        // Stale (the slot was taken and is live, -2) or scribbled: the same head again means scribbled.
        const again = Atomics.load(i32, HEAD);
        if (again === head) throw this.corrupt();
        head = again;
        continue;
      }
      const seen = Atomics.compareExchange(i32, HEAD, head, next | ((head + this.tagUnit) & this.tagMask));
      if (seen === head) {
        // Only this thread's own later free() (or one it hands the offset to) reads it.
        i32[NEXT + index] = ALLOCATED;
        return this.dataOffset + index * this.stride;
      }
      head = seen;
    }
  }

  private static freeShared(this: SlabAllocator, offset: number): void {
    const index = this.indexOf(offset);
    const i32 = this.i32;
    const mask = this.indexMask;
    // Claiming the slot first makes a second, concurrent free of it fail here.
    if (Atomics.compareExchange(i32, NEXT + index, ALLOCATED, mask) !== ALLOCATED) throw this.doubleFreeError(offset);
    // A stale guess only costs a retry: the CAS returns the real head.
    let head = i32[HEAD]!;
    for (;;) {
      i32[NEXT + index] = head & mask;
      const seen = Atomics.compareExchange(i32, HEAD, head, index | ((head + this.tagUnit) & this.tagMask));
      if (seen === head) return;
      head = seen;
    }
  }

  private static allocNative(this: SlabAllocator): number {
    const result = memoryAddon!.slabAlloc(this.mem);
    if (result >= -1) return result;
    if (result === Status.corrupt) throw this.corrupt();
    throw statusError(result, 'SlabAllocator', 'alloc()', result);
  }

  private static freeNative(this: SlabAllocator, offset: number): void {
    this.indexOf(offset);
    const status = memoryAddon!.slabFree(this.mem, offset);
    if (status === Status.doubleFree) throw this.doubleFreeError(offset);
    if (status !== Status.ok) throw statusError(status, 'SlabAllocator', 'offset', offset);
  }
}

function geometryFor(o: Record<string, unknown>): Geometry {
  const slotBytes = intOption(o, 'slotBytes', 1, SlabLayout.maxSlotBytes);
  const slots = intOption(o, 'slots', 1, SlabLayout.maxSlots);
  const g = slabGeometry(slotBytes, slots);
  if (g === null) {
    throw invalidRange('options', 'a slab of at most 2^31 - 1 bytes (slots * slotBytes)', `${slots} slots of ${slotBytes} bytes`);
  }
  return g;
}

function format(buffer: ArrayBuffer | SharedArrayBuffer, g: Geometry, shared: boolean): void {
  writeHeader(buffer, Kind.slab, g, shared);
  const slots = g.g2;
  const end = 2 ** g.g3 - 1;
  const next = new Int32Array(buffer, SlabLayout.next, slots);
  for (let i = 0; i < slots - 1; i++) next[i] = i + 1;
  next[slots - 1] = end;
  new Int32Array(buffer, SlabLayout.head, 16).fill(0);
}
