import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';

import {
  BackendUnavailableError,
  GpuError,
  calculateVaR,
  calculateVaRSync,
  cholesky,
  choleskySync,
  correlationMatrix,
  correlationMatrixSync,
  covarianceMatrixSync,
  monteCarloVaR,
  monteCarloVaRSync,
  gpu,
  philoxNormals,
  portfolioVaR,
  portfolioVaRSync,
  simulateGBM,
  riskThresholds,
  setRiskThresholds,
  simulateGBMSync,
} from '../lib/index.js';
import type { CudaAddon } from '../lib/addon-types.js';
import { cudaKernelsOf, defaultKernels, tsKernels, withCpuFallback } from '../lib/risk/kernels.js';
import { cpuAddon } from '../lib/backend.js';
import { expD, logPos, normalPdf, normalQuantile } from '../lib/risk/detmath.js';
import { philoxBlock } from '../lib/risk/philox.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native';
const expectedBackend = native ? 'native' : 'ts';

// ---- references -----------------------------------------------------------------------

/** NumPy's np.quantile(x, q) (method 'linear') by full sort. */
function sortedQuantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const g = h - lo;
  if (lo + 1 >= sorted.length) return sorted[lo]!;
  const a = sorted[lo]!;
  const b = sorted[lo + 1]!;
  const d = b - a;
  return g >= 0.5 ? b - d * (1 - g) : a + d * g;
}

/** Historical VaR/CVaR of returns by full sort: losses at positions ceil(h)..n-1 averaged. */
function referenceTail(returns: Float64Array, c: number): { var: number; cvar: number } {
  const losses = Float64Array.from(returns, (r) => -r).sort();
  const h = (losses.length - 1) * c;
  const start = Math.ceil(h);
  let sum = 0;
  for (let i = start; i < losses.length; i++) sum += losses[i]!;
  return { var: sortedQuantile(losses, c), cvar: sum / (losses.length - start) };
}

function naiveCov(data: Float64Array, T: number, N: number, method: 'pearson' | 'ewma', lambda = 0.94): Float64Array {
  const out = new Float64Array(N * N);
  const mean = new Float64Array(N);
  const w = new Float64Array(T);
  if (method === 'pearson') {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += data[t * N + j]!;
      mean[j] = s / T;
    }
    w.fill(1 / (T - 1));
  } else {
    let total = 0;
    for (let t = 0; t < T; t++) total += lambda ** (T - 1 - t);
    for (let t = 0; t < T; t++) w[t] = lambda ** (T - 1 - t) / total;
  }
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += w[t]! * (data[t * N + i]! - mean[i]!) * (data[t * N + j]! - mean[j]!);
      out[i * N + j] = s;
    }
  }
  return out;
}

function toCorr(cov: Float64Array, N: number): Float64Array {
  const out = new Float64Array(N * N);
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) out[i * N + j] = cov[i * N + j]! / Math.sqrt(cov[i * N + i]! * cov[j * N + j]!);
  return out;
}

function maxRelDiff(a: Float64Array, b: Float64Array, floor = 1e-300): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor));
  return m;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function normals(n: number, seed: number, scale = 1, shift = 0): Float64Array {
  const z = new Float64Array(n);
  philoxNormals(z, { seed });
  for (let i = 0; i < n; i++) z[i] = z[i]! * scale + shift;
  return z;
}

/** A random SPD matrix B·Bᵀ + n·I from normals. */
function spd(n: number, seed: number): Float64Array {
  const b = normals(n * n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += b[i * n + k]! * b[j * n + k]!;
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

const returnsArb = fc
  .array(fc.double({ min: -0.5, max: 0.5, noNaN: true, noDefaultInfinity: true }), { minLength: 2, maxLength: 300 })
  .map((a) => Float64Array.from(a));
const confidenceArb = fc.double({ min: 0.5000001, max: 0.9999, noNaN: true });

// ---- the generator ----------------------------------------------------------------------

describe('Philox4x32-10 and the normal transform', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    philoxBlock(0, 0, 0, 0, 0, 0, out);
    expect(Array.from(out)).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    philoxBlock(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect(Array.from(out)).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    philoxBlock(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect(Array.from(out)).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });

  it('draws standard normals on the default backend', () => {
    const z = new Float64Array(1 << 20);
    expect(philoxNormals(z, { seed: 2024 })).toBe(expectedBackend);
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    for (const v of z) {
      s += v;
      s2 += v * v;
      s4 += v ** 4;
    }
    const n = z.length;
    expect(Math.abs(s / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(s2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.05);
    // The fraction below the 5% quantile is 5%.
    let below = 0;
    for (const v of z) if (v < -1.6448536269514722) below++;
    expect(Math.abs(below / n - 0.05)).toBeLessThan(5 * Math.sqrt(0.05 * 0.95 / n));
  });

  it('is a pure function of (seed, stream, index): any window re-draws the same numbers', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 33 }), fc.nat({ max: 1000 }), fc.integer({ min: 1, max: 50 }), (seed, stream, first, len) => {
        const whole = new Float64Array(first + len);
        philoxNormals(whole, { seed, stream });
        const part = new Float64Array(len);
        philoxNormals(part, { seed, stream, first });
        expect(Array.from(part)).toEqual(Array.from(whole.subarray(first)));
      }),
      { numRuns: 60 },
    );
    const a = new Float64Array(8);
    const b = new Float64Array(8);
    philoxNormals(a, { seed: 1 });
    philoxNormals(b, { seed: 2 });
    expect(a).not.toEqual(b);
    philoxNormals(b, { seed: 1, stream: 1 });
    expect(a).not.toEqual(b);
  });

  it.runIf(native)('gives the same first 10^6 normals in TS and C++ (bit-identical, so well within 1e-12)', () => {
    for (const [seed, stream, first] of [
      [42, 0, 0],
      [2 ** 53 - 1, 2 ** 40 + 3, 2 ** 33 - 1],
    ] as const) {
      const c = new Float64Array(1_000_000);
      const t = new Float64Array(1_000_000);
      expect(philoxNormals(c, { seed, stream, first, backend: 'native' })).toBe('native');
      expect(philoxNormals(t, { seed, stream, first, backend: 'ts' })).toBe('ts');
      expect(maxAbsDiff(c, t)).toBeLessThanOrEqual(1e-12);
      let differ = 0;
      for (let i = 0; i < c.length; i++) if (c[i] !== t[i]) differ++;
      expect(differ).toBe(0);
    }
  });

  it('uses deterministic math that tracks libm to about an ulp', () => {
    fc.assert(
      fc.property(fc.double({ min: -700, max: 700, noNaN: true }), (x) => {
        expect(Math.abs(expD(x) - Math.exp(x))).toBeLessThanOrEqual(4e-16 * Math.exp(x));
      }),
    );
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 1e300, noNaN: true }), (x) => {
        expect(Math.abs(logPos(x) - Math.log(x))).toBeLessThanOrEqual(4e-16 * Math.max(1, Math.abs(Math.log(x))));
      }),
    );
    // AS241 as Python's statistics.NormalDist().inv_cdf computes it (libm log), to 2 ulp.
    for (const [p, ref] of [
      [0.975, 1.9599639845400536],
      [0.95, 1.6448536269514715],
      [0.99, 2.3263478740408408],
      [1 - 1e-10, 6.361340889697421],
      [0.025, -1.9599639845400538],
      [1e-300, -37.0470962993612],
      [0.5 + 1e-9, 2.506628203738712e-9],
    ] as const) {
      expect(Math.abs(normalQuantile(p) - ref)).toBeLessThanOrEqual(2 * Number.EPSILON * Math.abs(ref));
    }
    expect(normalPdf(0)).toBeCloseTo(0.3989422804014327, 16);
  });
});

// ---- VaR ---------------------------------------------------------------------------------

