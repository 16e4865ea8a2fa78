/**
 * The pure-TS risk kernels: the same algorithms as cpp/risk, step for step where the
 * result must be bit-identical (historical tail, moments, portfolio returns, Cholesky,
 * GBM, Monte Carlo losses), and plain float64 loops for covariance (the same scaling and
 * shifts as the C++, tested against a naive reference to 1e-12). Every function trusts its arguments.
 */
import { expD, pow2, scaleExponent, timesPow2 } from './detmath.js';
import { fillNormalsTs } from './philox.js';

/** cpp/risk/var.hpp constants: identical on both sides. */
export const kVarSampleMin = 4096;
export const kVarSamples = 256;
export const kSumChunk = 4096;

let scratch = new Float64Array(1024);
function getScratch(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  return scratch;
}
const sample = new Float64Array(kVarSamples);

function isFiniteNumber(v: number): boolean {
  return v - v === 0;
}

function firstNonFinite(values: Float64Array): number {
  for (let i = 0; i < values.length; i++) if (!isFiniteNumber(values[i]!)) return i;
  return -1;
}

/** Numerical Recipes `select`, exactly as cpp/risk/var.cc quickselect(). */
export function quickselect(a: Float64Array, n: number, k: number): void {
  if (n < 2) return;
  let l = 0;
  let ir = n - 1;
  const limit = 2 * (32 - Math.clz32(n)) + 16;
  let rounds = 0;
  for (;;) {
    if (ir < l + 16) {
      for (let x = l + 1; x <= ir; x++) {
        const v = a[x]!;
        let y = x;
        while (y > l && a[y - 1]! > v) {
          a[y] = a[y - 1]!;
          y--;
        }
        a[y] = v;
      }
      return;
    }
    if (++rounds > limit) {
      a.subarray(l, ir + 1).sort();
      return;
    }
    const mid = (l + ir) >>> 1;
    let tmp = a[mid]!;
    a[mid] = a[l + 1]!;
    a[l + 1] = tmp;
    if (a[l]! > a[ir]!) {
      tmp = a[l]!;
      a[l] = a[ir]!;
      a[ir] = tmp;
    }
    if (a[l + 1]! > a[ir]!) {
      tmp = a[l + 1]!;
      a[l + 1] = a[ir]!;
      a[ir] = tmp;
    }
    if (a[l]! > a[l + 1]!) {
      tmp = a[l]!;
      a[l] = a[l + 1]!;
      a[l + 1] = tmp;
    }
    let i = l + 1;
    let j = ir;
    const pivot = a[l + 1]!;
    for (;;) {
      do i++;
      while (a[i]! < pivot);
      do j--;
      while (a[j]! > pivot);
      if (j < i) break;
      tmp = a[i]!;
      a[i] = a[j]!;
      a[j] = tmp;
    }
    a[l + 1] = a[j]!;
    a[j] = pivot;
    if (j >= k) ir = j - 1;
    if (j <= k) l = i;
  }
}

/** cpp/risk/var.cc historical_tail(): out = [var, cvar]; returns -1 or the first non-finite index. */
export function historicalTail(values: Float64Array, sign: number, confidence: number, out: Float64Array): number {
  const n = values.length;
  const h = (n - 1) * confidence;
  const lo = Math.floor(h);
  const frac = h - lo;
  const need = n - lo;
  const c = getScratch(n);
  let k = 0;
  let sampled = false;
  if (n >= kVarSampleMin) {
    const tail = 1.0 - confidence + 5.0 * Math.sqrt((confidence * (1.0 - confidence)) / 256.0) + 2.0 / 256.0;
    const m = Math.ceil(tail * 256.0);
    if (m < kVarSamples) {
      let ok = true;
      for (let j = 0; j < kVarSamples; j++) {
        const v = sign * values[Math.floor((j * n) / kVarSamples)]!;
        sample[j] = v;
        ok = ok && isFiniteNumber(v);
      }
      if (ok) {
        quickselect(sample, kVarSamples, kVarSamples - m);
        const t = sample[kVarSamples - m]!;
        let bad = false;
        for (let i = 0; i < n; i++) {
          const v = sign * values[i]!;
          c[k] = v;
          if (v >= t) k++;
          if (v - v !== 0) bad = true;
        }
        if (bad) return firstNonFinite(values);
        sampled = k >= need;
      }
    }
  }
  if (!sampled) {
    for (let i = 0; i < n; i++) {
      const v = sign * values[i]!;
      if (v - v !== 0) return i;
      c[i] = v;
    }
    k = n;
  }
  const p = lo - (n - k);
  quickselect(c, k, p);
  const a = c[p]!;
  let v = a;
  let b = a; // the tail's smallest loss
  if (frac > 0) {
    b = c[p + 1]!;
    for (let j = p + 2; j < k; j++) if (c[j]! < b) b = c[j]!;
    v = quantileLerp(a, b, frac);
  }
  const start = frac > 0 ? p + 1 : p;
  let excess = 0.0;
  for (let j = start; j < k; j++) excess += c[j]! - b;
  out[0] = v;
  out[1] = tailMean(b, excess, k - start);
  return -1;
}

