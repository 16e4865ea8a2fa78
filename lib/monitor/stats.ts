/**
 * Statistics for the monitors and the regression detector: rank tests, order-statistics
 * confidence intervals, multiple-comparison correction and robust trends. Pure functions over
 * number arrays; each checks its input and names the argument it rejects.
 *
 * Agreement with SciPy (checked by test/stats.test.ts on committed reference values):
 * `mannWhitneyU` = `scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method='auto')`,
 * `theilSen` = `scipy.stats.theilslopes(y, x)` (slope, intercept with `method='separate'`),
 * `normalSf` = `scipy.special.ndtr(-z)`.
 */
import { invalidRange, invalidType, invalidValue } from '../errors.js';
import type { OptionCheck } from '../internal/options.js';

/** Any array of numbers the functions accept. */
export type NumericArray = ArrayLike<number>;

/**
 * Checks that `values` is an array of finite numbers with at least `min` entries; returns a
 * Float64Array copy. The error names `argument`, the offending index and value.
 * @example finiteSamples('values', [1, NaN]) // throws: Expected a finite number for values[1] but received NaN
 */
export function finiteSamples(argument: string, values: unknown, min = 1): Float64Array {
  if (values == null || typeof values !== 'object' || typeof (values as { length?: unknown }).length !== 'number') {
    throw invalidType(argument, 'an array of finite numbers', values);
  }
  const source = values as ArrayLike<unknown>;
  if (source.length < min) {
    throw invalidRange(argument, `an array of at least ${min} finite number${min === 1 ? '' : 's'}`, values);
  }
  const out = new Float64Array(source.length);
  for (let i = 0; i < source.length; i++) {
    const v = source[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw invalidValue(`${argument}[${i}]`, 'a finite number', v);
    }
    out[i] = v;
  }
  return out;
}

/** Option check: a number strictly between 0 and 1 (a p-value, a significance level). */
export function probabilityCheck(what: string): OptionCheck {
  return (value, argument) => {
    if (typeof value !== 'number') throw invalidType(argument, what, value);
    if (!(value > 0 && value < 1)) throw invalidRange(argument, what, value);
    return value;
  };
}

/** Option check: a finite number >= 0 (a relative change such as 0.1). */
export function relativeChangeCheck(what: string): OptionCheck {
  return (value, argument) => {
    if (typeof value !== 'number') throw invalidType(argument, what, value);
    if (!(value >= 0 && Number.isFinite(value))) throw invalidRange(argument, what, value);
    return value;
  };
}

const SQRT1_2 = Math.SQRT1_2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erfc(x) for x >= 0: a positive-term series for erf below 1.1 (no cancellation; 1 − erf loses digits further out) and Lentz's
 * continued fraction above, both to about 1e-16.
 */
function erfcNonNegative(x: number): number {
  if (x < 1.1) {
    // erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1))
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  // erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 1000; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/**
 * Upper tail of the standard normal, P(Z > z), accurate in the far tail (no 1 - cdf).
 * @example normalSf(1.959963984540054) // 0.025
 */
export function normalSf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (z === Infinity) return 0;
  if (z === -Infinity) return 1;
  const e = erfcNonNegative(Math.abs(z) * SQRT1_2) / 2;
  return z >= 0 ? e : 1 - e;
}

/** P(Z <= z) for the standard normal. @example normalCdf(0) // 0.5 */
export function normalCdf(z: number): number {
  return normalSf(-z);
}

/** Median of a sorted array (mean of the middle two for even lengths). */
function sortedMedian(sorted: Float64Array): number {
  const n = sorted.length;
  const h = n >> 1;
  return n % 2 === 1 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
}

/**
 * The median of `values` (mean of the middle two for even lengths).
 * @example median([3, 1, 2]) // 2
 */
export function median(values: NumericArray): number {
  const s = finiteSamples('values', values).sort();
  return sortedMedian(s);
}

/** Result of {@link theilSen}. */
export interface TheilSenResult {
  /** Median of the slopes between every pair of points with distinct x. */
  slope: number;
  /** median(ys) - slope * median(xs) (SciPy's `method='separate'`). */
  intercept: number;
}

/**
 * Theil–Sen estimator: a line through (xs, ys) robust to up to ~29% outliers. O(n²) pairs.
 * Throws when fewer than two points, lengths differ, or every x is the same.
 * @example theilSen([0, 1, 2, 3], [1, 3, 5, 100]) // { slope: 2, intercept: 1 } (median slopes)
 */
export function theilSen(xs: NumericArray, ys: NumericArray): TheilSenResult {
  const x = finiteSamples('xs', xs, 2);
  const y = finiteSamples('ys', ys, 2);
  if (x.length !== y.length) throw invalidRange('ys', `an array as long as xs (${x.length})`, ys);
  const n = x.length;
  const slopes = new Float64Array((n * (n - 1)) / 2);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    for (let j = i + 1; j < n; j++) {
      const dx = x[j]! - xi;
      if (dx !== 0) slopes[m++] = (y[j]! - yi) / dx;
    }
  }
  if (m === 0) throw invalidValue('xs', 'at least two distinct values', xs);
  const slope = sortedMedian(slopes.subarray(0, m).sort());
  const intercept = sortedMedian(y.sort()) - slope * sortedMedian(x.sort());
  return { slope, intercept };
}

