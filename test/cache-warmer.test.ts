// CacheWarmer (lib/cache/warmer.ts): hot keys on a Zipf stream, successors of a repeated
// sequence, periodic keys on a fake clock, warm() bounds (maxKeys, concurrency, errors counted),
// prefetch that never blocks and stays bounded, persist/restore round trips, and refusal of
// corrupted or foreign blobs at the right byte.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';

import { CacheWarmer, L1Cache, LmdbLevel, type MetaStore, type SketchSource, TieredCache } from '../lib/cache/index.js';
import { decodeWarmState, encodeWarmState, kWarmHeaderBytes } from '../lib/cache/warmer-format.js';
import { HeavyHitters, SuccessorTable } from '../lib/cache/warmer-model.js';
import { SourceFormatError } from '../lib/errors.js';
import { seeded } from './fixtures/seeded.js';
import { zipfRanks } from './fixtures/zipf.js';
import { fakeClock } from './helpers/fake-clock.js';
import { thrown } from './helpers/thrown.js';

/** A MetaStore double over a Map (the real one is LmdbLevel). */
function mapStore(): MetaStore & { map: Map<string, Uint8Array> } {
  const map = new Map<string, Uint8Array>();
  return {
    map,
    async putMeta(name, bytes) {
      map.set(name, bytes.slice());
    },
    getMeta: (name) => map.get(name),
  };
}

