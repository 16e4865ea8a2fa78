/**
 * The fleet (issue 16 items 1, 3, 4): several processes sharing one real redis-server through
 * RedisLevel — one loader call per key across processes, invalidation between processes, and
 * Redis killed mid-run. Children are test/helpers/cache-fleet-*.ts, driven over IPC.
 *
 * Runs once, not per backend: nothing here touches the native addon (Redis, IPC and TS only),
 * and each test forks 4 processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