describe('calculateVaR', () => {
  it('historical VaR is NumPy-linear quantile of losses and CVaR the mean beyond it (random inputs vs a sort)', () => {
    fc.assert(
      fc.property(returnsArb, confidenceArb, (returns, c) => {
        const got = calculateVaRSync(returns, { confidence: c });
        const ref = referenceTail(returns, c);
        expect(got.backend).toBe(expectedBackend);
        expect(got.var).toBe(ref.var);
        expect(got.cvar).toBeCloseTo(ref.cvar, 12);
        expect(got.cvar).toBeGreaterThanOrEqual(got.var); // no slack: CVaR >= VaR by construction (issue 10.4)
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the sort on long series (the sampled-threshold path), ties, sorted and reversed input', () => {
    const cases: Float64Array[] = [
      normals(5000, 1, 0.01),
      normals(100_000, 2, 0.02, 0.001),
      normals(300_000, 3, 0.01), // parallel scan when native
      Float64Array.from({ length: 20_000 }, (_, i) => Math.round(Math.sin(i) * 5) / 100), // heavy ties
      Float64Array.from({ length: 50_000 }, (_, i) => i / 50_000 - 0.5), // sorted
      Float64Array.from({ length: 50_000 }, (_, i) => 0.5 - i / 50_000), // reversed
      Float64Array.from({ length: 65_536 }, (_, i) => (i % 256 === 0 ? -1 : 0.001)), // the stride sample sees only the worst losses
      new Float64Array(10_000).fill(0.01),
    ];
    for (const returns of cases) {
      for (const c of [0.51, 0.9, 0.95, 0.99, 0.999]) {
        const got = calculateVaRSync(returns, { confidence: c });
        const ref = referenceTail(returns, c);
        expect(got.var).toBe(ref.var);
        expect(Math.abs(got.cvar - ref.cvar)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(ref.cvar)));
      }
    }
  });

  it('parametric VaR and CVaR match the closed form', () => {
    const r = normals(2000, 11, 0.012, 0.0004);
    const n = r.length;
    const mean = -r.reduce((s, v) => s + v, 0) / n;
    const sd = Math.sqrt(r.reduce((s, v) => s + (-v - mean) ** 2, 0) / (n - 1));
    for (const [c, z, pdf] of [
      [0.95, 1.6448536269514722, 0.10313564037537128],
      [0.99, 2.3263478740408408, 0.02665214220345808],
    ] as const) {
      const got = calculateVaRSync(r, { method: 'parametric', confidence: c });
      expect(got.var).toBeCloseTo(mean + sd * z, 12);
      expect(got.cvar).toBeCloseTo(mean + (sd * pdf) / (1 - c), 12);
      expect(got.method).toBe('parametric');
    }
  });

  // Issue 10.10: this test used to pair the sample deviation (n - 1) with 1/n skewness and
  // kurtosis, the mixed convention the issue reports; each case now uses one convention.
  it('Cornish-Fisher adds the skew and kurtosis terms (and equals parametric without them)', () => {
    const r = normals(5000, 12).map((v) => (v < -1 ? v * 3 : v) * 0.01);
    const losses = r.map((v) => -v);
    const n = losses.length;
    const mean = losses.reduce((s, v) => s + v, 0) / n;
    const m = (k: number) => losses.reduce((s, v) => s + (v - mean) ** k, 0) / n;
    const sd = Math.sqrt(m(2));
    const S = m(3) / m(2) ** 1.5;
    const K = m(4) / m(2) ** 2 - 3;
    const z = 1.6448536269514722;
    const zcf = z + ((z * z - 1) * S) / 6 + ((z ** 3 - 3 * z) * K) / 24 - ((2 * z ** 3 - 5 * z) * S * S) / 36;
    const got = calculateVaRSync(r, { method: 'cornish-fisher', ddof: 0 });
    expect(Math.abs(S)).toBeGreaterThan(0.1);
    expect(got.var).toBeCloseTo(mean + sd * zcf, 10);
    const tail = 0.10313564037537128 / 0.05;
    expect(got.cvar).toBeCloseTo(mean + sd * tail * (1 + (S * z) / 6 + (K * (z * z - 1)) / 24 - (S * S * (2 * z * z - 1)) / 36), 10);
    // A symmetric series has S = 0 exactly: only the kurtosis term remains.
    const sym = Float64Array.from([-2, -1, 1, 2, -2, -1, 1, 2, -3, 3].map((v) => v / 100));
    const p = calculateVaRSync(sym, { method: 'parametric', ddof: 0 });
    const cf = calculateVaRSync(sym, { method: 'cornish-fisher', ddof: 0 });
    const m2 = sym.reduce((s, v) => s + v * v, 0) / sym.length;
    const k = sym.reduce((s, v) => s + v ** 4, 0) / sym.length / (m2 * m2) - 3;
    expect(cf.var - p.var).toBeCloseTo((Math.sqrt(m2) * ((z ** 3 - 3 * z) * k)) / 24, 12);
  });

  it('scales by sqrt(horizonDays) only when asked, and by portfolioValue', () => {
    const r = normals(1000, 5, 0.01);
    for (const method of ['historical', 'parametric', 'cornish-fisher'] as const) {
      const one = calculateVaRSync(r, { method });
      const ten = calculateVaRSync(r, { method, horizonDays: 10, portfolioValue: 1e6 });
      expect(ten.var).toBeCloseTo(one.var * Math.sqrt(10) * 1e6, 6);
      expect(ten.cvar).toBeCloseTo(one.cvar * Math.sqrt(10) * 1e6, 6);
      expect(one.var).toBeGreaterThan(0);
    }
  });

  it('async equals sync and reports the backend and a compute time', async () => {
    const r = normals(50_000, 8, 0.01);
    for (const method of ['historical', 'parametric', 'cornish-fisher'] as const) {
      const a = await calculateVaR(r, { method, confidence: 0.99 });
      const s = calculateVaRSync(r, { method, confidence: 0.99 });
      expect(a.var).toBe(s.var);
      expect(a.cvar).toBe(s.cvar);
      expect(a.backend).toBe(expectedBackend);
      expect(a.computeTimeMs).toBeGreaterThanOrEqual(0);
    }
  });

  it.runIf(native)('TS and C++ return the same doubles on random inputs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40_000 }), fc.nat(), confidenceArb, (n, seed, c) => {
        const r = normals(n, seed, 0.01);
        for (const method of ['historical', 'parametric', 'cornish-fisher'] as const) {
          // Sample kurtosis (the default ddof 1) needs 4 observations: below that, population moments.
          const ddof = n < 4 ? 0 : 1;
          const a = calculateVaRSync(r, { method, confidence: c, backend: 'native', ddof });
          const b = calculateVaRSync(r, { method, confidence: c, backend: 'ts', ddof });
          expect([a.backend, b.backend]).toEqual(['native', 'ts']);
          expect(a.var).toBe(b.var);
          expect(a.cvar).toBe(b.cvar);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('portfolioVaR is calculateVaR of the weighted returns', async () => {
    const T = 500;
    const N = 3;
    const m = normals(T * N, 21, 0.01);
    const w = [0.5, 0.3, 0.2];
    const port = new Float64Array(T);
    for (let t = 0; t < T; t++) port[t] = w[0]! * m[t * N]! + w[1]! * m[t * N + 1]! + w[2]! * m[t * N + 2]!;
    const direct = calculateVaRSync(port, { confidence: 0.99 });
    const a = portfolioVaRSync({ returns: m, assets: N, weights: w, confidence: 0.99 });
    const b = await portfolioVaR({ returns: Array.from(m), assets: N, weights: Float64Array.from(w), confidence: 0.99 });
    expect(a.var).toBe(direct.var);
    expect(a.cvar).toBe(direct.cvar);
    expect(b.var).toBe(a.var);
    expect(b.cvar).toBe(a.cvar);
  });

  it.each([
    [[], RangeError, /at least 2 returns for returns but received \[\]/],
    [[0.01], RangeError, /at least 2 returns for returns/],
    ['0.1,0.2', TypeError, /a Float64Array or an array of returns for returns but received "0.1,0.2"/],
    [[0.01, Number.NaN, 0.02], TypeError, /a finite number for returns\[1\] but received NaN/],
    [[0.01, 0.02, Infinity], TypeError, /a finite number for returns\[2\] but received Infinity/],
    [[0.01, '0.02'], TypeError, /a finite number for returns\[1\] but received "0.02"/],
  ])('rejects returns %j', async (bad, kind, message) => {
    expect(() => calculateVaRSync(bad as number[])).toThrow(kind);
    expect(() => calculateVaRSync(bad as number[])).toThrow(message);
    await expect(calculateVaR(bad as number[])).rejects.toThrow(message);
  });

  it('finds a NaN or Infinity anywhere in a long series, on the sampled path too', () => {
    const r = normals(100_000, 4, 0.01);
    for (const [at, v] of [
      [0, Number.NaN],
      [99_999, Infinity],
      [51_234, -Infinity],
      [256 * 390, Number.NaN],
    ] as const) {
      const bad = Float64Array.from(r);
      bad[at] = v;
      expect(() => calculateVaRSync(bad)).toThrow(`returns[${at}] but received ${v}`);
      expect(() => calculateVaRSync(bad, { method: 'parametric' })).toThrow(`returns[${at}]`);
    }
  });

  it.each([
    [{ confidence: 0.05 }, /received 0.05: confidence is the probability kept \(0.95 means 95% VaR\).*did you mean 0.95\?/],
    [{ confidence: 0.5 }, /in \(0.5, 1\) for options.confidence but received 0.5/],
    [{ confidence: 1 }, /in \(0.5, 1\) for options.confidence but received 1/],
    [{ confidence: 95 }, /received 95/],
    [{ confidence: Number.NaN }, /received NaN/],
    [{ method: 'monte-carlo' }, /'historical', 'parametric' or 'cornish-fisher' for options.method but received "monte-carlo"/],
    [{ horizonDays: 0 }, /positive finite number for options.horizonDays but received 0/],
    [{ portfolioValue: -1 }, /options.portfolioValue but received -1/],
    [{ backend: 'gpu' }, /'auto', 'native', 'ts' or 'cuda' for options.backend but received "gpu"/],
  ])('rejects options %j', (options, message) => {
    expect(() => calculateVaRSync([0.01, -0.02, 0.03], options as never)).toThrow(message);
  });

  it('portfolioVaR checks dimensions before any work', () => {
    const m = new Float64Array(30);
    expect(() => portfolioVaRSync({ returns: m, assets: 4, weights: [1, 0, 0, 0] })).toThrow(/a multiple of options.assets \(4\)/);
    expect(() => portfolioVaRSync({ returns: m, assets: 3, weights: [1, 0] })).toThrow(/3 weights \(one per asset\) for options.weights/);
    expect(() => portfolioVaRSync({ returns: m, assets: 3, weights: [1, Number.NaN, 0] })).toThrow(/options.weights\[1\] but received NaN/);
    expect(() => portfolioVaRSync({ returns: m, assets: 0, weights: [] })).toThrow(/options.assets/);
    const bad = new Float64Array(30);
    bad[17] = Infinity;
    expect(() => portfolioVaRSync({ returns: bad, assets: 3, weights: [1, 1, 1] })).toThrow(/options.returns\[17\] but received Infinity/);
  });

  it("refuses backend 'cuda' without a GPU and 'native' without the addon", () => {
    expect(() => calculateVaRSync([0.01, 0.02], { backend: 'cuda' })).toThrow(BackendUnavailableError);
    if (!native) expect(() => calculateVaRSync([0.01, 0.02], { backend: 'native' })).toThrow(BackendUnavailableError);
    else expect(calculateVaRSync([0.01, 0.02], { backend: 'native' }).backend).toBe('native');
    expect(calculateVaRSync([0.01, 0.02], { backend: 'ts' }).backend).toBe('ts');
  });
});

describe.runIf(native)('the raw addon', () => {
  it('refuses wrong types and short arrays with an exception instead of touching memory', () => {
    const addon = cpuAddon!;
    expect(() => addon.varHistorical(new Float64Array(10), -1, 0.95, new Float64Array(1))).toThrow(/at least 2 elements for out \(argument 4\) but received one of 1/);
    expect(() => addon.varHistorical(new Float64Array(10), -1, 5, new Float64Array(2))).toThrow(/confidence/);
    expect(() => addon.covariance(new Float32Array(4) as never, 2, 2, 0, 0.94, 0, new Float64Array(4))).toThrow(/Float64Array for data/);
    expect(() => addon.covariance(new Float64Array(4), 2, 3, 0, 0.94, 0, new Float64Array(9))).toThrow(/at least 6 elements for data/);
    expect(() => addon.cholesky(new Float64Array(4), 3, new Float64Array(9), new Float64Array(1))).toThrow(/for matrix/);
    expect(() => addon.simulateGbm(100, 0, 0.2, 0.01, 10, 100, 1, false, new Float64Array(99), null)).toThrow(/for terminal/);
    expect(() => addon.portfolioLosses(new Float64Array(2), new Float64Array(2), new Float64Array(3), 2, 10, 1, 1, new Float64Array(10))).toThrow(/for lower/);
    expect(addon.riskThreads).toBeGreaterThanOrEqual(1);
  });
});

// ---- correlation, covariance, Cholesky --------------------------------------------------

describe('covariance and correlation', () => {
  it('match a naive two-pass float64 reference to 1e-12 (Pearson and EWMA, random shapes)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 60 }), fc.integer({ min: 1, max: 13 }), fc.nat(), fc.double({ min: 0.5, max: 0.999, noNaN: true }), (T, N, seed, lambda) => {
        const data = normals(T * N, seed, 0.01, 0.001);
        for (const method of ['pearson', 'ewma'] as const) {
          const ref = naiveCov(data, T, N, method, lambda);
          const cov = covarianceMatrixSync(data, { observations: T, assets: N, method, lambda });
          expect(cov.backend).toBe(expectedBackend);
          expect(maxAbsDiff(cov.matrix, ref)).toBeLessThanOrEqual(1e-12 * Math.max(...ref.map(Math.abs)));
          const cor = correlationMatrixSync(data, { observations: T, assets: N, method, lambda });
          expect(maxAbsDiff(cor.matrix, toCorr(ref, N))).toBeLessThanOrEqual(1e-12);
          for (let i = 0; i < N; i++) expect(cor.matrix[i * N + i]).toBe(1);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('handles the bench shapes (blocked and threaded natively) and agrees across backends', async () => {
    const T = 300;
    const N = 101;
    const data = normals(T * N, 77, 0.02);
    const ref = toCorr(naiveCov(data, T, N, 'pearson'), N);
    const got = await correlationMatrix(data, { observations: T, assets: N });
    expect(maxAbsDiff(got.matrix, ref)).toBeLessThanOrEqual(1e-12);
    const ts = correlationMatrixSync(data, { observations: T, assets: N, backend: 'ts' });
    expect(maxAbsDiff(ts.matrix, ref)).toBeLessThanOrEqual(1e-12);
  });

  it('validates shape, values, lambda and constant assets', () => {
    const d = normals(20, 1);
    expect(() => correlationMatrixSync(d, { observations: 5, assets: 3 })).toThrow(/15 numbers \(options.observations 5 x options.assets 3\) for data/);
    expect(() => correlationMatrixSync(d, { observations: 1, assets: 20 })).toThrow(/options.observations/);
    expect(() => correlationMatrixSync(d, { observations: 10, assets: 2, method: 'ewma', lambda: 1 })).toThrow(/decay factor in \(0, 1\) for options.lambda but received 1/);
    expect(() => correlationMatrixSync(d, { observations: 10, assets: 2, method: 'spearman' as never })).toThrow(/'pearson' or 'ewma'/);
    expect(() => correlationMatrixSync(d, undefined as never)).toThrow(/options object/);
    const bad = Float64Array.from(d);
    bad[13] = Number.NaN;
    expect(() => covarianceMatrixSync(bad, { observations: 10, assets: 2 })).toThrow(/data\[13\] but received NaN/);
    const flat = Float64Array.from(d);
    for (let t = 0; t < 10; t++) flat[t * 2 + 1] = 0.5;
    expect(() => correlationMatrixSync(flat, { observations: 10, assets: 2 })).toThrow(/asset 1 is constant/);
    expect(covarianceMatrixSync(flat, { observations: 10, assets: 2 }).matrix[3]).toBe(0);
  });

  it('cholesky reconstructs random SPD matrices and is identical across calls', async () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(), (n, seed) => {
        const a = spd(n, seed);
        const { lower, backend } = choleskySync(a, n);
        expect(backend).toBe(expectedBackend);
        const back = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let k = 0; k < n; k++) s += lower[i * n + k]! * lower[j * n + k]!;
            back[i * n + j] = s;
            if (j > i) expect(lower[i * n + j]).toBe(0);
          }
        }
        expect(maxRelDiff(back, a, n)).toBeLessThanOrEqual(1e-12);
      }),
      { numRuns: 60 },
    );
    const a = spd(30, 5);
    expect((await cholesky(a, 30)).lower).toEqual(choleskySync(a, 30).lower);
  });

  it.runIf(native)('cholesky is bit-identical in TS and C++', () => {
    const a = spd(64, 9);
    expect(choleskySync(a, 64, { backend: 'native' }).lower).toEqual(choleskySync(a, 64, { backend: 'ts' }).lower);
  });

  it('cholesky names the failing pivot, refuses asymmetric and malformed matrices', async () => {
    expect(() => choleskySync([1, 2, 2, 1], 2)).toThrow(/positive semi-definite matrix \(Cholesky pivot 1 is -3, below the tolerance -4.44\d*e-16 .*Rayleigh quotient -0.6, so the matrix has an eigenvalue <= -0.6\) for matrix/);
    expect(() => choleskySync([4, 0, 0, 0, 1, 0, 0, 0, -1], 3)).toThrow(/pivot 2 is -1/);
    expect(() => choleskySync([0, 0.5, 0.5, 1], 2)).toThrow(/pivot 0 is 0, zero within the tolerance 4.44\d*e-16, but row 1 of its column is 0.5/);
    await expect(cholesky([1, 2, 2, 1], 2)).rejects.toThrow(/pivot 1/);
    expect(() => choleskySync([1, 0.5, 0.4, 1], 2)).toThrow(/a symmetric matrix .*row 1, column 0/);
    expect(() => choleskySync([1, 0, 0], 2)).toThrow(/4 numbers \(an n x n matrix, n = 2\) for matrix/);
    expect(() => choleskySync([1, Number.NaN, Number.NaN, 1], 2)).toThrow(/matrix\[1\] but received NaN/);
    expect(() => choleskySync([1], 0)).toThrow(/for n but received 0/);
  });
});

