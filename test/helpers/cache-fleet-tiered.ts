/**
 * One process of a TieredCache fleet (test/cache-fleet.test.ts): an L1Cache + RedisLevel
 * TieredCache on the parent's Redis, driven over IPC (see cache-fleet-parent.ts).
 *
 *     → { op: 'init', id, url, namespace, loadTimeoutMs?, staleIfErrorMs? }
 *     → { op: 'getOrLoad', id, key, concurrency, behaviour: 'ok' | 'throw' | 'hang', loadMs }
 *         ← result { loaderCalls, outcomes: ({ value } | { error, name })[] }
 *     → { op: 'set', id, key, value, ttlMs? }     → { op: 'getSync', id, key }     → { op: 'close', id }
 *     ← { op: 'invalidated', keys, version, after }  after = getSync of each key once the cache has
 *                                                    handled the invalidation (its handler runs first)
 */
import { L1Cache } from '../../lib/cache/l1.js';
import { RedisLevel } from '../../lib/cache/l3-redis.js';
import { TieredCache } from '../../lib/cache/tiered.js';
import { type FleetRequest, sendToParent, serveFleetRequests } from './cache-fleet-serve.js';

let level: RedisLevel<unknown> | undefined;
let cache: TieredCache<unknown> | undefined;

async function handle(m: FleetRequest): Promise<unknown> {
  switch (m.op) {
    case 'init': {
      level = await RedisLevel.connect({ url: m.url as string, namespace: m.namespace as string });
      cache = new TieredCache<unknown>({
        name: `fleet-${process.pid}`,
        l1: new L1Cache<unknown>({ maxEntries: 1000 }),
        l3: level,
        ...(m.loadTimeoutMs !== undefined ? { loadTimeoutMs: m.loadTimeoutMs as number } : {}),
        ...(m.staleIfErrorMs !== undefined ? { staleIfErrorMs: m.staleIfErrorMs as number } : {}),
      });
      // registered after the cache's own handler, so `after` shows what the cache kept
      level.onInvalidate((keys, version) => sendToParent({ op: 'invalidated', keys, version, after: keys?.map((k) => cache!.getSync(k)) ?? null }));
      return process.pid;
    }
    case 'getOrLoad': {
      let loaderCalls = 0;
      const behaviour = m.behaviour as 'ok' | 'throw' | 'hang';
      const loadMs = m.loadMs as number;
      const loader = async (key: string): Promise<unknown> => {
        loaderCalls++;
        await new Promise((r) => setTimeout(r, behaviour === 'hang' ? 5_000 : loadMs));
        if (behaviour === 'throw') throw new Error(`boom loading ${key}`);
        return `loaded by ${process.pid}`;
      };
      const outcomes = await Promise.all(
        Array.from({ length: m.concurrency as number }, () =>
          cache!.getOrLoad(m.key as string, loader, { ttlMs: 60_000 }).then(
            (value: unknown) => ({ value }),
            (err: Error) => ({ error: err.message, name: err.name }),
          ),
        ),
      );
      return { loaderCalls, outcomes };
    }
    case 'set':
      await cache!.set(m.key as string, m.value, { ttlMs: (m.ttlMs as number | undefined) ?? 60_000 });
      return null;
    case 'getSync':
      return cache!.getSync(m.key as string) ?? null;
    default:
      throw new Error(`unknown op ${m.op}`);
  }
}

serveFleetRequests(handle, async () => {
  await cache?.close();
  await level?.close();
});
