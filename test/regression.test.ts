import { describe, expect, it } from 'vitest';

import { minimumPValue, RegressionDetector } from '../lib/monitor/regression.js';
import { mannWhitneyU } from '../lib/monitor/stats.js';
import { seeded } from './fixtures/seeded.js';

/** Deterministic normal samples (seeded mulberry32 + Box–Muller). */
function normals(seed: number, n: number, mean: number, sd: number): number[] {
  const u = seeded(seed);
  return Array.from({ length: n }, () => mean + sd * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
}

describe('RegressionDetector', () => {
  it('calls a clear slowdown a regression, with medians, intervals, change and p-value', () => {
    const d = new RegressionDetector();
    d.addBaselineMetric('orderbook.add', [812, 790, 805, 799, 821, 808]);
    d.addCurrentMetric('orderbook.add', [942, 951, 929, 960, 938, 945]);
    const r = d.getRegressionReport();
    expect(r.sensitivity).toBe(0.1);
    expect(r.alpha).toBe(0.05);
    const m = r.metrics[0]!;
    expect(m).toMatchObject({
      name: 'orderbook.add',
      verdict: 'regression',
      test: 'exact',
      higherIsBetter: false,
      baseline: { samples: 6, median: 806.5, low: 790, high: 821 },
      current: { samples: 6, median: 943.5, low: 929, high: 960 },
    });
    expect(m.pValue).toBeCloseTo(2 / 924, 15);
    expect(m.changePercent).toBeCloseTo(((943.5 - 806.5) / 806.5) * 100, 12);
    expect(r.regressions).toEqual(['orderbook.add']);
    expect(r.hasRegression).toBe(true);
  });

  it('flips the direction for a throughput, and calls a significant drop a regression', () => {
    const d = new RegressionDetector();
    d.addBaselineMetric('msgs/s', normals(1, 10, 1e6, 2e4), { higherIsBetter: true });
    d.addCurrentMetric('msgs/s', normals(2, 10, 0.8e6, 2e4));
    d.addBaselineMetric('latency', normals(3, 10, 500, 10));
    d.addCurrentMetric('latency', normals(4, 10, 400, 10));
    const r = d.getRegressionReport();
    expect(r.metrics.map((m) => [m.name, m.verdict])).toEqual([
      ['msgs/s', 'regression'],
      ['latency', 'improvement'],
    ]);
    expect(r.improvements).toEqual(['latency']);
  });

  it('needs both significance and a change beyond the sensitivity', () => {
    // 3% slower with tiny noise: significant, but within 10%
    const small = new RegressionDetector().addBaselineMetric('x', normals(5, 20, 100, 0.5)).addCurrentMetric('x', normals(6, 20, 103, 0.5));
    const s = small.getRegressionReport().metrics[0]!;
    expect(s.pValue).toBeLessThan(1e-6);
    expect(s.verdict).toBe('no-change');
    expect(s.reason).toContain('within the sensitivity');
    // the same with sensitivity 0.02 is a regression
    const tight = new RegressionDetector({ sensitivity: 0.02 }).addBaselineMetric('x', normals(5, 20, 100, 0.5)).addCurrentMetric('x', normals(6, 20, 103, 0.5));
    expect(tight.getRegressionReport().metrics[0]!.verdict).toBe('regression');
    // 30% slower median but noise so large that the test cannot tell: no-change
    const noisy = new RegressionDetector().addBaselineMetric('y', [100, 300, 50, 400]).addCurrentMetric('y', [130, 60, 390, 420]);
    const n = noisy.getRegressionReport().metrics[0]!;
    expect(n.pValue).toBeGreaterThan(0.05);
    expect(n.verdict).toBe('no-change');
  });

  it("says 'insufficient-data' below benchstat's minimum (the best p 2/C(n1+n2,n1) must beat α)", () => {
    expect(minimumPValue(3, 3)).toBeCloseTo(0.1, 15);
    expect(minimumPValue(4, 4)).toBeCloseTo(2 / 70, 15);
    const d = new RegressionDetector();
    d.addBaselineMetric('three', [1, 2, 3]).addCurrentMetric('three', [10, 20, 30]);
    d.addBaselineMetric('four', [1, 2, 3, 4]).addCurrentMetric('four', [10, 20, 30, 40]);
    d.addBaselineMetric('only-baseline', [1, 2, 3, 4, 5]);
    const r = d.getRegressionReport();
    expect(r.metrics.map((m) => m.verdict)).toEqual(['insufficient-data', 'regression', 'insufficient-data']);
    expect(r.metrics[0]!.reason).toContain('at least 4');
    expect(r.metrics[2]!.reason).toBe('no current samples');
    expect(Number.isNaN(r.metrics[2]!.changePercent)).toBe(true);
    // below 6 samples the median has no 95% interval
    expect(r.metrics[1]!.baseline).toEqual({ samples: 4, median: 2.5, low: null, high: null });
    // at α 0.1, 3 + 3 reach p = 0.1 at best, never p < α: insufficient, not a 'no-change' that the data could not have refuted
    const edge = new RegressionDetector({ alpha: 0.1 }).addBaselineMetric('three', [1, 2, 3]).addCurrentMetric('three', [10, 20, 30]);
    expect(edge.getRegressionReport().metrics[0]!.verdict).toBe('insufficient-data');
    // the advice follows α: at 0.01, 4 + 4 (best p 0.029) are not enough, 5 + 5 (0.0079) are
    const strict = new RegressionDetector({ alpha: 0.01 }).addBaselineMetric('four', [1, 2, 3, 4]).addCurrentMetric('four', [10, 20, 30, 40]);
    expect(strict.getRegressionReport().metrics[0]!.reason).toContain('take at least 5 on each side');
  });

  it('applies Holm–Bonferroni across metrics', () => {
    // Each metric alone: p = 2/70 = 0.029 < 0.05. Over two metrics Holm makes them 0.057: no-change.
    const one = new RegressionDetector().addBaselineMetric('a', [1, 2, 3, 4]).addCurrentMetric('a', [10, 20, 30, 40]);
    expect(one.getRegressionReport().metrics[0]!.verdict).toBe('regression');
    const two = new RegressionDetector()
      .addBaselineMetric('a', [1, 2, 3, 4])
      .addCurrentMetric('a', [10, 20, 30, 40])
      .addBaselineMetric('b', [1, 2, 3, 4])
      .addCurrentMetric('b', [10, 20, 30, 40]);
    const r = two.getRegressionReport();
    expect(r.metrics.map((m) => m.adjustedPValue)).toEqual([4 / 70, 4 / 70]);
    expect(r.metrics.map((m) => m.verdict)).toEqual(['no-change', 'no-change']);
    expect(r.metrics[0]!.reason).toContain('after Holm over 2');
  });

  it('keeps false alarms at about α over many metrics without a change', () => {
    let alarms = 0;
    for (let run = 0; run < 200; run++) {
      const d = new RegressionDetector({ sensitivity: 0 });
      for (let k = 0; k < 20; k++) {
        d.addBaselineMetric(`m${k}`, normals(run * 1000 + k, 10, 100, 5));
        d.addCurrentMetric(`m${k}`, normals(run * 1000 + 500 + k, 10, 100, 5));
      }
      if (d.getRegressionReport().metrics.some((m) => m.verdict !== 'no-change')) alarms++;
    }
    // family-wise: at most about 5% of the runs raise anything (expected ≈ 0.05 · 200 = 10)
    expect(alarms).toBeLessThanOrEqual(20);
  });

  it('uses the same p-value as mannWhitneyU, and accumulates samples over calls', () => {
    const d = new RegressionDetector();
    const a = normals(7, 12, 50, 3);
    const b = normals(8, 12, 53, 3);
    for (const v of a) d.addBaselineMetric('m', v);
    d.addCurrentMetric('m', b.slice(0, 6)).addCurrentMetric('m', b.slice(6));
    expect(d.getMetric('m').pValue).toBe(mannWhitneyU(a, b).p);
    expect(d.getMetric('m').baseline.samples).toBe(12);
  });

  it("answers to the seed's snake_case names", () => {
    const d = new RegressionDetector({ sensitivity: 0.05 });
    expect(d.sensitivity).toBe(0.05);
    d.add_baseline_metric('t', [10, 11, 10, 12, 11, 10]);
    d.add_current_metric('t', [20, 21, 22, 20, 23, 21]);
    expect(d.get_regression_report().regressions).toEqual(['t']);
  });

  it('refuses NaN samples, empty arrays, bad names and unknown metrics, naming the argument', () => {
    const d = new RegressionDetector();
    expect(() => d.addBaselineMetric('a', NaN)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('values') }));
    expect(() => d.addBaselineMetric('a', [1, NaN])).toThrow(expect.objectContaining({ message: expect.stringContaining('values[1]') }));
    expect(() => d.addCurrentMetric('a', [])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('values') }));
    expect(() => d.addCurrentMetric('', [1])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('name') }));
    expect(() => d.getMetric('nope')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"nope"') }));
    d.addBaselineMetric('a', 1, { higherIsBetter: true });
    expect(() => d.addCurrentMetric('a', 1, { higherIsBetter: false })).toThrow(expect.objectContaining({ message: expect.stringContaining('options.higherIsBetter') }));
    expect(() => d.getMetric('b')).toThrow(expect.objectContaining({ message: expect.stringContaining('one of the metrics added (a)') }));
    expect(() => new RegressionDetector({ sensitivity: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.sensitivity') }));
    expect(() => new RegressionDetector({ alpha: 1 })).toThrow(expect.objectContaining({ message: expect.stringContaining('options.alpha') }));
    expect(() => new RegressionDetector({ sensitvity: 0.1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_UNKNOWN_OPTION', message: expect.stringContaining("did you mean 'sensitivity'") }));
    d.clear('a');
    expect(d.metricNames()).toEqual([]);
  });
});