/** Zipf(s) over n keys: `k<rank>`, rank 0 the hottest. */
function zipf(n: number, s: number, seed: number): () => string {
  const next = zipfRanks(n, s, seed);
  return () => `k${next()}`;
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => ((resolve = a), (reject = b)));
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('HeavyHitters (Space-Saving)', () => {
  it('counts exactly while the keys fit, and keeps counts sorted', () => {
    const hh = new HeavyHitters(64);
    const exact = new Map<string, number>();
    const next = zipf(50, 1, 1);
    for (let i = 0; i < 20_000; i++) {
      const k = next();
      hh.add(k);
      exact.set(k, (exact.get(k) ?? 0) + 1);
    }
    const top = hh.top();
    expect(top.length).toBe(exact.size);
    for (const h of top) expect(h).toEqual({ key: h.key, count: exact.get(h.key), error: 0 });
    for (let i = 1; i < top.length; i++) expect(top[i]!.count).toBeLessThanOrEqual(top[i - 1]!.count);
  });

  it('stays exact and sorted through aging (halve) while the keys fit', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constant(-1)), { maxLength: 1500 }), (ops) => {
        const hh = new HeavyHitters(32);
        const model = new Map<string, number>();
        for (const op of ops) {
          if (op < 0) {
            hh.halve();
            for (const [k, n] of model) model.set(k, Math.floor(n / 2));
          } else {
            hh.add(`k${op}`);
            model.set(`k${op}`, (model.get(`k${op}`) ?? 0) + 1);
          }
        }
        const top = hh.top();
        for (let i = 1; i < top.length; i++) expect(top[i]!.count).toBeLessThanOrEqual(top[i - 1]!.count);
        expect(new Map(top.map((h) => [h.key, h.count]))).toEqual(new Map([...model].filter(([, n]) => n > 0)));
      }),
      { numRuns: 300 },
    );
  });

  it('holds every key above N / capacity and never under-counts (Metwally et al., Theorem 3)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 2000 }), fc.integer({ min: 1, max: 40 }), (stream, capacity) => {
        const hh = new HeavyHitters(capacity);
        const exact = new Map<string, number>();
        for (const x of stream) {
          hh.add(`k${x}`);
          exact.set(`k${x}`, (exact.get(`k${x}`) ?? 0) + 1);
        }
        const top = hh.top();
        for (let i = 1; i < top.length; i++) expect(top[i]!.count).toBeLessThanOrEqual(top[i - 1]!.count);
        for (const h of top) {
          const truth = exact.get(h.key)!;
          expect(h.count).toBeGreaterThanOrEqual(truth);
          expect(h.count - h.error).toBeLessThanOrEqual(truth);
        }
        for (const [k, n] of exact) if (n > stream.length / capacity) expect(hh.counterOf(k)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('CacheWarmer patterns', () => {
  it('finds the hot keys of a Zipf(0.99) stream over 100,000 keys with 256 counters', () => {
    const w = new CacheWarmer({ hotCapacity: 256, successorSources: 0 });
    const next = zipf(100_000, 0.99, 7);
    for (let i = 0; i < 200_000; i++) w.recordAccess(next());
    const hot = w.analyzeAccessPatterns({ limit: 20 }).hotKeys.map((h) => h.key);
    // the 10 truly hottest ranks are all among the 20 reported, and the hottest is first
    for (let r = 0; r < 10; r++) expect(hot).toContain(`k${r}`);
    expect(hot[0]).toBe('k0');
  });

  it('learns the successors of a repeated sequence (first-order Markov)', () => {
    const w = new CacheWarmer();
    const seq = ['a', 'b', 'c', 'd', 'e'];
    for (let r = 0; r < 20; r++) for (const k of seq) w.recordAccess(k);
    const rows = new Map(w.analyzeAccessPatterns().successors.map((s) => [s.key, s]));
    for (let i = 0; i < seq.length; i++) {
      const row = rows.get(seq[i]!)!;
      expect(row.next[0]).toEqual({ key: seq[(i + 1) % seq.length], count: row.total, probability: 1 });
    }
    expect(rows.get('a')!.total).toBe(20);
    expect(rows.get('e')!.total).toBe(19);
  });

  it('keeps at most successorsPerKey next keys per source and successorSources rows', () => {
    const t = new SuccessorTable(3, 2);
    for (const [a, b] of [['x', '1'], ['x', '2'], ['x', '2'], ['x', '3'], ['y', '1'], ['z', '1'], ['w', '1']] as const) t.add(a, b);
    expect(t.size).toBe(3);
    // CLOCK: 'x' was used again after it got its row, so it is spared once; 'y' goes
    expect(t.peek('y')).toBeUndefined();
    expect(t.peek('x')).toEqual({ next: ['2', '3'], counts: [2, 2], total: 4 }); // '3' took '1''s place with its count + 1
    const w = new CacheWarmer({ successorsPerKey: 2, successorSources: 8 });
    for (const k of ['x', '1', 'x', '2', 'x', '2', 'x', '3']) w.recordAccess(k);
    const x = w.analyzeAccessPatterns().successors.find((s) => s.key === 'x')!;
    expect(x.total).toBe(4);
    expect(x.next.length).toBe(2);
    expect(x.next[0]!.key).toBe('2');
  });

  it('reports keys read at regular intervals as periodic, not irregular ones', () => {
    const clock = fakeClock(0);
    const w = new CacheWarmer({ clock });
    const u = seeded(3);
    let nextIrregular = 0;
    for (let t = 0; t < 10_000; t += 10) {
      clock.set(t);
      if (t % 500 === 0) w.recordAccess('every-500ms');
      if (t >= nextIrregular) {
        w.recordAccess('irregular');
        nextIrregular = t + 10 + Math.floor(-Math.log(1 - u()) * 300); // exponential gaps: cv ≈ 1
      }
    }
    const periodic = w.analyzeAccessPatterns().periodic;
    expect(periodic.map((p) => p.key)).toEqual(['every-500ms']);
    expect(periodic[0]).toMatchObject({ periodMs: 500, cv: 0, intervals: 19, lastAt: 9500, nextAt: 10_000 });
  });
});

describe('CacheWarmer.warm', () => {
  it('loads at most maxKeys keys, hottest first, with at most `concurrency` loads in flight', async () => {
    const w = new CacheWarmer();
    for (let r = 0; r < 50; r++) for (let k = 0; k <= r; k++) w.recordAccess(`k${k}`); // k0 hottest
    const cache = new Map<string, number>();
    let inFlight = 0;
    let maxInFlight = 0;
    const calls: string[] = [];
    const result = await w.warm(
      { set: (k: string, v: number) => cache.set(k, v) },
      async (k) => {
        calls.push(k);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await tick();
        inFlight--;
        return Number(k.slice(1));
      },
      { maxKeys: 20, concurrency: 3 },
    );
    expect(calls.length).toBe(20);
    expect(calls.slice(-3)).toEqual(['k2', 'k1', 'k0']); // hottest last by default
    expect(new Set(calls)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `k${i}`)));
    expect(maxInFlight).toBe(3);
    expect(result).toMatchObject({ warmedKeys: 20, failedKeys: 0, skippedKeys: 0, notFoundKeys: 0, errors: [] });
    expect(result.warmingTimeMs).toBeGreaterThanOrEqual(0);
    expect(cache.get('k7')).toBe(7);
  });

  it('counts loader errors and misses instead of throwing, and skips keys the cache has', async () => {
    const w = new CacheWarmer();
    for (const k of ['a', 'b', 'c', 'd', 'e']) w.recordAccess(k);
    const cache = new LRUCache<string, string>({ max: 10 });
    cache.set('e', 'already');
    const boom = new Error('backend down');
    const result = await w.warm(
      cache,
      (k) => {
        if (k === 'a') throw boom;
        if (k === 'b') return Promise.reject(boom);
        if (k === 'c') return undefined;
        return k.toUpperCase();
      },
      { maxKeys: 10 },
    );
    expect(result).toMatchObject({ warmedKeys: 1, failedKeys: 2, skippedKeys: 1, notFoundKeys: 1 });
    expect(result.errors.map((e) => e.key).sort()).toEqual(['a', 'b']);
    expect(result.errors[0]!.error).toBe(boom);
    expect(cache.get('d')).toBe('D');
    expect(cache.get('e')).toBe('already');
  });

  it('loads through getOrLoad when the cache has one, passing setOptions', async () => {
    const w = new CacheWarmer<number, { ttlMs: number }>();
    w.recordAccess('x');
    const seen: unknown[] = [];
    const target = {
      set: () => undefined,
      getOrLoad: async (k: string, load: (k: string) => unknown, opts?: { ttlMs: number }) => {
        seen.push([k, opts]);
        return (await load(k)) as number;
      },
    };
    const r = await w.warm(target, () => 42, { setOptions: { ttlMs: 1000 } });
    expect(r.warmedKeys).toBe(1);
    expect(seen).toEqual([['x', { ttlMs: 1000 }]]);
    const order: string[] = [];
    await w.warm({ set: () => undefined }, (k) => void order.push(k), { keys: ['a', 'b', 'c'], order: 'hottest-first', concurrency: 1 });
    await w.warm({ set: () => undefined }, (k) => void order.push(k), { keys: ['a', 'b', 'c'], concurrency: 1 });
    expect(order).toEqual(['a', 'b', 'c', 'c', 'b', 'a']);
  });
});

