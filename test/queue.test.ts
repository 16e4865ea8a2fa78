import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { build, type Options } from 'tsup';
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import {
  BackendUnavailableError,
  MpmcQueue,
  QueueClosedError,
  QueueCorruptError,
  SpscQueue,
  queueLayout,
  replayIntoQueue,
  type QueueBackend,
  type SharedQueue,
} from '../lib/index.js';
import { canary, startScribbler } from './helpers/scribbler.js';
import { firstMessage, tsWorker } from './helpers/ts-worker.js';
import { packedFrames } from './fixtures/queue-messages.js';
import { defaultPaths, kWholeSlotCopyMaxBytes } from '../lib/queue/queue.js';
import tsupConfig from '../tsup.config.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native';
/** The implementations a queue object can be asked for in this project. */
const backends: QueueBackend[] = native ? ['ts', 'native', 'auto'] : ['ts', 'auto'];
const kinds = [
  ['SpscQueue', SpscQueue, 'spsc'],
  ['MpmcQueue', MpmcQueue, 'mpmc'],
] as const;
type QueueClass = typeof SpscQueue | typeof MpmcQueue;

// Header words (byte offset / 4), as layout.ts documents them.
const W = { magic: 0, version: 1, kind: 2, capacity: 3, closed: 8, tail: 32, headCache: 64, head: 96, tailCache: 128 };
const W_CONSUMERS_ASLEEP = queueLayout.consumersAsleepOffset! / 4;
const W_PRODUCERS_ASLEEP = queueLayout.producersAsleepOffset! / 4;

