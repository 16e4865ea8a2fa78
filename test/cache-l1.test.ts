// L1Cache (lib/cache/l1.ts) and its FrequencySketch (lib/cache/sketch.ts): the sketch's
// counters saturate and halve, W-TinyLFU keeps a hot set through a scan that evicts it from an
// LRU, the window grows on a recency-heavy phase and shrinks back on a frequency-heavy one,
// TTLs on the injected clock, the warmer's hooks, and bad input named by argument.
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';

import { FrequencySketch, hashKey, L1Cache } from '../lib/cache/index.js';
import { fakeClock } from './helpers/fake-clock.js';
import { thrown } from './helpers/thrown.js';


/** A corda-like stream of `requests`: every key read twice, ~40 requests apart, then never again. */
function readEachTwice(access: (key: string) => void, requests: number): void {
  let n = 0;
  const pending: string[] = [];
  for (let i = 0; i < requests; i++) {
    if (i % 2 === 0) {
      const k = `r${n++}`;
      pending.push(k);
      access(k);
    } else if (pending.length > 20) access(pending.shift()!);
  }
}
describe('FrequencySketch', () => {
  it('counts each key, saturating at 15', () => {
    const s = new FrequencySketch(1024);
    const a = hashKey('a');
    const b = hashKey('b');
    for (let i = 1; i <= 20; i++) {
      s.increment(a);
      expect(s.frequency(a)).toBe(Math.min(i, 15));
    }
    for (let i = 0; i < 3; i++) s.increment(b);
    expect(s.frequency(b)).toBe(3);
    expect(s.frequency(hashKey('never seen'))).toBe(0);
  });

  it('never under-counts (count-min) among many keys', () => {
    const s = new FrequencySketch(512);
    const counts = new Map<string, number>();
    let x = 7;
    for (let i = 0; i < 4000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const k = `key${x % 600}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      s.increment(hashKey(k));
    }
    expect(s.resets).toBe(0); // 4,000 < 10 × 512
    for (const [k, c] of counts) expect(s.frequency(hashKey(k))).toBeGreaterThanOrEqual(Math.min(c, 15));
  });

  it('halves every counter after 10 × capacity increments', () => {
    const s = new FrequencySketch(16);
    expect(s.sampleSize).toBe(160);
    const hot = hashKey('hot');
    for (let i = 0; i < 15; i++) s.increment(hot);
    expect(s.frequency(hot)).toBe(15);
    const before = s.size;
    // Fill up the sample with other keys; the 160th counted increment halves everything.
    let i = 0;
    while (s.resets === 0) s.increment(hashKey(`other${i++}`));
    expect(before).toBeGreaterThan(0);
    expect(s.frequency(hot)).toBe(7); // 15 >> 1
    expect(s.size).toBeLessThan(s.sampleSize / 2 + 1);
    s.reset();
    expect(s.frequency(hot)).toBe(3);
    expect(s.resets).toBe(2);
  });

  it('saves and loads its counters, refusing another shape by name', () => {
    const s = new FrequencySketch(100);
    for (let i = 0; i < 9; i++) s.increment(hashKey('x'));
    const t = new FrequencySketch(100);
    t.loadBytes(s.toBytes());
    expect(t.frequency(hashKey('x'))).toBe(9);
    const other = new FrequencySketch(5000);
    const e = thrown(() => other.loadBytes(s.toBytes()));
    expect(e.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(e.message).toMatch(/for bytes/);
    expect(thrown(() => t.loadBytes(new Uint8Array(3))).message).toMatch(/for bytes/);
    const bad = s.toBytes();
    bad[0] = 0;
    expect(thrown(() => t.loadBytes(bad)).message).toMatch(/magic/);
    expect(thrown(() => new FrequencySketch(0)).code).toBe('ERR_OUT_OF_RANGE');
  });
});

describe('L1Cache', () => {
  it('gets what was set, and counts hits, misses and evictions', () => {
    const c = new L1Cache<string>({ maxEntries: 3 });
    c.set('a', 'A');
    expect(c.get('a')).toBe('A');
    expect(c.get('b')).toBeUndefined();
    c.set('a', 'A2');
    expect(c.get('a')).toBe('A2');
    for (const k of ['b', 'c', 'd', 'e']) c.set(k, k);
    const s = c.stats();
    expect(s).toMatchObject({ name: 'l1', hits: 2, misses: 1, sets: 6, size: 3, capacity: 3, evictions: 2 });
    expect(s.hitRatio).toBeCloseTo(2 / 3);
    expect(c.size).toBe(3);
    expect(c.delete('zz')).toBe(false);
  });

  it('keeps a cached miss apart from an absent key', () => {
    const c = new L1Cache<number>();
    c.set('gone', undefined);
    expect(c.get('gone')).toBeUndefined();
    expect(c.has('gone')).toBe(true);
    expect(c.getEntry('gone')).toMatchObject({ value: undefined, expiresAt: Infinity });
    expect(c.getEntry('never')).toBeUndefined();
    c.setEntry('tagged', { value: 7, expiresAt: Infinity, staleUntil: Infinity, version: 3, tags: ['a', 'b'] });
    expect(c.getEntry('tagged')).toEqual({ value: 7, expiresAt: Infinity, staleUntil: Infinity, version: 3, tags: ['a', 'b'] });
    c.set('tagged', 8);
    expect(c.getEntry('tagged')).toEqual({ value: 8, expiresAt: Infinity, staleUntil: Infinity, version: 0 });
  });

  it('expires on the injected clock: fresh by get, stale by getEntry until staleUntil, then gone', () => {
    const clock = fakeClock(1000);
    const c = new L1Cache<number>({ clock, defaultTtlMs: 100 });
    c.set('d', 1);
    c.set('t', 2, 10);
    c.setEntry('s', { value: 3, expiresAt: 1050, staleUntil: 1200, version: 4 });
    clock.advance(10);
    expect(c.get('t')).toBeUndefined();
    expect(c.has('t')).toBe(false);
    expect(c.get('d')).toBe(1);
    clock.set(1060);
    expect(c.get('s')).toBeUndefined(); // stale: not fresh
    expect(c.getEntry('s')).toEqual({ value: 3, expiresAt: 1050, staleUntil: 1200, version: 4 });
    clock.set(1200);
    expect(c.getEntry('s')).toBeUndefined();
    expect(c.get('d')).toBeUndefined();
    expect(c.stats().expirations).toBeGreaterThanOrEqual(2);
    // An entry born past its staleUntil is not stored, and removes the old one.
    c.set('x', 5, Infinity);
    c.set('x', 6, 0);
    expect(c.getEntry('x')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('keeps a frequently used set through a scan that flushes an LRU (TinyLFU admission)', () => {
    const cap = 100;
    const c = new L1Cache<number>({ maxEntries: cap });
    const lru = new LRUCache<string, number>({ max: cap });
    const hot = Array.from({ length: 80 }, (_, i) => `hot${i}`);
    for (let r = 0; r < 5; r++) {
      for (const k of hot) {
        if (c.get(k) === undefined) c.set(k, r);
        if (lru.get(k) === undefined) lru.set(k, r);
      }
    }
    for (let i = 0; i < 1000; i++) {
      const k = `scan${i}`;
      if (c.get(k) === undefined) c.set(k, i);
      if (lru.get(k) === undefined) lru.set(k, i);
    }
    const kept = hot.filter((k) => c.has(k)).length;
    expect(hot.filter((k) => lru.has(k)).length).toBe(0);
    expect(kept).toBeGreaterThanOrEqual(75);
    expect(c.stats().admissionsRejected).toBeGreaterThan(900);
  });

  it('grows the window on a recency-heavy phase and shrinks it on a frequency-heavy one', () => {
    const cap = 200;
    const c = new L1Cache<number>({ maxEntries: cap });
    const access = (k: string): void => {
      if (c.get(k) === undefined) c.set(k, 1);
    };
    const start = c.stats().windowMaximum;
    expect(start).toBe(2); // 1% of 200
    // Phase 1 (like the corda trace): every key is read twice, ~40 requests apart, then never again.
    readEachTwice(access, 60_000);
    const grown = c.stats().windowMaximum;
    expect(grown).toBeGreaterThan(start * 10);
    // Phase 2: a stable hot set of 150 keys (3/4 of capacity) plus one-off keys: frequency wins.
    let x = 1;
    for (let i = 0; i < 200_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      access(i % 2 === 0 ? `h${x % 150}` : `once${i}`);
    }
    const after = c.stats();
    expect(after.windowMaximum).toBeLessThan(grown);
    expect(after.climbs).toBeGreaterThan(10);
  });

  it('gives the hottest keys first, and carries its sketch to another cache', () => {
    const c = new L1Cache<number>({ maxEntries: 50 });
    for (let r = 0; r < 10; r++) for (let i = 0; i <= r; i++) c.get(`k${i}`) ?? c.set(`k${i}`, i);
    const hot = c.hotKeys(3);
    expect(hot).toEqual(['k0', 'k1', 'k2']);
    expect(c.hotKeys().length).toBe(10);
    expect(c.hotKeys(0)).toEqual([]);
    const d = new L1Cache<number>({ maxEntries: 50 });
    d.loadSketch(c.sketchState());
    expect(d.sketch.frequency(hashKey('k0'))).toBe(c.sketch.frequency(hashKey('k0')));
    expect(d.sketch.frequency(hashKey('k0'))).toBeGreaterThanOrEqual(10);
    expect(thrown(() => new L1Cache({ maxEntries: 100_000 }).loadSketch(c.sketchState())).message).toMatch(/for bytes/);
  });

  it('carries the window the climber found to a restarted cache, only while that cache is empty and of the same capacity', () => {
    const cap = 200;
    const c = new L1Cache<number>({ maxEntries: cap });
    readEachTwice((k) => {
      if (c.get(k) === undefined) c.set(k, 1);
    }, 60_000);
    const grown = c.stats();
    expect(grown.windowMaximum).toBeGreaterThan(2);
    const fresh = new L1Cache<number>({ maxEntries: cap });
    fresh.loadSketch(c.sketchState());
    expect(fresh.stats().windowMaximum).toBe(grown.windowMaximum);
    // A cache that already holds entries keeps its regions (only the sketch is loaded).
    const busy = new L1Cache<number>({ maxEntries: cap });
    busy.set('a', 1);
    busy.loadSketch(c.sketchState());
    expect(busy.stats().windowMaximum).toBe(2);
    // The sketch alone (the older format) still loads.
    const plain = new L1Cache<number>({ maxEntries: cap });
    plain.loadSketch(c.sketch.toBytes());
    expect(plain.stats().windowMaximum).toBe(2);
    // A climber block out of range is refused, naming bytes, and changes nothing.
    const bad = c.sketchState();
    new DataView(bad.buffer).setUint32(bad.length - 32 + 8, cap, true);
    const victim = new L1Cache<number>({ maxEntries: cap });
    expect(thrown(() => victim.loadSketch(bad))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/for bytes/) });
    expect(victim.stats().windowMaximum).toBe(2);
  });

  it('clears entries, counters and window', () => {
    const c = new L1Cache<number>({ maxEntries: 10 });
    for (let i = 0; i < 30; i++) c.set(`k${i}`, i);
    c.get('k29');
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get('k29')).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 0, misses: 1, sets: 0, evictions: 0, windowSize: 0, windowMaximum: 1 });
    for (let i = 0; i < 30; i++) c.set(`k${i}`, i);
    expect(c.size).toBe(10);
  });

  it('keeps keys that name Object.prototype members or look like indexes as plain keys', () => {
    const c = new L1Cache<string>({ maxEntries: 8 });
    const odd = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '4294967295', '-1', '1e3'];
    for (const k of odd) expect(c.get(k)).toBeUndefined();
    for (const k of odd) c.set(k, `v:${k}`);
    expect(c.size).toBe(odd.length);
    for (const k of odd) expect(c.get(k)).toBe(`v:${k}`);
    expect(c.delete('__proto__')).toBe(true);
    expect(c.has('__proto__')).toBe(false);
    expect(c.get('constructor')).toBe('v:constructor');
    expect(c.size).toBe(odd.length - 1);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get('toString')).toBeUndefined();
  });

  it('names the argument of bad input, with a code', () => {
    const c = new L1Cache<number>();
    expect(thrown(() => c.set(42 as unknown as string, 1))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/for key but received 42/) });
    expect(thrown(() => c.set('', 1)).message).toMatch(/for key/);
    expect(thrown(() => c.set('x'.repeat(513), 1)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => c.set('k', 1, -1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/for ttlMs but received -1/) });
    expect(thrown(() => c.set('k', 1, Number.NaN)).message).toMatch(/for ttlMs but received NaN/);
    expect(thrown(() => c.setEntry('k', null as unknown as never)).message).toMatch(/for entry/);
    expect(thrown(() => c.setEntry('k', { value: 1, expiresAt: 10, staleUntil: 5, version: 0 })).message).toMatch(/for entry.staleUntil/);
    expect(thrown(() => new L1Cache({ maxEntries: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/for maxEntries/) });
    expect(thrown(() => new L1Cache({ maxEntries: 1.5 })).message).toMatch(/for maxEntries/);
    expect(thrown(() => new L1Cache({ defaultTtlMs: -5 })).message).toMatch(/for defaultTtlMs/);
    expect(thrown(() => new L1Cache({ clock: 5 as unknown as () => number })).message).toMatch(/for clock/);
    expect(thrown(() => c.hotKeys(-1)).message).toMatch(/for limit/);
    expect(thrown(() => c.loadSketch('x' as unknown as Uint8Array)).code).toBe('ERR_INVALID_ARG_TYPE');
    // A get of a non-string key is a miss, not a throw: the hot path does not check.
    expect(c.get(42 as unknown as string)).toBeUndefined();
    // ...and never reads the string key it would coerce to (the index is a dictionary object).
    c.set('42', 7);
    expect(c.get(42 as unknown as string)).toBeUndefined();
    expect(c.getEntry(42 as unknown as string)).toBeUndefined();
    expect(c.has(42 as unknown as string)).toBe(false);
    expect(c.delete(42 as unknown as string)).toBe(false);
    expect(c.get('42')).toBe(7);
  });
});
