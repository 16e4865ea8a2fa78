// Issue 12 regressions for the memory and queue bindings (the other bindings' own tests
// live beside them), each written from the minimal reproduction, plus the fuzz
// harness's surface check. Cases that could crash run in a child process: a crash there
// is a failed assertion, not a dead test runner.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { kCrossCheckNative } from '../lib/memory/common.js';
import { SlabAllocator, BuddyAllocator, RingAllocator, StackAllocator, SpscQueue } from '../lib/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const native = cpuAddon !== null;
const raw = cpuAddon as unknown as Record<string, (...args: unknown[]) => unknown>;
/** Runs an allocator's own calls through the C++ allocator too (lib/memory/common.ts kCrossCheckNative). */
const crossCheck: object = { [kCrossCheckNative]: true };

/** The addon's path, as the package finds it. */
function addonPath(): string {
  const gypBuild = createRequire(join(root, 'package.json'))('node-gyp-build') as { resolve(dir: string): string };
  return gypBuild.resolve(root);
}

/** Runs `body` (CommonJS, `a` = the raw addon) in `node --expose-gc`; its exit status, signal and output. */
function inChild(body: string): { status: number | null; signal: NodeJS.Signals | null; out: string } {
  const script = `const a = require(${JSON.stringify(addonPath())});\n(async () => {\n${body}\n})().then(() => process.exit(0), (e) => { console.error(e); process.exit(2); });`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

describe.runIf(native)('the fuzz harness covers the whole native surface', () => {
  it('lib/addon-types.ts, the addon and test/fuzz/entries.mjs name the same functions', async () => {
    const surfaceUrl = pathToFileURL(join(root, 'test/fuzz/surface.mjs')).href;
    const entriesUrl = pathToFileURL(join(root, 'test/fuzz/entries.mjs')).href;
    type Surface = { cpu: { key: string }[]; cuda: { key: string }[] };
    const { readSurface, checkSurface } = (await import(surfaceUrl)) as {
      readSurface(): Surface;
      checkSurface(addon: unknown, surface: Surface, entries: Record<string, unknown>): string[];
    };
    const { entries } = (await import(entriesUrl)) as { entries: Record<string, unknown> };
    const surface = readSurface();
    expect(surface.cpu).toHaveLength(97); // 68 + orderbookMboCreate and MboNative's 6 methods + itchDecodeBatch + the 5 UDP receiver bindings + the 2 struct batch bindings + the 7 nvml* bindings + the 5 cache* (L2) bindings + riskPoolSpinNs/setRiskPoolSpinNs
    expect(checkSurface(cpuAddon, surface, entries)).toEqual([]);
    // A binding added to the addon without a declaration and a harness entry is caught...
    const grown = Object.assign(Object.create(null), cpuAddon, { newCodecDecode: () => 0 });
    expect(checkSurface(grown, surface, entries)).toEqual([
      'the addon exports newCodecDecode, which lib/addon-types.ts does not declare',
    ]);
    // ...and so is a declared function the harness has no entry for.
    const { spscTryPush: _dropped, ...fewer } = entries;
    expect(checkSurface(cpuAddon, surface, fewer)).toEqual(['the harness has no entry for spscTryPush (test/fuzz/entries.mjs)']);
  });
});

describe.runIf(native)('replayIntoQueue: the replay thread owns the memory it reads (issue 12 kind 1)', () => {
  const setup = `
    const q = new Uint8Array(new SharedArrayBuffer(896 + 64 * 16));
    if (a.queueInit(q, 1, 64, 8) !== 0) throw new Error('queueInit');
    const n = 40;
    const rab = new ArrayBuffer(n * 8 + n * 4, { maxByteLength: n * 8 + n * 4 });
    const data = new Uint8Array(rab, 0, n * 8).fill(7);
    const lengths = new Uint32Array(rab, n * 8, n).fill(8);`;

  it('frames shrunk away and collected while the thread runs: no crash, every frame pushed intact', () => {
    const r = inChild(`${setup}
      // Paced, so the thread is still reading frames when they are taken away.
      const done = a.replayIntoQueue(q, data, lengths, 2000, () => {});
      rab.resize(0);
      for (let i = 0; i < 20; i++) { globalThis.gc(); new Float64Array(1 << 16).fill(1); }
      const out = new Uint8Array(8);
      let popped = 0;
      const end = Date.now() + 10000;
      while (popped < n && Date.now() < end) {
        const got = a.spscTryPop(q, out) & 0xffff;
        if (got === 8) { if (!out.every((b) => b === 7)) throw new Error('a frame changed'); popped++; }
        else await new Promise((res) => setTimeout(res, 1));
      }
      const result = await done;
      console.log(JSON.stringify({ pushed: result.pushed, status: result.status, popped }));`);
    expect(r.signal, r.out).toBeNull();
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toEqual({ pushed: 40, status: 0, popped: 40 });
  });

  it('frames transferred away (detached) while the thread runs: no crash, every frame pushed', () => {
    const r = inChild(`${setup}
      const done = a.replayIntoQueue(q, data, lengths, 2000, () => {});
      structuredClone(rab, { transfer: [rab] });
      for (let i = 0; i < 20; i++) { globalThis.gc(); new Float64Array(1 << 16).fill(1); }
      const out = new Uint8Array(8);
      let popped = 0;
      const end = Date.now() + 10000;
      while (popped < n && Date.now() < end) {
        if ((a.spscTryPop(q, out) & 0xffff) === 8) popped++; else await new Promise((res) => setTimeout(res, 1));
      }
      const result = await done;
      console.log(JSON.stringify({ pushed: result.pushed, popped }));`);
    expect(r.signal, r.out).toBeNull();
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toEqual({ pushed: 40, popped: 40 });
  });

  it('shared frames are read in place: lengths rewritten while the thread runs end it with a status, never a stray read', () => {
    const r = inChild(`
      const q = new Uint8Array(new SharedArrayBuffer(896 + 64 * 16));
      if (a.queueInit(q, 1, 64, 8) !== 0) throw new Error('queueInit');
      const n = 4000;
      const data = new Uint8Array(new SharedArrayBuffer(n * 8)).fill(7);
      const lengths = new Uint32Array(new SharedArrayBuffer(n * 4)).fill(8);
      const done = a.replayIntoQueue(q, data, lengths, 0, () => {});
      const out = new Uint8Array(8);
      let popped = 0;
      for (let i = 0; i < 200000 && popped < n; i++) {
        lengths[(i * 7919) % n] = i % 3 === 0 ? 0xffffffff : 8; // past slotBytes and past data
        if ((a.spscTryPop(q, out) & 0xffff) === 8) popped++;
        if (i % 1000 === 0) await new Promise((res) => setImmediate(res));
      }
      a.queueClose(q);
      const result = await done;
      console.log(JSON.stringify({ status: result.status }));`);
    expect(r.signal, r.out).toBeNull();
    expect(r.status, r.out).toBe(0);
    // ok, closed, or the batch refused (-7): never anything read past data.
    expect([0, -2, -7]).toContain(JSON.parse(r.out.trim().split('\n').pop()!).status);
  });

  it('refuses a queue over a plain ArrayBuffer, which could be detached under the thread', () => {
    const q = new Uint8Array(896 + 64 * 16);
    expect(raw.queueInit!(q, 1, 64, 8)).toBe(0);
    const call = () => raw.replayIntoQueue!(q, new Uint8Array(8), Uint32Array.of(8), 0, () => {});
    expect(call).toThrow(TypeError);
    expect(call).toThrow(/replayIntoQueue: expected a Uint8Array over a SharedArrayBuffer for queue \(argument 1\)/);
    expect(codeOf(call)).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('names the argument, with a code and no status number, when it refuses', () => {
    const queue = SpscQueue.create({ capacity: 4, slotBytes: 8 });
    const q = new Uint8Array(queue.buffer);
    const replay = (...args: unknown[]) => () => raw.replayIntoQueue!(...args);
    expect(replay(q, new Uint8Array(8), Uint32Array.of(8), Number.NaN, () => {})).toThrow(
      /replayIntoQueue: expected a finite number of frames per second >= 0 \(0: unpaced\) for ratePerSec \(argument 4\) but received NaN/,
    );
    expect(codeOf(replay(q, new Uint8Array(8), Uint32Array.of(8), -1, () => {}))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(replay(q, new Uint8Array(8), Uint32Array.of(8), 'fast', () => {}))).toBe('ERR_INVALID_ARG_TYPE');
    expect(replay(q, new Uint8Array(8), Uint32Array.of(8), 0, null)).toThrow(/expected a function for wake \(argument 5\)/);
    const tooLong = replay(q, new Uint8Array(16), Uint32Array.of(16), 0, () => {});
    expect(tooLong).toThrow(/the frames do not fit: every lengths \(argument 3\) entry must be at most the queue's slotBytes/);
    expect(codeOf(tooLong)).toBe('ERR_ULTRA_PERF_QUEUE_REFUSED');
    const noQueue = replay(new Uint8Array(new SharedArrayBuffer(64)), new Uint8Array(8), Uint32Array.of(8), 0, () => {});
    expect(noQueue).toThrow(/queue \(argument 1\) does not hold a queue/);
    expect(messageOf(noQueue)).not.toMatch(/status/);
    expect(queue.size()).toBe(0);
  });
});

function codeOf(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
  return 'did not throw';
}

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  return 'did not throw';
}

describe.runIf(native)('raw memory bindings: sizes checked, offsets never wrapped (issue 12 kinds 3 and 6)', () => {
  it('an offset of 2^32 + k does not free block k', () => {
    const slab = new SlabAllocator({ slotBytes: 8, slots: 4, ...crossCheck });
    const live = slab.alloc();
    const mem = new Uint8Array(slab.buffer);
    expect(raw.slabFree!(mem, 2 ** 32 + live)).toBe(-3); // foreign: no block is there
    expect(raw.slabFree!(mem, live + 0.5)).toBe(-3);
    expect(slab.stats()).toMatchObject({ used: 1 });
    const buddy = new BuddyAllocator({ bytes: 1024, minBlock: 64, ...crossCheck });
    const block = buddy.alloc(64);
    const bmem = new Uint8Array(buddy.buffer);
    expect(raw.buddyFree!(bmem, 2 ** 32 + block)).toBeLessThan(0);
    expect(raw.buddyBlockSize!(bmem, 2 ** 32 + block)).toBeLessThan(0);
    expect(buddy.stats().liveBlocks).toBe(1);
    const ring = new RingAllocator({ bytes: 1024, ...crossCheck });
    const first = ring.alloc(16);
    const rmem = new Uint8Array(ring.buffer);
    expect(raw.ringFree!(rmem, 2 ** 32 + first)).toBeLessThan(0);
    expect(ring.stats().live).toBe(1);
  });

  it('a size or kind that is not an integer in uint32 range throws naming it, instead of wrapping to a small one', () => {
    const buddy = new BuddyAllocator({ bytes: 1024, minBlock: 64, ...crossCheck });
    const mem = new Uint8Array(buddy.buffer);
    expect(() => raw.buddyAlloc!(mem, 2 ** 32 + 64)).toThrow(
      /buddyAlloc: expected an integer from 0 to 4294967295 for size \(argument 2\) but received 4294967360/,
    );
    expect(codeOf(() => raw.buddyAlloc!(mem, Number.NaN))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => raw.buddyAlloc!(mem, '64'))).toBe('ERR_INVALID_ARG_TYPE');
    expect(buddy.stats().liveBlocks).toBe(0);
    const ring = new RingAllocator({ bytes: 1024, ...crossCheck });
    expect(() => raw.ringAlloc!(new Uint8Array(ring.buffer), -1)).toThrow(/ringAlloc: .* for size \(argument 2\) but received -1/);
    const stack = new StackAllocator({ bytes: 1024, ...crossCheck });
    expect(() => raw.stackAlloc!(new Uint8Array(stack.buffer), 1.5)).toThrow(/stackAlloc: .* for size \(argument 2\) but received 1.5/);
    expect(stack.stats().used).toBe(0);
    const out = new Int32Array(10);
    expect(() => raw.memoryGeometry!(1, 2 ** 32 + 8, 4, out)).toThrow(/memoryGeometry: .* for a \(argument 2\)/);
    expect(() => raw.memoryGeometry!(Number.NaN, 8, 4, out)).toThrow(/memoryGeometry: .* for kind \(argument 1\) but received NaN/);
    expect(() => raw.memoryFormat!(new Uint8Array(4096), 1, 8, Number.POSITIVE_INFINITY, false)).toThrow(
      /memoryFormat: .* for b \(argument 4\) but received Infinity/,
    );
    expect(() => raw.memoryValidate!(mem, 2 ** 32 + 2)).toThrow(RangeError);
  });
});

describe.runIf(native)('raw queue bindings: counts never wrap (issue 12 kinds 3 and 6)', () => {
  it('a batch count of 2^32 + 1 throws naming it instead of pushing one frame', () => {
    const queue = SpscQueue.create({ capacity: 4, slotBytes: 8 });
    const q = new Uint8Array(queue.buffer);
    const push = (count: unknown) => () => raw.spscPushBatch!(q, new Uint8Array(16), Uint32Array.of(8, 8), count);
    expect(push(2 ** 32 + 1)).toThrow(/spscPushBatch\/mpmcPushBatch: expected an integer from 0 to 2 for count \(argument 4\) but received 4294967297/);
    expect(codeOf(push(Number.NaN))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(push(3))).toBe('ERR_OUT_OF_RANGE'); // more than lengths holds
    expect(codeOf(push(undefined))).toBe('ERR_INVALID_ARG_TYPE');
    expect(queue.size()).toBe(0);
    expect(push(2)()).toBe(2);
    const pop = (max: unknown) => () => raw.mpmcPopBatch!(q, new Uint8Array(64), new Uint32Array(2), max);
    expect(pop(-1)).toThrow(/for max \(argument 4\) but received -1/);
    expect(() => raw.queueInit!(new Uint8Array(new SharedArrayBuffer(1024)), 3, 4, 8)).toThrow(
      /queueInit: expected an integer from 1 to 2 for kind \(argument 2\) but received 3/,
    );
    expect(() => raw.queueInit!(new Uint8Array(new SharedArrayBuffer(1024)), 1, 2 ** 32 + 4, 8)).toThrow(/for capacity \(argument 3\)/);
  });
});
