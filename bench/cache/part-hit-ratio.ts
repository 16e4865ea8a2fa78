/**
 * L1 hit ratio on real traces (issue 16): our W-TinyLFU `L1Cache`, LRU (lru-cache itself) and
 * Bélády's optimum (computed here: next-use times and a heap, bench/cache/belady.ts), with the
 * seed's claimed L1 hit ratio (95.2%, SEED.md) beside them. Every policy sees the same stream:
 * `get(key)`, and `set(key)` on a miss. Traces are the copies in bench/data/cache-traces (see
 * each PROVENANCE.md); orm-busy and scarab are committed as prefixes (1,000,000 and 300,000
 * requests) to keep the repository small. A `--quick` run caps every trace at 200,000 requests.
 *
 * Cache sizes: the ARC paper's (Megiddo & Modha, FAST '03, Table VIII) for OLTP; for the LIRS
 * traces, sizes below the loop or working-set length as the LIRS paper (Jiang & Zhang,
 * SIGMETRICS '02) plots them; for the rest, our choice of ~2.5–10% of the footprint; for corda,
 * sizes where LRU already reaches its ceiling (33.3%: every key is read at most twice, closely),
 * which is where a fixed 1% window falls to ~1%.
 */
import { LRUCache } from 'lru-cache';
import { fileURLToPath } from 'node:url';

import { L1Cache } from '../../lib/cache/l1.js';
import { table } from '../lib/format.mjs';
import type { Figure } from '../lib/suite.js';
import { beladyHits } from './belady.js';
import type { CacheBenchPart } from './index.js';
import { concatTraces, readTrace, type Trace, type TraceFormat } from './traces.js';

const quick = process.argv.includes('--quick');
const kQuickCap = 200_000;
/** SEED.md's claimed L1 hit ratio. */
export const kSeedL1HitRatio = 95.2;

const dataDir = fileURLToPath(new URL('../data/cache-traces/', import.meta.url));

interface TraceSpec {
  label: string;
  format: TraceFormat;
  file: string;
  sizes: number[];
}

export const kTraces: TraceSpec[] = [
  { label: 'lirs loop', format: 'lirs', file: 'lirs/loop.trace.gz', sizes: [256, 512, 768] },
  { label: 'lirs gli', format: 'lirs', file: 'lirs/gli.trace.gz', sizes: [250, 500, 1000] },
  { label: 'lirs multi2', format: 'lirs', file: 'lirs/multi2.trace.gz', sizes: [500, 1000, 2000] },
  { label: 'lirs cs', format: 'lirs', file: 'lirs/cs.trace.gz', sizes: [100, 300, 600] },
  { label: 'cache2k web07', format: 'cache2k', file: 'cache2k/web07.trace.gz', sizes: [500, 1000, 2000] },
  { label: 'cache2k orm-busy (1M prefix)', format: 'cache2k', file: 'cache2k/orm-busy-1m.trace.gz', sizes: [1000, 5000, 10000] },
  { label: 'corda vaultservice', format: 'corda', file: 'corda/trace_vaultservice.gz', sizes: [256, 1024, 4096] },
  { label: 'arc OLTP', format: 'arc', file: 'arc/OLTP.lis.gz', sizes: [1000, 5000, 15000] },
  { label: 'scarab recs (300k prefix)', format: 'scarab', file: 'scarab/scarab-recs-300k.trace.gz', sizes: [1000, 5000, 20000] },
];

/** Hits of a cache driven by get, then set on a miss. */
function simulate(ids: Int32Array, keys: readonly string[], cache: { get(k: string): unknown; set(k: string, v: number): unknown }): number {
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const k = keys[ids[i]!]!;
    if (cache.get(k) !== undefined) hits++;
    else cache.set(k, i);
  }
  return hits;
}

export interface HitRatioRow {
  trace: string;
  requests: number;
  distinct: number;
  capped: boolean;
  size: number;
  /** Percent of requests that hit. */
  optimal: number;
  lru: number;
  l1: number;
  l1WindowMaximum: number;
}

/** One trace at one size: Bélády, lru-cache and L1Cache. */
export function hitRatios(trace: Trace, size: number): HitRatioRow {
  const keys = Array.from({ length: trace.distinct }, (_, i) => `k${i}`);
  const n = trace.ids.length;
  const l1 = new L1Cache<number>({ maxEntries: size });
  const l1Hits = simulate(trace.ids, keys, l1);
  const lruHits = simulate(trace.ids, keys, new LRUCache<string, number>({ max: size }));
  const opt = beladyHits(trace.ids, trace.distinct, size);
  return {
    trace: trace.name,
    requests: n,
    distinct: trace.distinct,
    capped: trace.capped,
    size,
    optimal: (100 * opt) / n,
    lru: (100 * lruHits) / n,
    l1: (100 * l1Hits) / n,
    l1WindowMaximum: l1.stats().windowMaximum,
  };
}

function pct(x: number): string {
  return `${x.toFixed(2)}%`;
}

export const part: CacheBenchPart = {
  name: 'hit-ratio',
  extras: async () => {
    const cap = quick ? kQuickCap : Infinity;
    const rows: HitRatioRow[] = [];
    const loaded = new Map<string, Trace>();
    for (const spec of kTraces) {
      const trace = readTrace(spec.format, dataDir + spec.file, cap, spec.label);
      loaded.set(spec.label, trace);
      for (const size of spec.sizes) rows.push(hitRatios(trace, size));
    }
    // Phase change: corda (recency only), then loop (frequency), then corda again.
    const corda = loaded.get('corda vaultservice')!;
    const loop = loaded.get('lirs loop')!;
    const phased = concatTraces('phase change: corda, loop, corda', [corda, loop, corda]);
    for (const size of [256, 512]) rows.push(hitRatios(phased, size));

    console.log('\n  L1 hit ratio: W-TinyLFU (ours) vs LRU (lru-cache) vs Bélády\'s optimum; get, set on miss');
    console.log(
      table(
        ['trace', 'requests', 'keys', 'size', 'optimal', 'LRU', 'L1 (ours)', 'L1 − LRU', 'optimal − L1', 'L1 window', 'seed claim'],
        rows.map((r) => [
          r.trace + (r.capped ? ' (capped)' : ''),
          String(r.requests),
          String(r.distinct),
          String(r.size),
          pct(r.optimal),
          pct(r.lru),
          pct(r.l1),
          `${(r.l1 - r.lru >= 0 ? '+' : '')}${(r.l1 - r.lru).toFixed(2)}`,
          (r.optimal - r.l1).toFixed(2),
          String(r.l1WindowMaximum),
          `${kSeedL1HitRatio}%`,
        ]),
      ),
    );
    const belowLru = rows.filter((r) => r.l1 < r.lru);
    console.log(`  L1 below LRU: ${belowLru.length === 0 ? 'none' : belowLru.map((r) => `${r.trace}@${r.size} (${(r.l1 - r.lru).toFixed(2)})`).join(', ')}`);
    console.log(`  seed claim: ${kSeedL1HitRatio}% at 1,000 entries (SEED.md), on no named workload; compare it with the optimal column`);
    const figures: Figure[] = rows.map((r) => ({ group: 'cache hit ratio', name: `${r.trace} @${r.size} L1`, unit: '% hits', median: r.l1 }));
    return { figures, rows, seedClaimPercent: kSeedL1HitRatio, quick };
  },
};
