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

// Rows per packing task: fixed, so the sums' order does not depend on the thread count.
constexpr std::size_t kPackRows = 128;

// Rows of the output per task, and the column blocks their mirror image is written in.
constexpr std::size_t kOutputRows = 16;

inline bool finite(double v) { return v - v == 0.0; }

// One row's contribution to the column sums of x - x_0, largest |x| and (EWMA) largest |x - x_0|.
void column_stats(const double* __restrict row, const double* __restrict first, std::size_t n, bool ewma,
                  double* __restrict sum, double* __restrict top, double* __restrict spread) {
  for (std::size_t j = 0; j < n; ++j) {
    sum[j] += row[j] - first[j];
    top[j] = std::max(top[j], std::fabs(row[j]));
  }
  if (!ewma) return;
  for (std::size_t j = 0; j < n; ++j) spread[j] = std::max(spread[j], std::fabs(row[j] - first[j]));
}

// One row of data into observation t of every panel (zt = panels + t * w, panel stride ps):
// Pearson's (x * scale - shift) - mean, exact up to the final subtraction's rounding.
void pack_row(const double* __restrict row, const double* __restrict scale, const double* __restrict shift,
              const double* __restrict mean, std::size_t n, std::size_t w, std::size_t ps, double* __restrict zt) {
  std::size_t j = 0;
  for (; j + w <= n; j += w, zt += ps) {
    for (std::size_t l = 0; l < w; ++l) zt[l] = (row[j + l] * scale[j + l] - shift[j + l]) - mean[j + l];
  }
  for (std::size_t l = 0; j + l < n; ++l) zt[l] = (row[j + l] * scale[j + l] - shift[j + l]) - mean[j + l];
}

// EWMA: sqrt(w_t) * (x * scale), and the largest magnitude written per column.
void pack_row_weighted(const double* __restrict row, const double* __restrict scale, double weight, std::size_t n,
                       std::size_t w, std::size_t ps, double* __restrict zt, double* __restrict big) {
  for (std::size_t j = 0; j < n; ++j) {
    const double v = weight * (row[j] * scale[j]);
    zt[(j / w) * ps + j % w] = v;
    big[j] = std::max(big[j], std::fabs(v));
  }
}

