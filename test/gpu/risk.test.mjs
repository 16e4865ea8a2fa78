// Every GPU risk kernel against the CPU addon on the same inputs and seeds: normals and
// Monte Carlo paths bit for bit, everything else to 1e-9; every error path; no leaks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { addon, allocationWalk, bitDifferences, close, covarianceError, covarianceMatches, gbmMatches, lib, maxAbsDiff, monteCarloMatches, normals, spd } from './helpers.mjs';

const {
  calculateVaR,
  calculateVaRSync,
  cholesky,
  correlationMatrix,
  correlationMatrixSync,
  covarianceMatrixSync,
  gpu,
  monteCarloVaR,
  monteCarloVaRSync,
  philoxNormals,
  portfolioVaRSync,
  simulateGBM,
  simulateGBMSync,
} = lib;

const kTol = 1e-9;

describe('Philox normals', () => {
  for (const [seed, stream, first, n] of [[42, 0, 0, 1_000_000], [2 ** 53 - 1, 7, 12_345, 100_001], [1, 2 ** 40, 2 ** 50, 3]]) {
    test(`are bit-identical to the CPU for seed ${seed}, stream ${stream}, first ${first}, n ${n}`, () => {
      const g = new Float64Array(n);
      const c = new Float64Array(n);
      assert.equal(philoxNormals(g, { seed, stream, first, backend: 'cuda' }), 'cuda');
      assert.equal(philoxNormals(c, { seed, stream, first, backend: 'native' }), 'native');
      assert.equal(bitDifferences(g, c), 0);
    });
  }
});

describe('simulateGBM', () => {
  const cases = [
    { spot: 100, drift: 0.05, volatility: 0.2, steps: 252, paths: 100_000, seed: 42 },
    { spot: 100, drift: 0.05, volatility: 0.2, steps: 252, paths: 100_000, seed: 42, antithetic: true, confidence: 0.99 },
    { spot: 7.5, drift: -0.3, volatility: 0.9, steps: 7, paths: 2, seed: 0, confidence: 0.6 },
    { spot: 50, drift: 0, volatility: 0.4, steps: 1, paths: 1_000_003, seed: 2 ** 52 + 1 },
    { spot: 1, drift: 0.1, volatility: 0, steps: 3, paths: 64, seed: 9 },
    { spot: 100, drift: 0.02, volatility: 0.3, steps: 33, paths: 1000, seed: 5, keepPaths: true },
    { spot: 100, drift: 0.02, volatility: 0.3, steps: 33, paths: 1000, seed: 5, keepPaths: true, antithetic: true },
  ];
  for (const c of cases) {
    test(`matches the CPU path for path for ${JSON.stringify(c)}`, () => gbmMatches(c));
  }

  test('async gives the same numbers and reports the GPU', async () => {
    const c = { spot: 100, drift: 0.05, volatility: 0.2, steps: 50, paths: 20_000, seed: 3, antithetic: true };
    const g = await simulateGBM({ ...c, backend: 'cuda' });
    const s = simulateGBMSync({ ...c, backend: 'cuda' });
    assert.equal(g.backend, 'cuda');
    assert.equal(bitDifferences(g.terminal, s.terminal), 0);
    assert.equal(g.var, s.var);
    const t = gpu.lastTiming();
    assert.ok(t.kernelMs > 0);
    // Issue 19.6: the copies (terminal comes back) and the host's share apart from the kernels.
    assert.ok(t.copyMs > 0, JSON.stringify(t));
    assert.ok(t.hostMs >= 0 && t.wallMs >= t.hostMs, JSON.stringify(t));
    assert.ok(t.wallMs + 0.01 >= t.kernelMs && t.wallMs + 0.01 >= t.copyMs, JSON.stringify(t));
  });

  test('an overflowing path is reported with its index, as on the CPU', () => {
    const c = { spot: 1e300, drift: 500, volatility: 1, steps: 10, paths: 8, seed: 1, dt: 1 };
    assert.throws(() => simulateGBMSync({ ...c, backend: 'native' }), /not finite .* at path 0/);
    assert.throws(() => simulateGBMSync({ ...c, backend: 'cuda' }), /not finite .* at path 0/);
  });
});

