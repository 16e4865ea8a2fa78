/**
 * TieredCache (issue 16 items 1, 3, 4, 5): lookup order and promotion, write-through, single
 * flight and the fleet lease, stale-while-revalidate and stale-if-error, negative caching, load
 * timeouts, level failures (one warning, no exception), coherency between "processes" sharing
 * an in-memory fleet, deleteByTag, stats, and bad input. Levels are the test doubles of
 * test/helpers/cache-levels.ts; the real levels are exercised through the same code by their
 * own suites and the fleet tests.
 */
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  CacheLoadFailedElsewhereError,
  CacheLoadTimeoutError,
  type CacheEntry,
  registerCachePrometheus,
  TieredCache,
  type TieredCacheOptions,
} from '../lib/cache/index.js';
import { jsonCodec, msgpackCodec } from '../lib/net/codec.js';
import { InMemoryFleet, MapAsyncLevel, MapSyncLevel } from './helpers/cache-levels.js';
import { type FakeClock, fakeClock } from './helpers/fake-clock.js';
import { thrown } from './helpers/thrown.js';

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Setup {
  clock: FakeClock;
  l1: MapSyncLevel<unknown>;
  l2: MapSyncLevel<unknown>;
  l4: MapAsyncLevel<unknown>;
  cache: TieredCache<unknown>;
}

const caches: TieredCache<unknown>[] = [];
function make(extra: Partial<TieredCacheOptions<unknown>> = {}, clock = fakeClock()): Setup {
  const l1 = new MapSyncLevel<unknown>('l1', clock);
  const l2 = new MapSyncLevel<unknown>('l2', clock);
  const l4 = new MapAsyncLevel<unknown>({ name: 'l4', clock, codec: msgpackCodec() });
  const cache = new TieredCache<unknown>({ name: 'test', l1, l2, l4, clock, ...extra });
  caches.push(cache);
  return { clock, l1, l2, l4, cache };
}

let warnings: string[] = [];
const onWarning = (w: Error): void => {
  warnings.push(w.message);
};
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(async () => {
  process.off('warning', onWarning);
  for (const c of caches.splice(0)) await c.close();
  vi.useRealTimers();
});

