/**
 * Prometheus exposition of TieredCache stats (issue 16), in the conventions of
 * lib/monitor/prometheus.ts: a prom-client registry, metrics read at scrape time (nothing is
 * recorded twice), latencies in seconds as histograms with microsecond buckets, and the
 * `ultra_perf_` prefix. Every series carries `cache` (the cache's name) and, per level,
 * `level` ('l1'..'l4'):
 *
 *     <prefix>cache_hits_total{cache,level}                 counter  fresh entries found at the level
 *     <prefix>cache_misses_total{cache,level}               counter  lookups the level could not answer
 *     <prefix>cache_evictions_total{cache,level}            counter  entries evicted to make room
 *     <prefix>cache_admissions_rejected_total{cache,level}  counter  W-TinyLFU admissions refused (levels that report it)
 *     <prefix>cache_level_errors_total{cache,level}         counter  errors the level raised (answered by the others)
 *     <prefix>cache_level_up{cache,level}                   gauge    1 while the level answers, 0 while it fails
 *     <prefix>cache_entries{cache,level}                    gauge    live entries
 *     <prefix>cache_window_entries{cache,level}             gauge    W-TinyLFU window size (levels that report it)
 *     <prefix>cache_operation_duration_seconds{cache,level,op="get"|"set"}  histogram  (L1/L2 sampled 1 in 256)
 *     <prefix>cache_loader_calls_total{cache}, _single_flight_joins_total, _lease_waits_total,
 *     _stale_served_total, _load_errors_total, _load_timeouts_total, _invalidations_received_total  counters
 */
import { invalidType } from '../errors.js';
import { type OptionCheck, defineOptions, readOptions } from '../internal/options.js';
import type { LatencyHistogram } from '../monitor/histogram.js';
import {
  type Labels,
  MICROSECOND_BUCKETS_SECONDS,
  type PromRegistryLike,
  type PrometheusExport,
  type Sample,
  type ScrapedMetric,
  loadPromClient,
  metric,
} from '../monitor/prometheus.js';

import { TieredCache, type TieredCacheStats, type TieredLevelStats } from './tiered.js';

export interface CachePrometheusOptions {
  /** Where the metrics go. Default: prom-client's global `register`. */
  registry?: PromRegistryLike;
  /** Prefix of every metric name. Default 'ultra_perf_'. */
  prefix?: string;
  /** Histogram bucket upper bounds in seconds, ascending. Default MICROSECOND_BUCKETS_SECONDS (1 µs .. 100 ms). */
  bucketsSeconds?: readonly number[];
}

const kMetricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

const kSchema = defineOptions('registerCachePrometheus', {
  registry: {
    check: (value, argument) => {
      const r = value as Partial<PromRegistryLike> | null;
      if (r === null || typeof r !== 'object' || typeof r.registerMetric !== 'function' || typeof r.metrics !== 'function') {
        throw invalidType(argument, 'a prom-client Registry', value);
      }
      return value;
    },
  },
  prefix: {
    check: ((value, argument) => {
      if (typeof value !== 'string' || (value !== '' && !kMetricName.test(value))) {
        throw invalidType(argument, 'a Prometheus metric name prefix matching [a-zA-Z_:][a-zA-Z0-9_:]*', value);
      }
      return value;
    }) as OptionCheck,
    default: 'ultra_perf_',
  },
  bucketsSeconds: {
    check: (value, argument) => {
      if (!Array.isArray(value) || value.length === 0) throw invalidType(argument, 'a non-empty array of bucket bounds in seconds', value);
      value.forEach((v: unknown, i) => {
        if (typeof v !== 'number' || !(v > 0 && v < Infinity) || (i > 0 && !(v > (value[i - 1] as number)))) {
          throw invalidType(`${argument}[${i}]`, 'a finite bound in seconds, > 0 and above the one before', v);
        }
      });
      return Float64Array.from(value as number[]);
    },
    default: Float64Array.from(MICROSECOND_BUCKETS_SECONDS),
  },
});

/** What is read from a cache: any `TieredCache<V>` is one. */
export type CacheStatsSource = Pick<TieredCache<unknown>, 'name' | 'stats' | 'latencyHistograms'>;

interface Snapshot {
  cache: CacheStatsSource;
  stats: TieredCacheStats;
  histograms: { level: string; get: LatencyHistogram; set: LatencyHistogram }[];
}

/**
 * Exposes the stats of `caches` to Prometheus through a prom-client registry; each scrape
 * reads `stats()` once per cache (shared by the metrics of that scrape).
 * @example
 * import { Registry } from 'prom-client';
 * const registry = new Registry();
 * registerCachePrometheus([quotes, users], { registry });
 * // ultra_perf_cache_hits_total{cache="quotes",level="l1"} 1234
 */
