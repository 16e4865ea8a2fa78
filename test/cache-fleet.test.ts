/**
 * The fleet (issue 16 items 1, 3, 4): several processes sharing one real redis-server through
 * RedisLevel — one loader call per key across processes, invalidation between processes, and
 * Redis killed mid-run. Children are test/helpers/cache-fleet-*.ts, driven over IPC.
 *
 * Runs once, not per backend: nothing here touches the native addon (Redis, IPC and TS only),
 * and each test forks 4 processes.
 */
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { L1Cache } from '../lib/cache/l1.js';
import { RedisLevel } from '../lib/cache/l3-redis.js';
import { TieredCache } from '../lib/cache/tiered.js';
import { type FleetChild, forkFleetChild } from './helpers/cache-fleet-parent.js';
import { type TestRedis, hasRedis, startRedis } from './helpers/redis.js';

let nsSeq = 0;
const ns = (): string => `fleet${process.pid}-${++nsSeq}`;

describe.runIf(process.env.ULTRA_PERF_BACKEND !== 'ts' && hasRedis)('a fleet of processes on one Redis', () => {
  let redis: TestRedis;
  const children: FleetChild[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => c.close()));
    await redis?.stop();
  });

  async function fleet(n: number, script?: string): Promise<FleetChild[]> {
    const out = Array.from({ length: n }, () => forkFleetChild(script));
    children.push(...out);
    return out;
  }

  it('4 processes × 50 concurrent lease-or-wait reads of one missing key make exactly 1 loader call (RedisLevel leases)', async () => {
    const procs = await fleet(4);
    const namespace = ns();
    await Promise.all(procs.map((p) => p.request('init', { url: redis.url, namespace })));
    const results = await Promise.all(
      procs.map((p) => p.request<{ loaderCalls: number; values: unknown[] }>('leaseOrWait', { key: 'hot', concurrency: 50, loadMs: 100 })),
    );
    const calls = results.reduce((n, r) => n + r.loaderCalls, 0);
    expect(calls).toBe(1);
    const values = results.flatMap((r) => r.values);
    expect(values).toHaveLength(200);
    expect(new Set(values).size).toBe(1);
    expect(String(values[0])).toMatch(/^loaded by \d+$/);
  });
});

const tieredChild = fileURLToPath(new URL('./helpers/cache-fleet-tiered.ts', import.meta.url));
type Outcome = { value: unknown } | { error: string; name: string };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms until true; throws after `ms`. */
async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe.runIf(process.env.ULTRA_PERF_BACKEND !== 'ts' && hasRedis)('a fleet of TieredCache processes (L1 + RedisLevel) on one Redis', () => {
  let redis: TestRedis;
  // One fleet for the suite (forking 4 tsx processes costs seconds): 4 processes, each with a
  // TieredCache (L1Cache + RedisLevel), loadTimeoutMs 200 and a stale-if-error window; each test
  // uses its own keys.
  let procs: FleetChild[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    procs = Array.from({ length: 4 }, () => forkFleetChild(tieredChild));
    const namespace = `tiered${process.pid}`;
    await Promise.all(procs.map((p) => p.request('init', { url: redis.url, namespace, loadTimeoutMs: 200, staleIfErrorMs: 60_000 })));
  });
  afterAll(async () => {
    await Promise.all(procs.map((c) => c.close()));
    await redis?.stop();
  });

  const getOrLoadAll = async (procs: FleetChild[], key: string, behaviour: 'ok' | 'throw' | 'hang', loadMs = 100) => {
    const perProcess = await Promise.all(procs.map((p) => p.request<{ loaderCalls: number; outcomes: Outcome[] }>('getOrLoad', { key, concurrency: 50, behaviour, loadMs })));
    return { loaderCalls: perProcess.reduce((n, x) => n + x.loaderCalls, 0), outcomes: perProcess.flatMap((x) => x.outcomes), perProcess };
  };

  /**
   * Every caller rejected: in a process that ran the loader, with the loader's own error; in one
   * that waited on another process's lease, with that same error (when it then loaded itself) or
   * with CacheLoadFailedElsewhereError (when it was told the holder's load failed; an Error object
   * does not cross processes).
   */
  const expectAllRejected = (perProcess: { loaderCalls: number; outcomes: Outcome[] }[], loaderError: Partial<Outcome>): void => {
    expect(perProcess.reduce((n, x) => n + x.loaderCalls, 0)).toBeGreaterThanOrEqual(1);
    for (const { loaderCalls, outcomes } of perProcess) {
      expect(outcomes).toHaveLength(50);
      for (const o of outcomes) {
        if (loaderCalls > 0 || !('name' in o) || o.name !== 'CacheLoadFailedElsewhereError') expect(o).toMatchObject(loaderError);
      }
    }
  };

  it('200 concurrent getOrLoad calls for one missing key over 4 processes make exactly 1 loader call', async () => {
    const { loaderCalls, outcomes } = await getOrLoadAll(procs, 'hot', 'ok');
    expect(loaderCalls).toBe(1);
    expect(outcomes).toHaveLength(200);
    const values = new Set(outcomes.map((o) => ('value' in o ? o.value : `error ${o.error}`)));
    expect(values.size).toBe(1);
    expect([...values][0]).toMatch(/^loaded by \d+$/);
  });

  it("a loader that throws, with nothing stale: every caller in every process rejects (the loader's error; or CacheLoadFailedElsewhereError where it waited on another process)", async () => {
    const { perProcess } = await getOrLoadAll(procs, 'bad', 'throw');
    expectAllRejected(perProcess, { error: 'boom loading bad', name: 'Error' });
  });

  it('a loader that throws or runs past loadTimeoutMs, with a stale value: every caller gets the stale value', async () => {
    await procs[0]!.request('set', { key: 'old', value: 'stale but good', ttlMs: 1 });
    await sleep(20);
    for (const behaviour of ['throw', 'hang'] as const) {
      const { outcomes } = await getOrLoadAll(procs, 'old', behaviour);
      expect(outcomes).toHaveLength(200);
      for (const o of outcomes) expect(o).toEqual({ value: 'stale but good' });
    }
  });

  it('a loader past loadTimeoutMs, with nothing stale: every caller rejects (CacheLoadTimeoutError; or CacheLoadFailedElsewhereError where it waited on another process)', async () => {
    const { perProcess } = await getOrLoadAll(procs, 'slow', 'hang');
    expectAllRejected(perProcess, { name: 'CacheLoadTimeoutError' });
  });

  it("a write in one process invalidates the others' L1: once the invalidation is delivered, no read returns the overwritten value", async () => {
    const heard: { from: number; keys: unknown; after: unknown }[] = [];
    procs.forEach((p, i) => p.onMessage((m) => m.op === 'invalidated' && heard.push({ from: i, keys: m.keys, after: m.after })));
    for (let round = 1; round <= 20; round++) {
      const writer = procs[round % 4]!;
      const old = `v${round - 1}`;
      await procs[0]!.request('set', { key: 'k', value: old });
      // every process reads it into its L1
      for (const p of procs) {
        const v = await p.request('getOrLoad', { key: 'k', concurrency: 1, behaviour: 'ok', loadMs: 0 });
        expect((v as { outcomes: Outcome[] }).outcomes[0]).toEqual({ value: old });
      }
      heard.length = 0;
      await writer.request('set', { key: 'k', value: `v${round}` });
      await until(() => heard.filter((h) => (h.keys as string[])?.includes('k')).length >= 3, 5000, 'the other three processes to hear the write');
      for (const h of heard) expect(h.after).not.toContain(old);
      for (const p of procs) expect(await p.request('getSync', { key: 'k' })).not.toBe(old);
    }
  });
});