/**
 * cpp/risk/var.hpp quantile_lerp(): NumPy's _lerp from the nearer end, in [a, b]; where
 * b - a overflows, the weighted form (NumPy would return an infinity).
 */
export function quantileLerp(a: number, b: number, frac: number): number {
  const diff = b - a;
  if (diff - diff !== 0) return (1.0 - frac) * a + frac * b;
  return frac >= 0.5 ? b - diff * (1.0 - frac) : a + diff * frac;
}

/**
 * cpp/risk/var.hpp tail_mean(): the tail's smallest loss plus the mean excess over it.
 * Every excess is >= 0 after rounding, so CVaR >= that loss >= VaR by construction.
 */
export function tailMean(base: number, excessSum: number, count: number): number {
  return base + excessSum / count;
}

let partial = new Float64Array(64);

/**
 * cpp/risk/var.cc loss_moments(): out = [mean, std, skew, excess kurtosis] of sign * values,
 * every moment under one convention (cpp/risk/var.hpp Moments): ddof 0 population
 * (σ = √m2, g1, g2), ddof 1 sample (n - 1, G1, G2 of Joanes & Gill 1998).
 */
export function lossMoments(values: Float64Array, sign: number, ddof: number, out: Float64Array): number {
  const n = values.length;
  const chunks = Math.ceil(n / kSumChunk);
  if (partial.length < chunks) partial = new Float64Array(chunks * 2);
  for (let ch = 0; ch < chunks; ch++) {
    const end = Math.min(n, (ch + 1) * kSumChunk);
    // Four interleaved partial sums, combined as (0+1)+(2+3): cpp/risk/var.cc's order.
    let a0 = 0.0;
    let a1 = 0.0;
    let a2 = 0.0;
    let a3 = 0.0;
    let i = ch * kSumChunk;
    for (; i + 4 <= end; i += 4) {
      a0 += sign * values[i]!;
      a1 += sign * values[i + 1]!;
      a2 += sign * values[i + 2]!;
      a3 += sign * values[i + 3]!;
    }
    for (; i < end; i++) a0 += sign * values[i]!;
    partial[ch] = a0 + a1 + (a2 + a3);
  }
  let s1 = 0.0;
  for (let ch = 0; ch < chunks; ch++) s1 += partial[ch]!;
  if (!isFiniteNumber(s1)) {
    const bad = firstNonFinite(values);
    if (bad >= 0) return bad;
  }
  const mean = s1 / n;
  let s2 = 0.0;
  let s3 = 0.0;
  let s4 = 0.0;
  for (let ch = 0; ch < chunks; ch++) {
    const end = Math.min(n, (ch + 1) * kSumChunk);
    // Lane l takes the indices = l mod 4 (cpp/risk/var.cc's order), unrolled by hand.
    let p0 = 0.0, p1 = 0.0, p2 = 0.0, p3 = 0.0;
    let t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0;
    let f0 = 0.0, f1 = 0.0, f2 = 0.0, f3 = 0.0;
    let i = ch * kSumChunk;
    for (; i + 4 <= end; i += 4) {
      const d0 = sign * values[i]! - mean;
      const d1 = sign * values[i + 1]! - mean;
      const d2 = sign * values[i + 2]! - mean;
      const d3 = sign * values[i + 3]! - mean;
      const e0 = d0 * d0;
      const e1 = d1 * d1;
      const e2 = d2 * d2;
      const e3 = d3 * d3;
      p0 += e0;
      p1 += e1;
      p2 += e2;
      p3 += e3;
      t0 += e0 * d0;
      t1 += e1 * d1;
      t2 += e2 * d2;
      t3 += e3 * d3;
      f0 += e0 * e0;
      f1 += e1 * e1;
      f2 += e2 * e2;
      f3 += e3 * e3;
    }
    for (; i < end; i++) {
      const d = sign * values[i]! - mean;
      const e = d * d;
      p0 += e;
      t0 += e * d;
      f0 += e * e;
    }
    s2 += p0 + p1 + (p2 + p3);
    s3 += t0 + t1 + (t2 + t3);
    s4 += f0 + f1 + (f2 + f3);
  }
  // cpp/risk/var.hpp settle_central_sums(): a constant series, then extreme magnitudes.
  if (s2 / n <= mean * mean * kNearConstant) {
    let i = 1;
    while (i < n && values[i] === values[0]) i++;
    if (i === n) {
      momentsFromSums(sign * values[0]!, 0, 0, 0, n, ddof, 1, out);
      return -1;
    }
  }
  if ((!isFiniteNumber(s4) || s2 / n < kRescaleBelowM2) && rescaledCentralSums(values, sign, mean, rescaled)) {
    momentsFromSums(mean, rescaled[0]!, rescaled[1]!, rescaled[2]!, n, ddof, rescaled[3]!, out);
  } else {
    momentsFromSums(mean, s2, s3, s4, n, ddof, 1, out);
  }
  return -1;
}