describe('monteCarloVaR', () => {
  for (const assets of [1, 2, 3, 5, 8, 9, 40]) {
    test(`matches the CPU for ${assets} assets`, () => {
      const weights = Float64Array.from({ length: assets }, (_, i) => (i % 3) - 0.7);
      const means = Float64Array.from({ length: assets }, (_, i) => 1e-4 * (i - 2));
      monteCarloMatches({ weights, means, covariance: spd(assets, assets), paths: assets > 8 ? 200_001 : 1_000_001, seed: 77, horizonDays: 10, confidence: 0.975 });
    });
  }

  test('async gives the same numbers', async () => {
    const o = { weights: [0.2, 0.3, 0.1, 0.25, 0.15], means: [0, 0, 0, 0, 0], covariance: spd(5, 1), paths: 2_000_000, seed: 8 };
    const g = await monteCarloVaR({ ...o, backend: 'cuda' });
    const s = monteCarloVaRSync({ ...o, backend: 'cuda' });
    assert.equal(g.var, s.var);
    assert.equal(g.cvar, s.cvar);
  });
});

describe('historical, parametric and Cornish-Fisher VaR', () => {
  const inputs = {
    two: Float64Array.of(0.01, -0.02),
    small: normals(4095, 1, 0.01),
    sampled: normals(4096, 2, 0.01),
    million: normals(1_000_000, 3, 0.02, 0.001),
    ties: normals(2_000_001, 4, 100).map(Math.round).map((v) => v / 1000),
    sorted: normals(300_000, 5).sort(),
    reversed: normals(300_000, 6).sort().reverse(),
    constant: new Float64Array(100_000).fill(0.003),
    zeros: Float64Array.from({ length: 50_000 }, (_, i) => (i % 2 ? 0 : -0)),
  };
  for (const [name, returns] of Object.entries(inputs)) {
    for (const confidence of [0.5000001, 0.9, 0.95, 0.99, 0.9999]) {
      test(`historical on ${name} (n ${returns.length}) at ${confidence}`, () => {
        const g = calculateVaRSync(returns, { confidence, backend: 'cuda' });
        const r = calculateVaRSync(returns, { confidence, backend: 'native' });
        assert.equal(g.backend, 'cuda');
        close(g.var, r.var, 'var', 1e-12);
        close(g.cvar, r.cvar, 'cvar');
      });
    }
  }
  for (const method of ['parametric', 'cornish-fisher']) {
    test(`${method} matches the CPU`, () => {
      const returns = normals(3_000_000, 9, 0.015, 0.0002);
      const g = calculateVaRSync(returns, { method, confidence: 0.99, horizonDays: 10, backend: 'cuda' });
      const r = calculateVaRSync(returns, { method, confidence: 0.99, horizonDays: 10, backend: 'native' });
      close(g.var, r.var, 'var');
      close(g.cvar, r.cvar, 'cvar');
    });
  }

  test('a non-finite return is named by index, as on the CPU', () => {
    const returns = normals(1_000_000, 10, 0.01);
    returns[765_432] = NaN;
    returns[900_000] = Infinity;
    assert.throws(() => calculateVaRSync(returns, { backend: 'cuda' }), /\[765432\] but received NaN/);
    assert.throws(() => calculateVaRSync(returns, { method: 'parametric', backend: 'cuda' }), /\[765432\] but received NaN/);
  });

  test('portfolioVaR matches the CPU', () => {
    const assets = 7;
    const returns = normals(200_000 * assets, 11, 0.01);
    const weights = [0.1, 0.2, 0.05, 0.15, 0.25, 0.15, 0.1];
    const g = portfolioVaRSync({ returns, assets, weights, confidence: 0.99, backend: 'cuda' });
    const r = portfolioVaRSync({ returns, assets, weights, confidence: 0.99, backend: 'native' });
    close(g.var, r.var, 'var', 1e-12);
    close(g.cvar, r.cvar, 'cvar');
  });

  test('async gives the same numbers', async () => {
    const returns = inputs.million;
    const g = await calculateVaR(returns, { confidence: 0.99, backend: 'cuda' });
    const s = calculateVaRSync(returns, { confidence: 0.99, backend: 'cuda' });
    assert.equal(g.var, s.var);
    assert.equal(g.cvar, s.cvar);
  });
});

