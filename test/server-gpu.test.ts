/**
 * The gpu/* routes against a real listening server (fetch over TCP), under both backends
 * (the vitest projects set ULTRA_PERF_BACKEND): good input gives the same numbers as calling
 * lib/risk directly, bad input gets a 4xx naming the argument (and the cap when there is one),
 * long jobs answer 202 with a job resource, and every answer names its backend.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backendInfo } from '../lib/backend.js';
import { GpuMonitor } from '../lib/monitor/gpu.js';
import { calculateVaR, correlationMatrix, covarianceMatrix, monteCarloVaR, simulateGBM } from '../lib/risk/index.js';
import { kernelsFor } from '../lib/risk/kernels.js';
import { JobRunner } from '../lib/server/jobs.js';
import { kDefaultLimits } from '../lib/server/limits.js';
import { ObjectRegistry } from '../lib/server/registry.js';
import { gpuRoutes } from '../lib/server/routes/gpu.js';
import { kSharedSchemas } from '../lib/server/schemas/common.js';
import { ServerTelemetry } from '../lib/server/telemetry.js';
import type { ServerApp, ServerContext } from '../lib/server/types.js';
import { fakeNvmlPath } from './helpers/fake-nvml.js';
import { startServer, type TestServer } from './helpers/server.js';

const expectedBackend = process.env.ULTRA_PERF_BACKEND === 'native' ? 'native' : 'ts';

/** A deterministic return series (an LCG through Box-Muller-free mixing: no Math.random in tests). */
function series(n: number, seed: number, scale = 0.02): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = s / 2 ** 32;
    out.push((u + v - 1) * scale + 0.0005);
  }
  return out;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

let server: TestServer;
let capped: TestServer;
let slow: TestServer;