/** cpp/risk/var.hpp kRescaleBelowM2 and kNearConstant. */
const kRescaleBelowM2 = 2 ** -400;
const kNearConstant = 2 ** -40;
const rescaled = new Float64Array(4);

/**
 * cpp/risk/var.hpp rescaled_central_sums(): out = [s2, s3, s4, scale] of the deviations
 * times 2^p, p = -scaleExponent(largest |d|), in index order. False (out untouched) when every
 * deviation is 0 or one overflows: the caller keeps its plain sums.
 */
function rescaledCentralSums(values: Float64Array, sign: number, mean: number, out: Float64Array): boolean {
  const n = values.length;
  let top = 0.0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(sign * values[i]! - mean);
    top = d > top ? d : top;
  }
  if (top === 0 || !isFiniteNumber(top)) return false;
  const p = -scaleExponent(top);
  const f = pow2(p);
  let a2 = 0.0;
  let a3 = 0.0;
  let a4 = 0.0;
  for (let i = 0; i < n; i++) {
    const d = (sign * values[i]! - mean) * f;
    const d2 = d * d;
    a2 += d2;
    a3 += d2 * d;
    a4 += d2 * d2;
  }
  out[0] = a2;
  out[1] = a3;
  out[2] = a4;
  out[3] = pow2(-p);
  return true;
}

/** cpp/risk/var.hpp moments_from_sums(), the same operations in the same order. */
function momentsFromSums(mean: number, s2: number, s3: number, s4: number, n: number, ddof: number, scale: number, out: Float64Array): void {
  const m2 = s2 / n;
  out[0] = mean;
  out[1] = Math.sqrt(s2 / (n - ddof)) * scale;
  out[2] = 0;
  out[3] = 0;
  if (m2 > 0) {
    const g1 = s3 / n / (m2 * Math.sqrt(m2));
    const g2 = s4 / n / (m2 * m2) - 3.0;
    if (ddof === 0) {
      out[2] = g1;
      out[3] = g2;
    } else {
      out[2] = n > 2 ? (g1 * Math.sqrt(n * (n - 1.0))) / (n - 2.0) : NaN;
      out[3] = n > 3 ? ((n - 1.0) * ((n + 1.0) * g2 + 6.0)) / ((n - 2.0) * (n - 3.0)) : NaN;
    }
  }
}

