#include "matrix.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "detmath.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace up::risk {
namespace {

using v4d = double __attribute__((vector_size(32)));

// Work (multiply-adds) above which the Gram product is split over threads.
constexpr double kParallelWork = 1 << 20;

// G[i][j] = dot(z_i, z_j) for the rows i0, i0+1 and every column block j0 >= i0 & ~3.
// z is rows x stride (stride a multiple of 4, zero padded); rows a multiple of 4.
// One body, compiled twice: for AVX2+FMA and for plain x86-64 (picked once at run time;
// not target_clones, whose ifunc resolver runs before ThreadSanitizer's runtime starts).
#define UP_GRAM_ROWS_BODY                                                  \
  const double* a0 = z + i0 * stride;                                      \
  const double* a1 = a0 + stride;                                          \
  for (std::size_t j0 = i0 & ~std::size_t{3}; j0 < rows; j0 += 4) {        \
    const double* b0 = z + j0 * stride;                                    \
    const double* b1 = b0 + stride;                                        \
    const double* b2 = b1 + stride;                                        \
    const double* b3 = b2 + stride;                                        \
    v4d c0 = {}, c1 = {}, c2 = {}, c3 = {}, c4 = {}, c5 = {}, c6 = {}, c7 = {};  \
    for (std::size_t t = 0; t < stride; t += 4) {                          \
      v4d x0, x1, y;                                                       \
      __builtin_memcpy(&x0, a0 + t, 32);                                   \
      __builtin_memcpy(&x1, a1 + t, 32);                                   \
      __builtin_memcpy(&y, b0 + t, 32);                                    \
      c0 += x0 * y;                                                        \
      c4 += x1 * y;                                                        \
      __builtin_memcpy(&y, b1 + t, 32);                                    \
      c1 += x0 * y;                                                        \
      c5 += x1 * y;                                                        \
      __builtin_memcpy(&y, b2 + t, 32);                                    \
      c2 += x0 * y;                                                        \
      c6 += x1 * y;                                                        \
      __builtin_memcpy(&y, b3 + t, 32);                                    \
      c3 += x0 * y;                                                        \
      c7 += x1 * y;                                                        \
    }                                                                      \
    const v4d acc[8] = {c0, c1, c2, c3, c4, c5, c6, c7};                   \
    for (int r = 0; r < 2; ++r) {                                          \
      for (int c = 0; c < 4; ++c) {                                        \
        const v4d v = acc[r * 4 + c];                                      \
        g[(i0 + r) * rows + j0 + c] = (v[0] + v[1]) + (v[2] + v[3]);       \
      }                                                                    \
    }                                                                      \
  }

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
void gram_rows_fma(const double* z, std::size_t rows, std::size_t stride, std::size_t i0, double* g) {
  UP_GRAM_ROWS_BODY
}
#endif

void gram_rows_plain(const double* z, std::size_t rows, std::size_t stride, std::size_t i0, double* g) {
  UP_GRAM_ROWS_BODY
}

void gram_rows(const double* z, std::size_t rows, std::size_t stride, std::size_t i0, double* g) {
#if defined(__x86_64__)
  if (simd_level() != SimdLevel::kScalar) return gram_rows_fma(z, rows, stride, i0, g);
#endif
  gram_rows_plain(z, rows, stride, i0, g);
}

#if defined(__x86_64__)
// g++ 12's avx512fintrin.h trips -Wmaybe-uninitialized on its own _mm512_undefined_*.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// AVX-512: 4 x 4 tiles (rows i0..i0+3, every column block j0 >= i0), eight observations
// per vector; 32 registers hold the 16 accumulators, so each loaded vector feeds four
// FMAs instead of two. stride must be a multiple of 8 and i0 of 4.
__attribute__((target("avx512f")))
void gram_quad_avx512(const double* z, std::size_t rows, std::size_t stride, std::size_t i0, double* g) {
  const double* a0 = z + i0 * stride;
  const double* a1 = a0 + stride;
  const double* a2 = a1 + stride;
  const double* a3 = a2 + stride;
  for (std::size_t j0 = i0; j0 < rows; j0 += 4) {
    const double* b[4] = {z + j0 * stride, z + (j0 + 1) * stride, z + (j0 + 2) * stride, z + (j0 + 3) * stride};
    __m512d c[4][4];
    for (auto& row : c) {
      for (auto& v : row) v = _mm512_setzero_pd();
    }
    for (std::size_t t = 0; t < stride; t += 8) {
      const __m512d x0 = _mm512_loadu_pd(a0 + t);
      const __m512d x1 = _mm512_loadu_pd(a1 + t);
      const __m512d x2 = _mm512_loadu_pd(a2 + t);
      const __m512d x3 = _mm512_loadu_pd(a3 + t);
      for (int col = 0; col < 4; ++col) {
        const __m512d y = _mm512_loadu_pd(b[col] + t);
        c[0][col] = _mm512_fmadd_pd(x0, y, c[0][col]);
        c[1][col] = _mm512_fmadd_pd(x1, y, c[1][col]);
        c[2][col] = _mm512_fmadd_pd(x2, y, c[2][col]);
        c[3][col] = _mm512_fmadd_pd(x3, y, c[3][col]);
      }
    }
    for (int r = 0; r < 4; ++r) {
      for (int col = 0; col < 4; ++col) g[(i0 + r) * rows + j0 + col] = _mm512_reduce_add_pd(c[r][col]);
    }
  }
}
#pragma GCC diagnostic pop
#endif

inline bool finite(double v) { return v - v == 0.0; }

// EWMA columns whose largest weighted value is below this are scaled up again (2^-256:
// far from underflow, and never reached by a column whose recent values matter).
constexpr double kEwmaRescaleBelow = 0x1p-256;

}  // namespace

