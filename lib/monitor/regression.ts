/**
 * RegressionDetector (the seed's PerformanceRegressionDetector): baseline and current samples
 * per metric, judged as benchstat judges them.
 *
 * - Each side is summarised by its median and a distribution-free 95% confidence interval from
 *   order statistics (stats.ts `medianConfidenceInterval`; needs 6 samples, as benchstat).
 * - The two sides are compared with a two-sided Mann–Whitney U test (SciPy's `method='auto'`:
 *   exact below 9 samples on a side when nothing ties, normal with tie and continuity
 *   correction otherwise).
 * - 'insufficient-data' when the smallest p-value the sample sizes can give, 2 / C(n1+n2, n1),
 *   is not below α: benchstat's "need >= 4 samples to detect a difference at alpha level 0.05"
 *   (4 and 4 reach 0.029; 3 and 3 only 0.1). A metric with no samples on one side is too.
 * - Holm–Bonferroni across every metric that has enough data, so comparing 50 benchmarks at
 *   once does not raise 2.5 false alarms on average.
 * - 'regression' needs the adjusted p below α AND a median change beyond `sensitivity`
 *   (default 0.1 = 10%, CodSpeed's threshold), in the worse direction: lower is better unless
 *   the metric was added with `{ higherIsBetter: true }` (a throughput).
 */
import { invalidType, invalidValue } from '../errors.js';
import { booleanCheck, defineOptions, readOptions } from '../internal/options.js';
import { finiteSamples, holmBonferroni, mannWhitneyU, medianConfidenceInterval, probabilityCheck, relativeChangeCheck } from './stats.js';

export type RegressionVerdict = 'regression' | 'improvement' | 'no-change' | 'insufficient-data';

export interface RegressionDetectorOptions {
  /** Smallest relative change of the median that counts, e.g. 0.1 = 10% (default 0.1). */
  sensitivity?: number;
  /** Family-wise significance level after Holm–Bonferroni (default 0.05). */
  alpha?: number;
}

export interface MetricOptions {
  /** True for rates and throughputs: a drop is the regression (default false: times, lower is better). */
  higherIsBetter?: boolean;
}

/** One side of a comparison. */
export interface SampleSummary {
  samples: number;
  median: number;
  /** 95% order-statistics interval of the median; null below 6 samples. */
  low: number | null;
  high: number | null;
}

export interface MetricComparison {
  name: string;
  higherIsBetter: boolean;
  baseline: SampleSummary;
  current: SampleSummary;
  /** (current median − baseline median) / baseline median × 100; NaN when a side is empty. */
  changePercent: number;
  /** Two-sided Mann–Whitney U p-value; NaN when not tested (insufficient data). */
  pValue: number;
  /** After Holm–Bonferroni over the metrics tested. */
  adjustedPValue: number;
  test: 'exact' | 'asymptotic' | 'none';
  verdict: RegressionVerdict;
  /** Why, in words: the rule that decided. */
  reason: string;
}

export interface RegressionReport {
  sensitivity: number;
  alpha: number;
  /** In the order the metrics were first added. */
  metrics: MetricComparison[];
  regressions: string[];
  improvements: string[];
  hasRegression: boolean;
}

const kOptions = defineOptions('RegressionDetector', {
  sensitivity: { check: relativeChangeCheck('a relative change >= 0 such as 0.1'), default: 0.1 },
  alpha: { check: probabilityCheck('a significance level between 0 and 1 (exclusive)'), default: 0.05 },
});

const kMetricOptions = defineOptions('RegressionDetector.addMetric', {
  higherIsBetter: { check: booleanCheck },
});

interface Metric {
  baseline: number[];
  current: number[];
  higherIsBetter: boolean | undefined;
}

/** Smallest two-sided p-value a rank test can reach with n1 and n2 samples: 2 / C(n1+n2, n1). @example minimumPValue(4, 4) // 2/70 */
export function minimumPValue(n1: number, n2: number): number {
  let c = 1;
  const k = Math.min(n1, n2);
  for (let i = 1; i <= k; i++) c = (c * (n1 + n2 - k + i)) / i;
  return Math.min(1, 2 / c);
}

