/**
 * Prometheus exposition through prom-client (an optional peer dependency, loaded on first
 * use). The hot path records into our own LatencyHistograms only; a scrape
 * (`registry.metrics()`) copies them, through metric objects whose `get()` prom-client calls
 * at scrape time, into microsecond-scale buckets (prom-client's default 5 ms .. 10 s buckets
 * cannot tell 2 µs from 2 ms) or into a summary of our own quantiles. GPU readings from a
 * GpuMonitor, when one is given, become gauges read at the same moment.
 */
import { createRequire } from 'node:module';

import { UltraPerfError, invalidRange, invalidType, invalidValue } from '../errors.js';
import { type OptionCheck, defineOptions, readOptions } from '../internal/options.js';
import { GpuMonitor, type GpuReading } from './gpu.js';
import { LatencyRegistry, latencyRegistry } from './latency.js';

/** The part of a prom-client `Registry` used here (any prom-client >= 15 registry has it). */
export interface PromRegistryLike {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): unknown;
  metrics(): Promise<string>;
}

/** Log-spaced 1 µs .. 100 ms (1, 2, 5 per decade), in seconds: the default latency buckets. */
export const MICROSECOND_BUCKETS_SECONDS: readonly number[] = Object.freeze(
  [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1],
);
/** The summary's default quantiles (in (0, 1), as Prometheus writes them). */
export const DEFAULT_QUANTILES: readonly number[] = Object.freeze([0.5, 0.9, 0.99, 0.999]);

export interface PrometheusOptions {
  /** Where the metrics go. Default: prom-client's global `register`. */
  registry?: PromRegistryLike;
  /** Prefix of every metric name; a valid Prometheus name start ('' allowed). Default 'ultra_perf_'. */
  prefix?: string;
  /** The latency histograms to export (ns, exported in seconds); null for none. Default: `latencyRegistry`. */
  latency?: LatencyRegistry | null;
  /** How latencies are exported: 'histogram' (buckets, aggregatable across instances; the default) or 'summary' (our quantiles). */
  kind?: 'histogram' | 'summary';
  /** Histogram bucket upper bounds in seconds, ascending, > 0. Default MICROSECOND_BUCKETS_SECONDS. */
  bucketsSeconds?: readonly number[];
  /** Summary quantiles in (0, 1). Default DEFAULT_QUANTILES. */
  quantiles?: readonly number[];
  /** GPU gauges from this monitor (utilization, memory, temperature, power, clocks); null for none (the default). */
  gpu?: GpuMonitor | null;
}

/** What registerPrometheus() added; `unregister()` takes it out again. */
export interface PrometheusExport {
  readonly metricNames: readonly string[];
  unregister(): void;
}

/** prom-client could not be loaded. Code ERR_ULTRA_PERF_MISSING_PEER. */
export class MissingPeerDependencyError extends UltraPerfError {
  readonly packageName: string;
  constructor(packageName: string, what: string, options?: { cause?: unknown }) {
    super('ERR_ULTRA_PERF_MISSING_PEER', `${what} needs the optional peer dependency '${packageName}', which is not installed: npm install ${packageName}`, options);
    this.packageName = packageName;
  }
}

interface PromClientModule {
  register: PromRegistryLike;
}

let promClient: PromClientModule | undefined;

/**
 * prom-client through `requireFn` (the package's own require by default); a
 * MissingPeerDependencyError naming it when it cannot be resolved. Exported for tests.
 */
export function loadPromClient(requireFn: NodeRequire = createRequire(import.meta.url)): PromClientModule {
  try {
    return requireFn('prom-client') as PromClientModule;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new MissingPeerDependencyError('prom-client', 'Prometheus export (registerPrometheus)', { cause: err });
    }
    throw err;
  }
}

const kMetricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

const prefixCheck: OptionCheck = (value, argument) => {
  if (typeof value !== 'string') throw invalidType(argument, 'a Prometheus metric name prefix (a string)', value);
  if (value !== '' && !kMetricName.test(value)) throw invalidValue(argument, 'a prefix matching [a-zA-Z_:][a-zA-Z0-9_:]*', value);
  return value;
};

