import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  AllocatorLockTimeoutError,
  BackendUnavailableError,
  BuddyAllocator,
  CorruptAllocatorError,
  GcMonitor,
  ObjectPool,
  RingAllocator,
  SlabAllocator,
  StackAllocator,
  backendInfo,
  gcOptimizer,
} from '../lib/index.js';
import { kCrossCheckNative, memoryAddon } from '../lib/memory/common.js';
import { PauseSeries } from '../lib/memory/gc.js';
import { BuddyLayout, Kind, RingLayout, SlabLayout, StackLayout, buddyGeometry, kindGeometry } from '../lib/memory/layout.js';
import { canary, startScribbler } from './helpers/scribbler.js';
import { firstMessage, tsWorker } from './helpers/ts-worker.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native';
/**
 * Every implementation this project can run: the TS path always, the C++ one under 'native'
 * through a cross-check handle (kCrossCheckNative: the addon's raw bindings; no public option
 * selects it, docs/memory-layout.md), interleaved with TS on the same bytes below.
 */
const backends: ('ts' | 'native')[] = memoryAddon !== null ? ['ts', 'native'] : ['ts'];
/** The options that put an allocator on `path`. */
const via = (path: 'ts' | 'native') => (path === 'native' ? { [kCrossCheckNative]: true } : { backend: path }) as { backend?: 'ts' };
const sharing = [false, true];

describe('memory backend', () => {
  it('has the native memory bindings exactly when the addon is loaded', () => {
    expect(memoryAddon !== null).toBe(native);
    expect(backendInfo().native).toBe(native);
  });

  it("refuses backend: 'native' (and 'cpu') with or without the addon, naming the option and saying why", () => {
    for (const [name, make] of [
      ['SlabAllocator', (b: string) => new SlabAllocator({ slotBytes: 8, slots: 4, backend: b as 'ts' })],
      ['BuddyAllocator', (b: string) => new BuddyAllocator({ bytes: 1024, minBlock: 64, backend: b as 'ts' })],
      ['RingAllocator', (b: string) => new RingAllocator({ bytes: 64, backend: b as 'ts' })],
      ['StackAllocator', (b: string) => new StackAllocator({ bytes: 64, backend: b as 'ts' })],
      ['SlabAllocator', (b: string) => SlabAllocator.attach(new SlabAllocator({ slotBytes: 8, slots: 4 }).buffer, { backend: b as 'ts' })],
    ] as const) {
      for (const b of ['native', 'cpu']) {
        let err: (TypeError & { code?: string }) | undefined;
        try {
          make(b);
        } catch (e) {
          err = e as TypeError & { code?: string };
        }
        expect(err).toBeInstanceOf(TypeError);
        expect(err!.code).toBe('ERR_INVALID_ARG_VALUE');
        expect(err!.message).toMatch(new RegExp(`^Expected 'auto' or 'ts' for options.backend but received "${b}": ${name} has no native backend from JS`));
        expect(err!.message).toMatch(/one call into the addon costs more than a whole TS alloc\+free/);
      }
    }
  });

  it.runIf(!native)('a cross-check handle on the C++ allocator needs the addon, saying why', () => {
    for (const make of [
      () => new SlabAllocator({ slotBytes: 8, slots: 4, ...via('native') }),
      () => new BuddyAllocator({ bytes: 1024, minBlock: 64, ...via('native') }),
      () => new RingAllocator({ bytes: 64, ...via('native') }),
      () => new StackAllocator({ bytes: 64, ...via('native') }),
    ]) {
      expect(make).toThrow(BackendUnavailableError);
      expect(make).toThrow(/cross-check handle needs the CPU addon's memory bindings: disabled by ULTRA_PERF_BACKEND=ts/);
    }
  });

  it("defaults to the TS path ('auto'), and names a bad backend", () => {
    expect(new SlabAllocator({ slotBytes: 8, slots: 4 }).backend).toBe('ts');
    expect(new BuddyAllocator({ bytes: 1024, minBlock: 64, backend: 'auto' }).backend).toBe('ts');
    expect(() => new SlabAllocator({ slotBytes: 8, slots: 4, backend: 'gpu' as 'ts' })).toThrow(
      new TypeError(`Expected 'auto' or 'ts' for options.backend but received "gpu"`),
    );
  });
});

describe.runIf(native)('one layout, two implementations', () => {
  // Every named constant and offset: test/layout.test.ts (and the loader).
  it('TS and C++ compute the same geometry for any parameters, valid or not', () => {
    const out = new Int32Array(10);
    const check = (kind: number, a: number, b: number) => {
      const status = memoryAddon!.memoryGeometry(kind, a, b, out);
      const ts = kindGeometry(kind, a, b);
      expect(status === 0, `kind ${kind} (${a}, ${b})`).toBe(ts !== null);
      if (ts === null) return;
      expect(Array.from(out)).toEqual([
        ts.totalBytes, ts.dataOffset, ts.dataBytes, ts.g0, ts.g1, ts.g2, ts.g3, ts.array0, ts.array1, ts.array2,
      ]);
    };
    const pow2 = fc.integer({ min: 0, max: 31 }).map((k) => 2 ** k);
    const u32 = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), pow2);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), u32, u32, (kind, a, b) => check(kind, a, b)),
      { numRuns: 3000 },
    );
    for (const [kind, a, b] of [
      [Kind.slab, 1, SlabLayout.maxSlots], [Kind.slab, 2 ** 30, 1], [Kind.slab, 64, 2 ** 24],
      [Kind.buddy, 2 ** 30, 64], [Kind.buddy, 2 ** 30, 32], [Kind.buddy, 16, 8], [Kind.buddy, 16, 16],
      [Kind.ring, 16, 0], [Kind.ring, 2 ** 30, 0], [Kind.stack, 8, 0], [Kind.stack, 2 ** 30 + 8, 0],
    ] as const) {
      check(kind, a, b);
    }
  });

  it('a buffer formatted by C++ is attached by TS and the other way round', () => {
    const g = kindGeometry(Kind.slab, 40, 10)!;
    const buffer = new ArrayBuffer(g.totalBytes);
    expect(memoryAddon!.memoryFormat(new Uint8Array(buffer), Kind.slab, 40, 10, false)).toBe(0);
    const slab = SlabAllocator.attach(buffer);
    expect(slab.stats()).toEqual({ bytes: g.totalBytes, slotBytes: 40, slots: 10, used: 0, free: 10 });
    const offsets = Array.from({ length: 10 }, () => slab.alloc());
    expect(offsets).toEqual(Array.from({ length: 10 }, (_, i) => g.dataOffset + i * 40));
    const heap = new BuddyAllocator({ bytes: 4096, minBlock: 32 });
    expect(memoryAddon!.memoryValidate(new Uint8Array(heap.buffer), Kind.buddy)).toBe(0);
    expect(memoryAddon!.memoryValidate(new Uint8Array(heap.buffer), Kind.slab)).toBe(-6);
    expect(memoryAddon!.buddyAlloc(new Uint8Array(heap.buffer), 100)).toBe(heap.dataOffset);
    expect(heap.stats().used).toBe(128);
  });

  it('the addon answers malformed calls with a status or an error naming the argument, never a crash or a stray write', () => {
    const a = memoryAddon!;
    const slab = new SlabAllocator({ slotBytes: 8, slots: 4 });
    const mem = new Uint8Array(slab.buffer);
    const call = a as unknown as Record<string, (...args: unknown[]) => number>;
    expect(call.slabAlloc!()).toBe(-8);
    expect(() => call.slabAlloc!(new Float64Array(64))).toThrow(/slabAlloc: expected a Uint8Array for mem \(argument 1\) but received a Float64Array/);
    expect(() => call.slabAlloc!({})).toThrow(TypeError);
    expect(call.slabFree!(mem)).toBe(-8);
    expect(call.slabFree!(mem, 'x')).toBe(-3);
    expect(a.slabFree(mem, 1e12)).toBe(-3);
    expect(a.buddyAlloc(mem, 8)).toBe(-6); // a slab is not a buddy
    const small = new Uint8Array(12);
    expect(() => call.memoryGeometry!(1, 8, 4, small)).toThrow(/memoryGeometry: expected an Int32Array for out \(argument 4\) but received a Uint8Array/);
    expect(Array.from(small)).toEqual(new Array(12).fill(0));
    expect(() => a.memoryGeometry(1, 8, 4, new Int32Array(9))).toThrow(RangeError);
    expect(() => call.slabStats!(mem, null)).toThrow(/slabStats: expected an Int32Array for out \(argument 2\)/);
    expect(() => call.buddyStats!(mem, new Int32Array(6))).toThrow(/buddyStats: expected a Float64Array for out/);
    expect(a.memoryFormat(new Uint8Array(10), Kind.slab, 8, 4, false)).toBe(-8);
    expect(() => call.memoryValidate!(null, Kind.slab)).toThrow(TypeError);
    expect(slab.stats()).toMatchObject({ used: 0, free: 4 });
  });

  it('the addon refuses a detached or foreign buffer instead of touching it', () => {
    const slab = new SlabAllocator({ slotBytes: 8, slots: 4, ...via('native') });
    const moved = new ArrayBuffer(slab.buffer.byteLength);
    expect(memoryAddon!.slabAlloc(new Uint8Array(moved))).toBe(-6);
    expect(memoryAddon!.slabAlloc(new Uint8Array(8))).toBe(-6);
    const transferable = new SlabAllocator({ slotBytes: 8, slots: 4, ...via('native') });
    structuredClone(transferable.buffer, { transfer: [transferable.buffer as ArrayBuffer] });
    expect(() => transferable.alloc()).toThrow(CorruptAllocatorError);
    expect(() => transferable.alloc()).toThrow(/header missing, corrupted or buffer detached/);
  });
});

