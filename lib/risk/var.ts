/**
 * Value at Risk and Conditional VaR (Expected Shortfall) of a return series or a portfolio.
 *
 * Semantics (the same on every backend, bit for bit):
 * - Returns are simple per-period returns; a loss is the negated return, and VaR and CVaR
 *   are reported as positive losses (a 2% loss is 0.02, times portfolioValue).
 * - `confidence` is the probability kept: 0.95 gives 95% VaR, the loss exceeded on 5% of
 *   days. It must be in (0.5, 1); 0.05 is refused with an error that says so.
 * - 'historical': VaR is the empirical quantile of the losses at `confidence` with linear
 *   interpolation, exactly NumPy's default `np.quantile(losses, confidence)` (method
 *   'linear'): h = (n-1)·confidence, VaR = x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]) over the
 *   ascending losses x. CVaR is the arithmetic mean of the losses at sorted positions
 *   ⌈h⌉ … n-1, i.e. of the n-⌈h⌉ largest losses (every loss at or beyond the VaR point),
 *   so CVaR >= VaR. Found with O(n) selection (no sort). Where x[⌊h⌋+1] - x[⌊h⌋]
 *   overflows (neighbours beyond ±2^1023 on opposite sides), where NumPy returns an
 *   infinity, VaR is (1-g)·x[⌊h⌋] + g·x[⌊h⌋+1], which stays between them.
 *   The mean is formed as the smallest tail loss plus the mean excess over it, so that
 *   CVaR >= VaR holds after rounding too (a plain mean of 279 equal losses rounds below them).
 * - Moments (parametric and Cornish-Fisher) follow one convention, `ddof`:
 *   1 (default), sample: σ with n-1, skewness G1 = g1·√(n(n-1))/(n-2) and excess kurtosis
 *   G2 = (n-1)((n+1)g2 + 6)/((n-2)(n-3)) (Joanes & Gill 1998; pandas' std/skew/kurt,
 *   Excel's STDEV.S/SKEW/KURT, scipy's bias=False); 0, population: σ = √m2,
 *   g1 = m3/m2^1.5, g2 = m4/m2² - 3 with 1/n central moments m_k, exactly
 *   PerformanceAnalytics' VaR(method = "gaussian" | "modified") and ES(method = "gaussian").
 *   A constant series has its own value as the mean and σ = S = K = 0 (VaR = CVaR = the loss).
 * - 'parametric' (normal): with μ the mean loss and z = Φ⁻¹(confidence): VaR = μ + σz,
 *   CVaR = μ + σ·φ(z)/(1-confidence), formed as VaR + σ·(φ(z)/(1-c) - z): the bracket is
 *   the normal tail's mean excess, above 0.11 on (0.5, 1) (Mills' ratio), so CVaR >= VaR.
 * - 'cornish-fisher' (Zangari 1996; Boudt, Peterson & Croux 2008): z is replaced by the
 *   Cornish-Fisher expansion with the losses' skewness S and excess kurtosis K:
 *   z_cf = z + (z²-1)S/6 + (z³-3z)K/24 - (2z³-5z)S²/36, VaR = μ + σ·z_cf. CVaR is the mean of
 *   the expansion over the tail, μ + σ·λ·[1 + Sz/6 + K(z²-1)/24 - S²(2z²-1)/36] with
 *   λ = φ(z)/(1-c), formed as VaR + σ·e with the tail's mean excess
 *   e = δ + S(zδ+1)/6 + K((z²-1)δ + 2z)/24 - S²((2z²-1)δ + 4z)/36, δ = λ - z.
 *   Guard: e < 0 only where the expansion decreases over part of the tail (its slope
 *   1 + uS/3 + (u²-1)K/8 - (6u²-5)S²/36 turns negative for some u > z: far out whenever
 *   K < 4S²/3, near the centre once K is large), where it is no longer a quantile function; there CVaR
 *   is reported equal to VaR, as PerformanceAnalytics' mES floors modified ES at modified
 *   VaR (`min(-E, h)` in mES.MM). S = K = 0 gives the normal answers.
 * - `horizonDays` (default 1) scales VaR and CVaR by √horizonDays (the square-root-of-
 *   time rule), applied only when it is not 1; `portfolioValue` (default 1) multiplies.
 * - Non-finite inputs are found in the kernels' single pass over the data (no separate
 *   validation pass) and reported before any result is produced.
 */
