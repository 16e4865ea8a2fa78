// Shared by the device checks: the built library (dist/), the GPU addon it loaded, and
// small references. Plain Node (node:test), so a machine with only a Node binary and
// this checkout (dist/, build/, build-cuda/ built) can run them: no node_modules needed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The pure comparisons (covarianceError: issue 19 item 5) live in compare.mjs, which the CPU
// suite test/gpu-helpers.test.ts imports without a built package.
import { bitDifferences, covarianceError, maxAbsDiff, maxRelDiff, relDiff } from './compare.mjs';

export { bitDifferences, covarianceClose, covarianceError, maxAbsDiff, maxRelDiff, relDiff } from './compare.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const lib = await import(join(root, 'dist', 'index.js'));

const candidates = [
  join(root, 'build-cuda', 'Release', 'ultra_perf_cuda.node'),
  join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'cuda', 'ultra_perf_cuda.node'),
];
/** The same module object the library loaded (require caches by path). */
export const addon = (() => {
  const path = candidates.find((p) => existsSync(p));
  return path === undefined ? null : createRequire(import.meta.url)(path);
})();

/** The CPU addon, for raw-kernel comparisons (the same signatures as `addon`). */
export const cpuAddon = (() => {
  const path = join(root, 'build', 'Release', 'ultra_performance.node');
  return existsSync(path) ? createRequire(import.meta.url)(path) : null;
})();

/** Deterministic normals from the library's own generator (CPU backend). */
export function normals(n, seed, scale = 1, shift = 0) {
  const z = new Float64Array(n);
  lib.philoxNormals(z, { seed, backend: 'native' });
  for (let i = 0; i < n; i++) z[i] = shift + scale * z[i];
  return z;
}

/** A symmetric positive-definite n x n covariance (B·Bᵀ + n·I, scaled to daily size). */
export function spd(n, seed) {
  const b = normals(n * n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
      a[i * n + j] = a[j * n + i] = s * 1e-5;
    }
  }
  return a;
}

/** Every threshold at zero, so 'auto' sends everything it can to the GPU, then restored. */
export async function withGpuAuto(fn) {
  const saved = { ...lib.riskThresholds };
  lib.setRiskThresholds({ gbmPathSteps: 0, monteCarloDraws: 0, covarianceWork: 0, varObservations: 0 });
  try {
    return await fn();
  } finally {
    lib.setRiskThresholds(saved);
  }
}

/**
 * Fails each device allocation of `call(backend)` in turn (addon.failAllocation): under
 * 'cuda' each is a GpuError naming device_malloc and file:line, under 'auto' the CPU's
 * result; stops at the first call that no failure reaches. Free device memory must be
 * where it was. Returns how many allocations were failed (at least one).
 */
