/**
 * Monte Carlo on the shared Philox4x32-10 stream: the same seed gives the same draws,
 * and so the same results to ~1e-15, on every backend and any number of threads (which
 * normal feeds which path is fixed by counters: see cpp/risk/montecarlo.hpp).
 * Native async work runs on the libuv pool plus the addon's thread pool (every core).
 * Under the TS backend the async forms run on the main thread in chunks of ~131k
 * normals, yielding to the event loop (setImmediate) between chunks, so timers and I/O
 * keep running; the *Sync forms never yield.
 */
import { invalidRange } from '../errors.js';
import { backendOption, kBackendPolicies } from '../internal/backend.js';
import { type OptionSpecs, type OptionsSchema, defineOptions, readOptions } from '../internal/options.js';
import { type RiskBackend, type RiskBackendChoice, type RiskBackendOption, type RiskKernels, kernelsFor } from './kernels.js';
import { checkSymmetric, notPositiveSemiDefinite } from './matrix.js';
import { checkFiniteArray, kMaxAssets, kMaxKeptValues, kMaxPaths, kMaxSteps, riskChecks, toFloat64, withCallerStack } from './validate.js';
import { nonFiniteLoss } from './var.js';

export interface GBMOptions {
  /** S0 > 0. */
  spot: number;
  /** μ per unit of time (annualised with the default dt). */
  drift: number;
  /** σ per √(unit of time), >= 0. */
  volatility: number;
  /** Steps per path, >= 1. */
  steps: number;
  /** Length of a step in units of time; default 1/252 (one trading day of a year). */
  dt?: number;
  /** Number of paths, >= 2 (even with antithetic). */
  paths: number;
  /** Integer in [0, 2^53); default a random seed, reported back. */
  seed?: number;
  /** Pair each path with its mirror (negated draws); default false. */
  antithetic?: boolean;
  /** For the loss quantiles; default 0.95. */
  confidence?: number;
  /** Return every path (paths x (steps + 1) values, at most 2^25); default false. */
  keepPaths?: boolean;
  backend?: RiskBackendOption;
}

export interface GBMResult {
  /** S(T) of every path. */
  terminal: Float64Array;
  /** VaR of the loss S0 - S(T) per unit held, at `confidence` (historical definition). */
  var: number;
  /** CVaR of the same loss (the mean of the tail beyond it), >= var. */
  cvar: number;
  /** Mean of S(T); its expectation is S0·e^{μT}, T = steps·dt. */
  mean: number;
  /** Standard error of `mean` (from pair averages with antithetic variates). */
  stdError: number;
  /** With keepPaths: paths x (steps + 1), row p = S(0), S(dt), ..., S(T) of path p. */
  pathValues?: Float64Array;
  seed: number;
  confidence: number;
  backend: RiskBackend;
  computeTimeMs: number;
}

interface GbmPlan {
  args: { spot: number; drift: number; volatility: number; dt: number; steps: number; paths: number; seed: number; antithetic: boolean };
  confidence: number;
  terminal: Float64Array;
  kept: Float64Array | null;
  /** [var, cvar, mean, stdError], filled by the kernels. */
  summary: Float64Array;
  kernels: RiskKernels;
}

/** simulateGBM's options: the one table of their checks and defaults. */
function gbmSpecs(fn: string): OptionSpecs {
  return {
    spot: { check: riskChecks.positive, always: true },
    drift: { check: riskChecks.finite, always: true },
    volatility: { check: riskChecks.nonNegative, always: true },
    steps: { check: riskChecks.integer(1, kMaxSteps), always: true },
    dt: { check: riskChecks.positive, default: 1 / 252 },
    paths: { check: riskChecks.integer(2, kMaxPaths), always: true },
    seed: { check: riskChecks.seed, always: true },
    antithetic: { check: riskChecks.flag, default: false },
    confidence: { check: riskChecks.confidence, default: 0.95 },
    keepPaths: { check: riskChecks.flag, default: false },
    backend: backendOption(kBackendPolicies.risk, fn),
  };
}

const kSimulateGBM = defineOptions('simulateGBM', gbmSpecs('simulateGBM'));
const kSimulateGBMSync = defineOptions('simulateGBMSync', gbmSpecs('simulateGBMSync'));