describe('a buffer taken away under an allocator (TS path)', () => {
  // An unshared ArrayBuffer can be detached (transferred to a worker, structuredClone with
  // transfer) or, when resizable, shrunk. Typed arrays never reach outside a buffer, but
  // the allocator must say so rather than answer from words that read as undefined.
  const gone = /its buffer was detached \(transferred away\) or shrunk below the allocator's \d+ bytes; it can no longer be used/;
  const detach = (b: ArrayBuffer | SharedArrayBuffer) => structuredClone(b, { transfer: [b as ArrayBuffer] });
  const shrink = (b: ArrayBuffer | SharedArrayBuffer) => (b as ArrayBuffer & { resize(n: number): void }).resize(16);
  const resizable = (bytes: number) => new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(bytes, { maxByteLength: bytes });

  it.each([
    ['detached', detach],
    ['shrunk', shrink],
  ] as const)('%s: every call throws CorruptAllocatorError saying so, none hands out an offset', (_how, takeAway) => {
    const slab = new SlabAllocator({ slotBytes: 8, slots: 4, buffer: resizable(SlabAllocator.requiredBytes({ slotBytes: 8, slots: 4 })) });
    const heap = new BuddyAllocator({ bytes: 1024, minBlock: 64, buffer: resizable(BuddyAllocator.requiredBytes({ bytes: 1024, minBlock: 64 })) });
    const ring = new RingAllocator({ bytes: 256, buffer: resizable(RingAllocator.requiredBytes({ bytes: 256 })) });
    const stack = new StackAllocator({ bytes: 256, buffer: resizable(StackAllocator.requiredBytes({ bytes: 256 })) });
    const live = { slab: slab.alloc(), heap: heap.alloc(64), ring: ring.alloc(16), stack: stack.alloc(16) };
    for (const a of [slab, heap, ring, stack]) takeAway(a.buffer);
    const calls: (() => unknown)[] = [
      () => slab.alloc(),
      () => slab.free(live.slab),
      () => slab.view(live.slab),
      () => slab.stats(),
      () => heap.alloc(64),
      () => heap.free(live.heap),
      () => heap.stats(),
      () => ring.alloc(16),
      () => ring.release(),
      () => ring.free(live.ring),
      () => ring.stats(),
      () => stack.alloc(16),
      () => stack.mark(),
      () => stack.reset(live.stack),
      () => stack.stats(),
    ];
    for (const call of calls) {
      expect(call).toThrow(CorruptAllocatorError);
      expect(call).toThrow(gone);
    }
  });
});