/** Result of {@link mannKendall}. */
export interface MannKendallResult {
  /** S = Σ_{i<j} sign(v_j − v_i): positive for an upward trend. */
  s: number;
  /** (S − sign S) / sqrt(Var S), with the tie-corrected variance. */
  z: number;
  /** Two-sided p-value of "no monotonic trend" from the normal approximation. */
  p: number;
}

/**
 * Mann–Kendall test for a monotonic trend in a series taken at equal steps. Variance corrected
 * for ties, continuity-corrected z, two-sided p. Empty input throws; a single value or a
 * constant series gives { s: 0, z: 0, p: 1 }.
 * @example mannKendall([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).p < 0.001 // true
 */
export function mannKendall(values: NumericArray): MannKendallResult {
  const v = finiteSamples('values', values, 1);
  const n = v.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const vi = v[i]!;
    for (let j = i + 1; j < n; j++) {
      const d = v[j]! - vi;
      s += d > 0 ? 1 : d < 0 ? -1 : 0;
    }
  }
  let tieTerm = 0;
  const sorted = v.slice().sort();
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && sorted[j] === sorted[i]) j++;
    const t = j - i;
    if (t > 1) tieTerm += t * (t - 1) * (2 * t + 5);
    i = j;
  }
  const variance = (n * (n - 1) * (2 * n + 5) - tieTerm) / 18;
  if (s === 0 || variance <= 0) return { s, z: 0, p: 1 };
  const z = (s - Math.sign(s)) / Math.sqrt(variance);
  return { s, z, p: Math.min(1, 2 * normalSf(Math.abs(z))) };
}

/** Result of {@link mannWhitneyU}. */
export interface MannWhitneyResult {
  /** U of the first sample: the number of pairs (x, y) with x > y, ties counting one half. */
  u: number;
  /** Two-sided p-value. */
  p: number;
  /** 'exact' (null distribution counted) or 'asymptotic' (normal, tie and continuity corrected). */
  method: 'exact' | 'asymptotic';
}

/**
 * Number of arrangements giving each U, for U = 0..n1·n2: the coefficients of the Gaussian
 * binomial [n1+n2 choose n1]_q = Π_{i=1..n1} (1 − q^{n2+i}) / (1 − q^i), with n1 <= n2.
 */
function exactUCounts(n1: number, n2: number): Float64Array {
  const size = n1 * n2 + 1;
  const c = new Float64Array(size);
  c[0] = 1;
  for (let i = 1; i <= n1; i++) {
    const shift = n2 + i;
    for (let k = size - 1; k >= shift; k--) c[k]! -= c[k - shift]!;
    for (let k = i; k < size; k++) c[k]! += c[k - i]!;
  }
  return c;
}

/** Sorted ranks (1-based, ties averaged) of the concatenation of a and b, and Σ (t³ − t) over tie groups. */
function rankSum(a: Float64Array, b: Float64Array): { r1: number; tieTerm: number } {
  const n1 = a.length;
  const n = n1 + b.length;
  const all = new Float64Array(n);
  all.set(a);
  all.set(b, n1);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((i, j) => all[i]! - all[j]!);
  let r1 = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && all[order[j]!] === all[order[i]!]) j++;
    const t = j - i;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (order[k]! < n1) r1 += rank;
    if (t > 1) tieTerm += t * t * t - t;
    i = j;
  }
  return { r1, tieTerm };
}

/**
 * Two-sided Mann–Whitney U test, as SciPy's `mannwhitneyu(x, y, method='auto')` (SciPy ≥ 1.7):
 * the exact null distribution when either sample has at most 8 values and there are no ties,
 * otherwise the normal approximation with the tie-corrected variance and a continuity
 * correction of 0.5. p = 2·P(U ≥ max(U1, U2)), capped at 1.
 * @example mannWhitneyU([1, 2, 3, 4], [5, 6, 7, 8]) // { u: 0, p: 0.02857142857142857, method: 'exact' }
 */
