#include "var.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "parallel.hpp"
#include "simd.hpp"

namespace up::risk {
namespace {

inline bool finite(double v) { return v - v == 0.0; }

std::int64_t first_non_finite(const double* values, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!finite(values[i])) return static_cast<std::int64_t>(i);
  }
  return -1;
}

// Losses >= t, in index order, into out; returns how many. *bad is set on a non-finite value.
// out needs room for n values (every value is stored, the count advances only on a keep).
std::size_t scan_candidates_scalar(const double* values, std::size_t n, double sign, double t, double* out, bool* bad) {
  std::size_t k = 0;
  bool nonfinite = false;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = sign * values[i];
    out[k] = v;
    k += v >= t ? 1 : 0;
    nonfinite |= !finite(v);
  }
  *bad = nonfinite;
  return k;
}

#if defined(__x86_64__)
// For each 4-bit keep mask, the permutevar8x32 indices that move the kept 64-bit lanes
// to the front in order.
struct CompressTable {
  alignas(32) std::int32_t idx[16][8];
  constexpr CompressTable() : idx{} {
    for (int m = 0; m < 16; ++m) {
      int out = 0;
      for (int lane = 0; lane < 4; ++lane) {
        if (m & (1 << lane)) {
          idx[m][2 * out] = 2 * lane;
          idx[m][2 * out + 1] = 2 * lane + 1;
          ++out;
        }
      }
      for (; out < 4; ++out) {
        idx[m][2 * out] = 0;
        idx[m][2 * out + 1] = 1;
      }
    }
  }
};
constexpr CompressTable kCompress{};

// The same scan four values at a time: compare, then a left-pack store of the kept lanes.
__attribute__((target("avx2,popcnt")))
std::size_t scan_candidates_avx2(const double* values, std::size_t n, double sign, double t, double* out, bool* bad) {
  const __m256d vs = _mm256_set1_pd(sign);
  const __m256d vt = _mm256_set1_pd(t);
  __m256d nonfinite = _mm256_setzero_pd();  // OR of (v - v): +0 for finite values, NaN bits otherwise
  std::size_t k = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d v = _mm256_mul_pd(_mm256_loadu_pd(values + i), vs);
    nonfinite = _mm256_or_pd(nonfinite, _mm256_sub_pd(v, v));
    const int mask = _mm256_movemask_pd(_mm256_cmp_pd(v, vt, _CMP_GE_OQ));
    const __m256i idx = _mm256_load_si256(reinterpret_cast<const __m256i*>(kCompress.idx[mask]));
    _mm256_storeu_pd(out + k, _mm256_castsi256_pd(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(v), idx)));
    k += static_cast<std::size_t>(__builtin_popcount(static_cast<unsigned>(mask)));
  }
  bool tail_bad = false;
  k += scan_candidates_scalar(values + i, n - i, sign, t, out + k, &tail_bad);
  const bool vec_bad = _mm256_movemask_pd(_mm256_cmp_pd(nonfinite, nonfinite, _CMP_UNORD_Q)) != 0;
  *bad = tail_bad || vec_bad;
  return k;
}
#endif

std::size_t scan_candidates(const double* values, std::size_t n, double sign, double t, double* out, bool* bad) {
#if defined(__x86_64__)
  if (simd_level() != SimdLevel::kScalar) return scan_candidates_avx2(values, n, sign, t, out, bad);
#endif
  return scan_candidates_scalar(values, n, sign, t, out, bad);
}

// Scratch that grows to the largest input a thread has seen, so steady-state calls allocate nothing.
double* scratch(std::size_t n) {
  thread_local std::vector<double> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

}  // namespace

