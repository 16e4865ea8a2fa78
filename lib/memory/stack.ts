/**
 * Bump allocator with mark/reset over an ArrayBuffer or SharedArrayBuffer (docs/memory-layout.md
 * "Stack"); cpp/memory/stack.hpp implements the same bytes. Shared stacks move the
 * top with one CAS, so alloc never takes a lock.
 */
import { invalidRange, invalidType } from '../errors.js';
import {
  type MemoryBackend,
  CorruptAllocatorError,
  kAttach,
  checkAttached,
  kCrossCheckNative,
  openAllocatorBuffer,
  intOption,
  memoryAddon,
  requireOptions,
  resolveBackend,
  statusError,
  choosePath,
} from './common.js';
import { Kind, StackLayout, Status, stackGeometry, writeHeader } from './layout.js';

export interface StackAllocatorOptions {
  /** Bytes of the region: a multiple of 8, 8 to 2^30. */
  bytes: number;
  shared?: boolean;
  buffer?: ArrayBuffer | SharedArrayBuffer;
  backend?: MemoryBackend;
}

export interface StackStats {
  bytes: number;
  used: number;
  free: number;
  /** The most bytes ever in use at once. */
  highWater: number;
}

const TOP = StackLayout.top >> 2;
const HIGH_WATER = StackLayout.highWater >> 2;

/**
 * Scratch memory for work that ends all at once: `alloc(size)` bumps the top,
 * `mark()` remembers it, `reset(mark)` frees everything allocated since.
 *
 * @example
 * import { StackAllocator } from 'ultra-performance';
 * const scratch = new StackAllocator({ bytes: 1 << 16 });
 * const m = scratch.mark();
 * const a = scratch.alloc(256);
 * const b = scratch.alloc(1024);
 * scratch.reset(m); // a and b are free again
 */
export class StackAllocator {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly shared: boolean;
  readonly bytes: number;
  readonly dataOffset: number;
  /** 'ts' for every allocator the public API makes ('native' only on the tests' kCrossCheckNative handles). */
  readonly backend: 'ts' | 'native';

  /** Takes `size` bytes (8-aligned) at the top: the offset, or -1 when there is no room. */
  readonly alloc: (size: number) => number;
  /** The current top, to pass to reset(). */
  readonly mark: () => number;
  /**
   * Frees everything allocated after `mark` (default: everything). Throws for a mark
   * above the current top or one that is not a mark of this stack.
   */
  readonly reset: (mark?: number) => void;

  private readonly i32: Int32Array;
  private readonly mem: Uint8Array;
  private readonly end: number;

  constructor(options: StackAllocatorOptions) {
    const o = requireOptions(options, 'StackAllocator');
    const { g, buffer, shared, created } = openAllocatorBuffer(o, Kind.stack, 'StackAllocator', () =>
      stackGeometry(intOption(o, 'bytes', StackLayout.minBytes, StackLayout.maxBytes, 'a multiple of 8', (n) => n % 8 === 0))!,
    );
    if (created) {
      writeHeader(buffer, Kind.stack, g, shared);
      const line = new Int32Array(buffer, StackLayout.top, (StackLayout.data - StackLayout.top) >> 2);
      line.fill(0);
      line[0] = g.dataOffset;
      line[(StackLayout.highWater - StackLayout.top) >> 2] = g.dataOffset;
    }
    this.buffer = buffer;
    this.shared = shared;
    this.bytes = g.g0;
    this.dataOffset = g.dataOffset;
    this.backend = resolveBackend(o, 'StackAllocator');
    this.i32 = new Int32Array(buffer, 0, g.dataOffset >> 2);
    this.mem = new Uint8Array(buffer, 0, g.totalBytes);
    this.end = g.dataOffset + g.g0;
    ({ alloc: this.alloc, mark: this.mark, reset: this.reset } = choosePath(this.backend, shared, {
      native: { alloc: StackAllocator.allocNative, mark: StackAllocator.markNative, reset: StackAllocator.resetNative },
      shared: { alloc: StackAllocator.allocShared, mark: StackAllocator.markShared, reset: StackAllocator.resetShared },
      local: { alloc: StackAllocator.allocLocal, mark: StackAllocator.markLocal, reset: StackAllocator.resetLocal },
    }));
  }

  /** Uses a stack that already lives in `buffer` (made in another thread, by TS or C++). */
  static attach(buffer: ArrayBuffer | SharedArrayBuffer, options: { backend?: MemoryBackend } = {}): StackAllocator {
    const o = requireOptions(options, 'StackAllocator.attach');
    return new StackAllocator({ [kAttach]: buffer, backend: o.backend, [kCrossCheckNative]: (o as Record<symbol, unknown>)[kCrossCheckNative] } as unknown as StackAllocatorOptions);
  }

  /** Bytes a stack of this size needs (for options.buffer). */
  static requiredBytes(options: Pick<StackAllocatorOptions, 'bytes'>): number {
    const o = requireOptions(options, 'StackAllocator.requiredBytes');
    const bytes = intOption(o, 'bytes', StackLayout.minBytes, StackLayout.maxBytes, 'a multiple of 8', (n) => n % 8 === 0);
    return stackGeometry(bytes)!.totalBytes;
  }

