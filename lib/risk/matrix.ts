/**
 * Covariance, correlation and Cholesky. Matrices are row-major Float64Arrays.
 * - Pearson: cov_ij = Σ_t (x_ti - m_i)(x_tj - m_j) / (T - 1), two passes (means first).
 * - EWMA (RiskMetrics): zero mean, weights w_t ∝ λ^(T-1-t) with the LAST row the newest,
 *   normalised to Σ w_t = 1; cov_ij = Σ_t w_t x_ti x_tj. λ defaults to 0.94.
 * - correlation: cov_ij / √(cov_ii · cov_jj), clipped to [-1, 1] (as NumPy's corrcoef
 *   does), diagonal exactly 1; a constant asset (all values equal, or under EWMA all its
 *   weighted values zero) is an error.
 * - Exact at every scale: each column is scaled by a power of two near its largest
 *   magnitude (exact), Pearson columns are shifted by their first value before the mean
 *   is taken (a constant column is exactly zero), and a covariance is scaled back exactly,
 *   so no finite input overflows or underflows in the sums or the normalisation.
 * - Cholesky accepts positive semi-definite matrices: a pivot within n·2^-52·max a_kk
 *   of zero gives a zero column (see cholesky()).
 * Native: a register-tiled SIMD Gram product (AVX-512F or AVX2+FMA, picked at run time)
 * over a transposed copy, split over threads for large inputs. TS: the same sums in plain loops.
 * The two agree to ~1e-15 relative, not bit for bit (different summation order).
 */
import { invalidRange } from '../errors.js';
import { backendOption, kBackendPolicies } from '../internal/backend.js';
import { type OptionSpecs, type OptionsSchema, defineOptions, oneOfCheck, readOptions } from '../internal/options.js';
import {
  type RiskBackend,
  type RiskBackendChoice,
  type RiskBackendOption,
  type RiskKernels,
  defaultKernels,
  kernelsFor,
  kZeroVarianceStatus,
} from './kernels.js';
import { psdTolerance } from './kernels-ts.js';
import { checkFiniteArray, kMaxAssets, kMaxElements, nonFiniteError, riskChecks, toFloat64, withCallerStack } from './validate.js';

export interface MatrixOptions {
  /** Rows of `data` (T). */
  observations: number;
  /** Columns of `data` (N). */
  assets: number;
  /** Default 'pearson'. */
  method?: 'pearson' | 'ewma';
  /** EWMA decay in (0, 1); default 0.94 (RiskMetrics daily). */
  lambda?: number;
  backend?: RiskBackendOption;
}

export interface MatrixResult {
  /** assets x assets, row-major, symmetric. */
  matrix: Float64Array;
  assets: number;
  method: 'pearson' | 'ewma';
  backend: RiskBackend;
  computeTimeMs: number;
}

export interface CholeskyResult {
  /** Lower-triangular L (row-major, zeros above the diagonal) with L·Lᵀ = matrix; zero columns for zero-variance directions. */
  lower: Float64Array;
  n: number;
  backend: RiskBackend;
  computeTimeMs: number;
}

interface CovPlan {
  data: Float64Array;
  T: number;
  N: number;
  method: 'pearson' | 'ewma';
  lambda: number;
  out: Float64Array;
  kernels: RiskKernels;
}

/** The options of the four matrix functions: the one table of their checks and defaults. */
function matrixSpecs(fn: string): OptionSpecs {
  return {
    observations: { check: riskChecks.integer(2, kMaxElements), always: true },
    assets: { check: riskChecks.integer(1, kMaxAssets), always: true },
    method: { check: oneOfCheck(['pearson', 'ewma']), default: 'pearson' },
    lambda: {
      check: (value, argument) => {
        if (typeof value !== 'number' || !(value > 0 && value < 1)) throw invalidRange(argument, 'a decay factor in (0, 1)', value);
        return value;
      },
      default: 0.94,
    },
    backend: backendOption(kBackendPolicies.risk, fn),
  };
}