import { describe, invalidRange } from '../errors.js';
import { backendOption, kBackendPolicies } from '../internal/backend.js';
import { type OptionSpecs, type OptionsSchema, defineOptions, oneOfCheck, readOptions } from '../internal/options.js';
import { normalPdf, normalQuantile } from './detmath.js';
import { type RiskBackend, type RiskBackendChoice, type RiskBackendOption, type RiskKernels, kernelsFor } from './kernels.js';
import { checkFiniteArray, kMaxAssets, nonFiniteError, riskChecks, toFloat64, withCallerStack } from './validate.js';

export type VaRMethod = 'historical' | 'parametric' | 'cornish-fisher';

export interface VaROptions {
  /** Probability kept, in (0.5, 1); default 0.95 (95% VaR). */
  confidence?: number;
  /** Default 'historical'. */
  method?: VaRMethod;
  /**
   * Moment convention of 'parametric' and 'cornish-fisher' (ignored by 'historical'):
   * 1 (default) sample moments: standard deviation with n - 1, skewness G1 and excess
   * kurtosis G2 (Joanes & Gill 1998; pandas, Excel, scipy bias=False); Cornish-Fisher then
   * needs at least 4 returns. 0 population moments (1/n): σ = √m2, g1, g2, exactly
   * PerformanceAnalytics' VaR(method = "modified" | "gaussian").
   * The default keeps parametric VaR on the unbiased variance estimate that risk systems
   * and the earlier releases use, and gives skewness and kurtosis the matching small-sample
   * estimators; pass 0 to reproduce PerformanceAnalytics.
   */
  ddof?: 0 | 1;
  /** Scale by √horizonDays; default 1 (no scaling). */
  horizonDays?: number;
  /** Multiply by this amount of money; default 1 (results in return units). */
  portfolioValue?: number;
  /** Default 'auto'. */
  backend?: RiskBackendOption;
}

export interface VaRResult {
  /** Value at Risk, a positive loss. */
  var: number;
  /** Conditional VaR (expected shortfall), a positive loss, >= var. */
  cvar: number;
  confidence: number;
  method: VaRMethod;
  backend: RiskBackend;
  computeTimeMs: number;
}

export interface PortfolioVaROptions extends VaROptions {
  /** observations x assets, row-major: returns[t * assets + j]. */
  returns: Float64Array | number[];
  assets: number;
  /** Portfolio weights (fractions or amounts), one per asset. */
  weights: Float64Array | number[];
}

interface VaRPlan {
  returns: Float64Array;
  confidence: number;
  method: VaRMethod;
  ddof: 0 | 1;
  scale: number;
  kernels: RiskKernels;
}

const out2 = new Float64Array(2);
const out4 = new Float64Array(4);

/** The options every VaR function takes: the one table of their checks and defaults. */
/** The options every VaR function reads (backtestVaR reuses confidence, method, ddof and backend). */
export function vaRSpecs(fn: string): OptionSpecs {
  return {
    confidence: { check: riskChecks.confidence, default: 0.95 },
    method: { check: oneOfCheck(['historical', 'parametric', 'cornish-fisher']), default: 'historical' },
    ddof: { check: riskChecks.ddof, default: 1 },
    horizonDays: { check: riskChecks.positive, default: 1 },
    portfolioValue: { check: riskChecks.positive, default: 1 },
    backend: backendOption(kBackendPolicies.risk, fn),
  };
}

/** portfolioVaR's own options besides vaRSpecs; returns and weights are sized by assets, so planPortfolio checks them. */
function portfolioSpecs(fn: string): OptionSpecs {
  return {
    returns: { check: null, checkedBy: 'planPortfolio (a multiple of assets)' },
    assets: { check: riskChecks.integer(1, kMaxAssets), always: true },
    weights: { check: null, checkedBy: 'planPortfolio (one per asset)' },
    ...vaRSpecs(fn),
  };
}

const kCalculateVaR = defineOptions('calculateVaR', vaRSpecs('calculateVaR'));
const kCalculateVaRSync = defineOptions('calculateVaRSync', vaRSpecs('calculateVaRSync'));
const kPortfolioVaR = defineOptions('portfolioVaR', portfolioSpecs('portfolioVaR'));
const kPortfolioVaRSync = defineOptions('portfolioVaRSync', portfolioSpecs('portfolioVaRSync'));

