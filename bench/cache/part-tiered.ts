/**
 * TieredCache (issue 16): what the orchestration costs on top of its levels. getSync on an
 * L1 hit, get and getOrLoad on an L1 hit, and get on an L1 miss answered by an L2-like level
 * (bytes decoded on each read, as the shared-memory level does) or an L4-like one (async,
 * bytes), beside bentocache's tiered cache with a memory L1 (its get and getOrSet) in the same
 * run. The seed claimed "Cache Lookup 2.3 µs"; the extras print our L1 hit beside it.
 *
 * The levels are the real ones where they load (lib/cache/l1.ts, l2.ts, l4-lmdb.ts), else the
 * Map-backed test doubles (test/helpers/cache-levels.ts), and each task says which it used.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';

import { decodeEntry, encodeEntry } from '../../lib/cache/entry-codec.js';
import { type AsyncLevel, type CacheEntry, type LevelStats, type SyncLevel, TieredCache } from '../../lib/cache/index.js';
import { median } from '../../lib/monitor/stats.js';
import { msgpackCodec } from '../../lib/net/codec.js';
import { MapAsyncLevel, MapSyncLevel } from '../../test/helpers/cache-levels.js';
import { formatNs, formatRatio, table } from '../lib/format.mjs';
import type { Figure, TaskSpec } from '../lib/suite.js';
import type { CacheBenchPart } from './index.js';

const kKeys = 1024;
const keys = Array.from({ length: kKeys }, (_, i) => `quote:${i}`);
const value = { symbol: 'AAPL', bid: 189.25, ask: 189.27, bidSize: 300, askSize: 500, ts: 1_700_000_000_000 };
const kSeedLookupNs = 2300;

/** The real L1 when lib/cache/l1.ts exists, else a Map double. */
async function makeL1(): Promise<{ level: SyncLevel<unknown>; what: string }> {
  try {
    const path = '../../lib/cache/l1.js';
    const m = (await import(path)) as { L1Cache: new (o: { maxEntries: number }) => SyncLevel<unknown> };
    return { level: new m.L1Cache({ maxEntries: 2 * kKeys }), what: 'L1Cache' };
  } catch {
    return { level: new MapSyncLevel<unknown>('l1', Date.now), what: 'Map double' };
  }
}

/** The real shared-memory L2 when lib/cache/l2.ts exists, else a SyncLevel that stores encoded bytes. */
async function makeL2(): Promise<{ level: SyncLevel<unknown>; what: string }> {
  try {
    const path = '../../lib/cache/l2.js';
    const m = (await import(path)) as { SharedCache: { create(o: { maxEntries: number }): SyncLevel<unknown> } };
    return { level: m.SharedCache.create({ maxEntries: 4 * kKeys }), what: 'SharedCache' };
  } catch {
    const codec = msgpackCodec<unknown>();
    const map = new Map<string, Uint8Array>();
    const level: SyncLevel<unknown> = {
      name: 'l2',
      getEntry: (k) => {
        const b = map.get(k);
        return b === undefined ? undefined : decodeEntry(b, codec);
      },
      setEntry: (k, e) => void map.set(k, encodeEntry(e, codec)),
      delete: (k) => map.delete(k),
      clear: () => map.clear(),
      stats: (): LevelStats => ({ name: 'l2', hits: 0, misses: 0, hitRatio: 0, sets: 0, deletes: 0, evictions: 0, expirations: 0, size: map.size, capacity: Infinity }),
      get size() {
        return map.size;
      },
    };
    return { level, what: 'bytes Map double' };
  }
}