describe('CacheWarmer prefetch', () => {
  it('never runs the loader inside recordAccess and prefetches the learned successor', async () => {
    const cache = new LRUCache<string, string>({ max: 100 });
    const calls: string[] = [];
    const w = new CacheWarmer<string>({ prefetch: { cache, loader: (k) => (calls.push(k), `v:${k}`) } });
    for (let r = 0; r < 3; r++) for (const k of ['a', 'b', 'c']) w.recordAccess(k);
    await w.idle();
    cache.clear();
    calls.length = 0;
    const before = w.stats().prefetch;
    w.recordAccess('a');
    expect(calls).toEqual([]); // not yet: the loader runs after the caller's turn
    await w.idle();
    expect(calls).toEqual(['b']);
    expect(cache.get('b')).toBe('v:b');
    w.recordAccess('b');
    await w.idle();
    const after = w.stats().prefetch;
    // used: 'a' (prefetched after training's last 'c') and 'b' were each read after their prefetch
    expect([after.issued - before.issued, after.completed - before.completed, after.used - before.used, after.failed]).toEqual([2, 2, 2, 0]);
  });

  it('keeps at most maxInFlight prefetches, drops the rest, and counts failures', async () => {
    const cache = new Map<string, number>();
    const pending = new Map<string, ReturnType<typeof deferred<number>>>();
    const w = new CacheWarmer<number>({
      successorsPerKey: 8,
      prefetch: {
        cache: { set: (k: string, v: number) => cache.set(k, v), has: (k: string) => cache.has(k) },
        loader: (k) => {
          const d = deferred<number>();
          pending.set(k, d);
          return d.promise;
        },
        maxInFlight: 2,
        minProbability: 0.1,
        maxPerAccess: 8,
        minObservations: 1,
      },
    });
    // teach s → n0..n4; from the 2nd 's' on, each 's' wants every next key seen so far
    for (let i = 0; i < 5; i++) w.recordAccess('s'), w.recordAccess(`n${i}`);
    await tick();
    // 's' #2 started n0, #3 started n1, #4 and #5 found both slots taken and dropped n2, then n3
    expect(w.stats().prefetch).toEqual({ issued: 2, completed: 0, failed: 0, dropped: 2, used: 0, inFlight: 2 });
    expect([...pending.keys()]).toEqual(['n0', 'n1']);
    w.recordAccess('s'); // returns (synchronously) while both loaders are still pending
    await tick();
    expect(w.stats().prefetch).toMatchObject({ issued: 2, dropped: 3, inFlight: 2 });
    expect(pending.size).toBe(2); // no third loader call
    // one fails, one succeeds: the failure is counted, nothing throws
    pending.get('n0')!.reject(new Error('nope'));
    pending.get('n1')!.resolve(1);
    await w.idle();
    expect(w.stats().prefetch).toMatchObject({ issued: 2, completed: 1, failed: 1, inFlight: 0 });
    expect([cache.has('n0'), cache.get('n1')]).toEqual([false, 1]);
    // slots free again: the next 's' starts n0 (retry) and n2
    w.recordAccess('s');
    await tick();
    expect(w.stats().prefetch).toMatchObject({ issued: 4, inFlight: 2 });
    for (const d of pending.values()) d.resolve(0);
    await w.idle();
  });
});