const registryCheck: OptionCheck = (value, argument) => {
  const r = value as Partial<PromRegistryLike> | null;
  if (r === null || typeof r !== 'object' || typeof r.registerMetric !== 'function' || typeof r.metrics !== 'function' ||
      typeof r.removeSingleMetric !== 'function' || typeof r.getSingleMetric !== 'function') {
    throw invalidType(argument, 'a prom-client Registry', value);
  }
  return value;
};

function instanceCheck(what: string, cls: abstract new (...args: never[]) => unknown): OptionCheck {
  return (value, argument) => {
    if (value !== null && !(value instanceof cls)) throw invalidType(argument, `${what} or null`, value);
    return value;
  };
}

function numbersCheck(what: string, ok: (v: number, previous: number | undefined) => boolean): OptionCheck {
  return (value, argument) => {
    if (!Array.isArray(value)) throw invalidType(argument, `an array of ${what}`, value);
    if (value.length === 0) throw invalidRange(argument, `a non-empty array of ${what}`, value);
    let previous: number | undefined;
    value.forEach((v: unknown, i) => {
      if (typeof v !== 'number' || !ok(v, previous)) throw invalidRange(`${argument}[${i}]`, what, v);
      previous = v;
    });
    return Float64Array.from(value as number[]);
  };
}

const kSchema = defineOptions('registerPrometheus', {
  registry: { check: registryCheck },
  prefix: { check: prefixCheck, default: 'ultra_perf_' },
  latency: { check: instanceCheck('a LatencyRegistry', LatencyRegistry), default: latencyRegistry },
  kind: {
    check: (value, argument) => {
      if (value !== 'histogram' && value !== 'summary') throw invalidValue(argument, "'histogram' or 'summary'", value);
      return value;
    },
    default: 'histogram',
  },
  bucketsSeconds: {
    check: numbersCheck('finite bucket bounds in seconds, > 0 and ascending', (v, p) => v > 0 && v < Infinity && (p === undefined || v > p)),
    default: Float64Array.from(MICROSECOND_BUCKETS_SECONDS),
  },
  quantiles: {
    check: (value, argument) => {
      // one series per quantile: a repeated one would be written twice in every scrape
      const seen = new Set<number>();
      return numbersCheck('distinct quantiles in (0, 1)', (v) => v > 0 && v < 1 && seen.size < seen.add(v).size)(value, argument);
    },
    default: Float64Array.from(DEFAULT_QUANTILES),
  },
  gpu: { check: instanceCheck('a GpuMonitor', GpuMonitor), default: null },
});

/** Label names to values, as prom-client takes them. */
export type Labels = Record<string, string | number>;
/** One exposed sample (exported for lib/cache/prometheus.ts, which builds its metrics with `metric`). */
export interface Sample {
  value: number;
  labels: Labels;
  /** Labels prom-client formats once per object (a WeakMap cache): ours are kept across scrapes. */
  sharedLabels?: Labels;
  metricName?: string;
}

/** A metric as prom-client's Registry reads one: `get()` runs at scrape time. */
export interface ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram' | 'summary' | 'gauge' | 'counter';
  readonly aggregator: 'sum' | 'average' | 'max' | 'min';
  /** For the text exposition (`registry.metrics()`): shared labels kept apart, as prom-client's own metrics do. */
  getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }>;
  /** For `getMetricsAsJSON()` and cluster aggregation: every label in `labels`. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }>;
  reset(): void;
}

/** A metric whose samples `values()` computes at scrape time. */
export function metric(
  name: string,
  help: string,
  type: ScrapedMetric['type'],
  aggregator: ScrapedMetric['aggregator'],
  values: () => Sample[],
): ScrapedMetric {
  return {
    name,
    help,
    type,
    aggregator,
    getForPromString: async () => ({ name, help, type, aggregator, values: values() }),
    get: async () => ({
      name,
      help,
      type,
      aggregator,
      values: values().map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    }),
    // Our histograms are the state; prom-client's resetMetrics() must not clear them.
    reset: () => {},
  };
}