describe.each(backends)('SlabAllocator on the %s path', (backend) => {
  describe.each(sharing)('shared: %s', (shared) => {
    it('hands out every slot once, aligned, then -1', () => {
      const slab = new SlabAllocator({ slotBytes: 20, slots: 50, shared, ...via(backend) });
      expect(slab.buffer).toBeInstanceOf(shared ? SharedArrayBuffer : ArrayBuffer);
      expect(slab.stride).toBe(24);
      const seen = new Set<number>();
      for (let i = 0; i < 50; i++) {
        const off = slab.alloc();
        expect(off).toBeGreaterThanOrEqual(slab.dataOffset);
        expect((off - slab.dataOffset) % 24).toBe(0);
        expect(off % 8).toBe(0);
        seen.add(off);
      }
      expect(seen.size).toBe(50);
      expect(slab.alloc()).toBe(-1);
      expect(slab.stats()).toEqual({ bytes: slab.dataOffset + 50 * 24, slotBytes: 20, slots: 50, used: 50, free: 0 });
      for (const off of seen) slab.free(off);
      expect(slab.stats().used).toBe(0);
    });

    it('view() is a zero-copy window on the slot', () => {
      const slab = new SlabAllocator({ slotBytes: 16, slots: 4, shared, ...via(backend) });
      const off = slab.alloc();
      const v = slab.view(off);
      expect(v.buffer).toBe(slab.buffer);
      expect(v.byteOffset).toBe(off);
      expect(v.length).toBe(16);
      new Float64Array(slab.buffer, off, 2).set([1.5, -2]);
      expect(Array.from(new Float64Array(v.buffer, v.byteOffset, 2))).toEqual([1.5, -2]);
      v[0] = 7;
      expect(slab.view(off, 1)[0]).toBe(7);
      expect(() => slab.view(off, 17)).toThrow(new RangeError('Expected an integer from 0 to 16 for size but received 17'));
      slab.free(off);
      expect(() => slab.view(off)).toThrow(/already free/);
    });

    it('throws a clear error for double free, foreign and misaligned offsets, and changes nothing', () => {
      const slab = new SlabAllocator({ slotBytes: 64, slots: 8, shared, ...via(backend) });
      const a = slab.alloc();
      const b = slab.alloc();
      slab.free(a);
      const before = slab.stats();
      const end = slab.dataOffset + 8 * 64;
      const cases: [unknown, ErrorConstructor, RegExp][] = [
        [a, RangeError, new RegExp(`^Expected a live slot for offset but received ${a}, which is already free \\(double free\\)$`)],
        [b + 8, RangeError, /Expected a slot offset \(\d+ \+ a multiple of 64\); misaligned for offset but received \d+/],
        [end, RangeError, new RegExp(`Expected an offset returned by this SlabAllocator \\(in \\[${slab.dataOffset}, ${end}\\)\\) for offset`)],
        [0, RangeError, /for offset but received 0$/],
        [-1, RangeError, /for offset but received -1$/],
        [b + 0.5, TypeError, /Expected an integer offset for offset but received \d+\.5/],
        [String(b), TypeError, new RegExp(`Expected an integer offset for offset but received "${b}"`)],
        [Number.NaN, TypeError, /received NaN/],
        [undefined, TypeError, /received undefined/],
      ];
      for (const [bad, kind, message] of cases) {
        expect(() => slab.free(bad as number)).toThrow(kind);
        expect(() => slab.free(bad as number)).toThrow(message);
      }
      expect(slab.stats()).toEqual(before);
      expect(slab.alloc()).toBe(a);
      slab.free(b);
      slab.free(a);
      expect(slab.stats().used).toBe(0);
    });

    it('attaches to its buffer from a second handle that sees the same state', () => {
      const slab = new SlabAllocator({ slotBytes: 32, slots: 4, shared, ...via(backend) });
      const a = slab.alloc();
      const other = SlabAllocator.attach(slab.buffer, via(backend));
      expect(other.shared).toBe(shared);
      expect(other.stats().used).toBe(1);
      const b = other.alloc();
      expect(b).not.toBe(a);
      other.free(a);
      expect(() => slab.free(a)).toThrow(/double free/);
      slab.free(b);
      expect(other.stats().used).toBe(0);
    });
  });

  it('formats a buffer it is given and checks its options', () => {
    const bytes = SlabAllocator.requiredBytes({ slotBytes: 8, slots: 3 });
    const buffer = new SharedArrayBuffer(bytes + 100);
    const slab = new SlabAllocator({ slotBytes: 8, slots: 3, buffer, ...via(backend) });
    expect(slab.shared).toBe(true);
    expect(slab.alloc()).toBe(slab.dataOffset);
    expect(() => new SlabAllocator({ slotBytes: 8, slots: 3, buffer: new ArrayBuffer(bytes - 1), ...via(backend) })).toThrow(
      new RangeError(`Expected a buffer of at least ${bytes} bytes for this geometry for options.buffer but received "a buffer of ${bytes - 1} bytes"`),
    );
    expect(() => new SlabAllocator({ slotBytes: 8, slots: 3, buffer, shared: false, ...via(backend) })).toThrow(/for options.shared/);
    expect(() => new SlabAllocator({ slotBytes: 0, slots: 3 })).toThrow(
      new RangeError('Expected an integer from 1 to 1073741824 for options.slotBytes but received 0'),
    );
    expect(() => new SlabAllocator({ slotBytes: 8, slots: 2 ** 24 })).toThrow(/from 1 to 16777215 for options.slots but received 16777216/);
    expect(() => new SlabAllocator({ slotBytes: 8.5, slots: 3 })).toThrow(TypeError);
    expect(() => new SlabAllocator({ slotBytes: 2 ** 20, slots: 4096 })).toThrow(/at most 2\^31 - 1 bytes/);
    expect(() => new SlabAllocator(null as never)).toThrow(/Expected an options object for SlabAllocator for options but received null/);
  });

  it('refuses to attach to anything but a slab', () => {
    const heap = new BuddyAllocator({ bytes: 1024, minBlock: 64 });
    expect(() => SlabAllocator.attach(heap.buffer)).toThrow(/Expected the buffer of a SlabAllocator for buffer but received the buffer of a buddy allocator/);
    expect(() => SlabAllocator.attach(new ArrayBuffer(4096))).toThrow(/without the allocator magic number/);
    expect(() => SlabAllocator.attach(new ArrayBuffer(10))).toThrow(/too small for a header/);
    expect(() => SlabAllocator.attach(new Uint8Array(64) as never)).toThrow(TypeError);
    const slab = new SlabAllocator({ slotBytes: 8, slots: 4 });
    new Uint32Array(slab.buffer)[9] = 5; // g2: slots
    expect(() => SlabAllocator.attach(slab.buffer)).toThrow(/inconsistent \(corrupted\)/);
    const sab = new SharedArrayBuffer(slab.buffer.byteLength);
    new Uint8Array(sab).set(new Uint8Array(new SlabAllocator({ slotBytes: 8, slots: 4 }).buffer));
    expect(() => SlabAllocator.attach(sab)).toThrow(/formatted without shared: true/);
  });
});