function planOptions(returns: Float64Array, opts: Record<string, unknown>, seriesName: string, observations: number): VaRPlan {
  const method = opts.method as VaRMethod;
  const ddof = opts.ddof as 0 | 1;
  // G1 and G2 divide by n - 2 and n - 3: the sample convention needs four observations.
  if (method === 'cornish-fisher' && ddof === 1 && observations < 4) {
    throw invalidRange(
      seriesName,
      `at least 4 observations for 'cornish-fisher' with ddof 1 (sample kurtosis divides by n - 3; ddof 0 needs 2)`,
      returns,
    );
  }
  const horizon = opts.horizonDays as number;
  const scale = (horizon === 1 ? 1 : Math.sqrt(horizon)) * (opts.portfolioValue as number);
  const kernels = kernelsFor(opts.backend as RiskBackendChoice, 'varObservations', returns.length);
  return { returns, confidence: opts.confidence as number, method, ddof, scale, kernels };
}

/**
 * The closed forms, shared by every backend: `m` = [mean, std, skew, excess kurtosis] of the
 * losses. CVaR = VaR + σ·(mean excess of the tail over its threshold): σ >= 0 and the
 * excess >= 0, so CVaR >= VaR after rounding (see the module header for the CF guard).
 */
function parametricFromMoments(m: Float64Array, confidence: number, cornishFisher: boolean, out: Float64Array): void {
  const mean = m[0]!;
  const sd = m[1]!;
  const z = normalQuantile(confidence);
  // δ = E[Z | Z > z] - z: above 0.11 for confidence in (0.5, 1), far above rounding.
  const delta = normalPdf(z) / (1 - confidence) - z;
  if (!cornishFisher) {
    out[0] = mean + sd * z;
    out[1] = out[0] + sd * delta;
    return;
  }
  const S = m[2]!;
  const K = m[3]!;
  const z2 = z * z;
  const z3 = z2 * z;
  const zcf = z + ((z2 - 1) * S) / 6 + ((z3 - 3 * z) * K) / 24 - ((2 * z3 - 5 * z) * S * S) / 36;
  // E[g(Z) - g(z) | Z > z] for the expansion g, by Hermite moments of the normal tail.
  const excess = delta + (S * (z * delta + 1)) / 6 + (K * ((z2 - 1) * delta + 2 * z)) / 24 - (S * S * ((2 * z2 - 1) * delta + 4 * z)) / 36;
  out[0] = mean + sd * zcf;
  out[1] = out[0] + sd * (excess > 0 ? excess : 0);
}

function finish(plan: VaRPlan, status: number, name: string, source: Float64Array, raw: Float64Array, started: number): VaRResult {
  if (status >= 0) throw nonFiniteError(name, source, status);
  if (plan.method !== 'historical') parametricFromMoments(raw, plan.confidence, plan.method === 'cornish-fisher', raw);
  return {
    var: raw[0]! * plan.scale,
    cvar: raw[1]! * plan.scale,
    confidence: plan.confidence,
    method: plan.method,
    backend: plan.kernels.name,
    computeTimeMs: performance.now() - started,
  };
}

function runSync(plan: VaRPlan, name: string, source: Float64Array, started: number): VaRResult {
  const k = plan.kernels;
  const status = plan.method === 'historical' ? k.historical(plan.returns, -1, plan.confidence, out2) : k.moments(plan.returns, -1, plan.ddof, out4);
  return finish(plan, status, name, source, plan.method === 'historical' ? out2 : out4, started);
}

async function runAsync(plan: VaRPlan, name: string, source: Float64Array, started: number): Promise<VaRResult> {
  const k = plan.kernels;
  // Per-call outputs: concurrent async calls must not share them.
  const raw = new Float64Array(4);
  const status =
    plan.method === 'historical' ? await k.historicalAsync(plan.returns, -1, plan.confidence, raw) : await k.momentsAsync(plan.returns, -1, plan.ddof, raw);
  return finish(plan, status, name, source, raw, started);
}

function planVaR(schema: OptionsSchema, returns: unknown, options: unknown): VaRPlan {
  const series = toFloat64('returns', returns, 2, 'returns');
  return planOptions(series, readOptions(schema, options), 'returns', series.length);
}