/**
 * `{ name }` label objects by histogram name, the same object scrape after scrape, so that
 * prom-client formats each once (its shared-label cache is keyed by the object). Names that
 * are gone from the registry are dropped at the next scrape.
 */
function nameLabels(latency: LatencyRegistry): () => [string, Labels][] {
  let byName = new Map<string, Labels>();
  return () => {
    const next = new Map<string, Labels>();
    for (const n of latency.names()) next.set(n, byName.get(n) ?? { name: n });
    byName = next;
    return [...next];
  };
}

/** Bucket samples of every histogram in `latency`, copied now. */
function histogramSamples(name: string, latency: LatencyRegistry, boundsSeconds: Float64Array): () => Sample[] {
  const boundsNs = boundsSeconds.map((s) => s * 1e9);
  const cumulative = new Float64Array(boundsNs.length);
  const le: Labels[] = [...boundsSeconds, '+Inf'].map((b) => ({ le: b }));
  const none: Labels = {};
  const names = nameLabels(latency);
  const bucket = `${name}_bucket`;
  const sum = `${name}_sum`;
  const count = `${name}_count`;
  return () => {
    const out: Sample[] = [];
    for (const [histogramName, shared] of names()) {
      const h = latency.get(histogramName)!;
      h.cumulativeCountsAt(boundsNs, cumulative);
      for (let j = 0; j < boundsNs.length; j++) out.push({ metricName: bucket, labels: le[j]!, sharedLabels: shared, value: cumulative[j]! });
      out.push({ metricName: bucket, labels: le[boundsNs.length]!, sharedLabels: shared, value: h.count });
      out.push({ metricName: sum, labels: none, sharedLabels: shared, value: h.count === 0 ? 0 : (h.mean * h.count) / 1e9 });
      out.push({ metricName: count, labels: none, sharedLabels: shared, value: h.count });
    }
    return out;
  };
}

/** Summary samples (our quantiles) of every histogram in `latency`, copied now. */
function summarySamples(name: string, latency: LatencyRegistry, quantiles: Float64Array): () => Sample[] {
  const quantile: Labels[] = [...quantiles].map((q) => ({ quantile: q }));
  const none: Labels = {};
  const names = nameLabels(latency);
  const sum = `${name}_sum`;
  const count = `${name}_count`;
  return () => {
    const out: Sample[] = [];
    for (const [histogramName, shared] of names()) {
      const h = latency.get(histogramName)!;
      for (let j = 0; j < quantiles.length; j++) {
        out.push({ labels: quantile[j]!, sharedLabels: shared, value: h.percentile(quantiles[j]! * 100) / 1e9 });
      }
      out.push({ metricName: sum, labels: none, sharedLabels: shared, value: h.count === 0 ? 0 : (h.mean * h.count) / 1e9 });
      out.push({ metricName: count, labels: none, sharedLabels: shared, value: h.count });
    }
    return out;
  };
}