function bytesOf(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

/** Length-word index of the slot that position pos maps to. */
function lengthWord(q: SharedQueue, pos: number): number {
  const stride = 8 + Math.ceil(q.slotBytes / 8) * 8;
  return (queueLayout.dataOffset! + (pos & (q.capacity - 1)) * stride) / 4 + 1;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('layout', () => {
  // Every offset and constant against the C++ core: test/layout.test.ts (and the loader).
  it.runIf(native)('writes byte-identical headers from TS and from C++, and each side attaches the other', () => {
    for (const [, Queue, kind] of kinds) {
      const fromTs = Queue.create({ capacity: 64, slotBytes: 40 });
      const raw = new SharedArrayBuffer(fromTs.buffer.byteLength);
      expect(cpuAddon!.queueInit(new Uint8Array(raw), kind === 'spsc' ? 1 : 2, 64, 40)).toBe(0);
      expect(new Uint8Array(raw)).toEqual(new Uint8Array(fromTs.buffer));
      const attached = Queue.attach(raw, { backend: 'ts' });
      expect(attached.tryPush(bytesOf(9, 8, 7))).toBe(true);
      const viaNative = Queue.attach(raw, { backend: 'native' });
      const out = new Uint8Array(40);
      expect(viaNative.tryPop(out)).toBe(3);
      expect(Array.from(out.subarray(0, 3))).toEqual([9, 8, 7]);
    }
  });

  it('keeps producer-owned and consumer-owned words on separate 128-byte lines', () => {
    const line = (offset: number): number => Math.floor(offset / queueLayout.lineBytes!);
    const owned = ['closedOffset', 'tailOffset', 'headCacheOffset', 'headOffset', 'tailCacheOffset', 'notEmptySeqOffset', 'notFullSeqOffset'];
    const lines = owned.map((k) => line(queueLayout[k]!));
    expect(new Set(lines).size).toBe(owned.length);
    expect(queueLayout.dataOffset! % queueLayout.lineBytes!).toBe(0);
    expect(queueLayout.dataOffset).toBe(7 * queueLayout.lineBytes!);
    const q = SpscQueue.create({ capacity: 4, slotBytes: 13 });
    // 4 slots of 8 + 16 bytes after the header, rounded up to a whole line.
    expect(q.buffer.byteLength).toBe(896 + 128);
    const i32 = new Int32Array(q.buffer);
    expect([i32[W.magic]! >>> 0, i32[W.version], i32[W.kind], i32[W.capacity]]).toEqual([0x55505155, 1, 1, 4]);
  });

  it("puts each side's asleep flag in the word after its sequence (kernel.ts Sleepers relies on it)", () => {
    expect(queueLayout.consumersAsleepOffset).toBe(queueLayout.notEmptySeqOffset! + 4);
    expect(queueLayout.producersAsleepOffset).toBe(queueLayout.notFullSeqOffset! + 4);
  });
});

describe('choosing the implementation', () => {
  it('uses the measured defaults, or TS everywhere without the addon', () => {
    const allTs = { tryPush: 'ts', tryPop: 'ts', pushBatch: 'ts', popBatch: 'ts' };
    const small = SpscQueue.create({ capacity: 8, slotBytes: 8 });
    const large = MpmcQueue.create({ capacity: 8, slotBytes: kWholeSlotCopyMaxBytes + 1 });
    expect(small.paths).toEqual(native ? { tryPush: 'ts', tryPop: 'ts', pushBatch: 'native', popBatch: 'native' } : allTs);
    expect(large.paths).toEqual(native ? { tryPush: 'ts', tryPop: 'native', pushBatch: 'native', popBatch: 'native' } : allTs);
    if (native) expect(small.paths).toEqual(defaultPaths(8));
    const long = SpscQueue.create({ capacity: 1 << 17, slotBytes: 8 });
    expect(long.paths.tryPop).toBe(native ? 'native' : 'ts');
    expect(SpscQueue.create({ capacity: 8, slotBytes: 8, backend: 'ts' }).paths).toEqual(allTs);
    // Each object chooses for itself: an attach may pick another implementation for the same bytes.
    expect(SpscQueue.attach(small.buffer, { backend: 'ts' }).paths).toEqual(allTs);
  });

  it.runIf(native)('gives every operation to the addon when asked', () => {
    expect(MpmcQueue.create({ capacity: 8, slotBytes: 8, backend: 'native' }).paths).toEqual({
      tryPush: 'native',
      tryPop: 'native',
      pushBatch: 'native',
      popBatch: 'native',
    });
  });

  it.skipIf(native)('refuses backend: native without the addon', () => {
    expect(() => SpscQueue.create({ capacity: 8, slotBytes: 8, backend: 'native' })).toThrow(BackendUnavailableError);
    const q = MpmcQueue.create({ capacity: 8, slotBytes: 8 });
    expect(() => MpmcQueue.attach(q.buffer, { backend: 'native' })).toThrow(/CPU addon is not loaded/);
  });
});

describe.each(kinds)('%s', (_name, Queue: QueueClass, kind) => {
  describe.each(backends)('backend %s', (backend) => {
    const make = (capacity: number, slotBytes: number): SharedQueue => Queue.create({ capacity, slotBytes, backend });

    it('is a bounded FIFO: full, empty, sizes, lengths and bytes', () => {
      const q = make(4, 16);
      const out = new Uint8Array(16);
      expect(q.capacity).toBe(4);
      expect(q.slotBytes).toBe(16);
      expect(q.tryPop(out)).toBe(-1);
      for (let i = 0; i < 4; i++) expect(q.tryPush(pattern(i * 5, i))).toBe(true);
      expect(q.tryPush(bytesOf(1))).toBe(false);
      expect(q.size()).toBe(4);
      for (let i = 0; i < 4; i++) {
        const n = q.tryPop(out);
        expect(n).toBe(i * 5);
        expect(out.subarray(0, n)).toEqual(pattern(i * 5, i));
      }
      expect(q.tryPop(out)).toBe(-1);
      expect(q.size()).toBe(0);
    });

    it('pushes the prefix of a batch that fits and pops packed batches', () => {
      const q = make(4, 8);
      const data = pattern(40, 3);
      const lengths = Uint32Array.of(1, 8, 0, 5, 7);
      expect(q.pushBatch(data, lengths)).toBe(4);
      expect(q.pushBatch(data, lengths)).toBe(0);
      const out = new Uint8Array(16);
      const got = new Uint32Array(8);
      // Pops while slotBytes of out are left: 16, then 15, then 7 stops it after two.
      expect(q.popBatch(out, got)).toBe(2);
      expect(Array.from(got.subarray(0, 2))).toEqual([1, 8]);
      expect(out.subarray(0, 9)).toEqual(data.subarray(0, 9));
      expect(q.popBatch(new Uint8Array(64), got, 1)).toBe(1);
      expect(got[0]).toBe(0);
      expect(q.pushBatch(data.subarray(14), Uint32Array.of(7, 3), 1)).toBe(1);
      const big = new Uint8Array(64);
      expect(q.popBatch(big, got)).toBe(2);
      expect(Array.from(got.subarray(0, 2))).toEqual([5, 7]);
      expect(big.subarray(0, 5)).toEqual(data.subarray(9, 14));
      expect(big.subarray(5, 12)).toEqual(data.subarray(14, 21));
      expect(q.popBatch(big, got)).toBe(0);
    });

    it('closes: pushes throw QueueClosedError, consumers drain what is left, then get -1', () => {
      const q = make(8, 4);
      q.tryPush(bytesOf(1));
      q.tryPush(bytesOf(2, 2));
      expect(q.closed).toBe(false);
      q.close();
      q.close();
      expect(q.closed).toBe(true);
      expect(() => q.tryPush(bytesOf(3))).toThrow(QueueClosedError);
      expect(() => q.push(bytesOf(3))).toThrow(QueueClosedError);
      expect(new QueueClosedError().code).toBe('ERR_ULTRA_PERF_QUEUE_CLOSED');
      expect(() => q.pushBatch(bytesOf(3), Uint32Array.of(1))).toThrow(QueueClosedError);
      const out = new Uint8Array(4);
      expect(q.pop(out)).toBe(1);
      expect(q.pop(out)).toBe(2);
      expect(q.pop(out)).toBe(-1);
      expect(Queue.attach(q.buffer).closed).toBe(true);
    });

    it('times out: pop on empty returns -1, push on full returns false', async () => {
      const q = Queue.create({ capacity: 2, slotBytes: 4, backend, spinTries: 0 });
      const i32 = new Int32Array(q.buffer);
      const out = new Uint8Array(4);
      expect(q.pop(out, 0)).toBe(-1);
      expect(i32[W_CONSUMERS_ASLEEP]).toBe(0);
      expect(q.pop(out, 5)).toBe(-1);
      expect(await q.popAsync(out, 5)).toBe(-1);
      // A sleeper that timed out leaves its flag up; the next push takes it down (one wake-up).
      expect(i32[W_CONSUMERS_ASLEEP]).toBe(1);
      expect(q.push(bytesOf(1), 0)).toBe(true);
      expect(i32[W_CONSUMERS_ASLEEP]).toBe(0);
      expect(q.push(bytesOf(2), 5)).toBe(true);
      expect(q.push(bytesOf(3), 5)).toBe(false);
      expect(q.size()).toBe(2);
      expect(i32[W_PRODUCERS_ASLEEP]).toBe(1);
      expect(await q.popAsync(out)).toBe(1);
      expect(i32[W_PRODUCERS_ASLEEP]).toBe(0);
    });

    it('refuses a slot whose length was scribbled on, and copies nothing out of it', () => {
      const q = make(4, 8);
      const i32 = new Int32Array(q.buffer);
      const out = new Uint8Array(8);
      out.fill(0xee);
      q.tryPush(bytesOf(1, 2, 3));
      let word = lengthWord(q, Atomics.load(i32, W.head));
      i32[word] = 1 << 20;
      expect(() => q.tryPop(out)).toThrow(QueueCorruptError);
      expect(out.every((b) => b === 0xee)).toBe(true);
      if (kind === 'spsc') {
        // SPSC leaves the slot where it was; MPMC had claimed it and handed it back empty.
        i32[word] = 3;
        expect(q.tryPop(out)).toBe(3);
      }
      expect(q.size()).toBe(0);
      q.tryPush(bytesOf(4));
      word = lengthWord(q, Atomics.load(i32, W.head));
      i32[word] = -1;
      expect(() => q.popBatch(new Uint8Array(64), new Uint32Array(4))).toThrow(QueueCorruptError);
    });

    it('rejects bad arguments by name and leaves the queue as it was', () => {
      const q = make(4, 8);
      q.tryPush(bytesOf(5, 6));
      const check = (): void => {
        expect(q.size()).toBe(1);
        expect(q.closed).toBe(false);
      };
      const cases: [() => unknown, RegExp][] = [
        [() => q.tryPush(new Uint8Array(9)), /^Expected at most 8 bytes \(slotBytes\) for bytes but received Uint8Array\(9\)$/],
        [() => q.tryPush([1, 2] as unknown as Uint8Array), /^Expected a Uint8Array for bytes but received \[1, 2\]$/],
        [() => q.tryPush(new Int8Array(2) as unknown as Uint8Array), /for bytes but received Int8Array\(2\)/],
        [() => q.push(new Uint8Array(20)), /at most 8 bytes \(slotBytes\) for bytes/],
        [() => q.tryPop(new Uint8Array(7)), /^Expected a Uint8Array of at least 8 bytes \(slotBytes\) for out but received Uint8Array\(7\)$/],
        [() => q.tryPop(null as unknown as Uint8Array), /Expected a Uint8Array for out but received null/],
        [() => q.pop(new Uint8Array(8), -1), /^Expected a non-negative number of milliseconds for timeoutMs but received -1$/],
        [() => q.pop(new Uint8Array(8), Number.NaN), /for timeoutMs but received NaN/],
        [() => q.push(bytesOf(1), '5' as unknown as number), /for timeoutMs but received "5"/],
        [() => q.pushBatch(new Uint8Array(30), Uint32Array.of(2, 9, 1)), /^Expected at most 8 bytes \(slotBytes\) for lengths\[1\] but received 9$/],
        [() => q.pushBatch(new Uint8Array(5), Uint32Array.of(4, 4)), /^Expected at least 8 bytes \(the sum of the first 2 lengths\) for data but received Uint8Array\(5\)$/],
        [() => q.pushBatch(new Uint8Array(8), [4, 4] as unknown as Uint32Array), /Expected a Uint32Array for lengths but received \[4, 4\]/],
        [() => q.pushBatch(new Uint8Array(8), Uint32Array.of(4, 4), 3), /^Expected an integer in \[0, 2\] \(lengths.length\) for count but received 3$/],
        [() => q.pushBatch(new Uint8Array(8), Uint32Array.of(4), 0.5), /Expected an integer for count but received 0.5/],
        [() => q.popBatch(new Uint8Array(4), new Uint32Array(2)), /at least 8 bytes \(slotBytes\) for out/],
        [() => q.popBatch(new Uint8Array(8), new Uint32Array(2), -1), /for maxCount but received -1/],
      ];
      for (const [call, message] of cases) {
        expect(call).toThrow(message);
        check();
      }
      // Nothing of a refused batch went in, even its valid first message.
      const out = new Uint8Array(8);
      expect(q.tryPop(out)).toBe(2);
      expect(q.tryPop(out)).toBe(-1);
    });

    it('rejects a bad timeout or out in popAsync with a rejected promise', async () => {
      const q = make(2, 8);
      await expect(q.popAsync(new Uint8Array(2))).rejects.toThrow(/for out but received Uint8Array\(2\)/);
      await expect(q.popAsync(new Uint8Array(8), -5)).rejects.toThrow(RangeError);
    });

    it('interleaves with a model FIFO under random operations, across two objects on one buffer', () => {
      const other: QueueBackend = native ? 'native' : 'ts';
      const op = fc.oneof(
        fc.record({ t: fc.constant('push' as const), len: fc.nat(48), seed: fc.nat(255), via: fc.boolean() }),
        fc.record({ t: fc.constant('pop' as const), via: fc.boolean() }),
        fc.record({ t: fc.constant('pushBatch' as const), lens: fc.array(fc.nat(48), { maxLength: 10 }), seed: fc.nat(255), via: fc.boolean() }),
        fc.record({ t: fc.constant('popBatch' as const), max: fc.nat(10), extra: fc.nat(100), via: fc.boolean() }),
        fc.record({ t: fc.constant('blockingPop' as const), via: fc.boolean() }),
        fc.record({ t: fc.constant('bad' as const), via: fc.boolean() }),
      );
      fc.assert(
        fc.property(
          fc.constantFrom(2, 4, 8, 16),
          fc.integer({ min: 1, max: 40 }),
          fc.boolean(),
          fc.array(op, { maxLength: 120 }),
          (capacity, slotBytes, nearWrap, ops) => {
            const first = Queue.create({ capacity, slotBytes, backend });
            if (nearWrap) startNearWrap(first, kind);
            const second = Queue.attach(first.buffer, { backend: other });
            const model: Uint8Array[] = [];
            for (const o of ops) {
              const q = o.via ? second : first;
              switch (o.t) {
                case 'push': {
                  const bytes = pattern(o.len, o.seed);
                  if (o.len > slotBytes) {
                    expect(() => q.tryPush(bytes)).toThrow(RangeError);
                    break;
                  }
                  const ok = q.tryPush(bytes);
                  expect(ok).toBe(model.length < capacity);
                  if (ok) model.push(bytes);
                  break;
                }
                case 'pop':
                case 'blockingPop': {
                  const out = new Uint8Array(slotBytes);
                  const n = o.t === 'pop' ? q.tryPop(out) : q.pop(out, 0);
                  const want = model.shift();
                  expect(n).toBe(want === undefined ? -1 : want.length);
                  if (want) expect(out.subarray(0, n)).toEqual(want);
                  break;
                }
                case 'pushBatch': {
                  const data = pattern(o.lens.reduce((a, b) => a + b, 0), o.seed);
                  const lengths = Uint32Array.from(o.lens);
                  if (o.lens.some((l) => l > slotBytes)) {
                    expect(() => q.pushBatch(data, lengths)).toThrow(RangeError);
                    break;
                  }
                  const n = q.pushBatch(data, lengths);
                  expect(n).toBe(Math.min(o.lens.length, capacity - model.length));
                  let off = 0;
                  for (let i = 0; i < n; i++) {
                    model.push(data.slice(off, off + o.lens[i]!));
                    off += o.lens[i]!;
                  }
                  break;
                }
                case 'popBatch': {
                  const out = new Uint8Array(slotBytes + o.extra);
                  const lengths = new Uint32Array(10);
                  const n = q.popBatch(out, lengths, o.max);
                  let off = 0;
                  let expected = 0;
                  while (expected < o.max && expected < model.length && out.length - off >= slotBytes) off += model[expected++]!.length;
                  expect(n).toBe(expected);
                  off = 0;
                  for (let i = 0; i < n; i++) {
                    const want = model.shift()!;
                    expect(lengths[i]).toBe(want.length);
                    expect(out.subarray(off, off + want.length)).toEqual(want);
                    off += want.length;
                  }
                  break;
                }
                case 'bad': {
                  expect(() => q.tryPop(new Uint8Array(slotBytes - 1))).toThrow(RangeError);
                  expect(() => q.pushBatch(new Uint8Array(0), Uint32Array.of(1))).toThrow(RangeError);
                  break;
                }
              }
              expect(q.size()).toBe(model.length);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});

/** Moves a fresh, empty queue's indices (and MPMC slot sequences) to just below 2^32. */
function startNearWrap(q: SharedQueue, kind: 'spsc' | 'mpmc'): void {
  const i32 = new Int32Array(q.buffer);
  const start = 0xfffffff0 | 0;
  for (const w of [W.tail, W.head, W.headCache, W.tailCache]) i32[w] = start;
  if (kind === 'mpmc') {
    const mask = q.capacity - 1;
    for (let i = 0; i < q.capacity; i++) i32[lengthWord(q, i) - 1] = (start + ((i - start) & mask)) | 0;
  }
}

describe('create and attach refuse what is not a queue', () => {
  it.each([
    [null, TypeError, /^Expected an object \{ capacity, slotBytes \} for options but received null$/],
    [{ capacity: 1000, slotBytes: 8 }, RangeError, /^Expected a power of two in \[2, 1073741824\] for options.capacity but received 1000$/],
    [{ capacity: 1, slotBytes: 8 }, RangeError, /for options.capacity but received 1$/],
    [{ capacity: 0, slotBytes: 8 }, RangeError, /for options.capacity but received 0$/],
    [{ capacity: 2 ** 31, slotBytes: 8 }, RangeError, /for options.capacity but received 2147483648$/],
    [{ capacity: 4.5, slotBytes: 8 }, TypeError, /^Expected an integer power of two for options.capacity but received 4.5$/],
    [{ capacity: '8', slotBytes: 8 }, TypeError, /for options.capacity but received "8"$/],
    [{ capacity: 8, slotBytes: 0 }, RangeError, /^Expected an integer in \[1, 16777216\] for options.slotBytes but received 0$/],
    [{ capacity: 8, slotBytes: 2 ** 24 + 1 }, RangeError, /for options.slotBytes but received 16777217$/],
    [{ capacity: 8 }, TypeError, /^Expected an integer number of bytes for options.slotBytes but received undefined$/],
    [{ capacity: 2 ** 30, slotBytes: 64 }, RangeError, /fits in 2147483520 bytes with slotBytes 64 for options.capacity but received 1073741824/],
    [{ capacity: 8, slotBytes: 8, backend: 'gpu' }, TypeError, /^Expected 'auto', 'native' or 'ts' for options.backend but received "gpu"$/],
    [{ capacity: 8, slotBytes: 8, spinTries: -1 }, RangeError, /^Expected an integer in \[0, 1000000\] for options.spinTries but received -1$/],
    [{ capacity: 8, slotBytes: 8, spinTries: 2.5 }, TypeError, /^Expected an integer for options.spinTries but received 2.5$/],
  ])('create(%j) throws', (options, kind, message) => {
    for (const [, Queue] of kinds) {
      expect(() => Queue.create(options as never)).toThrow(kind);
      expect(() => Queue.create(options as never)).toThrow(message);
    }
  });

  it('a queue too big for its slots is refused with a code (openNativeUdpReceiver passes this error on)', () => {
    for (const [, Queue] of kinds) {
      expect(() => Queue.create({ capacity: 2 ** 30, slotBytes: 64 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
  });

  it('names the buffer and what is wrong with it', () => {
    const spsc = SpscQueue.create({ capacity: 8, slotBytes: 8 });
    const mpmc = MpmcQueue.create({ capacity: 8, slotBytes: 8 });
    expect(() => SpscQueue.attach(new ArrayBuffer(2048) as never)).toThrow(
      new TypeError('Expected a SharedArrayBuffer made by SpscQueue.create for buffer but received an object of type ArrayBuffer'),
    );
    expect(() => MpmcQueue.attach(undefined as never)).toThrow(/SharedArrayBuffer made by MpmcQueue.create for buffer but received undefined/);
    expect(() => SpscQueue.attach(new SharedArrayBuffer(100))).toThrow(
      new RangeError('Expected at least 896 bytes (a queue header) for buffer but received a SharedArrayBuffer of 100 bytes'),
    );
    expect(() => SpscQueue.attach(new SharedArrayBuffer(4096))).toThrow(
      new TypeError(
        'Expected a queue buffer (magic 0x55505155) made by SpscQueue.create for buffer but received a SharedArrayBuffer whose magic is 0x00000000',
      ),
    );
    expect(() => MpmcQueue.attach(spsc.buffer)).toThrow(
      new TypeError('Expected an MPMC queue buffer (kind 2) for buffer but received an SPSC queue buffer (kind 1)'),
    );
    expect(() => SpscQueue.attach(mpmc.buffer)).toThrow(/Expected an SPSC queue buffer \(kind 1\) for buffer but received an MPMC/);

    const copy = (q: SharedQueue, bytes = q.buffer.byteLength): Int32Array => {
      const buffer = new SharedArrayBuffer(bytes);
      new Uint8Array(buffer).set(new Uint8Array(q.buffer).subarray(0, Math.min(bytes, q.buffer.byteLength)));
      return new Int32Array(buffer);
    };
    const wrongVersion = copy(spsc);
    wrongVersion[W.version] = 7;
    expect(() => SpscQueue.attach(wrongVersion.buffer as SharedArrayBuffer)).toThrow(
      new RangeError('Expected queue layout version 1 for buffer but received version 7'),
    );
    const truncated = copy(spsc, 1000);
    expect(() => SpscQueue.attach(truncated.buffer as SharedArrayBuffer)).toThrow(
      new RangeError('Expected at least 1024 bytes (capacity 8 x 16-byte slots + header) for buffer but received a SharedArrayBuffer of 1000 bytes'),
    );
    const lying = copy(spsc);
    lying[W.capacity] = 6;
    expect(() => SpscQueue.attach(lying.buffer as SharedArrayBuffer)).toThrow(/Expected a consistent queue header for buffer but received capacity 6/);
    expect(() => SpscQueue.attach(spsc.buffer, { backend: 'both' as never })).toThrow(/for options.backend but received "both"/);
    // The originals are untouched by all of the above.
    expect(SpscQueue.attach(spsc.buffer).tryPush(bytesOf(1))).toBe(true);
  });
});

describe('across threads', () => {
  const producerFile = new URL('./fixtures/queue-producer.ts', import.meta.url);
  const consumerFile = new URL('./fixtures/queue-consumer.ts', import.meta.url);

  interface ConsumerReport {
    received: number;
    malformed: number;
    outOfOrder: number;
    closed: boolean;
  }

  function consumer(q: SharedQueue, kind: 'spsc' | 'mpmc', producers: number, perProducer: number, seen: SharedArrayBuffer, backend: QueueBackend = 'auto', batch = 1) {
    return firstMessage<ConsumerReport>(
      tsWorker(consumerFile, { workerData: { buffer: q.buffer, kind, producers, perProducer, seen, backend, batch } }),
    );
  }

  function producer(q: SharedQueue, kind: 'spsc' | 'mpmc', id: number, count: number, options: { backend?: QueueBackend; batch?: number; close?: boolean } = {}) {
    const workerData = { buffer: q.buffer, kind, producer: id, count, backend: options.backend ?? 'auto', batch: options.batch ?? 1, close: options.close ?? false };
    return firstMessage<{ pushed: number }>(tsWorker(producerFile, { workerData }));
  }

  /** Every (producer, seq) seen exactly once. */
  function expectEachOnce(seen: SharedArrayBuffer): void {
    const counts = new Uint8Array(seen);
    let wrong = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i] !== 1) wrong++;
    expect(wrong).toBe(0);
  }

  it('wakes a pop sleeping on this thread when a worker pushes, and a worker push sleeping on a full queue', async () => {
    for (const [, Queue, kind] of kinds) {
      const q = Queue.create({ capacity: 4, slotBytes: 16 });
      const done = producer(q, kind, 0, 300);
      const out = new Uint8Array(16);
      const view = new DataView(out.buffer);
      for (let s = 0; s < 300; s++) {
        expect(q.pop(out)).toBeGreaterThanOrEqual(12);
        expect(view.getUint32(4, true)).toBe(s);
      }
      expect(await done).toEqual({ pushed: 300 });
    }
  });

  it('resolves popAsync when a worker pushes', async () => {
    const q = SpscQueue.create({ capacity: 2, slotBytes: 16 });
    const out = new Uint8Array(16);
    const first = q.popAsync(out);
    const done = producer(q, 'spsc', 3, 50);
    const view = new DataView(out.buffer);
    expect(await first).toBeGreaterThanOrEqual(12);
    expect(view.getUint32(0, true)).toBe(3);
    for (let s = 1; s < 50; s++) {
      expect(await q.popAsync(out)).toBeGreaterThanOrEqual(12);
      expect(view.getUint32(4, true)).toBe(s);
    }
    await done;
  });

  it('close() wakes a consumer asleep in pop in another thread, and a producer asleep in push', async () => {
    const q = MpmcQueue.create({ capacity: 2, slotBytes: 16 });
    const i32 = new Int32Array(q.buffer);
    const seen = new SharedArrayBuffer(1);
    const asleep = consumer(q, 'mpmc', 1, 1, seen);
    await until(() => Atomics.load(i32, W_CONSUMERS_ASLEEP) > 0, 'the consumer to sleep');
    q.close();
    expect(await asleep).toEqual(expect.objectContaining({ received: 0, closed: true }));

    const full = SpscQueue.create({ capacity: 2, slotBytes: 16 });
    const f32 = new Int32Array(full.buffer);
    const stuck = producer(full, 'spsc', 0, 10);
    await until(() => Atomics.load(f32, W_PRODUCERS_ASLEEP) > 0, 'the producer to sleep');
    full.close();
    await expect(stuck).rejects.toThrow(/queue is closed/);
    expect(full.size()).toBe(2);
  });

  it('SPSC TS to TS: 5M messages, blocking push and pop, none lost, none repeated, in order', async () => {
    const N = 5_000_000;
    const q = SpscQueue.create({ capacity: 4096, slotBytes: 16 });
    const seen = new SharedArrayBuffer(N);
    const got = consumer(q, 'spsc', 1, N, seen, 'ts');
    const sent = await producer(q, 'spsc', 0, N, { backend: 'ts', close: true });
    const report = await got;
    expect(sent.pushed).toBe(N);
    expect(report).toEqual({ received: N, malformed: 0, outOfOrder: 0, closed: true, paths: expect.anything() });
    expectEachOnce(seen);
  });

  it(`${native ? 'native thread' : 'TS replay worker'} to TS: replayIntoQueue pushes 5M frames to a consumer worker`, async () => {
    const N = 5_000_000;
    const q = SpscQueue.create({ capacity: 65536, slotBytes: 16 });
    const seen = new SharedArrayBuffer(N);
    const got = consumer(q, 'spsc', 1, N, seen);
    const result = await replayIntoQueue(q, packedFrames(0, N));
    q.close();
    const report = await got;
    expect(result.pushed).toBe(N);
    expect(result.elapsedMs).toBeGreaterThan(0);
    expect(report).toEqual(expect.objectContaining({ received: N, malformed: 0, outOfOrder: 0 }));
    expectEachOnce(seen);
  });

  it('MPMC 2x2: a replay thread and a TS worker produce, TS and native-path workers consume, 5M messages', async () => {
    const N = 2_500_000;
    const q = MpmcQueue.create({ capacity: 8192, slotBytes: 16 });
    const seen = new SharedArrayBuffer(2 * N);
    const consumers = [consumer(q, 'mpmc', 2, N, seen, 'ts'), consumer(q, 'mpmc', 2, N, seen, native ? 'native' : 'ts', 32)];
    const [replayed, pushed] = await Promise.all([replayIntoQueue(q, packedFrames(0, N)), producer(q, 'mpmc', 1, N, { batch: 8 })]);
    q.close();
    const reports = await Promise.all(consumers);
    expect(replayed.pushed).toBe(N);
    expect(pushed.pushed).toBe(N);
    expect(reports.map((r) => r.malformed + r.outOfOrder)).toEqual([0, 0]);
    expect(reports[0]!.received + reports[1]!.received).toBe(2 * N);
    expectEachOnce(seen);
  });
});

describe('replayIntoQueue', () => {
  const replayBackends = native ? (['native', 'ts'] as const) : (['ts'] as const);

  it.each(replayBackends)('%s: takes frames as an array or packed, in order, into either kind of queue', async (backend) => {
    for (const [, Queue] of kinds) {
      const q = Queue.create({ capacity: 1024, slotBytes: 8 });
      const frames = Array.from({ length: 500 }, (_, i) => pattern(i % 9, i));
      expect(await replayIntoQueue(q, frames, { backend })).toEqual({ pushed: 500, elapsedMs: expect.any(Number), backend });
      const data = new Uint8Array(100).map((_, i) => i);
      expect((await replayIntoQueue(q, { data, lengths: Uint32Array.of(3, 0, 8) }, { backend })).pushed).toBe(3);
      const out = new Uint8Array(8);
      for (let i = 0; i < 500; i++) {
        const n = q.tryPop(out);
        expect(n).toBe(i % 9);
        expect(out.subarray(0, n)).toEqual(frames[i]);
      }
      expect(q.tryPop(out)).toBe(3);
      expect(q.tryPop(out)).toBe(0);
      expect(q.tryPop(out)).toBe(8);
      expect(out).toEqual(data.subarray(3, 11));
      expect(q.tryPop(out)).toBe(-1);
    }
  });

  it.each(replayBackends)('%s: paces frames at ratePerSec, so n frames take at least (n - 1) / rate', async (backend) => {
    const q = SpscQueue.create({ capacity: 256, slotBytes: 4 });
    const result = await replayIntoQueue(q, Array.from({ length: 101 }, () => bytesOf(1)), { ratePerSec: 5000, backend });
    expect(result.pushed).toBe(101);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(19.9);
  });

  it.each(replayBackends)('%s: stops cleanly when the queue is closed while it waits for room', async (backend) => {
    const q = MpmcQueue.create({ capacity: 16, slotBytes: 4 });
    const running = replayIntoQueue(q, Array.from({ length: 1000 }, () => bytesOf(7)), { backend });
    await until(() => q.size() === 16, 'the queue to fill');
    q.close();
    expect((await running).pushed).toBe(16);
    expect(new Int32Array(q.buffer)[queueLayout.nativeProducersOffset! / 4]).toBe(0);
  });

  it('stops and reclaims the replayer when the worker that started it is terminated', async () => {
    const q = MpmcQueue.create({ capacity: 8, slotBytes: 4 });
    const worker = tsWorker(new URL('./fixtures/queue-replayer.ts', import.meta.url), { workerData: { buffer: q.buffer, frames: 100 } });
    await firstMessage(worker);
    await until(() => q.size() === 8, 'the replayer to fill the queue');
    await worker.terminate();
    const i32 = new Int32Array(q.buffer);
    await until(() => Atomics.load(i32, queueLayout.nativeProducersOffset! / 4) === 0, 'the native thread to stop');
    // The queue is intact and nothing more arrives.
    const out = new Uint8Array(4);
    for (let i = 0; i < 8; i++) {
      expect(q.tryPop(out)).toBe(1);
      expect(out[0]).toBe(i);
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(q.size()).toBe(0);
  });

  // The child forces the TS backend whatever this project is, so one project runs it.
  it.skipIf(native)('runs its TS worker from the built package, ESM and CJS, with no tsx', async () => {
    // A private build of this source with the package's own tsup config (no types), so
    // the check neither reads a stale dist/ nor races the other project over it.
    const root = fileURLToPath(new URL('..', import.meta.url));
    mkdirSync(join(root, '.tmp'), { recursive: true });
    const outDir = join(mkdtempSync(join(root, '.tmp', 'queue-dist-')), 'dist');
    try {
      await build({ ...(tsupConfig as Options), config: false, outDir, dts: false, clean: false, silent: true });
      const fixture = fileURLToPath(new URL('./fixtures/queue-replay-package.mjs', import.meta.url));
      for (const [format, file] of [
        ['esm', 'index.js'],
        ['cjs', 'index.cjs'],
      ] as const) {
        const child = spawnSync(process.execPath, [fixture, join(outDir, file), format, '5000'], {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, ULTRA_PERF_BACKEND: 'ts', NODE_OPTIONS: '' },
        });
        expect(child.stderr, format).toBe('');
        const report = JSON.parse(child.stdout) as Record<string, unknown>;
        expect(report, format).toEqual({ native: false, pushed: 5000, popped: 5000, inOrder: true, checksum: report.expected, expected: expect.any(Number) });
      }
    } finally {
      rmSync(join(outDir, '..'), { recursive: true, force: true });
    }
  });

  it('refuses bad frames, options and queues before pushing anything', async () => {
    const q = SpscQueue.create({ capacity: 16, slotBytes: 4 });
    await expect(replayIntoQueue(q, [bytesOf(1), new Uint8Array(5)])).rejects.toThrow(
      new RangeError("Expected at most 4 bytes (the queue's slotBytes) for frames[1] but received Uint8Array(5)"),
    );
    await expect(replayIntoQueue(q, [bytesOf(1), 'x' as never])).rejects.toThrow(/Expected a Uint8Array for frames\[1\] but received "x"/);
    await expect(replayIntoQueue(q, { data: new Uint8Array(4), lengths: Uint32Array.of(4, 1) })).rejects.toThrow(
      /Expected at least 5 bytes \(the sum of frames.lengths\) for frames.data but received Uint8Array\(4\)/,
    );
    await expect(replayIntoQueue(q, { data: new Uint8Array(9), lengths: Uint32Array.of(9) })).rejects.toThrow(/for frames.lengths\[0\] but received 9/);
    await expect(replayIntoQueue(q, { data: new Uint8Array(4) } as never)).rejects.toThrow(/Expected a Uint32Array for frames.lengths/);
    await expect(replayIntoQueue(q, [bytesOf(1)], { ratePerSec: 0 })).rejects.toThrow(
      /Expected a finite number of frames per second above 0 for options.ratePerSec but received 0/,
    );
    await expect(replayIntoQueue(q, [bytesOf(1)], { ratePerSec: Number.NaN })).rejects.toThrow(TypeError);
    await expect(replayIntoQueue({} as never, [bytesOf(1)])).rejects.toThrow(/Expected an SpscQueue or MpmcQueue for queue/);
    if (!native) await expect(replayIntoQueue(q, [bytesOf(1)], { backend: 'native' })).rejects.toThrow(BackendUnavailableError);
    expect(q.size()).toBe(0);
  });
});

// Issue 12, kinds 2, 4 and 5: the queue's SharedArrayBuffer, and a batch's lengths when
// they are shared, are read as hostile; a paced replay hears close().
describe.each(kinds)('%s with hostile shared memory', (_name, Queue, kind) => {
  /** A queue copied into a longer SharedArrayBuffer, with a canary right after its bytes. */
  const withCanary = (backend: QueueBackend, capacity: number, slotBytes: number) => {
    const made = Queue.create({ capacity, slotBytes });
    const total = made.buffer.byteLength;
    const buffer = new SharedArrayBuffer(total + 256);
    new Uint8Array(buffer).set(new Uint8Array(made.buffer));
    const intact = canary(buffer, total, 256);
    const q = (kind === 'spsc' ? SpscQueue.attach(buffer, { backend }) : MpmcQueue.attach(buffer, { backend })) as SharedQueue;
    return { q, buffer, total, intact };
  };

  describe.each(backends)('backend %s', (backend) => {
    it('a worker rewriting a shared lengths[] during pushBatch never makes it copy more than a slot', async () => {
      const slotBytes = 64;
      const { q, intact } = withCanary(backend, 16, slotBytes);
      const lengthsBuffer = new SharedArrayBuffer(8 * 4);
      const lengths = new Uint32Array(lengthsBuffer);
      const data = new Uint8Array(8 * slotBytes).fill(7);
      const out = new Uint8Array(16 * slotBytes);
      const outLengths = new Uint32Array(16);
      const scribbler = await startScribbler(lengthsBuffer, 0, lengthsBuffer.byteLength, 0x1234567);
      let pushed = 0;
      let refused = 0;
      const until = performance.now() + 250;
      while (performance.now() < until) {
        try {
          pushed += q.pushBatch(data, lengths);
        } catch (err) {
          if (!(err instanceof RangeError)) throw err;
          refused++;
        }
        const n = q.popBatch(out, outLengths);
        for (let i = 0; i < n; i++) expect(outLengths[i]).toBeLessThanOrEqual(slotBytes);
      }
      await scribbler.stop();
      expect(pushed + refused).toBeGreaterThan(0);
      expect(intact()).toBe(true);
    });

    it('a worker scribbling its header, indices and slots: every call returns or throws QueueCorruptError', async () => {
      const slotBytes = 32;
      const { q, buffer, total, intact } = withCanary(backend, 16, slotBytes);
      const outBuffer = new SharedArrayBuffer(16 * slotBytes + 256);
      const out = new Uint8Array(outBuffer, 0, 16 * slotBytes);
      const outIntact = canary(outBuffer, 16 * slotBytes, 256);
      const one = new Uint8Array(outBuffer, 0, slotBytes);
      const bytes = new Uint8Array(slotBytes).fill(3);
      const data = new Uint8Array(4 * slotBytes);
      const lengths = new Uint32Array([slotBytes, 1, 0, slotBytes]);
      const outLengths = new Uint32Array(16);
      const scribbler = await startScribbler(buffer, 0, total, kind.length * 131);
      let calls = 0;
      let corrupt = 0;
      const until = performance.now() + 250;
      while (performance.now() < until) {
        for (const op of [0, 1, 2, 3]) {
          calls++;
          try {
            if (op === 0) q.tryPush(bytes);
            else if (op === 1) expect(q.tryPop(one)).toBeLessThanOrEqual(slotBytes);
            else if (op === 2) q.pushBatch(data, lengths);
            else {
              const n = q.popBatch(out, outLengths);
              for (let i = 0; i < n; i++) expect(outLengths[i]).toBeLessThanOrEqual(slotBytes);
            }
          } catch (err) {
            // A closed word of exactly 1 reads as a close(); anything else not 0 is corrupt.
            if (!(err instanceof QueueCorruptError) && !(err instanceof QueueClosedError)) throw err;
            if (err instanceof QueueCorruptError) expect(err.code).toBe('ERR_ULTRA_PERF_QUEUE_CORRUPT');
            corrupt++;
          }
        }
      }
      await scribbler.stop();
      expect(calls).toBeGreaterThan(50);
      expect(corrupt).toBeGreaterThan(0);
      expect(intact()).toBe(true);
      expect(outIntact()).toBe(true);
    });
  });

  const replayBackends = native ? (['ts', 'native'] as const) : (['ts'] as const);
  it.each(replayBackends)('a paced replay at ratePerSec 1e-6 ends soon after close() (%s replayer)', async (replayBackend) => {
    const q = Queue.create({ capacity: 8, slotBytes: 8 });
    const frames = [new Uint8Array(4), new Uint8Array(4), new Uint8Array(4)];
    const done = replayIntoQueue(q, frames, { ratePerSec: 1e-6, backend: replayBackend });
    for (const start = performance.now(); q.size() === 0 && performance.now() - start < 10_000; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(q.size()).toBe(1); // the first frame is due at once, the second in 11.6 days
    const closedAt = performance.now();
    q.close();
    const result = await done;
    expect(result.pushed).toBe(1);
    expect(performance.now() - closedAt).toBeLessThan(2000);
  });
});

describe.runIf(native)('raw queue bindings refuse wrong array types', () => {
  it('names the function and the argument, and writes nothing', () => {
    const raw = cpuAddon as unknown as Record<string, (...args: unknown[]) => number>;
    const q = SpscQueue.create({ capacity: 4, slotBytes: 8 });
    const u8 = new Uint8Array(q.buffer);
    expect(() => raw.spscTryPush!(u8, new Float64Array(1))).toThrow(
      /spscTryPush\/mpmcTryPush: expected a Uint8Array for bytes \(argument 2\) but received a Float64Array/,
    );
    expect(() => raw.spscTryPop!(new Int32Array(q.buffer), new Uint8Array(8))).toThrow(/for queue \(argument 1\) but received an Int32Array/);
    expect(() => raw.spscPushBatch!(u8, new Uint8Array(8), new Int32Array(1), 1)).toThrow(/expected a Uint32Array for lengths \(argument 3\)/);
    expect(() => raw.mpmcPopBatch!(u8, new Uint8Array(8), [8], 1)).toThrow(/received a value that is not a TypedArray/);
    expect(() => raw.queueSize!({})).toThrow(TypeError);
    expect(() => raw.queueClose!()).toThrow(TypeError);
    expect(() => raw.queueInit!(new Uint16Array(512), 1, 4, 8)).toThrow(/queueInit: expected a Uint8Array for queue/);
    expect(q.size()).toBe(0);
    try {
      raw.spscTryPush!(u8, new Float64Array(1));
    } catch (err) {
      expect((err as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });

  it('replayIntoQueue refuses wrong array types with a TypeError naming the argument', () => {
    const raw = cpuAddon as unknown as Record<string, (...args: unknown[]) => unknown>;
    const q = SpscQueue.create({ capacity: 4, slotBytes: 8 });
    expect(() => raw.replayIntoQueue!(new Uint8Array(q.buffer), new Uint8Array(8), new Float32Array(2), 0, () => {})).toThrow(
      /replayIntoQueue: expected a Uint32Array for lengths \(argument 3\) but received a Float32Array/,
    );
  });
});
