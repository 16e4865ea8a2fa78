/**
 * Change points in a series of measurements (one benchmark's median per run, say), as Apache
 * Otava (formerly DataStax Hunter; Fleming et al., "Hunter: Using Change Point Detection to
 * Hunt for Performance Regressions", ICPE 2023) finds them: E-divisive means with a Student's
 * t-test instead of the permutation test, so the answer is deterministic.
 *
 * 1. Split: windows of `window` points (default 50) slide by half a window. In each, the
 *    E-divisive statistic Q̂(τ, κ) (Matteson & James 2014, with |x − y| distances) picks the
 *    split τ that best separates [s, τ) from [τ, κ); a t-test between [s, τ) and the rest of
 *    its interval keeps it when p <= a relaxed first-pass level (10 × pValue below 0.05, as
 *    Otava), and the window is searched again between the points kept. The union over
 *    windows is the set of "weak" change points.
 * 2. Merge: each weak point is re-tested between its neighbours over the whole series; the
 *    weakest (largest p) is dropped while p >= pValue (or, once all pass, the smallest
 *    relative change while it is <= minMagnitude), and its two neighbours re-tested.
 *    (Otava re-tests the right neighbour and the one after it; the left neighbour's right
 *    side changes too, so here the left and right neighbours are re-tested.)
 *
 * Incremental: `ChangePointDetector.append(points)` keeps every window that lay wholly inside
 * the old series (its result cannot change), re-runs only the windows that touched the old
 * end, then merges again. The result equals analysing the whole series at once.
 *
 * Costs: a window's pairwise within-sums table is O(window²), each candidate search O(len²)
 * over its interval; a series of n points has about 2n / window windows, so splitting is
 * O(n · window). Means and variances of any stretch come from prefix sums in O(1).
 */
import { invalidRange } from '../errors.js';
import { defineOptions, integerCheck, oneOfCheck, readOptions } from '../internal/options.js';
import { finiteSamples, probabilityCheck, relativeChangeCheck, studentTTwoSided } from './stats.js';

export interface ChangePointOptions {
  /** Significance level of the final (merge) t-test (default 0.001, Otava's). */
  pValue?: number;
  /** Points per sliding window, an integer >= 2 (default 50, Otava's). */
  window?: number;
  /** Keep only changes whose relative size max(|after/before − 1|, |before/after − 1|) exceeds this (default 0). */
  minMagnitude?: number;
  /** Fewest points on each side of a change point, an integer >= 1 (default 5; Chromium's dashboard asks 6). */
  minSize?: number;
  /**
   * 'bonferroni' (default): the t-test's p-value is multiplied by the number of split positions
   * the statistic chose among (the interval's length − 2·minSize + 1), since the best of many
   * splits of pure noise looks significant. 'none': the raw p-value, as Otava uses it (which
   * over 1,000 noise series of 100 points raises a change in ~40% of them at p 0.01).
   */
  correction?: 'bonferroni' | 'none';
}

/** A point where the series' mean changes: `index` is the first point of the new regime. */
export interface ChangePoint {
  index: number;
  /**
   * Two-sided p-value of Student's t-test between the segments either side (to the
   * neighbouring change points), times the number of positions the split was chosen among
   * (see `correction`), capped at 1. The decision is taken on this value.
   */
  pValue: number;
  /** The t-test's p-value before the correction. */
  rawPValue: number;
  meanBefore: number;
  meanAfter: number;
  /** Population standard deviations (ddof 0), as Otava reports them. */
  stddevBefore: number;
  stddevAfter: number;
  /** (meanAfter / meanBefore − 1) × 100; 0 when meanBefore is 0. */
  changePercent: number;
  /** max(|after/before − 1|, |before/after − 1|): what minMagnitude is compared with. */
  magnitude: number;
}

const kOptions = defineOptions('changePoints', {
  pValue: { check: probabilityCheck('a p-value between 0 and 1 (exclusive)'), default: 0.001 },
  window: { check: integerCheck(2, 10_000), default: 50 },
  minMagnitude: { check: relativeChangeCheck('a relative change >= 0'), default: 0 },
  minSize: { check: integerCheck(1, 1000), default: 5 },
  correction: { check: oneOfCheck(['bonferroni', 'none']), default: 'bonferroni' },
});