export async function allocationWalk(call) {
  const expected = call('native');
  call('cuda');
  const before = lib.gpu.memoryInfo().free;
  let failures = 0;
  for (let k = 0; k < 64; k++) {
    addon.failAllocation(k);
    let result;
    try {
      result = call('cuda');
    } catch (err) {
      assert.ok(err instanceof lib.GpuError, `allocation ${k}: ${err}`);
      assert.match(err.message, /^GPU kernel failed: cudaErrorMemoryAllocation: .+ \(device_malloc\(.+ at .+\.cu:\d+\)$/);
      failures++;
      addon.failAllocation(k);
      const fallback = await withGpuAuto(() => call('auto'));
      assert.equal(fallback.backend, 'native');
      assert.deepEqual(fallback.var ?? fallback.matrix, expected.var ?? expected.matrix);
      continue;
    } finally {
      addon.failAllocation(-1);
    }
    assert.equal(result.backend, 'cuda');
    break;
  }
  assert.ok(failures > 0, 'no allocation was failed: the hook did not reach this kernel');
  assert.equal(lib.gpu.memoryInfo().free, before, 'device memory leaked on an error path');
  return failures;
}

/**
 * Covariance and correlation of T x N normals by `method` on the device against the CPU
 * addon: covariances on the correlation scale, |g - c| <= 1e-9 * sqrt(c_ii c_jj) (issue 19
 * item 5: a relative test with a 1e-12 floor failed a correct kernel on entries near
 * 1e-13), correlations to 1e-9 absolute (they live on [-1, 1]), a diagonal of ones.
 */
export function covarianceMatches(T, N, method, tol = 1e-9) {
  const data = normals(T * N, T + N, 0.01, 0.0005);
  const o = { observations: T, assets: N, method, lambda: 0.97 };
  const gc = lib.covarianceMatrixSync(data, { ...o, backend: 'cuda' });
  const rc = lib.covarianceMatrixSync(data, { ...o, backend: 'native' });
  assert.equal(gc.backend, 'cuda');
  const { error, at } = covarianceError(gc.matrix, rc.matrix, N);
  assert.ok(error <= tol, `covariance differs by ${error} of √(c_ii c_jj) at [${Math.floor(at / N)}, ${at % N}]`);
  const g = lib.correlationMatrixSync(data, { ...o, backend: 'cuda' });
  const r = lib.correlationMatrixSync(data, { ...o, backend: 'native' });
  assert.ok(maxAbsDiff(g.matrix, r.matrix) <= tol, `correlation differs by ${maxAbsDiff(g.matrix, r.matrix)}`);
  for (let i = 0; i < N; i++) assert.equal(g.matrix[i * N + i], 1);
}

/** a (GPU) within tol of b (CPU), relative. */
export function close(a, b, what, tol = 1e-9) {
  assert.ok(relDiff(a, b) <= tol, `${what}: GPU ${a} vs CPU ${b} (relative difference ${relDiff(a, b)})`);
}

/** simulateGBM on the device against the CPU: S(T) and kept paths bit for bit, summaries to 1e-9 (stdError 1e-7). */
export function gbmMatches(c) {
  const g = lib.simulateGBMSync({ ...c, backend: 'cuda' });
  const r = lib.simulateGBMSync({ ...c, backend: 'native' });
  assert.equal(g.backend, 'cuda');
  assert.equal(bitDifferences(g.terminal, r.terminal), 0, 'S(T) differs from the CPU');
  if (c.keepPaths) assert.equal(bitDifferences(g.pathValues, r.pathValues), 0, 'kept paths differ from the CPU');
  close(g.var, r.var, 'var');
  close(g.cvar, r.cvar, 'cvar');
  close(g.mean, r.mean, 'mean');
  if (Number.isNaN(r.stdError)) assert.ok(Number.isNaN(g.stdError));
  else close(g.stdError, r.stdError, 'stdError', 1e-7);
}

/** monteCarloVaR on the device against the CPU: VaR and CVaR to 1e-9, mean and stdError to 1e-7. */
export function monteCarloMatches(o) {
  const g = lib.monteCarloVaRSync({ ...o, backend: 'cuda' });
  const r = lib.monteCarloVaRSync({ ...o, backend: 'native' });
  assert.equal(g.backend, 'cuda');
  close(g.var, r.var, 'var');
  close(g.cvar, r.cvar, 'cvar');
  close(g.mean, r.mean, 'mean', 1e-7);
  close(g.stdError, r.stdError, 'stdError', 1e-7);
}

/** Historical VaR on the device against the CPU: VaR to 1e-12, CVaR to 1e-9, CVaR >= VaR. */
export function historicalMatches(returns, confidence, what) {
  const g = lib.calculateVaRSync(returns, { confidence, backend: 'cuda' });
  const r = lib.calculateVaRSync(returns, { confidence, backend: 'native' });
  assert.equal(g.backend, 'cuda');
  close(g.var, r.var, `${what} var`, 1e-12);
  close(g.cvar, r.cvar, `${what} cvar`);
  assert.ok(g.cvar >= g.var, `${what}: CVaR ${g.cvar} < VaR ${g.var}`);
}