// ---- Monte Carlo -------------------------------------------------------------------------

describe('simulateGBM', () => {
  const base = { spot: 100, drift: 0.08, volatility: 0.25, steps: 50, dt: 1 / 50, paths: 20_000, seed: 12345 };

  it('terminal mean is within 3 standard errors of S0·e^{μT}, with and without antithetic variates', () => {
    for (const antithetic of [false, true]) {
      const r = simulateGBMSync({ ...base, antithetic });
      const expected = 100 * Math.exp(0.08 * 1);
      expect(r.backend).toBe(expectedBackend);
      expect(r.terminal.length).toBe(base.paths);
      expect(Math.abs(r.mean - expected)).toBeLessThan(3 * r.stdError);
      expect(r.stdError).toBeGreaterThan(0);
      expect(r.var).toBeGreaterThan(0);
      expect(r.cvar).toBeGreaterThanOrEqual(r.var);
      // VaR is the historical quantile of spot - S(T).
      const ref = referenceTail(r.terminal.map((s) => s - 100), 0.95);
      expect(r.var).toBe(ref.var);
    }
    // Antithetic pairs mirror each other's draws: log-returns sum to 2·(μ - σ²/2)T.
    const r = simulateGBMSync({ ...base, paths: 10, antithetic: true });
    const drift = (0.08 - 0.5 * 0.25 * 0.25) * 1;
    for (let k = 0; k < 5; k++) {
      expect(Math.log(r.terminal[2 * k]! / 100) + Math.log(r.terminal[2 * k + 1]! / 100)).toBeCloseTo(2 * drift, 10);
    }
  });

  it('is reproducible by seed, and the seed is reported', async () => {
    const a = simulateGBMSync({ ...base, paths: 1000 });
    const b = await simulateGBM({ ...base, paths: 1000 });
    expect(b.terminal).toEqual(a.terminal);
    expect(b.seed).toBe(12345);
    const c = simulateGBMSync({ ...base, paths: 1000, seed: 12346 });
    expect(c.terminal).not.toEqual(a.terminal);
    const d = simulateGBMSync({ ...base, paths: 1000, seed: undefined });
    expect(Number.isSafeInteger(d.seed)).toBe(true);
    expect(simulateGBMSync({ ...base, paths: 1000, seed: d.seed }).terminal).toEqual(d.terminal);
    // A path does not depend on how many paths run with it (counters, not threads).
    expect(simulateGBMSync({ ...base, paths: 5000 }).terminal.subarray(0, 1000)).toEqual(a.terminal);
  });

  it('keepPaths returns every step, starting at spot and ending at the terminal value', () => {
    const r = simulateGBMSync({ ...base, paths: 64, steps: 7, keepPaths: true });
    const m = r.pathValues!;
    expect(m.length).toBe(64 * 8);
    for (let p = 0; p < 64; p++) {
      expect(m[p * 8]).toBe(100);
      expect(m[p * 8 + 7]).toBe(r.terminal[p]);
    }
    const z = new Float64Array(7);
    philoxNormals(z, { seed: base.seed, stream: 3 });
    const a = (0.08 - 0.5 * 0.25 * 0.25) / 50;
    const b = 0.25 * Math.sqrt(1 / 50);
    let x = 0;
    for (let s = 0; s < 7; s++) {
      x += a + b * z[s]!;
      expect(m[3 * 8 + s + 1]).toBeCloseTo(100 * Math.exp(x), 11);
    }
  });

  it.runIf(native)('C++ and TS agree to 1e-9 (in fact exactly) for the same seed', async () => {
    for (const antithetic of [false, true]) {
      const opts = { ...base, paths: 3000, antithetic };
      const c = simulateGBMSync({ ...opts, backend: 'native' });
      const t = simulateGBMSync({ ...opts, backend: 'ts' });
      expect(maxAbsDiff(c.terminal, t.terminal)).toBeLessThanOrEqual(1e-9);
      expect(c.terminal).toEqual(t.terminal);
      expect([c.mean, c.stdError, c.var, c.cvar]).toEqual([t.mean, t.stdError, t.var, t.cvar]);
      const ca = await simulateGBM({ ...opts, backend: 'native', keepPaths: true });
      const ta = await simulateGBM({ ...opts, backend: 'ts', keepPaths: true });
      expect(ca.pathValues).toEqual(ta.pathValues);
    }
  });

  it.each([
    [{ spot: 0 }, /positive finite number for options.spot but received 0/],
    [{ volatility: -0.1 }, /options.volatility but received -0.1/],
    [{ drift: Number.NaN }, /options.drift but received NaN/],
    [{ steps: 0 }, /options.steps but received 0/],
    [{ steps: 2.5 }, /an integer for options.steps but received 2.5/],
    [{ paths: 1 }, /options.paths but received 1/],
    [{ paths: 2 ** 40 }, /options.paths but received/],
    [{ paths: 1001, antithetic: true }, /an even number of paths with antithetic variates/],
    [{ paths: 100_000, steps: 1000, keepPaths: true }, /paths x \(steps \+ 1\) <= 33554432 values/],
    [{ seed: -1 }, /options.seed but received -1/],
    [{ seed: 1.5 }, /an integer for options.seed/],
    [{ confidence: 0.01 }, /did you mean 0.99\?/],
    [{ dt: 0 }, /options.dt but received 0/],
  ])('rejects %j before simulating', async (patch, message) => {
    expect(() => simulateGBMSync({ ...base, ...patch } as never)).toThrow(message);
    await expect(simulateGBM({ ...base, ...patch } as never)).rejects.toThrow(message);
  });

  it('keeps the event loop responsive while a long simulation runs', async () => {
    // About a second of work on either backend; a 5 ms timer must keep firing meanwhile.
    const paths = native ? 600_000 : 24_000;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const before = ticks;
    const r = await simulateGBM({ spot: 100, drift: 0.05, volatility: 0.2, steps: 252, paths, seed: 1 });
    clearInterval(timer);
    expect(r.terminal.length).toBe(paths);
    expect(ticks - before).toBeGreaterThan(3);
  });
});