/** The real LMDB L4 when lib/cache/l4-lmdb.ts exists, else an async Map double storing bytes. */
async function makeL4(dir: string): Promise<{ level: AsyncLevel<unknown>; what: string }> {
  try {
    const path = '../../lib/cache/l4-lmdb.js';
    const m = (await import(path)) as { LmdbLevel: { open(o: { path: string }): Promise<AsyncLevel<unknown>> } };
    return { level: await m.LmdbLevel.open({ path: join(dir, 'l4') }), what: 'LmdbLevel' };
  } catch {
    return { level: new MapAsyncLevel<unknown>({ name: 'l4', clock: Date.now, codec: msgpackCodec() }), what: 'bytes Map double' };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-tiered-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

const l1 = await makeL1();
const l2 = await makeL2();
const l4 = await makeL4(dir);
const hot = new TieredCache<unknown>({ name: 'bench-l1', l1: l1.level });
const viaL2 = new TieredCache<unknown>({ name: 'bench-l2', l1: false, l2: l2.level });
const viaL4 = new TieredCache<unknown>({ name: 'bench-l4', l1: false, l4: l4.level });
for (const c of [hot, viaL2, viaL4]) await c.setMany(keys.map((k) => [k, value] as [string, unknown]));

const bento = new BentoCache({ default: 'mem', stores: { mem: bentostore().useL1Layer(memoryDriver({ maxItems: 4 * kKeys })) } });
for (const k of keys) await bento.set({ key: k, value });

let i = 0;
const next = (): string => keys[i++ & (kKeys - 1)]!;
const load = (): unknown => value;

const hitTasks: TaskSpec[] = [
  { name: `TieredCache getSync (L1 hit, ${l1.what})`, fn: () => hot.getSync(next()) },
  { name: `TieredCache get (L1 hit, ${l1.what})`, mode: 'async', fn: () => hot.get(next()) },
  { name: `TieredCache getOrLoad (hit, ${l1.what})`, mode: 'async', fn: () => hot.getOrLoad(next(), load) },
  { name: 'bentocache get (memory L1)', mode: 'async', fn: () => bento.get({ key: next() }) },
  { name: 'bentocache getOrSet (hit, memory L1)', mode: 'async', fn: () => bento.getOrSet({ key: next(), factory: load }) },
];

const missTasks: TaskSpec[] = [
  { name: `TieredCache getSync (L1 off, L2 hit: ${l2.what})`, fn: () => viaL2.getSync(next()) },
  { name: `TieredCache get (L1 off, L4 hit: ${l4.what})`, mode: 'async', fn: () => viaL4.get(next()) },
  { name: 'bentocache get (memory L1) ', mode: 'async', fn: () => bento.get({ key: next() }) },
];

export const part: CacheBenchPart = {
  name: 'tiered',
  groups: [
    {
      name: 'tiered: L1 hit',
      description: `TieredCache over its L1 (${kKeys} keys, all present) vs bentocache's memory L1; the seed claimed 2.3 µs per cache lookup`,
      tasks: hitTasks,
    },
    {
      name: 'tiered: L1 miss, lower level hit',
      description: 'TieredCache answered by L2 (sync, decodes bytes) or L4 (async) with L1 off, beside a bentocache memory hit',
      tasks: missTasks,
    },
  ],
  extras: async () => {
    // Our L1 hit beside the seed's 2.3 µs, measured interleaved with bentocache's get.
    const ours: number[] = [];
    const theirs: number[] = [];
    let sink = 0;
    for (let r = 0; r < 15; r++) {
      let t0 = process.hrtime.bigint();
      for (let j = 0; j < 100_000; j++) if (hot.getSync(next()) !== undefined) sink++;
      ours.push(Number(process.hrtime.bigint() - t0) / 100_000);
      t0 = process.hrtime.bigint();
      for (let j = 0; j < 2_000; j++) if ((await bento.get({ key: next() })) !== undefined) sink++;
      theirs.push(Number(process.hrtime.bigint() - t0) / 2_000);
    }
    if (sink === 0) throw new Error('tiered bench: nothing found');
    const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)]!;
    const m = median(ours);
    const b = median(theirs);
    console.log("\n-- tiered: L1 hit beside the seed's Cache Lookup (15 interleaved rounds; p99 is of round means)");
    console.log(
      table(
        ['lookup', 'median', 'p99 (rounds)', "seed's 2.3 µs ÷ median"],
        [
          [`TieredCache getSync (${l1.what})`, formatNs(m), formatNs(p99(ours)), formatRatio(kSeedLookupNs / m)],
          ['bentocache get (memory L1)', formatNs(b), formatNs(p99(theirs)), formatRatio(kSeedLookupNs / b)],
          ["seed's Cache Lookup", formatNs(kSeedLookupNs), '', ''],
        ],
      ),
    );
    const figures: Figure[] = [
      { group: 'tiered', name: 'TieredCache getSync L1 hit (interleaved)', unit: 'ns', median: m, p99: p99(ours) },
      { group: 'tiered', name: 'bentocache get memory L1 (interleaved)', unit: 'ns', median: b, p99: p99(theirs) },
    ];
    await Promise.all([hot.close(), viaL2.close(), viaL4.close(), bento.disconnectAll()]);
    return { figures, levels: { l1: l1.what, l2: l2.what, l4: l4.what }, seedCacheLookupNs: kSeedLookupNs };
  },
};
