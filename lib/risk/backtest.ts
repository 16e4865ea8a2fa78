/**
 * VaR backtesting: a rolling one-day-ahead forecast over a return series, the exceptions
 * (days whose loss exceeded the forecast), and the standard coverage tests:
 * - Kupiec (1995), "Techniques for verifying the accuracy of risk measurement models",
 *   Journal of Derivatives 3(2): the proportion-of-failures likelihood ratio LR_uc ~ χ²(1).
 * - Christoffersen (1998), "Evaluating interval forecasts", International Economic Review
 *   39(4): independence of exceptions (first-order Markov) LR_ind ~ χ²(1), and conditional
 *   coverage LR_cc = LR_uc + LR_ind ~ χ²(2).
 * Pure TS: the forecasts go through calculateVaRSync (so each backend's VaR is what is
 * tested); the statistics are a few dozen operations.
 */
import { invalidRange } from '../errors.js';
import { defineOptions, readOptions } from '../internal/options.js';
import { checkInteger, riskChecks, toFloat64 } from './validate.js';
import { calculateVaRSync, type VaRMethod, vaRSpecs } from './var.js';
import type { RiskBackendOption } from './kernels.js';

export interface LikelihoodRatioTest {
  /** The likelihood-ratio statistic (>= 0). */
  statistic: number;
  /** Degrees of freedom of its χ² distribution under the null hypothesis. */
  degreesOfFreedom: number;
  /** P(χ² >= statistic): small values reject the model (e.g. < 0.05). */
  pValue: number;
}

export interface ChristoffersenResult {
  /** Exceptions cluster (or not): LR_ind, χ²(1). */
  independence: LikelihoodRatioTest;
  /** Right rate and independent: LR_uc + LR_ind, χ²(2). */
  conditionalCoverage: LikelihoodRatioTest;
  /** Transition counts of the hit sequence: n[i][j] days with hit i followed by hit j. */
  transitions: { n00: number; n01: number; n10: number; n11: number };
}

export interface VaRBacktestOptions {
  /** Returns in each forecast's estimation window; default 250 (one trading year). */
  window?: number;
  /** VaR confidence in (0.5, 1); default 0.99. */
  confidence?: number;
  /** Default 'historical'. */
  method?: VaRMethod;
  /** Moment convention for 'parametric' / 'cornish-fisher' (see VaROptions.ddof); default 1. */
  ddof?: 0 | 1;
  /** Backend of the VaR forecasts; default 'auto'. */
  backend?: RiskBackendOption;
}

export interface VaRBacktestResult {
  /** Forecast days: returns.length - window. */
  observations: number;
  /** Days whose loss (-return) exceeded that day's forecast. */
  exceptions: number;
  /** observations * (1 - confidence). */
  expectedExceptions: number;
  confidence: number;
  method: VaRMethod;
  window: number;
  /** VaR forecast for day window + i (a positive loss, in return units). */
  forecasts: Float64Array;
  /** 1 where day window + i was an exception. */
  hits: Uint8Array;
  kupiec: LikelihoodRatioTest;
  christoffersen: ChristoffersenResult;
}

const kForecastSpecs = vaRSpecs('backtestVaR');
const kBacktestOptions = defineOptions('backtestVaR', {
  window: { check: riskChecks.integer(2, 1 << 24), default: 250 },
  confidence: { ...kForecastSpecs.confidence!, default: 0.99 },
  method: kForecastSpecs.method!,
  ddof: kForecastSpecs.ddof!,
  backend: kForecastSpecs.backend!,
});

/**
 * Rolls a one-day-ahead VaR forecast over `returns` (simple or log daily returns, oldest
 * first): the forecast for day t uses returns[t - window .. t - 1]; day t is an exception
 * when -returns[t] > forecast. Options are checked as calculateVaR's are (window: an integer
 * from 2 to 2^24).
 * Throws a RangeError when returns has no more than `window` values.
 * @example
 * const r = backtestVaR(dailyReturns, { window: 250, confidence: 0.99 });
 * r.exceptions; r.kupiec.pValue; r.christoffersen.conditionalCoverage.pValue;
 */
export function backtestVaR(returns: Float64Array | number[], options?: VaRBacktestOptions): VaRBacktestResult {
  const o = readOptions(kBacktestOptions, options);
  const window = o.window as number;
  const confidence = o.confidence as number;
  const series = toFloat64('returns', returns, 0, 'returns');
  if (series.length <= window) throw invalidRange('returns', `more than options.window (${window}) returns`, returns);
  const varOptions = { confidence, method: o.method as VaRMethod, ddof: o.ddof as 0 | 1, backend: o.backend as RiskBackendOption };
  const observations = series.length - window;
  const forecasts = new Float64Array(observations);
  const hits = new Uint8Array(observations);
  let exceptions = 0;
  for (let i = 0; i < observations; i++) {
    const forecast = calculateVaRSync(series.subarray(i, i + window), varOptions).var;
    forecasts[i] = forecast;
    if (-series[i + window]! > forecast) {
      hits[i] = 1;
      exceptions++;
    }
  }
  return {
    observations,
    exceptions,
    expectedExceptions: observations * (1 - confidence),
    confidence,
    method: varOptions.method,
    window,
    forecasts,
    hits,
    kupiec: kupiecTest(exceptions, observations, confidence),
    christoffersen: christoffersenTest(hits, confidence),
  };
}