export function mannWhitneyU(x: NumericArray, y: NumericArray): MannWhitneyResult {
  const a = finiteSamples('x', x, 1);
  const b = finiteSamples('y', y, 1);
  const n1 = a.length;
  const n2 = b.length;
  const { r1, tieTerm } = rankSum(a, b);
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u = Math.max(u1, n1 * n2 - u1);
  if ((n1 <= 8 || n2 <= 8) && tieTerm === 0) {
    const counts = exactUCounts(Math.min(n1, n2), Math.max(n1, n2));
    // P(U >= u) = P(U <= n1·n2 − u) by symmetry; sum the small side
    const kc = n1 * n2 - u;
    let below = 0;
    let total = 0;
    for (let k = 0; k < counts.length; k++) {
      total += counts[k]!;
      if (k <= kc) below += counts[k]!;
    }
    return { u: u1, p: Math.min(1, Math.max(0, (2 * below) / total)), method: 'exact' };
  }
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const z = (u - (n1 * n2) / 2 - 0.5) / sd;
  const p = sd > 0 ? 2 * normalSf(z) : 1;
  return { u: u1, p: Math.min(1, Math.max(0, Number.isNaN(p) ? 1 : p)), method: 'asymptotic' };
}

/** Result of {@link medianConfidenceInterval}. */
export interface MedianInterval {
  median: number;
  /** Lower end, or null when too few samples reach the confidence (n < 6 at 0.95). */
  low: number | null;
  high: number | null;
  /** The coverage actually reached by the chosen order statistics, 1 − 2·P(Bin(n, ½) < k). */
  coverage: number;
}

/**
 * Distribution-free confidence interval for the median from order statistics, as benchstat
 * gives: [x(k), x(n+1−k)] with the largest k whose coverage 1 − 2·P(Bin(n, ½) <= k−1) is at
 * least `confidence`. Below 6 samples no interval reaches 0.95: low and high are null.
 * @example medianConfidenceInterval([1, 2, 3, 4, 5, 6]) // { median: 3.5, low: 1, high: 6, coverage: 0.96875 }
 */
export function medianConfidenceInterval(values: NumericArray, confidence = 0.95): MedianInterval {
  if (typeof confidence !== 'number' || !(confidence > 0 && confidence < 1)) {
    throw invalidRange('confidence', 'a number between 0 and 1 (exclusive)', confidence);
  }
  const s = finiteSamples('values', values, 1).sort();
  const n = s.length;
  const med = sortedMedian(s);
  let best = 0;
  let coverage = 0;
  // below = P(Bin(n, 1/2) <= k − 1), built up term by term in log space
  let logChoose = 0;
  let below = 0;
  for (let k = 1; k <= n >> 1; k++) {
    if (k > 1) logChoose += Math.log((n - k + 2) / (k - 1));
    below += Math.exp(logChoose - n * Math.LN2);
    const c = 1 - 2 * below;
    if (c + 1e-12 >= confidence) {
      best = k;
      coverage = c;
    } else break;
  }
  if (best === 0) return { median: med, low: null, high: null, coverage: 0 };
  return { median: med, low: s[best - 1]!, high: s[n - best]!, coverage };
}

/**
 * Holm–Bonferroni step-down adjusted p-values (same order as the input; monotone, capped at 1).
 * Compare each to α to control the family-wise error rate across all the tests.
 * @example holmBonferroni([0.01, 0.04, 0.03]) // [0.03, 0.06, 0.06]
 */
export function holmBonferroni(pValues: NumericArray): number[] {
  const p = finiteSamples('pValues', pValues, 0);
  const m = p.length;
  for (let i = 0; i < m; i++) {
    if (p[i]! < 0 || p[i]! > 1) throw invalidRange(`pValues[${i}]`, 'a probability between 0 and 1', p[i]);
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => p[i]! - p[j]!);
  const adjusted = new Array<number>(m);
  let running = 0;
  for (let r = 0; r < m; r++) {
    const i = order[r]!;
    running = Math.max(running, Math.min(1, (m - r) * p[i]!));
    adjusted[i] = running;
  }
  return adjusted;
}

const kLanczos = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). @example logGamma(5) // ln 24 */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = kLanczos[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += kLanczos[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for the incomplete beta (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = Math.abs(d) < tiny ? tiny : d;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = 1 + aa / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = 1 + aa / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). @example incompleteBeta(0.5, 2, 2) // 0.5 */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * Two-sided p-value of Student's t with `df` degrees of freedom: P(|T| >= |t|).
 * @example studentTTwoSided(2.228138851986274, 10) // 0.05
 */
export function studentTTwoSided(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  return Math.min(1, incompleteBeta(df / (df + t * t), df / 2, 0.5));
}
