/**
 * Review of the numbers the HTTP API reports (issue 17: status values measured, never
 * constants). Each case checks a value against an independent reference: NumPy/SciPy figures
 * for the risk routes (computed once with numpy.quantile (linear), numpy.std(ddof=1),
 * scipy.stats.norm and numpy.corrcoef on the same deterministic inputs), a plain sort for the
 * percentiles, and the exact number of requests the test sent for the telemetry counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MicrosecondTimer } from '../lib/monitor/index.js';
import { ServerTelemetry } from '../lib/server/telemetry.js';
import { runBenchmark, summarizeNs } from '../lib/server/workloads/latency.js';
import { startServer, type TestServer } from './helpers/server.js';

/** The same linear congruential sequence the reference figures were computed on. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

function referenceInputs(): { returns: number[]; data: number[] } {
  const rnd = lcg(12345);
  const returns = Array.from({ length: 1000 }, () => (rnd() - 0.5) * 0.04 + (rnd() < 0.05 ? -0.05 : 0));
  const data = Array.from({ length: 4 * 300 }, () => rnd());
  for (let t = 0; t < 300; t++) data[t * 4 + 1]! += data[t * 4]!;
  return { returns, data };
}

/** NumPy/SciPy on referenceInputs(): [confidence, VaR hist, CVaR hist, VaR param, CVaR param]. */
const kNumpyVaR = [
  [0.95, 0.041117141842842056, 0.05451397334039212, 0.031286865023861334, 0.038433256095687],
  [0.99, 0.06305749063491821, 0.06621417999267579, 0.042942046074138304, 0.04873747081161564],
] as const;
/** numpy.corrcoef upper triangle (0,1) (0,2) (0,3) (1,2) (1,3) (2,3). */
const kNumpyCorr = [0.6870189852336639, 0.0026190086860436125, 0.012894937663414286, -0.00459583030885969, 0.034084271028106336, -0.13806880262757837];