describe('covariance and correlation', () => {
  for (const [T, N] of [[2, 1], [5, 3], [1000, 17], [1000, 64], [777, 65], [2500, 300], [10_000, 1024]]) {
    for (const method of ['pearson', 'ewma']) {
      test(`${method} ${T} x ${N} matches the CPU`, () => {
        covarianceMatches(T, N, method);
      });
    }
  }

  test('a constant asset and a NaN are reported as on the CPU', async () => {
    const data = normals(400, 12, 0.01);
    for (let t = 0; t < 100; t++) data[t * 4 + 2] = 0.5;
    assert.throws(() => correlationMatrixSync(data, { observations: 100, assets: 4, backend: 'cuda' }), /asset 2/);
    data[123] = NaN;
    assert.throws(() => correlationMatrixSync(data, { observations: 100, assets: 4, backend: 'cuda' }), /\[123\] but received NaN/);
    await assert.rejects(correlationMatrix(data, { observations: 100, assets: 4, backend: 'cuda' }), /\[123\]/);
  });

  test("cholesky with backend 'cuda' runs on the CPU and says so", async () => {
    const r = await cholesky(spd(6, 3), 6, { backend: 'cuda' });
    assert.equal(r.backend, 'native');
  });
});

describe('device failures', () => {
  const returns = normals(2_000_000, 13, 0.01);
  const returns10M = normals(10_000_000, 15, 0.01);
  const data = normals(500 * 40, 14, 0.01);
  const mc = { weights: [0.5, 0.5, 0.1], means: [0, 0, 0], covariance: spd(3, 2), paths: 500_000, seed: 1 };
  const calls = {
    historical: (backend) => calculateVaRSync(returns, { backend }),
    parametric: (backend) => calculateVaRSync(returns, { method: 'parametric', backend }),
    gbm: (backend) => simulateGBMSync({ spot: 100, drift: 0, volatility: 0.2, steps: 30, paths: 100_000, seed: 3, backend }),
    monteCarlo: (backend) => monteCarloVaRSync({ ...mc, backend }),
    correlation: (backend) => correlationMatrixSync(data, { observations: 500, assets: 40, backend }),
    // Issue 19 item 7: the sampled scan's chunk pipeline (three chunks) and its staging.
    historical10M: (backend) => calculateVaRSync(returns10M, { confidence: 0.99, backend }),
  };

  for (const [name, call] of Object.entries(calls)) {
    test(`${name}: every failed allocation is a GpuError under 'cuda' and a CPU result under 'auto'; nothing leaks`, async () => {
      await allocationWalk(call);
    });
  }

  test('a long loop of every kernel leaves free device memory where it was', () => {
    for (const call of Object.values(calls)) call('cuda');
    const before = gpu.memoryInfo().free;
    for (let i = 0; i < 20; i++) for (const call of Object.values(calls)) call('cuda');
    assert.equal(gpu.memoryInfo().free, before);
  });
});

