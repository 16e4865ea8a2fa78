/**
 * cache/* routes over a real listening server: cache/status, cache/warm-intelligent and
 * cache/access-patterns, with the plugin's default cache and with a user's TieredCache
 * (L1 + L2; no Redis needed), good and bad input, caps and the no-loader refusal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { L1Cache } from '../lib/cache/l1.js';
import { SharedCache } from '../lib/cache/l2.js';
import { TieredCache } from '../lib/cache/tiered.js';
import { CacheWarmer } from '../lib/cache/warmer.js';
import type { ServeOptions, ServerContext } from '../lib/server/index.js';
import { type TestServer, startServer as startTestServer } from './helpers/server.js';

/**
 * Load shedding off (core's suite tests it): on the shared 2-core machine the event-loop delay
 * right after start-up (imports, other suites) can pass its 1 s limit and turn the first
 * second's answers into legitimate 503s; these suites are about what the routes answer.
 */
function startServer(options: ServeOptions = {}): Promise<TestServer> {
  return startTestServer({ ...options, limits: { maxEventLoopDelayMs: 0, ...options.limits } });
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function call(url: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, body: text === '' ? undefined : JSON.parse(text), headers: r.headers };
}

describe('cache routes, plugin default cache', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s.close();
  });

  it('cache/status reports the in-process L1-only TieredCache per level', async () => {
    const r = await call(`${s.api}/cache/status`);
    expect(r.status).toBe(200);
    expect(r.body.source).toBe('plugin-default');
    expect(r.body.levelsConfigured).toBe(1);
    expect(r.body.present).toEqual({ l1: true, l2: false, l3: false, l4: false });
    expect(r.body.levels.map((l: { name: string }) => l.name)).toEqual(['l1']);
    expect(r.body.levels[0]).toMatchObject({ up: true, capacity: 1000, size: 0, hits: 0, misses: 0, hitRatio: 0 });
    expect(r.body.levels[0].getLatency).toEqual({ count: 0 });
    expect(r.body.l1Policy).toMatchObject({ windowSize: 0, probationSize: 0, protectedSize: 0 });
    expect(r.body.l1Policy.windowMaximum).toBeGreaterThanOrEqual(1);
    expect(r.body.warmer).toMatchObject({ accesses: 0, loaderConfigured: false, warming: false });
    expect(r.body.defaultTtlMs).toBeUndefined(); // Infinity: no expiry, left out
    expect(r.body.coherency).toBe('none');
  });

  it('cache/warm-intelligent without a warmLoader answers 409 and invents nothing', async () => {
    for (const init of [{ method: 'POST' }, json({}), json({ keys: ['a', 'b'] })]) {
      const r = await call(`${s.api}/cache/warm-intelligent`, init);
      expect(r.status).toBe(409);
      expect(r.body.code).toBe('ERR_ULTRA_PERF_HTTP_NO_WARM_LOADER');
      expect(r.body.message).toMatch(/warmLoader/);
    }
    const status = await call(`${s.api}/cache/status`);
    expect(status.body.levels[0].size).toBe(0);
    expect(status.body.loaderCalls).toBe(0);
  });

  it('cache/access-patterns answers an empty analysis before any access is recorded', async () => {
    const r = await call(`${s.api}/cache/access-patterns`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accesses: 0, limit: 100, hotKeys: [], successors: [], periodic: [], l1HotKeys: [] });
    expect(r.body.hitRatioTrend.intervalMs).toBe(1000);
    expect(Array.isArray(r.body.hitRatioTrend.samples)).toBe(true);
  });

  it('cache/access-patterns refuses a limit past limits.maxPatternKeys (422) and malformed ones (400)', async () => {
    const over = await call(`${s.api}/cache/access-patterns?limit=1001`);
    expect(over.status).toBe(422);
    expect(over.body.message).toMatch(/limit: at most 1000 \(limits\.maxPatternKeys\), received 1001/);
    for (const q of ['limit=0', 'limit=-3', 'limit=abc', 'limit=1.5', 'limit=']) {
      const r = await call(`${s.api}/cache/access-patterns?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.code).toBe('FST_ERR_VALIDATION');
    }
  });
});

describe('cache routes, a user TieredCache (L1 + L2) with a warmer and a loader', () => {
  let s: TestServer;
  let cache: TieredCache<unknown>;
  let warmer: CacheWarmer<unknown>;
  const loads: string[] = [];
  let release: (() => void) | undefined;

  beforeAll(async () => {
    const l1 = new L1Cache<unknown>({ maxEntries: 256 });
    cache = new TieredCache<unknown>({ name: 'user-cache', l1, l2: SharedCache.create({ maxEntries: 1024 }) });
    warmer = new CacheWarmer<unknown>();
    const loader = async (key: string): Promise<unknown> => {
      loads.push(key);
      if (key === 'boom') throw Object.assign(new Error('backend down'), { code: 'ERR_TEST_BACKEND' });
      if (key.startsWith('missing')) return undefined;
      if (key.startsWith('slow')) await new Promise<void>((resolve) => (release = resolve));
      return { value: key };
    };
    s = await startServer({ cache, warmer, warmLoader: loader, limits: { maxWarmKeys: 50, warmTimeoutMs: 300, maxPatternKeys: 20 } });
    // a recorded stream: k0 hottest, k0 → k1 always
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) {
        if (i <= round % 10) {
          warmer.recordAccess(`k${i}`);
        }
      }
    }
    await cache.get('absent'); // one miss at every level
  });
  afterAll(async () => {
    release?.();
    await s.close();
    await cache.close();
  });

  it('cache/status reports both levels, the lookups and the warmer', async () => {
    const r = await call(`${s.api}/cache/status`);
    expect(r.status).toBe(200);
    expect(r.body.source).toBe('user');
    expect(r.body.name).toBe('user-cache');
    expect(r.body.levelsConfigured).toBe(2);
    expect(r.body.present).toEqual({ l1: true, l2: true, l3: false, l4: false });
    expect(r.body.levels.map((l: { name: string }) => l.name)).toEqual(['l1', 'l2']);
    expect(r.body.levels[1].capacity).toBeGreaterThanOrEqual(1024);
    expect(r.body.misses).toBe(cache.stats().misses);
    expect(r.body.warmer.accesses).toBe(warmer.stats().accesses);
    expect(r.body.warmer.loaderConfigured).toBe(true);
  });

  it('cache/access-patterns ranks the recorded keys and their successors', async () => {
    const r = await call(`${s.api}/cache/access-patterns?limit=5`);
    expect(r.status).toBe(200);
    expect(r.body.accesses).toBe(warmer.stats().accesses);
    expect(r.body.limit).toBe(5);
    expect(r.body.hotKeys).toHaveLength(5);
    expect(r.body.hotKeys[0].key).toBe('k0');
    expect(r.body.hotKeys[0].count).toBeGreaterThanOrEqual(20);
    const shares = r.body.hotKeys.map((h: { share: number }) => h.share);
    expect(shares).toEqual([...shares].sort((a, b) => b - a));
    const k0 = r.body.successors.find((row: { key: string }) => row.key === 'k0');
    expect(k0.next[0]).toMatchObject({ key: 'k1' });
    expect(k0.next[0].probability).toBeGreaterThan(0.5);
    expect(r.body.l1HotKeys).toBeUndefined(); // a user's TieredCache keeps its L1 private
    const capped = await call(`${s.api}/cache/access-patterns?limit=21`);
    expect(capped.status).toBe(422);
    expect(capped.body.message).toMatch(/limits\.maxPatternKeys/);
  });

  it('cache/warm-intelligent loads the hot set through the loader', async () => {
    loads.length = 0;
    const r = await call(`${s.api}/cache/warm-intelligent`, json({ maxWarmingKeys: 10 }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ warmed_keys: 10, candidateKeys: 10, maxWarmingKeys: 10, failedKeys: 0, timedOutKeys: 0, deadlineReached: false, order: 'hottest-last' });
    expect(r.body.warming_time_ms).toBeGreaterThanOrEqual(0);
    expect(new Set(loads)).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `k${i}`)));
    expect(loads.at(-1)).toBe('k0'); // hottest last
    expect(cache.getSync('k3')).toEqual({ value: 'k3' });
    const status = await call(`${s.api}/cache/status`);
    expect(status.body.warmer.lastWarm).toMatchObject({ warmed_keys: 10 });
    expect(status.body.levels[0].size).toBeGreaterThanOrEqual(10);
  });

  it('a bare POST warms with the defaults (the seed call); keys already cached are not loaded again', async () => {
    loads.length = 0;
    const r = await call(`${s.api}/cache/warm-intelligent`, { method: 'POST' });
    expect(r.status).toBe(200);
    expect(r.body.maxWarmingKeys).toBe(50); // min(500, limits.maxWarmKeys)
    expect(r.body.candidateKeys).toBe(10);
    expect(loads).toEqual([]); // TieredCache.getOrLoad found them
    expect(r.body.warmed_keys).toBe(10);
  });

  it('given keys: loader failures, not-found and successes are counted, errors named', async () => {
    const r = await call(`${s.api}/cache/warm-intelligent`, json({ keys: ['boom', 'missing-1', 'fresh'], order: 'hottest-first', ttlMs: 60_000 }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ warmed_keys: 1, failedKeys: 1, notFoundKeys: 1, candidateKeys: 3, order: 'hottest-first' });
    expect(r.body.errors).toEqual([{ key: 'boom', code: 'ERR_TEST_BACKEND', message: 'backend down' }]);
    expect(cache.getSync('fresh')).toEqual({ value: 'fresh' });
  });

  it('a load past limits.warmTimeoutMs is abandoned and counted; a second run meanwhile gets 409', async () => {
    const first = call(`${s.api}/cache/warm-intelligent`, json({ keys: ['slow-1', 'quick-1'] }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await call(`${s.api}/cache/warm-intelligent`, json({ keys: ['quick-2'] }));
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('ERR_ULTRA_PERF_HTTP_WARM_RUNNING');
    const r = await first;
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ deadlineReached: true, timedOutKeys: 1, failedKeys: 1, warmed_keys: 1 });
    expect(r.body.errors[0]).toMatchObject({ key: 'slow-1', code: 'ERR_ULTRA_PERF_HTTP_WARM_DEADLINE' });
    expect(r.body.errors[0].message).toMatch(/limits\.warmTimeoutMs \(300 ms\)/);
    release?.();
  });

  it('caps: maxWarmingKeys past limits.maxWarmKeys is 422, more keys than it is 413, both naming the cap', async () => {
    const over = await call(`${s.api}/cache/warm-intelligent`, json({ maxWarmingKeys: 51 }));
    expect(over.status).toBe(422);
    expect(over.body.message).toBe('maxWarmingKeys: at most 50 (limits.maxWarmKeys), received 51');
    const keys = Array.from({ length: 51 }, (_, i) => `x${i}`);
    const big = await call(`${s.api}/cache/warm-intelligent`, json({ keys }));
    expect(big.status).toBe(413);
    expect(big.body.message).toBe('keys holds 51 keys; the cap is 50');
  });

  it('bad bodies are 400 (schema) or 422 (reserved keys), never 5xx', async () => {
    const bad: unknown[] = [
      { maxWarmingKeys: -1 },
      { maxWarmingKeys: 'many' },
      { maxWarmingKeys: 2.5 },
      { keys: [''] },
      { keys: ['x'.repeat(513)] },
      { order: 'random' },
      { ttlMs: -5 },
      [1, 2],
    ];
    for (const body of bad) {
      const r = await call(`${s.api}/cache/warm-intelligent`, json(body));
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    const reserved = await call(`${s.api}/cache/warm-intelligent`, json({ keys: ['ok', '\u0000tag:x'] }));
    expect(reserved.status).toBe(422);
    expect(reserved.body.message).toMatch(/^keys\[1\]: /);
    const notJson = await call(`${s.api}/cache/warm-intelligent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"maxWarmingKeys":' });
    expect(notJson.status).toBe(400);
  });
});