describe.each(backends)('BuddyAllocator on the %s path', (backend) => {
  describe.each(sharing)('shared: %s', (shared) => {
    it('splits on alloc and merges buddies back on free', () => {
      const heap = new BuddyAllocator({ bytes: 1024, minBlock: 64, shared, ...via(backend) });
      const d = heap.dataOffset;
      expect(heap.maxOrder).toBe(4);
      const a = heap.alloc(64); // 1024 -> 512 + 256 + 128 + 64 + [64]
      const b = heap.alloc(1); // a's buddy
      const c = heap.alloc(200); // the free 256
      expect([a, b, c]).toEqual([d, d + 64, d + 256]);
      expect(heap.blockSize(c)).toBe(256);
      expect(heap.stats()).toEqual({ bytes: 1024, used: 384, free: 640, largestFreeBlock: 512, fragmentation: 1 - 512 / 640, liveBlocks: 3 });
      heap.free(a);
      expect(heap.stats().largestFreeBlock).toBe(512);
      heap.free(b); // a+b -> 128, + free 128 -> 256
      expect(heap.stats()).toMatchObject({ used: 256, largestFreeBlock: 512, liveBlocks: 1 });
      expect(heap.alloc(256)).toBe(d); // the merged 256 at the start
      heap.free(d);
      heap.free(c); // everything merges into the one 1024 block
      expect(heap.stats()).toEqual({ bytes: 1024, used: 0, free: 1024, largestFreeBlock: 1024, fragmentation: 0, liveBlocks: 0 });
      expect(heap.alloc(1024)).toBe(d);
      expect(heap.alloc(1)).toBe(-1);
    });

    it('throws a clear error for bad sizes and offsets, and changes nothing', () => {
      const heap = new BuddyAllocator({ bytes: 1024, minBlock: 64, shared, ...via(backend) });
      const a = heap.alloc(128);
      const before = heap.stats();
      expect(() => heap.alloc(1025)).toThrow(
        new RangeError('Expected at most 1024 bytes (the most this BuddyAllocator holds) for size but received 1025'),
      );
      expect(() => heap.alloc(0)).toThrow(new RangeError('Expected an integer from 1 to 1024 for size but received 0'));
      expect(() => heap.alloc(1.5)).toThrow(new TypeError('Expected an integer from 1 to 1024 for size but received 1.5'));
      expect(() => heap.alloc('8' as never)).toThrow(TypeError);
      expect(() => heap.free(a + 64)).toThrow(/Expected the start of a live block of this BuddyAllocator for offset but received \d+, which lies inside another block/);
      expect(() => heap.free(a + 128)).toThrow(/already free \(double free\)/); // a free 128 block starts there
      expect(() => heap.free(a + 3)).toThrow(/misaligned for offset/);
      expect(() => heap.free(heap.dataOffset + 1024)).toThrow(/Expected an offset returned by this BuddyAllocator/);
      expect(() => heap.free(-64)).toThrow(RangeError);
      expect(() => heap.free(null as never)).toThrow(new TypeError('Expected an integer offset for offset but received null'));
      expect(heap.stats()).toEqual(before);
      heap.free(a);
      expect(() => heap.free(a)).toThrow(new RegExp(`Expected a live block for offset but received ${a}, which is already free \\(double free\\)`));
      expect(() => heap.blockSize(a)).toThrow(/double free/);
      expect(heap.stats().largestFreeBlock).toBe(1024);
    });

    it('view() covers the block, zero-copy', () => {
      const heap = new BuddyAllocator({ bytes: 4096, minBlock: 16, shared, ...via(backend) });
      const off = heap.alloc(100);
      const v = heap.view(off);
      expect(v.buffer).toBe(heap.buffer);
      expect([v.byteOffset, v.length]).toEqual([off, 128]);
      expect(heap.view(off, 100).length).toBe(100);
      expect(() => heap.view(off, 129)).toThrow(/from 0 to 128 \(the block's size\) for size but received 129/);
      v.fill(9);
      expect(new Uint8Array(heap.buffer, off, 128).every((x) => x === 9)).toBe(true);
    });
  });

  it('checks its options', () => {
    expect(() => new BuddyAllocator({ bytes: 1000, minBlock: 8 })).toThrow(
      new RangeError('Expected a power of two from 16 to 1073741824 for options.bytes but received 1000'),
    );
    expect(() => new BuddyAllocator({ bytes: 1024, minBlock: 4 })).toThrow(/a power of two from 8 to 1024 for options.minBlock but received 4/);
    expect(() => new BuddyAllocator({ bytes: 1024, minBlock: 2048 })).toThrow(RangeError);
    expect(() => new BuddyAllocator({ bytes: 2 ** 30, minBlock: 8 })).toThrow(/at least 64 for 1073741824 bytes/);
    const heap = new BuddyAllocator({ bytes: 256, minBlock: 16, ...via(backend) });
    const again = BuddyAllocator.attach(heap.buffer, via(backend));
    expect(again.alloc(16)).toBe(heap.dataOffset);
    expect(heap.stats().used).toBe(16);
    expect(BuddyAllocator.requiredBytes({ bytes: 256, minBlock: 16 })).toBe(heap.dataOffset + 256);
  });
});

describe.each(backends)('RingAllocator on the %s path', (backend) => {
  describe.each(sharing)('shared: %s', (shared) => {
    it('allocates at the head, releases the oldest, wraps around', () => {
      const ring = new RingAllocator({ bytes: 128, shared, ...via(backend) });
      const d = ring.dataOffset;
      expect(ring.release()).toBe(-1);
      const a = ring.alloc(20); // 32-byte record at 0
      const b = ring.alloc(40); // 48 at 32
      const c = ring.alloc(30); // 40 at 80
      expect([a, b, c]).toEqual([d + 8, d + 40, d + 88]);
      expect(ring.alloc(8)).toBe(-1); // 8 bytes left at the end and nothing free at the start
      expect(ring.sizeOf(b)).toBe(40);
      expect(() => ring.free(b)).toThrow(
        new RangeError(`Expected the oldest live allocation (${a}) for offset but received ${b}: a RingAllocator frees in FIFO order`),
      );
      ring.free(a);
      expect(() => ring.sizeOf(a)).toThrow(/a live allocation of this RingAllocator for offset/);
      const e = ring.alloc(16); // skips the 8 bytes at the end, wraps to the start
      expect(e).toBe(d + 8);
      expect(ring.stats()).toEqual({ bytes: 128, used: 120, free: 8, live: 3, maxSize: 120 });
      expect([ring.release(), ring.oldest(), ring.release(), ring.release()]).toEqual([b, c, c, e]);
      expect(ring.stats()).toMatchObject({ used: 0, live: 0 });
      expect(ring.alloc(120)).toBe(d + 8);
      expect(() => ring.alloc(121)).toThrow(new RangeError('Expected at most 120 bytes (the most this RingAllocator holds) for size but received 121'));
      expect(() => ring.alloc(0)).toThrow(RangeError);
    });

    it('view() covers the allocation, zero-copy', () => {
      const ring = new RingAllocator({ bytes: 256, shared, ...via(backend) });
      const off = ring.alloc(13);
      const v = ring.view(off);
      expect([v.buffer === ring.buffer, v.byteOffset, v.length]).toEqual([true, off, 13]);
      ring.release();
      expect(() => ring.view(off)).toThrow(RangeError);
    });

    it('detects a write past the end of an allocation instead of following it', () => {
      const ring = new RingAllocator({ bytes: 64, shared, ...via(backend) });
      const off = ring.alloc(8);
      new Uint8Array(ring.buffer, off - 8, 4).fill(0xff); // the record header
      expect(() => ring.release()).toThrow(CorruptAllocatorError);
    });
  });

  it('attaches and checks its options', () => {
    const ring = new RingAllocator({ bytes: 64, ...via(backend) });
    ring.alloc(8);
    expect(RingAllocator.attach(ring.buffer, via(backend)).stats().live).toBe(1);
    expect(() => new RingAllocator({ bytes: 20 })).toThrow(/a multiple of 8 from 16 to 1073741824 for options.bytes but received 20/);
  });
});

describe.each(backends)('StackAllocator on the %s path', (backend) => {
  describe.each(sharing)('shared: %s', (shared) => {
    it('bumps, marks and resets', () => {
      const stack = new StackAllocator({ bytes: 256, shared, ...via(backend) });
      const d = stack.dataOffset;
      expect(stack.mark()).toBe(d);
      expect(stack.alloc(10)).toBe(d);
      const m = stack.mark();
      expect(m).toBe(d + 16);
      expect(stack.alloc(100)).toBe(d + 16);
      expect(stack.alloc(200)).toBe(-1);
      expect(stack.view(d + 16).length).toBe(104);
      expect(() => stack.reset(m + 4)).toThrow(/a value returned by mark\(\) \(a multiple of 8/);
      stack.reset(m);
      expect(() => stack.reset(m + 8)).toThrow(new RangeError(`Expected a mark at or below the current top (${m}); memory above it was already freed for mark but received ${m + 8}`));
      expect(stack.stats()).toEqual({ bytes: 256, used: 16, free: 240, highWater: 120 });
      stack.reset();
      expect(stack.stats().used).toBe(0);
      expect(() => stack.alloc(257)).toThrow(/at most 256 bytes/);
      expect(() => stack.reset('x' as never)).toThrow(TypeError);
    });
  });
});

// ---- random operation sequences against a reference model ----

interface Op {
  alloc: boolean;
  size: number;
  pick: number;
  /** Which handle on the buffer runs the op: TS and native interleave on the same bytes. */
  via: number;
}
const opArb = fc.record({
  alloc: fc.boolean(),
  size: fc.integer({ min: 1, max: 1 << 12 }),
  pick: fc.nat(),
  via: fc.nat(),
});
const handlesOn = <T>(attach: (b: 'ts' | 'native') => T): T[] => backends.map(attach);

/** Under the native project: the C++ bookkeeping agrees with the TS one on the same bytes. */
const i32Out = new Int32Array(4);
const f64Out = new Float64Array(6);
function nativeAgrees(kind: 'slab' | 'buddy' | 'ring' | 'stack', buffer: ArrayBufferLike, ts: Record<string, number>): void {
  if (memoryAddon === null) return;
  const mem = new Uint8Array(buffer);
  switch (kind) {
    case 'slab':
      expect(memoryAddon.slabStats(mem, i32Out)).toBe(0);
      expect([i32Out[0], i32Out[1]]).toEqual([ts.used, ts.free]);
      break;
    case 'buddy':
      expect(memoryAddon.buddyStats(mem, f64Out)).toBe(0);
      expect(Array.from(f64Out)).toEqual([ts.bytes, ts.used, ts.free, ts.largestFreeBlock, ts.liveBlocks, ts.fragmentation]);
      break;
    case 'ring':
      expect(memoryAddon.ringStats(mem, i32Out)).toBe(0);
      expect(Array.from(i32Out)).toEqual([ts.bytes, ts.used, ts.free, ts.live]);
      break;
    case 'stack':
      expect(memoryAddon.stackStats(mem, i32Out)).toBe(0);
      expect(Array.from(i32Out)).toEqual([ts.bytes, ts.used, ts.free, ts.highWater]);
      break;
  }
}
const title = backends.length > 1 ? 'TS and native interleaved on one buffer' : 'TS path';

describe(`model-based random operations (${title})`, () => {
  it('SlabAllocator: no slot twice, aligned, stats right, every error leaves it intact', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.array(opArb, { maxLength: 200 }),
        (slotBytes, slots, shared, ops) => {
          const first = new SlabAllocator({ slotBytes, slots, shared });
          const handles = handlesOn((backend) => SlabAllocator.attach(first.buffer, via(backend)));
          const live: number[] = [];
          for (const op of ops) {
            const slab = handles[op.via % handles.length]!;
            if (op.alloc) {
              const off = slab.alloc();
              if (live.length === slots) {
                expect(off).toBe(-1);
                continue;
              }
              expect((off - first.dataOffset) % first.stride).toBe(0);
              expect(off >= first.dataOffset && off < first.dataOffset + slots * first.stride).toBe(true);
              expect(live).not.toContain(off);
              live.push(off);
            } else if (live.length > 0) {
              const [off] = live.splice(op.pick % live.length, 1);
              slab.free(off!);
              expect(() => slab.free(off!)).toThrow(/double free/);
            } else {
              expect(() => slab.free(first.dataOffset + (op.pick % slots) * first.stride)).toThrow(/double free/);
            }
            expect(slab.stats().used).toBe(live.length);
            nativeAgrees('slab', first.buffer, { ...slab.stats() });
          }
          for (const off of live) handles[0]!.free(off);
          expect(first.stats()).toMatchObject({ used: 0, free: slots });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('BuddyAllocator: blocks never overlap, are aligned to their size, and all merge back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 14 }),
        fc.integer({ min: 3, max: 6 }),
        fc.boolean(),
        fc.array(opArb, { maxLength: 200 }),
        (bytesLog, minLog, shared, ops) => {
          const bytes = 2 ** bytesLog;
          const minBlock = 2 ** Math.min(minLog, bytesLog);
          const first = new BuddyAllocator({ bytes, minBlock, shared });
          const handles = handlesOn((backend) => BuddyAllocator.attach(first.buffer, via(backend)));
          const live = new Map<number, number>();
          const usedBytes = () => [...live.values()].reduce((a, b) => a + b, 0);
          for (const op of ops) {
            const heap = handles[op.via % handles.length]!;
            if (op.alloc) {
              if (op.size > bytes) {
                expect(() => heap.alloc(op.size)).toThrow(/at most \d+ bytes/);
                continue;
              }
              const off = heap.alloc(op.size);
              const block = Math.max(minBlock, 2 ** Math.ceil(Math.log2(op.size)));
              if (off === -1) {
                // Only when no free block of that size is left.
                expect(heap.stats().largestFreeBlock).toBeLessThan(block);
                continue;
              }
              expect((off - first.dataOffset) % block).toBe(0);
              expect(heap.blockSize(off)).toBe(block);
              if (memoryAddon !== null) expect(memoryAddon.buddyBlockSize(new Uint8Array(first.buffer), off)).toBe(block);
              for (const [o, s] of live) expect(off + block <= o || o + s <= off).toBe(true);
              live.set(off, block);
            } else if (live.size > 0) {
              const off = [...live.keys()][op.pick % live.size]!;
              heap.free(off);
              live.delete(off);
              expect(() => heap.free(off)).toThrow(RangeError);
            }
            const s = heap.stats();
            expect(s.used).toBe(usedBytes());
            expect(s.liveBlocks).toBe(live.size);
            expect(s.largestFreeBlock).toBeLessThanOrEqual(s.free);
            nativeAgrees('buddy', first.buffer, { ...s });
          }
          for (const off of live.keys()) handles[handles.length - 1]!.free(off);
          expect(first.stats()).toEqual({ bytes, used: 0, free: bytes, largestFreeBlock: bytes, fragmentation: 0, liveBlocks: 0 });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('RingAllocator: FIFO order, no overlap, an empty ring always has room', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 64 }), fc.boolean(), fc.array(opArb, { maxLength: 200 }), (words, shared, ops) => {
        const bytes = words * 8;
        const first = new RingAllocator({ bytes, shared });
        const handles = handlesOn((backend) => RingAllocator.attach(first.buffer, via(backend)));
        const fifo: { off: number; size: number }[] = [];
        for (const op of ops) {
          const ring = handles[op.via % handles.length]!;
          const size = 1 + (op.size % first.maxSize);
          if (op.alloc) {
            const off = ring.alloc(size);
            if (off === -1) {
              expect(fifo.length).toBeGreaterThan(0);
              continue;
            }
            expect(off % 8).toBe(0);
            expect(off >= first.dataOffset + 8 && off + size <= first.dataOffset + bytes).toBe(true);
            for (const r of fifo) expect(off + size <= r.off - 8 || r.off + r.size <= off - 8).toBe(true);
            fifo.push({ off, size });
            expect(ring.sizeOf(off)).toBe(size);
            if (memoryAddon !== null) expect(memoryAddon.ringSizeOf(new Uint8Array(first.buffer), off)).toBe(size);
          } else if (fifo.length > 0) {
            const oldest = fifo.shift()!;
            if (op.pick % 2 === 0) expect(ring.release()).toBe(oldest.off);
            else ring.free(oldest.off);
          } else {
            expect(ring.release()).toBe(-1);
          }
          expect(ring.stats().live).toBe(fifo.length);
          expect(ring.oldest()).toBe(fifo[0]?.off ?? -1);
          if (memoryAddon !== null) expect(memoryAddon.ringOldest(new Uint8Array(first.buffer))).toBe(fifo[0]?.off ?? -1);
          nativeAgrees('ring', first.buffer, { ...ring.stats() });
        }
        while (fifo.length > 0) expect(handles[0]!.release()).toBe(fifo.shift()!.off);
        expect(first.stats()).toMatchObject({ used: 0, live: 0 });
      }),
      { numRuns: 150 },
    );
  });

  it('StackAllocator: allocations above a mark go with reset(mark), the rest stay', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 128 }), fc.boolean(), fc.array(opArb, { maxLength: 200 }), (words, shared, ops) => {
        const bytes = words * 8;
        const first = new StackAllocator({ bytes, shared });
        const handles = handlesOn((backend) => StackAllocator.attach(first.buffer, via(backend)));
        const live: { off: number; size: number }[] = [];
        for (const op of ops) {
          const stack = handles[op.via % handles.length]!;
          const size = 1 + (op.size % bytes);
          if (op.alloc) {
            const top = stack.mark();
            const off = stack.alloc(size);
            if (top + Math.ceil(size / 8) * 8 > first.dataOffset + bytes) {
              expect(off).toBe(-1);
              continue;
            }
            expect(off).toBe(top);
            live.push({ off, size });
          } else {
            const keep = live.length === 0 ? 0 : op.pick % (live.length + 1);
            const mark = keep === live.length ? stack.mark() : live[keep]!.off;
            stack.reset(mark);
            live.length = keep;
          }
          const top = live.length === 0 ? first.dataOffset : live[live.length - 1]!.off + Math.ceil(live[live.length - 1]!.size / 8) * 8;
          expect(stack.mark()).toBe(top);
          nativeAgrees('stack', first.buffer, { ...stack.stats() });
        }
      }),
      { numRuns: 150 },
    );
  });
});

