/**
 * One process of a test "fleet" (test/cache-l3.test.ts, test/cache-fleet.test.ts,
 * bench/cache/part-l3.ts): a RedisLevel on the parent's Redis, driven over IPC.
 *
 *     fork(this file, [], { execArgv: ['--import', 'tsx'] })
 *     → { op: 'init', id, url, namespace, coherency }
 *     → { op: 'set', id, key, value, version }            setEntry + publishInvalidation
 *     → { op: 'leaseOrWait', id, key, concurrency, loadMs } N concurrent lease-or-wait reads
 *     → { op: 'ping', id }                                 answers at once (IPC round trip)
 *     → { op: 'close', id }
 *     ← { op: 'done', id, result?, error? }                 one per request
 *     ← { op: 'invalidated', keys, version }               each invalidation this process receives
 */
import { RedisLevel } from '../../lib/cache/l3-redis.js';
import { type FleetRequest, sendToParent, serveFleetRequests } from './cache-fleet-serve.js';

let level: RedisLevel<unknown> | undefined;

/** Read; on a miss take the lease and load (counting the call) or wait for the holder, then read again. */
async function leaseOrWait(key: string, loadMs: number, counter: { calls: number }): Promise<unknown> {
  const l = level!;
  for (let attempt = 0; attempt < 50; attempt++) {
    const hit = await l.getEntry(key);
    if (hit !== undefined) return hit.value;
    const token = await l.acquireLease(key, 5000);
    if (token !== null) {
      try {
        counter.calls++;
        await new Promise((r) => setTimeout(r, loadMs));
        const now = Date.now();
        await l.setEntry(key, { value: `loaded by ${process.pid}`, expiresAt: now + 60_000, staleUntil: now + 60_000, version: 1 });
      } finally {
        await l.releaseLease(key, token);
      }
      continue;
    }
    await l.waitForLease(key, 5000);
  }
  throw new Error(`no value for ${key} after 50 attempts`);
}

async function handle(m: FleetRequest): Promise<unknown> {
  switch (m.op) {
    case 'init': {
      level = await RedisLevel.connect({ url: m.url as string, namespace: m.namespace as string, coherency: (m.coherency as 'pubsub') ?? 'pubsub' });
      level.onInvalidate((keys, version) => sendToParent({ op: 'invalidated', keys, version }));
      return level.origin;
    }
    case 'set': {
      const now = Date.now();
      const key = m.key as string;
      const version = m.version as number;
      await level!.setEntry(key, { value: m.value, expiresAt: now + 60_000, staleUntil: now + 60_000, version });
      await level!.publishInvalidation([key], version);
      return null;
    }
    case 'leaseOrWait': {
      const counter = { calls: 0 };
      const n = m.concurrency as number;
      const values = await Promise.all(Array.from({ length: n }, () => leaseOrWait(m.key as string, m.loadMs as number, counter)));
      return { loaderCalls: counter.calls, values };
    }
    default:
      throw new Error(`unknown op ${m.op}`);
  }
}

serveFleetRequests(handle, async () => {
  await level?.close();
});