function planGbm(schema: OptionsSchema, options: unknown): GbmPlan {
  const o = readOptions(schema, options, { required: true });
  const spot = o.spot as number;
  const drift = o.drift as number;
  const volatility = o.volatility as number;
  const steps = o.steps as number;
  const dt = o.dt as number;
  const paths = o.paths as number;
  const seed = o.seed as number;
  const antithetic = o.antithetic as boolean;
  if (antithetic && paths % 2 !== 0) throw invalidRange('options.paths', 'an even number of paths with antithetic variates (they come in pairs)', paths);
  const confidence = o.confidence as number;
  let kept: Float64Array | null = null;
  if (o.keepPaths === true) {
    if (paths * (steps + 1) > kMaxKeptValues) {
      throw invalidRange('options.keepPaths', `paths x (steps + 1) <= ${kMaxKeptValues} values to keep every path (${paths} x ${steps + 1} asked); keep only the terminal values`, true);
    }
    kept = new Float64Array(paths * (steps + 1));
  }
  const backend = o.backend as RiskBackendChoice;
  return {
    args: { spot, drift, volatility, dt, steps, paths, seed, antithetic },
    confidence,
    terminal: new Float64Array(paths),
    kept,
    summary: new Float64Array(4),
    kernels: kernelsFor(backend, 'gbmPathSteps', paths * steps),
  };
}

function finishGbm(p: GbmPlan, status: number, started: number): GBMResult {
  const s = p.summary;
  if (status >= 0) throw nonFiniteLoss(p.args.spot - p.terminal[status]!, status);
  const result: GBMResult = {
    terminal: p.terminal,
    var: s[0]!,
    cvar: s[1]!,
    mean: s[2]!,
    stdError: s[3]!,
    seed: p.args.seed,
    confidence: p.confidence,
    backend: p.kernels.name,
    computeTimeMs: 0,
  };
  if (p.kept !== null) result.pathValues = p.kept;
  result.computeTimeMs = performance.now() - started;
  return result;
}

/**
 * Geometric Brownian motion with exact log-normal steps
 * (S(t+dt) = S(t)·exp((μ - σ²/2)dt + σ√dt·Z)), off the JS thread on every core.
 * @example
 * import { simulateGBM } from 'ultra-performance';
 * const r = await simulateGBM({ spot: 100, drift: 0.05, volatility: 0.2, steps: 252, paths: 100_000, seed: 42 });
 * console.log(r.mean, '±', r.stdError, 'VaR95', r.var);
 */