async function post(s: TestServer, path: string, body: unknown, init: { raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${s.api}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.raw ?? JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function get(s: TestServer, path: string): Promise<Answer> {
  const res = await fetch(`${s.api}/${path}`);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

function expectError(a: Answer, status: number, ...fragments: string[]): void {
  expect(a.status, JSON.stringify(a.body)).toBe(status);
  expect(a.body.statusCode).toBe(status);
  expect(typeof a.body.code).toBe('string');
  for (const f of fragments) expect(a.body.message).toContain(f);
}

/**
 * Jobs run in worker threads, whose first job also loads the library there: on a loaded machine
 * that can pass the default 2 s wait, and a test of a 200 answer would get a 202. The servers
 * that check results wait a minute; `slow` checks the 202.
 */
const kPatient = { syncWaitMs: 60_000, handlerTimeoutMs: 120_000 };

/**
 * Waits for /readyz: right after start, load shedding can read an event-loop sample with no
 * reading as an infinite delay and answer 503 (a client retries after Retry-After; so does this).
 */
async function ready(s: TestServer): Promise<TestServer> {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${s.origin}/readyz`);
    await res.arrayBuffer();
    if (res.status === 200) return s;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the test server ${s.origin} never read as ready (/readyz)`);
}

beforeAll(async () => {
  server = await startServer({ limits: kPatient });
  capped = await startServer({ limits: { ...kPatient, maxReturns: 100, maxPathSteps: 1000, maxAssets: 3, maxMatrixCells: 60, maxInlineMatrixAssets: 2 } });
  slow = await startServer({ limits: { syncWaitMs: 1, jobConcurrency: 1, inlineWorkUnits: 0 } });
  await Promise.all([server, capped, slow].map(ready));
});

afterAll(async () => {
  await Promise.all([server?.close(), capped?.close(), slow?.close()]);
});

describe('GET gpu/status', () => {
  it('reports the devices, why there is no GPU, and which backend auto picks', async () => {
    const a = await get(server, 'gpu/status');
    expect(a.status).toBe(200);
    const info = backendInfo();
    expect(a.body.available).toBe(info.cuda);
    expect(a.body.device_count).toBe(info.devices.length);
    expect(a.body.devices).toEqual(info.devices);
    expect(a.body.native).toBe(info.native);
    expect(a.body.backendMode).toBe(info.mode);
    expect(a.body.defaultBackend).toBe(expectedBackend);
    if (!info.cuda) expect(a.body.cudaError).toBe(info.cudaError);
    const telemetry = a.body.telemetry as { available: boolean; reason?: string; devices: unknown[] };
    expect(typeof telemetry.available).toBe('boolean');
    if (!telemetry.available) {
      expect(telemetry.reason).toEqual(expect.any(String));
      expect(telemetry.devices).toEqual([]);
    }
    const auto = a.body.auto as Record<string, { work: string; threshold: number | null; below: string; atOrAbove: string }>;
    expect(Object.keys(auto).sort()).toEqual(['calculateVaR', 'correlationMatrix', 'monteCarloVaR', 'simulateGBM']);
    expect(auto.calculateVaR!.work).toBe('varObservations');
    for (const pick of Object.values(auto)) {
      // This build measured no crossover: auto never sends work to the GPU, so the threshold is null (Infinity).
      expect(pick.threshold).toBeNull();
      expect(pick.below).toBe(kernelsFor('auto', 'varObservations', 0).name);
      expect(pick.atOrAbove).toBe(info.cuda ? 'cuda' : expectedBackend);
    }
    expect(a.body.computations).toEqual(expect.any(Number));
  });

  it.runIf(process.env.ULTRA_PERF_BACKEND === 'native')('shows the NVML readings when NVML is there (a fake libnvidia-ml)', async () => {
    const libraryPath = fakeNvmlPath();
    const previous = process.env.ULTRA_PERF_NVML_PATH;
    process.env.ULTRA_PERF_NVML_PATH = libraryPath;
    let withNvml: TestServer | undefined;
    const reference = new GpuMonitor({ libraryPath });
    try {
      withNvml = await ready(await startServer());
      const a = await get(withNvml, 'gpu/status');
      expect(a.status).toBe(200);
      const telemetry = a.body.telemetry as { available: boolean; readAt: string; devices: unknown[] };
      expect(telemetry.available).toBe(true);
      expect(telemetry.devices).toEqual(reference.readAll());
      expect(telemetry.devices.length).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(telemetry.readAt))).toBe(false);
    } finally {
      reference.close();
      await withNvml?.close();
      if (previous === undefined) delete process.env.ULTRA_PERF_NVML_PATH;
      else process.env.ULTRA_PERF_NVML_PATH = previous;
    }
  });

  it('counts the computations and shows the last one', async () => {
    const v = await post(server, 'gpu/var-calculation', { returns: series(50, 1) });
    expect(v.status).toBe(200);
    const a = await get(server, 'gpu/status');
    expect(a.body.computations as number).toBeGreaterThanOrEqual(1);
    const last = a.body.lastComputation as { route: string; backend: string; computationTimeMs: number; at: string };
    expect(last.backend).toBe(expectedBackend);
    expect(last.computationTimeMs).toBeGreaterThanOrEqual(0);
    expect(Number.isNaN(Date.parse(last.at))).toBe(false);
  });
});

describe('gpu_acceleration component report', () => {
  it('is the seed shape plus measured fields, and follows the computations', async () => {
    const app = Fastify();
    const limits = { ...kDefaultLimits, ...kPatient };
    const ctx: ServerContext = {
      options: {},
      limits,
      jobs: new JobRunner(limits),
      registry: new ObjectRegistry(limits.maxObjectsPerKind),
      startedAt: performance.now(),
      services: new Map(),
      telemetry: new ServerTelemetry(),
      components: new Map(),
    };
    for (const schema of kSharedSchemas) app.addSchema(schema);
    await app.register(async (api) => gpuRoutes(api as unknown as ServerApp, ctx));
    await app.ready();
    try {
      const report = ctx.components.get('gpu_acceleration')!;
      const before = report();
      const info = backendInfo();
      expect(before).toMatchObject({ available: info.cuda, device_count: info.devices.length, backend: info.cuda ? 'cuda' : expectedBackend, computations: 0 });
      expect(before.health).toBe(info.cuda ? 'ok' : 'degraded');
      expect(before.last_computation_ms).toBeUndefined();
      const res = await app.inject({ method: 'POST', url: '/gpu/var-calculation', payload: { returns: series(20, 2) } });
      expect(res.statusCode).toBe(200);
      const after = report();
      expect(after.computations).toBe(1);
      expect(after.last_backend).toBe(expectedBackend);
      expect(after.last_computation_ms).toBe(res.json().computation_time_ms);
    } finally {
      await app.close();
      await ctx.jobs.close();
    }
  });
});