describe('cache plugin options are checked at registration', () => {
  it('a cache that is not a TieredCache, a warmer or loader of the wrong type is refused naming the option', async () => {
    await expect(startServer({ cache: {} as never })).rejects.toThrow(/options\.cache/);
    await expect(startServer({ warmer: { warm: 1 } as never })).rejects.toThrow(/options\.warmer/);
    await expect(startServer({ warmLoader: 'load' as never })).rejects.toThrow(/options\.warmLoader/);
  });
});

describe('the advanced_caching component and the limits the cache routes check', () => {
  it('status/comprehensive carries the measured cache report (cache_levels is the number configured)', async () => {
    let ctx: ServerContext | undefined;
    const cache = new TieredCache<unknown>({ name: 'two-levels', l1: new L1Cache<unknown>(), l2: SharedCache.create({ maxEntries: 64 }) });
    const s = await startServer({ cache, routes: [(_app, c) => void (ctx = c)] });
    try {
      const idle = ctx!.components.get('advanced_caching')!();
      expect(idle).toMatchObject({ health: 'idle', cache_levels: 2, levels: ['l1', 'l2'], levels_down: 0, hits: 0, source: 'user' });
      await cache.set('a', 1);
      cache.getSync('a');
      cache.getSync('b');
      await new Promise((resolve) => setTimeout(resolve, 150)); // past the report's 100 ms reuse
      const r = await call(`${s.api}/status/comprehensive`);
      expect(r.status).toBe(200);
      expect(r.body.system_info.advanced_caching).toMatchObject({ health: 'ok', cache_levels: 2, hits: 1, misses: 1, hit_ratio: 0.5, entries: 2 });
    } finally {
      await s.close();
      await cache.close();
    }
  });

  it('a warmTimeoutMs the handler timeout would cut off is refused at registration', async () => {
    await expect(startServer({ limits: { warmTimeoutMs: 10_000 } })).rejects.toMatchObject({
      code: 'ERR_ULTRA_PERF_HTTP_BAD_LIMIT',
      message: 'Expected a value that stays below limits.handlerTimeoutMs (10000) for limits.warmTimeoutMs but received 10000',
    });
  });

  it('a lowered handlerTimeoutMs scales the default warmTimeoutMs down with it; a set one must fit', async () => {
    const { resolveLimits } = await import('../lib/server/limits.js');
    expect(resolveLimits({ handlerTimeoutMs: 300 }).warmTimeoutMs).toBe(150);
    expect(() => resolveLimits({ handlerTimeoutMs: 300, warmTimeoutMs: 300 })).toThrow(/limits\.warmTimeoutMs but received 300/);
    // A raised syncWaitMs takes the default measurement budget down with it (pings, then the codec job's wait).
    expect(resolveLimits({ syncWaitMs: 8000 }).measureBudgetMs).toBe(1999);
    expect(() => resolveLimits({ syncWaitMs: 8000, measureBudgetMs: 2000 })).toThrow(/limits\.measureBudgetMs but received 2000/);
  });
});
