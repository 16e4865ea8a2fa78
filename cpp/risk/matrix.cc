#include "matrix.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "detmath.hpp"
#include "gram.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace up::risk {
namespace {

// Work (multiply-adds) above which packing and the Gram product are split over threads.
constexpr double kParallelWork = 1 << 20;

// Columns per packing task: each row's values for them share a few cache lines, and the
// second pass over them finds the rows still in L2.
constexpr std::size_t kPackColumns = 16;

inline bool finite(double v) { return v - v == 0.0; }

// EWMA columns whose largest weighted value is below this are scaled up again (2^-256:
// far from underflow, and never reached by a column whose recent values matter).
constexpr double kEwmaRescaleBelow = 0x1p-256;

// A positive pivot below this fraction of its diagonal entry (R^2 > 1 - 2^-20 against the
// assets before it) gets the Rayleigh-quotient test; real covariance matrices rarely do.
constexpr double kNearSingular = 0x1p-20;

// |w|^2 for w = L11^-T l_j (l_j: row j of L left of the diagonal), by back substitution;
// zero columns (zero pivots) take w_k = 0. x = (-w, 1, 0...) has x^T A x = pivot j.
double pivot_direction_norm2(const double* lower, std::size_t n, std::size_t j) {
  thread_local std::vector<double> w;
  w.assign(j, 0.0);
  const double* lj = lower + j * n;
  double norm2 = 0.0;
  for (std::size_t k = j; k-- > 0;) {
    const double diag = lower[k * n + k];
    if (diag == 0.0) continue;
    double v = lj[k];
    for (std::size_t m = k + 1; m < j; ++m) v -= lower[m * n + k] * w[m];
    w[k] = v / diag;
    norm2 += w[k] * w[k];
  }
  return norm2;
}

}  // namespace

