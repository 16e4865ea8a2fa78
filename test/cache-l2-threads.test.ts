// Issue 16 item 2: four worker_threads reading and writing the same 16 keys of one L2 cache
// for 10 s never see a torn or mixed value: every value carries its key, its writer's
// sequence number (also the entry's version and expiry) and a checksum. On the native
// project two of the four threads write and read through the C++ core, so C++ writes race
// TS reads and the reverse; on the ts project all four run the TS kernel.
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { SharedCache } from '../lib/cache/l2.js';
import { rawCodec } from '../lib/net/codec.js';
import { firstMessage, tsWorker } from './helpers/ts-worker.js';

const kDurationMs = 10_000;
const native = cpuAddon !== null && typeof cpuAddon.cacheGet === 'function';

interface Result {
  id: number;
  backend: string;
  reads: number;
  hits: number;
  sets: number;
  deletes: number;
  bad: number;
  firstBad: string;
}

describe('L2 across 4 worker_threads', () => {
  it(`never returns a torn or mixed value in ${kDurationMs / 1000} s of concurrent reads, writes and deletes on 16 keys`, async () => {
    // 8 slots for 16 keys: sets evict all the time, so entries are reused under readers too.
    const cache = SharedCache.create<Uint8Array>({ maxEntries: 8, valueBytes: 256, codec: rawCodec() });
    const workers = [0, 1, 2, 3].map((id) =>
      tsWorker(new URL('./helpers/cache-l2-worker.ts', import.meta.url), {
        workerData: { buffer: cache.buffer, id, backend: native && id < 2 ? 'native' : 'ts', durationMs: kDurationMs, keys: 16 },
      }),
    );
    const results = await Promise.all(workers.map((w) => firstMessage<Result>(w)));
    await Promise.all(workers.map((w) => w.terminate()));
    for (const r of results) {
      expect({ id: r.id, bad: r.bad, firstBad: r.firstBad }).toEqual({ id: r.id, bad: 0, firstBad: '' });
      expect(r.sets).toBeGreaterThan(1000);
      expect(r.hits).toBeGreaterThan(1000);
    }
    expect(new Set(results.map((r) => r.backend))).toEqual(new Set(native ? ['native', 'ts'] : ['ts']));
    expect(cache.size).toBeLessThanOrEqual(8);
  }, kDurationMs + 60_000);
});
