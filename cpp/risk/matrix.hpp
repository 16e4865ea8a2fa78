// Covariance, correlation and Cholesky over row-major float64 matrices.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace up::risk {

enum class CovMethod : int { kPearson = 0, kEwma = 1 };

// Status of covariance(): -1 ok, >= 0 the first non-finite index of data, and for a
// correlation, kZeroVariance - k when asset k has zero variance: all its values equal
// (detected exactly, never by a variance test after rounding), or under EWMA all its
// weighted values zero.
inline constexpr std::int64_t kZeroVariance = -2;

// data: observations x assets, row-major. out: assets x assets.
// Pearson: sum_t (x_ti - m_i)(x_tj - m_j) / (T - 1) with column means m.
// EWMA (RiskMetrics, zero mean): sum_t w_t x_ti x_tj with w_t proportional to
// lambda^(T-1-t) (the last row newest) and sum_t w_t = 1.
// correlation: cov_ij / sqrt(cov_ii * cov_jj), clipped to [-1, 1], diagonal exactly 1.
// Every column is first scaled by a power of two near its largest magnitude (exact), and
// for Pearson shifted by its first value before the mean is taken, so a constant column is
// exactly zero and no finite input overflows or underflows; covariances are scaled back
// exactly at the end, correlations need no scaling back.
// EWMA row scales sqrt(w_t), w_t = lambda^(T-1-t) / sum: the CPU and the GPU both use this loop.
inline void ewma_sqrt_weights(std::size_t T, double lambda, double* out) {
  double p = 1.0;
  double total = 0.0;
  for (std::size_t back = 0; back < T; ++back) {
    out[T - 1 - back] = p;
    total += p;
    p *= lambda;
  }
  for (std::size_t t = 0; t < T; ++t) out[t] = std::sqrt(out[t] / total);
}

std::int64_t covariance(const double* data, std::size_t observations, std::size_t assets, CovMethod method,
                        double lambda, bool correlation, double* out);

// Pivots within n * 2^-52 * max(a_kk, 0) of zero are zero: LAPACK dpstrf's default tolerance
// (n * ulp * max a_kk), which also bounds the backward error of a Cholesky factorization
// (Higham, Accuracy and Stability of Numerical Algorithms, thm 10.3).
inline double psd_tolerance(const double* a, std::size_t n) {
  double top = 0.0;
  for (std::size_t k = 0; k < n; ++k) top = a[k * n + k] > top ? a[k * n + k] : top;
  return static_cast<double>(n) * 0x1p-52 * top;
}

// Lower-triangular L with L L^T = a for a symmetric positive semi-definite a (row-major
// n x n, only the lower triangle read; zeros above the diagonal of L). Unpivoted, so row i
// of L mixes only normals 0..i, as the Monte Carlo kernels expect, and a positive-definite
// matrix factors exactly as before. A pivot d <= tol (psd_tolerance) is a zero-variance
// direction and column j of L is zero, provided
//  - d >= -tol, or the Rayleigh quotient of the direction x = (-A11^-1 a_j, 1) that the
//    pivot exposes, q = d / (1 + |A11^-1 a_j|^2) (an upper bound on the smallest
//    eigenvalue), is >= -tol: rounding of a rank-deficient matrix is amplified in d, not in q;
//  - the rest of column j vanishes: s_i^2 <= tol * a_ii for every i > j (the 2 x 2 minors of
//    a PSD matrix are >= 0; Higham, "Analysis of the Cholesky decomposition of a
//    semi-definite matrix", 1990).
// Returns -1, or the index j of the pivot that proves the matrix indefinite: info =
// {d, -1, q} when q < -tol, {d, i, s_i} when row i's entry in a zero column is too large.
// Same operation order as lib/risk.
std::int64_t cholesky(const double* a, std::size_t n, double* lower, double* info);

}  // namespace up::risk
