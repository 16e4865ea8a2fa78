/**
 * `npm run bench -- cache` (issue 16): hit ratio on real traces beside lru-cache and Bélády's
 * optimum, get/set latency per level beside lru-cache, mnemonist and bentocache, L3 beside a
 * bare Redis GET, warm restart, prefetch, and cross-process invalidation delay. Assembled from
 * the `part-*.ts` files in this folder (bench/lib/parts.ts).
 */
import { type BenchPart, loadParts, suiteFromParts } from '../lib/parts.js';

/** What each `part-*.ts` here exports as `part`. */
export type CacheBenchPart = BenchPart;

export default suiteFromParts(
  {
    name: 'cache',
    description: 'hit ratio on real traces vs LRU and optimal, per-level latency vs lru-cache/mnemonist/bentocache and bare Redis, warm restart, invalidation delay',
    timeMs: 1000,
    warmupMs: 250,
  },
  await loadParts(import.meta.url),
);
