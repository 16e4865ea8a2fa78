/**
 * Prometheus export (issue 15 item 8): our histograms copied into prom-client at scrape
 * time, the exposition text checked by `promtool check metrics` (Debian's `prometheus`
 * package; required under CI=true, skipped elsewhere when absent) and its values checked
 * against the histograms they came from.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, register as globalRegister } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';

import {
  GpuMonitor,
  LatencyHistogram,
  LatencyRegistry,
  MICROSECOND_BUCKETS_SECONDS,
  MissingPeerDependencyError,
  registerPrometheus,
} from '../lib/index.js';
import { loadPromClient } from '../lib/monitor/prometheus.js';
import { fakeNvmlPath } from './helpers/fake-nvml.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native';
const promtool = spawnSync('promtool', ['--version']).status === 0;
if (process.env.CI === 'true' && !promtool) {
  throw new Error("promtool is required under CI=true (Debian's 'prometheus' package, installed by .ci/run)");
}

/** Runs `promtool check metrics` on the text; returns its complaints ('' when clean). */
function promtoolCheck(text: string): string {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return r.status === 0 ? '' : `exit ${r.status}: ${r.stdout}${r.stderr}`;
}

interface Line {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The sample lines of an exposition (text format 0.0.4), label values unescaped. */
function parse(text: string): Line[] {
  const out: Line[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    for (const l of (m[3] ?? '').matchAll(re)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

function pick(lines: Line[], name: string, labels: Record<string, string>): number[] {
  return lines.filter((l) => l.name === name && Object.entries(labels).every(([k, v]) => l.labels[k] === v)).map((l) => l.value);
}

const exports: { unregister(): void }[] = [];
const gpus: GpuMonitor[] = [];
afterEach(() => {
  for (const e of exports.splice(0)) e.unregister();
  for (const g of gpus.splice(0)) g.close();
});

function filled(): LatencyRegistry {
  const latency = new LatencyRegistry();
  const submit = latency.histogram('order-submit');
  // 1 µs .. 3 ms, log-spread, plus a value past every bucket.
  for (let i = 0; i < 5000; i++) submit.record(Math.round(1000 * 3000 ** (i / 4999)));
  submit.record(2e9);
  const decode = latency.histogram('itch "decode"\\raw\n');
  for (const ns of [150, 151, 999, 1000, 1001, 2500, 2_000_000]) decode.record(ns);
  latency.histogram('empty');
  return latency;
}

describe('registerPrometheus', () => {
  it.runIf(promtool)('exposes histograms that promtool accepts, with the histograms’ own counts', async () => {
    const latency = filled();
    const registry = new Registry();
    exports.push(registerPrometheus({ registry, latency }));
    const text = await registry.metrics();
    expect(promtoolCheck(text)).toBe('');
    const lines = parse(text);
    const boundsNs = MICROSECOND_BUCKETS_SECONDS.map((s) => s * 1e9);
    const expected = new Float64Array(boundsNs.length);
    for (const name of latency.names()) {
      const h = latency.get(name)!;
      h.cumulativeCountsAt(boundsNs, expected);
      const buckets = MICROSECOND_BUCKETS_SECONDS.map((le) => pick(lines, 'ultra_perf_latency_seconds_bucket', { name, le: String(le) })[0]);
      expect(buckets, name).toEqual([...expected]);
      expect(pick(lines, 'ultra_perf_latency_seconds_bucket', { name, le: '+Inf' }), name).toEqual([h.count]);
      expect(pick(lines, 'ultra_perf_latency_seconds_count', { name }), name).toEqual([h.count]);
      const [sum] = pick(lines, 'ultra_perf_latency_seconds_sum', { name });
      expect(sum, name).toBeCloseTo(h.count === 0 ? 0 : (h.mean * h.count) / 1e9, 12);
    }
    // The decode histogram's values by hand: at or below 1 µs are 150, 151, 999, 1000.
    const decode = 'itch "decode"\\raw\n';
    expect(pick(lines, 'ultra_perf_latency_seconds_bucket', { name: decode, le: '0.000001' })).toEqual([4]);
    expect(pick(lines, 'ultra_perf_latency_seconds_bucket', { name: decode, le: '0.000005' })).toEqual([6]);
    expect(pick(lines, 'ultra_perf_latency_seconds_bucket', { name: decode, le: '0.001' })).toEqual([6]);
    expect(pick(lines, 'ultra_perf_latency_seconds_bucket', { name: decode, le: '0.002' })).toEqual([7]);
    expect(pick(lines, 'ultra_perf_latency_seconds_bucket', { name: 'order-submit', le: '0.1' })).toEqual([5000]);
    expect(pick(lines, 'ultra_perf_latency_seconds_count', { name: 'order-submit' })).toEqual([5001]);
  });

  it('copies at scrape time: values recorded after registration appear in the next scrape', async () => {
    const latency = new LatencyRegistry();
    const registry = new Registry();
    exports.push(registerPrometheus({ registry, latency, prefix: 'app_' }));
    expect(parse(await registry.metrics())).toEqual([]);
    const h = latency.histogram('risk-check');
    h.record(4000);
    let lines = parse(await registry.metrics());
    expect(pick(lines, 'app_latency_seconds_count', { name: 'risk-check' })).toEqual([1]);
    expect(pick(lines, 'app_latency_seconds_bucket', { name: 'risk-check', le: '0.000002' })).toEqual([0]);
    expect(pick(lines, 'app_latency_seconds_bucket', { name: 'risk-check', le: '0.000005' })).toEqual([1]);
    h.record(4000);
    h.record(30_000);
    lines = parse(await registry.metrics());
    expect(pick(lines, 'app_latency_seconds_count', { name: 'risk-check' })).toEqual([3]);
    expect(pick(lines, 'app_latency_seconds_bucket', { name: 'risk-check', le: '0.00005' })).toEqual([3]);
    // getMetricsAsJSON (and prom-client's cluster aggregation, which uses it) sees every label.
    const json = await registry.getMetricsAsJSON();
    expect(json[0]!.values).toContainEqual({ metricName: 'app_latency_seconds_count', labels: { name: 'risk-check' }, value: 3 });
    expect(json[0]!.values).toContainEqual({ metricName: 'app_latency_seconds_bucket', labels: { le: 0.00005, name: 'risk-check' }, value: 3 });
    // prom-client's resetMetrics() leaves our histograms alone: they are the application's state.
    registry.resetMetrics();
    expect(h.count).toBe(3);
  });

  it.runIf(promtool)('exposes our quantiles as a summary', async () => {
    const latency = filled();
    const registry = new Registry();
    exports.push(registerPrometheus({ registry, latency, kind: 'summary', quantiles: [0.5, 0.99, 0.9999] }));
    const text = await registry.metrics();
    expect(promtoolCheck(text)).toBe('');
    expect(text).toContain('# TYPE ultra_perf_latency_seconds summary');
    const lines = parse(text);
    const h = latency.get('order-submit')!;
    for (const q of [0.5, 0.99, 0.9999]) {
      expect(pick(lines, 'ultra_perf_latency_seconds', { name: 'order-submit', quantile: String(q) })).toEqual([h.percentile(q * 100) / 1e9]);
    }
    expect(pick(lines, 'ultra_perf_latency_seconds_count', { name: 'order-submit' })).toEqual([5001]);
    expect(pick(lines, 'ultra_perf_latency_seconds', { name: 'empty', quantile: '0.5' })).toEqual([NaN]);
  });

  it.runIf(promtool)('adds GPU gauges; with no NVML, only gpu_up 0', async () => {
    const gpu = new GpuMonitor({ libraryPath: '/nonexistent/libnvidia-ml.so.1' });
    gpus.push(gpu);
    const registry = new Registry();
    const e = registerPrometheus({ registry, latency: null, gpu, prefix: '' });
    exports.push(e);
    expect(e.metricNames).toContain('gpu_power_watts');
    const text = await registry.metrics();
    expect(promtoolCheck(text)).toBe('');
    expect(parse(text)).toEqual([{ name: 'gpu_up', labels: {}, value: 0 }]);
  });

  it.runIf(promtool && native)('reads the GPU gauges from NVML at scrape time (fake libnvidia-ml)', async () => {
    const gpu = new GpuMonitor({ libraryPath: fakeNvmlPath() });
    gpus.push(gpu);
    const registry = new Registry();
    exports.push(registerPrometheus({ registry, latency: null, gpu }));
    const text = await registry.metrics();
    expect(promtoolCheck(text)).toBe('');
    const lines = parse(text);
    const h200 = { gpu: '0', name: 'Fake H200' };
    const t4 = { gpu: '1', name: 'Fake T4' };
    expect(pick(lines, 'ultra_perf_gpu_up', {})).toEqual([1]);
    expect(pick(lines, 'ultra_perf_gpu_utilization_ratio', h200)).toEqual([0.37]);
    expect(pick(lines, 'ultra_perf_gpu_memory_utilization_ratio', h200)).toEqual([0.12]);
    expect(pick(lines, 'ultra_perf_gpu_memory_used_bytes', h200)).toEqual([1073741824]);
    expect(pick(lines, 'ultra_perf_gpu_memory_total_bytes', t4)).toEqual([16106127360]);
    expect(pick(lines, 'ultra_perf_gpu_temperature_celsius', h200)).toEqual([41]);
    expect(pick(lines, 'ultra_perf_gpu_power_watts', h200)).toEqual([123.456]);
    expect(pick(lines, 'ultra_perf_gpu_clock_hertz', { ...h200, clock: 'memory' })).toEqual([3201e6]);
    // What device 1 does not report is left out, not exported as 0.
    expect(pick(lines, 'ultra_perf_gpu_power_watts', t4)).toEqual([]);
    expect(pick(lines, 'ultra_perf_gpu_temperature_celsius', t4)).toEqual([]);
    expect(pick(lines, 'ultra_perf_gpu_clock_hertz', { ...t4, clock: 'video' })).toEqual([]);
    expect(pick(lines, 'ultra_perf_gpu_clock_hertz', { ...t4, clock: 'sm' })).toEqual([1255e6]);
  });

  it("uses prom-client's global registry by default, and unregister() takes the metrics out", async () => {
    const latency = new LatencyRegistry();
    latency.histogram('x').record(1);
    const e = registerPrometheus({ latency, prefix: 'test_default_' });
    expect(globalRegister.getSingleMetric('test_default_latency_seconds')).toBeDefined();
    expect(await globalRegister.metrics()).toContain('test_default_latency_seconds_count{name="x"} 1');
    e.unregister();
    expect(globalRegister.getSingleMetric('test_default_latency_seconds')).toBeUndefined();
  });

  it('exports the process-wide latencyRegistry when no latency is given', () => {
    const registry = new Registry();
    const e = registerPrometheus({ registry });
    exports.push(e);
    expect(e.metricNames).toEqual(['ultra_perf_latency_seconds']);
  });

  it('refuses to register the same metric twice, naming the prefix', () => {
    const registry = new Registry();
    exports.push(registerPrometheus({ registry, latency: new LatencyRegistry() }));
    expect(() => registerPrometheus({ registry, latency: new LatencyRegistry() })).toThrow(
      'Expected a prefix whose metric ultra_perf_latency_seconds is not already registered for options.prefix but received \"ultra_perf_\"',
    );
  });

  it('rejects bad options, naming each', () => {
    const registry = new Registry();
    const cases: [Record<string, unknown>, string, string][] = [
      [{ registry: {} }, 'ERR_INVALID_ARG_TYPE', 'Expected a prom-client Registry for options.registry'],
      [{ registry, prefix: 'bad-prefix' }, 'ERR_INVALID_ARG_VALUE', 'options.prefix but received "bad-prefix"'],
      [{ registry, prefix: 3 }, 'ERR_INVALID_ARG_TYPE', 'options.prefix'],
      [{ registry, latency: {} }, 'ERR_INVALID_ARG_TYPE', 'Expected a LatencyRegistry or null for options.latency'],
      [{ registry, kind: 'gauge' }, 'ERR_INVALID_ARG_VALUE', 'options.kind but received "gauge"'],
      [{ registry, bucketsSeconds: [1e-6, 1e-6] }, 'ERR_OUT_OF_RANGE', 'options.bucketsSeconds[1] but received 0.000001'],
      [{ registry, bucketsSeconds: [0] }, 'ERR_OUT_OF_RANGE', 'options.bucketsSeconds[0] but received 0'],
      [{ registry, bucketsSeconds: [1, NaN] }, 'ERR_OUT_OF_RANGE', 'options.bucketsSeconds[1] but received NaN'],
      [{ registry, bucketsSeconds: [] }, 'ERR_OUT_OF_RANGE', 'options.bucketsSeconds'],
      [{ registry, bucketsSeconds: 'x' }, 'ERR_INVALID_ARG_TYPE', 'options.bucketsSeconds'],
      [{ registry, quantiles: [0.5, 1] }, 'ERR_OUT_OF_RANGE', 'options.quantiles[1] but received 1'],
      // the same quantile twice wrote the same series twice in one exposition (Prometheus drops the duplicate sample)
      [{ registry, quantiles: [0.5, 0.99, 0.5] }, 'ERR_OUT_OF_RANGE', 'options.quantiles[2] but received 0.5'],
      [{ registry, gpu: 'nvidia' }, 'ERR_INVALID_ARG_TYPE', 'Expected a GpuMonitor or null for options.gpu'],
      [{ registry, buckets: [1] }, 'ERR_ULTRA_PERF_UNKNOWN_OPTION', "did you mean 'bucketsSeconds'?"],
    ];
    for (const [options, code, text] of cases) {
      let err: (Error & { code?: string }) | undefined;
      try {
        registerPrometheus(options as never);
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code, text).toBe(code);
      expect(err?.message).toContain(text);
    }
  });

  it("names 'prom-client' when it is not installed", () => {
    // A require rooted where no node_modules holds prom-client.
    const bare = createRequire(join(tmpdir(), 'no-such-dir', 'x.js'));
    let err: unknown;
    try {
      loadPromClient(bare);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingPeerDependencyError);
    expect((err as MissingPeerDependencyError).code).toBe('ERR_ULTRA_PERF_MISSING_PEER');
    expect((err as Error).message).toBe(
      "Prometheus export (registerPrometheus) needs the optional peer dependency 'prom-client', which is not installed: npm install prom-client",
    );
    expect(loadPromClient().register).toBe(globalRegister);
  });
});

describe('LatencyHistogram.cumulativeCountsAt', () => {
  it('counts values at or below each bound, matching a direct count at slot edges', () => {
    const h = new LatencyHistogram();
    const values = [0, 1, 5, 999, 1000, 1001, 2047, 2048, 65_535, 1e6, 4e12];
    for (const v of values) h.record(v);
    const bounds = [0, 1, 1000, 2047, 65_535, 1e6, 1e9, Infinity];
    const out = new Float64Array(bounds.length);
    h.cumulativeCountsAt(bounds, out);
    // 4e12 is above highestTrackableValue (1 h): counted at it, so only under Infinity.
    expect([...out]).toEqual(bounds.map((b) => values.filter((v) => v <= b).length));
    new LatencyHistogram().cumulativeCountsAt(bounds, out);
    expect([...out]).toEqual(bounds.map(() => 0));
  });

  it('rejects bad arguments, naming each', () => {
    const h = new LatencyHistogram();
    expect(() => h.cumulativeCountsAt([2, 1], new Float64Array(2))).toThrow('Expected a number >= 0 and >= the bound before it for bounds[1] but received 1');
    expect(() => h.cumulativeCountsAt([-1], new Float64Array(1))).toThrow('for bounds[0] but received -1');
    expect(() => h.cumulativeCountsAt([1, NaN], new Float64Array(2))).toThrow('for bounds[1] but received NaN');
    expect(() => h.cumulativeCountsAt([1, 2], new Float64Array(1))).toThrow('Expected a Float64Array of at least 2 elements for out');
    expect(() => h.cumulativeCountsAt([1], [0] as never)).toThrow('Expected a Float64Array for out');
    expect(() => h.cumulativeCountsAt(5 as never, new Float64Array(1))).toThrow('for bounds but received 5');
  });
});

