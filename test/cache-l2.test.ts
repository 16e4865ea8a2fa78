// L2 (lib/cache/l2.ts, cpp/cache): the shared-memory cache against a Map model with TTLs on a
// fake clock, a full cache that evicts instead of failing, bad input, TS and C++ on the same
// bytes, and a buffer scribbled on by another thread (issue 16 items 1, 2, 4, 5).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { CacheLevelUnavailableError } from '../lib/cache/errors.js';
import { cacheLayout, fnv1a, L2 } from '../lib/cache/l2-layout.js';
import { kL2DefaultPaths, SharedCache, type SharedCacheCreateOptions } from '../lib/cache/l2.js';
import type { CacheEntry } from '../lib/cache/types.js';
import { jsonCodec, rawCodec } from '../lib/net/codec.js';
import { fakeClock } from './helpers/fake-clock.js';
import { startScribbler } from './helpers/scribbler.js';
import { thrown } from './helpers/thrown.js';

const hasCacheBindings = cpuAddon !== null && typeof cpuAddon.cacheGet === 'function';
/** The backends a SharedCache object can use in this project: TS always, native where the addon is loaded. */
const backends: ('ts' | 'native')[] = hasCacheBindings ? ['ts', 'native'] : ['ts'];

const forever = <V>(value: V, version = 0): CacheEntry<V> => ({ value, expiresAt: Infinity, staleUntil: Infinity, version });