// ---- shared allocators across worker_threads ----

interface WorkerResult {
  id: number;
  backend: string;
  allocs: number;
  frees: number;
  fulls: number;
  problems: string[];
}

async function hammer(kind: 'slab' | 'buddy', buffer: SharedArrayBuffer, iterations: number, maxLive: number) {
  const gate = new SharedArrayBuffer(8);
  const workers = Array.from({ length: 4 }, (_, id) =>
    tsWorker(new URL('./fixtures/memory-worker.ts', import.meta.url), {
      workerData: { kind, buffer, gate, id: id + 1, iterations, maxLive, seed: 0x9e3779b9 * (id + 1), backend: backends[id % backends.length] },
    }),
  );
  const results = workers.map((w) => firstMessage<WorkerResult>(w));
  // Release all four at once so they really overlap.
  const flags = new Int32Array(gate);
  while (Atomics.load(flags, 0) < workers.length) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  const done = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  return done;
}

describe('shared allocators under four worker_threads at once', () => {
  it('SlabAllocator: no slot handed out twice, everything returned', async () => {
    const slab = new SlabAllocator({ slotBytes: 32, slots: 64, shared: true });
    const results = await hammer('slab', slab.buffer as SharedArrayBuffer, 40_000, 24);
    for (const r of results) {
      expect(r.problems).toEqual([]);
      expect(r.frees).toBe(r.allocs);
      expect(r.allocs).toBeGreaterThan(1000);
    }
    expect(new Set(results.map((r) => r.backend))).toEqual(new Set(backends));
    // 4 workers x 24 wanted > 64 slots: the slab ran full under contention and recovered.
    expect(results.reduce((n, r) => n + r.fulls, 0)).toBeGreaterThan(0);
    expect(slab.stats()).toMatchObject({ used: 0, free: 64 });
    const all = new Set(Array.from({ length: 64 }, () => slab.alloc()));
    expect(all.size).toBe(64);
    expect(slab.alloc()).toBe(-1);
  });

  it('BuddyAllocator: no byte handed out twice, everything merged back', async () => {
    const heap = new BuddyAllocator({ bytes: 1 << 15, minBlock: 16, shared: true });
    const results = await hammer('buddy', heap.buffer as SharedArrayBuffer, 20_000, 16);
    for (const r of results) {
      expect(r.problems).toEqual([]);
      expect(r.frees).toBe(r.allocs);
      expect(r.allocs).toBeGreaterThan(1000);
    }
    expect(heap.stats()).toEqual({ bytes: 1 << 15, used: 0, free: 1 << 15, largestFreeBlock: 1 << 15, fragmentation: 0, liveBlocks: 0 });
  });
});