function summarise(values: readonly number[]): SampleSummary {
  if (values.length === 0) return { samples: 0, median: Number.NaN, low: null, high: null };
  const ci = medianConfidenceInterval(values, 0.95);
  return { samples: values.length, median: ci.median, low: ci.low, high: ci.high };
}

function percent(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
}

/**
 * Compares a baseline with current measurements per metric, as benchstat does, with
 * Holm–Bonferroni across metrics.
 * @example
 * const d = new RegressionDetector({ sensitivity: 0.1 });
 * d.addBaselineMetric('orderbook.add', [812, 790, 805, 799, 821, 808]);
 * d.addCurrentMetric('orderbook.add', [942, 951, 929, 960, 938, 945]);
 * d.getRegressionReport().metrics[0].verdict; // 'regression' (+17.0%, p = 2/924 = 0.0022)
 */
export class RegressionDetector {
  /** Smallest relative change of the median that counts (0.1 = 10%). */
  readonly sensitivity: number;
  /** Family-wise significance level. */
  readonly alpha: number;
  readonly #metrics = new Map<string, Metric>();

  constructor(options?: RegressionDetectorOptions) {
    const o = readOptions(kOptions, options, { what: 'an options object for RegressionDetector' });
    this.sensitivity = o.sensitivity as number;
    this.alpha = o.alpha as number;
  }

  /** Adds baseline samples (one number or an array) to metric `name`. */
  addBaselineMetric(name: string, values: number | ArrayLike<number>, options?: MetricOptions): this {
    this.#add('baseline', name, values, options);
    return this;
  }

  /** Adds current samples (one number or an array) to metric `name`. */
  addCurrentMetric(name: string, values: number | ArrayLike<number>, options?: MetricOptions): this {
    this.#add('current', name, values, options);
    return this;
  }