// EWMA columns whose largest weighted value is below this are scaled up again (2^-256:
// far from underflow, and never reached by a column whose recent values matter).
constexpr double kEwmaRescaleBelow = 0x1p-256;

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
  thread_local std::vector<double> part_buf;
  zbuf.resize(rows * T);
  gbuf.resize(rows * rows);
  cols.assign(6 * N, 0.0);
  expo_buf.resize(N);
  double* sum = cols.data();     // sums of x - x_0: not finite when a value is not
  double* top = sum + N;         // largest |x|
  double* spread = top + N;      // EWMA: largest |x - x_0|, 0 exactly when every value equals the first
  double* scale = spread + N;    // 2^-expo
  double* shift = scale + N;     // Pearson: the scaled first value
  double* mean = shift + N;      // Pearson: the mean of the shifted, scaled column (0: centred after)
  int* expo = expo_buf.data();
  const double* weight = nullptr;
  if (ewma) {
    weight_buf.resize(T);
    ewma_sqrt_weights(T, lambda, weight_buf.data());
    weight = weight_buf.data();
  }
  const double* first = data;
  // Two passes over the data, each split into fixed chunks of kPackRows rows (so results do not
  // depend on the thread count) and read row by row: per-chunk sums, largest magnitudes (and EWMA
  // spreads), combined in chunk order; then the scaled, shifted and centred (or weighted) values
  // written into the panels of Z.
  const std::size_t chunks = (T + kPackRows - 1) / kPackRows;
  part_buf.assign(chunks * 3 * N, 0.0);
  double* part = part_buf.data();
  const double work = static_cast<double>(N) * static_cast<double>(N) * static_cast<double>(T) / 2;
  const bool parallel = work >= kParallelWork;
  const auto run = [&](std::size_t tasks, const auto& fn) {
    if (parallel) {
      parallel_for(tasks, fn);
    } else {
      for (std::size_t k = 0; k < tasks; ++k) fn(k);
    }
  };
  run(chunks, [&](std::size_t c) {
    double* p = part + c * 3 * N;
    for (std::size_t t = c * kPackRows; t < std::min(T, (c + 1) * kPackRows); ++t) {
      column_stats(data + t * N, first, N, ewma, p, p + N, p + 2 * N);
    }
  });
  for (std::size_t c = 0; c < chunks; ++c) {
    const double* p = part + c * 3 * N;
    for (std::size_t j = 0; j < N; ++j) {
      sum[j] += p[j];
      top[j] = std::max(top[j], p[N + j]);
      spread[j] = std::max(spread[j], p[2 * N + j]);
    }
  }
  bool recentre = false;
  for (std::size_t j = 0; j < N; ++j) {
    // A sum that is not finite: a value that is not, or finite values beyond 2^1023 whose
    // differences overflow; such a column is centred after scaling instead.
    if (!finite(sum[j])) {
      for (std::size_t t = 0; t < T; ++t) {
        if (finite(data[t * N + j])) continue;
        for (std::size_t i = 0; i < T * N; ++i) {
          if (!finite(data[i])) return static_cast<std::int64_t>(i);
        }
      }
      recentre = true;
    }
    expo[j] = detmath::scale_exponent(top[j]);
    scale[j] = detmath::pow2(-expo[j]);
    // Pearson: shifted by the scaled first value, then centred: a constant column is exactly
    // 0, and the mean's rounding no longer leaves a variance behind. The mean of x - x_0,
    // scaled exactly, is the mean of the shifted, scaled column.
    shift[j] = first[j] * scale[j];
    // Scaled first (exact), then divided: sum / T on subnormal data would round to the
    // subnormal grid and leave a relative error near 2^-11 in every deviation.
    mean[j] = finite(sum[j]) ? sum[j] * scale[j] / static_cast<double>(T) : 0.0;
  }
  // Z packed for gram_upper: column j of the data is row j of Z, at z + (j / w) * T * w + j % w,
  // one observation every w doubles. The padding rows N..rows are zero.
  double* z = zbuf.data();
  for (std::size_t j = N; j < rows; ++j) {
    double* zj = z + (j / w) * T * w + j % w;
    for (std::size_t t = 0; t < T; ++t) zj[t * w] = 0.0;
  }
  run(chunks, [&](std::size_t c) {
    double* big = part + c * 3 * N;  // EWMA: largest weighted |x| in this chunk
    std::fill(big, big + N, 0.0);
    for (std::size_t t = c * kPackRows; t < std::min(T, (c + 1) * kPackRows); ++t) {
      const double* row = data + t * N;
      if (!ewma) {
        pack_row(row, scale, shift, mean, N, w, T * w, z + t * w);
      } else {
        pack_row_weighted(row, scale, weight[t], N, w, T * w, z + t * w, big);
      }
    }
  });
  for (std::size_t j = 0; j < N; ++j) {
    double* zj = z + (j / w) * T * w + j % w;
    if (!ewma) {
      if (!recentre || finite(sum[j])) continue;
      double acc = 0.0;
      for (std::size_t t = 0; t < T; ++t) acc += zj[t * w];
      const double m = acc / static_cast<double>(T);
      for (std::size_t t = 0; t < T; ++t) zj[t * w] -= m;
      continue;
    }
    double big = 0.0;
    for (std::size_t c = 0; c < chunks; ++c) big = std::max(big, part[c * 3 * N + j]);
    // Old rows weigh as little as lambda^T: a column whose values sit there is scaled again,
    // so its squares stay normal doubles.
    if (big != 0.0 && big < kEwmaRescaleBelow) {
      const int f = detmath::scale_exponent(big);
      const double s = detmath::pow2(-f);
      for (std::size_t t = 0; t < T; ++t) zj[t * w] *= s;
      expo[j] += f;
    }
  }
  double* g = gbuf.data();
  gram_upper(level, z, rows, T, g, parallel);
  const double norm = method == CovMethod::kPearson ? 1.0 / static_cast<double>(T - 1) : 1.0;
  // Correlations from the scaled sums: the scales cancel. A Pearson column is constant
  // exactly when its variance is 0: shifted and centred it is exactly 0, and otherwise its
  // largest deviation, at least half its spread, is >= 2^-54 after scaling, so the sum of
  // squares cannot underflow. Under EWMA a constant column keeps c^2: compare values.
  double* diag = sum;
  if (correlation) {
    for (std::size_t i = 0; i < N; ++i) {
      diag[i] = g[i * rows + i] * norm;
      if (!(diag[i] > 0) || (ewma && spread[i] == 0.0)) return kZeroVariance - static_cast<std::int64_t>(i);
    }
  }
  // Rows [i0, i1) of the upper triangle, a row at a time (the loop vectorises), then mirrored
  // below the diagonal in column blocks.
  const auto fill = [&](std::size_t task) {
    const std::size_t i0 = task * kOutputRows;
    const std::size_t i1 = std::min(N, i0 + kOutputRows);
    for (std::size_t i = i0; i < i1; ++i) {
      const double* gi = g + i * rows;
      double* oi = out + i * N;
      if (correlation) {
        oi[i] = 1.0;
        const double di = diag[i];
        for (std::size_t j = i + 1; j < N; ++j) oi[j] = std::clamp(gi[j] * norm / std::sqrt(di * diag[j]), -1.0, 1.0);
      } else {
        for (std::size_t j = i; j < N; ++j) oi[j] = detmath::times_pow2(gi[j] * norm, expo[i] + expo[j]);
      }
    }
    for (std::size_t jb = i0; jb < N; jb += kOutputRows) {
      const std::size_t je = std::min(N, jb + kOutputRows);
      for (std::size_t i = i0; i < i1; ++i) {
        for (std::size_t j = std::max(jb, i + 1); j < je; ++j) out[j * N + i] = out[i * N + j];
      }
    }
  };
  const std::size_t fill_tasks = (N + kOutputRows - 1) / kOutputRows;
  run(fill_tasks, fill);
  return -1;
}

}  // namespace up::risk
