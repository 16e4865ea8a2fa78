/**
 * Review of TieredCache over the real levels (L1Cache, SharedCache, LmdbLevel, RedisLevel on a
 * real redis-server): races between writes and slow reads, oversize values, and the edges a
 * user or an attacker reaches first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { L1Cache, LmdbLevel, RedisLevel, SharedCache, TieredCache } from '../lib/cache/index.js';
import { hasRedis, startRedis, type TestRedis } from './helpers/redis.js';

const dirs: string[] = [];
const caches: TieredCache<unknown>[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tiered-review-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const c of caches.splice(0)) await c.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  vi.restoreAllMocks();
});

/**
 * Makes `level[method]` wait until `release()` before doing its work, so a read can run while
 * that write, delete or clear has not reached the level yet.
 */
function hold<L extends object, M extends 'delete' | 'setEntry' | 'clear'>(level: L & Record<M, (...args: never[]) => Promise<unknown>>, method: M): () => void {
  const orig = level[method].bind(level) as (...args: unknown[]) => Promise<unknown>;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  (level as Record<M, unknown>)[method] = async (...args: unknown[]) => {
    await gate;
    return orig(...args);
  };
  return release;
}

describe('TieredCache review: real L1 + L2 + L4', () => {
  it('a value larger than L2 slots skips L2 without marking L2 down or warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const l2 = SharedCache.create<unknown>({ maxEntries: 64, valueBytes: 64 });
    const cache = new TieredCache<unknown>({ name: 'big', l1: new L1Cache(), l2, l4: await LmdbLevel.open({ path: tempDir() }) });
    caches.push(cache);
    await cache.set('big', 'x'.repeat(10_000));
    await cache.set('small', 1);
    expect(l2.getEntry('big')).toBeUndefined();
    expect(l2.getEntry('small')?.value).toBe(1);
    expect(await cache.get('big')).toBe('x'.repeat(10_000));
    const s2 = cache.stats().levels.find((l) => l.name === 'l2')!;
    expect(s2.up).toBe(true);
    expect(s2.errors).toBe(0);
    expect(warn).not.toHaveBeenCalled();
  });

  it('a read that starts while a delete is still reaching L4 never puts the deleted value back into L1', async () => {
    const l1 = new L1Cache<unknown>();
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir() });
    const cache = new TieredCache<unknown>({ name: 'race', l1, l4 });
    caches.push(cache);
    await cache.set('k', 'old');
    // L4's delete is slow: it lands only after the read below has read the old copy.
    const release = hold(l4, 'delete');
    const deleting = cache.delete('k');
    const read = await cache.get('k'); // the delete has not finished: either answer is linearizable
    expect([undefined, 'old']).toContain(read);
    release();
    await deleting;
    expect(l1.getEntry('k')).toBeUndefined();
    expect(cache.getSync('k')).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
  });

  it('a read that starts while a set is still reaching L4 never puts the old value back into L1/L2', async () => {
    const l2 = SharedCache.create<unknown>({ maxEntries: 64 });
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir() });
    // No L1: a tagged entry skips L2, so the new value lives only in L4 while its write is slow.
    const cache = new TieredCache<unknown>({ name: 'race2', l1: false, l2, l4 });
    caches.push(cache);
    await cache.set('k', 'old');
    l2.clear();
    const release = hold(l4, 'setEntry');
    const writing = cache.set('k', 'new', { tags: ['t'] });
    await cache.get('k');
    release();
    await writing;
    expect(l2.getEntry('k')).toBeUndefined();
    expect(cache.getSync('k')).toBeUndefined();
    expect(await cache.get('k')).toBe('new');
  });
  it('a read that starts while clear() is still reaching L4 never puts a cleared value back into L1', async () => {
    const l1 = new L1Cache<unknown>();
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir() });
    const cache = new TieredCache<unknown>({ name: 'race3', l1, l4 });
    caches.push(cache);
    await cache.set('k', 'old');
    const release = hold(l4, 'clear');
    const clearing = cache.clear();
    await cache.get('k');
    release();
    await clearing;
    expect(l1.getEntry('k')).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
  });
  it('a getOrLoad still loading when close() runs answers its callers and writes nothing to the closed levels', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir() });
    const cache = new TieredCache<unknown>({ name: 'closing', l1: new L1Cache(), l4 });
    let resolve!: (v: unknown) => void;
    const loading = cache.getOrLoad('k', () => new Promise((r) => (resolve = r)));
    await vi.waitFor(() => expect(resolve).toBeTypeOf('function'));
    await cache.close();
    resolve('late');
    expect(await loading).toBe('late');
    expect(cache.stats().levels.map((l) => [l.name, l.up, l.errors])).toEqual([
      ['l1', true, 0],
      ['l4', true, 0],
    ]);
    expect(warn).not.toHaveBeenCalled();
  });
  it('close() does not wait for a background refresh whose loader never settles (loadTimeoutMs Infinity)', async () => {
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir() });
    let now = 1_000;
    const cache = new TieredCache<unknown>({ name: 'hung', l1: new L1Cache({ clock: () => now }), l4, clock: () => now, staleWhileRevalidateMs: 10_000 });
    await cache.set('k', 'v', { ttlMs: 1 });
    now += 10;
    let called = false;
    const loader = (): Promise<unknown> => {
      called = true;
      return new Promise(() => {});
    };
    expect(await cache.getOrLoad('k', loader)).toBe('v'); // stale, served at once; the refresh hangs
    await vi.waitFor(() => expect(called).toBe(true));
    const closed = cache.close().then(() => 'closed');
    const never = new Promise<string>((r) => setTimeout(() => r('close() still waiting after 2 s'), 2_000).unref());
    expect(await Promise.race([closed, never])).toBe('closed');
  });
});

