// Value at Risk building blocks. lib/risk/var-ts.ts is the same algorithm in TS, step for
// step (same sample, same quickselect, same summation order), so both backends return
// the same doubles. Losses are positive: loss = sign * value (sign -1 for returns).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace up::risk {

// Inputs below this length skip the sampling step and select over all losses.
inline constexpr std::size_t kVarSampleMin = 4096;
// Deterministic sample used to pick a threshold that keeps the tail (and a margin).
inline constexpr std::size_t kVarSamples = 256;
// Inputs at least this long scan for candidates on several threads.
inline constexpr std::size_t kVarParallelMin = std::size_t{1} << 18;
// Sums run in fixed chunks of this many terms, added in chunk order, so that splitting
// the work over threads never changes a result.
inline constexpr std::size_t kSumChunk = 4096;

// Hoare quickselect (Numerical Recipes `select`: median-of-3 pivot, insertion sort below
// 16, a sort after too many rounds): afterwards a[k] is the k-th smallest, a[..k] <= a[k]
// <= a[k+1..]. Deterministic, identical to quickselect() in lib/risk/select.ts.
void quickselect(double* a, std::size_t n, std::size_t k);

struct TailResult {
  double var;
  double cvar;
};

// Historical VaR (NumPy 'linear' quantile of the losses at `confidence`) and CVaR (mean
// of the losses in sorted positions ceil(h)..n-1, h = (n-1)*confidence). Returns -1, or
// the index of the first non-finite value (then *out is untouched). n >= 2.
std::int64_t historical_tail(const double* values, std::size_t n, double sign, double confidence, TailResult* out);

struct Moments {
  double mean;      // of the losses
  double std;       // sample standard deviation (n - 1)
  double skew;      // m3 / m2^1.5 with 1/n central moments
  double exkurt;    // m4 / m2^2 - 3
};

// The final formulas from the mean and the central sums s2, s3, s4 of n losses; the
// CPU and the GPU both end here.
inline Moments moments_from_sums(double mean, double s2, double s3, double s4, std::size_t n) {
  const double nd = static_cast<double>(n);
  const double m2 = s2 / nd;
  Moments m{mean, std::sqrt(s2 / (nd - 1.0)), 0.0, 0.0};
  if (m2 > 0) {
    m.skew = (s3 / nd) / (m2 * std::sqrt(m2));
    m.exkurt = (s4 / nd) / (m2 * m2) - 3.0;
  }
  return m;
}

// Moments of the losses (sign * values) in chunked order. Returns -1 or the first
// non-finite index.
std::int64_t loss_moments(const double* values, std::size_t n, double sign, Moments* out);

// out[t] = sum_j weights[j] * returns[t * assets + j], j in order. Returns -1 or the
// first non-finite index of returns.
std::int64_t portfolio_returns(const double* returns, std::size_t observations, std::size_t assets,
                               const double* weights, double* out);

}  // namespace up::risk