/** cpp/risk/var.cc portfolio_returns(). */
export function portfolioReturns(returns: Float64Array, observations: number, assets: number, weights: Float64Array, out: Float64Array): number {
  let bad = false;
  for (let t = 0; t < observations; t++) {
    const row = t * assets;
    let acc = 0.0;
    for (let j = 0; j < assets; j++) {
      const r = returns[row + j]!;
      acc += weights[j]! * r;
      if (r - r !== 0) bad = true;
    }
    out[t] = acc;
  }
  return bad ? firstNonFinite(returns.subarray(0, observations * assets)) : -1;
}

/** Status of covariance(): see cpp/risk/matrix.hpp. */
export const kZeroVariance = -2;

/** EWMA columns whose largest weighted value is below this are scaled up again (cpp/risk/matrix.cc). */
const kEwmaRescaleBelow = 2 ** -256;

/**
 * cpp/risk/matrix.hpp covariance() semantics, as plain float64 loops over a transposed copy:
 * each column scaled by 2^-e (e = scaleExponent of its largest |x|, exact), Pearson columns
 * shifted by their scaled first value, then centred; covariances scaled back by 2^(e_i + e_j).
 */
export function covariance(data: Float64Array, T: number, N: number, method: 0 | 1, lambda: number, correlation: boolean, out: Float64Array): number {
  const z = new Float64Array(N * T);
  const sum = new Float64Array(N);
  const top = new Float64Array(N);
  const spread = new Float64Array(N);
  const expo = new Int32Array(N);
  for (let t = 0; t < T; t++) {
    const row = t * N;
    for (let j = 0; j < N; j++) {
      const v = data[row + j]!;
      sum[j] = sum[j]! + (v - data[j]!);
      const a = Math.abs(v);
      if (a > top[j]!) top[j] = a;
    }
  }
  let recentre = false;
  for (let j = 0; j < N; j++) {
    if (!isFiniteNumber(sum[j]!)) {
      const bad = firstNonFinite(data.subarray(0, T * N));
      if (bad >= 0) return bad;
      recentre = true;
    }
  }
  for (let j = 0; j < N; j++) {
    expo[j] = scaleExponent(top[j]!);
    // Scaled first (exact), then divided: sum / T on subnormal data would round to the
    // subnormal grid and leave a relative error near 2^-11 in every deviation.
    sum[j] = recentre ? 0 : (sum[j]! * pow2(-expo[j]!)) / T;
  }
  if (method === 0) {
    for (let j = 0; j < N; j++) {
      const s = pow2(-expo[j]!);
      const shift = data[j]! * s;
      const m = sum[j]!;
      const zj = j * T;
      for (let t = 0; t < T; t++) z[zj + t] = data[t * N + j]! * s - shift - m;
      if (recentre) {
        let acc = 0.0;
        for (let t = 0; t < T; t++) acc += z[zj + t]!;
        const mean = acc / T;
        for (let t = 0; t < T; t++) z[zj + t] = z[zj + t]! - mean;
      }
    }
  } else {
    const weight = new Float64Array(T);
    let p = 1.0;
    let total = 0.0;
    for (let back = 0; back < T; back++) {
      weight[T - 1 - back] = p;
      total += p;
      p *= lambda;
    }
    for (let t = 0; t < T; t++) weight[t] = Math.sqrt(weight[t]! / total);
    for (let j = 0; j < N; j++) {
      const s = pow2(-expo[j]!);
      const x0 = data[j]!;
      const zj = j * T;
      let big = 0.0;
      let far = 0.0;
      for (let t = 0; t < T; t++) {
        const x = data[t * N + j]!;
        const v = weight[t]! * (x * s);
        z[zj + t] = v;
        const a = Math.abs(v);
        if (a > big) big = a;
        const d = Math.abs(x - x0);
        if (d > far) far = d;
      }
      spread[j] = far;
      if (big !== 0 && big < kEwmaRescaleBelow) {
        const f = scaleExponent(big);
        const r = pow2(-f);
        for (let t = 0; t < T; t++) z[zj + t] = z[zj + t]! * r;
        expo[j] = expo[j]! + f;
      }
    }
  }
  const norm = method === 0 ? 1.0 / (T - 1) : 1.0;
  for (let i = 0; i < N; i++) {
    const zi = i * T;
    for (let j = i; j < N; j++) {
      const zj = j * T;
      let s0 = 0.0;
      let s1 = 0.0;
      let s2 = 0.0;
      let s3 = 0.0;
      let t = 0;
      for (; t + 3 < T; t += 4) {
        s0 += z[zi + t]! * z[zj + t]!;
        s1 += z[zi + t + 1]! * z[zj + t + 1]!;
        s2 += z[zi + t + 2]! * z[zj + t + 2]!;
        s3 += z[zi + t + 3]! * z[zj + t + 3]!;
      }
      for (; t < T; t++) s0 += z[zi + t]! * z[zj + t]!;
      const v = (s0 + s1 + (s2 + s3)) * norm;
      out[i * N + j] = v;
      out[j * N + i] = v;
    }
  }
  if (!correlation) {
    for (let i = 0; i < N; i++) {
      for (let j = i; j < N; j++) {
        const v = timesPow2(out[i * N + j]!, expo[i]! + expo[j]!);
        out[i * N + j] = v;
        out[j * N + i] = v;
      }
    }
    return -1;
  }
  // Correlations from the scaled sums: the scales cancel. Pearson: constant exactly when
  // the variance is 0 (cpp/risk/matrix.cc says why); EWMA: compare values.
  const diag = sum;
  for (let i = 0; i < N; i++) {
    diag[i] = out[i * N + i]!;
    if (!(diag[i]! > 0) || (method === 1 && spread[i] === 0)) return kZeroVariance - i;
  }
  for (let i = 0; i < N; i++) {
    out[i * N + i] = 1.0;
    for (let j = i + 1; j < N; j++) {
      let r = out[i * N + j]! / Math.sqrt(diag[i]! * diag[j]!);
      r = r < -1 ? -1 : r > 1 ? 1 : r;
      out[i * N + j] = r;
      out[j * N + i] = r;
    }
  }
  return -1;
}