export function simulateGBM(options: GBMOptions): Promise<GBMResult> {
  const started = performance.now();
  let p: GbmPlan;
  try {
    p = planGbm(kSimulateGBM, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return withCallerStack(async () => {
    const status = await p.kernels.gbmSummaryAsync(p.args, p.confidence, p.terminal, p.kept, p.summary);
    return finishGbm(p, status, started);
  });
}

/**
 * simulateGBM on the calling thread (native: still multithreaded, but blocking).
 * @example
 * import { simulateGBMSync } from 'ultra-performance';
 * const { terminal } = simulateGBMSync({ spot: 100, drift: 0, volatility: 0.3, steps: 10, paths: 1000, seed: 7, keepPaths: true });
 */
export function simulateGBMSync(options: GBMOptions): GBMResult {
  const started = performance.now();
  const p = planGbm(kSimulateGBMSync, options);
  return finishGbm(p, p.kernels.gbmSummary(p.args, p.confidence, p.terminal, p.kept, p.summary), started);
}

export interface MonteCarloVaROptions {
  /** Position per asset (fractions or money). */
  weights: Float64Array | number[];
  /** Expected return per asset per day. */
  means: Float64Array | number[];
  /**
   * Daily covariance, assets x assets row-major, symmetric positive semi-definite: a
   * zero-variance asset (cash) or a perfectly correlated pair is valid (see cholesky()).
   */
  covariance: Float64Array | number[];
  /** Scenarios, >= 2. */
  paths: number;
  /** Horizon in days (mean x h, covariance x h); default 1. */
  horizonDays?: number;
  /** Integer in [0, 2^53); default a random seed, reported back. */
  seed?: number;
  /** Default 0.95. */
  confidence?: number;
  backend?: RiskBackendOption;
}

export interface MonteCarloVaRResult {
  /** VaR of the portfolio loss -(w·x), historical definition over the scenarios. */
  var: number;
  /** CVaR over the scenarios (historical definition), >= var. */
  cvar: number;
  /** Mean simulated portfolio return w·x. */
  mean: number;
  /** Standard error of `mean`. */
  stdError: number;
  paths: number;
  seed: number;
  confidence: number;
  backend: RiskBackend;
  computeTimeMs: number;
}

interface McPlan {
  weights: Float64Array;
  means: Float64Array;
  cov: Float64Array;
  lower: Float64Array;
  /** The Cholesky failure report (matrix.ts notPositiveSemiDefinite). */
  failure: Float64Array;
  assets: number;
  paths: number;
  horizon: number;
  seed: number;
  confidence: number;
  /** [var, cvar, mean return, stdError], filled by the kernels. */
  summary: Float64Array;
  kernels: RiskKernels;
}

/** monteCarloVaR's options: the one table of their checks and defaults. */
function mcSpecs(fn: string): OptionSpecs {
  return {
    weights: { check: null, checkedBy: 'planMc (sets the number of assets)' },
    means: { check: null, checkedBy: 'planMc (one per weight)' },
    covariance: { check: null, checkedBy: 'planMc (assets x assets, symmetric)' },
    paths: { check: riskChecks.integer(2, kMaxPaths), always: true },
    horizonDays: { check: riskChecks.positive, default: 1 },
    seed: { check: riskChecks.seed, always: true },
    confidence: { check: riskChecks.confidence, default: 0.95 },
    backend: backendOption(kBackendPolicies.risk, fn),
  };
}

const kMonteCarloVaR = defineOptions('monteCarloVaR', mcSpecs('monteCarloVaR'));
const kMonteCarloVaRSync = defineOptions('monteCarloVaRSync', mcSpecs('monteCarloVaRSync'));

function planMc(schema: OptionsSchema, options: unknown): McPlan {
  const o = readOptions(schema, options, { required: true });
  const weights = toFloat64('options.weights', o.weights, 1, 'weights');
  const assets = weights.length;
  if (assets > kMaxAssets) throw invalidRange('options.weights', `at most ${kMaxAssets} assets`, o.weights);
  checkFiniteArray('options.weights', weights);
  const means = toFloat64('options.means', o.means, 1, 'means');
  if (means.length !== assets) throw invalidRange('options.means', `${assets} means (one per weight)`, o.means);
  checkFiniteArray('options.means', means);
  const cov = checkSymmetric('options.covariance', o.covariance, assets);
  const paths = o.paths as number;
  const horizon = o.horizonDays as number;
  const seed = o.seed as number;
  const confidence = o.confidence as number;
  const backend = o.backend as RiskBackendChoice;
  return {
    weights,
    means,
    cov,
    lower: new Float64Array(assets * assets),
    failure: new Float64Array(3),
    assets,
    paths,
    horizon,
    seed,
    confidence,
    summary: new Float64Array(4),
    kernels: kernelsFor(backend, 'monteCarloDraws', paths * assets),
  };
}

function finishMc(p: McPlan, status: number, started: number): MonteCarloVaRResult {
  if (status >= 0) throw nonFiniteLoss(NaN, status);
  const s = p.summary;
  return {
    var: s[0]!,
    cvar: s[1]!,
    mean: s[2]!,
    stdError: s[3]!,
    paths: p.paths,
    seed: p.seed,
    confidence: p.confidence,
    backend: p.kernels.name,
    computeTimeMs: performance.now() - started,
  };
}

/**
 * Monte Carlo VaR of a linear portfolio with multivariate normal daily returns:
 * each scenario draws `assets` standard normals z, correlates them through the Cholesky
 * factor L of `covariance` (x = means·h + √h·L·z; positive semi-definite accepted, zero
 * columns for zero-variance directions) and scores the loss -(w·x). Draws are
 * generated in blocks per thread, never all at once.
 * @example
 * import { monteCarloVaR } from 'ultra-performance';
 * const r = await monteCarloVaR({ weights: [0.6, 0.4], means: [0.0004, 0.0002],
 *   covariance: [1e-4, 2e-5, 2e-5, 4e-5], paths: 1_000_000, seed: 1, confidence: 0.99 });
 */
export function monteCarloVaR(options: MonteCarloVaROptions): Promise<MonteCarloVaRResult> {
  const started = performance.now();
  let p: McPlan;
  try {
    p = planMc(kMonteCarloVaR, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return withCallerStack(async () => {
    const status = p.kernels.cholesky(p.cov, p.assets, p.lower, p.failure);
    if (status >= 0) throw notPositiveSemiDefinite('options.covariance', status, p.failure, p.cov);
    const run = await p.kernels.mcSummaryAsync(p.weights, p.means, p.lower, p.assets, p.paths, p.horizon, p.seed, p.confidence, p.summary);
    return finishMc(p, run, started);
  });
}

/**
 * monteCarloVaR on the calling thread.
 * @example
 * import { monteCarloVaRSync } from 'ultra-performance';
 * const r = monteCarloVaRSync({ weights: [1], means: [0], covariance: [1e-4], paths: 10_000, seed: 3 });
 */
export function monteCarloVaRSync(options: MonteCarloVaROptions): MonteCarloVaRResult {
  const started = performance.now();
  const p = planMc(kMonteCarloVaRSync, options);
  const status = p.kernels.cholesky(p.cov, p.assets, p.lower, p.failure);
  if (status >= 0) throw notPositiveSemiDefinite('options.covariance', status, p.failure, p.cov);
  const run = p.kernels.mcSummary(p.weights, p.means, p.lower, p.assets, p.paths, p.horizon, p.seed, p.confidence, p.summary);
  return finishMc(p, run, started);
}