export function registerCachePrometheus(caches: CacheStatsSource | readonly CacheStatsSource[], options: CachePrometheusOptions = {}): PrometheusExport {
  const list: readonly CacheStatsSource[] = Array.isArray(caches) ? caches : [caches as CacheStatsSource];
  list.forEach((c, i) => {
    if (!(c instanceof TieredCache)) throw invalidType(Array.isArray(caches) ? `caches[${i}]` : 'caches', 'a TieredCache', c);
  });
  const o = readOptions(kSchema, options);
  const registry = (o.registry as PromRegistryLike | undefined) ?? loadPromClient().register;
  const prefix = `${o.prefix as string}cache_`;
  const bounds = o.bucketsSeconds as Float64Array;

  let readAt = -Infinity;
  let snapshots: Snapshot[] = [];
  const current = (): Snapshot[] => {
    const now = performance.now();
    // One scrape reads the metrics back to back: one stats() per cache serves them all.
    if (now - readAt > 50) {
      snapshots = list.map((cache) => ({ cache, stats: cache.stats(), histograms: cache.latencyHistograms() }));
      readAt = now;
    }
    return snapshots;
  };

  const perLevel = (suffix: string, help: string, type: 'counter' | 'gauge', pick: (l: TieredLevelStats) => number | undefined): ScrapedMetric =>
    metric(`${prefix}${suffix}`, help, type, 'sum', () => {
      const out: Sample[] = [];
      for (const { stats } of current()) {
        for (const l of stats.levels) {
          const v = pick(l);
          if (v !== undefined) out.push({ labels: { cache: stats.name, level: l.name }, value: v });
        }
      }
      return out;
    });
  const perCache = (suffix: string, help: string, pick: (s: TieredCacheStats) => number): ScrapedMetric =>
    metric(`${prefix}${suffix}`, help, 'counter', 'sum', () => current().map(({ stats }) => ({ labels: { cache: stats.name }, value: pick(stats) })));

  const durationName = `${prefix}operation_duration_seconds`;
  const boundsNs = bounds.map((s) => s * 1e9);
  const cumulative = new Float64Array(bounds.length);
  const le: Labels[] = [...bounds, '+Inf'].map((b) => ({ le: b }));
  const durations = metric(durationName, 'TieredCache get/set latency per level (L1/L2: one call in 256 timed; L3/L4: every call).', 'histogram', 'sum', () => {
    const out: Sample[] = [];
    for (const { stats, histograms } of current()) {
      for (const h of histograms) {
        for (const [op, hist] of [['get', h.get], ['set', h.set]] as const) {
          const shared: Labels = { cache: stats.name, level: h.level, op };
          hist.cumulativeCountsAt(boundsNs, cumulative);
          for (let j = 0; j < bounds.length; j++) out.push({ metricName: `${durationName}_bucket`, labels: le[j]!, sharedLabels: shared, value: cumulative[j]! });
          out.push({ metricName: `${durationName}_bucket`, labels: le[bounds.length]!, sharedLabels: shared, value: hist.count });
          out.push({ metricName: `${durationName}_sum`, labels: {}, sharedLabels: shared, value: hist.count === 0 ? 0 : (hist.mean * hist.count) / 1e9 });
          out.push({ metricName: `${durationName}_count`, labels: {}, sharedLabels: shared, value: hist.count });
        }
      }
    }
    return out;
  });

  const metrics: ScrapedMetric[] = [
    perLevel('hits_total', 'Fresh entries found at this level by TieredCache lookups.', 'counter', (l) => l.hits),
    perLevel('misses_total', 'TieredCache lookups that reached this level and found nothing fresh.', 'counter', (l) => l.misses),
    perLevel('evictions_total', 'Entries the level evicted to make room.', 'counter', (l) => l.evictions),
    perLevel('admissions_rejected_total', 'Candidates the W-TinyLFU admission filter refused.', 'counter', (l) => l.admissionsRejected),
    perLevel('level_errors_total', 'Errors the level raised; each was answered by the other levels.', 'counter', (l) => l.errors),
    perLevel('level_up', '1 while the level answers, 0 while it is failing.', 'gauge', (l) => (l.up ? 1 : 0)),
    perLevel('entries', 'Live entries in the level.', 'gauge', (l) => l.size),
    perLevel('window_entries', 'W-TinyLFU admission window size.', 'gauge', (l) => l.windowSize),
    perCache('loader_calls_total', 'getOrLoad loader calls made by this process.', (s) => s.loaderCalls),
    perCache('single_flight_joins_total', 'getOrLoad calls that shared a load already running in this process.', (s) => s.singleFlightJoins),
    perCache('lease_waits_total', "getOrLoad calls that waited on another process's lease.", (s) => s.leaseWaits),
    perCache('stale_served_total', 'Stale values served (stale-while-revalidate, stale-if-error).', (s) => s.staleServed),
    perCache('load_errors_total', 'Loader failures (throws and timeouts).', (s) => s.loadErrors),
    perCache('load_timeouts_total', 'Loaders that ran past loadTimeoutMs.', (s) => s.loadTimeouts),
    perCache('invalidations_received_total', 'Keys other processes invalidated.', (s) => s.invalidationsReceived),
    durations,
  ];
  for (const m of metrics) {
    if (registry.getSingleMetric(m.name) !== undefined) throw invalidType('options.prefix', `a prefix whose metric ${m.name} is not already registered`, o.prefix);
  }
  for (const m of metrics) registry.registerMetric(m as never);
  return {
    metricNames: metrics.map((m) => m.name),
    unregister: () => {
      for (const m of metrics) if (registry.getSingleMetric(m.name) === m) registry.removeSingleMetric(m.name);
    },
  };
}