  /** A zero-copy Uint8Array from `offset` (in use) for `size` bytes (default: up to the top). */
  view(offset: number, size?: number): Uint8Array {
    const top = this.mark();
    if (typeof offset !== 'number' || !Number.isInteger(offset)) throw invalidType('offset', 'an integer offset', offset);
    if (offset < this.dataOffset || offset >= top) {
      throw invalidRange('offset', `an offset in use in this StackAllocator (in [${this.dataOffset}, ${top}))`, offset);
    }
    const most = top - offset;
    if (size === undefined) return new Uint8Array(this.buffer, offset, most);
    if (typeof size !== 'number' || !Number.isInteger(size)) throw invalidType('size', `an integer from 0 to ${most}`, size);
    if (size < 0 || size > most) throw invalidRange('size', `an integer from 0 to ${most} (up to the top)`, size);
    return new Uint8Array(this.buffer, offset, size);
  }

  stats(): StackStats {
    const top = this.mark();
    const hw = this.shared ? Atomics.load(this.i32, HIGH_WATER) : this.i32[HIGH_WATER]!;
    return { bytes: this.bytes, used: top - this.dataOffset, free: this.end - top, highWater: Math.min(Math.max(hw - this.dataOffset, 0), this.bytes) };
  }

  private sizeCheck(size: number): void {
    if (typeof size === 'number' && size >= 1 && size <= this.bytes && (size | 0) === size) return;
    if (typeof size !== 'number' || !Number.isInteger(size)) throw invalidType('size', `an integer from 1 to ${this.bytes}`, size);
    if (size > this.bytes) throw invalidRange('size', `at most ${this.bytes} bytes (the most this StackAllocator holds)`, size);
    throw invalidRange('size', `an integer from 1 to ${this.bytes}`, size);
  }

  /** The mark to reset to; throws for anything that cannot be a mark. */
  private markOf(mark: number | undefined): number {
    if (mark === undefined) return this.dataOffset;
    if (typeof mark === 'number' && mark >= this.dataOffset && mark <= this.end && (mark & 7) === 0 && (mark | 0) === mark) {
      return mark;
    }
    if (typeof mark !== 'number' || !Number.isInteger(mark)) throw invalidType('mark', 'a value returned by mark()', mark);
    throw invalidRange('mark', `a value returned by mark() (a multiple of 8 in [${this.dataOffset}, ${this.end}])`, mark);
  }

  private aboveTop(mark: number, top: number): RangeError {
    return invalidRange('mark', `a mark at or below the current top (${top}); memory above it was already freed`, mark);
  }

  // top is read once and checked (8-aligned, inside the data region) before use: a
  // scribbled top throws CorruptAllocatorError, never hands out an offset outside.
  private checkTop(top: number): number {
    if (top >= this.dataOffset && top <= this.end && (top & 7) === 0) return top;
    checkAttached(this.mem, 'StackAllocator', this.end); // a detached or shrunk buffer reads top as undefined
    throw new CorruptAllocatorError(`StackAllocator: the top word holds ${top}, outside [${this.dataOffset}, ${this.end}] or misaligned (corrupted)`);
  }

  private static allocLocal(this: StackAllocator, size: number): number {
    this.sizeCheck(size);
    const i32 = this.i32;
    const top = this.checkTop(i32[TOP]!);
    const moved = top + ((size + 7) & ~7);
    if (moved > this.end) return -1;
    i32[TOP] = moved;
    if (moved > i32[HIGH_WATER]!) i32[HIGH_WATER] = moved;
    return top;
  }

  private static allocShared(this: StackAllocator, size: number): number {
    this.sizeCheck(size);
    const i32 = this.i32;
    const need = (size + 7) & ~7;
    for (;;) {
      const top = this.checkTop(Atomics.load(i32, TOP));
      const moved = top + need;
      if (moved > this.end) return -1;
      if (Atomics.compareExchange(i32, TOP, top, moved) === top) {
        let seen = Atomics.load(i32, HIGH_WATER);
        while (seen < moved) {
          const was = Atomics.compareExchange(i32, HIGH_WATER, seen, moved);
          if (was === seen) break;
          seen = was;
        }
        return top;
      }
    }
  }

  private static markLocal(this: StackAllocator): number {
    return this.checkTop(this.i32[TOP]!);
  }

  private static markShared(this: StackAllocator): number {
    return this.checkTop(Atomics.load(this.i32, TOP));
  }

  private static resetLocal(this: StackAllocator, mark?: number): void {
    const to = this.markOf(mark);
    const top = this.checkTop(this.i32[TOP]!);
    if (to > top) throw this.aboveTop(to, top);
    this.i32[TOP] = to;
  }

  private static resetShared(this: StackAllocator, mark?: number): void {
    const to = this.markOf(mark);
    for (;;) {
      const top = this.checkTop(Atomics.load(this.i32, TOP));
      if (to > top) throw this.aboveTop(to, top);
      if (Atomics.compareExchange(this.i32, TOP, top, to) === top) return;
    }
  }

  private static allocNative(this: StackAllocator, size: number): number {
    this.sizeCheck(size);
    const result = memoryAddon!.stackAlloc(this.mem, size);
    if (result >= -1) return result;
    if (result === Status.corrupt) this.checkTop(this.i32[TOP]!);
    throw statusError(result, 'StackAllocator', 'size', size);
  }

  private static markNative(this: StackAllocator): number {
    const result = memoryAddon!.stackMark(this.mem);
    if (result >= 0) return result;
    throw statusError(result, 'StackAllocator', 'mark()', result);
  }

  private static resetNative(this: StackAllocator, mark?: number): void {
    const to = this.markOf(mark);
    const status = memoryAddon!.stackReset(this.mem, to);
    if (status === Status.corrupt) this.checkTop(this.i32[TOP]!);
    if (status === Status.badArgument) throw this.aboveTop(to, this.i32[TOP]!);
    if (status !== Status.ok) throw statusError(status, 'StackAllocator', 'mark', mark);
  }
}