/** One window's work, kept so that appending can reuse it. */
interface WindowRun {
  start: number;
  end: number;
  /** Absolute indices of the change points this window kept. */
  found: number[];
}

/** Otava's first-pass (split) level for a final level p. */
function firstPassLevel(p: number): number {
  return p < 0.05 ? p * 10 : p < 0.5 ? p * 2 : p;
}

/**
 * Finds change points in a series and keeps finding them as points are appended.
 * @example
 * const d = new ChangePointDetector({ pValue: 0.01 });
 * d.append(medians);                 // the history so far
 * const cps = d.append(latestMedian); // after tonight's run: reuses all but the last windows
 * cps.at(-1)?.changePercent;          // e.g. +11.8 (the latest regime is 11.8% slower)
 */
export class ChangePointDetector {
  readonly pValue: number;
  readonly window: number;
  readonly minMagnitude: number;
  readonly minSize: number;
  readonly correction: 'bonferroni' | 'none';
  #data = new Float64Array(64);
  #n = 0;
  /** Prefix sums of (x − offset) and its square; offset = first value, against cancellation. */
  #s1 = new Float64Array(65);
  #s2 = new Float64Array(65);
  #offset = 0;
  #runs: WindowRun[] = [];
  #weak: number[] = [];
  #result: ChangePoint[] = [];
  // one window's pairwise within-sums, reused: W[a * (L+1) + b] = Σ_{a<=i<k<b} |z_i − z_k|
  #w = new Float64Array(0);

  constructor(options?: ChangePointOptions) {
    const o = readOptions(kOptions, options, { what: 'an options object for changePoints' });
    this.pValue = o.pValue as number;
    this.window = o.window as number;
    this.minMagnitude = o.minMagnitude as number;
    this.minSize = o.minSize as number;
    this.correction = o.correction as 'bonferroni' | 'none';
    if (this.window < 2 * this.minSize) {
      // no split of a window could keep minSize points on each side: nothing would ever be found
      throw invalidRange('options.window', `an integer >= 2 × options.minSize (${2 * this.minSize})`, this.window);
    }
    const l = this.window + 1;
    this.#w = new Float64Array(l * l);
  }

  /** Points analysed so far. */
  get length(): number {
    return this.#n;
  }

  /** The series so far (a copy). */
  series(): Float64Array {
    return this.#data.slice(0, this.#n);
  }

  /** The change points of the whole series so far, by index. */
  changePoints(): ChangePoint[] {
    return this.#result.map((c) => ({ ...c }));
  }

  /** Indices of the weak (first-pass) change points the merge started from. */
  weakChangePoints(): number[] {
    return this.#weak.slice();
  }