std::int64_t covariance(const double* data, std::size_t observations, std::size_t assets, CovMethod method,
                        double lambda, bool correlation, double* out) {
  const std::size_t T = observations;
  const std::size_t N = assets;
  const std::size_t rows = (N + 3) & ~std::size_t{3};
  const std::size_t stride = (T + 7) & ~std::size_t{7};
  thread_local std::vector<double> zbuf;
  thread_local std::vector<double> gbuf;
  thread_local std::vector<double> cols;
  thread_local std::vector<int> expo;
  thread_local std::vector<double> weight;
  zbuf.resize(rows * stride);
  gbuf.resize(rows * rows);
  cols.assign(4 * N, 0.0);
  expo.resize(N);
  double* sum = cols.data();     // sums of x - x_0: not finite when a value is not
  double* top = sum + N;         // largest |x|
  double* spread = top + N;      // EWMA: largest |x - x_0|, 0 exactly when every value equals the first
  double* scale = spread + N;    // 2^-expo
  const double* first = data;
  for (std::size_t t = 0; t < T; ++t) {
    const double* row = data + t * N;
    for (std::size_t j = 0; j < N; ++j) {
      const double v = row[j];
      sum[j] += v - first[j];
      top[j] = std::max(top[j], std::fabs(v));
    }
  }
  // A sum that is not finite: a value that is not, or finite values beyond 2^1023 whose
  // differences overflow; those columns are centred after scaling instead.
  bool recentre = false;
  for (std::size_t j = 0; j < N; ++j) {
    if (!finite(sum[j])) {
      for (std::size_t i = 0; i < T * N; ++i) {
        if (!finite(data[i])) return static_cast<std::int64_t>(i);
      }
      recentre = true;
    }
  }
  for (std::size_t j = 0; j < N; ++j) {
    expo[j] = detmath::scale_exponent(top[j]);
    scale[j] = detmath::pow2(-expo[j]);
    // The mean of x - x_0, scaled exactly: the mean of the shifted, scaled column.
    sum[j] = recentre ? 0.0 : sum[j] / static_cast<double>(T) * scale[j];
    top[j] = 0.0;
  }
  double* z = zbuf.data();
  // Zero only the padding: columns T..stride of each row and the rows N..rows.
  for (std::size_t j = 0; j < N; ++j) std::fill(z + j * stride + T, z + (j + 1) * stride, 0.0);
  std::fill(z + N * stride, z + rows * stride, 0.0);
  constexpr std::size_t kTile = 8;  // rows of data per transposition tile: contiguous writes
  if (method == CovMethod::kPearson) {
    // Shifted by the scaled first value, then centred: a constant column is exactly 0, and
    // the mean's rounding no longer leaves a variance behind.
    for (std::size_t t0 = 0; t0 < T; t0 += kTile) {
      const std::size_t tn = std::min(kTile, T - t0);
      for (std::size_t j = 0; j < N; ++j) {
        double* zj = z + j * stride + t0;
        const double s = scale[j];
        const double shift = first[j] * s;
        const double m = sum[j];
        for (std::size_t u = 0; u < tn; ++u) zj[u] = (data[(t0 + u) * N + j] * s - shift) - m;
      }
    }
    if (recentre) {
      for (std::size_t j = 0; j < N; ++j) {
        double* zj = z + j * stride;
        double acc = 0.0;
        for (std::size_t t = 0; t < T; ++t) acc += zj[t];
        const double m = acc / static_cast<double>(T);
        for (std::size_t t = 0; t < T; ++t) zj[t] -= m;
      }
    }
  } else {
    weight.resize(T);
    ewma_sqrt_weights(T, lambda, weight.data());
    for (std::size_t t0 = 0; t0 < T; t0 += kTile) {
      const std::size_t tn = std::min(kTile, T - t0);
      for (std::size_t j = 0; j < N; ++j) {
        double* zj = z + j * stride + t0;
        const double s = scale[j];
        const double x0 = first[j];
        double big = top[j];
        double far = spread[j];
        for (std::size_t u = 0; u < tn; ++u) {
          const double x = data[(t0 + u) * N + j];
          const double v = weight[t0 + u] * (x * s);
          zj[u] = v;
          big = std::max(big, std::fabs(v));
          far = std::max(far, std::fabs(x - x0));
        }
        top[j] = big;
        spread[j] = far;
      }
    }
    // Old rows weigh as little as lambda^T: a column whose values sit there is scaled again,
    // so its squares stay normal doubles.
    for (std::size_t j = 0; j < N; ++j) {
      if (top[j] == 0.0 || top[j] >= kEwmaRescaleBelow) continue;
      const int f = detmath::scale_exponent(top[j]);
      const double s = detmath::pow2(-f);
      double* zj = z + j * stride;
      for (std::size_t t = 0; t < T; ++t) zj[t] *= s;
      expo[j] += f;
    }
  }
  double* g = gbuf.data();
  const bool has_avx512 = simd_level() == SimdLevel::kAvx512;
  const std::size_t pairs = has_avx512 ? rows / 4 : rows / 2;
  const auto task = [&](std::size_t i) {
#if defined(__x86_64__)
    if (has_avx512) return gram_quad_avx512(z, rows, stride, 4 * i, g);
#endif
    gram_rows(z, rows, stride, 2 * i, g);
  };
  const double work = static_cast<double>(N) * static_cast<double>(N) * static_cast<double>(T) / 2;
  if (work >= kParallelWork) {
    parallel_for(pairs, task);
  } else {
    for (std::size_t i = 0; i < pairs; ++i) task(i);
  }
  const double norm = method == CovMethod::kPearson ? 1.0 / static_cast<double>(T - 1) : 1.0;
  if (!correlation) {
    for (std::size_t i = 0; i < N; ++i) {
      for (std::size_t j = i; j < N; ++j) {
        const double v = detmath::times_pow2(g[i * rows + j] * norm, expo[i] + expo[j]);
        out[i * N + j] = v;
        out[j * N + i] = v;
      }
    }
    return -1;
  }
  // Correlations from the scaled sums: the scales cancel. A Pearson column is constant
  // exactly when its variance is 0: shifted and centred it is exactly 0, and otherwise its
  // largest deviation, at least half its spread, is >= 2^-54 after scaling, so the sum of
  // squares cannot underflow. Under EWMA a constant column keeps c^2: compare values.
  const bool ewma = method == CovMethod::kEwma;
  double* diag = sum;
  for (std::size_t i = 0; i < N; ++i) {
    diag[i] = g[i * rows + i] * norm;
    if (!(diag[i] > 0) || (ewma && spread[i] == 0.0)) return kZeroVariance - static_cast<std::int64_t>(i);
  }
  for (std::size_t i = 0; i < N; ++i) {
    out[i * N + i] = 1.0;
    for (std::size_t j = i + 1; j < N; ++j) {
      double r = g[i * rows + j] * norm / std::sqrt(diag[i] * diag[j]);
      r = std::clamp(r, -1.0, 1.0);
      out[i * N + j] = r;
      out[j * N + i] = r;
    }
  }
  return -1;
}

}  // namespace up::risk