describe('monteCarloVaR', () => {
  const weights = [0.5, 0.3, 0.2];
  const cov = [1e-4, 2e-5, 1e-5, 2e-5, 4e-5, 0, 1e-5, 0, 9e-5];
  const means = [0.0005, 0.0002, 0.0001];

  it('converges to the normal closed form of a linear portfolio', async () => {
    const r = await monteCarloVaR({ weights, means, covariance: cov, paths: 200_000, seed: 3, confidence: 0.99, horizonDays: 10 });
    let variance = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) variance += weights[i]! * weights[j]! * cov[i * 3 + j]!;
    const mu = (0.5 * 0.0005 + 0.3 * 0.0002 + 0.2 * 0.0001) * 10;
    const sd = Math.sqrt(variance * 10);
    expect(r.backend).toBe(expectedBackend);
    expect(Math.abs(r.mean - mu)).toBeLessThan(4 * r.stdError);
    expect(r.stdError).toBeCloseTo(sd / Math.sqrt(200_000), 6);
    const z = 2.3263478740408408;
    expect(Math.abs(r.var - (sd * z - mu))).toBeLessThan(0.02 * sd * z);
    expect(Math.abs(r.cvar - ((sd * 0.02665214220345808) / 0.01 - mu))).toBeLessThan(0.02 * sd * z);
  });

  it('is reproducible by seed; sync equals async', async () => {
    const a = monteCarloVaRSync({ weights, means, covariance: cov, paths: 50_001, seed: 8 });
    const b = await monteCarloVaR({ weights, means, covariance: Float64Array.from(cov), paths: 50_001, seed: 8 });
    expect([b.var, b.cvar, b.mean, b.stdError]).toEqual([a.var, a.cvar, a.mean, a.stdError]);
  });

  it.runIf(native)('C++ and TS agree to 1e-9 (in fact exactly)', () => {
    const opts = { weights, means, covariance: cov, paths: 70_000, seed: 99, horizonDays: 5 };
    const c = monteCarloVaRSync({ ...opts, backend: 'native' });
    const t = monteCarloVaRSync({ ...opts, backend: 'ts' });
    expect(Math.abs(c.var - t.var)).toBeLessThanOrEqual(1e-9);
    expect([c.var, c.cvar, c.mean, c.stdError]).toEqual([t.var, t.cvar, t.mean, t.stdError]);
  });

  it('validates weights, means, covariance and paths', () => {
    const ok = { weights, means, covariance: cov, paths: 100, seed: 1 };
    expect(() => monteCarloVaRSync({ ...ok, means: [0, 0] })).toThrow(/3 means \(one per weight\)/);
    expect(() => monteCarloVaRSync({ ...ok, covariance: cov.slice(0, 8) })).toThrow(/9 numbers .* for options.covariance/);
    expect(() => monteCarloVaRSync({ ...ok, covariance: [1, 2, 0, 2, 1, 0, 0, 0, 1] })).toThrow(/pivot 1 is -3.*for options.covariance/);
    expect(() => monteCarloVaRSync({ ...ok, covariance: [1, 0.1, 0, 0.2, 1, 0, 0, 0, 1] })).toThrow(/a symmetric matrix/);
    expect(() => monteCarloVaRSync({ ...ok, weights: [1, Infinity, 0] })).toThrow(/options.weights\[1\] but received Infinity/);
    expect(() => monteCarloVaRSync({ ...ok, paths: 2 ** 31 })).toThrow(/options.paths/);
    expect(() => monteCarloVaRSync({ ...ok, horizonDays: -1 })).toThrow(/options.horizonDays/);
  });
});

// ---- issue 10 items 3 and 7: constant series and extreme magnitudes ----------------------

/** Row-major T x 2 data from two columns. */
function columns2(x: readonly number[], y: readonly number[]): Float64Array {
  const d = new Float64Array(2 * x.length);
  for (let t = 0; t < x.length; t++) {
    d[2 * t] = x[t]!;
    d[2 * t + 1] = y[t]!;
  }
  return d;
}

function corr2(x: readonly number[], y: readonly number[], method: 'pearson' | 'ewma' = 'pearson'): number {
  const r = correlationMatrixSync(columns2(x, y), { observations: x.length, assets: 2, method });
  expect(r.backend).toBe(expectedBackend);
  return r.matrix[1]!;
}

describe('constant series (issue 10, item 3)', () => {
  it('refuses a correlation of constant series, naming the asset, at every length', () => {
    // The reported cases: 1,448 and 10 repetitions (lengths 2, 3 and 5 already failed right).
    for (const [a, b, T] of [[1.81, 0.576, 1448], [0.42, 0.1, 10], [0.42, 0.1, 2], [1.81, 0.576, 3]] as const) {
      expect(() => corr2(Array(T).fill(a), Array(T).fill(b))).toThrow(/asset 0 is constant: all its values are equal\) for data/);
      expect(() => corr2(Array(T).fill(a), Array(T).fill(b), 'ewma')).toThrow(/asset 0 is constant/);
    }
    // A constant asset after a varying one is named as asset 1, last of three as asset 2.
    const varying = Array.from(normals(1448, 3, 0.01));
    expect(() => corr2(varying, Array(1448).fill(0.576))).toThrow(/asset 1 is constant/);
    const three = new Float64Array(3 * 50);
    const z = normals(100, 4);
    for (let t = 0; t < 50; t++) [three[3 * t], three[3 * t + 1], three[3 * t + 2]] = [z[t]!, z[50 + t]!, 1e-300];
    expect(() => correlationMatrixSync(three, { observations: 50, assets: 3 })).toThrow(/asset 2 is constant/);
  });

  it('gives a constant series a covariance of exactly 0 (Pearson), whatever its value', () => {
    // Exactly 0 by definition; the two-pass mean left 1.9e-27 for 1.81 x 1,448.
    expect(covarianceMatrixSync(Array(1448).fill(1.81), { observations: 1448, assets: 1 }).matrix[0]).toBe(0);
    fc.assert(
      fc.property(
        fc.double({ min: -1e308, max: 1e308, noNaN: true, noDefaultInfinity: true }),
        fc.integer({ min: 2, max: 400 }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        (c, T, N, seed) => {
          const j = seed % N;
          const data = normals(T * N, seed, 0.01);
          for (let t = 0; t < T; t++) data[t * N + j] = c;
          const cov = covarianceMatrixSync(data, { observations: T, assets: N });
          for (let k = 0; k < N; k++) {
            expect(cov.matrix[j * N + k]).toBe(0);
            expect(cov.matrix[k * N + j]).toBe(0);
          }
          for (const method of ['pearson', 'ewma'] as const) {
            expect(() => correlationMatrixSync(data, { observations: T, assets: N, method })).toThrow(new RegExp(`asset ${j} is constant`));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps nearly constant series (one ulp apart) and finds their correlation', () => {
    // SciPy's TestPearsonr.test_near_constant_input: x = [2, 2, 2 + spacing(2)],
    // y = [3, 3, 3 + 6 spacing(3)]; "the exact value of r would be 1".
    expect(corr2([2, 2, 2 + 2 ** -51], [3, 3, 3 + 6 * 2 ** -51])).toBeCloseTo(1, 12);
    // EWMA keeps the zero-mean model: a constant series has variance c^2 (Σw = 1), and
    // a column that is zero wherever it has weight is constant.
    const ewma = covarianceMatrixSync(Array(30).fill(1.81), { observations: 30, assets: 1, method: 'ewma' });
    expect(Math.abs(ewma.matrix[0]! - 1.81 * 1.81)).toBeLessThanOrEqual(1e-15);
  });
});

describe('correlation at extreme magnitudes (issue 10, item 7)', () => {
  it('matches the NumPy and SciPy reference cases', () => {
    // NumPy TestCorrCoef.test_extreme: corrcoef([[1e-100, 1e100], [1e100, 1e-100]]) = -1.
    expect(corr2([1e-100, 1e100], [1e100, 1e-100])).toBe(-1);
    // SciPy TestPearsonr.test_very_large_input_values (mpmath, 80 digits): 0.8660254037844386.
    const x90 = [0, 0, 0, 1, 1, 1, 1].map((v) => v * 1e90);
    const y90 = [0, 1, 2, 3, 4, 5, 6].map((v) => v * 1e90);
    expect(Math.abs(corr2(x90, y90) - 0.8660254037844386)).toBeLessThanOrEqual(1e-15);
    // test_extremely_large_input_values (mpmath): 0.351312332103289.
    const r200 = corr2([2.3e200, 4.5e200, 6.7e200, 8e200], [1.2e199, 5.5e200, 3.3e201, 1.0e200]);
    expect(Math.abs(r200 - 0.351312332103289)).toBeLessThanOrEqual(1e-14);
    // test_very_small_input_values (mpmath): 0.7272930540750450; five distinct values near 1e-188 are not constant.
    const rSmall = corr2([0.004434375, 0.004756007, 0.003911996, 0.0038005, 0.003409971], [2.48e-188, 7.41e-181, 4.09e-208, 2.08e-223, 2.66e-245]);
    expect(Math.abs(rSmall - 0.727293054075045)).toBeLessThanOrEqual(1e-14);
  });

  it('gives 0.8 for [1,2,3,4] and [1,3,2,4] at every scale, and scales covariances exactly', () => {
    // Closed form: deviations (-1.5, -0.5, 0.5, 1.5) and (-1.5, 0.5, -0.5, 1.5), Σxy = 4, Σx² = Σy² = 5, r = 4/5.
    for (const s of [1, 1e78, 1e-150, 1e300, 1e-300, 5e-324 * 2 ** 10, 1.5e308 / 4]) {
      const r = corr2([1, 2, 3, 4].map((v) => v * s), [1, 3, 2, 4].map((v) => v * s));
      expect(Math.abs(r - 0.8)).toBeLessThanOrEqual(1e-15);
      for (const method of ['pearson', 'ewma'] as const) {
        const m = correlationMatrixSync(columns2([1, 2, 3, 4].map((v) => v * s), [1, 3, 2, 4].map((v) => v * s)), { observations: 4, assets: 2, method }).matrix;
        expect(Math.abs(m[1]!)).toBeLessThanOrEqual(1);
      }
    }
    // cov of x·2^k is cov(x)·2^(2k) exactly: the column scales are powers of two.
    const base = covarianceMatrixSync(columns2([1, 2, 3, 4], [1, 3, 2, 4]), { observations: 4, assets: 2 }).matrix;
    const big = covarianceMatrixSync(columns2([1, 2, 3, 4].map((v) => v * 2 ** 500), [1, 3, 2, 4].map((v) => v * 2 ** -500)), { observations: 4, assets: 2 }).matrix;
    expect(Array.from(big)).toEqual([base[0]! * 2 ** 1000, base[1]!, base[2]!, base[3]! * 2 ** -1000]);
    // Values near the largest double: the data are finite, the sums are not allowed to overflow.
    const huge = covarianceMatrixSync(columns2([1.7e308, -1.7e308, 1.7e308, -1.7e308], [1, 2, 3, 4]), { observations: 4, assets: 2 }).matrix;
    expect(huge[0]).toBe(Infinity); // the true variance, 3.85e616, is beyond the range: it overflows once, at the end
    expect(corr2([1.7e308, -1.7e308, 1.7e308, -1.7e308], [1, -1, 1, -1])).toBe(1);
  });

  it('subnormal data correlate as the same data scaled into the normal range (the mean is scaled before it is divided)', () => {
    // A review's case: 3 observations x 2 assets of subnormals; x * 2^550 * 2^550 is exact.
    const tiny = Float64Array.of(1e-320, 3e-320, 2e-320, -1e-320, 5e-321, 7e-320);
    const normal = tiny.map((v) => v * 2 ** 550 * 2 ** 550);
    for (const method of ['pearson', 'ewma'] as const) {
      const a = correlationMatrixSync(tiny, { observations: 3, assets: 2, method }).matrix;
      const b = correlationMatrixSync(normal, { observations: 3, assets: 2, method }).matrix;
      expect(Array.from(a)).toEqual(Array.from(b));
    }
    expect(correlationMatrixSync(tiny, { observations: 3, assets: 2 }).matrix[1]).toBeCloseTo(-0.9819805060619657, 14);
  });

  it('property: scaling a column by 2^k (|k| <= 900) leaves every correlation unchanged, bit for bit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 80 }), fc.integer({ min: 2, max: 6 }), fc.nat(), fc.integer({ min: -900, max: 900 }), fc.constantFrom('pearson' as const, 'ewma' as const), (T, N, seed, k, method) => {
        const data = normals(T * N, seed, 0.01, 0.002);
        const j = seed % N;
        const scaled = Float64Array.from(data);
        for (let t = 0; t < T; t++) scaled[t * N + j] = scaled[t * N + j]! * 2 ** k;
        const a = correlationMatrixSync(data, { observations: T, assets: N, method }).matrix;
        const b = correlationMatrixSync(scaled, { observations: T, assets: N, method }).matrix;
        expect(b).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });

  it('property: columns at magnitudes 1e-150..1e150 stay in [-1, 1] and match the 1e0 correlation to 1e-12', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 80 }),
        fc.integer({ min: 2, max: 6 }),
        fc.nat(),
        fc.array(fc.integer({ min: -150, max: 150 }), { minLength: 6, maxLength: 6 }),
        fc.constantFrom('pearson' as const, 'ewma' as const),
        (T, N, seed, exps, method) => {
          const data = normals(T * N, seed, 1, 0.3);
          const scaled = Float64Array.from(data);
          for (let t = 0; t < T; t++) for (let j = 0; j < N; j++) scaled[t * N + j] = scaled[t * N + j]! * 10 ** exps[j]!;
          const a = correlationMatrixSync(data, { observations: T, assets: N, method }).matrix;
          const b = correlationMatrixSync(scaled, { observations: T, assets: N, method }).matrix;
          for (let i = 0; i < N * N; i++) expect(Math.abs(b[i]!)).toBeLessThanOrEqual(1);
          expect(maxAbsDiff(b, a)).toBeLessThanOrEqual(1e-12);
        },
      ),
      { numRuns: 100 },
    );
  });

  it.runIf(native)('TS and C++ agree on extreme and constant inputs', () => {
    const data = columns2([2.3e150, 4.5e150, 6.7e150, 8e150, 1e-300, -3e-200], [1.2e149, 5.5e150, 3.3e151, 1.0e150, 7, -1e-310]);
    for (const method of ['pearson', 'ewma'] as const) {
      for (const f of [correlationMatrixSync, covarianceMatrixSync]) {
        const c = f(data, { observations: 6, assets: 2, method, backend: 'native' }).matrix;
        const t = f(data, { observations: 6, assets: 2, method, backend: 'ts' }).matrix;
        expect(maxRelDiff(c, t)).toBeLessThanOrEqual(1e-14);
      }
    }
  });
});