void quickselect(double* a, std::size_t n, std::size_t k) {
  if (n < 2) return;
  std::size_t l = 0;
  std::size_t ir = n - 1;
  const int limit = 2 * static_cast<int>(std::bit_width(n)) + 16;
  int rounds = 0;
  for (;;) {
    if (ir < l + 16) {
      for (std::size_t x = l + 1; x <= ir; ++x) {
        const double v = a[x];
        std::size_t y = x;
        while (y > l && a[y - 1] > v) {
          a[y] = a[y - 1];
          --y;
        }
        a[y] = v;
      }
      return;
    }
    if (++rounds > limit) {
      std::sort(a + l, a + ir + 1);
      return;
    }
    const std::size_t mid = (l + ir) >> 1;
    std::swap(a[mid], a[l + 1]);
    if (a[l] > a[ir]) std::swap(a[l], a[ir]);
    if (a[l + 1] > a[ir]) std::swap(a[l + 1], a[ir]);
    if (a[l] > a[l + 1]) std::swap(a[l], a[l + 1]);
    std::size_t i = l + 1;
    std::size_t j = ir;
    const double pivot = a[l + 1];
    for (;;) {
      do ++i; while (a[i] < pivot);
      do --j; while (a[j] > pivot);
      if (j < i) break;
      std::swap(a[i], a[j]);
    }
    a[l + 1] = a[j];
    a[j] = pivot;
    if (j >= k) ir = j - 1;
    if (j <= k) l = i;
  }
}

std::int64_t historical_tail(const double* values, std::size_t n, double sign, double confidence, TailResult* out) {
  const double h = static_cast<double>(n - 1) * confidence;
  const double lo_d = std::floor(h);
  const std::size_t lo = static_cast<std::size_t>(lo_d);
  const double frac = h - lo_d;
  const std::size_t need = n - lo;
  double* c = scratch(n);
  std::size_t k = 0;
  bool sampled = false;
  if (n >= kVarSampleMin) {
    const double tail = (1.0 - confidence) + 5.0 * std::sqrt(confidence * (1.0 - confidence) / 256.0) + 2.0 / 256.0;
    const std::size_t m = static_cast<std::size_t>(std::ceil(tail * 256.0));
    if (m < kVarSamples) {
      double sample[kVarSamples];
      bool ok = true;
      for (std::size_t j = 0; j < kVarSamples; ++j) {
        sample[j] = sign * values[static_cast<std::uint64_t>(j) * n / kVarSamples];
        ok = ok && finite(sample[j]);
      }
      if (ok) {
        quickselect(sample, kVarSamples, kVarSamples - m);
        const double t = sample[kVarSamples - m];
        bool bad = false;
        if (n >= kVarParallelMin && parallel_width() > 1) {
          const std::size_t tasks = parallel_width() * 4;
          const std::size_t chunk = (n + tasks - 1) / tasks;
          std::vector<std::size_t> counts(tasks, 0);
          std::vector<char> bads(tasks, 0);
          parallel_for(tasks, [&](std::size_t task) {
            const std::size_t begin = std::min(n, task * chunk);
            const std::size_t end = std::min(n, begin + chunk);
            bool b = false;
            counts[task] = scan_candidates(values + begin, end - begin, sign, t, c + begin, &b);
            bads[task] = b ? 1 : 0;
          });
          for (std::size_t task = 0; task < tasks; ++task) {
            bad = bad || bads[task] != 0;
            const std::size_t begin = std::min(n, task * chunk);
            if (begin != k) std::memmove(c + k, c + begin, counts[task] * sizeof(double));
            k += counts[task];
          }
        } else {
          k = scan_candidates(values, n, sign, t, c, &bad);
        }
        if (bad) return first_non_finite(values, n);
        sampled = k >= need;
      }
    }
  }
  if (!sampled) {
    for (std::size_t i = 0; i < n; ++i) {
      const double v = sign * values[i];
      if (!finite(v)) return static_cast<std::int64_t>(i);
      c[i] = v;
    }
    k = n;
  }
  const std::size_t p = lo - (n - k);
  quickselect(c, k, p);
  const double a = c[p];
  double var = a;
  double b = a;  // the tail's smallest loss
  if (frac > 0) {
    b = c[p + 1];
    for (std::size_t j = p + 2; j < k; ++j) b = c[j] < b ? c[j] : b;
    var = quantile_lerp(a, b, frac);
  }
  const std::size_t start = frac > 0 ? p + 1 : p;
  double excess = 0.0;
  for (std::size_t j = start; j < k; ++j) excess += c[j] - b;
  out->var = var;
  out->cvar = tail_mean(b, excess, k - start);
  return -1;
}

