/**
 * Prometheus export (issue 15 item 8): what a scrape (`registry.metrics()`) costs when it
 * copies N = 10 / 100 of our histograms into microsecond buckets or our quantiles, beside
 * prom-client's own Histogram holding the same data as N label sets; and the per-record
 * cost that export keeps off the hot path (ours vs prom-client `Histogram.observe`).
 */
import { Histogram, Registry } from 'prom-client';

import { LatencyHistogram, LatencyRegistry, MICROSECOND_BUCKETS_SECONDS, registerPrometheus } from '../../lib/index.js';
import type { TaskSpec } from '../lib/suite.js';
import type { MonitorBenchPart } from './index.js';

const kRecordsPerHistogram = 10_000;

/** Integer ns log-uniform over 1 µs .. 1 ms, deterministic. */
function latencies(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = Math.round(1000 * 1000 ** ((x >>> 0) / 4294967296));
  }
  return out;
}

/** A registry of n filled histograms, exported into a fresh prom-client Registry. */
function ours(n: number, kind: 'histogram' | 'summary'): Registry {
  const latency = new LatencyRegistry();
  for (let h = 0; h < n; h++) {
    const hist = latency.histogram(`stage-${h}`);
    for (const v of latencies(kRecordsPerHistogram, h + 1)) hist.record(v);
  }
  const registry = new Registry();
  registerPrometheus({ registry, latency, kind });
  return registry;
}

/** prom-client's Histogram with the same buckets and data, one label set per histogram. */
function theirs(n: number): Registry {
  const registry = new Registry();
  const h = new Histogram({ name: 'latency_seconds', help: 'x', labelNames: ['name'], buckets: [...MICROSECOND_BUCKETS_SECONDS], registers: [registry] });
  for (let i = 0; i < n; i++) {
    const child = h.labels({ name: `stage-${i}` });
    for (const v of latencies(kRecordsPerHistogram, i + 1)) child.observe(v / 1e9);
  }
  return registry;
}

function scrape(name: string, build: () => Registry): TaskSpec {
  let registry: Registry | undefined;
  return {
    name,
    mode: 'async',
    beforeAll: () => {
      registry = build();
    },
    fn: () => registry!.metrics(),
  };
}

const values = latencies(4096, 7);
let i = 0;
const recordHist = new LatencyHistogram();
const observeHist = new Histogram({ name: 'observe_seconds', help: 'x', buckets: [...MICROSECOND_BUCKETS_SECONDS], registers: [] });

export const part: MonitorBenchPart = {
  name: 'prometheus',
  groups: [
    {
      name: 'prometheus scrape',
      description: `registry.metrics() over N histograms of ${kRecordsPerHistogram} values: ours copied at scrape time vs prom-client's own Histogram`,
      tasks: [
        scrape('scrape: 10 of ours as histograms', () => ours(10, 'histogram')),
        scrape('scrape: 100 of ours as histograms', () => ours(100, 'histogram')),
        scrape('scrape: 10 of ours as summaries', () => ours(10, 'summary')),
        scrape('scrape: 100 of ours as summaries', () => ours(100, 'summary')),
        scrape('scrape: prom-client Histogram, 10 label sets', () => theirs(10)),
        scrape('scrape: prom-client Histogram, 100 label sets', () => theirs(100)),
      ],
    },
    {
      name: 'prometheus hot path',
      description: 'one recorded latency: our LatencyHistogram.record (ns) vs prom-client Histogram.observe (s), same 16 buckets for prom-client',
      tasks: [
        { name: 'prom: LatencyHistogram.record', fn: () => recordHist.record(values[i++ & 4095]!) },
        { name: 'prom: prom-client Histogram.observe', fn: () => observeHist.observe(values[i++ & 4095]! / 1e9) },
      ],
    },
  ],
};