const kMatrixSchemas = {
  correlationMatrix: defineOptions('correlationMatrix', matrixSpecs('correlationMatrix')),
  correlationMatrixSync: defineOptions('correlationMatrixSync', matrixSpecs('correlationMatrixSync')),
  covarianceMatrix: defineOptions('covarianceMatrix', matrixSpecs('covarianceMatrix')),
  covarianceMatrixSync: defineOptions('covarianceMatrixSync', matrixSpecs('covarianceMatrixSync')),
};

function planCov(schema: OptionsSchema, data: unknown, options: unknown): CovPlan {
  const opts = readOptions(schema, options, { required: true, what: 'an options object with observations and assets' });
  const T = opts.observations as number;
  const N = opts.assets as number;
  const arr = toFloat64('data', data, 2, 'numbers');
  if (arr.length !== T * N) {
    throw invalidRange('data', `${T * N} numbers (options.observations ${T} x options.assets ${N})`, data);
  }
  const method = opts.method as 'pearson' | 'ewma';
  const kernels = kernelsFor(opts.backend as RiskBackendChoice, 'covarianceWork', T * N * N);
  return { data: arr, T, N, method, lambda: opts.lambda as number, out: new Float64Array(N * N), kernels };
}

function finishCov(p: CovPlan, status: number, started: number): MatrixResult {
  if (status >= 0) throw nonFiniteError('data', p.data, status);
  if (status <= kZeroVarianceStatus) {
    const asset = kZeroVarianceStatus - status;
    throw invalidRange('data', `assets with non-zero variance for a correlation (asset ${asset} is constant: all its values are equal${p.method === 'ewma' ? ', or all its weighted values are zero' : ''})`, p.data);
  }
  return { matrix: p.out, assets: p.N, method: p.method, backend: p.kernels.name, computeTimeMs: performance.now() - started };
}

function covSync(schema: OptionsSchema, data: unknown, options: unknown, correlation: boolean): MatrixResult {
  const started = performance.now();
  const p = planCov(schema, data, options);
  const status = p.kernels.covariance(p.data, p.T, p.N, p.method === 'pearson' ? 0 : 1, p.lambda, correlation, p.out);
  return finishCov(p, status, started);
}

