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
import type { AsyncLevel, CacheEntry } from '../lib/cache/types.js';
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

/** Holds the level's reads of one key until released, so a write can land while the read is in flight. */
function holdReads<V>(level: AsyncLevel<V>): { release: () => void; started: Promise<void> } {
  const orig = level.getEntry.bind(level);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  let first = true;
  level.getEntry = async (key: string): Promise<CacheEntry<V> | undefined> => {
    const e = await orig(key);
    if (first) {
      first = false;
      started();
      await gate;
    }
    return e;
  };
  return { release, started: startedP };
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
});