describe('POST gpu/var-calculation', () => {
  const returns = series(10_000, 42);

  it('gives calculateVaR\'s numbers for each method and level, with the seed names', async () => {
    for (const method of ['historical', 'parametric', 'cornish-fisher'] as const) {
      const a = await post(server, 'gpu/var-calculation', { returns, confidenceLevels: [0.95, 0.99], method, portfolioValue: 1e6, horizonDays: 10 });
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      const r95 = await calculateVaR(returns, { confidence: 0.95, method, portfolioValue: 1e6, horizonDays: 10 });
      const r99 = await calculateVaR(returns, { confidence: 0.99, method, portfolioValue: 1e6, horizonDays: 10 });
      expect(a.body.var_95).toBe(r95.var);
      expect(a.body.cvar_95).toBe(r95.cvar);
      expect(a.body.var_99).toBe(r99.var);
      expect(a.body.cvar_99).toBe(r99.cvar);
      const results = a.body.results as { confidence: number; var: number; cvar: number }[];
      expect(results.map((r) => [r.confidence, r.var, r.cvar])).toEqual([
        [0.95, r95.var, r95.cvar],
        [0.99, r99.var, r99.cvar],
      ]);
      expect(a.body).toMatchObject({ method, observations: 10_000, horizonDays: 10, portfolioValue: 1e6, ddof: 1, backend: expectedBackend, gpu_accelerated: false });
      expect(a.body.computation_time_ms).toEqual(expect.any(Number));
    }
  });

  it('defaults to historical 95% only, and answers var_99 only when asked', async () => {
    const a = await post(server, 'gpu/var-calculation', { returns });
    expect(a.status).toBe(200);
    const r = await calculateVaR(returns);
    expect(a.body.var_95).toBe(r.var);
    expect(a.body.method).toBe('historical');
    expect(a.body).not.toHaveProperty('var_99');
    const b = await post(server, 'gpu/var-calculation', { returns, confidenceLevel: 0.99, ddof: 0, method: 'parametric' });
    expect(b.body.var_99).toBe((await calculateVaR(returns, { confidence: 0.99, ddof: 0, method: 'parametric' })).var);
    expect(b.body).not.toHaveProperty('var_95');
    // A level the seed has no name for is in results only.
    const c = await post(server, 'gpu/var-calculation', { returns, confidenceLevel: 0.975 });
    expect((c.body.results as { var: number }[])[0]!.var).toBe((await calculateVaR(returns, { confidence: 0.975 })).var);
    expect(Object.keys(c.body).filter((k) => k.startsWith('var_'))).toEqual([]);
  });

  it("method 'monte-carlo' is monteCarloVaR of a normal fitted to the series, one seed for every level", async () => {
    const a = await post(server, 'gpu/var-calculation', { returns, method: 'monte-carlo', confidenceLevels: [0.95, 0.99], paths: 20_000, seed: 7, portfolioValue: 1000 });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const variance = (await covarianceMatrix(returns, { observations: returns.length, assets: 1 })).matrix[0]!;
    let sum = 0;
    for (const r of returns) sum += r;
    const common = { weights: [1000], means: [sum / returns.length], covariance: [variance], paths: 20_000, seed: 7 };
    expect(a.body.var_95).toBe((await monteCarloVaR({ ...common, confidence: 0.95 })).var);
    expect(a.body.cvar_99).toBe((await monteCarloVaR({ ...common, confidence: 0.99 })).cvar);
    expect(a.body).toMatchObject({ paths: 20_000, seed: 7, backend: expectedBackend });
    const random = await post(server, 'gpu/var-calculation', { returns: returns.slice(0, 100), method: 'monte-carlo', paths: 1000 });
    expect(random.body.seed).toEqual(expect.any(Number));
  });

  it('refuses bad bodies with 400 (schema) naming the field', async () => {
    expectError(await post(server, 'gpu/var-calculation', {}), 400, 'returns');
    expectError(await post(server, 'gpu/var-calculation', { returns: 'abc' }), 400, 'returns');
    expectError(await post(server, 'gpu/var-calculation', { returns: [0.01, 'NaN', 0.02] }), 400, 'returns');
    expectError(await post(server, 'gpu/var-calculation', { returns: [0.01] }), 400, 'returns');
    expectError(await post(server, 'gpu/var-calculation', { returns, method: 'garch' }), 400, 'method');
    expectError(await post(server, 'gpu/var-calculation', { returns, backend: 'gpu' }), 400, 'backend');
    expectError(await post(server, 'gpu/var-calculation', { returns, confidenceLevel: 1.5 }), 400, 'confidenceLevel');
    expectError(await post(server, 'gpu/var-calculation', { returns, confidenceLevels: [] }), 400, 'confidenceLevels');
    expectError(await post(server, 'gpu/var-calculation', { returns, ddof: 2 }), 400, 'ddof');
    expectError(await post(server, 'gpu/var-calculation', { returns, horizonDays: -1 }), 400, 'horizonDays');
    expectError(await post(server, 'gpu/var-calculation', null, { raw: '{"returns": [0.01, 0.02' }), 400);
    // An unknown key is refused, not dropped: a misspelt horizonDays must not give a 1-day VaR.
    expectError(await post(server, 'gpu/var-calculation', { returns, horizon: 10 }), 400, 'horizon');
    expectError(await post(server, 'gpu/monte-carlo', { paths: 10, steps: 2, spot: 1, drift: 0, volatility: 0.1, s0: 1 }), 400, 's0');
  });

  it('refuses what the schema cannot see with 422 naming the value', async () => {
    // JSON's 1e400 parses to Infinity, which Ajv's number type refuses (400); but Ajv coerces the string "-Infinity"
    // to -Infinity past that check, and the routes' own finiteness pass refuses it (422).
    expectError(await post(server, 'gpu/var-calculation', null, { raw: '{"returns": [0.01, 1e400, 0.02]}' }), 400, 'returns/1');
    expectError(await post(server, 'gpu/var-calculation', { returns: [0.01, 0.02, '-Infinity'] }), 422, 'returns[2]', '-Infinity');
    expectError(await post(server, 'gpu/var-calculation', null, { raw: '{"returns": [0.01, 0.02], "portfolioValue": 1e999}' }), 400, 'portfolioValue');
    // The tail convention of the seed's example (confidence_level=0.05) is refused, with the level meant.
    expectError(await post(server, 'gpu/var-calculation', { returns, confidenceLevel: 0.05 }), 422, 'confidenceLevel', '0.05', 'did you mean 0.95');
    expectError(await post(server, 'gpu/var-calculation', { returns, confidenceLevels: [0.99, 0.01] }), 422, 'confidenceLevels[1]', '0.01');
    expectError(await post(server, 'gpu/var-calculation', { returns, confidenceLevel: 0.5 }), 422, 'confidenceLevel', '0.5');
    expectError(await post(server, 'gpu/var-calculation', { returns, confidenceLevel: 0.95, confidenceLevels: [0.99] }), 422, 'not both');
    expectError(await post(server, 'gpu/var-calculation', { returns, paths: 1000 }), 422, 'paths', "'monte-carlo'");
    expectError(await post(server, 'gpu/var-calculation', { returns, seed: 3 }), 422, 'seed');
    expectError(await post(server, 'gpu/var-calculation', { returns: [0.01, 0.02, 0.03], method: 'cornish-fisher' }), 422, 'at least 4');
    // Inputs in range whose VaR overflows float64: JSON has no Infinity, so no 200 with a null where a number is promised.
    expectError(await post(server, 'gpu/var-calculation', { returns: [0.01, -0.5, 0.2], portfolioValue: 1e308, horizonDays: 1e10 }), 422, 'VaR at 0.95', 'not a finite number');
    expectError(await post(server, 'gpu/var-calculation', { returns: [1e300, -1e308, -1.7e308], method: 'parametric' }), 422, 'not a finite number');
  });

  it('refuses a backend this machine cannot run with 422 and the loader\'s reason', async () => {
    const info = backendInfo();
    if (!info.cuda) expectError(await post(server, 'gpu/var-calculation', { returns, backend: 'cuda' }), 422, 'backend', 'cuda');
    if (!info.native) expectError(await post(server, 'gpu/var-calculation', { returns, backend: 'native' }), 422, 'backend', 'native');
    const ts = await post(server, 'gpu/var-calculation', { returns, backend: 'ts' });
    expect(ts.body.backend).toBe('ts');
    expect(ts.body.var_95).toBe((await calculateVaR(returns, { backend: 'ts' })).var);
  });

  it('answers 413 past limits.maxReturns, naming the cap', async () => {
    expectError(await post(capped, 'gpu/var-calculation', { returns: series(101, 3) }), 413, 'returns', '101', 'cap is 100');
    expect((await post(capped, 'gpu/var-calculation', { returns: series(100, 3) })).status).toBe(200);
    expectError(await post(capped, 'gpu/var-calculation', { returns: series(50, 3), method: 'monte-carlo', paths: 1001 }), 422, 'paths', '1000');
  });
});