// Issue 10, items 3 and 7: constant columns found by comparison on the device, and column
// scaling by powers of two so no finite input overflows or underflows (cuda/risk/matrix.cu).
describe('covariance and correlation: constant series and extreme magnitudes', () => {
  const pair = (x, y) => Float64Array.from(x.flatMap((v, t) => [v, y[t]]));
  const corr = (x, y, method = 'pearson') => correlationMatrixSync(pair(x, y), { observations: x.length, assets: 2, method, backend: 'cuda' }).matrix[1];

  test('a constant series is refused for a correlation and has a covariance of exactly 0', () => {
    for (const [a, b, T] of [[1.81, 0.576, 1448], [0.42, 0.1, 10]]) {
      for (const method of ['pearson', 'ewma']) {
        assert.throws(() => corr(Array(T).fill(a), Array(T).fill(b), method), /asset 0 is constant/);
      }
    }
    // Three assets, the constant one in the middle, over a split-K shape (many observations).
    const data = normals(3 * 5000, 21, 0.01);
    for (let t = 0; t < 5000; t++) data[3 * t + 1] = 1.81;
    assert.throws(() => correlationMatrixSync(data, { observations: 5000, assets: 3, backend: 'cuda' }), /asset 1 is constant/);
    const c = covarianceMatrixSync(data, { observations: 5000, assets: 3, backend: 'cuda' }).matrix;
    for (const k of [0, 1, 2]) {
      assert.equal(c[3 + k], 0);
      assert.equal(c[3 * k + 1], 0);
    }
    assert.equal(covarianceMatrixSync(Array(1448).fill(1.81), { observations: 1448, assets: 1, backend: 'cuda' }).matrix[0], 0);
  });

  test('NumPy and SciPy extreme-magnitude cases give their reference values', () => {
    // NumPy TestCorrCoef.test_extreme; SciPy TestPearsonr very large / extremely large / very small (mpmath).
    assert.equal(corr([1e-100, 1e100], [1e100, 1e-100]), -1);
    close(corr([0, 0, 0, 1, 1, 1, 1].map((v) => v * 1e90), [0, 1, 2, 3, 4, 5, 6].map((v) => v * 1e90)), 0.8660254037844386, '1e90', 1e-14);
    close(corr([2.3e200, 4.5e200, 6.7e200, 8e200], [1.2e199, 5.5e200, 3.3e201, 1.0e200]), 0.351312332103289, '1e200', 1e-13);
    close(corr([0.004434375, 0.004756007, 0.003911996, 0.0038005, 0.003409971], [2.48e-188, 7.41e-181, 4.09e-208, 2.08e-223, 2.66e-245]), 0.727293054075045, '1e-188', 1e-13);
    for (const s of [1e78, 1e-150, 1e300, 1e-300]) close(corr([1, 2, 3, 4].map((v) => v * s), [1, 3, 2, 4].map((v) => v * s)), 0.8, `scale ${s}`, 1e-14);
  });

  test('scaling a column by 2^k leaves the correlation bit-identical and matches the CPU at every magnitude', () => {
    const T = 700;
    const N = 130; // two SYRK tiles
    const data = normals(T * N, 5, 0.01, 0.001);
    for (const method of ['pearson', 'ewma']) {
      const base = correlationMatrixSync(data, { observations: T, assets: N, method, backend: 'cuda' }).matrix;
      const scaled = Float64Array.from(data);
      // 2^-450 .. 2^450: every covariance stays a normal double (the CPU tests cover ±900).
      for (let t = 0; t < T; t++) for (let j = 0; j < N; j++) scaled[t * N + j] *= 2 ** (((j * 137) % 901) - 450);
      const g = correlationMatrixSync(scaled, { observations: T, assets: N, method, backend: 'cuda' }).matrix;
      assert.equal(bitDifferences(g, base), 0, `${method}: scaled columns changed the correlation`);
      const r = correlationMatrixSync(scaled, { observations: T, assets: N, method, backend: 'native' }).matrix;
      assert.ok(maxAbsDiff(g, r) <= kTol, `correlation differs by ${maxAbsDiff(g, r)}`);
      const gc = covarianceMatrixSync(scaled, { observations: T, assets: N, method, backend: 'cuda' }).matrix;
      const rc = covarianceMatrixSync(scaled, { observations: T, assets: N, method, backend: 'native' }).matrix;
      for (let i = 0; i < N * N; i++) {
        if (rc[i] === 0 || !Number.isFinite(rc[i])) assert.equal(gc[i], rc[i]);
      }
      // Each column at its own scale: compared on the correlation scale (issue 19 item 5).
      const { error, at } = covarianceError(gc, rc, N);
      assert.ok(error <= kTol, `${method}: covariance differs by ${error} of √(c_ii c_jj) at [${Math.floor(at / N)}, ${at % N}]`);
    }
  });
});