// ---- ObjectPool ----

// Issue 12, kind 2 and 5: shared memory is read as hostile. Each allocator lives at the
// start of a SharedArrayBuffer with a canary region right after its bytes; whatever is
// written into its bookkeeping, a call returns a value or throws a named error, and
// nothing outside the allocator's bytes is written.
describe.each(backends)('shared allocator memory scribbled on, %s path', (backend) => {
  const kCanary = 256;
  const withCanary = (total: number) => {
    const buffer = new SharedArrayBuffer(total + kCanary);
    return { buffer, intact: canary(buffer, total, kCanary) };
  };

  it('BuddyAllocator.attach on scribbled free-list links throws CorruptAllocatorError and writes nothing outside', () => {
    const total = BuddyAllocator.requiredBytes({ bytes: 4096, minBlock: 64 });
    const { buffer, intact } = withCanary(total);
    const heap = new BuddyAllocator({ bytes: 4096, minBlock: 64, buffer });
    const live = [heap.alloc(64), heap.alloc(64), heap.alloc(256)];
    heap.free(live[0]!);
    const g = buddyGeometry(4096, 64)!;
    const links = new Int32Array(buffer, g.array1, (g.dataOffset - g.array1) >> 2);
    links.fill(0x7ffffff0);
    const attached = BuddyAllocator.attach(buffer, via(backend));
    let threw = 0;
    for (let i = 0; i < 8; i++) {
      try {
        attached.alloc(64);
      } catch (err) {
        expect(err).toBeInstanceOf(CorruptAllocatorError);
        threw++;
      }
    }
    expect(threw).toBeGreaterThan(0);
    expect(() => attached.free(live[1]!)).toThrow(CorruptAllocatorError);
    links.fill(-100000);
    expect(() => attached.alloc(64)).toThrow(CorruptAllocatorError);
    expect(intact()).toBe(true);
  });

  it('RingAllocator with a head of bytes - 1 throws CorruptAllocatorError instead of writing past the end', () => {
    const total = RingAllocator.requiredBytes({ bytes: 1024 });
    const { buffer, intact } = withCanary(total);
    const ring = new RingAllocator({ bytes: 1024, buffer });
    for (let i = 0; i < 6; i++) ring.alloc(100);
    ring.release();
    ring.release();
    new Uint32Array(buffer, RingLayout.head, 1)[0] = 1024 - 1;
    const attached = RingAllocator.attach(buffer, via(backend));
    expect(() => attached.alloc(100)).toThrow(CorruptAllocatorError);
    new Uint32Array(buffer, RingLayout.head, 1)[0] = 0xfffffff8;
    expect(() => attached.alloc(8)).toThrow(CorruptAllocatorError);
    new Uint32Array(buffer, RingLayout.head, 1)[0] = 0;
    new Uint32Array(buffer, RingLayout.tail, 1)[0] = 1021;
    expect(() => attached.release()).toThrow(CorruptAllocatorError);
    expect(intact()).toBe(true);
  });

  it('SlabAllocator and StackAllocator with a scribbled head or top throw CorruptAllocatorError', () => {
    const slabTotal = SlabAllocator.requiredBytes({ slotBytes: 16, slots: 10 });
    const s = withCanary(slabTotal);
    const slab = SlabAllocator.attach(new SlabAllocator({ slotBytes: 16, slots: 10, buffer: s.buffer }).buffer, via(backend));
    new Int32Array(s.buffer, SlabLayout.head, 1)[0] = 12; // an index past the 10 slots
    expect(() => slab.alloc()).toThrow(CorruptAllocatorError);
    new Int32Array(s.buffer, SlabLayout.head, 1)[0] = 0;
    new Int32Array(s.buffer, SlabLayout.next, 1)[0] = 13; // slot 0 links past the end
    expect(() => slab.alloc()).toThrow(CorruptAllocatorError);
    expect(s.intact()).toBe(true);

    const stackTotal = StackAllocator.requiredBytes({ bytes: 256 });
    const t = withCanary(stackTotal);
    const stack = StackAllocator.attach(new StackAllocator({ bytes: 256, buffer: t.buffer }).buffer, via(backend));
    new Int32Array(t.buffer, StackLayout.top, 1)[0] = stackTotal - 4; // inside, misaligned
    expect(() => stack.alloc(8)).toThrow(CorruptAllocatorError);
    new Int32Array(t.buffer, StackLayout.top, 1)[0] = stackTotal + 64; // past the end
    expect(() => stack.alloc(8)).toThrow(CorruptAllocatorError);
    expect(() => stack.mark()).toThrow(CorruptAllocatorError);
    expect(t.intact()).toBe(true);
  });

  it('a lock word left held gives AllocatorLockTimeoutError after lockTimeoutMs, naming the allocator and the value', () => {
    const heap = new BuddyAllocator({ bytes: 4096, minBlock: 64, shared: true, lockTimeoutMs: 20, ...via(backend) });
    const ring = new RingAllocator({ bytes: 1024, shared: true, lockTimeoutMs: 20, ...via(backend) });
    const heapLock = new Int32Array(heap.buffer, BuddyLayout.lock, 1);
    const ringLock = new Int32Array(ring.buffer, RingLayout.lock, 1);
    heapLock[0] = 1;
    ringLock[0] = 1;
    const started = performance.now();
    expect(() => heap.alloc(64)).toThrow(AllocatorLockTimeoutError);
    expect(() => heap.alloc(64)).toThrow(/BuddyAllocator: the lock word \(byte 64\) was still held after 20 ms \(value [12]\)/);
    expect(() => ring.alloc(64)).toThrow(/RingAllocator: the lock word \(byte 64\) was still held after 20 ms/);
    expect(() => ring.release()).toThrow(AllocatorLockTimeoutError);
    expect(performance.now() - started).toBeLessThan(5000);
    try {
      heap.alloc(64);
    } catch (err) {
      expect((err as AllocatorLockTimeoutError).code).toBe('ERR_ULTRA_PERF_ALLOCATOR_LOCK_TIMEOUT');
    }
    heapLock[0] = 7; // not a lock state at all
    expect(() => heap.alloc(64)).toThrow(/holds 7, which is not 0, 1 or 2/);
    heapLock[0] = 0;
    ringLock[0] = 0;
    expect(heap.alloc(64)).toBe(heap.dataOffset);
    expect(ring.alloc(8)).toBeGreaterThan(0);
    expect(() => new BuddyAllocator({ bytes: 4096, minBlock: 64, lockTimeoutMs: 0 })).toThrow(/options.lockTimeoutMs/);
  });

  // Every call returns or throws one of these; a free may also see a scribbled meta or
  // link as a double free or a foreign offset (a RangeError), which is all it can know.
  const expectNamed = (err: unknown, op: string) => {
    if (err instanceof CorruptAllocatorError || err instanceof AllocatorLockTimeoutError) return;
    if (err instanceof RangeError && op === 'free') return;
    throw err;
  };

  const kinds = [
    [
      'SlabAllocator',
      (buffer: SharedArrayBuffer) => new SlabAllocator({ slotBytes: 24, slots: 32, buffer }),
      SlabAllocator.requiredBytes({ slotBytes: 24, slots: 32 }),
    ],
    [
      'BuddyAllocator',
      (buffer: SharedArrayBuffer) => new BuddyAllocator({ bytes: 4096, minBlock: 32, buffer, lockTimeoutMs: 1 }),
      BuddyAllocator.requiredBytes({ bytes: 4096, minBlock: 32 }),
    ],
    [
      'RingAllocator',
      (buffer: SharedArrayBuffer) => new RingAllocator({ bytes: 2048, buffer, lockTimeoutMs: 1 }),
      RingAllocator.requiredBytes({ bytes: 2048 }),
    ],
    [
      'StackAllocator',
      (buffer: SharedArrayBuffer) => new StackAllocator({ bytes: 2048, buffer }),
      StackAllocator.requiredBytes({ bytes: 2048 }),
    ],
  ] as const;

  it.each(kinds)('%s: a worker scribbling its header, links and data while this thread allocates', async (name, make, total) => {
    const { buffer, intact } = withCanary(total);
    make(buffer);
    const a = (
      name === 'SlabAllocator'
        ? SlabAllocator.attach(buffer, via(backend))
        : name === 'BuddyAllocator'
          ? BuddyAllocator.attach(buffer, via(backend))
          : name === 'RingAllocator'
            ? RingAllocator.attach(buffer, via(backend))
            : StackAllocator.attach(buffer, via(backend))
    ) as unknown as {
      alloc: (size?: number) => number;
      free?: (o: number) => void;
      release?: () => number;
      mark?: () => number;
      reset?: (m?: number) => void;
    };
    const scribbler = await startScribbler(buffer, 0, total, name.length * 7919);
    const live: number[] = [];
    let calls = 0;
    let errors = 0;
    let x = 12345;
    const rand = (n: number) => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return x % n;
    };
    const until = performance.now() + 250;
    while (performance.now() < until) {
      const size = 1 + rand(64);
      try {
        calls++;
        const off = name === 'SlabAllocator' ? a.alloc() : a.alloc(size);
        if (off !== -1) {
          // Whatever the bookkeeping says, an offset handed out lies inside the allocator's bytes.
          expect(off).toBeGreaterThanOrEqual(64);
          expect(off + (name === 'SlabAllocator' ? 24 : size)).toBeLessThanOrEqual(total);
          new Uint8Array(buffer, off, name === 'SlabAllocator' ? 24 : size).fill(0x5a);
          live.push(off);
        }
      } catch (err) {
        errors++;
        expectNamed(err, 'alloc');
      }
      if (live.length > 8 || rand(3) === 0) {
        try {
          calls++;
          if (a.free !== undefined && name !== 'RingAllocator') a.free(live.splice(rand(live.length + 1), 1)[0] ?? 64);
          else if (a.release !== undefined) a.release();
          else a.reset!();
        } catch (err) {
          errors++;
          expectNamed(err, 'free');
        }
        if (live.length > 8) live.length = 0;
      }
    }
    const writes = await scribbler.stop();
    expect(writes).toBeGreaterThan(0);
    expect(calls).toBeGreaterThan(50);
    expect(errors).toBeGreaterThanOrEqual(0);
    expect(intact()).toBe(true);
  });
});