describe('POST gpu/monte-carlo', () => {
  const body = { paths: 4000, steps: 50, spot: 100, drift: 0.05, volatility: 0.2, seed: 11 };

  it('summarises simulateGBM: its VaR, CVaR, mean and standard error, and the percentiles of its S(T)', async () => {
    const a = await post(server, 'gpu/monte-carlo', { ...body, confidenceLevel: 0.99 });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const r = await simulateGBM({ spot: 100, drift: 0.05, volatility: 0.2, steps: 50, paths: 4000, seed: 11, confidence: 0.99 });
    expect(a.body).toMatchObject({ paths: 4000, steps: 50, dt: 1 / 252, seed: 11, antithetic: false, confidence: 0.99, var: r.var, cvar: r.cvar, var_99: r.var, cvar_99: r.cvar });
    expect(a.body).toMatchObject({ backend: expectedBackend, gpu_accelerated: false });
    expect(a.body.horizon).toBeCloseTo(50 / 252, 15);
    const terminal = a.body.terminal as { mean: number; stdError: number; std: number; min: number; max: number; percentiles: { percentile: number; value: number }[] };
    expect(terminal.mean).toBe(r.mean);
    expect(terminal.stdError).toBe(r.stdError);
    const sorted = Array.from(r.terminal).sort((x, y) => x - y);
    expect(terminal.min).toBe(sorted[0]);
    expect(terminal.max).toBe(sorted[sorted.length - 1]);
    // Without antithetic pairs the standard error is the standard deviation over √paths.
    expect(terminal.std / Math.sqrt(4000)).toBeCloseTo(r.stdError, 10);
    expect(terminal.percentiles.map((p) => p.percentile)).toEqual([1, 5, 25, 50, 75, 95, 99]);
    const median = terminal.percentiles.find((p) => p.percentile === 50)!.value;
    expect(median).toBe((sorted[1999]! + sorted[2000]!) / 2);
    expect(JSON.stringify(a.body).length).toBeLessThan(2000); // never the paths
  });

  it('takes horizon for dt, antithetic pairs, and the seed names at 0.95 by default', async () => {
    const a = await post(server, 'gpu/monte-carlo', { ...body, horizon: 0.5, antithetic: true });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const r = await simulateGBM({ spot: 100, drift: 0.05, volatility: 0.2, steps: 50, paths: 4000, seed: 11, dt: 0.5 / 50, antithetic: true });
    expect(a.body).toMatchObject({ dt: 0.01, antithetic: true, confidence: 0.95, var_95: r.var, cvar_95: r.cvar });
    const seeded = await post(server, 'gpu/monte-carlo', { paths: 10, steps: 2, spot: 1, drift: 0, volatility: 0.1 });
    expect(seeded.body.seed).toEqual(expect.any(Number));
  });

  it('refuses bad bodies: 400 from the schema, 422 for what it cannot express', async () => {
    const { spot: _spot, ...noSpot } = body;
    expectError(await post(server, 'gpu/monte-carlo', noSpot), 400, 'spot');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, paths: 'many' }), 400, 'paths');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, paths: 1.5 }), 400, 'paths');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, spot: -1 }), 400, 'spot');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, volatility: 'NaN' }), 400, 'volatility');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, backend: 'cpu' }), 400, 'backend');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, dt: 0.01, horizon: 1 }), 422, 'horizon', 'not both');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, paths: 4001, antithetic: true }), 422, 'paths', 'pairs');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, confidenceLevel: 0.05 }), 422, 'confidenceLevel', '0.05');
    expectError(await post(server, 'gpu/monte-carlo', null, { raw: JSON.stringify(body).replace('"drift":0.05', '"drift":1e400') }), 400, 'drift');
    expectError(await post(server, 'gpu/monte-carlo', { ...body, volatility: 'Infinity' }), 422, 'volatility', 'Infinity');
    // Parameters that overflow float64 are the library's RangeError, still a 4xx.
    expectError(await post(server, 'gpu/monte-carlo', { ...body, drift: 1e300, steps: 2, paths: 10 }), 422);
    // Huge prices: the route's standard deviation is formed scaled, but simulateGBM's stdError overflows to Infinity
    // at this scale today; an answer is finite numbers (200) or a 422 that says which one is not, never a null.
    const huge = await post(server, 'gpu/monte-carlo', { paths: 1000, steps: 1, spot: 1e200, drift: 0.1, volatility: 0.5, dt: 1, seed: 1 });
    if (huge.status === 200) {
      const t = huge.body.terminal as { std: number; stdError: number };
      expect(t.std / Math.sqrt(1000) / t.stdError).toBeCloseTo(1, 12);
    } else {
      expectError(huge, 422, 'standard error is Infinity', 'not a finite number');
    }
    const large = await post(server, 'gpu/monte-carlo', { paths: 1000, steps: 1, spot: 1e100, drift: 0.1, volatility: 0.5, dt: 1, seed: 1 });
    const t = large.body.terminal as { std: number; stdError: number };
    expect(t.std / Math.sqrt(1000) / t.stdError).toBeCloseTo(1, 12);
  });

  it('answers 422 past limits.maxPathSteps, naming the cap', async () => {
    expectError(await post(capped, 'gpu/monte-carlo', { ...body, paths: 100, steps: 11 }), 422, 'paths × steps', '1100', '1000');
    expect((await post(capped, 'gpu/monte-carlo', { ...body, paths: 100, steps: 10 })).status).toBe(200);
  });
});

