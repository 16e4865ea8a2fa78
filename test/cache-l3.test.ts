/**
 * L3 (lib/cache/l3-redis.ts) against a real redis-server (test/helpers/redis.ts): entries,
 * MGET/pipelines, TTL, negative entries, namespaces, leases, invalidation between instances and
 * processes, Redis killed mid-run, and a differential test against a Map model on a fake clock.
 */
import { createClient } from 'redis';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CacheLevelUnavailableError } from '../lib/cache/errors.js';
import { RedisLevel, readRedisLevelOptions } from '../lib/cache/l3-redis.js';
import { loadRedisClient } from '../lib/cache/redis-client.js';
import type { CacheEntry } from '../lib/cache/types.js';
import { MissingPeerDependencyError } from '../lib/monitor/prometheus.js';
import { jsonCodec } from '../lib/net/codec.js';
import { forkFleetChild } from './helpers/cache-fleet-parent.js';
import { fakeClock } from './helpers/fake-clock.js';
import { type TestRedis, hasRedis, startRedis } from './helpers/redis.js';
import { thrown } from './helpers/thrown.js';

let nsSeq = 0;
const ns = (): string => `t${process.pid}-${++nsSeq}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const entry = <V>(value: V | undefined, ttlMs = 60_000, now = Date.now(), version = 0): CacheEntry<V> => ({
  value,
  expiresAt: now + ttlMs,
  staleUntil: now + 2 * ttlMs,
  version,
});

/** The error the promise `fn()` rejects with (or `fn` throws); fails the test when it resolves. */
async function rejected(fn: () => unknown): Promise<Error & { code?: string }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Polls `cond` every 5 ms until true; throws after `ms`. */
async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('redis client loading', () => {
  it('names the package when node-redis is missing', () => {
    const requireFn = (() => {
      throw Object.assign(new Error("Cannot find module 'redis'"), { code: 'MODULE_NOT_FOUND' });
    }) as unknown as NodeRequire;
    const err = thrown(() => loadRedisClient(requireFn)) as MissingPeerDependencyError;
    expect(err).toBeInstanceOf(MissingPeerDependencyError);
    expect(err.code).toBe('ERR_ULTRA_PERF_MISSING_PEER');
    expect(err.message).toMatch(/'redis'.*npm install redis/);
  });

  it('checks options before connecting', () => {
    expect(() => readRedisLevelOptions(undefined)).toThrow(TypeError);
    expect(() => readRedisLevelOptions({ url: 'http://x' })).toThrow(/options\.url/);
    expect(() => readRedisLevelOptions({ url: 'redis://127.0.0.1:1', coherncy: 'pubsub' })).toThrow(/did you mean 'coherency'/);
    expect(() => readRedisLevelOptions({ url: 'redis://127.0.0.1:1', namespace: '' })).toThrow(/options\.namespace/);
    expect(() => readRedisLevelOptions({ url: 'redis://127.0.0.1:1', commandTimeoutMs: -1 })).toThrow(/options\.commandTimeoutMs/);
    expect(readRedisLevelOptions({ url: 'redis://127.0.0.1:1' })).toMatchObject({ namespace: 'ultra-perf', coherency: 'pubsub', commandTimeoutMs: 1000 });
  });

  it('rejects connect with CacheLevelUnavailableError when nothing listens', async () => {
    const err = await rejected(() => RedisLevel.connect({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 }));
    expect(err).toBeInstanceOf(CacheLevelUnavailableError);
    expect((err as CacheLevelUnavailableError).level).toBe('l3');
  });
});

describe.skipIf(!hasRedis)('RedisLevel on a real redis-server', () => {
  let redis: TestRedis;
  let raw: ReturnType<typeof createClient>;
  const open: RedisLevel<unknown>[] = [];
  const connect = async <V = unknown>(o: Partial<Parameters<typeof RedisLevel.connect<V>>[0]> = {}): Promise<RedisLevel<V>> => {
    const l = await RedisLevel.connect<V>({ url: redis.url, namespace: ns(), ...o });
    open.push(l as RedisLevel<unknown>);
    return l;
  };

  beforeAll(async () => {
    redis = await startRedis();
    raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    await raw.connect();
  });
  afterAll(async () => {
    await Promise.all(open.map((l) => l.close()));
    raw.destroy();
    await redis?.stop();
  });

  describe('entries', () => {
    it('round-trips values, negative entries and tags through the shared byte layout', async () => {
      const l = await connect<{ px: number; sym: string }>();
      const now = Date.now();
      await l.setEntry('a', { value: { px: 101.25, sym: 'AAPL' }, expiresAt: now + 1000, staleUntil: now + 5000, version: 7, tags: ['eq', 'us'] });
      await l.setEntry('missing', entry<never>(undefined));
      expect(await l.getEntry('a')).toEqual({ value: { px: 101.25, sym: 'AAPL' }, expiresAt: now + 1000, staleUntil: now + 5000, version: 7, tags: ['eq', 'us'] });
      const miss = await l.getEntry('missing');
      expect(miss).toBeDefined();
      expect(miss!.value).toBeUndefined();
      expect(await l.getEntry('never')).toBeUndefined();
      expect(await l.delete('a')).toBe(true);
      expect(await l.delete('a')).toBe(false);
      expect(await l.getEntry('a')).toBeUndefined();
      expect(l.stats()).toMatchObject({ name: 'l3', hits: 2, misses: 2, sets: 2, deletes: 2 });
    });

    it('getEntries is one MGET in key order and setEntries one pipeline', async () => {
      const l = await connect<number>({ codec: jsonCodec<number>() });
      await l.setEntries([
        ['x', entry(1)],
        ['y', entry(2)],
        ['z', entry<never>(undefined)],
      ]);
      const got = await l.getEntries(['z', 'nope', 'y', 'x', 'y']);
      expect(got.map((e) => (e === undefined ? 'absent' : e.value))).toEqual([undefined, 'absent', 2, 1, 2]);
      expect(await l.getEntries([])).toEqual([]);
      const before = Number((await raw.info('commandstats')).match(/cmdstat_mget:calls=(\d+)/)?.[1] ?? 0);
      await l.getEntries(['x', 'y', 'z']);
      const after = Number((await raw.info('commandstats')).match(/cmdstat_mget:calls=(\d+)/)?.[1] ?? 0);
      expect(after - before).toBe(1);
    });

    it('stores PX at staleUntil, checks staleUntil on read, and does not store an entry already past it', async () => {
      const clock = fakeClock(Date.now());
      const l = await connect<string>({ clock });
      const t = clock();
      await l.setEntry('k', { value: 'v', expiresAt: t + 1000, staleUntil: t + 3000, version: 0 });
      const pttl = await raw.pTTL(`${l.namespace}:v:k`);
      expect(pttl).toBeGreaterThan(2000);
      expect(pttl).toBeLessThanOrEqual(3000);
      clock.advance(1500); // stale but servable: the caller decides
      expect((await l.getEntry('k'))?.value).toBe('v');
      clock.advance(1500); // past staleUntil on our clock, although the key still lives on the server's
      expect(await raw.exists(`${l.namespace}:v:k`)).toBe(1);
      expect(await l.getEntry('k')).toBeUndefined();
      expect(l.stats().expirations).toBe(1);
      await l.setEntry('old', { value: 'x', expiresAt: clock() - 10, staleUntil: clock() - 1, version: 0 });
      expect(await raw.exists(`${l.namespace}:v:old`)).toBe(0);
      await l.setEntry('forever', { value: 'f', expiresAt: Infinity, staleUntil: Infinity, version: 0 });
      expect(await raw.pTTL(`${l.namespace}:v:forever`)).toBe(-1);
    });

    it('keeps namespaces apart, and clear() empties only its own', async () => {
      const a = await connect<string>();
      const b = await connect<string>();
      await a.setEntry('k', entry('from a'));
      await b.setEntry('k', entry('from b'));
      expect((await a.getEntry('k'))?.value).toBe('from a');
      expect((await b.getEntry('k'))?.value).toBe('from b');
      await a.setEntries(Array.from({ length: 2500 }, (_, i) => [`bulk${i}`, entry('x')] as const));
      await a.clear();
      expect(await a.getEntry('k')).toBeUndefined();
      expect(await a.getEntry('bulk2499')).toBeUndefined();
      expect((await b.getEntry('k'))?.value).toBe('from b');
    });

    it('refuses bad keys, entries and values with errors naming the argument', async () => {
      const l = await connect<unknown>();
      expect(((await rejected(() => l.getEntry(42 as never))) as Error).message).toMatch(/key/);
      expect(((await rejected(() => l.getEntry('k'.repeat(513)))) as Error).message).toMatch(/512.*\(length 513\)/s);
      expect(((await rejected(() => l.getEntries(['ok', 7 as never]))) as Error).message).toMatch(/keys\[1\]/);
      expect(((await rejected(() => l.setEntry('k', { value: 1, expiresAt: 10, staleUntil: 5, version: 0 }))) as Error).message).toMatch(/entry\.staleUntil/);
      expect(((await rejected(() => l.setEntry('k', { value: 1, expiresAt: 10, staleUntil: 10, version: -1 }))) as Error).message).toMatch(/entry\.version/);
      expect(((await rejected(() => l.setEntries([['k', null as never]]))) as Error).message).toMatch(/entries\[0\]\[1\]/);
      expect(((await rejected(() => l.setEntry('k', entry(Symbol('x'))))) as Error & { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
      expect(((await rejected(() => l.acquireLease('k', 0))) as Error).message).toMatch(/ttlMs/);
      expect(((await rejected(() => l.waitForLease('k', NaN))) as Error).message).toMatch(/timeoutMs/);
      expect(((await rejected(() => l.publishInvalidation(['k'], 1.5))) as Error).message).toMatch(/version/);
    });

    it('refuses a foreign value in its namespace with SourceFormatError naming the key', async () => {
      const l = await connect<unknown>();
      await raw.set(`${l.namespace}:v:foreign`, 'not an entry');
      const err = (await rejected(() => l.getEntry('foreign'))) as Error;
      expect(err.name).toBe('SourceFormatError');
      expect(err.message).toContain(`${l.namespace}:v:foreign`);
    });
  });

  describe('leases', () => {
    it('gives one holder the lease; a second gets null until it is released', async () => {
      const a = await connect();
      const b = await RedisLevel.connect({ url: redis.url, namespace: a.namespace });
      open.push(b);
      const ta = await a.acquireLease('k', 5000);
      expect(ta).toEqual(expect.any(String));
      expect(await b.acquireLease('k', 5000)).toBeNull();
      expect(await a.acquireLease('k', 5000)).toBeNull(); // not re-entrant either
      await a.releaseLease('k', ta!);
      expect(await b.acquireLease('k', 5000)).toEqual(expect.any(String));
    });

    it('expires with its ttl, and a late release by the old holder does not delete the new lease (compare-and-delete)', async () => {
      const a = await connect();
      const b = await RedisLevel.connect({ url: redis.url, namespace: a.namespace });
      open.push(b);
      const ta = await a.acquireLease('k', 30);
      await sleep(60);
      const tb = await b.acquireLease('k', 5000);
      expect(tb).not.toBeNull();
      await a.releaseLease('k', ta!);
      expect(await raw.get(`${a.namespace}:l:k`)).toBe(tb);
      expect(await a.acquireLease('k', 5000)).toBeNull();
    });

    it("waitForLease: 'loaded' when the holder stored a value, 'released' when it gave up, 'timeout' when it holds on", async () => {
      const a = await connect<number>();
      const b = await RedisLevel.connect<number>({ url: redis.url, namespace: a.namespace, leasePollMs: 10_000 });
      open.push(b as RedisLevel<unknown>);
      const t1 = await a.acquireLease('k1', 5000);
      const w1 = b.waitForLease('k1', 5000);
      await a.setEntry('k1', entry(1));
      await a.releaseLease('k1', t1!);
      expect(await w1).toBe('loaded');

      const t2 = await a.acquireLease('k2', 5000);
      const w2 = b.waitForLease('k2', 5000);
      await a.releaseLease('k2', t2!);
      expect(await w2).toBe('released');

      await a.acquireLease('k3', 5000);
      expect(await b.waitForLease('k3', 50)).toBe('timeout');
    });

    it('waitForLease falls back to polling when the holder dies without a notice', async () => {
      const a = await connect();
      const b = await RedisLevel.connect({ url: redis.url, namespace: a.namespace, leasePollMs: 10 });
      open.push(b);
      await a.acquireLease('k', 40); // never released: the key expires
      expect(await b.waitForLease('k', 5000)).toBe('released');
      expect(await b.waitForLease('not-held', 5000)).toBe('released');
    });
  });

  describe('invalidation', () => {
    it("pubsub: another instance hears { keys, version }; an instance ignores its own; clear() reaches others as null", async () => {
      const a = await connect();
      const b = await RedisLevel.connect({ url: redis.url, namespace: a.namespace });
      open.push(b);
      const heardA: unknown[] = [];
      const heardB: unknown[] = [];
      a.onInvalidate((keys, version) => heardA.push([keys, version]));
      const off = b.onInvalidate((keys, version) => heardB.push([keys, version]));
      await a.publishInvalidation(['x', 'y'], 3);
      await until(() => heardB.length === 1, 5000, 'b hearing a');
      expect(heardB[0]).toEqual([['x', 'y'], 3]);
      await a.clear();
      await until(() => heardB.length === 2, 5000, 'b hearing clear');
      expect(heardB[1]).toEqual([null, 0]);
      // malformed notices on the channel are counted and dropped
      await raw.publish(`${a.namespace}:invalidate`, 'garbage');
      await raw.publish(`${a.namespace}:invalidate`, JSON.stringify({ keys: [1], version: 1, origin: 'x' }));
      await b.publishInvalidation(['z'], 4);
      await until(() => heardA.length === 1, 5000, 'a hearing b');
      expect(heardA).toEqual([[['z'], 4]]);
      expect(a.stats().invalidationsIgnored).toBe(2);
      expect(b.stats().invalidationsIgnored).toBe(2);
      off();
      await a.publishInvalidation(['w'], 5);
      await b.publishInvalidation(['sync'], 6);
      await until(() => heardA.length === 2, 5000, 'a hearing b again');
      expect(heardB).toHaveLength(2);
    });

    it('a handler that throws becomes a process warning; the other handlers still run', async () => {
      const a = await connect();
      const b = await RedisLevel.connect({ url: redis.url, namespace: a.namespace });
      open.push(b);
      const warnings: Error[] = [];
      const onWarning = (w: Error): void => void ((w as Error & { code?: string }).code === 'ULTRA_PERF_CACHE_HANDLER' && warnings.push(w));
      process.on('warning', onWarning);
      try {
        const heard: unknown[] = [];
        b.onInvalidate(() => {
          throw new Error('handler bug');
        });
        b.onInvalidate((keys) => heard.push(keys));
        await a.publishInvalidation(['x'], 1);
        await until(() => heard.length === 1 && warnings.length === 1, 5000, 'the second handler and the warning');
        expect(warnings[0]!.message).toMatch(/onInvalidate handler threw: handler bug/);
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('tracking: a write through one instance reaches the other (RESP3 BCAST), not the writer (NOLOOP)', async () => {
      const a = await connect<number>({ coherency: 'tracking' });
      const b = await RedisLevel.connect<number>({ url: redis.url, namespace: a.namespace, coherency: 'tracking' });
      open.push(b as RedisLevel<unknown>);
      const heardA: unknown[] = [];
      const heardB: unknown[] = [];
      a.onInvalidate((keys) => heardA.push(keys));
      b.onInvalidate((keys) => heardB.push(keys));
      await a.setEntry('t', entry(1));
      await until(() => heardB.length === 1, 5000, 'b hearing a write');
      expect(heardB[0]).toEqual(['t']);
      await b.delete('t');
      await until(() => heardA.length === 1, 5000, 'a hearing b delete');
      expect(heardA[0]).toEqual(['t']);
      await b.setEntry('u', entry(2));
      await until(() => heardA.length === 2, 5000, 'a hearing b write');
      expect(heardB).toHaveLength(1);
    });

    it('reaches another process: a child writes, the parent hears the key and version', async () => {
      const l = await connect();
      const heard: unknown[] = [];
      l.onInvalidate((keys, version) => heard.push([keys, version]));
      const child = forkFleetChild();
      try {
        await child.request('init', { url: redis.url, namespace: l.namespace });
        await child.request('set', { key: 'fromChild', value: 'v2', version: 2 });
        await until(() => heard.length === 1, 5000, 'the child\'s invalidation');
        expect(heard[0]).toEqual([['fromChild'], 2]);
        expect((await l.getEntry('fromChild'))?.value).toBe('v2');
      } finally {
        await child.close();
      }
    });
  });

  describe('Redis killed mid-run', () => {
    it("rejects with CacheLevelUnavailableError, says 'down' once, then 'up' and invalidate(null) after restart", async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (r: unknown): void => void unhandled.push(r);
      process.on('unhandledRejection', onUnhandled);
      const l = await connect<number>({ commandTimeoutMs: 500 });
      const states: string[] = [];
      const invalidations: unknown[] = [];
      l.onStateChange((s) => states.push(s));
      l.onInvalidate((keys) => invalidations.push(keys));
      await l.setEntry('k', entry(1));
      try {
        // a stream of reads in flight while the server dies
        let stop = false;
        const outcomes: { ok: number; unavailable: number; other: unknown[] } = { ok: 0, unavailable: 0, other: [] };
        const reader = (async () => {
          while (!stop) {
            const batch = await Promise.allSettled(Array.from({ length: 20 }, () => l.getEntry('k')));
            for (const r of batch) {
              if (r.status === 'fulfilled') outcomes.ok++;
              else if (r.reason instanceof CacheLevelUnavailableError) outcomes.unavailable++;
              else outcomes.other.push(r.reason);
            }
            await sleep(1);
          }
        })();
        await sleep(50);
        await redis.kill();
        await until(() => states.length === 1, 5000, "'down'");
        // the server is dead until restart() below: a call that settles now was not queued for it
        const err = await rejected(() => l.getEntry('k'));
        expect(err).toBeInstanceOf(CacheLevelUnavailableError);
        expect(l.connected).toBe(false);
        expect(await l.waitForLease('k', 10_000)).toBe('released');
        await sleep(300); // reconnect attempts fail meanwhile: still one 'down'
        expect(states).toEqual(['down']);
        await redis.restart();
        await until(() => states.length === 2, 10_000, "'up'");
        expect(states).toEqual(['down', 'up']);
        expect(invalidations).toEqual([null]);
        expect(l.connected).toBe(true);
        stop = true;
        await reader;
        expect(outcomes.other).toEqual([]);
        expect(outcomes.ok).toBeGreaterThan(0);
        expect(outcomes.unavailable).toBeGreaterThan(0);
        expect(await l.getEntry('k')).toBeUndefined(); // the restarted server is empty
        await l.setEntry('k', entry(2));
        expect((await l.getEntry('k'))?.value).toBe(2);
        // pub/sub is back too: the subscriber resubscribed
        const b = await RedisLevel.connect({ url: redis.url, namespace: l.namespace });
        open.push(b);
        await b.publishInvalidation(['again'], 1);
        await until(() => invalidations.length === 2, 5000, 'a notice after reconnect');
        expect(invalidations[1]).toEqual(['again']);
        expect(l.stats()).toMatchObject({ downs: 1, reconnects: 1, connected: true });
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      await l.close();
      expect(await rejected(() => l.getEntry('k'))).toBeInstanceOf(CacheLevelUnavailableError);
      expect(unhandled).toEqual([]);
    });
  });

  describe('a hung server (SIGSTOP)', () => {
    it('rejects each call with CacheLevelUnavailableError after commandTimeoutMs, and answers again once it runs', async () => {
      const l = await connect<number>({ commandTimeoutMs: 200 });
      await l.setEntry('k', entry(1));
      const pid = Number((await raw.info('server')).match(/process_id:(\d+)/)![1]);
      process.kill(pid, 'SIGSTOP');
      try {
        // the server stays stopped until `finally`: each rejection is the watchdog's, not a reply
        const errs = await Promise.all([l.getEntry('k'), l.getEntries(['k']), l.setEntry('j', entry(2))].map((p) => p.then(() => null, (e: unknown) => e)));
        for (const e of errs) {
          expect(e).toBeInstanceOf(CacheLevelUnavailableError);
          expect((e as Error).message).toMatch(/commandTimeoutMs = 200/);
        }
        expect(l.stats().timeouts).toBe(3);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await until(() => l.connected, 5000, 'connected');
      expect((await l.getEntry('k'))?.value).toBe(1);
    });
  });

  describe('differential against a Map model on a fake clock', () => {
    type Op =
      | { op: 'set'; key: string; value: number | null; ttl: number; stale: number }
      | { op: 'get'; key: string }
      | { op: 'getMany'; keys: string[] }
      | { op: 'setMany'; keys: string[]; value: number; ttl: number }
      | { op: 'delete'; key: string }
      | { op: 'advance'; ms: number };
    const key = fc.constantFrom('a', 'b', 'c', 'd');
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('set' as const), key, value: fc.option(fc.integer(), { nil: null }), ttl: fc.constantFrom(0, 2000, 3500), stale: fc.constantFrom(0, 2000, 4000) }),
      fc.record({ op: fc.constant('get' as const), key }),
      fc.record({ op: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 4 }) }),
      fc.record({ op: fc.constant('setMany' as const), keys: fc.uniqueArray(key, { maxLength: 3 }), value: fc.integer(), ttl: fc.constantFrom(2000, 3500) }),
      fc.record({ op: fc.constant('delete' as const), key }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 4000 }) }),
    );

    it('a read never returns an overwritten, deleted or expired value', async () => {
      // The PX backstop runs on the server's real clock for (staleUntil - fake now) ms. TTLs here
      // leave either 0 ms (not stored) or at least 2,000 ms, and a run takes far less than that
      // in real time, so the backstop never removes an entry the fake clock still calls live.
      const clock = fakeClock(Date.now());
      const l = await connect<number>({ clock });
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          await l.clear();
          const model = new Map<string, CacheEntry<number>>();
          const look = (k: string): CacheEntry<number> | undefined => {
            const e = model.get(k);
            return e !== undefined && clock() < e.staleUntil ? e : undefined;
          };
          let version = 0;
          for (const o of ops) {
            switch (o.op) {
              case 'set': {
                const now = clock();
                const e: CacheEntry<number> = { value: o.value ?? undefined, expiresAt: now + o.ttl, staleUntil: now + o.ttl + o.stale, version: ++version };
                await l.setEntry(o.key, e);
                if (clock() < e.staleUntil) model.set(o.key, e);
                else model.delete(o.key);
                break;
              }
              case 'setMany': {
                const now = clock();
                const e: CacheEntry<number> = { value: o.value, expiresAt: now + o.ttl, staleUntil: now + o.ttl, version: ++version };
                await l.setEntries(o.keys.map((k) => [k, e] as const));
                for (const k of o.keys) model.set(k, e);
                break;
              }
              case 'get':
                expect(await l.getEntry(o.key)).toEqual(look(o.key));
                break;
              case 'getMany':
                expect(await l.getEntries(o.keys)).toEqual(o.keys.map(look));
                break;
              case 'delete':
                expect(await l.delete(o.key)).toBe(model.has(o.key));
                model.delete(o.key);
                break;
              case 'advance':
                clock.advance(o.ms);
                break;
            }
          }
        }),
        { numRuns: 40 },
      );
    });
  });
});