describe.each(backends)('SharedCache (backend %s)', (backend) => {
  const make = <V = unknown>(o: SharedCacheCreateOptions<V> = {}) => SharedCache.create<V>({ backend, ...o });

  it('stores, reads, overwrites and deletes entries; a cached miss reads back as value undefined', () => {
    const c = make<unknown>({ maxEntries: 16 });
    expect(c.name).toBe('l2');
    expect(c.capacity).toBe(16);
    expect(c.buffer).toBeInstanceOf(SharedArrayBuffer);
    c.setEntry('a', forever({ bid: 1.5, qty: [1, 2] }, 3));
    c.setEntry('ключ', forever('ünïcode'));
    expect(c.getEntry('a')).toEqual({ value: { bid: 1.5, qty: [1, 2] }, expiresAt: Infinity, staleUntil: Infinity, version: 3 });
    expect(c.getEntry('ключ')?.value).toBe('ünïcode');
    expect(c.getEntry('b')).toBeUndefined();
    c.setEntry('a', forever('second', 4));
    expect(c.getEntry('a')).toMatchObject({ value: 'second', version: 4 });
    expect(c.size).toBe(2);
    c.setEntry('neg', forever(undefined));
    expect(c.getEntry('neg')).toEqual({ value: undefined, expiresAt: Infinity, staleUntil: Infinity, version: 0 });
    expect(c.get('neg')).toBeUndefined();
    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    expect(c.getEntry('a')).toBeUndefined();
    expect(c.size).toBe(2);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.getEntry('ключ')).toBeUndefined();
    const s = c.stats();
    expect(s).toMatchObject({ name: 'l2', sets: 4, deletes: 2, size: 0, capacity: 16, evictions: 0 });
    expect(s.hits + s.misses).toBeGreaterThan(0);
  });

  it('drops tags (L2 does not keep them) and keeps keys of 512 UTF-16 units (1,536 UTF-8 bytes)', () => {
    const c = make({ maxEntries: 4, valueBytes: 2048 });
    c.setEntry('t', { ...forever(1), tags: ['x'] });
    expect(c.getEntry('t')).toEqual(forever(1));
    const long = 'ж'.repeat(256) + '€'.repeat(256);
    c.setEntry(long, forever('long'));
    expect(c.getEntry(long)?.value).toBe('long');
    expect(c.getEntry(`${long.slice(0, -1)}x`)).toBeUndefined();
  });

  it('never returns an entry past staleUntil; a stale one (expiresAt <= now < staleUntil) is returned, get() says fresh only', () => {
    const clock = fakeClock(1000);
    const c = make<string>({ maxEntries: 8, clock });
    c.setEntry('k', { value: 'v', expiresAt: 1100, staleUntil: 1200, version: 0 });
    expect(c.get('k')).toBe('v');
    clock.set(1150);
    expect(c.getEntry('k')?.value).toBe('v');
    expect(c.get('k')).toBeUndefined();
    clock.set(1200);
    expect(c.getEntry('k')).toBeUndefined();
    expect(c.stats().expirations).toBe(1);
  });

  it('is the same cache from every attached object', () => {
    const a = make<number[]>({ maxEntries: 8 });
    const b = SharedCache.attach<number[]>(a.buffer, { backend });
    a.setEntry('x', forever([1, 2, 3]));
    expect(b.getEntry('x')?.value).toEqual([1, 2, 3]);
    b.delete('x');
    expect(a.getEntry('x')).toBeUndefined();
    expect(b.capacity).toBe(8);
  });

  it('a full cache evicts (sampled frequency) and never fails a set; a key read between sets stays', () => {
    const c = make<number>({ maxEntries: 100 });
    c.setEntry('hot', forever(-1));
    let sets = 1;
    for (let i = 0; i < 2000; i++) {
      expect(() => c.setEntry(`cold:${i}`, forever(i))).not.toThrow();
      sets++;
      expect(c.getEntry('hot')?.value).toBe(-1);
    }
    expect(c.size).toBe(100);
    const s = c.stats();
    expect(s.evictions).toBe(sets - 100);
    expect(s.sharedEvictions).toBe(sets - 100);
    expect(c.getEntry('cold:1999')?.value).toBe(1999);
  });

  it('prefers expired entries as victims', () => {
    const clock = fakeClock(0);
    const c = make<number>({ maxEntries: 8, clock });
    for (let i = 0; i < 8; i++) c.setEntry(`k${i}`, { value: i, expiresAt: i < 4 ? 10 : Infinity, staleUntil: i < 4 ? 10 : Infinity, version: 0 });
    for (let i = 4; i < 8; i++) c.getEntry(`k${i}`);
    clock.set(100);
    for (let i = 0; i < 4; i++) c.setEntry(`n${i}`, forever(i));
    // Sampling is random, so only the sure part: nothing unexpired went before four expired slots existed to take.
    const live = [4, 5, 6, 7].filter((i) => c.getEntry(`k${i}`) !== undefined).length;
    expect(live).toBeGreaterThanOrEqual(1);
    expect(c.size).toBe(8);
  });

  it('refuses a value too large for a slot with the limit, and says how to store it', () => {
    const c = make({ maxEntries: 4, valueBytes: 64 });
    expect(c.maxValueBytes).toBe(64);
    const e = thrown(() => c.setEntry('key', forever('x'.repeat(100))));
    expect(e).toBeInstanceOf(RangeError);
    expect(e).toMatchObject({ code: 'ERR_ULTRA_PERF_CACHE_VALUE_TOO_LARGE' });
    expect((e as Error).message).toMatch(/maxValueBytes = 64 bytes, for value/);
    c.setEntry('key', forever('x'.repeat(50)));
    expect(c.getEntry('key')?.value).toBe('x'.repeat(50));
  });

  it('refuses bad keys, entries and values naming the argument', () => {
    const c = make({ maxEntries: 4 });
    expect(thrown(() => c.getEntry(42 as unknown as string))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/for key but received 42/) });
    expect(thrown(() => c.setEntry('', forever(1)))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/for key/) });
    expect(thrown(() => c.delete('k'.repeat(513)))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/length 513/) });
    expect(thrown(() => c.setEntry('k', null as unknown as CacheEntry))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/for entry/) });
    expect(thrown(() => c.setEntry('k', { value: 1, expiresAt: NaN, staleUntil: 1, version: 0 }))).toMatchObject({ message: expect.stringMatching(/entry\.expiresAt but received NaN/) });
    expect(thrown(() => c.setEntry('k', { value: 1, expiresAt: 5, staleUntil: 4, version: 0 }))).toMatchObject({ message: expect.stringMatching(/entry\.staleUntil/) });
    expect(thrown(() => c.setEntry('k', { value: 1, expiresAt: 5, staleUntil: 5, version: -1 }))).toMatchObject({ message: expect.stringMatching(/entry\.version/) });
    const e = thrown(() => c.setEntry('k', forever(Symbol('s'))));
    expect(e).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/for value/) });
    const big = thrown(() => c.setEntry('k', forever(2n ** 70n)));
    expect(big).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/codec can encode for value/) });
    expect(c.size).toBe(0);
  });
});

