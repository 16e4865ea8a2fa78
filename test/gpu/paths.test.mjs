// Issue 19 item 7: every path of the GPU kernels reached by sizes, against the CPU addon.
// Historical VaR above the sampling threshold through the two-stream chunk pipeline
// (several 32 MiB chunks, a one-value last chunk, a bad value in a later chunk), GBM and
// Monte Carlo with enough paths that the device-side selection scans two chunks, the
// portfolio kernel past one 32-asset staging pass, and the SYRK with no observation split
// (N > 2,816) and with more than 65,535 observations (the column grids' y limit).
// Forced candidate misses, overflows and pageable copies: forced.test.mjs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { addon, close, covarianceMatches, cpuAddon, gbmMatches, historicalMatches, lib, monteCarloMatches, normals } from './helpers.mjs';

const { calculateVaR, calculateVaRSync, portfolioVaRSync } = lib;

const kTol = 1e-9;
// select.cu's chunk: 32 MiB of doubles.
const kChunk = (32 * 2 ** 20) / 8;

describe('historical VaR above the sampling threshold (>= 10M values, several chunks)', () => {
  const n = 10_000_003;
  const inputs = {
    normal: () => normals(n, 101, 0.01, 0.0002),
    ties: () => normals(n, 102, 100).map(Math.round).map((v) => v / 1000),
    sorted: () => normals(n, 103, 0.01).sort(),
    reversed: () => normals(n, 104, 0.01).sort().reverse(),
    'three whole chunks': () => normals(3 * kChunk, 105, 0.02),
    'a one-value last chunk': () => normals(2 * kChunk + 1, 106, 0.02),
  };
  for (const [name, make] of Object.entries(inputs)) {
    test(`${name}: matches the CPU at every confidence`, () => {
      const returns = make();
      for (const confidence of [0.5000001, 0.95, 0.99, 0.9999]) historicalMatches(returns, confidence, `${name} (n ${returns.length}) at ${confidence}`);
    });
  }

  test('async over 10M values gives the sync numbers', async () => {
    const returns = normals(n, 107, 0.01);
    const a = await calculateVaR(returns, { confidence: 0.99, backend: 'cuda' });
    const s = calculateVaRSync(returns, { confidence: 0.99, backend: 'cuda' });
    assert.deepEqual([a.var, a.cvar, a.backend], [s.var, s.cvar, 'cuda']);
  });

  test('a non-finite value in a later chunk is named by its index, as on the CPU', () => {
    const returns = normals(n, 108, 0.01);
    for (const at of [kChunk + 5, 2 * kChunk, n - 1]) {
      const bad = Float64Array.from(returns);
      bad[at] = NaN;
      bad[n - 1] = at === n - 1 ? NaN : Infinity;
      const pattern = new RegExp(`\\[${at}\\] but received NaN`);
      assert.throws(() => calculateVaRSync(bad, { backend: 'native' }), pattern);
      assert.throws(() => calculateVaRSync(bad, { backend: 'cuda' }), pattern);
    }
  });
});

describe('GBM and Monte Carlo with >= 6M paths (device selection over two chunks)', () => {
  for (const c of [
    { spot: 100, drift: 0.05, volatility: 0.2, steps: 3, paths: 6_000_001, seed: 61, confidence: 0.99 },
    { spot: 100, drift: 0.05, volatility: 0.2, steps: 2, paths: 6_000_000, seed: 62, antithetic: true, confidence: 0.999 },
    { spot: 40, drift: -0.1, volatility: 0.5, steps: 1, paths: 6_000_001, seed: 63, keepPaths: true, confidence: 0.95 },
  ]) {
    test(`simulateGBM ${JSON.stringify(c)} matches the CPU path for path`, () => gbmMatches(c));
  }

  for (const assets of [5, 40]) {
    test(`monteCarloVaR with ${assets} assets and 6,000,001 paths matches the CPU`, () => {
      const weights = Float64Array.from({ length: assets }, (_, i) => ((i % 4) - 1.2) / assets);
      const means = Float64Array.from({ length: assets }, (_, i) => 1e-4 * (i % 3));
      const covariance = lib.covarianceMatrixSync(normals(300 * assets, 64 + assets, 0.01), { observations: 300, assets, backend: 'native' }).matrix;
      monteCarloMatches({ weights, means, covariance, paths: 6_000_001, seed: 65, horizonDays: 5, confidence: 0.99 });
    });
  }
});

describe('the portfolio kernel with more than 32 assets (several staging passes)', () => {
  for (const assets of [33, 64, 100]) {
    test(`${assets} assets: each row and the VaR match the CPU`, () => {
      const T = 100_003;
      const returns = normals(T * assets, 70 + assets, 0.01);
      const weights = Float64Array.from({ length: assets }, (_, i) => (((i * 7) % 11) - 4) / assets);
      const g = new Float64Array(T);
      const c = new Float64Array(T);
      assert.equal(addon.portfolioReturns(returns, T, assets, weights, g), -1);
      assert.equal(cpuAddon.portfolioReturns(returns, T, assets, weights, c), -1);
      // Assets are summed in order on both; the device may fuse a multiply-add, so each row
      // agrees to rounding of the sum's magnitude (cancellation-aware), not bit for bit.
      for (let t = 0; t < T; t++) {
        let size = 0;
        for (let a = 0; a < assets; a++) size += Math.abs(weights[a] * returns[t * assets + a]);
        // Two in-order sums of `assets` terms differ by at most assets * 2^-52 of their size.
        assert.ok(Math.abs(g[t] - c[t]) <= assets * 2 ** -52 * size, `row ${t}: GPU ${g[t]} vs CPU ${c[t]} (scale ${size})`);
      }
      const gv = portfolioVaRSync({ returns, assets, weights, confidence: 0.99, backend: 'cuda' });
      const rv = portfolioVaRSync({ returns, assets, weights, confidence: 0.99, backend: 'native' });
      assert.equal(gv.backend, 'cuda');
      close(gv.var, rv.var, 'var', 1e-12);
      close(gv.cvar, rv.cvar, 'cvar');
    });
  }
});

describe('the SYRK with no observation split and with more than 65,535 observations', () => {
  // N > 2,816: 23 tiles a side, 276 tile blocks >= 256, so no split. T > 65,535: the centring
  // grid strides past its y limit; T > 65,535 * 64 (4.3M x 2, 4.4 GB padded on the device):
  // the column passes take longer row chunks than 64.
  for (const [T, N] of [[600, 2817], [400, 2900], [70_001, 3], [100_000, 130], [65_536 * 2 + 7, 64], [4_300_001, 2]]) {
    for (const method of ['pearson', 'ewma']) {
      test(`${method} ${T} x ${N} matches the CPU`, () => {
        covarianceMatches(T, N, method);
      });
    }
  }
});