function covAsync(schema: OptionsSchema, data: unknown, options: unknown, correlation: boolean): Promise<MatrixResult> {
  const started = performance.now();
  let p: CovPlan;
  try {
    p = planCov(schema, data, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return withCallerStack(async () => {
    const status = await p.kernels.covarianceAsync(p.data, p.T, p.N, p.method === 'pearson' ? 0 : 1, p.lambda, correlation, p.out);
    return finishCov(p, status, started);
  });
}

/**
 * Correlation matrix of T observations x N assets (row-major `data`), off the JS thread.
 * @example
 * import { correlationMatrix } from 'ultra-performance';
 * const { matrix } = await correlationMatrix(returns, { observations: 2520, assets: 500 });
 * const rho01 = matrix[0 * 500 + 1];
 */
export function correlationMatrix(data: Float64Array | number[], options: MatrixOptions): Promise<MatrixResult> {
  return covAsync(kMatrixSchemas.correlationMatrix, data, options, true);
}

/**
 * correlationMatrix on the calling thread.
 * @example
 * import { correlationMatrixSync } from 'ultra-performance';
 * const { matrix } = correlationMatrixSync(returns, { observations: 250, assets: 10, method: 'ewma' });
 */
export function correlationMatrixSync(data: Float64Array | number[], options: MatrixOptions): MatrixResult {
  return covSync(kMatrixSchemas.correlationMatrixSync, data, options, true);
}

/**
 * Covariance matrix (Pearson with T - 1, or EWMA), off the JS thread.
 * @example
 * import { covarianceMatrix } from 'ultra-performance';
 * const { matrix } = await covarianceMatrix(returns, { observations: 1000, assets: 100, method: 'ewma', lambda: 0.97 });
 */
export function covarianceMatrix(data: Float64Array | number[], options: MatrixOptions): Promise<MatrixResult> {
  return covAsync(kMatrixSchemas.covarianceMatrix, data, options, false);
}

/**
 * covarianceMatrix on the calling thread.
 * @example
 * import { covarianceMatrixSync } from 'ultra-performance';
 * const { matrix } = covarianceMatrixSync(returns, { observations: 250, assets: 5 });
 */
export function covarianceMatrixSync(data: Float64Array | number[], options: MatrixOptions): MatrixResult {
  return covSync(kMatrixSchemas.covarianceMatrixSync, data, options, false);
}

interface CholPlan {
  a: Float64Array;
  n: number;
  lower: Float64Array;
  /** [pivot, -1, Rayleigh quotient] or [pivot, row, entry] when the factorization fails. */
  failure: Float64Array;
  kernels: RiskKernels;
}

/** Relative tolerance of the symmetry check: a_ij and a_ji may differ by rounding only. */
const kSymmetryTolerance = 1e-12;

/**
 * True when every entry is finite and a_ij === a_ji (a covariance from this library or NumPy):
 * one visit per pair, in 16 x 16 tiles so the column reads stay in cache; anything else
 * (rounding asymmetry, a bad entry) is left to the exact checks, which name it. At n = 100
 * this takes less than half the time of the finiteness and tolerance passes, which took
 * longer than the native factorization itself.
 */
function exactlySymmetricAndFinite(a: Float64Array, n: number): boolean {
  for (let i = 0; i < n; i++) {
    const d = a[i * n + i]!;
    if (d - d !== 0) return false;
  }
  for (let i0 = 0; i0 < n; i0 += 16) {
    const i1 = Math.min(i0 + 16, n);
    for (let j0 = 0; j0 < i1; j0 += 16) {
      for (let i = Math.max(i0, j0 + 1); i < i1; i++) {
        const row = i * n;
        const j1 = Math.min(j0 + 16, i);
        for (let j = j0, col = j0 * n + i; j < j1; j++, col += n) {
          const x = a[row + j]!;
          if (x !== a[col]! || x - x !== 0) return false;
        }
      }
    }
  }
  return true;
}

/** Checks n, finiteness and symmetry of an n x n row-major matrix; returns it as a Float64Array. */
export function checkSymmetric(name: string, matrix: unknown, n: number): Float64Array {
  const a = toFloat64(name, matrix, 1, 'numbers');
  if (a.length !== n * n) throw invalidRange(name, `${n * n} numbers (an n x n matrix, n = ${n})`, matrix);
  if (exactlySymmetricAndFinite(a, n)) return a;
  checkFiniteArray(name, a);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const x = a[i * n + j]!;
      const y = a[j * n + i]!;
      if (Math.abs(x - y) > kSymmetryTolerance * Math.max(Math.abs(x), Math.abs(y))) {
        throw invalidRange(name, `a symmetric matrix (${name}[${i * n + j}] = ${x} at row ${i}, column ${j} differs from ${y} at row ${j}, column ${i})`, matrix);
      }
    }
  }
  return a;
}

const kCholeskySchemas = {
  cholesky: defineOptions('cholesky', { backend: backendOption(kBackendPolicies.risk, 'cholesky') }),
  choleskySync: defineOptions('choleskySync', { backend: backendOption(kBackendPolicies.risk, 'choleskySync') }),
};

function planCholesky(schema: OptionsSchema, matrix: unknown, n: unknown, options: unknown): CholPlan {
  const size = riskChecks.integer(1, kMaxAssets)(n, 'n') as number;
  const a = checkSymmetric('matrix', matrix, size);
  const b = readOptions(schema, options).backend as RiskBackendChoice;
  // No GPU Cholesky: one matrix of at most 4096^2 is a CPU job. 'cuda' still demands a
  // device (and fails clearly without one), then computes here and reports the CPU.
  if (b === 'cuda') kernelsFor(b, 'covarianceWork', 0);
  const kernels = b === 'native' || b === 'ts' ? kernelsFor(b, 'covarianceWork', 0) : defaultKernels;
  return { a, n: size, lower: new Float64Array(size * size), failure: new Float64Array(3), kernels };
}