// Issue 10, item 5: positive semi-definite covariance; the factor (zero columns) comes from
// the CPU and the device's L·z must use it as the CPU does.
describe('monteCarloVaR: positive semi-definite covariance', () => {
  const cases = {
    'cash leg (the issue case)': { weights: [1, 1], means: [0, 0.0001], covariance: [0.0004, 0, 0, 0] },
    'zero variance first, middle and last': {
      weights: [0.3, 0.2, 0.1, 0.25, 0.15],
      means: [0, 1e-4, 0, 2e-4, 0],
      covariance: [0, 0, 0, 0, 0, 0, 4e-4, 0, 1e-4, 0, 0, 0, 0, 0, 0, 0, 1e-4, 0, 9e-4, 0, 0, 0, 0, 0, 0],
    },
    'perfectly correlated pair': { weights: [0.5, 0.5, 1], means: [0, 0, 0], covariance: [4e-4, 6e-4, 0, 6e-4, 9e-4, 0, 0, 0, 1e-4] },
    'all cash': { weights: [1, 3], means: [0.0003, 0.0001], covariance: [0, 0, 0, 0] },
  };
  for (const [name, o] of Object.entries(cases)) {
    test(`${name}: matches the CPU`, () => {
      const opts = { ...o, paths: 1_000_001, seed: 7, confidence: 0.99 };
      const g = monteCarloVaRSync({ ...opts, backend: 'cuda' });
      const r = monteCarloVaRSync({ ...opts, backend: 'native' });
      assert.equal(g.backend, 'cuda');
      close(g.var, r.var, 'var');
      close(g.cvar, r.cvar, 'cvar');
      close(g.mean, r.mean, 'mean', 1e-7);
      if (name === 'all cash') {
        // A constant loss: sums about the first value leave a standard error of exactly 0 on both.
        assert.equal(g.stdError, 0);
        assert.equal(r.stdError, 0);
        assert.equal(g.mean, r.mean);
      }
    });
  }
  test('the cash-leg VaR is the closed form 0.02·Φ⁻¹(0.99) − 0.0001 (NumPy/SciPy: 0.046426957480816815)', () => {
    const g = monteCarloVaRSync({ ...cases['cash leg (the issue case)'], paths: 4_000_000, seed: 7, confidence: 0.99, backend: 'cuda' });
    // Quantile standard error at 4e6 paths: 0.02·√(0.99·0.01/4e6)/φ(2.326) ≈ 3.7e-5; allow four.
    assert.ok(Math.abs(g.var - 0.046426957480816815) < 4 * 3.7e-5, `VaR ${g.var}`);
  });
});