// ---- issue 10 item 5: positive semi-definite covariance --------------------------------

/** L·Lᵀ. */
function reconstruct(lower: Float64Array, n: number): Float64Array {
  const back = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += lower[i * n + k]! * lower[j * n + k]!;
    back[i * n + j] = s;
  }
  return back;
}

/** A PSD matrix B·Bᵀ with B n x rank from normals, then the rows/columns in `zero` set to 0 (zero-variance assets). */
function psd(n: number, rank: number, seed: number, zero: readonly number[]): Float64Array {
  const b = normals(n * rank, seed, 0.01);
  for (const i of zero) for (let k = 0; k < rank; k++) b[i * rank + k] = 0;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) {
    let s = 0;
    for (let k = 0; k < rank; k++) s += b[i * rank + k]! * b[j * rank + k]!;
    a[i * n + j] = s;
    a[j * n + i] = s;
  }
  return a;
}

describe('positive semi-definite covariance (issue 10, item 5)', () => {
  it('values a cash leg with zero variance: the issue case, against the closed form and its own draws', () => {
    const opts = { weights: [1, 1], means: [0, 0.0001], covariance: [0.0004, 0, 0, 0], paths: 20_000, seed: 7, confidence: 0.99 };
    const r = monteCarloVaRSync(opts);
    expect(r.backend).toBe(expectedBackend);
    // Closed form: loss = -(0.02 z + 0.0001), VaR99 = 0.02·Φ⁻¹(0.99) - 0.0001 = 0.046426957480816815
    // (NumPy/SciPy: 0.02 * stats.norm.ppf(0.99) - 0.0001). Quantile standard error at 20,000
    // paths: 0.02·√(0.99·0.01/20000)/φ(2.326) ≈ 5.3e-4; allow four.
    expect(Math.abs(r.var - 0.046426957480816815)).toBeLessThan(4 * 5.3e-4);
    // And exactly the historical VaR of the same draws: path p uses normals 2p (asset 0) and 2p + 1 (asset 1, weight 0 in L).
    const z = new Float64Array(2 * 20_000);
    philoxNormals(z, { seed: 7 });
    const returns = new Float64Array(20_000);
    for (let p = 0; p < 20_000; p++) returns[p] = 1 * (0 * 1 + 1 * (0.02 * z[2 * p]!)) + 1 * (0.0001 * 1 + 1 * (0 * z[2 * p]! + 0 * z[2 * p + 1]!));
    const ref = referenceTail(returns, 0.99);
    expect(r.var).toBe(ref.var);
    expect(Math.abs(r.cvar - ref.cvar)).toBeLessThanOrEqual(1e-15);
  });

  it('values an all-cash portfolio exactly: a constant loss, its mean and a standard error of exactly 0', async () => {
    // Every path loses -(1·0.0003 + 3·0.0001); sums run about the first loss, so no rounded mean is left behind.
    const opts = { weights: [1, 3], means: [0.0003, 0.0001], covariance: [0, 0, 0, 0], paths: 1001, seed: 7 };
    for (const r of [monteCarloVaRSync(opts), await monteCarloVaR(opts)]) {
      expect(r.stdError).toBe(0);
      expect(r.mean).toBe(-r.var);
      expect(Math.abs(r.mean - 0.0006)).toBeLessThanOrEqual(2 ** -52 * 0.0006);
    }
    const g = simulateGBMSync({ spot: 100, drift: 0.05, volatility: 0, steps: 10, paths: 1001, seed: 1 });
    expect(g.stdError).toBe(0);
    expect(g.mean).toBe(g.terminal[0]);
  });

  it('factors zero-variance assets first, in the middle and last, and perfectly correlated pairs', () => {
    const cases: [Float64Array | number[], number][] = [
      [[0, 0, 0, 0, 4e-4, 1e-4, 0, 1e-4, 9e-4], 3], // first
      [[4e-4, 0, 1e-4, 0, 0, 0, 1e-4, 0, 9e-4], 3], // middle
      [[4e-4, 1e-4, 0, 1e-4, 9e-4, 0, 0, 0, 0], 3], // last
      [[0, 0, 0, 0], 2], // nothing but cash
      [[4e-4, 6e-4, 6e-4, 9e-4], 2], // ρ = 1: σ = 0.02, 0.03
      [[4e-4, -6e-4, 0, -6e-4, 9e-4, 0, 0, 0, 1e-4], 3], // ρ = -1, then an independent asset
    ];
    for (const [a, n] of cases) {
      const { lower, backend } = choleskySync(a, n);
      expect(backend).toBe(expectedBackend);
      const back = reconstruct(lower, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        expect(Math.abs(back[i * n + j]! - a[i * n + j]!)).toBeLessThanOrEqual(1e-18);
        if (j > i) expect(lower[i * n + j]).toBe(0);
        if (a[i * n + i] === 0) expect(lower[j * n + i]).toBe(0); // a zero-variance asset's column
      }
    }
    // ρ = 1 between two assets: the portfolio is one normal with σ = w1σ1 + w2σ2 (closed form as above).
    const r = monteCarloVaRSync({ weights: [0.5, 0.5], means: [0, 0], covariance: [4e-4, 6e-4, 6e-4, 9e-4], paths: 200_000, seed: 5, confidence: 0.99 });
    const sd = 0.5 * 0.02 + 0.5 * 0.03;
    expect(Math.abs(r.var - sd * 2.3263478740408408)).toBeLessThan(0.02 * sd * 2.3263478740408408);
  });

  it('accepts a pivot within the tolerance n·2^-52·max a_kk and refuses one beyond it, naming it', async () => {
    // [[1, 1], [1, 1 - 2^-53]] has the eigenvalue -2^-54: inside the tolerance 2·2^-52.
    expect(Array.from(choleskySync([1, 1, 1, 1 - 2 ** -53], 2).lower)).toEqual([1, 0, 1, 0]);
    // [[1, 1], [1, 1 - 1e-10]]: pivot 1 is -1e-10 (to rounding), far beyond it.
    expect(() => choleskySync([1, 1, 1, 1 - 1e-10], 2)).toThrow(/Cholesky pivot 1 is -1\.00000008\d*e-10, below the tolerance -4\.44\d*e-16/);
    // A zero pivot whose column is not zero: [[0, 0.5], [0.5, 1]] has the eigenvalue (1 - √2)/2.
    expect(() => choleskySync([0, 0.5, 0.5, 1], 2)).toThrow(/pivot 0 is 0, zero within the tolerance 4.44\d*e-16, but row 1 of its column is 0.5/);
    expect(() => choleskySync([4e-4, 0, 0, 0, 0, 1e-9, 0, 1e-9, 1e-4], 3)).toThrow(/pivot 1 is 0, .*row 2 of its column is 1e-9/);
    await expect(cholesky([0, 0.5, 0.5, 1], 2)).rejects.toThrow(/pivot 0 is 0/);
    expect(() => monteCarloVaRSync({ weights: [1, 1], means: [0, 0], covariance: [0, 1e-4, 1e-4, 4e-4], paths: 10, seed: 1 })).toThrow(
      /positive semi-definite matrix \(Cholesky pivot 0 is 0, .*row 1 of its column is 0.0001.*for options.covariance/,
    );
    await expect(monteCarloVaR({ weights: [1, 1], means: [0, 0], covariance: [1, 2, 2, 1], paths: 10, seed: 1 })).rejects.toThrow(/pivot 1 is -3/);
  });

  it('property: PSD matrices of any rank with zero-variance assets factor to L·Lᵀ = A, L lower-triangular', () => {
    // Random B·Bᵀ of rank r: the leading r x r block can be ill-conditioned, and the rounding
    // of A grows by its condition number in the later (zero) pivots; the factor still
    // reproduces A far below any variance a risk number could see.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.nat(), fc.array(fc.nat({ max: 23 }), { maxLength: 4 }), (n, rank, seed, zeros) => {
        const zero = zeros.filter((i) => i < n);
        const a = psd(n, Math.min(rank, n), seed, zero);
        const { lower } = choleskySync(a, n);
        let top = 0;
        for (let i = 0; i < n; i++) top = Math.max(top, a[i * n + i]!);
        expect(maxAbsDiff(reconstruct(lower, n), a)).toBeLessThanOrEqual(1e-6 * top);
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(lower[i * n + j]).toBe(0);
        for (const i of zero) for (let k = 0; k < n; k++) expect(lower[k * n + i]).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('property: perfectly correlated groups and cash legs factor to within a few n·ε·max a_kk', () => {
    // Asset i = sign_i·σ_i·F_g(i) (independent unit factors) or cash (σ_i = 0):
    // cov_ij = s_i s_j σ_i σ_j [g(i) = g(j)], rank = number of groups used.
    fc.assert(
      fc.property(
        fc.array(fc.record({ group: fc.nat({ max: 3 }), sigma: fc.oneof(fc.constant(0), fc.double({ min: 0.005, max: 0.05, noNaN: true })), sign: fc.constantFrom(-1, 1) }), { minLength: 1, maxLength: 20 }),
        (assets) => {
          const n = assets.length;
          const a = new Float64Array(n * n);
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
            const p = assets[i]!;
            const q = assets[j]!;
            a[i * n + j] = p.group === q.group ? p.sign * q.sign * p.sigma * q.sigma : 0;
          }
          const { lower } = choleskySync(a, n);
          // Backward error of the rank-revealing steps: n·ε·max a_kk times (1 + (σmax/σmin)²) <= 101, with room.
          expect(maxAbsDiff(reconstruct(lower, n), a)).toBeLessThanOrEqual(4 * 101 * n * 2 ** -52 * 0.05 ** 2);
          for (let i = 0; i < n; i++) if (assets[i]!.sigma === 0) for (let k = 0; k < n; k++) expect(lower[k * n + i]).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it.runIf(native)('property: TS and C++ give the same factor and the same Monte Carlo VaR, bit for bit, on PSD matrices', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.nat(), fc.array(fc.nat({ max: 11 }), { maxLength: 3 }), (n, rank, seed, zeros) => {
        const a = psd(n, Math.min(rank, n), seed, zeros.filter((i) => i < n));
        expect(choleskySync(a, n, { backend: 'native' }).lower).toEqual(choleskySync(a, n, { backend: 'ts' }).lower);
        const opts = { weights: normals(n, seed + 1), means: normals(n, seed + 2, 1e-4), covariance: a, paths: 2000, seed, confidence: 0.975 };
        const c = monteCarloVaRSync({ ...opts, backend: 'native' });
        const t = monteCarloVaRSync({ ...opts, backend: 'ts' });
        expect([c.var, c.cvar, c.mean, c.stdError]).toEqual([t.var, t.cvar, t.mean, t.stdError]);
      }),
      { numRuns: 40 },
    );
  });
});

// ---- GPU dispatch (everything here runs without a device) ---------------------------------

describe('GPU dispatch', () => {
  const spd3 = spd(3, 11);
  const mc = { weights: [0.5, 0.3, 0.2], means: [0, 0, 0], covariance: spd3.map((v) => v * 1e-4), paths: 1000, seed: 5 };

  it.runIf(!gpu.available())("backend 'cuda' fails clearly without a device, on every risk function, sync and async", async () => {
    const returns = normals(100, 3, 0.01);
    const reason = /with backend 'cuda' needs a CUDA device and the GPU addon: .+/;
    const gbm = { spot: 100, drift: 0, volatility: 0.2, steps: 5, paths: 10, seed: 1 };
    for (const call of [
      () => calculateVaRSync(returns, { backend: 'cuda' }),
      () => portfolioVaRSync({ returns: normals(30, 1, 0.01), assets: 3, weights: [1, 1, 1], backend: 'cuda' }),
      () => simulateGBMSync({ ...gbm, backend: 'cuda' }),
      () => monteCarloVaRSync({ ...mc, backend: 'cuda' }),
      () => correlationMatrixSync(returns, { observations: 50, assets: 2, backend: 'cuda' }),
      () => choleskySync(spd3, 3, { backend: 'cuda' }),
      () => philoxNormals(new Float64Array(4), { seed: 1, backend: 'cuda' }),
    ]) {
      expect(call).toThrow(reason);
      expect(call).toThrow(BackendUnavailableError);
    }
    await expect(calculateVaR(returns, { backend: 'cuda' })).rejects.toThrow(reason);
    await expect(simulateGBM({ ...gbm, backend: 'cuda' })).rejects.toThrow(BackendUnavailableError);
    await expect(monteCarloVaR({ ...mc, backend: 'cuda' })).rejects.toThrow(BackendUnavailableError);
    await expect(correlationMatrix(returns, { observations: 50, assets: 2, backend: 'cuda' })).rejects.toThrow(reason);
  });

  it("'auto' never reaches the GPU without one, even with every threshold at zero", () => {
    const saved = { ...riskThresholds };
    try {
      setRiskThresholds({ gbmPathSteps: 0, monteCarloDraws: 0, covarianceWork: 0, varObservations: 0 });
      expect(calculateVaRSync(normals(100, 3, 0.01)).backend).toBe(gpu.available() ? 'cuda' : expectedBackend);
      expect(monteCarloVaRSync(mc).backend).toBe(gpu.available() ? 'cuda' : expectedBackend);
    } finally {
      setRiskThresholds(saved);
    }
  });

  it('setRiskThresholds names a bad key or size and changes nothing then', () => {
    const saved = { ...riskThresholds };
    expect(() => setRiskThresholds({ gbmPathSteps: 5, nope: 1 } as never)).toThrow(/^unknown option 'nope' for setRiskThresholds; the options are 'gbmPathSteps', /);
    expect(() => setRiskThresholds({ varObservations: -1 })).toThrow(/for thresholds.varObservations but received -1/);
    expect(() => setRiskThresholds({ varObservations: Number.NaN })).toThrow(/thresholds.varObservations/);
    expect(() => setRiskThresholds(null as never)).toThrow(/for thresholds but received null/);
    expect(riskThresholds).toEqual(saved);
    // Not measured on a device in this build: 'auto' keeps everything on the CPU.
    expect(Object.values(riskThresholds).every((v) => v === Infinity)).toBe(true);
  });

  it('setRiskThresholds reads its object with the options kit, and riskThresholds is read-only', () => {
    const saved = { ...riskThresholds };
    const refused = (value: unknown): (Error & { code?: string }) | undefined => {
      try {
        setRiskThresholds(value as never);
      } catch (e) {
        return e as Error & { code?: string };
      }
      return undefined;
    };
    // Keys every object has (Object.prototype's) are unknown keys, not thresholds.
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) {
      const err = refused({ [key]: 5 });
      expect(err).toBeInstanceOf(TypeError);
      expect(err!.code).toBe('ERR_ULTRA_PERF_UNKNOWN_OPTION');
      expect(err!.message).toMatch(new RegExp(`^unknown option '${key}' for setRiskThresholds`));
    }
    expect(refused({ gbmPathStep: 5 })).toEqual(new TypeError("unknown option 'gbmPathStep' for setRiskThresholds; did you mean 'gbmPathSteps'?"));
    class Sizes {
      varObservations = 5;
    }
    for (const bad of [new Map([['varObservations', 5]]), [5], new Sizes(), 5, 'x']) {
      const err = refused(bad);
      expect(err).toBeInstanceOf(TypeError);
      expect(err!.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(err!.message).toMatch(/^Expected an object of sizes for thresholds but received /);
    }
    expect(() => ((riskThresholds as { gbmPathSteps: number }).gbmPathSteps = -1)).toThrow(TypeError);
    expect(Object.isFrozen(riskThresholds)).toBe(true);
    expect({ ...riskThresholds }).toEqual(saved);
    try {
      setRiskThresholds({ varObservations: 1e6, gbmPathSteps: undefined });
      expect(riskThresholds.varObservations).toBe(1e6);
      expect(riskThresholds.gbmPathSteps).toBe(saved.gbmPathSteps);
    } finally {
      setRiskThresholds(saved);
    }
    expect({ ...riskThresholds }).toEqual(saved);
  });

  /** A GPU addon stand-in that computes with the default (CPU) kernels, or fails like a device out of memory. */
  function fakeCudaAddon(fail: boolean): CudaAddon {
    const oom = () => {
      throw new Error('cudaErrorMemoryAllocation: out of memory (device_malloc(&buf.ptr, bytes) at cuda/risk/select.cu:42)');
    };
    const k = defaultKernels;
    const run = <A extends unknown[], R>(fn: (...a: A) => R) => (fail ? oom : fn) as (...a: A) => R;
    const runAsync = <A extends unknown[], R>(fn: (...a: A) => R) => (fail ? () => Promise.reject(new Error('cudaErrorLaunchFailure: unspecified launch failure (kernel at x.cu:1)')) : async (...a: A) => fn(...a)) as (...a: A) => Promise<R>;
    const gbm = (spot: number, drift: number, volatility: number, dt: number, steps: number, paths: number, seed: number, antithetic: boolean, confidence: number, terminal: Float64Array, kept: Float64Array | null, summary: Float64Array) =>
      k.gbmSummary({ spot, drift, volatility, dt, steps, paths, seed, antithetic }, confidence, terminal, kept, summary);
    const pmc = (w: Float64Array, m: Float64Array, l: Float64Array, assets: number, paths: number, horizon: number, seed: number, confidence: number, losses: Float64Array | null, summary: Float64Array | null) => {
      if (losses !== null) k.portfolioLosses(w, m, l, assets, paths, horizon, seed, losses);
      return summary === null ? -1 : k.mcSummary(w, m, l, assets, paths, horizon, seed, confidence, summary);
    };
    const cov = (d: Float64Array, t: number, a: number, m: 0 | 1, l: number, c: number, o: Float64Array) => k.covariance(d, t, a, m, l, c !== 0, o);
    return {
      philoxNormals: (out: Float64Array, seed: number, stream: number, first: number) => {
        if (fail) return { ok: false, code: 2, message: 'cudaErrorMemoryAllocation: out of memory (device_malloc at normals.cu:23)' };
        k.fillNormals(out, seed, stream, first);
        return { ok: true, code: 0, message: '' };
      },
      varHistorical: run(k.historical),
      varHistoricalAsync: runAsync(k.historical),
      lossMoments: run(k.moments),
      lossMomentsAsync: runAsync(k.moments),
      portfolioReturns: run(k.portfolioReturns),
      portfolioReturnsAsync: runAsync(k.portfolioReturns),
      covariance: run(cov),
      covarianceAsync: runAsync(cov),
      simulateGbm: run(gbm),
      simulateGbmAsync: runAsync(gbm),
      portfolioMc: run(pmc),
      portfolioMcAsync: runAsync(pmc),
    } as unknown as CudaAddon;
  }

  it('the GPU kernel set passes every argument through in the addon order', async () => {
    const fake = cudaKernelsOf(fakeCudaAddon(false), defaultKernels);
    expect(fake.name).toBe('cuda');
    const args = { spot: 100, drift: 0.05, volatility: 0.3, dt: 1 / 252, steps: 20, paths: 400, seed: 9, antithetic: true };
    const [t1, t2, s1, s2] = [new Float64Array(400), new Float64Array(400), new Float64Array(4), new Float64Array(4)];
    expect(await fake.gbmSummaryAsync(args, 0.99, t1, null, s1)).toBe(-1);
    expect(defaultKernels.gbmSummary(args, 0.99, t2, null, s2)).toBe(-1);
    expect(t1).toEqual(t2);
    expect(s1).toEqual(s2);
    const lower = new Float64Array(9);
    defaultKernels.cholesky(spd3, 3, lower, new Float64Array(3));
    const w = Float64Array.from(mc.weights);
    const m = new Float64Array(3);
    expect(fake.mcSummary(w, m, lower, 3, 500, 2, 4, 0.9, s1)).toBe(-1);
    defaultKernels.mcSummary(w, m, lower, 3, 500, 2, 4, 0.9, s2);
    expect(s1).toEqual(s2);
    const losses = [new Float64Array(500), new Float64Array(500)];
    await fake.portfolioLossesAsync(w, m, lower, 3, 500, 2, 4, losses[0]!);
    defaultKernels.portfolioLosses(w, m, lower, 3, 500, 2, 4, losses[1]!);
    expect(losses[0]).toEqual(losses[1]);
    const data = normals(60, 8, 0.01);
    const [c1, c2] = [new Float64Array(9), new Float64Array(9)];
    expect(fake.covariance(data, 20, 3, 1, 0.9, true, c1)).toBe(defaultKernels.covariance(data, 20, 3, 1, 0.9, true, c2));
    expect(c1).toEqual(c2);
    expect(fake.cholesky).toBe(defaultKernels.cholesky);
  });

  it('turns a device failure into a GpuError that names the CUDA call, sync and async', async () => {
    const failing = cudaKernelsOf(fakeCudaAddon(true), defaultKernels);
    const out = new Float64Array(2);
    const values = normals(100, 1);
    expect(() => failing.historical(values, -1, 0.95, out)).toThrow(GpuError);
    expect(() => failing.historical(values, -1, 0.95, out)).toThrow(/^GPU kernel failed: cudaErrorMemoryAllocation: out of memory \(device_malloc\(&buf.ptr, bytes\) at cuda\/risk\/select.cu:42\)$/);
    await expect(failing.momentsAsync(values, -1, 1, new Float64Array(4))).rejects.toThrow(/cudaErrorLaunchFailure/);
    await expect(failing.momentsAsync(values, -1, 1, new Float64Array(4))).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_GPU' });
    expect(() => failing.fillNormals(new Float64Array(4), 1, 0, 0)).toThrow(/device_malloc at normals.cu:23/);
  });

  it("'auto' redoes a failed GPU call on the CPU, says so once, and reports the CPU backend", async () => {
    // Capture the warning this test provokes instead of letting Node print it.
    const warnings: Error[] = [];
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation((warning, options) => {
      const w = typeof warning === 'string' ? new Error(warning) : warning;
      if (typeof options === 'object' && options !== null && 'code' in options) Object.assign(w, { code: options.code });
      warnings.push(w);
    });
    try {
      const values = normals(1000, 2, 0.01);
      const expected = new Float64Array(2);
      defaultKernels.historical(values, -1, 0.99, expected);
      const k = withCpuFallback(cudaKernelsOf(fakeCudaAddon(true), defaultKernels), defaultKernels);
      expect(k.name).toBe('cuda');
      const out = new Float64Array(2);
      expect(k.historical(values, -1, 0.99, out)).toBe(-1);
      expect(out).toEqual(expected);
      expect(k.name).toBe(defaultKernels.name);
      const k2 = withCpuFallback(cudaKernelsOf(fakeCudaAddon(true), defaultKernels), defaultKernels);
      const out2 = new Float64Array(2);
      expect(await k2.historicalAsync(values, -1, 0.99, out2)).toBe(-1);
      expect(out2).toEqual(expected);
      expect(k2.name).toBe(defaultKernels.name);
      // A working GPU keeps its name; an argument error is not a device failure and is not retried.
      const ok = withCpuFallback(cudaKernelsOf(fakeCudaAddon(false), defaultKernels), defaultKernels);
      ok.historical(values, -1, 0.99, out);
      expect(ok.name).toBe('cuda');
      const bad = withCpuFallback({ ...defaultKernels, name: 'cuda', historical: () => { throw new RangeError('Expected a confidence in (0, 1)'); } }, defaultKernels);
      expect(() => bad.historical(values, -1, 0.99, out)).toThrow(RangeError);
      await new Promise((r) => setImmediate(r));
      const ours = warnings.filter((w) => (w as { code?: string }).code === 'ULTRA_PERF_GPU_FALLBACK');
      // Two fallbacks, one warning: the first fallback of this test file's process.
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toMatch(/^GPU kernel failed: cudaErrorMemoryAllocation: .+; computed on the CPU instead/);
    } finally {
      emit.mockRestore();
    }
  });
});

// ---- issue 10.4: CVaR >= VaR by construction ------------------------------------------

const methods = ['historical', 'parametric', 'cornish-fisher'] as const;

/** Series that used to break CVaR >= VaR or the moments: ties, constants, tiny and huge magnitudes. */
const hardReturnsArb = fc.oneof(
  returnsArb,
  fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.integer({ min: 4, max: 400 })).map(([v, n]) => new Float64Array(n).fill(v)),
  fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 4, maxLength: 300 }).map((a) => Float64Array.from(a, (v) => v / 100)),
  fc
    .tuple(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 4, maxLength: 300 }), fc.double({ min: -1, max: 1, noNaN: true }))
    .map(([a, c]) => Float64Array.from(a, (v) => c + v * 2 ** -40)), // near-constant
  fc
    .tuple(returnsArb, fc.constantFrom(1e-300, 1e-200, 1e-160, 1e80, 1e200, 1e300))
    .map(([a, s]) => a.map((v) => v * s)),
).filter((a) => a.length >= 4);

