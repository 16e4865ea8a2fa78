import { describe, expect, it } from 'vitest';

import { ChangePointDetector, changePoints } from '../lib/monitor/change-points.js';
import { seeded } from './fixtures/seeded.js';

/** n points around 100 with 5% CV (normal noise); from `at` on the mean is 100 · (1 + step). */
function series(seed: number, n: number, step = 0, at = n): number[] {
  const u = seeded(seed);
  return Array.from({ length: n }, (_, i) => (i >= at ? 100 * (1 + step) : 100) * (1 + 0.05 * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())));
}

describe('changePoints', () => {
  it('finds a clean step exactly, with its means and change', () => {
    const s = [...Array<number>(60).fill(100), ...Array<number>(60).fill(110)].map((v, i) => v + (i % 3));
    const cps = changePoints(s, { pValue: 0.01 });
    expect(cps.map((c) => c.index)).toEqual([60]);
    expect(cps[0]!.meanBefore).toBeCloseTo(101, 10);
    expect(cps[0]!.meanAfter).toBeCloseTo(111, 10);
    expect(cps[0]!.changePercent).toBeCloseTo((111 / 101 - 1) * 100, 10);
    expect(cps[0]!.pValue).toBeLessThan(1e-20);
    expect(cps[0]!.rawPValue).toBeLessThanOrEqual(cps[0]!.pValue);
  });

  it('raises a change in at most 1% of 1,000 seeded series without one (p 0.01)', () => {
    let raised = 0;
    for (let seed = 0; seed < 1000; seed++) if (changePoints(series(seed, 100), { pValue: 0.01 }).length > 0) raised++;
    // measured: 3 of 1,000 (0.3%); the same seeds in bench/monitor/part-detector.ts
    expect(raised).toBeLessThanOrEqual(10);
  });

  it('finds a 10% step at 5% CV within 10 points in >= 90% of 1,000 seeded series (p 0.01)', () => {
    let found = 0;
    for (let seed = 0; seed < 1000; seed++) {
      const cps = changePoints(series(10_000 + seed, 100, 0.1, 50), { pValue: 0.01 });
      if (cps.some((c) => Math.abs(c.index - 50) <= 10)) found++;
    }
    // measured: 997 of 1,000 (99.7%)
    expect(found).toBeGreaterThanOrEqual(900);
  });

  it("with correction 'none' behaves as Otava's raw t-test: many false changes", () => {
    let raised = 0;
    for (let seed = 0; seed < 200; seed++) if (changePoints(series(seed, 100), { pValue: 0.01, correction: 'none', minSize: 1 }).length > 0) raised++;
    expect(raised).toBeGreaterThan(40);
  });

  it('keeps minSize points on each side of every change', () => {
    const s = series(3, 120, 0.3, 117);
    expect(changePoints(s, { minSize: 5 }).some((c) => c.index > 115)).toBe(false);
    expect(changePoints(s, { minSize: 3 }).map((c) => c.index)).toContain(117);
  });

  it('finds several steps and drops changes smaller than minMagnitude', () => {
    // 100 -> 120 (+20%) at 80, 120 -> 130 (+8%) at 160
    const s = [...series(1, 80), ...series(2, 80, 0.2, 0), ...series(3, 80, 0.3, 0)];
    const all = changePoints(s, { pValue: 0.001 });
    expect(all.map((c) => c.index)).toEqual([80, 160]);
    expect(all[1]!.magnitude).toBeLessThan(0.1);
    const big = changePoints(s, { pValue: 0.001, minMagnitude: 0.1 });
    expect(big.map((c) => c.index)).toEqual([80]);
    expect(big[0]!.magnitude).toBeGreaterThan(0.1);
  });

  it('judges series of huge or tiny magnitude as their rescaled copies (squares that overflow or underflow do not make every split significant)', () => {
    const flat = series(5, 120);
    const step = [...series(6, 60), ...series(7, 60, 0.1, 0)];
    for (const scale of [1e160, 1e200, 1e300, 1e-300]) {
      expect(changePoints(flat.map((v) => v * scale), { pValue: 0.01 })).toEqual([]);
      const cps = changePoints(step.map((v) => v * scale), { pValue: 0.01 });
      expect(cps.map((c) => c.index)).toEqual(changePoints(step, { pValue: 0.01 }).map((c) => c.index));
      for (const c of cps) expect(Number.isFinite(c.stddevBefore) && Number.isFinite(c.pValue)).toBe(true);
    }
  });

  it('keeps a change between two constant stretches (zero variance on both sides)', () => {
    const cps = changePoints([...Array<number>(20).fill(0), ...Array<number>(20).fill(1)]);
    expect(cps.map((c) => [c.index, c.pValue, c.stddevBefore, c.stddevAfter])).toEqual([[20, 0, 0, 0]]);
  });

  it('refuses an empty series, NaN points and bad options, naming them', () => {
    expect(() => changePoints([])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('series') }));
    expect(() => changePoints([1, 2, NaN])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('series[2]') }));
    expect(() => changePoints([1], { window: 1 })).toThrow(expect.objectContaining({ message: expect.stringContaining('options.window') }));
    expect(() => changePoints([1], { pValue: 0 })).toThrow(expect.objectContaining({ message: expect.stringContaining('options.pValue') }));
    expect(() => changePoints([1], { correction: 'holm' } as never)).toThrow(expect.objectContaining({ message: expect.stringContaining('options.correction') }));
    expect(() => changePoints([1], { windw: 50 } as never)).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_UNKNOWN_OPTION', message: expect.stringContaining("'window'") }));
    expect(() => new ChangePointDetector().append([])).toThrow(expect.objectContaining({ message: expect.stringContaining('points') }));
    // a window too short for minSize points on each side of a split could never find a change
    expect(() => changePoints([1], { window: 8 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.window') }));
    expect(() => new ChangePointDetector({ window: 5, minSize: 3 })).toThrow(expect.objectContaining({ message: expect.stringContaining('2 × options.minSize (6)') }));
    expect(changePoints([1], { window: 6, minSize: 3 })).toEqual([]);
    expect(() => new ChangePointDetector().append(Infinity)).toThrow(expect.objectContaining({ message: expect.stringContaining('points[0]') }));
  });
});

describe('ChangePointDetector', () => {
  it('gives, point by point and in chunks, exactly what the whole series gives', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const s = [...series(seed, 150), ...series(seed + 100, 150, 0.12, 0), ...series(seed + 200, 100, -0.05, 0)];
      const whole = changePoints(s, { pValue: 0.01 });
      const one = new ChangePointDetector({ pValue: 0.01 });
      for (const v of s) one.append(v);
      expect(one.changePoints()).toEqual(whole);
      const chunks = new ChangePointDetector({ pValue: 0.01 });
      for (let i = 0; i < s.length; i += 37) chunks.append(s.slice(i, i + 37));
      expect(chunks.changePoints()).toEqual(whole);
      expect(chunks.weakChangePoints()).toEqual(one.weakChangePoints());
      expect(chunks.length).toBe(400);
      expect(whole.some((c) => Math.abs(c.index - 150) <= 10)).toBe(true);
    }
  });

  it('reports a step that appears in new points', () => {
    const d = new ChangePointDetector({ pValue: 0.01 });
    expect(d.append(series(9, 100))).toEqual([]);
    const cps = d.append(series(10, 30, 0.15, 0));
    expect(cps.map((c) => c.index)).toEqual([100]);
    expect(cps[0]!.changePercent).toBeGreaterThan(10);
    expect(Array.from(d.series().subarray(0, 3))).toEqual(series(9, 3));
  });
});
