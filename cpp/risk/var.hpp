// Value at Risk building blocks. lib/risk/var-ts.ts is the same algorithm in TS, step for
// step (same sample, same quickselect, same summation order), so both backends return
// the same doubles. Losses are positive: loss = sign * value (sign -1 for returns).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "detmath.hpp"

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

// NumPy's _lerp between neighbouring order statistics a <= b, from the nearer end; the
// result lies in [a, b]. Where b - a overflows (a and b beyond 2^1023 in size on opposite
// sides) NumPy returns an infinity; the weighted form stays finite and in [a, b].
inline double quantile_lerp(double a, double b, double frac) {
  const double diff = b - a;
  if (diff - diff != 0.0) return (1.0 - frac) * a + frac * b;
  return frac >= 0.5 ? b - diff * (1.0 - frac) : a + diff * frac;
}

// CVaR as the tail's smallest loss plus the mean excess over it. Each excess x - base is
// >= 0 after rounding, so the result is >= base >= VaR by construction; a plain mean of
// equal losses can round below them (279 copies of 0.56758051638767337 did).
inline double tail_mean(double base, double excess_sum, std::size_t count) {
  return base + excess_sum / static_cast<double>(count);
}

// Historical VaR (NumPy 'linear' quantile of the losses at `confidence`) and CVaR (mean
// of the losses in sorted positions ceil(h)..n-1, h = (n-1)*confidence, formed by
// tail_mean()). Returns -1, or the index of the first non-finite value (then *out is
// untouched). n >= 2.
std::int64_t historical_tail(const double* values, std::size_t n, double sign, double confidence, TailResult* out);

// One convention for every moment, chosen by ddof (Joanes & Gill 1998 name the estimators):
// 0, population: std sqrt(m2), skew g1 = m3/m2^1.5, excess kurtosis g2 = m4/m2^2 - 3 with
//    1/n central moments m_k, as PerformanceAnalytics' VaR(method = "modified");
// 1, sample: std with n - 1, G1 = g1 sqrt(n(n-1))/(n-2), G2 = (n-1)((n+1)g2 + 6)/((n-2)(n-3)),
//    as pandas' std/skew/kurt, Excel's STDEV.S/SKEW/KURT and scipy's bias=False.
// G1 needs n >= 3 and G2 n >= 4 (NaN below; lib/risk refuses Cornish-Fisher there).
// Zero spread (m2 == 0) gives skew = kurtosis = 0 under both.
struct Moments {
  double mean;    // of the losses
  double std;     // sqrt(s2 / (n - ddof))
  double skew;    // g1 or G1
  double exkurt;  // g2 or G2
};

// The final formulas from the mean and the central sums s2, s3, s4 of n losses, the sums
// taken over deviations divided by `scale` (a power of two, 1 unless rescaled); the CPU and
// the GPU both end here.
inline Moments moments_from_sums(double mean, double s2, double s3, double s4, std::size_t n, int ddof,
                                 double scale = 1.0) {
  const double nd = static_cast<double>(n);
  const double m2 = s2 / nd;
  Moments m{mean, std::sqrt(s2 / (nd - static_cast<double>(ddof))) * scale, 0.0, 0.0};
  if (m2 > 0) {
    const double g1 = (s3 / nd) / (m2 * std::sqrt(m2));
    const double g2 = (s4 / nd) / (m2 * m2) - 3.0;
    if (ddof == 0) {
      m.skew = g1;
      m.exkurt = g2;
    } else {
      m.skew = n > 2 ? g1 * std::sqrt(nd * (nd - 1.0)) / (nd - 2.0) : std::numeric_limits<double>::quiet_NaN();
      m.exkurt = n > 3 ? (nd - 1.0) * ((nd + 1.0) * g2 + 6.0) / ((nd - 2.0) * (nd - 3.0)) : std::numeric_limits<double>::quiet_NaN();
    }
  }
  return m;
}

// Below this m2 (or once s4 overflows) the powers d^2..d^4 of the deviations lose their
// digits to underflow (or become infinite): the sums are redone on rescaled deviations.
inline constexpr double kRescaleBelowM2 = 0x1p-400;

inline bool moments_need_rescale(double s2, double s4, std::size_t n) {
  return !(s4 - s4 == 0.0) || s2 / static_cast<double>(n) < kRescaleBelowM2;
}

// The rare path of loss_moments, run in index order with one accumulator per sum (so the
// TS twin and the GPU's host side give the same doubles): deviations d = loss - mean are
// multiplied by f = 2^p, p = -scale_exponent(largest |d|) (detmath.hpp: the largest |d| in
// [1, 2) unless it is subnormal), which is exact, then summed. *scale = 1/f. Leaves the sums as they are when every d is 0 (a
// constant series) or some d overflows (losses spread wider than the largest double).
inline void rescaled_central_sums(const double* values, std::size_t n, double sign, double mean, double* s2,
                                  double* s3, double* s4, double* scale) {
  double top = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = std::fabs(sign * values[i] - mean);
    top = d > top ? d : top;
  }
  *scale = 1.0;
  if (top == 0.0 || !(top - top == 0.0)) return;
  const int p = -detmath::scale_exponent(top);
  const double f = detmath::pow2(p);
  double a2 = 0.0, a3 = 0.0, a4 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = (sign * values[i] - mean) * f;
    const double d2 = d * d;
    a2 += d2;
    a3 += d2 * d;
    a4 += d2 * d2;
  }
  *s2 = a2;
  *s3 = a3;
  *s4 = a4;
  *scale = detmath::pow2(-p);
}

// A spread at or below |mean| * 2^-20 is checked for a constant series (an early-exit scan).
inline constexpr double kNearConstant = 0x1p-40;

// The rare paths after the chunked sums, shared by loss_moments, its TS twin and the GPU's
// host side; returns the scale for moments_from_sums. Equal losses get their own value as
// the mean and no spread: the summed mean can sit ulps away from them and leave a spread
// that is only rounding (279 copies of 0.56758051638767337 got a parametric VaR 8 ulps
// off). Extreme magnitudes get rescaled_central_sums().
inline double settle_central_sums(const double* values, std::size_t n, double sign, double* mean, double* s2,
                                  double* s3, double* s4) {
  if (*s2 / static_cast<double>(n) <= *mean * *mean * kNearConstant) {
    std::size_t i = 1;
    while (i < n && values[i] == values[0]) ++i;
    if (i == n) {
      *mean = sign * values[0];
      *s2 = *s3 = *s4 = 0.0;
      return 1.0;
    }
  }
  double scale = 1.0;
  if (moments_need_rescale(*s2, *s4, n)) rescaled_central_sums(values, n, sign, *mean, s2, s3, s4, &scale);
  return scale;
}

// Moments of the losses (sign * values) in chunked order, under ddof 0 or 1 (see
// Moments). Returns -1 or the first non-finite index.
std::int64_t loss_moments(const double* values, std::size_t n, double sign, int ddof, Moments* out);

// out[t] = sum_j weights[j] * returns[t * assets + j], j in order. Returns -1 or the
// first non-finite index of returns.
std::int64_t portfolio_returns(const double* returns, std::size_t observations, std::size_t assets,
                               const double* weights, double* out);

}  // namespace up::risk