/** Lets queued emitWarning calls ('warning' is emitted on the next tick) and setImmediate deliveries run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TieredCache reads and writes', () => {
  it('writes through to every level and reads L1, then L2 (promoting), then L4 (promoting)', async () => {
    const { cache, l1, l2, l4 } = make();
    await cache.set('a', { px: 1 }, { ttlMs: 1000 });
    expect(l1.map.get('a')?.value).toEqual({ px: 1 });
    expect(l2.map.get('a')?.value).toEqual({ px: 1 });
    expect(l4.store.has('a')).toBe(true);
    expect(cache.getSync('a')).toEqual({ px: 1 });

    l1.map.delete('a');
    expect(cache.getSync('a')).toEqual({ px: 1 }); // from L2
    expect(l1.map.has('a')).toBe(true); // promoted

    l1.map.delete('a');
    l2.map.delete('a');
    expect(cache.getSync('a')).toBeUndefined(); // getSync stops at L2
    expect(await cache.get('a')).toEqual({ px: 1 }); // from L4
    expect(l1.map.get('a')?.value).toEqual({ px: 1 });
    expect(l2.map.get('a')?.value).toEqual({ px: 1 });
    const s = cache.stats();
    expect(s.levels.map((l) => l.name)).toEqual(['l1', 'l2', 'l4']);
    expect(s.levels.find((l) => l.name === 'l4')!.hits).toBe(1);
  });

  it('answers only fresh entries: expired ones read as misses', async () => {
    const { cache, clock } = make();
    await cache.set('a', 1, { ttlMs: 100 });
    clock.advance(99);
    expect(cache.getSync('a')).toBe(1);
    clock.advance(1);
    expect(cache.getSync('a')).toBeUndefined();
    expect(await cache.get('a')).toBeUndefined();
  });

  it('uses defaultTtlMs when set() has no ttlMs, and Infinity by default', async () => {
    const { cache, clock } = make({ defaultTtlMs: 50 });
    await cache.set('a', 1);
    clock.advance(50);
    expect(await cache.get('a')).toBeUndefined();
    const other = make({}, clock);
    await other.cache.set('b', 2);
    clock.advance(1e12);
    expect(await other.cache.get('b')).toBe(2);
  });

  it('getMany: L1/L2 per key, then one getEntries per async level for the keys still missing', async () => {
    const clock = fakeClock();
    const fleet = new InMemoryFleet<unknown>(clock, 'manual', msgpackCodec());
    const l3 = fleet.connect();
    const l1 = new MapSyncLevel<unknown>('l1', clock);
    const l4 = new MapAsyncLevel<unknown>({ name: 'l4', clock, codec: msgpackCodec() });
    const cache = new TieredCache<unknown>({ name: 'many', l1, l3, l4, clock });
    caches.push(cache);
    await cache.setMany([['a', 1], ['b', 2], ['c', 3], ['d', 4]], { ttlMs: 1000 });
    l1.map.delete('b');
    l1.map.delete('c');
    l1.map.delete('d');
    fleet.store.delete('c');
    fleet.store.delete('d');
    l3.calls.getEntries = 0;
    l4.calls.getEntries = 0;
    expect(await cache.getMany(['a', 'b', 'c', 'd', 'e'])).toEqual([1, 2, 3, 4, undefined]);
    expect(l3.calls.getEntries).toBe(1);
    expect(l4.calls.getEntries).toBe(1);
    expect(l1.map.has('c')).toBe(true); // promoted from L4
    // Not into L3: an L4 copy L3 lacks may be one another process just deleted.
    await settle();
    expect(fleet.store.has('c')).toBe(false);
  });

  it('delete removes the key from every level', async () => {
    const { cache, l1, l2, l4 } = make();
    await cache.set('a', 1);
    expect(await cache.delete('a')).toBe(true);
    expect(l1.map.has('a') || l2.map.has('a') || l4.store.has('a')).toBe(false);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.delete('a')).toBe(false);
  });

  it('clear empties every level', async () => {
    const { cache, l1, l2, l4 } = make();
    await cache.setMany([['a', 1], ['b', 2]]);
    await cache.clear();
    expect(l1.size + l2.size + l4.store.size).toBe(0);
  });

  it('deleteByTag drops tagged entries written before it, keeps later ones and untagged ones', async () => {
    const { cache } = make();
    await cache.set('a', 1, { tags: ['eq', 'us'] });
    await cache.set('b', 2, { tags: ['fx'] });
    await cache.set('c', 3);
    await cache.deleteByTag('us');
    expect(cache.getSync('a')).toBeUndefined();
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.get('b')).toBe(2);
    expect(await cache.get('c')).toBe(3);
    await cache.set('a', 4, { tags: ['us'] });
    expect(await cache.get('a')).toBe(4);
  });

  it('a slow lower-level read never puts an overwritten value back into L1', async () => {
    const clock = fakeClock();
    const l1 = new MapSyncLevel<unknown>('l1', clock);
    const l4 = new MapAsyncLevel<unknown>({ name: 'l4', clock, latencyMs: 20 });
    const cache = new TieredCache<unknown>({ name: 'race', l1, l4, clock });
    caches.push(cache);
    await cache.set('k', 'old');
    l1.map.delete('k');
    const read = cache.get('k'); // reads 'old' from L4, slowly
    await new Promise((r) => setTimeout(r, 5));
    const write = cache.set('k', 'new');
    expect(await read).toBe('old'); // concurrent with the write: either answer is linearizable
    await write;
    expect(cache.getSync('k')).toBe('new');
    expect(await cache.get('k')).toBe('new');
  });
});

describe('TieredCache.getOrLoad', () => {
  it('200 concurrent calls for a missing key make one loader call (single flight)', async () => {
    const { cache } = make();
    const gate = deferred<void>();
    let calls = 0;
    const loader = async (key: string): Promise<string> => {
      calls++;
      await gate.promise;
      return `value of ${key}`;
    };
    const all = Promise.all(Array.from({ length: 200 }, () => cache.getOrLoad('k', loader)));
    await settle();
    gate.resolve();
    const values = await all;
    expect(calls).toBe(1);
    expect(new Set(values)).toEqual(new Set(['value of k']));
    expect(cache.stats().loaderCalls).toBe(1);
    expect(cache.stats().singleFlightJoins).toBe(199);
    // Stored: the next call is a hit.
    expect(await cache.getOrLoad('k', loader)).toBe('value of k');
    expect(calls).toBe(1);
  });

  it('a loader that throws, with no stale value, rejects every waiter with its error', async () => {
    const { cache } = make();
    const boom = new Error('db down');
    let calls = 0;
    const loader = async (): Promise<never> => {
      calls++;
      await settle();
      throw boom;
    };
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => cache.getOrLoad('k', loader)));
    expect(calls).toBe(1);
    for (const r of results) expect(r).toEqual({ status: 'rejected', reason: boom });
    expect(cache.stats().loadErrors).toBe(1);
    // Nothing was cached: the next call loads again.
    await expect(cache.getOrLoad('k', async () => 7)).resolves.toBe(7);
  });

  it('a loader that throws serves the stale value within staleIfErrorMs (stale-if-error)', async () => {
    const { cache, clock } = make({ staleIfErrorMs: 10_000 });
    await cache.set('k', 'old', { ttlMs: 100 });
    clock.advance(500);
    expect(await cache.get('k')).toBeUndefined(); // get answers fresh entries only
    let calls = 0;
    const failing = async (): Promise<never> => {
      calls++;
      await settle();
      throw new Error('db down');
    };
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad('k', failing)));
    expect(values).toEqual(Array(20).fill('old'));
    expect(calls).toBe(1);
    expect(cache.stats().staleServed).toBeGreaterThanOrEqual(20);
    // Past the window the error reaches the caller.
    clock.advance(10_000);
    await expect(cache.getOrLoad('k', failing)).rejects.toThrow('db down');
  });

  it('a loader past loadTimeoutMs rejects every waiter with CacheLoadTimeoutError, or serves the stale value', async () => {
    const { cache, clock } = make({ loadTimeoutMs: 20, staleIfErrorMs: 60_000 });
    const never = (): Promise<string> => new Promise<string>(() => {});
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrLoad('k', never)));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const reason = (r as PromiseRejectedResult).reason as CacheLoadTimeoutError;
      expect(reason).toBeInstanceOf(CacheLoadTimeoutError);
      expect(reason.code).toBe('ERR_ULTRA_PERF_CACHE_LOAD_TIMEOUT');
      expect(reason.message).toBe('loader for key "k" did not settle within loadTimeoutMs = 20 ms');
    }
    expect(cache.stats().loadTimeouts).toBe(1);
    await cache.set('s', 'stale one', { ttlMs: 10 });
    clock.advance(11);
    expect(await cache.getOrLoad('s', never)).toBe('stale one');
  });

  it('negative caching: a loader returning undefined is cached as a miss until the TTL ends', async () => {
    const { cache, clock, l4 } = make();
    let calls = 0;
    const loader = async (): Promise<undefined> => {
      calls++;
      return undefined;
    };
    expect(await cache.getOrLoad('missing', loader, { ttlMs: 1000 })).toBeUndefined();
    expect(await cache.getOrLoad('missing', loader, { ttlMs: 1000 })).toBeUndefined();
    expect(calls).toBe(1);
    expect((l4.store.get('missing') as Uint8Array)[1]! & 1).toBe(1); // the entry codec's cached-miss flag
    expect(await cache.get('missing')).toBeUndefined();
    clock.advance(1000);
    expect(await cache.getOrLoad('missing', async () => 'found')).toBe('found');
  });

  it('stale-while-revalidate: serves the stale value at once and refreshes it once in the background', async () => {
    const { cache, clock } = make({ staleWhileRevalidateMs: 5000 });
    await cache.set('k', 'v1', { ttlMs: 100 });
    clock.advance(200);
    const gate = deferred<void>();
    let calls = 0;
    const loader = async (): Promise<string> => {
      calls++;
      await gate.promise;
      return 'v2';
    };
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.getOrLoad('k', loader, { ttlMs: 100 })));
    expect(values).toEqual(Array(50).fill('v1'));
    expect(calls).toBe(1);
    gate.resolve();
    await settle();
    await settle();
    expect(await cache.getOrLoad('k', loader)).toBe('v2');
    expect(calls).toBe(1);
    expect(cache.stats().staleServed).toBe(50);
  });

  it('a set() while a load runs wins: the loaded value is returned but not stored', async () => {
    const { cache } = make();
    const gate = deferred<void>();
    const load = cache.getOrLoad('k', async () => {
      await gate.promise;
      return 'loaded';
    });
    await settle();
    await cache.set('k', 'written');
    gate.resolve();
    expect(await load).toBe('loaded');
    expect(await cache.get('k')).toBe('written');
  });
});

describe('TieredCache across processes (in-memory fleet)', () => {
  function processes(n: number, options: Partial<TieredCacheOptions<unknown>> = {}, deliver: 'auto' | 'manual' = 'auto') {
    const clock = fakeClock();
    const fleet = new InMemoryFleet<unknown>(clock, deliver, msgpackCodec());
    const procs = Array.from({ length: n }, (_, i) => {
      const l1 = new MapSyncLevel<unknown>('l1', clock);
      const l3 = fleet.connect({ latencyMs: 1 });
      const cache = new TieredCache<unknown>({ name: `p${i}`, l1, l3, clock, ...options });
      caches.push(cache);
      return { l1, l3, cache };
    });
    return { clock, fleet, procs };
  }

  it('200 getOrLoad calls spread over 4 processes make exactly 1 loader call (lease)', async () => {
    const { fleet, procs } = processes(4);
    let calls = 0;
    const loader = async (): Promise<string> => {
      calls++;
      await new Promise((r) => setTimeout(r, 30));
      return 'loaded once';
    };
    const values = await Promise.all(Array.from({ length: 200 }, (_, i) => procs[i % 4]!.cache.getOrLoad('hot', loader, { ttlMs: 60_000 })));
    expect(calls).toBe(1);
    expect(new Set(values)).toEqual(new Set(['loaded once']));
    expect(fleet.leasesGranted).toBe(1);
    expect(procs.reduce((n, p) => n + p.cache.stats().leaseWaits, 0)).toBe(3);
  });

  it('a failing loader across 4 processes: 1 loader call, every waiter rejects (others with CacheLoadFailedElsewhereError)', async () => {
    const { procs } = processes(4);
    let calls = 0;
    const boom = new Error('db down');
    const loader = async (): Promise<string> => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      throw boom;
    };
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => procs[i % 4]!.cache.getOrLoad('k', loader)));
    expect(calls).toBe(1);
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error) : null));
    expect(reasons.every((r) => r !== null)).toBe(true);
    // The holder's process sees the loader's own error; the other processes learn only that it failed.
    expect(reasons.filter((r) => r === boom)).toHaveLength(50);
    const others = reasons.filter((r) => r !== boom) as CacheLoadFailedElsewhereError[];
    expect(others).toHaveLength(150);
    for (const r of others) {
      expect(r).toBeInstanceOf(CacheLoadFailedElsewhereError);
      expect(r.code).toBe('ERR_ULTRA_PERF_CACHE_LOAD_FAILED');
    }
    // Nothing was cached; the next call loads.
    await expect(procs[1]!.cache.getOrLoad('k', async () => 'ok')).resolves.toBe('ok');
  });

  it('a lease holder that never releases (a dead process): a waiter loads itself after its waits time out', async () => {
    const { procs } = processes(2, { leaseTtlMs: 30 });
    await procs[0]!.l3.acquireLease('k', 60_000); // held, and on the fake clock it never expires
    let calls = 0;
    expect(await procs[1]!.cache.getOrLoad('k', async () => (calls++, 'taken over'))).toBe('taken over');
    expect(calls).toBe(1);
  });

  it("a write in one process drops other processes' L1 copies once the invalidation is delivered", async () => {
    const { fleet, procs } = processes(2, {}, 'manual');
    const [a, b] = procs as [(typeof procs)[0], (typeof procs)[0]];
    await a.cache.set('k', 'v1');
    expect(await b.cache.get('k')).toBe('v1'); // from L3, promoted into b's L1
    expect(b.l1.map.has('k')).toBe(true);
    await a.cache.set('k', 'v2');
    expect(b.cache.getSync('k')).toBe('v1'); // not delivered yet
    fleet.deliver();
    expect(b.l1.map.has('k')).toBe(false);
    expect(await b.cache.get('k')).toBe('v2');
    await a.cache.delete('k');
    fleet.deliver();
    expect(b.cache.getSync('k')).toBeUndefined();
    expect(await b.cache.get('k')).toBeUndefined();
  });

  it('an invalidation older than the held copy is ignored', async () => {
    const { clock, fleet, procs } = processes(2, {}, 'manual');
    const [a, b] = procs as [(typeof procs)[0], (typeof procs)[0]];
    await a.cache.set('k', 'v1');
    clock.advance(1);
    await b.cache.set('k', 'v2'); // b's version is above a's
    const held = b.l1.map.get('k') as CacheEntry;
    // Re-deliver a's first write late: b keeps its newer copy.
    await a.l3.publishInvalidation(['k'], held.version - 1);
    fleet.deliver();
    expect(b.cache.getSync('k')).toBe('v2');
  });

  it('a version-0 invalidation (RESP3 tracking: a write by any client, version unknown) drops the copy whatever its version', async () => {
    const { clock, fleet, procs } = processes(2, {}, 'manual');
    const [a, b] = procs as [(typeof procs)[0], (typeof procs)[0]];
    clock.advance(1);
    await b.cache.set('k', 'v2');
    expect(b.l1.map.has('k')).toBe(true);
    await a.l3.publishInvalidation(['k'], 0);
    fleet.deliver();
    expect(b.l1.map.has('k')).toBe(false);
    expect(await b.cache.get('k')).toBe('v2'); // re-read from L3
  });

  it('deleteByTag in one process reaches entries held by another', async () => {
    const { fleet, procs } = processes(2, {}, 'manual');
    const [a, b] = procs as [(typeof procs)[0], (typeof procs)[0]];
    await a.cache.set('x', 1, { tags: ['t'] });
    expect(await b.cache.get('x')).toBe(1);
    await a.cache.deleteByTag('t');
    fleet.deliver();
    expect(b.cache.getSync('x')).toBeUndefined();
    // A process that never heard the invalidation reads the tag version from L3's marker.
    const c = new TieredCache<unknown>({ name: 'late', l1: new MapSyncLevel('l1', fleet.clock), l3: fleet.connect(), clock: fleet.clock });
    caches.push(c);
    expect(await c.get('x')).toBeUndefined();
  });

  it('clear() in one process drops the L1 of the others', async () => {
    const { fleet, procs } = processes(2, {}, 'manual');
    const [a, b] = procs as [(typeof procs)[0], (typeof procs)[0]];
    await b.cache.set('k', 1);
    await a.cache.clear();
    fleet.deliver();
    expect(b.cache.getSync('k')).toBeUndefined();
  });
});

describe('TieredCache level failures', () => {
  it('an async level that rejects: reads answer from the other levels, one warning per outage, no exception', async () => {
    const { cache, l4, l1 } = make();
    await cache.set('a', 1);
    l4.setDown(true);
    l1.map.delete('x');
    for (let i = 0; i < 20; i++) {
      expect(await cache.get('a')).toBe(1);
      expect(await cache.get('x')).toBeUndefined();
      await cache.set(`w${i}`, i);
      expect(await cache.getOrLoad(`m${i}`, async () => i)).toBe(i);
      expect(await cache.getMany(['a', 'x'])).toEqual([1, undefined]);
    }
    await settle();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('level l4 is unavailable');
    expect(cache.stats().levels.find((l) => l.name === 'l4')!.up).toBe(false);
    // Back: the keys written meanwhile are deleted from it so it cannot serve older copies later.
    l4.store.set('w3', l4.store.get('a')!);
    l4.setDown(false);
    expect(await cache.get('x')).toBeUndefined(); // reaches L4, which answers again
    await settle();
    expect(l4.store.has('w3')).toBe(false);
    expect(cache.stats().levels.find((l) => l.name === 'l4')!.up).toBe(true);
    // A second outage gets its own warning.
    l4.setDown(true);
    await cache.set('z', 1);
    await settle();
    expect(warnings).toHaveLength(2);
  });

  it('a sync level that throws is answered around, with one warning', async () => {
    const { cache, l1, l2 } = make();
    await cache.set('a', 1);
    l2.broken = true;
    for (let i = 0; i < 5; i++) {
      await cache.set(`k${i}`, i);
      expect(cache.getSync(`k${i}`)).toBe(i);
    }
    await settle();
    expect(warnings).toHaveLength(1);
    // An L1 that throws: getSync answers from L2.
    l2.broken = false;
    await cache.set('b', 2);
    l1.broken = true;
    expect(cache.getSync('b')).toBe(2);
    expect(await cache.get('b')).toBe(2);
    await settle();
    expect(warnings).toEqual([expect.stringContaining('level l2 is unavailable'), expect.stringContaining('level l1 is unavailable')]);
  });

  it('L3 down (onStateChange): local levels answer, one warning; on reconnect L1 copies are dropped', async () => {
    const clock = fakeClock();
    const fleet = new InMemoryFleet<unknown>(clock, 'manual', msgpackCodec());
    const l3 = fleet.connect();
    const other = fleet.connect();
    const l1 = new MapSyncLevel<unknown>('l1', clock);
    const l4 = new MapAsyncLevel<unknown>({ name: 'l4', clock });
    const cache = new TieredCache<unknown>({ name: 'p', l1, l3, l4, clock });
    caches.push(cache);
    await cache.set('a', 'v1');
    l3.disconnect();
    expect(await cache.get('a')).toBe('v1');
    expect(await cache.getOrLoad('b', async () => 'loaded locally')).toBe('loaded locally');
    await cache.set('c', 'during outage');
    await settle();
    expect(warnings).toEqual([expect.stringContaining('level l3 is unavailable')]);
    // Another process rewrites 'a' while we are away: the invalidation is lost.
    const otherCache = new TieredCache<unknown>({ name: 'q', l3: other, l1: false, clock });
    caches.push(otherCache);
    await otherCache.set('a', 'v2');
    expect(cache.getSync('a')).toBe('v1');
    l3.reconnect();
    expect(l1.size).toBe(0); // dropped on reconnect
    expect(await cache.get('a')).toBe('v2');
    await settle();
    // 'c' was written while L3 was down: L3 holds no copy of it, older or newer.
    expect(fleet.store.has('c')).toBe(false);
    expect(warnings).toHaveLength(1);
  });
});

describe('TieredCache bad input', () => {
  it('refuses a value the codec cannot encode, naming `value`, before any level is written', async () => {
    const { cache, l1, l2, l4 } = make({ codec: jsonCodec() });
    const err = await rejection(cache.set('k', { n: 1n }));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toContain('for value but received');
    expect(l1.size + l2.size + l4.store.size).toBe(0);
    const many = await rejection(cache.setMany([['a', 1], ['b', { n: 1n }]]));
    expect(many.message).toContain('for entries[1][1]');
    expect(l1.size + l2.size + l4.store.size).toBe(0);
  });

  it('names each bad argument', async () => {
    const { cache } = make();
    expect(thrown(() => cache.getSync(5 as never)).message).toBe('Expected a string for key but received 5');
    expect(thrown(() => cache.getSync('x'.repeat(513))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await rejection(cache.get(''))).message).toContain('for key but received ""');
    expect((await rejection(cache.getMany(['a', 3 as never]))).message).toBe('Expected a string for keys[1] but received 3');
    expect((await rejection(cache.set('k', 1, { ttlMs: -1 }))).message).toContain('for options.ttlMs but received -1');
    expect((await rejection(cache.set('k', 1, { ttlMs: NaN }))).message).toContain('for options.ttlMs but received NaN');
    expect((await rejection(cache.set('k', 1, { tags: [''] }))).message).toContain('for options.tags[0]');
    expect((await rejection(cache.set('k', 1, { ttl: 5 } as never))).message).toContain('options.ttl');
    expect((await rejection(cache.set('\u0000tag:x', 1))).message).toContain('U+0000');
    expect((await rejection(cache.getOrLoad('k', 'nope' as never))).message).toContain('for loader but received "nope"');
    expect((await rejection(cache.deleteByTag(''))).message).toContain('for tag');
    expect((await rejection(cache.setMany([['a']] as never))).message).toContain('for entries[0]');
  });

  it('validates its options strictly, naming each', () => {
    const clock = fakeClock();
    const cases: [Record<string, unknown>, string, string][] = [
      [{}, 'ERR_INVALID_ARG_TYPE', 'for options.name but received undefined'],
      [{ name: 'c', l2: {} }, 'ERR_INVALID_ARG_TYPE', 'for options.l2'],
      [{ name: 'c', l2: new MapSyncLevel('l1', clock) }, 'ERR_INVALID_ARG_VALUE', "a level named 'l2'"],
      [{ name: 'c', l3: new MapAsyncLevel({ name: 'l3', clock }) }, 'ERR_INVALID_ARG_TYPE', 'FleetCoordinator'],
      [{ name: 'c', defaultTtlMs: -5 }, 'ERR_OUT_OF_RANGE', 'for options.defaultTtlMs but received -5'],
      [{ name: 'c', loadTimeoutMs: 0 }, 'ERR_INVALID_ARG_VALUE', 'for options.loadTimeoutMs but received 0'],
      [{ name: 'c', coherency: 'pubsub' }, 'ERR_INVALID_ARG_VALUE', 'options.coherency'],
      [{ name: 'c', coherency: 'gossip' }, 'ERR_INVALID_ARG_VALUE', 'options.coherency'],
      [{ name: 'c', staleWhileRevalidate: 5 }, 'ERR_ULTRA_PERF_UNKNOWN_OPTION', "did you mean 'staleWhileRevalidateMs'?"],
    ];
    for (const [options, code, text] of cases) {
      const err = thrown(() => new TieredCache(options as never));
      expect(err.code, text).toBe(code);
      expect(err.message).toContain(text);
    }
    expect(thrown(() => new TieredCache(undefined as never)).message).toContain('an options object for TieredCache');
  });
});

describe('TieredCache stats', () => {
  it('counts hits and misses per level, loads, and reports the level extras and latencies', async () => {
    const { cache, l1 } = make();
    l1.extras = { windowSize: 10, admissionsRejected: 3 };
    await cache.set('a', 1);
    cache.getSync('a');
    cache.getSync('b');
    await cache.get('b');
    await cache.getOrLoad('c', async () => 3);
    const s = cache.stats();
    const l1s = s.levels.find((l) => l.name === 'l1')!;
    expect(l1s.hits).toBe(1);
    expect(l1s.windowSize).toBe(10);
    expect(l1s.admissionsRejected).toBe(3);
    expect(s.loaderCalls).toBe(1);
    expect(s.hits).toBe(1);
    expect(s.misses).toBe(3);
    const l4s = s.levels.find((l) => l.name === 'l4')!;
    expect(l4s.getLatency.count).toBeGreaterThanOrEqual(2);
    expect(l4s.setLatency.count).toBe(2);
    expect(l4s.size).toBe(2);
    const status = cache.status();
    expect(status.coherency).toBe('none');
    expect(status.closed).toBe(false);
  });

  it('close() closes the async levels and refuses later calls', async () => {
    const { cache, l4 } = make();
    await cache.close();
    expect(l4.closed).toBe(true);
    expect((await rejection(cache.get('a'))).code).toBe('ERR_ULTRA_PERF_CACHE_CLOSED');
  });
});

describe('registerCachePrometheus', () => {
  const promtool = spawnSync('promtool', ['--version']).status === 0;
  if (process.env.CI === 'true' && !promtool) throw new Error("promtool is required under CI=true (Debian's 'prometheus' package)");

  it.runIf(promtool)('exposes per-level and per-cache metrics that promtool accepts, with the stats’ values', async () => {
    const { cache, l1, l4 } = make();
    l1.extras = { windowSize: 10, admissionsRejected: 3 };
    await cache.set('a', 1);
    for (let i = 0; i < 300; i++) cache.getSync('a');
    await cache.get('zz');
    await cache.getOrLoad('b', async () => 2);
    l4.setDown(true);
    await cache.get('zz');
    const registry = new Registry();
    const e = registerCachePrometheus(cache, { registry });
    try {
      const text = await registry.metrics();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(`${check.stdout}${check.stderr}`).toBe('');
      expect(check.status).toBe(0);
      const s = cache.stats();
      const l1s = s.levels[0]!;
      expect(text).toContain(`ultra_perf_cache_hits_total{cache="test",level="l1"} ${l1s.hits}`);
      expect(l1s.hits).toBe(300);
      expect(text).toContain(`ultra_perf_cache_misses_total{cache="test",level="l4"} ${s.levels[2]!.misses}`);
      expect(text).toContain('ultra_perf_cache_admissions_rejected_total{cache="test",level="l1"} 3');
      expect(text).not.toContain('ultra_perf_cache_admissions_rejected_total{cache="test",level="l2"}');
      expect(text).toContain('ultra_perf_cache_window_entries{cache="test",level="l1"} 10');
      expect(text).toContain('ultra_perf_cache_level_up{cache="test",level="l4"} 0');
      expect(text).toContain('ultra_perf_cache_level_errors_total{cache="test",level="l4"} 1');
      expect(text).toContain('ultra_perf_cache_loader_calls_total{cache="test"} 1');
      expect(text).toContain('# TYPE ultra_perf_cache_operation_duration_seconds histogram');
      // L1 gets are sampled: 1 in 256 of the 300+ getSync calls was timed.
      const l1Gets = /ultra_perf_cache_operation_duration_seconds_count\{cache="test",level="l1",op="get"\} (\d+)/.exec(text);
      expect(Number(l1Gets?.[1])).toBe(s.levels[0]!.getLatency.count);
      expect(s.levels[0]!.getLatency.count).toBeGreaterThanOrEqual(1);
      const l4Sets = /ultra_perf_cache_operation_duration_seconds_count\{cache="test",level="l4",op="set"\} (\d+)/.exec(text);
      expect(Number(l4Sets?.[1])).toBe(2);
    } finally {
      e.unregister();
    }
    await settle();
  });

  it('rejects bad arguments, naming each', () => {
    const { cache } = make();
    const registry = new Registry();
    expect(thrown(() => registerCachePrometheus({} as never, { registry })).message).toContain('for caches');
    expect(thrown(() => registerCachePrometheus([cache, 3] as never, { registry })).message).toContain('for caches[1]');
    expect(thrown(() => registerCachePrometheus(cache, { registry, prefix: 'a-b' })).message).toContain('for options.prefix');
    expect(thrown(() => registerCachePrometheus(cache, { registry, bucketsSeconds: [2, 1] })).message).toContain('options.bucketsSeconds[1]');
    expect(thrown(() => registerCachePrometheus(cache, { registry, prefx: 'x' } as never)).code).toBe('ERR_ULTRA_PERF_UNKNOWN_OPTION');
    const e = registerCachePrometheus(cache, { registry });
    expect(thrown(() => registerCachePrometheus(cache, { registry })).message).toContain('not already registered');
    e.unregister();
  });
});