/** cpp/risk/matrix.hpp psd_tolerance(): pivots within n·2^-52·max(a_kk, 0) of zero are zero (LAPACK dpstrf's default). */
export function psdTolerance(a: Float64Array, n: number): number {
  let top = 0.0;
  for (let k = 0; k < n; k++) top = a[k * n + k]! > top ? a[k * n + k]! : top;
  return n * 2 ** -52 * top;
}

/** cpp/risk/matrix.cc kNearSingular: positive pivots below this fraction of a_jj get the Rayleigh-quotient test. */
const kNearSingular = 2 ** -20;

let direction = new Float64Array(64);

/** cpp/risk/matrix.cc pivot_direction_norm2(): |w|² for w = L11^-T l_j, zero columns taking w_k = 0. */
function pivotDirectionNorm2(lower: Float64Array, n: number, j: number): number {
  if (direction.length < j) direction = new Float64Array(j);
  const w = direction;
  w.fill(0, 0, j);
  const lj = j * n;
  let norm2 = 0.0;
  for (let k = j - 1; k >= 0; k--) {
    const diag = lower[k * n + k]!;
    if (diag === 0) continue;
    let v = lower[lj + k]!;
    for (let m = k + 1; m < j; m++) v -= lower[m * n + k]! * w[m]!;
    w[k] = v / diag;
    norm2 += w[k]! * w[k]!;
  }
  return norm2;
}

/**
 * cpp/risk/matrix.cc cholesky(), same operation order: positive semi-definite matrices
 * give zero columns at zero pivots. info gets {d, -1, Rayleigh quotient} or {d, row, entry} on failure.
 */
