// Shared by the device checks: the built library (dist/), the GPU addon it loaded, and
// small references. Plain Node (node:test), so a machine with only a Node binary and
// this checkout (dist/, build/, build-cuda/ built) can run them: no node_modules needed.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

export function relDiff(a, b) {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

export function maxRelDiff(a, b, floor = 1e-300) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), Math.abs(b[i]), floor));
  return m;
}

export function bitDifferences(a, b) {
  const x = new BigUint64Array(a.buffer, a.byteOffset, a.length);
  const y = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) d++;
  return d;
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