/**
 * The error for a failed factorization: the matrix has a negative eigenvalue beyond the
 * tolerance. `failure` is the kernel's [pivot, -1, Rayleigh quotient] or [pivot, row, entry].
 */
export function notPositiveSemiDefinite(name: string, index: number, failure: Float64Array, matrix: Float64Array): RangeError {
  const pivot = failure[0]!;
  const row = failure[1]!;
  const value = failure[2]!;
  const tol = psdTolerance(matrix, Math.round(Math.sqrt(matrix.length)));
  const why =
    row < 0
      ? `Cholesky pivot ${index} is ${pivot}, below the tolerance ${-tol} (n x 2^-52 x the largest diagonal entry), and the direction it exposes has the Rayleigh quotient ${value}, so the matrix has an eigenvalue <= ${value}`
      : `Cholesky pivot ${index} is ${pivot}, zero within the tolerance ${tol}, but row ${row} of its column is ${value} after elimination, not zero, so the matrix has a negative eigenvalue`;
  return invalidRange(name, `a symmetric positive semi-definite matrix (${why})`, matrix);
}

function finishCholesky(p: CholPlan, status: number, started: number): CholeskyResult {
  if (status >= 0) throw notPositiveSemiDefinite('matrix', status, p.failure, p.a);
  return { lower: p.lower, n: p.n, backend: p.kernels.name, computeTimeMs: performance.now() - started };
}

/**
 * Cholesky factor of a symmetric positive semi-definite n x n matrix, off the JS thread:
 * lower-triangular L with L·Lᵀ = matrix. Unpivoted; a pivot within
 * tol = n·2^-52·(largest diagonal entry) of zero (LAPACK dpstrf's default tolerance) is a
 * zero-variance direction and gives a zero column, as long as the rest of its column is
 * zero too (|entry| ≤ √(tol·a_ii)); a pivot below -tol is tolerated when the Rayleigh
 * quotient of the direction it exposes (an upper bound on the smallest eigenvalue) is not
 * (rounding of a rank-deficient matrix grows in the pivot, not in that quotient). A matrix
 * that is not symmetric, or that is proved to have an eigenvalue below -tol, is refused
 * with the pivot (and row) named.
 * @example
 * import { cholesky } from 'ultra-performance';
 * const { lower } = await cholesky(new Float64Array([4, 2, 2, 3]), 2); // [2, 0, 1, 1.414...]
 * const cash = await cholesky([4e-4, 0, 0, 0], 2); // [0.02, 0, 0, 0]: a zero-variance asset
 */
export function cholesky(matrix: Float64Array | number[], n: number, options?: { backend?: RiskBackendOption }): Promise<CholeskyResult> {
  const started = performance.now();
  let p: CholPlan;
  try {
    p = planCholesky(kCholeskySchemas.cholesky, matrix, n, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return withCallerStack(async () => finishCholesky(p, await p.kernels.choleskyAsync(p.a, p.n, p.lower, p.failure), started));
}

/**
 * cholesky on the calling thread.
 * @example
 * import { choleskySync } from 'ultra-performance';
 * const { lower } = choleskySync([1, 0.5, 0.5, 1], 2);
 */
export function choleskySync(matrix: Float64Array | number[], n: number, options?: { backend?: RiskBackendOption }): CholeskyResult {
  const started = performance.now();
  const p = planCholesky(kCholeskySchemas.choleskySync, matrix, n, options);
  return finishCholesky(p, p.kernels.cholesky(p.a, p.n, p.lower, p.failure), started);
}
