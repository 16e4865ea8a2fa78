// Run by forced.test.mjs in a child process with ULTRA_PERF_CUDA_TEST_HOOKS set (the hooks
// are read once per process: cuda/device.cuh). Every case must still match the CPU addon;
// before each case a line "case: <name>" goes to stderr, so the parent can check that the
// hook's own stderr line ("ultra-performance cuda test hook: ...") came from that case.
// Exits non-zero on the first mismatch. Not a node:test file: run.sh runs forced.test.mjs.
import assert from 'node:assert/strict';

import { allocationWalk, gbmMatches, historicalMatches, lib, monteCarloMatches, normals } from './helpers.mjs';

const { calculateVaRSync, correlationMatrixSync } = lib;

function historical(returns, what) {
  for (const confidence of [0.95, 0.99, 0.9999]) historicalMatches(returns, confidence, `${what} at ${confidence}`);
}

const n = 10_000_003;
const returns = normals(n, 201, 0.01, 0.0001);
const cases = {
  'historical normal 10M': () => historical(returns, 'normal'),
  'historical ties 10M': () => historical(normals(n, 202, 100).map(Math.round).map((v) => v / 1000), 'ties'),
  'historical sorted 10M': () => historical(normals(n, 203, 0.01).sort(), 'sorted'),
  'historical reversed 10M': () => historical(normals(n, 204, 0.01).sort().reverse(), 'reversed'),
  // Half the losses tie at the threshold: the candidate room would exceed n, so no scan.
  'historical full load 10M': () => historical(Float64Array.from({ length: n }, (_, i) => (i % 2) * -0.01), 'full load'),
  'gbm 6M paths': () => gbmMatches({ spot: 100, drift: 0.03, volatility: 0.25, steps: 2, paths: 6_000_001, seed: 205, confidence: 0.99 }),
  'monteCarlo 6M paths': () =>
    monteCarloMatches({ weights: [0.4, 0.3, -0.2], means: [1e-4, 0, 2e-4], covariance: [4e-4, 1e-4, 0, 1e-4, 9e-4, 2e-4, 0, 2e-4, 1e-4], paths: 6_000_001, seed: 206, confidence: 0.99 }),
  'correlation 3000 x 300': () => {
    const data = normals(3000 * 300, 207, 0.01);
    const g = correlationMatrixSync(data, { observations: 3000, assets: 300, backend: 'cuda' }).matrix;
    const r = correlationMatrixSync(data, { observations: 3000, assets: 300, backend: 'native' }).matrix;
    for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - r[i]) <= 1e-9 * Math.max(Math.abs(r[i]), 1e-6), `correlation ${i}`);
  },
  'allocation walk historical 10M': () => allocationWalk((backend) => calculateVaRSync(returns, { confidence: 0.99, backend })),
};

for (const [name, run] of Object.entries(cases)) {
  process.stderr.write(`case: ${name}\n`);
  await run();
}
process.stdout.write(`forced-child: ${Object.keys(cases).length} cases passed under ${process.env.ULTRA_PERF_CUDA_TEST_HOOKS}\n`);