std::int64_t covariance(const double* data, std::size_t observations, std::size_t assets, CovMethod method,
                        double lambda, bool correlation, double* out) {
  const std::size_t T = observations;
  const std::size_t N = assets;
  const SimdLevel level = simd_level();
  const std::size_t w = gram_panel_width(level);
  const std::size_t rows = gram_rows(level, N);
  const bool ewma = method == CovMethod::kEwma;
  thread_local std::vector<double> zbuf;
  thread_local std::vector<double> gbuf;
  thread_local std::vector<double> cols;
  thread_local std::vector<int> expo_buf;
  thread_local std::vector<double> weight_buf;
  zbuf.resize(rows * T);
  gbuf.resize(rows * rows);
  cols.assign(4 * N, 0.0);
  expo_buf.resize(N);
  double* sum = cols.data();     // sums of x - x_0: not finite when a value is not
  double* top = sum + N;         // largest |x|
  double* spread = top + N;      // EWMA: largest |x - x_0|, 0 exactly when every value equals the first
  double* scale = spread + N;    // 2^-expo
  int* expo = expo_buf.data();
  const double* weight = nullptr;
  if (ewma) {
    weight_buf.resize(T);
    ewma_sqrt_weights(T, lambda, weight_buf.data());
    weight = weight_buf.data();
  }
  const double* first = data;
  // Z packed for gram_upper: column j of the data is row j of Z, at z + (j / w) * T * w + j % w,
  // one observation every w doubles. The padding rows N..rows are zero.
  double* z = zbuf.data();
  for (std::size_t j = N; j < rows; ++j) {
    double* zj = z + (j / w) * T * w + j % w;
    for (std::size_t t = 0; t < T; ++t) zj[t * w] = 0.0;
  }
  std::atomic<bool> not_finite{false};
  // Each task packs kPackColumns columns in two passes over their rows: the sums, largest
  // magnitudes (and EWMA spreads) first, then the scaled, shifted and centred (or weighted)
  // values. Every column's sums run in row order, whatever the thread count.
  const auto pack = [&](std::size_t task) {
    const std::size_t j0 = task * kPackColumns;
    const std::size_t j1 = std::min(N, j0 + kPackColumns);
    for (std::size_t t = 0; t < T; ++t) {
      const double* row = data + t * N;
      for (std::size_t j = j0; j < j1; ++j) {
        const double v = row[j];
        sum[j] += v - first[j];
        top[j] = std::max(top[j], std::fabs(v));
        spread[j] = std::max(spread[j], std::fabs(v - first[j]));
      }
    }
    for (std::size_t j = j0; j < j1; ++j) {
      // A sum that is not finite: a value that is not, or finite values beyond 2^1023 whose
      // differences overflow; such a column is centred after scaling instead.
      const bool recentre = !finite(sum[j]);
      if (recentre) {
        for (std::size_t t = 0; t < T; ++t) {
          if (!finite(data[t * N + j])) {
            not_finite.store(true, std::memory_order_relaxed);
            return;
          }
        }
      }
      expo[j] = detmath::scale_exponent(top[j]);
      const double s = detmath::pow2(-expo[j]);
      scale[j] = s;
      double* zj = z + (j / w) * T * w + j % w;
      if (!ewma) {
        // Shifted by the scaled first value, then centred: a constant column is exactly 0, and
        // the mean's rounding no longer leaves a variance behind. The mean of x - x_0, scaled
        // exactly, is the mean of the shifted, scaled column.
        const double shift = first[j] * s;
        const double m = recentre ? 0.0 : sum[j] / static_cast<double>(T) * s;
        for (std::size_t t = 0; t < T; ++t) zj[t * w] = (data[t * N + j] * s - shift) - m;
        if (recentre) {
          double acc = 0.0;
          for (std::size_t t = 0; t < T; ++t) acc += zj[t * w];
          const double mean = acc / static_cast<double>(T);
          for (std::size_t t = 0; t < T; ++t) zj[t * w] -= mean;
        }
        continue;
      }
      double big = 0.0;
      for (std::size_t t = 0; t < T; ++t) {
        const double v = weight[t] * (data[t * N + j] * s);
        zj[t * w] = v;
        big = std::max(big, std::fabs(v));
      }
      // Old rows weigh as little as lambda^T: a column whose values sit there is scaled again,
      // so its squares stay normal doubles.
      if (big != 0.0 && big < kEwmaRescaleBelow) {
        const int f = detmath::scale_exponent(big);
        const double s2 = detmath::pow2(-f);
        for (std::size_t t = 0; t < T; ++t) zj[t * w] *= s2;
        expo[j] += f;
      }
    }
  };
  const std::size_t pack_tasks = (N + kPackColumns - 1) / kPackColumns;
  const double work = static_cast<double>(N) * static_cast<double>(N) * static_cast<double>(T) / 2;
  const bool parallel = work >= kParallelWork;
  if (parallel) {
    parallel_for(pack_tasks, pack);
  } else {
    for (std::size_t k = 0; k < pack_tasks; ++k) pack(k);
  }
  if (not_finite.load(std::memory_order_relaxed)) {
    for (std::size_t i = 0; i < T * N; ++i) {
      if (!finite(data[i])) return static_cast<std::int64_t>(i);
    }
  }
  double* g = gbuf.data();
  gram_upper(level, z, rows, T, g, parallel);
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

std::int64_t cholesky(const double* a, std::size_t n, double* lower, double* info) {
  for (std::size_t i = 0; i < n * n; ++i) lower[i] = 0.0;
  const double tol = psd_tolerance(a, n);
  for (std::size_t j = 0; j < n; ++j) {
    const double* lj = lower + j * n;
    double d = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) d -= lj[k] * lj[k];
    // Rounding of a rank-deficient matrix grows in the pivot, not in the Rayleigh quotient
    // d / (1 + |w|^2) of the direction it exposes: that is what the tolerance judges, for a
    // negative pivot and for a tiny positive one (which would otherwise divide noise by noise).
    const bool zero = !(d > tol);
    bool tiny = false;
    if (zero ? !(d >= -tol) : d <= a[j * n + j] * kNearSingular) {
      const double quotient = d / (1.0 + pivot_direction_norm2(lower, n, j));
      if (!(quotient >= -tol)) {
        info[0] = d;
        info[1] = -1.0;
        info[2] = quotient;
        return static_cast<std::int64_t>(j);
      }
      tiny = quotient <= tol;
    }
    if (zero || tiny) {
      // Column j of L stays zero when the rest of the column vanishes; a zero pivot needs
      // it, a tiny positive one keeps its column otherwise.
      bool vanishes = true;
      for (std::size_t i = j + 1; i < n && vanishes; ++i) {
        const double* li = lower + i * n;
        double s = a[i * n + j];
        for (std::size_t k = 0; k < j; ++k) s -= li[k] * lj[k];
        vanishes = s * s <= tol * std::max(a[i * n + i], 0.0);
        if (!vanishes && zero) {
          info[0] = d;
          info[1] = static_cast<double>(i);
          info[2] = s;
          return static_cast<std::int64_t>(j);
        }
      }
      if (vanishes) continue;
    }
    const double diag = std::sqrt(d);
    lower[j * n + j] = diag;
    // Four rows at a time: each row's sum keeps its order (identical to lib/risk), the
    // four independent chains hide the subtraction latency.
    std::size_t i = j + 1;
    for (; i + 4 <= n; i += 4) {
      const double* l0 = lower + i * n;
      const double* l1 = l0 + n;
      const double* l2 = l1 + n;
      const double* l3 = l2 + n;
      double s0 = a[i * n + j], s1 = a[(i + 1) * n + j], s2 = a[(i + 2) * n + j], s3 = a[(i + 3) * n + j];
      for (std::size_t k = 0; k < j; ++k) {
        const double v = lj[k];
        s0 -= l0[k] * v;
        s1 -= l1[k] * v;
        s2 -= l2[k] * v;
        s3 -= l3[k] * v;
      }
      lower[i * n + j] = s0 / diag;
      lower[(i + 1) * n + j] = s1 / diag;
      lower[(i + 2) * n + j] = s2 / diag;
      lower[(i + 3) * n + j] = s3 / diag;
    }
    for (; i < n; ++i) {
      const double* li = lower + i * n;
      double s = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) s -= li[k] * lj[k];
      lower[i * n + j] = s / diag;
    }
  }
  return -1;
}

}  // namespace up::risk