describe('ObjectPool', () => {
  const make = () => ({ price: 0, qty: 0 });

  it('reuses released objects, resets them, and counts hits and misses', () => {
    let resets = 0;
    const pool = new ObjectPool({
      create: make,
      reset: (o) => {
        o.price = 0;
        resets++;
      },
      initialSize: 2,
    });
    expect(pool.stats()).toEqual({ created: 2, hits: 0, misses: 0, hitRatio: 0, available: 2, dropped: 0 });
    const a = pool.acquire();
    const b = pool.acquire();
    const c = pool.acquire(); // a miss: creates
    expect(new Set([a, b, c]).size).toBe(3);
    a.price = 101.5;
    pool.release(a);
    expect(resets).toBe(1);
    const again = pool.acquire();
    expect(again).toBe(a);
    expect(again.price).toBe(0);
    expect(pool.stats()).toEqual({ created: 3, hits: 3, misses: 1, hitRatio: 0.75, available: 0, dropped: 0 });
  });

  it('keeps at most maxSize objects and drops the rest for the GC', () => {
    const pool = new ObjectPool({ create: make, maxSize: 1 });
    const [a, b] = [pool.acquire(), pool.acquire()];
    pool.release(a);
    pool.release(b);
    expect(pool.stats()).toMatchObject({ available: 1, dropped: 1, created: 2 });
    expect(pool.acquire()).toBe(a);
    pool.clear();
    expect(pool.stats().available).toBe(0);
  });

  it('names bad options and bad releases', () => {
    expect(() => new ObjectPool({ create: 5 as never })).toThrow(new TypeError('Expected a function that makes an object for options.create but received 5'));
    expect(() => new ObjectPool({ create: make, initialSize: 5, maxSize: 2 })).toThrow(
      new RangeError('Expected an integer from 0 to maxSize (2) for options.initialSize but received 5'),
    );
    expect(() => new ObjectPool({ create: make, maxSize: -1 })).toThrow(RangeError);
    expect(() => new ObjectPool({ create: make, reset: 'no' as never })).toThrow(/a function for options.reset/);
    const pool = new ObjectPool({ create: make });
    expect(() => pool.release(null as never)).toThrow(new TypeError('Expected an object acquired from this pool for item but received null'));
    expect(() => new ObjectPool({ create: () => 3 as never }).acquire()).toThrow(/an object for the value options.create\(\) returned but received 3/);
  });
});