describe('CacheWarmer persist / restore', () => {
  function trained(keys = 500, accesses = 5000): CacheWarmer {
    const w = new CacheWarmer({ hotCapacity: 64 });
    const next = zipf(keys, 1, 11);
    for (let i = 0; i < accesses; i++) w.recordAccess(next());
    return w;
  }

  it('round-trips the hot set and successors through a MetaStore', async () => {
    const store = mapStore();
    const a = trained();
    const info = await a.persist(store);
    expect(store.map.has('warmer:default')).toBe(true);
    expect(info).toMatchObject({ hotKeys: 64, sketchBytes: 0, l1HotKeys: 0 });
    const b = new CacheWarmer({ hotCapacity: 64 });
    expect(b.restore(store)).toMatchObject({ restored: true, hotKeys: 64 });
    const pa = a.analyzeAccessPatterns({ limit: 1000 });
    const pb = b.analyzeAccessPatterns({ limit: 1000 });
    expect(pb.hotKeys).toEqual(pa.hotKeys);
    expect(new Map(pb.successors.map((s) => [s.key, s]))).toEqual(new Map(pa.successors.map((s) => [s.key, s])));
    expect(pb.accesses).toBe(5000);
    expect(new CacheWarmer({ name: 'other' }).restore(store).restored).toBe(false);
  });

  it('persists and restores an L1 sketch and hot keys; warm() loads those first', async () => {
    const store = mapStore();
    const sketch = new Uint8Array([1, 2, 3, 4, 5]);
    let loaded: Uint8Array | undefined;
    const l1: SketchSource = { hotKeys: (limit = 10) => ['h1', 'h2', 'h3'].slice(0, limit), sketchState: () => sketch, loadSketch: (b) => void (loaded = b) };
    const a = new CacheWarmer();
    a.recordAccess('w1');
    expect(await a.persist(store, { l1 })).toMatchObject({ l1HotKeys: 3, sketchBytes: 5 });
    const b = new CacheWarmer();
    b.restore(store, { l1 });
    expect(loaded).toEqual(sketch);
    expect(b.warmKeys(10)).toEqual(['h1', 'h2', 'h3', 'w1']);
  });

  it('a restored warmer warms a fresh cache with the hot keys present', async () => {
    const store = mapStore();
    const a = new CacheWarmer({ hotCapacity: 256 });
    const next = zipf(10_000, 0.99, 5);
    for (let i = 0; i < 50_000; i++) a.recordAccess(next());
    await a.persist(store);
    // "restart": a new cache and a new warmer
    const cache = new LRUCache<string, string>({ max: 100 });
    const b = new CacheWarmer({ hotCapacity: 256 });
    b.restore(store);
    const r = await b.warm(cache, (k) => `value of ${k}`, { maxKeys: 100 });
    expect(r.warmedKeys).toBe(100);
    for (let rank = 0; rank < 20; rank++) expect(cache.get(`k${rank}`)).toBe(`value of k${rank}`);
  });

  it('survives a real restart through LmdbLevel (persist, close, reopen, restore)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warmer-'));
    try {
      const path = join(dir, 'l4.mdb');
      const first = await LmdbLevel.open({ path });
      const a = trained();
      await a.persist(first);
      await first.close();
      const second = await LmdbLevel.open({ path });
      const b = new CacheWarmer({ hotCapacity: 64 });
      expect(b.restore(second).restored).toBe(true);
      expect(b.analyzeAccessPatterns().hotKeys).toEqual(a.analyzeAccessPatterns().hotKeys);
      // a corrupted blob in the real store is refused the same way
      await second.putMeta('warmer:default', new Uint8Array([0x55, 0x50, 0x43, 0x57, 1, 0, 0, 0]));
      expect(thrown(() => b.restore(second)).message).toMatch(/^meta "warmer:default", byte 8: warm state of 8 bytes is shorter than its 40-byte header/);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restarts an L1Cache warm (its sketch and hot keys), and a TieredCache through getOrLoad', async () => {
    const store = mapStore();
    const l1 = new L1Cache<string>({ maxEntries: 200 });
    const a = new CacheWarmer({ hotCapacity: 512 });
    const next = zipf(10_000, 0.99, 9);
    for (let i = 0; i < 50_000; i++) {
      const k = next();
      a.recordAccess(k);
      if (l1.get(k) === undefined) l1.set(k, `v:${k}`);
    }
    const hottest = l1.hotKeys(20);
    const info = await a.persist(store, { l1 });
    expect(info.l1HotKeys).toBe(l1.size);
    expect(info.sketchBytes).toBe(l1.sketchState().length);
    // restart: a new L1 and a new warmer
    const l1b = new L1Cache<string>({ maxEntries: 200 });
    const b = new CacheWarmer({ hotCapacity: 512 });
    expect(b.restore(store, { l1: l1b })).toMatchObject({ restored: true, l1HotKeys: l1.size });
    expect(l1b.sketchState()).toEqual(l1.sketchState());
    const loads: string[] = [];
    const r = await b.warm(l1b, (k) => (loads.push(k), `v:${k}`), { maxKeys: 200 });
    expect(r).toMatchObject({ warmedKeys: 200, failedKeys: 0 });
    expect(loads.length).toBe(200);
    for (const k of hottest) expect(l1b.get(k)).toBe(`v:${k}`);
    // a TieredCache (L1 only here): warm() loads through getOrLoad
    const tiered = new TieredCache<string>({ name: 'warmer-test', l1: new L1Cache<string>({ maxEntries: 200 }) });
    const c = new CacheWarmer({ hotCapacity: 512 });
    c.restore(store);
    let calls = 0;
    const rt = await c.warm(tiered, (k) => (calls++, `v:${k}`), { maxKeys: 100, setOptions: { ttlMs: 60_000 } });
    expect([rt.warmedKeys, calls]).toEqual([100, 100]);
    for (const k of hottest.slice(0, 10)) expect(tiered.getSync(k)).toBe(`v:${k}`);
    await tiered.close();
  });

  it('refuses every truncation and every flipped byte with SourceFormatError naming the byte, and keeps its state', async () => {
    const store = mapStore();
    const a = trained(40, 400);
    await a.persist(store);
    const good = store.map.get('warmer:default')!;
    const b = new CacheWarmer({ hotCapacity: 64 });
    b.recordAccess('mine');
    const before = b.analyzeAccessPatterns();
    const check = (bytes: Uint8Array): void => {
      store.map.set('warmer:default', bytes);
      const err = thrown(() => b.restore(store));
      expect(err).toBeInstanceOf(SourceFormatError);
      expect(err.code).toBe('ERR_ULTRA_PERF_SOURCE_FORMAT');
      expect((err as SourceFormatError).where).toMatch(/^byte \d+$/);
      expect(err.message).toMatch(/^meta "warmer:default", byte \d+: /);
    };
    for (let n = 0; n < good.length; n += Math.max(1, good.length >> 6)) check(good.subarray(0, n));
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i]! ^= 1 << (i % 8);
      check(bad);
    }
    expect(b.analyzeAccessPatterns()).toEqual(before);
  });

  it('refuses random and structurally wrong blobs at the byte that is wrong', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(() => decodeWarmState(bytes, 'fuzz')).toThrow(SourceFormatError);
      }),
      { numRuns: 500 },
    );
    const good = encodeWarmState({ accesses: 3, hot: [{ key: 'a', count: 2, error: 0 }], successors: [['a', { next: ['b'], counts: [1], total: 1 }]], l1HotKeys: ['z'], sketch: null });
    expect(decodeWarmState(good, 'x').hot).toEqual([{ key: 'a', count: 2, error: 0 }]);
    const foreign = good.slice();
    foreign[0] = 0x7b; // '{': JSON, say
    expect(() => decodeWarmState(foreign, 'x')).toThrow(/^x, byte 0: not a CacheWarmer state/);
    const future = good.slice();
    future[4] = 2;
    expect(() => decodeWarmState(future, 'x')).toThrow(/^x, byte 4: format version 2 is not 1/);
    // a well-formed checksum over wrong contents: error > count
    const badCount = encodeWarmState({ accesses: 1, hot: [{ key: 'a', count: 1, error: 2 }], successors: [], l1HotKeys: [], sketch: null });
    expect(() => decodeWarmState(badCount, 'x')).toThrow(new RegExp(`^x, byte ${kWarmHeaderBytes + 2 + 1 + 8}: error 2 exceeds count 1`));
    const emptyKey = encodeWarmState({ accesses: 1, hot: [], successors: [], l1HotKeys: [''], sketch: null });
    expect(() => decodeWarmState(emptyKey, 'x')).toThrow(new RegExp(`^x, byte ${kWarmHeaderBytes}: L1 hot key 0 has 0 UTF-16 code units`));
  });
});