describe.runIf(process.env.ULTRA_PERF_BACKEND !== 'ts' && hasRedis)('TieredCache (L1Cache + RedisLevel) with Redis killed mid-run', () => {
  it('keeps answering from L1 with one warning, no caller sees an exception, and drops L1 once reconnected', async () => {
    const redis = await startRedis();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if ((w as Error & { code?: string }).code === 'ULTRA_PERF_CACHE_LEVEL_DOWN') warnings.push(w);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown): void => void unhandled.push(r);
    process.on('warning', onWarning);
    process.on('unhandledRejection', onUnhandled);
    const l3 = await RedisLevel.connect<string>({ url: redis.url, namespace: 'killed', commandTimeoutMs: 300 });
    const cache = new TieredCache<string>({ name: 'killed', l1: new L1Cache<string>({ maxEntries: 100 }), l3 });
    const states: string[] = [];
    l3.onStateChange((s) => states.push(s));
    try {
      for (let i = 0; i < 20; i++) await cache.set(`k${i}`, `v${i}`);
      let stop = false;
      const errors: unknown[] = [];
      const wrong: unknown[] = [];
      let answered = 0;
      const reader = (async () => {
        for (let i = 0; !stop; i++) {
          const k = i % 20;
          // Values are checked up to the reconnect: it drops L1, and the restarted Redis is empty.
          const before = !states.includes('up');
          const check = (key: string, want: unknown) => (v: unknown) => before && v !== want && wrong.push([key, v]);
          const calls = [
            cache.get(`k${k}`).then(check(`k${k}`, `v${k}`)),
            cache.get(`absent${k}`).then(check(`absent${k}`, undefined)),
            cache.getOrLoad(`loaded${k}`, async () => `L${k}`).then(check(`loaded${k}`, `L${k}`)),
          ];
          check(`getSync k${k}`, `v${k}`)(cache.getSync(`k${k}`));
          const settled = await Promise.allSettled(calls);
          for (const r of settled) if (r.status === 'rejected') errors.push(r.reason);
          answered += settled.length;
          await sleep(1);
        }
      })();
      await sleep(50);
      await redis.kill();
      await until(() => states.includes('down'), 5000, "L3 'down'");
      const before = answered;
      await sleep(500);
      expect(answered).toBeGreaterThan(before); // still answering while Redis is gone
      await redis.restart();
      await until(() => states.includes('up'), 10_000, "L3 'up'");
      await sleep(50);
      stop = true;
      await reader;
      expect(errors).toEqual([]);
      expect(wrong).toEqual([]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toMatch(/l3/);
      // Invalidations may have been missed while down: the reconnect dropped the local copies,
      // and the restarted (empty) Redis is what answers now.
      expect(cache.getSync('k0')).toBeUndefined();
      expect(await cache.get('k0')).toBeUndefined();
      await cache.set('k0', 'after');
      expect(await cache.get('k0')).toBe('after');
      expect(await l3.getEntry('k0')).toMatchObject({ value: 'after' });
      expect(unhandled).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      process.off('unhandledRejection', onUnhandled);
      await cache.close();
      await redis.stop();
    }
  });
});
