// The device checks' covariance comparison (test/gpu/compare.mjs, issue 19 item 5), tested
// on the CPU: the device suites only run where a GPU is lent, so their yardstick is held here.
import { describe, expect, it } from 'vitest';

import { covarianceClose, covarianceError, maxAbsDiff, maxRelDiff } from './gpu/compare.mjs';

/** A 3-asset covariance at daily size: variances near 1e-4, one off-diagonal near 1e-13. */
function reference(): Float64Array {
  const v = [1.0e-4, 1.21e-4, 0.81e-4];
  const off: Record<string, number> = { '0,1': 1.3e-13, '0,2': 2.1e-6, '1,2': -3.7e-7 };
  const c = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    c[i * 3 + i] = v[i]!;
    for (let j = i + 1; j < 3; j++) c[i * 3 + j] = c[j * 3 + i] = off[`${i},${j}`]!;
  }
  return c;
}

/** Rounds x by k units in the last place (k may be negative). */
function ulps(x: number, k: number): number {
  const b = new BigInt64Array(new Float64Array([x]).buffer);
  b[0] = b[0]! + BigInt(k);
  return new Float64Array(b.buffer)[0]!;
}

describe('covarianceError (device checks, issue 19 item 5)', () => {
  it("passes the issue's emulated kernel: 1.6e-9 under the old 1e-12 floor, on an entry near 1e-13", () => {
    const c = reference();
    const g = Float64Array.from(c);
    // The exact emulation of the kernel differs from the plain CPU path by 1.6e-9 of the old
    // check's 1e-12 floor on the entry near 1e-13 (1.6e-21 absolute), and by rounding elsewhere.
    g[1] = g[3] = c[1]! + 1.6e-9 * 1e-12;
    g[2] = ulps(c[2]!, 3);
    g[8] = ulps(c[8]!, -2);
    // The old check (relative, floor 1e-12) fails this correct result ...
    expect(maxRelDiff(g, c, 1e-12)).toBeGreaterThan(1e-9);
    expect(maxRelDiff(g, c, 1e-12)).toBeCloseTo(1.6e-9, 12);
    // ... the correlation scale passes it: the entry near 1e-13 is off by
    // 1.6e-21 / √(1e-4 · 1.21e-4) = 1.45e-17, the rounded entries by a few 1e-16.
    const alone = Float64Array.from(c);
    alone[1] = alone[3] = g[1]!;
    expect(covarianceError(alone, c, 3).error).toBeGreaterThan(1.4e-17);
    expect(covarianceError(alone, c, 3).error).toBeLessThan(1.5e-17);
    expect(covarianceError(g, c, 3).error).toBeLessThan(1e-15);
    expect(covarianceClose(g, c, 3)).toBe(true);
  });

  it('passes a differently rounded but correct covariance of real data', () => {
    // Two summation orders of the same centred products: what a tiled GPU sum does.
    const T = 2000;
    const n = 6;
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.02;
    const x = Array.from({ length: T * n }, rnd);
    const mean = Array.from({ length: n }, (_, j) => x.filter((_, k) => k % n === j).reduce((a, b) => a + b, 0) / T);
    const forward = new Float64Array(n * n);
    const pairwise = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const p = Array.from({ length: T }, (_, t) => (x[t * n + i]! - mean[i]!) * (x[t * n + j]! - mean[j]!));
        forward[i * n + j] = p.reduce((a, b) => a + b, 0) / (T - 1);
        const half = (lo: number, hi: number): number => (hi - lo <= 8 ? p.slice(lo, hi).reduce((a, b) => a + b, 0) : half(lo, (lo + hi) >> 1) + half((lo + hi) >> 1, hi));
        pairwise[i * n + j] = half(0, T) / (T - 1);
      }
    }
    expect(covarianceError(pairwise, forward, n).error).toBeLessThan(1e-13);
    expect(covarianceClose(pairwise, forward, n)).toBe(true);
  });

  it('fails a real error: off-diagonal, diagonal, one triangle only, NaN on one side', () => {
    const c = reference();
    const offDiagonal = Float64Array.from(c);
    offDiagonal[5] = c[5]! + 2e-9 * Math.sqrt(c[4]! * c[8]!);
    expect(covarianceError(offDiagonal, c, 3)).toMatchObject({ at: 5 });
    expect(Math.abs(covarianceError(offDiagonal, c, 3).error - 2e-9)).toBeLessThan(1e-15);
    expect(covarianceClose(offDiagonal, c, 3)).toBe(false);

    const diagonal = Float64Array.from(c);
    diagonal[4] = c[4]! * (1 + 2e-9);
    expect(covarianceClose(diagonal, c, 3)).toBe(false);
    diagonal[4] = c[4]! * (1 + 5e-10);
    expect(covarianceClose(diagonal, c, 3)).toBe(true);

    const lower = Float64Array.from(c);
    lower[3] = -c[3]!; // the mirror of the entry near 1e-13 with the wrong sign: 2.4e-9 on this scale
    expect(covarianceError(lower, c, 3)).toMatchObject({ at: 3 });
    expect(covarianceClose(lower, c, 3)).toBe(false);

    const nan = Float64Array.from(c);
    nan[7] = Number.NaN;
    expect(covarianceError(nan, c, 3)).toEqual({ error: Infinity, at: 7 });
    const bothNaN = Float64Array.from(c);
    bothNaN[7] = Number.NaN;
    expect(covarianceClose(nan, bothNaN, 3)).toBe(true);
    expect(covarianceClose(c, nan, 3)).toBe(false);
  });

  it('asks a constant asset for exact zeros', () => {
    const c = reference();
    for (const k of [0, 1, 2]) c[3 + k] = c[3 * k + 1] = 0; // asset 1 constant
    const g = Float64Array.from(c);
    expect(covarianceError(g, c, 3)).toEqual({ error: 0, at: -1 });
    g[5] = 1e-300;
    expect(covarianceError(g, c, 3)).toEqual({ error: Infinity, at: 5 });
    g[5] = -0; // -0 against +0 differs in bits but not in value
    expect(covarianceClose(g, c, 3)).toBe(true);
  });

  it('gives the same verdict whatever the scale of each asset', () => {
    const c = reference();
    const g = Float64Array.from(c);
    g[2] = c[2]! + 0.9e-9 * Math.sqrt(c[0]! * c[8]!);
    const scale = [2 ** 400, 2 ** -300, 1];
    const sc = c.map((v, k) => v * scale[Math.floor(k / 3)]! * scale[k % 3]!);
    const sg = g.map((v, k) => v * scale[Math.floor(k / 3)]! * scale[k % 3]!);
    expect(covarianceError(sg, sc, 3).error).toBe(covarianceError(g, c, 3).error); // powers of two: exact
    expect(covarianceClose(sg, sc, 3)).toBe(true);
    g[2] = c[2]! + 1.1e-9 * Math.sqrt(c[0]! * c[8]!);
    expect(covarianceClose(g.map((v, k) => v * scale[Math.floor(k / 3)]! * scale[k % 3]!), sc, 3)).toBe(false);
  });

  it('refuses matrices of the wrong size, naming both lengths', () => {
    expect(() => covarianceError(new Float64Array(4), new Float64Array(9), 3)).toThrow(/expected 9 entries \(n 3\) but received 4 and 9/);
  });

  it('maxAbsDiff: the largest absolute gap, NaN on one side only is Infinity, equal entries (also NaN) are 0', () => {
    expect(maxAbsDiff(Float64Array.of(0.5, -1, 1), Float64Array.of(0.5, -1 + 2 ** -30, 1 - 2 ** -40))).toBe(2 ** -30);
    expect(maxAbsDiff(Float64Array.of(NaN, 0.25), Float64Array.of(NaN, 0.25))).toBe(0);
    expect(maxAbsDiff(Float64Array.of(NaN), Float64Array.of(0.1))).toBe(Infinity);
  });
});