// Issue 10.4 and 10.10 on the device: CVaR >= VaR by construction (select.cu and the Monte
// Carlo summaries), and the moment convention through the GPU moments path.
describe('CVaR >= VaR and ddof on the GPU (issue 10.4, 10.10)', () => {
  const x = 0.56758051638767337;

  test('279 copies of -0.56758051638767337 give CVaR = VaR = 0.56758051638767337', async () => {
    const r = new Float64Array(279).fill(-x);
    for (const confidence of [0.51, 0.6, 0.9, 0.95]) {
      const g = calculateVaRSync(r, { confidence, backend: 'cuda' });
      assert.equal(g.backend, 'cuda');
      assert.deepEqual([g.var, g.cvar], [x, x]);
      const a = await calculateVaR(r, { confidence, backend: 'cuda' });
      assert.deepEqual([a.var, a.cvar], [x, x]);
      const p = portfolioVaRSync({ returns: r, assets: 1, weights: [1], confidence, backend: 'cuda' });
      assert.deepEqual([p.var, p.cvar], [x, x]);
      for (const method of ['parametric', 'cornish-fisher']) {
        for (const ddof of [0, 1]) {
          const m = calculateVaRSync(r, { method, ddof, confidence, backend: 'cuda' });
          assert.deepEqual([m.var, m.cvar], [x, x], `${method} ddof ${ddof} at ${confidence}`);
        }
      }
    }
  });

  test('constant series on the sampled and full-load paths give CVaR = VaR exactly', () => {
    for (const n of [4096, 1_000_000, 5_000_001]) {
      const r = new Float64Array(n).fill(-x);
      for (const confidence of [0.51, 0.9, 0.99, 0.9999]) {
        const g = calculateVaRSync(r, { confidence, backend: 'cuda' });
        assert.deepEqual([g.var, g.cvar], [x, x], `n ${n} at ${confidence}`);
      }
    }
  });

  test('holds for every method and ddof on ties, near-constant, tiny and huge series, and agrees with the CPU', () => {
    const base = normals(200_000, 31, 0.01);
    const inputs = {
      ties: base.map((v) => Math.round(v * 300) / 30_000),
      nearConstant: base.map((v) => 0.2 + Math.round(v * 100) * 2 ** -40),
      tiny: base.map((v) => v * 1e-300),
      huge: base.map((v) => v * 1e300),
    };
    for (const [name, returns] of Object.entries(inputs)) {
      for (const method of ['historical', 'parametric', 'cornish-fisher']) {
        for (const ddof of [0, 1]) {
          for (const confidence of [0.51, 0.95, 0.999]) {
            const g = calculateVaRSync(returns, { method, ddof, confidence, backend: 'cuda' });
            const r = calculateVaRSync(returns, { method, ddof, confidence, backend: 'native' });
            const what = `${method} ddof ${ddof} on ${name} at ${confidence}`;
            assert.ok(g.cvar >= g.var, `${what}: GPU CVaR ${g.cvar} < VaR ${g.var}`);
            close(g.var, r.var, `${what} var`);
            close(g.cvar, r.cvar, `${what} cvar`);
          }
        }
      }
    }
  });

  test("ddof 0 reproduces PerformanceAnalytics' edhec value on the device", async () => {
    const { readFileSync } = await import('node:fs');
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/risk/edhec-convertible-arbitrage-100.json', import.meta.url), 'utf8'));
    const edhec = Float64Array.from(fixture.returns);
    const g = calculateVaRSync(edhec, { method: 'cornish-fisher', confidence: 0.95, ddof: 0, backend: 'cuda' });
    assert.equal(Math.round(g.var * 1e6) / 1e6, 0.014674);
    const d = calculateVaRSync(edhec, { method: 'cornish-fisher', confidence: 0.95, backend: 'cuda' });
    close(d.var, calculateVaRSync(edhec, { method: 'cornish-fisher', confidence: 0.95, backend: 'native' }).var, 'default ddof var');
    assert.throws(() => addon.lossMoments(edhec, -1, 2, new Float64Array(4)), RangeError);
  });

  test('Monte Carlo summaries on the device keep CVaR >= VaR, equal on a degenerate loss', async () => {
    for (const confidence of [0.51, 0.6, 0.9, 0.95, 0.99]) {
      const g = simulateGBMSync({ spot: 100, drift: 0.05, volatility: 0, steps: 7, paths: 100_000, seed: 3, confidence, backend: 'cuda' });
      assert.equal(g.cvar, g.var);
      const m = await monteCarloVaR({ weights: [1, -0.5], means: [0.001, 0], covariance: spd(2, 3), paths: 1_000_000, seed: Math.round(confidence * 100), confidence, backend: 'cuda' });
      assert.ok(m.cvar >= m.var, `monteCarloVaR at ${confidence}: CVaR ${m.cvar} < VaR ${m.var}`);
      const s = simulateGBMSync({ spot: 100, drift: 0.05, volatility: 0.3, steps: 5, paths: 1_000_000, seed: 4, confidence, backend: 'cuda' });
      assert.ok(s.cvar >= s.var, `simulateGBM at ${confidence}: CVaR ${s.cvar} < VaR ${s.var}`);
    }
  });
});