describe('CVaR >= VaR (issue 10.4)', () => {
  const x = 0.56758051638767337;

  it('279 copies of -0.56758051638767337 give CVaR = VaR = 0.56758051638767337, sync and async', async () => {
    const r = new Float64Array(279).fill(-x);
    for (const confidence of [0.51, 0.6, 0.9, 0.95]) {
      const s = calculateVaRSync(r, { confidence });
      expect([s.var, s.cvar]).toEqual([x, x]);
      const a = await calculateVaR(r, { confidence });
      expect([a.var, a.cvar]).toEqual([x, x]);
      // Through portfolioVaR too: one asset at weight 1, and a second asset that is all zeros.
      const p1 = portfolioVaRSync({ returns: r, assets: 1, weights: [1], confidence });
      expect([p1.var, p1.cvar]).toEqual([x, x]);
      const two = new Float64Array(558);
      for (let t = 0; t < 279; t++) two[2 * t] = -x;
      const p2 = await portfolioVaR({ returns: two, assets: 2, weights: [1, 1], confidence });
      expect([p2.var, p2.cvar]).toEqual([x, x]);
    }
  });

  it('constant series of every length and path (sampled threshold, parallel scan) give CVaR = VaR exactly', () => {
    for (const n of [2, 3, 279, 4096, 5000, 300_000]) {
      for (const v of [-x, 0.1, -1e-300, 1e300]) {
        const r = new Float64Array(n).fill(v);
        for (const confidence of [0.51, 0.6, 0.9, 0.95, 0.99, 0.999]) {
          const got = calculateVaRSync(r, { confidence });
          expect(got.var).toBe(-v);
          expect(got.cvar).toBe(-v);
        }
      }
    }
  });

  it('parametric and Cornish-Fisher of a constant series are that loss, with no spread (both ddof)', async () => {
    // The summed mean of 279 copies sits ulps off the value; it used to leave a spread of
    // pure rounding and a parametric VaR 8 ulps away.
    for (const n of [4, 279, 5000, 300_000]) {
      for (const v of [-x, 0.1, 0, -1e-300, 1e300]) {
        const r = new Float64Array(n).fill(v);
        for (const method of ['parametric', 'cornish-fisher'] as const) {
          for (const ddof of [0, 1] as const) {
            for (const confidence of [0.51, 0.6, 0.9, 0.95]) {
              const got = calculateVaRSync(r, { method, ddof, confidence });
              expect([got.var + 0, got.cvar + 0]).toEqual([-v + 0, -v + 0]);
            }
          }
        }
      }
    }
    const a = await calculateVaR(new Float64Array(279).fill(-x), { method: 'parametric' });
    expect([a.var, a.cvar]).toEqual([x, x]);
  });

  it('holds for every method, ddof, confidence and series (property: ties, constants, tiny and huge magnitudes)', () => {
    fc.assert(
      fc.property(hardReturnsArb, confidenceArb, fc.constantFrom(...methods), fc.constantFrom(0 as const, 1 as const), (r, confidence, method, ddof) => {
        const got = calculateVaRSync(r, { confidence, method, ddof });
        expect(Number.isNaN(got.var)).toBe(false);
        expect(got.cvar).toBeGreaterThanOrEqual(got.var);
        // A constant: CVaR = VaR = the loss (compared as numbers: a zero loss may come out as -0).
        if (r.every((v) => v === r[0])) expect([got.var + 0, got.cvar + 0]).toEqual([-r[0]! + 0, -r[0]! + 0]);
        const scaled = calculateVaRSync(r, { confidence, method, ddof, horizonDays: 10, portfolioValue: 3e6 });
        expect(scaled.cvar).toBeGreaterThanOrEqual(scaled.var);
      }),
      { numRuns: 400 },
    );
  });

  it('holds for portfolioVaR and the async forms (property)', async () => {
    await fc.assert(
      fc.asyncProperty(hardReturnsArb, confidenceArb, fc.constantFrom(...methods), async (r, confidence, method) => {
        const assets = 2;
        const rows = Math.floor(r.length / assets);
        if (rows < 4) return;
        const returns = r.subarray(0, rows * assets);
        const p = portfolioVaRSync({ returns, assets, weights: [0.7, 0.3], confidence, method });
        expect(p.cvar).toBeGreaterThanOrEqual(p.var);
        const a = await calculateVaR(r, { confidence, method });
        expect(a.cvar).toBeGreaterThanOrEqual(a.var);
        expect([a.var, a.cvar]).toEqual([calculateVaRSync(r, { confidence, method }).var, calculateVaRSync(r, { confidence, method }).cvar]);
      }),
      { numRuns: 100 },
    );
  });

  it('simulateGBM and monteCarloVaR summaries keep CVaR >= VaR, equal on a degenerate loss (property)', async () => {
    // volatility 0: every path ends at the same S(T), so the loss is one value repeated.
    for (const confidence of [0.51, 0.6, 0.9, 0.95, 0.99]) {
      const g = simulateGBMSync({ spot: 100, drift: 0.05, volatility: 0, steps: 7, paths: 1000, seed: 3, confidence });
      expect(g.cvar).toBe(g.var);
      const ga = await simulateGBM({ spot: 100, drift: 0.05, volatility: 0, steps: 7, paths: 1000, seed: 3, confidence });
      expect(ga.cvar).toBe(ga.var);
    }
    fc.assert(
      fc.property(
        fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 300 }),
        confidenceArb,
        fc.boolean(),
        (spot, drift, volatility, steps, half, confidence, antithetic) => {
          const g = simulateGBMSync({ spot, drift, volatility, steps, paths: 2 * half, seed: half, confidence, antithetic });
          expect(g.cvar).toBeGreaterThanOrEqual(g.var);
        },
      ),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: -0.01, max: 0.01, noNaN: true }),
        fc.double({ min: 1e-12, max: 1, noNaN: true }),
        fc.integer({ min: 2, max: 500 }),
        confidenceArb,
        (w, mu, variance, paths, confidence) => {
          const m = monteCarloVaRSync({ weights: [w], means: [mu], covariance: [variance], paths, seed: paths, confidence });
          expect(m.cvar).toBeGreaterThanOrEqual(m.var);
        },
      ),
      { numRuns: 100 },
    );
    const a = await monteCarloVaR({ weights: [0.6, 0.4], means: [0.0004, 0.0002], covariance: [1e-4, 2e-5, 2e-5, 4e-5], paths: 5000, seed: 1, confidence: 0.999 });
    expect(a.cvar).toBeGreaterThanOrEqual(a.var);
  });

  it('historical VaR stays between its neighbours where their difference overflows (NumPy would give an infinity)', () => {
    for (const confidence of [0.6, 0.75]) {
      const got = calculateVaRSync([1.7e308, -1.7e308], { confidence });
      expect(Number.isFinite(got.var)).toBe(true);
      expect(got.var).toBeGreaterThanOrEqual(-1.7e308);
      expect(got.var).toBeLessThanOrEqual(1.7e308);
      expect(got.cvar).toBeGreaterThanOrEqual(got.var);
      // (1 - g)·a + g·b with h = confidence: the weighted form, since b - a overflows.
      expect(got.var).toBe((1 - confidence) * -1.7e308 + confidence * 1.7e308);
    }
  });

  it("Cornish-Fisher reports CVaR = VaR where the expansion's tail mean falls below it (the guard)", () => {
    // Losses: 80 of 0.01 and 20 of -0.04 (rare large gains): population skew -1.5 and
    // excess kurtosis 0.25 (a Bernoulli(0.2) shape), where z_cf decreases over the 95% tail.
    const r = Float64Array.from({ length: 100 }, (_, i) => (i % 5 === 0 ? 0.04 : -0.01));
    const got = calculateVaRSync(r, { method: 'cornish-fisher', ddof: 0, confidence: 0.95 });
    const S = -1.5;
    const K = 0.25;
    const z = normalQuantile(0.95);
    const lambda = normalPdf(z) / 0.05;
    // The unguarded tail mean of the expansion, as before this change: below VaR.
    const zcf = z + ((z * z - 1) * S) / 6 + ((z ** 3 - 3 * z) * K) / 24 - ((2 * z ** 3 - 5 * z) * S * S) / 36;
    const raw = lambda * (1 + (S * z) / 6 + (K * (z * z - 1)) / 24 - (S * S * (2 * z * z - 1)) / 36);
    expect(raw).toBeLessThan(zcf);
    expect(got.cvar).toBe(got.var);
    // The guard changes nothing where the expansion is monotone: a symmetric heavy tail.
    const sym = normals(4000, 9, 0.01).map((v) => v * Math.abs(v) * 50);
    const ok = calculateVaRSync(sym, { method: 'cornish-fisher', confidence: 0.95 });
    expect(ok.cvar).toBeGreaterThan(ok.var);
  });
});

