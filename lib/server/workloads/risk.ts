/**
 * Heavy risk jobs (VaR, Monte Carlo, correlation) for the gpu/* routes. Each takes plain
 * data (numbers, strings, Float64Arrays) that the route has validated, calls the library's
 * public functions (lib/risk) and returns plain data, so it can run in a worker thread: no
 * closure over server state. The numbers are the library's; what is added here is only a
 * description of its output (percentiles of S(T), off-diagonal summary of a matrix).
 */
import type { RiskBackend, VaRMethod } from '../../risk/index.js';
import type { RiskBackendChoice } from '../../risk/kernels.js';
import { calculateVaR, correlationMatrix, covarianceMatrix, monteCarloVaR, simulateGBM } from '../lib.js';
import type { CorrelationResponse, MonteCarloResponse, VaRResponse } from '../schemas/gpu.js';
import type { Workload } from './index.js';

/**
 * A result the API cannot carry: JSON has no Infinity or NaN (they would be written as null
 * where the schema promises a number). Inputs within range can still overflow float64 in the
 * result (a portfolioValue of 1e308 times a 50% loss, a sum of losses past 1.8e308).
 */
function requireFinite(values: Record<string, number>, cause: string): void {
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isFinite(value)) {
      throw Object.assign(new RangeError(`${name} is ${value}, not a finite number: ${cause} overflow float64`), { code: 'ERR_OUT_OF_RANGE' });
    }
  }
}

/**
 * The seed's names (`var_95`, `cvar_95`, `var_99`, `cvar_99`) for the levels it names. A job's
 * result is the route's 200 body as is, so a polled job (`GET jobs/:id`) shows the same fields.
 */
function seedNames(confidence: number, v: number, cv: number): Record<string, number> {
  if (confidence === 0.95) return { var_95: v, cvar_95: cv };
  if (confidence === 0.99) return { var_99: v, cvar_99: cv };
  return {};
}

export interface VaRJobInput {
  returns: Float64Array;
  confidences: number[];
  method: VaRMethod | 'monte-carlo';
  ddof: 0 | 1;
  horizonDays: number;
  portfolioValue: number;
  backend: RiskBackendChoice;
  /** monte-carlo only */
  paths?: number;
  seed?: number;
}

/**
 * VaR and CVaR of one series at each confidence. 'monte-carlo' fits a normal to the series
 * (its mean, and its sample variance from covarianceMatrix) and runs monteCarloVaR with the
 * position `portfolioValue`; every level reuses the first level's seed, so they share draws.
 */
export async function varCalculation(input: VaRJobInput): Promise<VaRResponse> {
  const { returns, method, ddof, horizonDays, portfolioValue, backend } = input;
  const results: VaRResponse['results'] = [];
  let used: RiskBackend | undefined;
  let seed = input.seed;
  let total = 0;
  if (method === 'monte-carlo') {
    const variance = await covarianceMatrix(returns, { observations: returns.length, assets: 1, backend });
    let sum = 0;
    for (let i = 0; i < returns.length; i++) sum += returns[i]!;
    const mean = sum / returns.length;
    total += variance.computeTimeMs;
    for (const confidence of input.confidences) {
      const r = await monteCarloVaR({
        weights: [portfolioValue],
        means: [mean],
        covariance: [variance.matrix[0]!],
        paths: input.paths!,
        horizonDays,
        confidence,
        backend,
        ...(seed !== undefined && { seed }),
      });
      requireFinite({ [`VaR at ${confidence}`]: r.var, [`CVaR at ${confidence}`]: r.cvar }, 'returns and portfolioValue');
      seed = r.seed;
      used = r.backend;
      total += r.computeTimeMs;
      results.push({ confidence, var: r.var, cvar: r.cvar, computeTimeMs: r.computeTimeMs });
    }
  } else {
    for (const confidence of input.confidences) {
      const r = await calculateVaR(returns, { confidence, method, ddof, horizonDays, portfolioValue, backend });
      requireFinite({ [`VaR at ${confidence}`]: r.var, [`CVaR at ${confidence}`]: r.cvar }, 'returns, portfolioValue and horizonDays');
      used = r.backend;
      total += r.computeTimeMs;
      results.push({ confidence, var: r.var, cvar: r.cvar, computeTimeMs: r.computeTimeMs });
    }
  }
  let named: Record<string, number> = {};
  for (const r of results) named = { ...named, ...seedNames(r.confidence, r.var, r.cvar) };
  return {
    method,
    observations: returns.length,
    horizonDays,
    portfolioValue,
    ddof,
    results,
    ...named,
    ...(method === 'monte-carlo' && { paths: input.paths!, seed: seed! }),
    backend: used!,
    gpu_accelerated: used === 'cuda',
    computation_time_ms: total,
  };
}

export interface GbmJobInput {
  paths: number;
  steps: number;
  spot: number;
  drift: number;
  volatility: number;
  dt: number;
  seed?: number;
  antithetic: boolean;
  confidence: number;
  backend: RiskBackendChoice;
}