/** x ln(y), with 0 ln(0) = 0 (the convention the likelihoods need at x = 0). */
function xlogy(x: number, y: number): number {
  return x === 0 ? 0 : x * Math.log(y);
}

/** ln L of a Bernoulli(p) sample with `ones` successes among `n`. */
function bernoulliLogLikelihood(ones: number, n: number, p: number): number {
  return xlogy(n - ones, 1 - p) + xlogy(ones, p);
}

/**
 * Kupiec's proportion-of-failures test: LR_uc = -2 ln[(1-p)^(T-x) p^x / (1-x/T)^(T-x) (x/T)^x],
 * p = 1 - confidence, x exceptions in T observations; χ²(1) under a correct model.
 */
export function kupiecTest(exceptions: number, observations: number, confidence: number): LikelihoodRatioTest {
  const T = checkInteger('observations', observations, 1, Number.MAX_SAFE_INTEGER);
  const x = checkInteger('exceptions', exceptions, 0, T);
  if (typeof confidence !== 'number' || !(confidence > 0 && confidence < 1)) throw invalidRange('confidence', 'a confidence in (0, 1)', confidence);
  const statistic = Math.max(0, 2 * (bernoulliLogLikelihood(x, T, x / T) - bernoulliLogLikelihood(x, T, 1 - confidence)));
  return { statistic, degreesOfFreedom: 1, pValue: chiSquareSf(statistic, 1) };
}

/**
 * Christoffersen's independence and conditional-coverage tests on a hit sequence (1 = an
 * exception). LR_ind compares a first-order Markov chain (π01 = n01/(n00+n01),
 * π11 = n11/(n10+n11)) with an i.i.d. one (π = (n01+n11)/(T-1)); LR_cc = LR_uc + LR_ind,
 * with LR_uc computed on the whole sequence.
 */
export function christoffersenTest(hits: Uint8Array | ArrayLike<number>, confidence: number): ChristoffersenResult {
  const n = hits.length;
  if (n < 2) throw invalidRange('hits', 'a sequence of at least 2 days', hits);
  let n00 = 0;
  let n01 = 0;
  let n10 = 0;
  let n11 = 0;
  let ones = 0;
  for (let t = 0; t < n; t++) {
    const h = hits[t];
    if (h !== 0 && h !== 1) throw invalidRange(`hits[${t}]`, '0 or 1', h);
    ones += h;
    if (t === 0) continue;
    const prev = hits[t - 1];
    if (prev === 0) h === 0 ? n00++ : n01++;
    else h === 0 ? n10++ : n11++;
  }
  const pi01 = n00 + n01 === 0 ? 0 : n01 / (n00 + n01);
  const pi11 = n10 + n11 === 0 ? 0 : n11 / (n10 + n11);
  const pi = (n01 + n11) / (n - 1);
  const markov = bernoulliLogLikelihood(n01, n00 + n01, pi01) + bernoulliLogLikelihood(n11, n10 + n11, pi11);
  const iid = bernoulliLogLikelihood(n01 + n11, n - 1, pi);
  const lrInd = Math.max(0, 2 * (markov - iid));
  const lrCc = kupiecTest(ones, n, confidence).statistic + lrInd;
  return {
    independence: { statistic: lrInd, degreesOfFreedom: 1, pValue: chiSquareSf(lrInd, 1) },
    conditionalCoverage: { statistic: lrCc, degreesOfFreedom: 2, pValue: chiSquareSf(lrCc, 2) },
    transitions: { n00, n01, n10, n11 },
  };
}

/**
 * P(χ²_k >= x) = Q(k/2, x/2), the regularized upper incomplete gamma function: its series
 * below a + 1 and Lentz's continued fraction above (Numerical Recipes, 3rd ed., §6.2),
 * to about 1e-15 relative.
 */
export function chiSquareSf(x: number, degreesOfFreedom: number): number {
  const k = checkInteger('degreesOfFreedom', degreesOfFreedom, 1, 1000);
  if (typeof x !== 'number' || Number.isNaN(x)) throw invalidRange('x', 'a number', x);
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  const a = k / 2;
  const z = x / 2;
  // ln Γ(k/2) by Γ(a + 1) = a Γ(a) from Γ(1/2) = √π or Γ(1) = 1: exact for these arguments.
  let lnGamma = k % 2 === 1 ? 0.5 * Math.log(Math.PI) : 0;
  for (let b = k % 2 === 1 ? 0.5 : 1; b < a; b += 1) lnGamma += Math.log(b);
  const front = Math.exp(-z + a * Math.log(z) - lnGamma);
  const eps = 1e-16;
  if (z < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let n = 0; n < 10_000; n++) {
      ap += 1;
      del *= z / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * eps) break;
    }
    return Math.max(0, 1 - sum * front);
  }
  const tiny = 1e-300;
  let b = z + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < eps) break;
  }
  return front * h;
}