// ---- issue 10.10: one moment convention ------------------------------------------------

/**
 * Reference moments of the losses, two passes in plain float64: NumPy's std(ddof) and
 * SciPy's skew/kurtosis(bias = ddof === 0) (bias=False is Joanes & Gill's G1 and G2).
 */
function referenceMoments(returns: Float64Array, ddof: 0 | 1): { mean: number; sd: number; S: number; K: number } {
  const n = returns.length;
  const losses = Float64Array.from(returns, (v) => -v);
  const mean = losses.reduce((s, v) => s + v, 0) / n;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  for (const v of losses) {
    const d = v - mean;
    s2 += d * d;
    s3 += d * d * d;
    s4 += d * d * d * d;
  }
  const m2 = s2 / n;
  const g1 = s3 / n / m2 ** 1.5;
  const g2 = s4 / n / (m2 * m2) - 3;
  const sd = Math.sqrt(s2 / (n - ddof));
  if (m2 === 0) return { mean, sd, S: 0, K: 0 }; // no spread: no shape (SciPy returns NaN)
  if (ddof === 0) return { mean, sd, S: g1, K: g2 };
  return { mean, sd, S: (g1 * Math.sqrt(n * (n - 1))) / (n - 2), K: ((n - 1) * ((n + 1) * g2 + 6)) / ((n - 2) * (n - 3)) };
}

