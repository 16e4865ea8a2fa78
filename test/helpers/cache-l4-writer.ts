/**
 * A child process for the L4 (LmdbLevel) tests, started with `node --import tsx`:
 *
 * - `burst <path>`: writes batches forever (batch n: `burstBatch(n)`, single `setEntry` when it
 *   has one key, else one `setEntries`), up to 16 in flight, and sends `{ ack: n }` over IPC
 *   once batch n is committed. The crash test SIGKILLs it mid-burst.
 * - `share <path>`: the two-process test's peer. Sends `{ ready: true }`, then answers
 *   `{ op: 'set', key, value }` and `{ op: 'get', key }` messages with `{ done, value? }`.
 */
import { LmdbLevel } from '../../lib/cache/l4-lmdb.js';
import type { CacheEntry } from '../../lib/cache/types.js';

export interface BurstValue {
  batch: number;
  index: number;
  size: number;
  /** Fills the value to ~100..400 bytes so batches span pages. */
  pad: string;
  check: number;
}

/** The keys and values of burst batch `n` (deterministic, so the parent knows unacknowledged batches too). */
export function burstBatch(n: number): [string, CacheEntry<BurstValue>][] {
  const size = n % 3 === 0 ? 1 : 2 + ((n * 7) % 15);
  const out: [string, CacheEntry<BurstValue>][] = [];
  for (let i = 0; i < size; i++) {
    const pad = 'x'.repeat(100 + ((n * 31 + i * 17) % 300));
    out.push([`b${n}:${i}`, { value: { batch: n, index: i, size, pad, check: n * 1000 + i + pad.length }, expiresAt: Infinity, staleUntil: Infinity, version: n }]);
  }
  return out;
}

async function burst(path: string): Promise<void> {
  const level = await LmdbLevel.open<BurstValue>({ path, maxEntries: Infinity, sweepIntervalMs: 0 });
  let n = 0;
  let inFlight = 0;
  const next = (): void => {
    while (inFlight < 16) {
      const batch = n++;
      const pairs = burstBatch(batch);
      const write = pairs.length === 1 ? level.setEntry(pairs[0]![0], pairs[0]![1]) : level.setEntries(pairs);
      inFlight++;
      write.then(
        () => {
          inFlight--;
          process.send!({ ack: batch });
          next();
        },
        (err: unknown) => {
          process.send!({ error: String(err) });
          process.exit(2);
        },
      );
    }
  };
  process.send!({ ready: true });
  next();
}

async function share(path: string): Promise<void> {
  const level = await LmdbLevel.open<unknown>({ path, namespace: 'shared', sweepIntervalMs: 0 });
  process.on('message', (m: { op: string; key: string; value?: unknown }) => {
    void (async () => {
      if (m.op === 'set') {
        await level.setEntry(m.key, { value: m.value, expiresAt: Infinity, staleUntil: Infinity, version: 0 });
        process.send!({ done: 'set', key: m.key });
      } else if (m.op === 'get') {
        const e = await level.getEntry(m.key);
        process.send!({ done: 'get', key: m.key, found: e !== undefined, value: e?.value });
      } else if (m.op === 'exit') {
        await level.close();
        process.exit(0);
      }
    })();
  });
  process.send!({ ready: true });
}

const [mode, path] = process.argv.slice(2);
if (mode === 'burst') await burst(path!);
else if (mode === 'share') await share(path!);