/**
 * VaR and CVaR of one return series, off the JS thread (see the module header for the
 * exact definitions). Under the TS backend it runs on the main thread after one turn of
 * the event loop.
 * @example
 * import { calculateVaR } from 'ultra-performance';
 * const r = await calculateVaR(dailyReturns, { confidence: 0.99, portfolioValue: 1_000_000 });
 * console.log(`99% 1-day VaR ${r.var.toFixed(0)}, CVaR ${r.cvar.toFixed(0)} (${r.backend})`);
 * // PerformanceAnalytics' VaR(R, p = 0.95, method = "modified"), as a positive loss:
 * const pa = await calculateVaR(monthlyReturns, { method: 'cornish-fisher', confidence: 0.95, ddof: 0 });
 */
export function calculateVaR(returns: Float64Array | number[], options?: VaROptions): Promise<VaRResult> {
  const started = performance.now();
  let plan: VaRPlan;
  try {
    plan = planVaR(kCalculateVaR, returns, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return withCallerStack(() => runAsync(plan, 'returns', plan.returns, started));
}

/**
 * calculateVaR on the calling thread, for small series (microseconds for 10k returns).
 * @example
 * import { calculateVaRSync } from 'ultra-performance';
 * const { var: var95, cvar } = calculateVaRSync(new Float64Array([0.01, -0.02, 0.003, -0.015, 0.007]));
 */
export function calculateVaRSync(returns: Float64Array | number[], options?: VaROptions): VaRResult {
  const started = performance.now();
  const plan = planVaR(kCalculateVaRSync, returns, options);
  return runSync(plan, 'returns', plan.returns, started);
}

interface PortfolioPlan {
  plan: VaRPlan;
  returns: Float64Array;
  observations: number;
  assets: number;
  weights: Float64Array;
  series: Float64Array;
}

function planPortfolio(schema: OptionsSchema, options: unknown): PortfolioPlan {
  const opts = readOptions(schema, options, { required: true });
  const assets = opts.assets as number;
  const returns = toFloat64('options.returns', opts.returns, 2 * assets, 'returns');
  if (returns.length % assets !== 0) {
    throw invalidRange('options.returns', `a length that is a multiple of options.assets (${assets}): observations x assets, row-major`, returns);
  }
  const weights = toFloat64('options.weights', opts.weights, 1, 'weights');
  if (weights.length !== assets) throw invalidRange('options.weights', `${assets} weights (one per asset)`, weights);
  checkFiniteArray('options.weights', weights);
  const observations = returns.length / assets;
  const series = new Float64Array(observations);
  const plan = planOptions(series, opts, 'options.returns', observations);
  return { plan, returns, observations, assets, weights, series };
}

/**
 * VaR and CVaR of a weighted portfolio from a T x N matrix of asset returns: the
 * portfolio return of day t is Σ_j weights[j] · returns[t·N + j], then calculateVaR's
 * definitions apply.
 * @example
 * import { portfolioVaR } from 'ultra-performance';
 * const r = await portfolioVaR({ returns: matrix, assets: 3, weights: [0.5, 0.3, 0.2], confidence: 0.99 });
 */
export function portfolioVaR(options: PortfolioVaROptions): Promise<VaRResult> {
  const started = performance.now();
  let p: PortfolioPlan;
  try {
    p = planPortfolio(kPortfolioVaR, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return withCallerStack(async () => {
    const status = await p.plan.kernels.portfolioReturnsAsync(p.returns, p.observations, p.assets, p.weights, p.series);
    if (status >= 0) throw nonFiniteError('options.returns', p.returns, status);
    return runAsync(p.plan, 'options.returns', p.returns, started);
  });
}

/**
 * portfolioVaR on the calling thread.
 * @example
 * import { portfolioVaRSync } from 'ultra-performance';
 * const r = portfolioVaRSync({ returns: matrix, assets: 2, weights: [0.6, 0.4], method: 'parametric' });
 */
export function portfolioVaRSync(options: PortfolioVaROptions): VaRResult {
  const started = performance.now();
  const p = planPortfolio(kPortfolioVaRSync, options);
  const status = p.plan.kernels.portfolioReturns(p.returns, p.observations, p.assets, p.weights, p.series);
  if (status >= 0) throw nonFiniteError('options.returns', p.returns, status);
  return runSync(p.plan, 'options.returns', p.returns, started);
}

/** @internal Empirical tail of an array of losses (used by the Monte Carlo functions). */
/** A simulated loss that overflowed float64 (`loss` NaN when it did not come back from the device). */
export function nonFiniteLoss(loss: number, path: number): RangeError {
  const what = Number.isNaN(loss) ? 'not finite' : `not finite (${describe(loss)})`;
  return new RangeError(`a simulated loss is ${what} at path ${path}: the parameters overflow float64`);
}