describe.skipIf(!hasRedis)('TieredCache review: real RedisLevel', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  let n = 0;
  async function withL3(): Promise<{ cache: TieredCache<unknown>; l1: L1Cache<unknown>; l3: RedisLevel<unknown> }> {
    const l1 = new L1Cache<unknown>();
    const l3 = await RedisLevel.connect<unknown>({ url: redis.url, namespace: `review${process.pid}-${n++}` });
    const cache = new TieredCache<unknown>({ name: 'redis-review', l1, l3, l4: await LmdbLevel.open({ path: tempDir() }) });
    caches.push(cache);
    return { cache, l1, l3 };
  }

  it('a huge finite TTL (1e308 ms) is stored in L3 without an expiry instead of failing the SET', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { cache, l3 } = await withL3();
    await cache.set('k', 'old');
    await cache.set('k', 'new', { ttlMs: 1e308 });
    expect((await l3.getEntry('k'))?.value).toBe('new');
    expect(cache.stats().levels.find((l) => l.name === 'l3')!.up).toBe(true);
    expect(warn).not.toHaveBeenCalled();
  });

  it('a read that starts while a delete is still reaching Redis never puts the deleted value back into L1', async () => {
    const { cache, l1, l3 } = await withL3();
    await cache.set('k', 'old');
    const release = hold(l3, 'delete');
    const deleting = cache.delete('k');
    expect([undefined, 'old']).toContain(await cache.get('k')); // the delete has not finished
    release();
    await deleting;
    expect(l1.getEntry('k')).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
  });

  it('one failed L3 command while the connection stays up does not take L3 out of service for good', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { cache, l1, l3 } = await withL3();
    await cache.set('a', 'a0');
    const setEntry = l3.setEntry.bind(l3);
    l3.setEntry = async () => {
      throw new Error('one-off command error');
    };
    await cache.set('a', 'a1'); // L3 misses this write: its copy of 'a' must not be served later
    l3.setEntry = setEntry;
    await cache.set('b', 'b1');
    expect((await l3.getEntry('b'))?.value).toBe('b1');
    const s3 = cache.stats().levels.find((l) => l.name === 'l3')!;
    expect(s3.up).toBe(true);
    expect(s3.errors).toBe(1);
    // The write L3 missed was deleted from it once it answered again.
    await vi.waitFor(async () => expect(await l3.getEntry('a')).toBeUndefined());
    l1.clear();
    expect(await cache.get('a')).toBe('a1');
  });
});