  /**
   * Appends one point or several and returns the change points of the whole series. Only the
   * windows that reached the old end are searched again.
   */
  append(points: number | ArrayLike<number>): ChangePoint[] {
    const add = typeof points === 'number' ? finiteSamples('points', [points], 1) : finiteSamples('points', points, 1);
    const oldN = this.#n;
    this.#grow(oldN + add.length);
    if (oldN === 0) this.#offset = add[0]!;
    for (let i = 0; i < add.length; i++) {
      const k = oldN + i;
      const v = add[i]!;
      this.#data[k] = v;
      const d = v - this.#offset;
      this.#s1[k + 1] = this.#s1[k]! + d;
      this.#s2[k + 1] = this.#s2[k]! + d * d;
    }
    this.#n = oldN + add.length;

    // Windows that ended before the old end saw all their data; the rest are redone.
    let keep = 0;
    while (keep < this.#runs.length && this.#runs[keep]!.start + this.window <= oldN) keep++;
    const resumeAt = keep < this.#runs.length ? this.#runs[keep]!.start : this.#nextStart(keep);
    this.#runs.length = keep;
    this.#split(resumeAt);
    const weak = new Set<number>();
    for (const r of this.#runs) for (const i of r.found) weak.add(i);
    this.#weak = [...weak].sort((a, b) => a - b);
    this.#result = this.#merge(this.#weak);
    return this.changePoints();
  }

  #grow(n: number): void {
    if (n <= this.#data.length) return;
    let cap = this.#data.length;
    while (cap < n) cap *= 2;
    const data = new Float64Array(cap);
    data.set(this.#data.subarray(0, this.#n));
    this.#data = data;
    const s1 = new Float64Array(cap + 1);
    s1.set(this.#s1.subarray(0, this.#n + 1));
    this.#s1 = s1;
    const s2 = new Float64Array(cap + 1);
    s2.set(this.#s2.subarray(0, this.#n + 1));
    this.#s2 = s2;
  }

  /** Where the window after runs[0..count) starts. */
  #nextStart(count: number): number {
    if (count === 0) return 0;
    const r = this.#runs[count - 1]!;
    const last = r.found.length > 0 ? r.found[r.found.length - 1]! : 0;
    return Math.max(last, r.start + Math.floor(this.window / 2));
  }

  #split(from: number): void {
    const level = firstPassLevel(this.pValue);
    const step = Math.floor(this.window / 2);
    let start = from;
    while (start < this.#n) {
      const end = Math.min(start + this.window, this.#n);
      const found = this.#divide(start, end, level);
      this.#runs.push({ start, end, found });
      start = Math.max(found.length > 0 ? found[found.length - 1]! : 0, start + step);
    }
  }

  /** E-divisive within [start, end): split while the best candidate passes the t-test at `level`. */
  #divide(start: number, end: number, level: number): number[] {
    const len = end - start;
    const ms = this.minSize;
    if (len < 2 * ms) return [];
    const z = this.#data;
    const w = this.#w;
    const stride = len + 1;
    for (let a = 0; a <= len; a++) w[a * stride + a] = 0;
    for (let b = 1; b <= len; b++) {
      const j = b - 1;
      const zj = z[start + j]!;
      let acc = 0;
      w[j * stride + b] = 0;
      for (let a = j - 1; a >= 0; a--) {
        acc += Math.abs(z[start + a]! - zj);
        w[a * stride + b] = w[a * stride + b - 1]! + acc;
      }
    }
    const cuts: number[] = []; // local indices, sorted
    for (;;) {
      let bestQ = -Infinity;
      let bestTau = -1;
      let bestS = 0;
      let bestE = 0;
      for (let k = 0; k <= cuts.length; k++) {
        const s = k === 0 ? 0 : cuts[k - 1]!;
        const e = k === cuts.length ? len : cuts[k]!;
        if (e - s < 2 * ms) continue;
        for (let tau = s + ms; tau <= e - ms; tau++) {
          const n = tau - s;
          const wLeft = w[s * stride + tau]!;
          for (let kappa = tau + 1; kappa <= e; kappa++) {
            const m = kappa - tau;
            const wRight = w[tau * stride + kappa]!;
            const cross = w[s * stride + kappa]! - wLeft - wRight;
            const total = kappa - s;
            let q = (2 / total) * cross;
            if (n > 1) q -= ((2 * m) / (total * (n - 1))) * wLeft;
            if (m > 1) q -= ((2 * n) / (total * (m - 1))) * wRight;
            if (q > bestQ) {
              bestQ = q;
              bestTau = tau;
              bestS = s;
              bestE = e;
            }
          }
        }
      }
      if (bestTau < 0) break;
      const p = this.#tTest(start + bestS, start + bestTau, start + bestE).pValue;
      if (!(p <= level)) break;
      cuts.push(bestTau);
      cuts.sort((a, b) => a - b);
    }
    return cuts.map((c) => c + start);
  }

  /**
   * Student's t-test (pooled, population standard deviations as Otava passes them) between
   * [a, b) and [b, c), corrected for the choice of b among the positions of [a, c).
   */
  #tTest(a: number, b: number, c: number): ChangePoint {
    const n1 = b - a;
    const n2 = c - b;
    const ms = this.minSize;
    const s1 = this.#s1;
    const s2 = this.#s2;
    let m1 = (s1[b]! - s1[a]!) / n1;
    let m2 = (s1[c]! - s1[b]!) / n2;
    let v1 = n1 >= 2 ? Math.max(0, (s2[b]! - s2[a]!) / n1 - m1 * m1) : 0;
    let v2 = n2 >= 2 ? Math.max(0, (s2[c]! - s2[b]!) / n2 - m2 * m2) : 0;
    // Values beyond ~1e154 overflow the prefix sums of squares, and below ~1e-154 the squares
    // underflow to 0 (NaN, ∞ or zero variances would make every split significant, or none):
    // redo this stretch in units of its largest magnitude.
    let scale = 1;
    if (!Number.isFinite(m1 + m2 + v1 + v2) || (v1 === 0 && v2 === 0 && m1 !== m2)) {
      ({ m1, m2, v1, v2, scale } = this.#scaledMoments(a, b, c));
    }
    let pValue = 1;
    if (n1 + n2 > 2) {
      const df = n1 + n2 - 2;
      const pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / df;
      const denom = Math.sqrt(pooled * (1 / n1 + 1 / n2));
      const diff = m1 - m2;
      pValue = denom > 0 ? studentTTwoSided(diff / denom, df) : diff !== 0 ? 0 : 1;
    }
    const positions = c - a - 2 * ms + 1;
    const corrected = n1 < ms || n2 < ms ? 1 : this.correction === 'none' ? pValue : Math.min(1, pValue * positions);
    const before = m1 * scale + this.#offset;
    const after = m2 * scale + this.#offset;
    const forward = before === 0 ? 0 : after / before - 1;
    const backward = after === 0 ? 0 : before / after - 1;
    return {
      index: b,
      pValue: corrected,
      rawPValue: pValue,
      meanBefore: before,
      meanAfter: after,
      stddevBefore: Math.sqrt(v1) * scale,
      stddevAfter: Math.sqrt(v2) * scale,
      changePercent: forward * 100,
      magnitude: Math.max(Math.abs(forward), Math.abs(backward)),
    };
  }

  /** Means and population variances of [a, b) and [b, c) minus the offset, two-pass, in units of `scale` (the largest magnitude there). */
  #scaledMoments(a: number, b: number, c: number): { m1: number; m2: number; v1: number; v2: number; scale: number } {
    const z = this.#data;
    let scale = Math.abs(this.#offset);
    for (let i = a; i < c; i++) scale = Math.max(scale, Math.abs(z[i]!));
    if (scale === 0) scale = 1;
    const o = this.#offset / scale;
    const moments = (from: number, to: number): [number, number] => {
      let sum = 0;
      for (let i = from; i < to; i++) sum += z[i]! / scale - o;
      const mean = sum / (to - from);
      let sq = 0;
      for (let i = from; i < to; i++) sq += (z[i]! / scale - o - mean) ** 2;
      return [mean, to - from >= 2 ? sq / (to - from) : 0];
    };
    const [m1, v1] = moments(a, b);
    const [m2, v2] = moments(b, c);
    return { m1, m2, v1, v2, scale };
  }

  #merge(weak: readonly number[]): ChangePoint[] {
    const idx = weak.slice();
    const stats = (i: number): ChangePoint => this.#tTest(i === 0 ? 0 : idx[i - 1]!, idx[i]!, i === idx.length - 1 ? this.#n : idx[i + 1]!);
    const cps = idx.map((_, i) => stats(i));
    while (cps.length > 0) {
      let weakest = 0;
      for (let i = 1; i < cps.length; i++) if (cps[i]!.pValue > cps[weakest]!.pValue) weakest = i;
      if (cps[weakest]!.pValue < this.pValue) {
        weakest = 0;
        for (let i = 1; i < cps.length; i++) if (cps[i]!.magnitude < cps[weakest]!.magnitude) weakest = i;
        if (cps[weakest]!.magnitude > this.minMagnitude) break;
      }
      cps.splice(weakest, 1);
      idx.splice(weakest, 1);
      if (weakest > 0) cps[weakest - 1] = stats(weakest - 1);
      if (weakest < cps.length) cps[weakest] = stats(weakest);
    }
    return cps;
  }
}

/**
 * Change points of a whole series (E-divisive means with a t-test, as Apache Otava).
 * @example
 * changePoints([...Array(60).fill(100), ...Array(60).fill(110)].map((v, i) => v + (i % 3)), { pValue: 0.01 })
 * // [{ index: 60, changePercent: ~10, pValue: ~1e-40, ... }]
 */
export function changePoints(series: ArrayLike<number>, options?: ChangePointOptions): ChangePoint[] {
  const values = finiteSamples('series', series, 1);
  return new ChangePointDetector(options).append(values);
}