/** The percentiles of S(T) a Monte Carlo answer reports. */
export const kTerminalPercentiles = [1, 5, 25, 50, 75, 95, 99] as const;

/** simulateGBM, summarised: never the paths themselves (paths can be 10^7; the answer stays a few hundred bytes). */
export async function monteCarloSimulation(input: GbmJobInput): Promise<MonteCarloResponse> {
  const r = await simulateGBM({
    spot: input.spot,
    drift: input.drift,
    volatility: input.volatility,
    steps: input.steps,
    dt: input.dt,
    paths: input.paths,
    antithetic: input.antithetic,
    confidence: input.confidence,
    backend: input.backend,
    ...(input.seed !== undefined && { seed: input.seed }),
  });
  const sorted = r.terminal.slice().sort();
  const n = sorted.length;
  // Scaled by the largest deviation, so that squares of S(T) near 1e200 do not overflow (the library's mean is scale-free too).
  const scale = Math.max(r.mean - sorted[0]!, sorted[n - 1]! - r.mean);
  let squares = 0;
  if (scale > 0) for (let i = 0; i < n; i++) squares += ((sorted[i]! - r.mean) / scale) ** 2;
  const std = scale > 0 ? scale * Math.sqrt(squares / (n - 1)) : 0;
  requireFinite({ VaR: r.var, CVaR: r.cvar, 'the mean of S(T)': r.mean, 'its standard error': r.stdError, 'the standard deviation of S(T)': std }, 'spot, drift, volatility and the horizon');
  return {
    paths: input.paths,
    steps: input.steps,
    dt: input.dt,
    horizon: input.steps * input.dt,
    seed: r.seed,
    antithetic: input.antithetic,
    confidence: r.confidence,
    var: r.var,
    cvar: r.cvar,
    ...seedNames(r.confidence, r.var, r.cvar),
    terminal: {
      mean: r.mean,
      stdError: r.stdError,
      std,
      min: sorted[0]!,
      max: sorted[n - 1]!,
      percentiles: kTerminalPercentiles.map((percentile) => ({ percentile, value: quantileOfSorted(sorted, percentile / 100) })),
    },
    backend: r.backend,
    gpu_accelerated: r.backend === 'cuda',
    computation_time_ms: r.computeTimeMs,
  };
}

/** NumPy's default (linear) quantile of an ascending array: h = (n − 1)·q, between x[⌊h⌋] and x[⌊h⌋ + 1]. */
function quantileOfSorted(x: Float64Array, q: number): number {
  const h = (x.length - 1) * q;
  const lo = Math.floor(h);
  const g = h - lo;
  return g === 0 ? x[lo]! : x[lo]! + g * (x[lo + 1]! - x[lo]!);
}

export interface CorrelationJobInput {
  /** observations × assets, row-major. */
  data: Float64Array;
  observations: number;
  assets: number;
  method: 'pearson' | 'ewma';
  lambda: number;
  /** Answer the matrix itself (else the summary only). */
  inline: boolean;
  backend: RiskBackendChoice;
}

/** Pairs listed in a correlation summary. */
const kTopPairs = 10;

/** correlationMatrix, with a summary of its upper triangle (mean, min, max, the largest |ρ| pairs). */
export async function correlationAnalysis(input: CorrelationJobInput): Promise<CorrelationResponse> {
  const { assets: n } = input;
  const r = await correlationMatrix(input.data, { observations: input.observations, assets: n, method: input.method, lambda: input.lambda, backend: input.backend });
  const m = r.matrix;
  const pairs = (n * (n - 1)) / 2;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  // The kTopPairs largest |ρ| so far, kept sorted (largest first); ties keep the earlier pair.
  const top: { i: number; j: number; correlation: number }[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const c = m[i * n + j]!;
      sum += c;
      if (c < min) min = c;
      if (c > max) max = c;
      const a = Math.abs(c);
      if (top.length === kTopPairs && a <= Math.abs(top[kTopPairs - 1]!.correlation)) continue;
      let k = top.length;
      while (k > 0 && Math.abs(top[k - 1]!.correlation) < a) k--;
      top.splice(k, 0, { i, j, correlation: c });
      if (top.length > kTopPairs) top.pop();
    }
  }
  return {
    assets: n,
    observations: input.observations,
    method: r.method,
    // A plain array: the job result is serialised as JSON when polled (a Float64Array would become an object).
    ...(input.inline && { matrix: Array.from(m) }),
    summary: {
      pairs,
      meanCorrelation: pairs > 0 ? sum / pairs : null,
      minCorrelation: pairs > 0 ? min : null,
      maxCorrelation: pairs > 0 ? max : null,
      topPairs: top,
    },
    backend: r.backend,
    gpu_accelerated: r.backend === 'cuda',
    computation_time_ms: r.computeTimeMs,
  };
}

export const riskWorkloads: Record<string, Workload> = {
  'gpu.var-calculation': varCalculation as Workload,
  'gpu.monte-carlo': monteCarloSimulation as Workload,
  'gpu.correlation-matrix': correlationAnalysis as Workload,
};
