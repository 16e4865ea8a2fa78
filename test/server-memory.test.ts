/**
 * memory/* routes against a real listening server: process and heap status with GC pauses,
 * pools and allocators created over HTTP (the library's checks as 422, bytes per pool and in
 * all as 413, count as 409, 404 after delete), the measured exercise (get/return time, hit
 * ratio), and gc-optimize (409 without global.gc, a real collection with it, nothing faked).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kDefaultLimits } from '../lib/server/index.js';
import { call, expectError } from './helpers/api-call.js';
import { startServer, type TestServer } from './helpers/server.js';


// Load shedding off: these suites test the routes; on a loaded machine the plugin's own start-up
// reads as event-loop delay in the first sample, and the API answers 503 for a second
// (server-core tests shedding itself).
const kNoShedding = { maxEventLoopDelayMs: 0 } as const;
const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';

describe('memory/status', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: kNoShedding });
  });
  afterAll(() => server.close());

  it('reports process memory, heap spaces, GC pauses and the pools', async () => {
    const { status, body } = await call(server, 'GET', '/memory/status');
    expect(status).toBe(200);
    expect(body.process.rssBytes).toBeGreaterThan(0);
    expect(body.process.heapUsedBytes).toBeGreaterThan(0);
    expect(body.heap.heapSizeLimitBytes).toBeGreaterThan(body.heap.usedHeapSizeBytes);
    expect(body.heapSpaces.map((s: { name: string }) => s.name)).toContain('old_space');
    expect(body.gc.monitoredMs).toBeGreaterThanOrEqual(0);
    expect(Object.keys(body.gc.byKind)).toEqual(['minor', 'major', 'incremental', 'weakcb']);
    expect(body.gc.total.count).toBeGreaterThanOrEqual(body.gc.byKind.minor.count);
    expect(body.gc.exposeGc).toBe(exposed);
    expect(body.pools).toEqual({
      count: 0,
      max: kDefaultLimits.maxObjectsPerKind,
      totalBytes: 0,
      maxTotalBytes: kDefaultLimits.maxPoolBytesTotal,
      maxBytesPerPool: kDefaultLimits.maxPoolBytes,
      pools: [],
    });
  });

  it('reports memory_optimization to status/comprehensive with measured fields', async () => {
    const { status, body } = await call(server, 'GET', '/status/comprehensive');
    expect(status).toBe(200);
    const report = body.system_info.memory_optimization;
    expect(report).toMatchObject({ health: 'ok', expose_gc: exposed, pools: 0, pool_bytes: 0 });
    expect(typeof report.gc_optimized).toBe('boolean');
    expect(report.heap_used_bytes).toBeGreaterThan(0);
    expect(report.heap_limit_bytes).toBeGreaterThan(report.heap_used_bytes);
  });
});

describe('memory/create-pool and memory/pools', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: { ...kNoShedding, maxObjectsPerKind: 4, maxPoolBytes: 1 << 20, maxPoolBytesTotal: (3 << 20) / 2, maxPoolExerciseIterations: 5_000 } });
  });
  afterAll(() => server.close());

  async function create(body: unknown) {
    const answer = await call(server, 'POST', '/memory/create-pool', body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.headers.get('location')).toBe(answer.body.location);
    return answer.body;
  }
  const remove = async (id: string) => expect((await call(server, 'DELETE', `/memory/pools/${id}`)).status).toBe(204);

  it('creates an object pool and measures get time, return time and hit ratio', async () => {
    const pool = await create({ kind: 'object-pool', objectType: 'order', maxSize: 100, initialSize: 10 });
    expect(pool).toMatchObject({ kind: 'object-pool', objectType: 'order', backend: 'ts', shared: false, hits: 0, misses: 0, exercises: 0 });
    expect(pool.bytesPerObject).toBeGreaterThan(0);
    expect(pool.capacityBytes).toBe(100 * pool.bytesPerObject);
    expect(pool.stats).toMatchObject({ created: 10, available: 10 });

    const warm = await call(server, 'POST', `/memory/pools/${pool.id}/exercise`, { iterations: 1000, hold: 10 });
    expect(warm.status, JSON.stringify(warm.body)).toBe(200);
    expect(warm.body).toMatchObject({ kind: 'object-pool', unit: 'ns', iterations: 1000, hold: 10, hits: 1000, misses: 0, hitRatio: 1 });
    expect(warm.body.get.p50Ns).toBeLessThanOrEqual(warm.body.get.p99Ns);
    expect(warm.body.return.p99Ns).toBeLessThanOrEqual(warm.body.return.maxNs);

    // Holding more than the pool has makes it create (misses) and drop past maxSize.
    const cold = await call(server, 'POST', `/memory/pools/${pool.id}/exercise`, { iterations: 300, hold: 150 });
    expect(cold.body.hits + cold.body.misses).toBe(300);
    expect(cold.body.misses).toBeGreaterThan(0);
    // exactly: round 1 finds the 10 kept objects (10 hits, 140 made), the release keeps 100 and drops 50;
    // round 2 finds those 100 and makes 50 (its release drops 50 more)
    expect(cold.body).toMatchObject({ hits: 110, misses: 190 });
    expect(cold.body.pool.stats.dropped).toBe(100);
    expect(cold.body.hitRatio).toBeCloseTo(cold.body.hits / 300, 12);
    expect(cold.body.pool.stats.dropped).toBeGreaterThan(0);
    expect(cold.body.pool).toMatchObject({ exercises: 2, hits: 1000 + cold.body.hits, misses: cold.body.misses });

    const one = await call(server, 'GET', `/memory/pools/${pool.id}`);
    expect(one.body).toMatchObject({ id: pool.id, exercises: 2 });
    await remove(pool.id);
    expectError(await call(server, 'GET', `/memory/pools/${pool.id}`), 404, pool.id);
    expectError(await call(server, 'DELETE', `/memory/pools/${pool.id}`), 404, pool.id);
    expectError(await call(server, 'POST', `/memory/pools/${pool.id}/exercise`, {}), 404, pool.id);
  });

  it.each(['market-data', 'list', 'dictionary'])('pools %s objects', async (objectType) => {
    const pool = await create({ kind: 'object-pool', objectType, maxSize: 50 });
    const run = await call(server, 'POST', `/memory/pools/${pool.id}/exercise`, { iterations: 200 });
    expect(run.body).toMatchObject({ iterations: 200, hits: 199, misses: 1 });
    await remove(pool.id);
  });

  it('creates each allocator and exercises it; a full one counts misses', async () => {
    const slab = await create({ kind: 'slab', slotBytes: 64, slots: 16 });
    expect(slab.stats).toMatchObject({ slotBytes: 64, slots: 16, used: 0, free: 16 });
    expect(slab.capacityBytes).toBe(slab.stats.bytes);
    const full = await call(server, 'POST', `/memory/pools/${slab.id}/exercise`, { iterations: 40, hold: 20 });
    expect(full.body).toMatchObject({ iterations: 40, hits: 32, misses: 8, hitRatio: 0.8 });
    expect(full.body.pool.stats.used).toBe(0);
    expectError(await call(server, 'POST', `/memory/pools/${slab.id}/exercise`, { allocBytes: 8 }), 422, 'allocBytes');
    await remove(slab.id);

    const buddy = await create({ kind: 'buddy', bytes: 1 << 16, minBlock: 64 });
    const b = await call(server, 'POST', `/memory/pools/${buddy.id}/exercise`, { iterations: 100, hold: 10, allocBytes: 300 });
    expect(b.body).toMatchObject({ hits: 100, misses: 0 });
    expect(b.body.pool.stats).toMatchObject({ used: 0, liveBlocks: 0 });
    expectError(await call(server, 'POST', `/memory/pools/${buddy.id}/exercise`, { allocBytes: 1 << 20 }), 422, 'size');
    await remove(buddy.id);

    const ring = await create({ kind: 'ring', bytes: 4096, shared: true });
    expect(ring.shared).toBe(true);
    const r = await call(server, 'POST', `/memory/pools/${ring.id}/exercise`, { iterations: 100, hold: 4 });
    expect(r.body).toMatchObject({ hits: 100, misses: 0 });
    expect(r.body.pool.stats.live).toBe(0);
    await remove(ring.id);

    const stack = await create({ kind: 'stack', bytes: 1024 });
    const s = await call(server, 'POST', `/memory/pools/${stack.id}/exercise`, { iterations: 64, hold: 32, allocBytes: 64 });
    expect(s.body).toMatchObject({ hits: 32, misses: 32 });
    expect(s.body.pool.stats).toMatchObject({ used: 0, highWater: 1024 });
    await remove(stack.id);
  });

  it("answers the library's own checks as 422 and the schema's as 400", async () => {
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'buddy', bytes: 1000, minBlock: 64 }), 422, 'bytes', '1000');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'slab', slotBytes: 0, slots: 4 }), 422, 'slotBytes');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'slab', slotBytes: 64 }), 422, 'slots');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'stack', bytes: 12 }), 422, 'bytes');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'object-pool' }), 422, 'maxSize', 'required');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'object-pool', maxSize: 5, initialSize: 6 }), 422, 'initialSize');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'ring', bytes: 4096, slots: 3 }), 422, 'slots', 'not an option of a ring');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'object-pool', maxSize: 5, backend: 'native' }), 422, 'backend');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'heap', bytes: 64 }), 400, 'must be one of: object-pool, slab, buddy, ring, stack');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'object-pool', objectType: 'function', maxSize: 1 }), 400, 'must be one of: order');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'slab', slotBytes: 'big', slots: 4 }), 400, 'slotBytes');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'slab', slotBytes: 64, slots: 4, shared: 'yes' }), 400, 'shared');
    expectError(await call(server, 'POST', '/memory/create-pool', {}), 400, 'kind');
    expect((await call(server, 'GET', '/memory/pools')).body.count).toBe(0);
  });

  it('caps bytes per pool and in all (413 naming the cap), and count (409)', async () => {
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'stack', bytes: 2 << 20 }), 413, 'the cap is 1048576');
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'object-pool', maxSize: 1e7 }), 413, 'the cap is 1048576');
    const a = await create({ kind: 'stack', bytes: 1 << 19 });
    const b = await create({ kind: 'stack', bytes: 1 << 19 });
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'stack', bytes: 1 << 19 }), 413, 'limits.maxPoolBytesTotal', String((3 << 20) / 2));
    const list = await call(server, 'GET', '/memory/pools');
    expect(list.body).toMatchObject({ count: 2, totalBytes: a.capacityBytes + b.capacityBytes, maxTotalBytes: (3 << 20) / 2, maxBytesPerPool: 1 << 20 });
    await remove(b.id);
    const c = await create({ kind: 'slab', slotBytes: 8, slots: 8 });
    const d = await create({ kind: 'slab', slotBytes: 8, slots: 8 });
    const e = await create({ kind: 'slab', slotBytes: 8, slots: 8 });
    expectError(await call(server, 'POST', '/memory/create-pool', { kind: 'slab', slotBytes: 8, slots: 8 }), 409, 'delete one first');
    for (const pool of [a, c, d, e]) await remove(pool.id);
  });

  it('caps exercise iterations (422 naming the cap) and checks its body', async () => {
    const pool = await create({ kind: 'object-pool', maxSize: 10 });
    expectError(await call(server, 'POST', `/memory/pools/${pool.id}/exercise`, { iterations: 5_001 }), 422, 'the cap is 5000');
    expectError(await call(server, 'POST', `/memory/pools/${pool.id}/exercise`, { iterations: 0 }), 400, 'iterations');
    expectError(await call(server, 'POST', `/memory/pools/${pool.id}/exercise`, { hold: 'all' }), 400, 'hold');
    expect((await call(server, 'POST', `/memory/pools/${pool.id}/exercise`, { iterations: 5_000 })).status).toBe(200);
    await remove(pool.id);
  });
});

describe('memory/gc-optimize', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: kNoShedding });
  });
  afterAll(() => server.close());

  it.skipIf(exposed)('says why it cannot collect without --expose-gc, and refuses what needs it (409)', async () => {
    const { status, body } = await call(server, 'POST', '/memory/gc-optimize', {});
    expect(status).toBe(200);
    expect(body.exposeGc).toBe(false);
    expect(body.collection).toMatchObject({ requested: 'auto', ran: false, type: null, durationMs: 0 });
    expect(body.collection.reason).toContain('--expose-gc');
    expect(body.nodeOptions).toContain('--max-semi-space-size=64');
    expect(body.applied).toEqual([]);
    expect(body.notApplied.map((f: { flag: string }) => f.flag)).toContain('--no-flush-bytecode');
    expectError(await call(server, 'POST', '/memory/gc-optimize', { collect: 'major' }), 409, '--expose-gc');
    expectError(await call(server, 'POST', '/memory/gc-optimize', { collect: 'minor' }), 409, '--expose-gc');
    expectError(await call(server, 'POST', '/memory/gc-optimize', { idleGc: 'start' }), 409, 'idle collection', '--expose-gc');
    expect((await call(server, 'GET', '/memory/status')).body.gc.lastCollection).toBeNull();
  });

  it('suggests for the semi-space asked, and refuses bad input (400)', async () => {
    const { body } = await call(server, 'POST', '/memory/gc-optimize', { collect: 'none', semiSpaceMb: 128 });
    expect(body.collection).toMatchObject({ requested: 'none', ran: false, reason: "collect was 'none'" });
    expect(body.suggested.map((f: { flag: string }) => f.flag)).toContain('--max-semi-space-size=128');
    expectError(await call(server, 'POST', '/memory/gc-optimize', { collect: 'full' }), 400, 'must be one of: auto, none, minor, major');
    expectError(await call(server, 'POST', '/memory/gc-optimize', { semiSpaceMb: 0 }), 400, 'semiSpaceMb');
    expectError(await call(server, 'POST', '/memory/gc-optimize', { applyRuntimeFlags: 'please' }), 400, 'applyRuntimeFlags');
    expectError(await call(server, 'POST', '/memory/gc-optimize', { idleGc: 'restart' }), 400, 'idleGc');
  });

  it('applies the runtime flag only when asked, and then reports it', async () => {
    const { status, body } = await call(server, 'POST', '/memory/gc-optimize', { collect: 'none', applyRuntimeFlags: true });
    expect(status).toBe(200);
    expect(body.applied.map((f: { flag: string }) => f.flag)).toEqual(['--no-flush-bytecode']);
    expect(body.notApplied.every((f: { when: string }) => f.when === 'startup')).toBe(true);
    expect(body.appliedFlags).toContain('--no-flush-bytecode');
    expect(body.gcOptimized).toBe(true);
    expect((await call(server, 'GET', '/memory/status')).body.gc.appliedFlags).toContain('--no-flush-bytecode');
  });

  describe('with global.gc exposed', () => {
    const had = (globalThis as { gc?: unknown }).gc;
    beforeAll(() => {
      // A real collector function, as node --expose-gc gives (the flag, then a fresh context).
      setFlagsFromString('--expose-gc');
      (globalThis as { gc?: unknown }).gc = runInNewContext('gc');
    });
    afterAll(() => {
      if (had === undefined) delete (globalThis as { gc?: unknown }).gc;
      else (globalThis as { gc?: unknown }).gc = had;
    });

    it('runs a measured collection and idle collection', async () => {
      const major = await call(server, 'POST', '/memory/gc-optimize', {});
      expect(major.status).toBe(200);
      expect(major.body.exposeGc).toBe(true);
      expect(major.body.collection).toMatchObject({ requested: 'auto', ran: true, type: 'major' });
      expect(major.body.collection.durationMs).toBeGreaterThan(0);
      expect(major.body.collection.freedBytes).toBe(major.body.collection.heapUsedBeforeBytes - major.body.collection.heapUsedAfterBytes);
      const minor = await call(server, 'POST', '/memory/gc-optimize', { collect: 'minor' });
      expect(minor.body.collection).toMatchObject({ ran: true, type: 'minor' });
      const status = await call(server, 'GET', '/memory/status');
      expect(status.body.gc.lastCollection).toMatchObject({ ran: true, type: 'minor' });

      const started = await call(server, 'POST', '/memory/gc-optimize', { collect: 'none', idleGc: 'start' });
      expect(started.body.idleGc).toMatchObject({ enabled: true, type: 'minor' });
      expect(started.body.gcOptimized).toBe(true);
      const stopped = await call(server, 'POST', '/memory/gc-optimize', { collect: 'none', idleGc: 'stop' });
      expect(stopped.body.idleGc).toMatchObject({ enabled: true });
      expect((await call(server, 'GET', '/memory/status')).body.gc.idleGc).toBeNull();
    });
  });
});