  /** Names of the metrics added so far, in order. */
  metricNames(): string[] {
    return [...this.#metrics.keys()];
  }

  /** The comparison of one metric; throws for a name never added. */
  getMetric(name: string): MetricComparison {
    if (typeof name !== 'string') throw invalidType('name', 'a metric name (string)', name);
    if (!this.#metrics.has(name)) {
      const known = this.metricNames();
      throw invalidValue('name', known.length === 0 ? 'a metric added first (none added yet)' : `one of the metrics added (${known.join(', ')})`, name);
    }
    return this.getRegressionReport().metrics.find((m) => m.name === name)!;
  }

  /** Forgets one metric (throws for an unknown name) or, without a name, all of them. */
  clear(name?: string): void {
    if (name === undefined) {
      this.#metrics.clear();
      return;
    }
    this.getMetric(name);
    this.#metrics.delete(name);
  }

  /** Every metric judged: medians, intervals, change, p-values and the verdict. */
  getRegressionReport(): RegressionReport {
    const rows: MetricComparison[] = [];
    const tested: number[] = [];
    for (const [name, m] of this.#metrics) {
      const baseline = summarise(m.baseline);
      const current = summarise(m.current);
      const higherIsBetter = m.higherIsBetter ?? false;
      const changePercent =
        baseline.samples === 0 || current.samples === 0
          ? Number.NaN
          : baseline.median === 0
            ? current.median === 0
              ? 0
              : Math.sign(current.median) * Infinity
            : ((current.median - baseline.median) / Math.abs(baseline.median)) * 100;
      const row: MetricComparison = {
        name,
        higherIsBetter,
        baseline,
        current,
        changePercent,
        pValue: Number.NaN,
        adjustedPValue: Number.NaN,
        test: 'none',
        verdict: 'insufficient-data',
        reason: '',
      };
      const minP = minimumPValue(baseline.samples, current.samples);
      if (baseline.samples === 0 || current.samples === 0) {
        row.reason = `no ${baseline.samples === 0 ? 'baseline' : 'current'} samples`;
      } else if (minP >= this.alpha) {
        // p equal to α is no more a verdict than p above it: a regression needs p < α
        let each = 1;
        while (minimumPValue(each, each) >= this.alpha) each++;
        row.reason = `${baseline.samples} and ${current.samples} samples cannot reach p < ${this.alpha} (best possible ${minP.toPrecision(2)}); take at least ${each} on each side`;
      } else {
        const u = mannWhitneyU(m.baseline, m.current);
        row.pValue = u.p;
        row.test = u.method;
        tested.push(rows.length);
      }
      rows.push(row);
    }
    const adjusted = holmBonferroni(tested.map((i) => rows[i]!.pValue));
    const threshold = this.sensitivity * 100;
    tested.forEach((i, k) => {
      const row = rows[i]!;
      row.adjustedPValue = adjusted[k]!;
      const worse = row.higherIsBetter ? row.changePercent < 0 : row.changePercent > 0;
      const p = `p ${row.pValue.toPrecision(2)}${tested.length > 1 ? `, ${row.adjustedPValue.toPrecision(2)} after Holm over ${tested.length}` : ''}`;
      if (!(row.adjustedPValue < this.alpha)) {
        row.verdict = 'no-change';
        row.reason = `${p} ≥ α ${this.alpha}`;
      } else if (!(Math.abs(row.changePercent) > threshold)) {
        row.verdict = 'no-change';
        row.reason = `${p} < α ${this.alpha}, but the median moved ${percent(row.changePercent)}, within the sensitivity ±${threshold}%`;
      } else {
        row.verdict = worse ? 'regression' : 'improvement';
        row.reason = `${p} < α ${this.alpha} and the median moved ${percent(row.changePercent)} (${row.higherIsBetter ? 'higher' : 'lower'} is better)`;
      }
    });
    const regressions = rows.filter((r) => r.verdict === 'regression').map((r) => r.name);
    return {
      sensitivity: this.sensitivity,
      alpha: this.alpha,
      metrics: rows,
      regressions,
      improvements: rows.filter((r) => r.verdict === 'improvement').map((r) => r.name),
      hasRegression: regressions.length > 0,
    };
  }

  /** The seed's name for {@link addBaselineMetric}. */
  add_baseline_metric(name: string, values: number | ArrayLike<number>, options?: MetricOptions): this {
    return this.addBaselineMetric(name, values, options);
  }

  /** The seed's name for {@link addCurrentMetric}. */
  add_current_metric(name: string, values: number | ArrayLike<number>, options?: MetricOptions): this {
    return this.addCurrentMetric(name, values, options);
  }

  /** The seed's name for {@link getRegressionReport}. */
  get_regression_report(): RegressionReport {
    return this.getRegressionReport();
  }

  #add(side: 'baseline' | 'current', name: string, values: number | ArrayLike<number>, options: MetricOptions | undefined): void {
    if (typeof name !== 'string' || name.length === 0) throw invalidType('name', 'a non-empty metric name (string)', name);
    const o = readOptions(kMetricOptions, options);
    let checked: Float64Array;
    if (typeof values === 'number') {
      if (!Number.isFinite(values)) throw invalidValue('values', `a finite number or an array of them for metric ${JSON.stringify(name)}`, values);
      checked = Float64Array.of(values);
    } else {
      checked = finiteSamples('values', values, 1);
    }
    let m = this.#metrics.get(name);
    const hib = o.higherIsBetter as boolean | undefined;
    if (m !== undefined && hib !== undefined && m.higherIsBetter !== undefined && m.higherIsBetter !== hib) {
      throw invalidValue('options.higherIsBetter', `${String(m.higherIsBetter)}, as metric ${JSON.stringify(name)} was added with before`, hib);
    }
    if (m === undefined) {
      m = { baseline: [], current: [], higherIsBetter: hib };
      this.#metrics.set(name, m);
    } else if (hib !== undefined) m.higherIsBetter = hib;
    const into = m[side];
    for (let i = 0; i < checked.length; i++) into.push(checked[i]!);
  }
}