describe('POST gpu/correlation-matrix', () => {
  const assets = 4;
  const observations = 250;
  const columns = Array.from({ length: assets }, (_, j) => series(observations, 100 + j));
  // Asset 3 follows asset 0 closely: the largest correlation.
  columns[3] = columns[0]!.map((x, t) => x + 0.1 * columns[3]![t]!);
  const flat = Array.from({ length: observations * assets }, (_, k) => columns[k % assets]![Math.floor(k / assets)]!);

  it("gives correlationMatrix's matrix from row-major data, and the same from one series per asset", async () => {
    const a = await post(server, 'gpu/correlation-matrix', { data: flat, assets });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const r = await correlationMatrix(flat, { observations, assets });
    expect(a.body.matrix).toEqual(Array.from(r.matrix));
    expect(a.body).toMatchObject({ assets, observations, method: 'pearson', backend: expectedBackend, gpu_accelerated: false });
    const b = await post(server, 'gpu/correlation-matrix', { series: columns, method: 'ewma', lambda: 0.97 });
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect(b.body.matrix).toEqual(Array.from((await correlationMatrix(flat, { observations, assets, method: 'ewma', lambda: 0.97 })).matrix));
    const summary = a.body.summary as { pairs: number; meanCorrelation: number; minCorrelation: number; maxCorrelation: number; topPairs: { i: number; j: number; correlation: number }[] };
    expect(summary.pairs).toBe(6);
    const upper = [1, 2, 3, 6, 7, 11].map((k) => r.matrix[k]!);
    expect(summary.maxCorrelation).toBe(Math.max(...upper));
    expect(summary.minCorrelation).toBe(Math.min(...upper));
    expect(summary.meanCorrelation).toBeCloseTo(upper.reduce((x, y) => x + y) / 6, 14);
    expect(summary.topPairs[0]).toEqual({ i: 0, j: 3, correlation: r.matrix[3] });
    expect(summary.topPairs).toHaveLength(6);
    const abs = summary.topPairs.map((p) => Math.abs(p.correlation));
    expect(abs).toEqual([...abs].sort((x, y) => y - x));
  });

  it("answers only the summary with output 'summary', and one asset has no pairs", async () => {
    const a = await post(server, 'gpu/correlation-matrix', { data: flat, assets, output: 'summary' });
    expect(a.status).toBe(200);
    expect(a.body).not.toHaveProperty('matrix');
    const one = await post(server, 'gpu/correlation-matrix', { series: [columns[0]] });
    expect(one.body).toMatchObject({ matrix: [1], summary: { pairs: 0, meanCorrelation: null, minCorrelation: null, maxCorrelation: null, topPairs: [] } });
  });

  it('refuses bad bodies with 400 or 422 naming the field', async () => {
    expectError(await post(server, 'gpu/correlation-matrix', { assets }), 422, 'data', 'series');
    expectError(await post(server, 'gpu/correlation-matrix', { data: flat, series: columns }), 422, 'data', 'series');
    expectError(await post(server, 'gpu/correlation-matrix', { data: flat }), 422, 'assets', 'required');
    expectError(await post(server, 'gpu/correlation-matrix', { data: flat, assets: 3 }), 422, 'data', 'multiple');
    expectError(await post(server, 'gpu/correlation-matrix', { data: flat, assets, observations: 100 }), 422, 'observations', '250');
    expectError(await post(server, 'gpu/correlation-matrix', { series: [columns[0], columns[1]!.slice(1)] }), 422, 'series[1]', '249');
    expectError(await post(server, 'gpu/correlation-matrix', { series: [[0.1], [0.2]] }), 422, 'at least 2');
    expectError(await post(server, 'gpu/correlation-matrix', { data: 'x', assets }), 400, 'data');
    expectError(await post(server, 'gpu/correlation-matrix', { data: flat, assets: 0 }), 400, 'assets');
    expectError(await post(server, 'gpu/correlation-matrix', { data: flat, assets, method: 'spearman' }), 400, 'method');
    expectError(await post(server, 'gpu/correlation-matrix', { data: flat, assets, lambda: 1 }), 400, 'lambda');
    expectError(await post(server, 'gpu/correlation-matrix', { series: [columns[0], ['0.1', 'NaN']] }), 400, 'series');
    expectError(await post(server, 'gpu/correlation-matrix', { series: [columns[0]!.slice(0, 3), [0.1, 'Infinity', 0.2]] }), 422, 'series[1][1]', 'Infinity');
    // A constant asset has no correlation: the library's RangeError, a 422.
    expectError(await post(server, 'gpu/correlation-matrix', { series: [columns[0], columns[0]!.map(() => 0.01)] }), 422, 'asset 1 is constant');
  });

  it('answers 413 past limits.maxAssets, maxMatrixCells and maxInlineMatrixAssets, naming each cap', async () => {
    const small = columns.map((c) => c.slice(0, 10));
    expectError(await post(capped, 'gpu/correlation-matrix', { series: small, output: 'summary' }), 413, 'assets', 'cap is 3');
    expectError(await post(capped, 'gpu/correlation-matrix', { data: flat.slice(0, 40), assets, output: 'summary' }), 413, 'assets', 'cap is 3');
    expectError(await post(capped, 'gpu/correlation-matrix', { series: columns.slice(0, 3).map((c) => c.slice(0, 21)), output: 'summary' }), 413, '63', 'cap is 60');
    expectError(await post(capped, 'gpu/correlation-matrix', { data: flat.slice(0, 63), assets: 3, output: 'summary' }), 413, '63', 'cap is 60');
    expectError(await post(capped, 'gpu/correlation-matrix', { series: small.slice(0, 3) }), 413, 'matrix', '3 assets', 'cap is 2', "output 'summary'");
    const summary = await post(capped, 'gpu/correlation-matrix', { series: small.slice(0, 3), output: 'summary' });
    expect(summary.status).toBe(200);
    expect((summary.body.summary as { pairs: number }).pairs).toBe(3);
  });
});

