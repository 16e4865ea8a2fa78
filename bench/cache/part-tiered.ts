/**
 * TieredCache (issue 16): what the orchestration costs on top of its levels. getSync on an
 * L1 hit, get and getOrLoad on an L1 hit, and get on an L1 miss answered by L2 (SharedCache:
 * bytes decoded on each read) or L4 (LmdbLevel, async), beside bentocache's tiered cache with
 * a memory L1 (its get and getOrSet) in the same run. The seed claimed "Cache Lookup 2.3 µs": the L1-hit tasks carry it as their target.
 *
 * The levels are the real ones: L1Cache, SharedCache, LmdbLevel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';

import { L1Cache, LmdbLevel, SharedCache, TieredCache } from '../../lib/cache/index.js';
import type { TaskSpec } from '../lib/suite.js';
import type { CacheBenchPart } from './index.js';

const kKeys = 1024;
const keys = Array.from({ length: kKeys }, (_, i) => `quote:${i}`);
const value = { symbol: 'AAPL', bid: 189.25, ask: 189.27, bidSize: 300, askSize: 500, ts: 1_700_000_000_000 };
const kSeedLookupNs = 2300;

const dir = mkdtempSync(join(tmpdir(), 'bench-tiered-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

const l1 = { level: new L1Cache<unknown>({ maxEntries: 2 * kKeys }), what: 'L1Cache' };
const l2 = { level: SharedCache.create<unknown>({ maxEntries: 4 * kKeys }), what: 'SharedCache' };
const l4 = { level: await LmdbLevel.open<unknown>({ path: join(dir, 'l4') }), what: 'LmdbLevel' };
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
  // The seed's "Cache Lookup 2.3 µs" is each task's target: a median at most that.
  { name: `TieredCache getSync (L1 hit, ${l1.what})`, fn: () => hot.getSync(next()), target: { maxNs: kSeedLookupNs } },
  { name: `TieredCache get (L1 hit, ${l1.what})`, mode: 'async', fn: () => hot.get(next()), target: { maxNs: kSeedLookupNs } },
  { name: `TieredCache getOrLoad (hit, ${l1.what})`, mode: 'async', fn: () => hot.getOrLoad(next(), load), target: { maxNs: kSeedLookupNs } },
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
    await Promise.all([hot.close(), viaL2.close(), viaL4.close(), bento.disconnectAll()]);
    return { levels: { l1: l1.what, l2: l2.what, l4: l4.what }, seedCacheLookupNs: kSeedLookupNs };
  },
};