std::int64_t loss_moments(const double* values, std::size_t n, double sign, int ddof, Moments* out) {
  const std::size_t chunks = (n + kSumChunk - 1) / kSumChunk;
  thread_local std::vector<double> partial;
  if (partial.size() < 4 * chunks) partial.resize(4 * chunks);
  double* part = partial.data();
  const bool parallel = n >= kVarParallelMin;
  auto run = [&](const std::function<void(std::size_t)>& fn) {
    if (parallel) {
      parallel_for(chunks, fn);
    } else {
      for (std::size_t i = 0; i < chunks; ++i) fn(i);
    }
  };
  run([&](std::size_t ch) {
    const std::size_t begin = ch * kSumChunk;
    const std::size_t end = std::min(n, begin + kSumChunk);
    // Four interleaved partial sums (lane = index mod 4), combined as (0+1)+(2+3);
    // lib/risk sums in exactly this order.
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    std::size_t i = begin;
    for (; i + 4 <= end; i += 4) {
      a0 += sign * values[i];
      a1 += sign * values[i + 1];
      a2 += sign * values[i + 2];
      a3 += sign * values[i + 3];
    }
    for (; i < end; ++i) a0 += sign * values[i];
    part[ch] = (a0 + a1) + (a2 + a3);
  });
  double s1 = 0.0;
  for (std::size_t ch = 0; ch < chunks; ++ch) s1 += part[ch];
  if (!finite(s1)) {
    const std::int64_t bad = first_non_finite(values, n);
    if (bad >= 0) return bad;
  }
  const double mean = s1 / static_cast<double>(n);
  run([&](std::size_t ch) {
    const std::size_t begin = ch * kSumChunk;
    const std::size_t end = std::min(n, begin + kSumChunk);
    double q2[4] = {0.0, 0.0, 0.0, 0.0};
    double q3[4] = {0.0, 0.0, 0.0, 0.0};
    double q4[4] = {0.0, 0.0, 0.0, 0.0};
    std::size_t i = begin;
    for (; i + 4 <= end; i += 4) {
      for (int l = 0; l < 4; ++l) {
        const double d = sign * values[i + l] - mean;
        const double d2 = d * d;
        q2[l] += d2;
        q3[l] += d2 * d;
        q4[l] += d2 * d2;
      }
    }
    for (; i < end; ++i) {
      const double d = sign * values[i] - mean;
      const double d2 = d * d;
      q2[0] += d2;
      q3[0] += d2 * d;
      q4[0] += d2 * d2;
    }
    part[chunks + 3 * ch] = (q2[0] + q2[1]) + (q2[2] + q2[3]);
    part[chunks + 3 * ch + 1] = (q3[0] + q3[1]) + (q3[2] + q3[3]);
    part[chunks + 3 * ch + 2] = (q4[0] + q4[1]) + (q4[2] + q4[3]);
  });
  double s2 = 0.0;
  double s3 = 0.0;
  double s4 = 0.0;
  for (std::size_t ch = 0; ch < chunks; ++ch) {
    s2 += part[chunks + 3 * ch];
    s3 += part[chunks + 3 * ch + 1];
    s4 += part[chunks + 3 * ch + 2];
  }
  double mu = mean;
  const double scale = settle_central_sums(values, n, sign, &mu, &s2, &s3, &s4);
  *out = moments_from_sums(mu, s2, s3, s4, n, ddof, scale);
  return -1;
}

std::int64_t portfolio_returns(const double* returns, std::size_t observations, std::size_t assets,
                               const double* weights, double* out) {
  bool bad = false;
  for (std::size_t t = 0; t < observations; ++t) {
    const double* row = returns + t * assets;
    double acc = 0.0;
    for (std::size_t j = 0; j < assets; ++j) {
      acc += weights[j] * row[j];
      bad |= !finite(row[j]);
    }
    out[t] = acc;
  }
  return bad ? first_non_finite(returns, observations * assets) : -1;
}

}  // namespace up::risk