let server: TestServer;

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(server.api + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** A 202 (the job outlived limits.syncWaitMs on a loaded machine) is polled to its result. */
async function postJob(path: string, body: unknown): Promise<{ status: number; body: any }> {
  let r = await post(path, body);
  while (r.status === 202) {
    await new Promise((done) => setTimeout(done, 50));
    const job = await get(`/jobs/${r.body.id}`);
    if (job.body.state === 'done') r = { status: 200, body: job.body.result };
    else if (job.body.state !== 'queued' && job.body.state !== 'running') r = { status: 500, body: job.body };
  }
  return r;
}

async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(server.api + path);
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

describe('gpu/* against NumPy/SciPy', () => {
  it('historical and parametric VaR/CVaR equal numpy.quantile (linear) and the normal formula', async () => {
    const { returns } = referenceInputs();
    for (const [method, vi, ci] of [
      ['historical', 1, 2],
      ['parametric', 3, 4],
    ] as const) {
      const { status, body } = await postJob('/gpu/var-calculation', { returns, confidenceLevels: [0.95, 0.99], method });
      expect({ status, method }).toEqual({ status: 200, method });
      expect(body.results, JSON.stringify(body)).toHaveLength(2);
      for (const [k, ref] of kNumpyVaR.entries()) {
        expect(body.results[k].confidence).toBe(ref[0]);
        expect(body.results[k].var).toBeCloseTo(ref[vi], 12);
        expect(body.results[k].cvar).toBeCloseTo(ref[ci], 12);
      }
      expect(body.var_95).toBe(body.results[0].var);
      expect(body.cvar_99).toBe(body.results[1].cvar);
      // honest flags: the GPU claim follows the backend that ran, and the time is the library's (> 0, finite)
      expect(body.gpu_accelerated).toBe(body.backend === 'cuda');
      expect(Number.isFinite(body.computation_time_ms) && body.computation_time_ms > 0).toBe(true);
      expect(body.computation_time_ms).toBeCloseTo(
        body.results.reduce((s: number, r: { computeTimeMs: number }) => s + r.computeTimeMs, 0),
        9,
      );
    }
  });

  it('the correlation matrix equals numpy.corrcoef and its summary is that of the upper triangle', async () => {
    const { data } = referenceInputs();
    const { status, body } = await postJob('/gpu/correlation-matrix', { data, assets: 4, observations: 300 });
    expect(status).toBe(200);
    const m: number[] = body.matrix;
    const upper = [m[1], m[2], m[3], m[6], m[7], m[11]];
    for (const [k, ref] of kNumpyCorr.entries()) expect(upper[k]).toBeCloseTo(ref, 12);
    for (let i = 0; i < 4; i++) expect(m[i * 5]).toBeCloseTo(1, 12);
    expect(body.summary.pairs).toBe(6);
    expect(body.summary.meanCorrelation).toBeCloseTo(kNumpyCorr.reduce((s, v) => s + v, 0) / 6, 12);
    expect(body.summary.maxCorrelation).toBeCloseTo(Math.max(...kNumpyCorr), 12);
    expect(body.summary.minCorrelation).toBeCloseTo(Math.min(...kNumpyCorr), 12);
    expect(body.summary.topPairs[0]).toMatchObject({ i: 0, j: 1 });
    expect(body.summary.topPairs[1]).toMatchObject({ i: 2, j: 3 });
    expect(body.gpu_accelerated).toBe(body.backend === 'cuda');
  });
});

describe('percentiles', () => {
  it('summarizeNs is the nearest rank of a plain numeric sort', () => {
    // 1..100 shuffled, and values of different digit counts (a string sort would put 100 before 20)
    const values = [100, 20, 3, 1000, 55, 7, 42, 9, 250, 11];
    const s = summarizeNs(Float64Array.from(values));
    const sorted = [...values].sort((a, b) => a - b);
    const rank = (p: number) => sorted[Math.ceil((p / 100) * sorted.length) - 1];
    expect(s.p50Ns).toBe(rank(50));
    expect(s.p99Ns).toBe(rank(99));
    expect(s.maxNs).toBe(1000);
    expect(s.totalNs).toBe(values.reduce((a, b) => a + b, 0));
    expect(s.meanNs).toBe(s.totalNs / values.length);
    // only the first `count` samples count
    expect(summarizeNs(Float64Array.from([5, 1, 9, 1e9]), 3)).toMatchObject({ maxNs: 9, p50Ns: 5, totalNs: 15 });
  });
});

describe('benchmark-function counts', () => {
  it('reports the operations and clock readings it made, the overhead it subtracted, ordered percentiles', () => {
    const r = runBenchmark({ workload: 'slab-alloc-free', iterations: 100, warmup: 10, batchSize: 7, backend: 'ts', maxMs: 60_000 });
    // 14 batches of 7 and one of 2
    expect(r).toMatchObject({ iterations: 100, requestedIterations: 100, samples: 15, batchSize: 7, truncated: false, backend: 'ts', unit: 'ns' });
    expect(r.timerOverheadNs).toBe(MicrosecondTimer.overheadNs);
    const l = r.latencyNs;
    expect([l.min, l.p50, l.p90, l.p99, l.p999, l.max]).toEqual([l.min, l.p50, l.p90, l.p99, l.p999, l.max].sort((a, b) => a - b));
    expect(l.mean).toBeGreaterThanOrEqual(l.min);
    expect(l.mean).toBeLessThanOrEqual(l.max);
  });
});

describe('network/measure-latency counts', () => {
  it('answers the pings it timed and counts one measurement in network_io', async () => {
    const before = (await get('/network/status')).body.measurements.completed;
    const { status, body } = await post('/network/measure-latency', { count: 40, payloadBytes: 32 });
    expect(status).toBe(200);
    expect(body.target.kind).toBe('loopback-echo');
    expect(body.pings).toMatchObject({ requested: 40, payloadBytes: 32 });
    // all 40 unless limits.measureBudgetMs ran out, and then truncated says so
    expect(body.pings.truncated).toBe(body.pings.count < 40);
    expect(body.pings.count).toBeGreaterThanOrEqual(1);
    expect(body.pings.count).toBeLessThanOrEqual(40);
    const p = body.pings;
    expect([p.minUs, p.p50Us, p.p99Us, p.p999Us, p.maxUs]).toEqual([p.minUs, p.p50Us, p.p99Us, p.p999Us, p.maxUs].sort((a: number, b: number) => a - b));
    expect((await get('/network/status')).body.measurements.completed).toBe(before + 1);
  });
});

describe('status/comprehensive component reports', () => {
  it('ultra_low_latency carries no constant flag: no optimizer_active that was always true', async () => {
    const { status, body } = await get('/status/comprehensive');
    expect(status).toBe(200);
    const report = body.system_info.ultra_low_latency;
    expect(report).not.toHaveProperty('optimizer_active');
    expect(report.order_books).toBe(0);
  });
});

describe('memory/gc-optimize', () => {
  it('never claims a collection or an optimisation it did not make', async () => {
    const { status, body } = await post('/memory/gc-optimize', {});
    expect(status).toBe(200);
    const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
    expect(body.exposeGc).toBe(exposed);
    if (!exposed) {
      expect(body.collection.ran).toBe(false);
      expect(body.collection.type).toBeNull();
      expect(body.collection.durationMs).toBe(0);
    }
    // nothing applied without applyRuntimeFlags, no idle GC: not "optimized"
    expect(body.applied).toEqual([]);
    expect(body.appliedFlags).toEqual([]);
    expect(body.gcOptimized).toBe(false);
    const after = await get('/status/comprehensive');
    // the status report is rebuilt at most every 200 ms; its memory figure is a boolean either way
    expect(after.body.system_info.memory_optimization.gc_optimized).toBe(false);
  });
});

describe('telemetry values', () => {
  it('percentiles are the nearest rank of the recorded durations (within the histogram precision, 2 significant figures), the rate is count over the window', () => {
    const t = new ServerTelemetry({ windowS: 3, cacheMs: 0 });
    try {
      // 5, 10, ... 1000 µs and one 4 ms answer (a 500): 201 requests
      const sorted: number[] = [];
      for (let i = 1; i <= 200; i++) {
        t.recordRequest('GET', '/b', 200, i * 5_000);
        sorted.push(i * 5);
      }
      t.recordRequest('GET', '/b', 500, 4_000_000);
      sorted.push(4000);
      const snap = t.snapshot();
      const r = snap.requests.routes.find((x) => x.route === '/b')!;
      const rank = (p: number) => sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
      for (const [got, p] of [
        [r.p50Us, 50],
        [r.p90Us, 90],
        [r.p99Us, 99],
      ] as const) {
        // two significant figures (telemetry.ts): within 1 %
        expect(Math.abs(got - rank(p)) / rank(p)).toBeLessThan(1e-2);
      }
      expect(r.maxUs).toBeCloseTo(4000, 0);
      expect(r.meanUs).toBeCloseTo(sorted.reduce((a, b) => a + b, 0) / 201, 6);
      expect(snap.requests.total).toBe(201);
      expect(r.ratePerSec * snap.window.rateWindowS).toBeCloseTo(201, 6);
      expect(snap.requests.serverErrorRate).toBeCloseTo(1 / 201, 12);
    } finally {
      t.close();
    }
  });
});

describe('telemetry counts', () => {
  it('counts exactly the requests sent, per route, per status class', async () => {
    // the snapshot is cached up to 200 ms: wait it out before each read, so each read is fresh
    const fresh = async () => {
      await new Promise((r) => setTimeout(r, 260));
      return (await get('/monitoring/telemetry')).body;
    };
    const before = await fresh();
    const row = (snap: any, route: string) => snap.requests.routes.find((r: { route: string; method: string }) => r.route === route && r.method === 'GET');
    const route = '/api/v1/ultra-performance/latency/workloads';
    const countBefore = row(before, route)?.count ?? 0;
    const totalBefore: number = before.requests.total;
    const n = 7;
    for (let i = 0; i < n; i++) expect((await get('/latency/workloads')).status).toBe(200);
    // a 404 on a known route (unknown order book id): one client error
    expect((await get('/latency/orderbooks/nope')).status).toBe(404);
    const after = await fresh();
    expect(row(after, route).count - countBefore).toBe(n);
    const errRow = row(after, '/api/v1/ultra-performance/latency/orderbooks/:id');
    expect(errRow.clientErrors).toBeGreaterThanOrEqual(1);
    // every request between the two reads, and the first read itself (recorded once answered)
    expect(after.requests.total - totalBefore).toBe(n + 1 + 1);
  });
});