/** GPU gauges: one NVML read per scrape, shared by the gauges that prom-client gets in turn. */
function gpuMetrics(prefix: string, gpu: GpuMonitor): ScrapedMetric[] {
  let readAt = -Infinity;
  let readings: GpuReading[] = [];
  let up = 0;
  const current = (): GpuReading[] => {
    const now = performance.now();
    // The gauges of one scrape are read back to back: one NVML pass serves them all.
    if (now - readAt > 50) {
      const report = gpu.report();
      readings = report.devices;
      up = report.available ? 1 : 0;
      readAt = now;
    }
    return readings;
  };
  const labels = (r: GpuReading): Labels => ({ gpu: r.index, name: r.name });
  const gauge = (suffix: string, help: string, pick: (r: GpuReading) => number | null, aggregator: ScrapedMetric['aggregator'] = 'average') =>
    metric(`${prefix}gpu_${suffix}`, help, 'gauge', aggregator, () => {
      const out: Sample[] = [];
      for (const r of current()) {
        const v = pick(r);
        if (v !== null) out.push({ labels: labels(r), value: v });
      }
      return out;
    });
  const clock = metric(`${prefix}gpu_clock_hertz`, 'Current GPU clock by domain (NVML nvmlDeviceGetClockInfo).', 'gauge', 'average', () => {
    const out: Sample[] = [];
    for (const r of current()) {
      for (const [domain, mhz] of Object.entries(r.clocksMhz)) {
        if (mhz !== null) out.push({ labels: { ...labels(r), clock: domain }, value: mhz * 1e6 });
      }
    }
    return out;
  });
  return [
    metric(`${prefix}gpu_up`, '1 when NVML answered this scrape, else 0 (GpuMonitor.reason says why).', 'gauge', 'min', () => {
      current();
      return [{ labels: {}, value: up }];
    }),
    gauge('utilization_ratio', 'Fraction of the last sample period a kernel ran (NVML utilization.gpu / 100).', (r) =>
      r.utilizationPercent === null ? null : r.utilizationPercent / 100),
    gauge('memory_utilization_ratio', 'Fraction of the last sample period device memory was read or written.', (r) =>
      r.memoryUtilizationPercent === null ? null : r.memoryUtilizationPercent / 100),
    gauge('memory_total_bytes', 'Total device memory.', (r) => r.memoryTotalBytes, 'sum'),
    gauge('memory_used_bytes', 'Device memory in use.', (r) => r.memoryUsedBytes, 'sum'),
    gauge('temperature_celsius', 'GPU die temperature.', (r) => r.temperatureC, 'max'),
    gauge('power_watts', 'Board power draw.', (r) => r.powerW, 'sum'),
    clock,
  ];
}

/**
 * Adds our latency histograms (and, given a GpuMonitor, GPU gauges) to a prom-client
 * registry. Nothing is copied until a scrape: each `registry.metrics()` reads the histograms
 * then, so recording stays a few ns. Latencies are exported in seconds (Prometheus' base
 * unit) as `<prefix>latency_seconds{name="<histogram>"}`, by default as a histogram with
 * buckets from 1 µs to 100 ms (`bucketsSeconds`), or with `kind: 'summary'` as our own
 * quantiles. Throws MissingPeerDependencyError when prom-client is needed (no `registry`
 * given) and not installed.
 *
 * @example
 * import { Registry } from 'prom-client';
 * import { registerPrometheus, monitorLatency, GpuMonitor } from 'ultra-performance';
 * const registry = new Registry();
 * registerPrometheus({ registry, gpu: new GpuMonitor() });
 * const submit = monitorLatency('order-submit', sendOrder);
 * http.createServer(async (_, res) => res.end(await registry.metrics())).listen(9464);
 */
export function registerPrometheus(options: PrometheusOptions = {}): PrometheusExport {
  const o = readOptions(kSchema, options);
  const registry = (o.registry as PromRegistryLike | undefined) ?? (promClient ??= loadPromClient()).register;
  const prefix = o.prefix as string;
  const latency = o.latency as LatencyRegistry | null;
  const metrics: ScrapedMetric[] = [];
  if (latency !== null) {
    const name = `${prefix}latency_seconds`;
    if (o.kind === 'summary') {
      metrics.push(metric(name, 'Latency by name, from ultra-performance HdrHistograms (quantiles over all recorded values).', 'summary', 'average',
        summarySamples(name, latency, o.quantiles as Float64Array)));
    } else {
      metrics.push(metric(name, 'Latency by name, from ultra-performance HdrHistograms.', 'histogram', 'sum',
        histogramSamples(name, latency, o.bucketsSeconds as Float64Array)));
    }
  }
  const gpu = o.gpu as GpuMonitor | null;
  if (gpu !== null) metrics.push(...gpuMetrics(prefix, gpu));
  for (const m of metrics) {
    if (registry.getSingleMetric(m.name) !== undefined) {
      throw invalidValue('options.prefix', `a prefix whose metric ${m.name} is not already registered`, prefix);
    }
  }
  for (const m of metrics) registry.registerMetric(m as never);
  const metricNames = metrics.map((m) => m.name);
  return {
    metricNames,
    unregister: () => {
      for (const m of metrics) if (registry.getSingleMetric(m.name) === m) registry.removeSingleMetric(m.name);
    },
  };
}
