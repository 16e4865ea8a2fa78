// Covariance, correlation and Cholesky over row-major float64 matrices.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace up::risk {

enum class CovMethod : int { kPearson = 0, kEwma = 1 };

// Status of covariance(): -1 ok, >= 0 the first non-finite index of data, and for a
// correlation, kZeroVariance - k when asset k has zero variance.
inline constexpr std::int64_t kZeroVariance = -2;

// data: observations x assets, row-major. out: assets x assets.
// Pearson: sum_t (x_ti - m_i)(x_tj - m_j) / (T - 1) with column means m.
// EWMA (RiskMetrics, zero mean): sum_t w_t x_ti x_tj with w_t proportional to
// lambda^(T-1-t) (the last row newest) and sum_t w_t = 1.
// correlation: cov_ij / sqrt(cov_ii * cov_jj), clipped to [-1, 1], diagonal exactly 1.
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

// Lower-triangular L with L L^T = a (row-major n x n, only the lower triangle of a is
// read; zeros above the diagonal of L). Returns -1, or the index j of the first pivot
// that is not positive (its value in *pivot). Same operation order as lib/risk.
std::int64_t cholesky(const double* a, std::size_t n, double* lower, double* pivot);

}  // namespace up::risk