// ---- GC ----

describe('GcMonitor', () => {
  it('records minor GCs from allocation churn, by kind, with consistent percentiles', async () => {
    const monitor = new GcMonitor({ maxSamples: 64 }).start();
    expect(monitor.running).toBe(true);
    let sink = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 200_000; i++) sink += { i, s: `x${i}` }.s.length;
      await new Promise((r) => setImmediate(r));
    }
    const stats = monitor.stop();
    expect(sink).toBeGreaterThan(0);
    expect(monitor.running).toBe(false);
    const minor = stats.byKind.minor;
    expect(minor.count).toBeGreaterThan(0);
    expect(minor.totalMs).toBeGreaterThan(0);
    expect(minor.p50Ms).toBeLessThanOrEqual(minor.p90Ms);
    expect(minor.p90Ms).toBeLessThanOrEqual(minor.p99Ms);
    expect(minor.p99Ms).toBeLessThanOrEqual(minor.maxMs);
    expect(minor.meanMs).toBeCloseTo(minor.totalMs / minor.count, 9);
    const kinds = Object.values(stats.byKind);
    expect(stats.total.count).toBe(kinds.reduce((n, k) => n + k.count, 0));
    expect(stats.total.totalMs).toBeCloseTo(kinds.reduce((n, k) => n + k.totalMs, 0), 6);
    expect(stats.gcTimeRatio).toBeGreaterThan(0);
    expect(stats.gcTimeRatio).toBeLessThan(1);
    monitor.reset();
    expect(monitor.stats().total.count).toBe(0);
  });

  it('takes pause percentiles by nearest rank without rounding a hair up (0.999 of 1000 is rank 999)', () => {
    const series = new PauseSeries(1000);
    for (let ms = 1000; ms >= 1; ms--) series.add(ms);
    const s = series.stats();
    expect([s.p50Ms, s.p90Ms, s.p99Ms, s.p999Ms, s.maxMs]).toEqual([500, 900, 990, 999, 1000]);
  });

  const fixture = fileURLToPath(new URL('./fixtures/memory-gc.ts', import.meta.url));
  const runChild = (flags: string[]) => {
    const child = spawnSync(process.execPath, [...flags, '--import', 'tsx', fixture], { encoding: 'utf8', timeout: 60_000 });
    expect(child.status, child.stderr).toBe(0);
    return JSON.parse(child.stdout.trim().split('\n').pop()!);
  };

  it('sees forced major and minor GCs, and idle-window collections, in a node --expose-gc child', () => {
    const out = runChild(['--expose-gc']);
    expect(out.canCollect).toBe(true);
    expect(out.collect.map((c: { ran: boolean; type: string }) => [c.ran, c.type])).toEqual([
      [true, 'major'],
      [true, 'minor'],
      [true, 'major'],
    ]);
    // Forced collections plus idle ones: majors from collect(), minors from churn and idle runs.
    expect(out.stats.byKind.major.count).toBeGreaterThanOrEqual(2);
    expect(out.stats.byKind.minor.count).toBeGreaterThanOrEqual(1 + out.idleReport.runs);
    expect(out.stats.byKind.major.maxMs).toBeGreaterThan(0);
    expect(out.idleReport).toMatchObject({ enabled: true, type: 'minor', skippedBusy: 0 });
    expect(out.idleReport.runs).toBeGreaterThan(0);
    expect(out.idleReport.runs).toBe(out.idleReport.checks);
    // Under a loaded event loop it waits instead of adding a pause (a window can look
    // idle only when this machine stalls the child between two checks).
    expect(out.busyReport.skippedBusy).toBeGreaterThan(0);
    expect(out.busyReport.runs).toBeLessThan(out.busyReport.skippedBusy);
  });

  it('says what it cannot do without --expose-gc instead of doing nothing silently', () => {
    const out = runChild([]);
    expect(out.canCollect).toBe(false);
    for (const c of out.collect) {
      expect(c).toMatchObject({ ran: false, ms: 0 });
      expect(c.reason).toMatch(/start node with --expose-gc/);
    }
    expect(out.idleReport).toMatchObject({ enabled: false, runs: 0, checks: 0 });
    expect(out.idleReport.reason).toMatch(/global.gc is not exposed/);
    expect(out.stats.byKind.minor.count).toBeGreaterThan(0);
  });
});

describe('gcOptimizer', () => {
  it('applies the runtime flags and reports the startup ones with how to set them', () => {
    const report = gcOptimizer.apply({ semiSpaceMb: 32 });
    expect(report.applied.map((f) => f.flag)).toEqual(['--no-flush-bytecode']);
    expect(report.notApplied.map((f) => f.flag)).toEqual(['--max-semi-space-size=32', '--min-semi-space-size=16', '--expose-gc']);
    for (const f of report.notApplied) expect(f.reason).toMatch(/heap is set up; start node with --|only takes effect at startup|already on/);
    expect(report.nodeOptions).toBe('--max-semi-space-size=32 --min-semi-space-size=16 --expose-gc');
    expect(report.caveat).toMatch(/no way to read a flag back/);
    expect(gcOptimizer.appliedFlags()).toContain('--no-flush-bytecode');
    expect(gcOptimizer.suggest().flags.every((f) => f.why.length > 10)).toBe(true);
    expect(() => gcOptimizer.apply({ semiSpaceMb: 0 })).toThrow(/an integer from 1 to 1024 for options.semiSpaceMb but received 0/);
    expect(() => gcOptimizer.startIdleGc({ type: 'full' as 'major' })).toThrow(RangeError);
  });
});
