import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  holmBonferroni,
  mannKendall,
  mannWhitneyU,
  median,
  medianConfidenceInterval,
  normalSf,
  studentTTwoSided,
  theilSen,
} from '../lib/monitor/stats.js';

interface Reference {
  scipy: string;
  mannwhitneyu: { name: string; x: number[]; y: number[]; u: number; p: number; method: 'exact' | 'asymptotic' }[];
  ndtr: { z: number; sf: number }[];
  theilslopes: { x: number[]; y: number[]; slope: number; intercept: number }[];
  mannKendall: { values: number[]; s: number; z: number; p: number }[];
  studentT: { t: number; df: number; p: number }[];
}

// Made by test/fixtures/mannwhitney-reference.py with SciPy; CI needs no python for this test.
const ref = JSON.parse(readFileSync(new URL('./fixtures/mannwhitney-reference.json', import.meta.url), 'utf8')) as Reference;

describe('mannWhitneyU agrees with scipy.stats.mannwhitneyu(method="auto")', () => {
  it('on every committed reference sample, to 1e-9', () => {
    expect(ref.mannwhitneyu.length).toBeGreaterThan(50);
    for (const c of ref.mannwhitneyu) {
      const r = mannWhitneyU(c.x, c.y);
      expect({ name: c.name, method: r.method }).toEqual({ name: c.name, method: c.method });
      expect(Math.abs(r.u - c.u), c.name).toBeLessThanOrEqual(1e-9);
      expect(Math.abs(r.p - c.p), `${c.name}: p ${r.p} vs SciPy ${c.p}`).toBeLessThanOrEqual(1e-9);
    }
  });

  it('covers both methods and both outcomes', () => {
    const methods = new Set(ref.mannwhitneyu.map((c) => c.method));
    expect(methods).toEqual(new Set(['exact', 'asymptotic']));
    expect(ref.mannwhitneyu.some((c) => c.p < 0.001)).toBe(true);
    expect(ref.mannwhitneyu.some((c) => c.p > 0.5)).toBe(true);
  });

  it('gives the textbook exact value for complete separation of 4 and 4', () => {
    expect(mannWhitneyU([1, 2, 3, 4], [5, 6, 7, 8])).toEqual({ u: 0, p: 2 / 70, method: 'exact' });
  });

  it('refuses NaN, empty and non-array samples, naming the argument', () => {
    expect(() => mannWhitneyU([1, NaN], [1, 2])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('x[1]') }));
    expect(() => mannWhitneyU([1, 2], [])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('y') }));
    expect(() => mannWhitneyU('12' as never, [1])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('normalSf', () => {
  it('agrees with scipy.special.ndtr(-z), relatively, into the far tail', () => {
    for (const { z, sf } of ref.ndtr) {
      const got = normalSf(z);
      if (sf === 0) expect(got).toBe(0);
      else expect(Math.abs(got - sf) / sf, `z=${z}`).toBeLessThan(1e-13);
    }
  });
});

describe('studentTTwoSided', () => {
  it('agrees with 2 * scipy.stats.t.sf(|t|, df)', () => {
    for (const { t, df, p } of ref.studentT) {
      expect(Math.abs(studentTTwoSided(t, df) - p), `t=${t} df=${df}`).toBeLessThan(1e-12 + 1e-10 * p);
    }
    expect(studentTTwoSided(Infinity, 3)).toBe(0);
  });
});

describe('theilSen', () => {
  it('agrees with scipy.stats.theilslopes', () => {
    for (const c of ref.theilslopes) {
      const r = theilSen(c.x, c.y);
      expect(r.slope).toBeCloseTo(c.slope, 10);
      expect(r.intercept).toBeCloseTo(c.intercept, 8);
    }
  });

  it('ignores an outlier that would pull least squares', () => {
    expect(theilSen([0, 1, 2, 3, 4], [0, 2, 4, 6, 1000]).slope).toBe(2);
  });

  it('refuses short, mismatched or degenerate input', () => {
    expect(() => theilSen([1], [1])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('xs') }));
    expect(() => theilSen([1, 2], [1, 2, 3])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('ys') }));
    expect(() => theilSen([1, 1, 1], [1, 2, 3])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('xs') }));
    expect(() => theilSen([1, 2], [1, Infinity])).toThrow(expect.objectContaining({ message: expect.stringContaining('ys[1]') }));
  });
});

describe('mannKendall', () => {
  it('agrees with the reference values (tie-corrected variance, continuity-corrected z)', () => {
    for (const c of ref.mannKendall) {
      const r = mannKendall(c.values);
      expect(r.s).toBe(c.s);
      expect(r.z).toBeCloseTo(c.z, 12);
      expect(Math.abs(r.p - c.p)).toBeLessThan(1e-12);
    }
  });

  it('finds a monotonic trend and none in a constant series', () => {
    const up = mannKendall(Array.from({ length: 20 }, (_, i) => i));
    expect(up.s).toBe(190);
    expect(up.p).toBeLessThan(1e-6);
    expect(mannKendall([5, 5, 5, 5])).toEqual({ s: 0, z: 0, p: 1 });
    expect(mannKendall([5])).toEqual({ s: 0, z: 0, p: 1 });
  });

  it('refuses an empty series', () => {
    expect(() => mannKendall([])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('values') }));
  });
});

describe('medianConfidenceInterval', () => {
  it('uses the order statistics the binomial allows at 95% and none below 6 samples', () => {
    expect(medianConfidenceInterval([1, 2, 3, 4, 5])).toEqual({ median: 3, low: null, high: null, coverage: 0 });
    const six = medianConfidenceInterval([6, 1, 5, 2, 4, 3]);
    expect(six).toMatchObject({ median: 3.5, low: 1, high: 6 });
    expect(six.coverage).toBeCloseTo(1 - 2 / 64, 12);
    // n = 20: [x(6), x(15)] covers 1 - 2 P(Bin(20, 1/2) <= 5) = 0.9586
    const twenty = medianConfidenceInterval(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(twenty).toMatchObject({ low: 6, high: 15 });
    expect(twenty.coverage).toBeCloseTo(0.958610534667969, 12);
  });

  it('refuses a confidence outside (0, 1)', () => {
    expect(() => medianConfidenceInterval([1, 2], 1)).toThrow(expect.objectContaining({ message: expect.stringContaining('confidence') }));
  });
});

describe('holmBonferroni', () => {
  it('adjusts step-down and keeps the order of the input', () => {
    const a = holmBonferroni([0.01, 0.04, 0.03]);
    expect(a[0]).toBeCloseTo(0.03, 15);
    expect(a[1]).toBeCloseTo(0.06, 15);
    expect(a[2]).toBeCloseTo(0.06, 15);
    expect(holmBonferroni([])).toEqual([]);
    expect(holmBonferroni([0.5, 0.9])).toEqual([1, 1]);
  });

  it('refuses a value that is not a probability', () => {
    expect(() => holmBonferroni([0.1, 1.5])).toThrow(expect.objectContaining({ message: expect.stringContaining('pValues[1]') }));
  });

  it('median of an unsorted sample', () => {
    expect(median([3, 1, 4, 1, 5, 9])).toBe(3.5);
  });
});
