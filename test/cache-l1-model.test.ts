// L1Cache (lib/cache/l1.ts) against a Map model with TTLs on a fake clock (issue 16, item 1):
// a read never returns a value that was overwritten, deleted or expired; a value it returns is
// the model's; size never exceeds capacity; the counters add up. With room for every key the
// cache evicts nothing, so there it must answer exactly as the model does.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { L1Cache, type CacheEntry } from '../lib/cache/index.js';
import { fakeClock } from './helpers/fake-clock.js';

type Op =
  | { op: 'set'; key: string; value: number; ttl: number | undefined }
  | { op: 'setEntry'; key: string; value: number | undefined; ttl: number; grace: number; version: number }
  | { op: 'get'; key: string }
  | { op: 'getEntry'; key: string }
  | { op: 'has'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'clear' }
  | { op: 'advance'; ms: number };

function ops(universe: number): fc.Arbitrary<Op[]> {
  const key = fc.integer({ min: 0, max: universe - 1 }).map((i) => `k${i}`);
  const ttl = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }), fc.constant(Infinity));
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.integer(), ttl: fc.option(ttl, { nil: undefined }) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('setEntry' as const),
        key,
        value: fc.option(fc.integer(), { nil: undefined }),
        ttl,
        grace: fc.integer({ min: 0, max: 30 }),
        version: fc.nat(),
      }),
    },
    { weight: 8, arbitrary: fc.record({ op: fc.constant('get' as const), key }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('getEntry' as const), key }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('has' as const), key }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
  );
  return fc.array(op, { maxLength: 300 });
}

/** Runs `script` on a cache of `capacity` and the model; `exact` = no evictions possible, so no misses allowed either. */
function check(script: Op[], capacity: number, exact: boolean): void {
  const clock = fakeClock();
  const cache = new L1Cache<number>({ maxEntries: capacity, clock });
  const model = new Map<string, CacheEntry<number>>();
  let lookups = 0;
  let sets = 0;
  let deletes = 0;
  const live = (k: string): CacheEntry<number> | undefined => {
    const e = model.get(k);
    return e !== undefined && clock() < e.staleUntil ? e : undefined;
  };
  const fresh = (k: string): CacheEntry<number> | undefined => {
    const e = model.get(k);
    return e !== undefined && clock() < e.expiresAt ? e : undefined;
  };
  for (const step of script) {
    switch (step.op) {
      case 'set': {
        cache.set(step.key, step.value, step.ttl);
        sets++;
        const expiresAt = step.ttl === undefined || step.ttl === Infinity ? Infinity : clock() + step.ttl;
        if (clock() < expiresAt) model.set(step.key, { value: step.value, expiresAt, staleUntil: expiresAt, version: 0 });
        else model.delete(step.key);
        break;
      }
      case 'setEntry': {
        const expiresAt = clock() + step.ttl;
        const entry = { value: step.value, expiresAt, staleUntil: expiresAt + step.grace, version: step.version };
        cache.setEntry(step.key, entry);
        sets++;
        if (clock() < entry.staleUntil) model.set(step.key, entry);
        else model.delete(step.key);
        break;
      }
      case 'get': {
        const got = cache.get(step.key);
        lookups++;
        const want = fresh(step.key);
        if (got !== undefined) expect(got).toBe(want?.value);
        if (exact) expect(got).toBe(want?.value);
        break;
      }
      case 'getEntry': {
        const got = cache.getEntry(step.key);
        lookups++;
        const want = live(step.key);
        if (got !== undefined) {
          expect(want).toBeDefined();
          expect(got).toEqual(want);
          expect(clock()).toBeLessThan(got.staleUntil);
        }
        if (exact) expect(got).toEqual(want);
        break;
      }
      case 'has': {
        const got = cache.has(step.key);
        if (got) expect(fresh(step.key)).toBeDefined();
        if (exact) expect(got).toBe(fresh(step.key) !== undefined);
        break;
      }
      case 'delete': {
        const got = cache.delete(step.key);
        if (got) {
          expect(model.has(step.key)).toBe(true);
          deletes++;
        }
        if (exact && live(step.key) !== undefined) expect(got).toBe(true);
        model.delete(step.key);
        break;
      }
      case 'clear':
        cache.clear();
        model.clear();
        lookups = sets = deletes = 0;
        break;
      case 'advance':
        clock.advance(step.ms);
        break;
    }
    expect(cache.size).toBeLessThanOrEqual(capacity);
    const s = cache.stats();
    expect(s.size).toBe(cache.size);
    expect(s.hits + s.misses).toBe(lookups);
    expect(s.sets).toBe(sets);
    expect(s.deletes).toBe(deletes);
    expect(s.windowSize + s.probationSize + s.protectedSize).toBe(s.size);
    expect(s.admissionsRejected).toBeLessThanOrEqual(s.evictions);
    if (exact) expect(s.evictions).toBe(0);
  }
}

describe('L1Cache against a Map model (fake clock)', () => {
  it('with room for every key, answers exactly as the model', () => {
    fc.assert(fc.property(ops(12), fc.integer({ min: 12, max: 40 }), (script, cap) => check(script, cap, true)), { numRuns: 300 });
  });

  it('under eviction pressure, never returns an overwritten, deleted or expired value', () => {
    fc.assert(fc.property(ops(40), fc.integer({ min: 1, max: 16 }), (script, cap) => check(script, cap, false)), { numRuns: 400 });
  });

  it('keeps its invariants on long random streams that make the hill climber move the window', () => {
    // 1,000 keys through a 50-entry cache: samples of 500–2,000 lookups, so the climber runs many times.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 5_000, maxLength: 10_000 }), fc.integer({ min: 1, max: 3 }), (keys, skew) => {
        const cache = new L1Cache<number>({ maxEntries: 50 });
        const model = new Map<string, number>();
        for (let i = 0; i < keys.length; i++) {
          const k = `k${Math.floor(keys[i]! ** skew / 1000 ** (skew - 1))}`;
          const got = cache.get(k);
          if (got !== undefined) expect(got).toBe(model.get(k));
          else {
            cache.set(k, i);
            model.set(k, i);
          }
          expect(cache.size).toBeLessThanOrEqual(50);
        }
        const s = cache.stats();
        expect(s.climbs).toBeGreaterThan(0);
        expect(s.windowSize + s.probationSize + s.protectedSize).toBe(s.size);
        expect(s.windowMaximum).toBeGreaterThanOrEqual(1);
        expect(s.windowMaximum).toBeLessThanOrEqual(50);
      }),
      { numRuns: 10 },
    );
  });
});