export function cholesky(a: Float64Array, n: number, lower: Float64Array, info: Float64Array): number {
  lower.fill(0, 0, n * n);
  const tol = psdTolerance(a, n);
  for (let j = 0; j < n; j++) {
    const lj = j * n;
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= lower[lj + k]! * lower[lj + k]!;
    const zero = !(d > tol);
    let tiny = false;
    if (zero ? !(d >= -tol) : d <= a[j * n + j]! * kNearSingular) {
      const quotient = d / (1.0 + pivotDirectionNorm2(lower, n, j));
      if (!(quotient >= -tol)) {
        info[0] = d;
        info[1] = -1;
        info[2] = quotient;
        return j;
      }
      tiny = quotient <= tol;
    }
    if (zero || tiny) {
      let vanishes = true;
      for (let i = j + 1; i < n && vanishes; i++) {
        const li = i * n;
        let s = a[i * n + j]!;
        for (let k = 0; k < j; k++) s -= lower[li + k]! * lower[lj + k]!;
        vanishes = s * s <= tol * Math.max(a[i * n + i]!, 0);
        if (!vanishes && zero) {
          info[0] = d;
          info[1] = i;
          info[2] = s;
          return j;
        }
      }
      if (vanishes) continue;
    }
    const diag = Math.sqrt(d);
    lower[j * n + j] = diag;
    for (let i = j + 1; i < n; i++) {
      const li = i * n;
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= lower[li + k]! * lower[lj + k]!;
      lower[i * n + j] = s / diag;
    }
  }
  return -1;
}

export interface GbmArgs {
  spot: number;
  drift: number;
  volatility: number;
  dt: number;
  steps: number;
  paths: number;
  seed: number;
  antithetic: boolean;
}

let gbmNormals = new Float64Array(256);

/** cpp/risk/montecarlo.cc simulate_gbm() for paths [from, to) (to even boundaries when antithetic). */
export function simulateGbmRange(g: GbmArgs, terminal: Float64Array, kept: Float64Array | null, from: number, to: number): void {
  const a = (g.drift - 0.5 * g.volatility * g.volatility) * g.dt;
  const b = g.volatility * Math.sqrt(g.dt);
  const steps = g.steps;
  if (gbmNormals.length < steps) gbmNormals = new Float64Array(steps);
  const z = gbmNormals;
  let loaded = -1;
  for (let p = from; p < to; p++) {
    const stream = g.antithetic ? Math.floor(p / 2) : p;
    const negate = g.antithetic && p % 2 === 1;
    if (stream !== loaded) {
      fillNormalsTs(z, 0, steps, g.seed, stream, 0);
      loaded = stream;
    }
    let x = 0.0;
    if (kept === null) {
      if (negate) for (let s = 0; s < steps; s++) x += a + b * -z[s]!;
      else for (let s = 0; s < steps; s++) x += a + b * z[s]!;
    } else {
      const row = p * (steps + 1);
      kept[row] = g.spot;
      for (let s = 0; s < steps; s++) {
        x += a + b * (negate ? -z[s]! : z[s]!);
        kept[row + s + 1] = g.spot * expD(x);
      }
    }
    terminal[p] = g.spot * expD(x);
  }
}

let mcNormals = new Float64Array(1024);

/** cpp/risk/montecarlo.cc portfolio_mc_losses() for paths [from, to). */
export function portfolioLossesRange(
  weights: Float64Array,
  means: Float64Array,
  lower: Float64Array,
  assets: number,
  horizon: number,
  seed: number,
  losses: Float64Array,
  from: number,
  to: number,
): void {
  const root = Math.sqrt(horizon);
  const count = (to - from) * assets;
  if (mcNormals.length < count) mcNormals = new Float64Array(count);
  const z = mcNormals;
  fillNormalsTs(z, 0, count, seed, 0, from * assets);
  for (let p = from; p < to; p++) {
    const zp = (p - from) * assets;
    let r = 0.0;
    for (let i = 0; i < assets; i++) {
      const li = i * assets;
      let c = 0.0;
      for (let k = 0; k <= i; k++) c += lower[li + k]! * z[zp + k]!;
      r += weights[i]! * (means[i]! * horizon + root * c);
    }
    losses[p] = -r;
  }
}