describe('SharedCache.create / attach options and buffers', () => {
  it('checks options, naming each', () => {
    expect(thrown(() => SharedCache.create({ maxEntries: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/options\.maxEntries/) });
    expect(thrown(() => SharedCache.create({ maxEntries: 1.5 }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => SharedCache.create({ valueBytes: 4 }))).toMatchObject({ message: expect.stringMatching(/options\.valueBytes/) });
    expect(thrown(() => SharedCache.create({ maxEntrys: 3 } as never))).toMatchObject({ code: 'ERR_ULTRA_PERF_UNKNOWN_OPTION', message: expect.stringMatching(/did you mean 'maxEntries'/) });
    expect(thrown(() => SharedCache.create({ codec: {} as never }))).toMatchObject({ message: expect.stringMatching(/options\.codec/) });
    expect(thrown(() => SharedCache.create({ clock: 5 as never }))).toMatchObject({ message: expect.stringMatching(/options\.clock/) });
    expect(thrown(() => SharedCache.create({ maxEntries: 1 << 24, valueBytes: 1 << 20 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(SharedCache.create().capacity).toBe(10_000);
  });

  it('refuses buffers that are not a cache', () => {
    expect(thrown(() => SharedCache.attach(new ArrayBuffer(4096) as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => SharedCache.attach(new SharedArrayBuffer(64)))).toMatchObject({ message: expect.stringMatching(/at least 256 bytes/) });
    expect((thrown(() => SharedCache.attach(new SharedArrayBuffer(4096))) as Error).message).toMatch(/magic 0x55504332/);
    const c = SharedCache.create({ maxEntries: 8 });
    const short = new SharedArrayBuffer(c.buffer.byteLength - 8);
    new Uint8Array(short).set(new Uint8Array(c.buffer, 0, short.byteLength));
    expect((thrown(() => SharedCache.attach(short)) as Error).message).toMatch(/Expected at least \d+ bytes/);
    const bad = new SharedArrayBuffer(c.buffer.byteLength);
    new Uint8Array(bad).set(new Uint8Array(c.buffer));
    new Int32Array(bad)[2] = 9; // maxEntries
    expect((thrown(() => SharedCache.attach(bad)) as Error).message).toMatch(/consistent L2 cache header/);
  });

  it("reports its paths: TS on the ts backend, the measured defaults under 'auto' with the addon", () => {
    const c = SharedCache.create({ maxEntries: 2 });
    expect(c.paths).toEqual(hasCacheBindings ? kL2DefaultPaths : { get: 'ts', set: 'ts', delete: 'ts' });
    expect(SharedCache.create({ maxEntries: 2, backend: 'ts' }).paths).toEqual({ get: 'ts', set: 'ts', delete: 'ts' });
    if (!hasCacheBindings) expect(thrown(() => SharedCache.create({ backend: 'native' }))).toMatchObject({ message: expect.stringMatching(/needs the CPU addon/) });
  });

  it('works with any lib/net codec (json, raw)', () => {
    const j = SharedCache.create<{ a: number }>({ maxEntries: 2, codec: jsonCodec() });
    j.setEntry('k', forever({ a: 1 }));
    expect(j.getEntry('k')?.value).toEqual({ a: 1 });
    const r = SharedCache.create<Uint8Array>({ maxEntries: 2, codec: rawCodec() });
    r.setEntry('k', forever(new Uint8Array([1, 2, 3])));
    expect([...(r.getEntry('k')?.value ?? [])]).toEqual([1, 2, 3]);
  });

  it('hashes keys with FNV-1a 32 (the C++ twin agrees: see the cross-implementation tests)', () => {
    const b = new TextEncoder().encode('hello');
    expect(fnv1a(b, b.length) >>> 0).toBe(0x4f9f2cab);
    expect(cacheLayout.entryHeaderBytes).toBe(L2.EntryHeaderBytes);
  });
});

// ---- The differential test (issue 16 item 1) ------------------------------------------------

type Op =
  | { op: 'set'; key: number; value: number; ttl: number; stale: number }
  | { op: 'get'; key: number }
  | { op: 'delete'; key: number }
  | { op: 'advance'; ms: number }
  | { op: 'clear' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.nat(20), value: fc.integer(), ttl: fc.oneof(fc.nat(50), fc.constant(Infinity)), stale: fc.nat(30) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('get' as const), key: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

/**
 * Runs ops on a SharedCache and on a Map model; every read must be the model's entry, or
 * (only when `evicts`) a miss. A writer object and a reader object on the same buffer, with
 * their own backends, so TS writes are read by C++ and the reverse where the addon is loaded.
 */
function runModel(ops: Op[], maxEntries: number, writer: 'ts' | 'native', reader: 'ts' | 'native'): void {
  const clock = fakeClock(10_000);
  const w = SharedCache.create<string>({ maxEntries, clock, backend: writer });
  const r = SharedCache.attach<string>(w.buffer, { clock, backend: reader });
  const model = new Map<string, CacheEntry<string>>();
  const evicts = maxEntries < 21;
  for (const o of ops) {
    if (o.op === 'set') {
      const e = { value: `v${o.value}`, expiresAt: clock() + o.ttl, staleUntil: clock() + o.ttl + o.stale, version: o.value >>> 0 };
      w.setEntry(`key:${o.key}`, e);
      model.set(`key:${o.key}`, e);
    } else if (o.op === 'get') {
      const k = `key:${o.key}`;
      const want = model.get(k);
      const live = want !== undefined && clock() < want.staleUntil ? want : undefined;
      const got = (o.key & 1 ? r : w).getEntry(k);
      if (evicts && got === undefined) continue;
      expect(got).toEqual(live);
    } else if (o.op === 'delete') {
      const present = w.delete(`key:${o.key}`);
      if (!evicts) expect(present).toBe(model.has(`key:${o.key}`));
      model.delete(`key:${o.key}`);
    } else if (o.op === 'advance') {
      clock.advance(o.ms);
    } else {
      r.clear();
      model.clear();
    }
  }
  expect(w.size).toBeLessThanOrEqual(maxEntries);
}

describe('SharedCache against a Map model with TTLs on a fake clock (fast-check)', () => {
  const pairs: ['ts' | 'native', 'ts' | 'native'][] = hasCacheBindings
    ? [['ts', 'ts'], ['ts', 'native'], ['native', 'ts'], ['native', 'native']]
    : [['ts', 'ts']];
  it.each(pairs)('writer %s, reader %s: never an overwritten, deleted or expired value (room for every key)', (writer, reader) => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => runModel(ops, 64, writer, reader)), { numRuns: 150 });
  });
  it.each(pairs)('writer %s, reader %s: the same with 4 slots for 21 keys (evictions may only turn a hit into a miss)', (writer, reader) => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => runModel(ops, 4, writer, reader)), { numRuns: 150 });
  });
});

// ---- TS and C++ on the same bytes (issue 16 item 2) ----------------------------------------

describe.runIf(hasCacheBindings)('TS and C++ agree on the bytes', () => {
  it('an entry written by one implementation is read back, byte for byte, by the other, and deletes and clears cross too', () => {
    const ts = SharedCache.create<unknown>({ maxEntries: 32, backend: 'ts' });
    const cc = SharedCache.attach<unknown>(ts.buffer, { backend: 'native' });
    const values = [{ a: 1, b: 'x' }, 'ünï', 12.5, [1, [2, [3]]], undefined, new Uint8Array([1, 2, 3])];
    values.forEach((v, i) => ts.setEntry(`ts:${i}:é`, { value: v, expiresAt: 5e12 + i, staleUntil: 6e12 + i, version: i }));
    values.forEach((v, i) => cc.setEntry(`cc:${i}`, { value: v, expiresAt: 5e12 + i, staleUntil: 6e12 + i, version: i }));
    values.forEach((_, i) => {
      expect(cc.getEntry(`ts:${i}:é`)).toEqual(ts.getEntry(`ts:${i}:é`));
      expect(ts.getEntry(`cc:${i}`)).toEqual(cc.getEntry(`cc:${i}`));
      expect(ts.getEntry(`cc:${i}`)?.version).toBe(i);
    });
    expect(cc.delete('ts:0:é')).toBe(true);
    expect(ts.getEntry('ts:0:é')).toBeUndefined();
    expect(ts.delete('cc:1')).toBe(true);
    expect(cc.getEntry('cc:1')).toBeUndefined();
    expect(ts.size).toBe(10);
    cc.clear();
    expect(ts.size).toBe(0);
    expect(ts.getEntry('ts:2:é')).toBeUndefined();
  });

  it('C++ evicts in a cache TS filled, and TS keeps reading it', () => {
    const ts = SharedCache.create<number>({ maxEntries: 16, backend: 'ts' });
    const cc = SharedCache.attach<number>(ts.buffer, { backend: 'native' });
    for (let i = 0; i < 16; i++) ts.setEntry(`k${i}`, forever(i));
    for (let i = 16; i < 200; i++) cc.setEntry(`k${i}`, forever(i));
    expect(ts.size).toBe(16);
    expect(ts.getEntry('k199')?.value).toBe(199);
    expect(ts.stats().sharedEvictions).toBe(184);
    let found = 0;
    for (let i = 0; i < 200; i++) {
      const e = ts.getEntry(`k${i}`);
      if (e !== undefined) {
        expect(e.value).toBe(i);
        found++;
      }
    }
    expect(found).toBe(16);
  });
});

// ---- A buffer another thread scribbles on (item 1: never a crash or a stray read) ----------

describe.each(backends)('a cache scribbled on by another thread (backend %s)', (backend) => {
  it('answers misses, stored values or CacheLevelUnavailableError; never another error, a crash or a hang', async () => {
    const c = SharedCache.create<number>({ maxEntries: 64, valueBytes: 64, backend });
    // The header (geometry and write lock) is left alone: attach copies the geometry, and a
    // scribbled lock only makes writers wait kLockTimeoutMs each.
    const scribbler = await startScribbler(c.buffer, L2.HeaderBytes, c.buffer.byteLength - L2.HeaderBytes);
    try {
      for (let i = 0; i < 20_000; i++) {
        const k = `k${i % 97}`;
        try {
          if (i % 3 === 0) c.setEntry(k, forever(i));
          else if (i % 7 === 0) c.delete(k);
          else c.getEntry(k);
        } catch (err) {
          expect(err).toBeInstanceOf(CacheLevelUnavailableError);
        }
      }
    } finally {
      expect(await scribbler.stop()).toBeGreaterThan(0);
    }
    // After the scribbling stops, clear() makes it a working cache again.
    c.clear();
    c.setEntry('after', forever(1));
    expect(c.getEntry('after')?.value).toBe(1);
  });
});