describe('CacheWarmer bad input', () => {
  it('names the argument and the value', async () => {
    const w = new CacheWarmer();
    expect(thrown(() => w.recordAccess(42 as unknown as string))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: 'Expected a string for key but received 42' });
    expect(thrown(() => w.recordAccess('x'.repeat(513))).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new CacheWarmer({ hotCapacity: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: 'Expected an integer in [1, 4194304] for options.hotCapacity but received 0' });
    expect(thrown(() => new CacheWarmer({ successorsPerKey: 1.5 })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => new CacheWarmer({ hotCapcity: 8 } as never))).toMatchObject({ code: 'ERR_ULTRA_PERF_UNKNOWN_OPTION', message: "unknown option 'hotCapcity' for CacheWarmer; did you mean 'hotCapacity'?" });
    expect(thrown(() => new CacheWarmer({ prefetch: { cache: new Map(), loader: () => 1, maxInflight: 2 } as never })).message).toMatch(/unknown option 'maxInflight' for CacheWarmer prefetch; did you mean 'maxInFlight'\?/);
    expect(thrown(() => new CacheWarmer({ periodic: { maxCv: Number.NaN } })).message).toMatch(/options\.periodic\.maxCv but received NaN/);
    expect(thrown(() => new CacheWarmer({ prefetch: { cache: {} as never, loader: () => 1 } })).message).toMatch(/options\.prefetch\.cache/);
    expect(thrown(() => new CacheWarmer({ clock: 5 as never })).code).toBe('ERR_INVALID_ARG_TYPE');
    await expect(w.warm({ set() {} }, () => 1, { maxKeys: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(w.warm({ set() {} }, () => 1, { keys: ['ok', 7 as never] })).rejects.toThrow(/options\.keys\[1\]/);
    await expect(w.warm({ set() {} }, () => 1, { order: 'random' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: "Expected 'hottest-last' or 'hottest-first' for options.order but received \"random\"" });
    await expect(w.warm({ set() {} }, () => 1, { maxkeys: 3 } as never)).rejects.toThrow(/unknown option 'maxkeys' for CacheWarmer.warm; did you mean 'maxKeys'\?/);
    await expect(w.warm(null as never, () => 1)).rejects.toThrow(/for cache but received null/);
    expect(thrown(() => w.restore({} as never)).message).toMatch(/MetaStore/);
    await expect(w.persist(mapStore(), { l1: {} as never })).rejects.toThrow(/options\.l1/);
  });
});