/** The closed forms of the module header from reference moments (VaR, and CVaR before the guard). */
function referenceClosedForm(returns: Float64Array, confidence: number, method: 'parametric' | 'cornish-fisher', ddof: 0 | 1) {
  const { mean, sd, S, K } = referenceMoments(returns, ddof);
  const z = normalQuantile(confidence);
  const lambda = normalPdf(z) / (1 - confidence);
  if (method === 'parametric') return { var: mean + sd * z, cvar: mean + sd * lambda };
  const zcf = z + ((z * z - 1) * S) / 6 + ((z ** 3 - 3 * z) * K) / 24 - ((2 * z ** 3 - 5 * z) * S * S) / 36;
  return { var: mean + sd * zcf, cvar: mean + sd * lambda * (1 + (S * z) / 6 + (K * (z * z - 1)) / 24 - (S * S * (2 * z * z - 1)) / 36) };
}

describe('one moment convention, ddof (issue 10.10)', () => {
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/risk/edhec-convertible-arbitrage-100.json', import.meta.url), 'utf8')) as { returns: number[] };
  const edhec = Float64Array.from(fixture.returns);
  const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

  it("reproduces PerformanceAnalytics' edhec test with ddof 0 (test-VaR_archive_baseline.R, p = 0.95)", async () => {
    expect(edhec.length).toBe(100);
    // PerformanceAnalytics prints negative returns; we report positive losses.
    const cf = calculateVaRSync(edhec, { method: 'cornish-fisher', confidence: 0.95, ddof: 0 });
    expect(round6(cf.var)).toBe(0.014674);
    const gauss = calculateVaRSync(edhec, { method: 'parametric', confidence: 0.95, ddof: 0 });
    expect(round6(gauss.var)).toBe(0.012133);
    expect(round6(gauss.cvar)).toBe(0.017133); // ES(R[,1], method = "gaussian")
    const hist = calculateVaRSync(edhec, { confidence: 0.95 });
    expect(round6(hist.var)).toBe(0.014095);
    // The full-precision values of a NumPy/SciPy reimplementation of PerformanceAnalytics'
    // formulas on the same doubles (test/fixtures/risk/PROVENANCE.md).
    expect(cf.var).toBeCloseTo(0.014674396677485036, 14);
    expect(gauss.var).toBeCloseTo(0.012133018306082419, 14);
    expect(gauss.cvar).toBeCloseTo(0.01713253691853606, 14);
    const viaPortfolio = await portfolioVaR({ returns: edhec, assets: 1, weights: [1], method: 'cornish-fisher', confidence: 0.95, ddof: 0 });
    expect(viaPortfolio.var).toBe(cf.var);
  });

  it('defaults to sample moments (ddof 1): s, G1 and G2, as pandas and scipy bias=False', () => {
    const cf = calculateVaRSync(edhec, { method: 'cornish-fisher', confidence: 0.95 });
    // numpy std(ddof=1), scipy.stats.skew/kurtosis(bias=False) of the losses:
    // 0.014795869172065407 (VaR) and 0.023452408279951955 (the tail mean of the expansion).
    expect(cf.var).toBeCloseTo(0.014795869172065407, 14);
    expect(cf.cvar).toBeCloseTo(0.023452408279951955, 14);
    expect(calculateVaRSync(edhec, { method: 'cornish-fisher', confidence: 0.95, ddof: 1 }).var).toBe(cf.var);
    const p = calculateVaRSync(edhec, { method: 'parametric', confidence: 0.95 });
    expect(p.var).toBeCloseTo(0.012232162602606376, 14); // mean + std(ddof=1)·z
    expect(p.cvar).toBeCloseTo(0.01725686786621455, 14);
  });

  it('every moment follows ddof, on random series (property, against the two-pass reference)', () => {
    fc.assert(
      fc.property(
        // Values below 1e-60 flushed to 0: the plain reference's d^4 underflows there (the
        // extreme magnitudes have their own test below).
        returnsArb.filter((a) => a.length >= 4).map((a) => a.map((v) => (Math.abs(v) < 1e-60 ? 0 : v))),
        confidenceArb,
        fc.constantFrom('parametric' as const, 'cornish-fisher' as const),
        fc.constantFrom(0 as const, 1 as const),
        (r, confidence, method, ddof) => {
          const ref = referenceClosedForm(r, confidence, method, ddof);
          const got = calculateVaRSync(r, { confidence, method, ddof });
          const { sd } = referenceMoments(r, ddof);
          const tol = 1e-9 * (Math.abs(ref.var) + sd * 10) + 1e-300;
          expect(Math.abs(got.var - ref.var)).toBeLessThanOrEqual(tol);
          // CVaR is the tail mean of the expansion, or VaR where the guard applies.
          expect(Math.abs(got.cvar - Math.max(ref.cvar, got.var))).toBeLessThanOrEqual(tol);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps every moment at extreme magnitudes: the moments are scale-free (1e-300 .. 1e300)', () => {
    const base = normals(500, 21).map((v) => v * Math.abs(v));
    const ref = { p: calculateVaRSync(base, { method: 'parametric' }), cf: calculateVaRSync(base, { method: 'cornish-fisher', ddof: 0 }) };
    for (const s of [2 ** -1000, 2 ** -600, 2 ** 300, 2 ** 900]) {
      const scaled = base.map((v) => v * s);
      const p = calculateVaRSync(scaled, { method: 'parametric' });
      const cf = calculateVaRSync(scaled, { method: 'cornish-fisher', ddof: 0 });
      // Scaling by a power of two is exact, so only the rounding of the sums can differ.
      expect(Math.abs(p.var / s - ref.p.var)).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(cf.var / s - ref.cf.var)).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(cf.cvar / s - ref.cf.cvar)).toBeLessThanOrEqual(1e-12);
    }
  });

  it('refuses a bad ddof, naming it, and Cornish-Fisher with ddof 1 below 4 observations', async () => {
    for (const bad of [2, -1, 0.5, NaN, '1', null, true, 1n]) {
      expect(() => calculateVaRSync([0.01, -0.02, 0.03], { method: 'parametric', ddof: bad as never })).toThrow(RangeError);
      expect(() => calculateVaRSync([0.01, -0.02, 0.03], { ddof: bad as never })).toThrow(/for options\.ddof but received/);
      expect(() => portfolioVaRSync({ returns: [0.01, 0.02, -0.01, 0.0], assets: 2, weights: [1, 1], ddof: bad as never })).toThrow(
        /Expected 0 \(population moments, as PerformanceAnalytics\) or 1 \(sample moments, the default\) for options\.ddof/,
      );
      await expect(calculateVaR([0.01, -0.02, 0.03], { ddof: bad as never })).rejects.toThrow(RangeError);
    }
    expect(() => calculateVaRSync([0.01, -0.02, 0.03], { method: 'cornish-fisher' })).toThrow(
      /^Expected at least 4 observations for 'cornish-fisher' with ddof 1 .* for returns but received Float64Array\(3\)$/,
    );
    expect(() => portfolioVaRSync({ returns: [0.01, 0.02, -0.01, 0.0, 0.03, 0.01], assets: 2, weights: [1, 1], method: 'cornish-fisher' })).toThrow(
      /for options\.returns/,
    );
    const pop = calculateVaRSync([0.01, -0.02, 0.03], { method: 'cornish-fisher', ddof: 0 });
    expect(pop.cvar).toBeGreaterThanOrEqual(pop.var);
    expect(calculateVaRSync([0.01, -0.02], { method: 'parametric', ddof: 1 }).var).toBeGreaterThan(0);
  });

  it.runIf(native)('TS and C++ return the same doubles under both conventions and on the rescaled path', () => {
    const cases = [edhec, normals(10_000, 4, 0.01), normals(300, 5).map((v) => v * 1e300), normals(300, 6).map((v) => v * 1e-300), new Float64Array(279).fill(-0.56758051638767337)];
    for (const r of cases) {
      for (const ddof of [0, 1]) {
        const a = new Float64Array(4);
        const b = new Float64Array(4);
        expect(defaultKernels.moments(r, -1, ddof, a)).toBe(tsKernels.moments(r, -1, ddof, b));
        expect(a).toEqual(b);
      }
    }
  });
});