describe('long jobs: 202 and a job resource', () => {
  it('answers 202 with the job when it does not finish within limits.syncWaitMs, and GET jobs/:id gives its result', async () => {
    // 2 × 10^6 path-steps, tens of ms or more against the 1 ms this server waits; and behind another such job
    // (one runs at a time), so that the event loop must pass its timers before this one can finish, however loaded the machine.
    const gbm = { paths: 20_000, steps: 100, spot: 100, drift: 0.05, volatility: 0.2, seed: 5 };
    expect((await post(slow, 'gpu/monte-carlo?async=true', gbm)).status).toBe(202);
    const a = await post(slow, 'gpu/monte-carlo', gbm);
    expect(a.status, JSON.stringify(a.body)).toBe(202);
    expect(a.body).toMatchObject({ kind: 'gpu.monte-carlo', location: expect.stringMatching(/\/api\/v1\/ultra-performance\/jobs\/.+/) });
    expect(['queued', 'running']).toContain(a.body.state);
    expect(a.headers.get('location')).toBe(a.body.location);
    // Polled until done, the job's result is the body a 200 would have had: simulateGBM's numbers.
    let job = a.body;
    for (let i = 0; i < 1200 && (job.state === 'queued' || job.state === 'running'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = (await get(slow, `jobs/${a.body.id as string}`)).body;
    }
    expect(job.state, JSON.stringify(job)).toBe('done');
    const r = await simulateGBM(gbm);
    expect(job.result).toMatchObject({ seed: 5, var: r.var, cvar: r.cvar, var_95: r.var, backend: expectedBackend, terminal: { mean: r.mean, stdError: r.stdError } });
    const { computation_time_ms: _ms, ...sameRun } = (await post(server, 'gpu/monte-carlo', gbm)).body;
    expect(job.result).toMatchObject(sameRun);
    // gpu/status counts a job that finished after its 202.
    expect((await get(slow, 'gpu/status')).body.lastComputation).toMatchObject({ route: 'gpu/monte-carlo', backend: expectedBackend });
  });

  it('answers 202 at once with ?async=true or Prefer: respond-async, however small the job', async () => {
    const returns = series(100, 9);
    const a = await post(server, 'gpu/var-calculation?async=true', { returns });
    expect(a.status).toBe(202);
    expect(a.body).toMatchObject({ kind: 'gpu.var-calculation', id: expect.any(String) });
    const b = await post(server, 'gpu/correlation-matrix', { series: [returns, series(100, 10)] }, { headers: { prefer: 'wait=5, respond-async' } });
    expect(b.status).toBe(202);
    expect(b.headers.get('preference-applied')).toBe('respond-async');
    expect(b.body.kind).toBe('gpu.correlation-matrix');
    expectError(await post(server, 'gpu/var-calculation?async=maybe', { returns }), 400, 'async');
    // Without the preference the same small job answers 200.
    expect((await post(server, 'gpu/var-calculation', { returns })).status).toBe(200);
  });

  it('runs a request of at most limits.inlineWorkUnits on the event loop (no job), a bigger one as a job, with the same numbers', async () => {
    const returns = series(1000, 11);
    const jobsBefore = (await get(server, 'status/comprehensive')).body.jobs as { inline: number; completed: number };
    const small = await post(server, 'gpu/var-calculation', { returns, confidenceLevels: [0.95, 0.99] });
    expect(small.status).toBe(200);
    // 1,000 returns × 2 levels = 2,000 units, under the default 20,000: run inline, not a job.
    await new Promise((resolve) => setTimeout(resolve, 250)); // past status/comprehensive's 200 ms reuse
    const jobsAfter = (await get(server, 'status/comprehensive')).body.jobs as { inline: number; completed: number };
    expect(jobsAfter.inline).toBe(jobsBefore.inline + 1);
    expect(jobsAfter.completed).toBe(jobsBefore.completed);
    // The same request as a job (inlineWorkUnits 0 on `slow`, which waits 1 ms: poll) gives the same numbers.
    const viaJob = await post(slow, 'gpu/var-calculation?async=true', { returns, confidenceLevels: [0.95, 0.99] });
    let job = viaJob.body;
    for (let i = 0; i < 1200 && (job.state === 'queued' || job.state === 'running'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = (await get(slow, `jobs/${viaJob.body.id as string}`)).body;
    }
    expect(job.state, JSON.stringify(job)).toBe('done');
    // Everything but the times: the same numbers from the same kernels.
    const untimed = (body: Record<string, unknown>) => {
      const { computation_time_ms: _ms, results, ...rest } = body;
      return { ...rest, results: (results as Record<string, unknown>[]).map(({ computeTimeMs: _t, ...r }) => r) };
    };
    expect(untimed(job.result as Record<string, unknown>)).toEqual(untimed(small.body));
  });
});
