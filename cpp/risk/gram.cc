#include "gram.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "parallel.hpp"

namespace up::risk {
namespace {

// One micro-kernel call: C (W x 3W at c, row stride ldc) = [C +] A B^T over kc observations,
// A one packed panel (W rows) at a, B three consecutive panels at b, b + bs, b + 2 bs.
using Kernel = void (*)(const double* a, const double* b, std::size_t bs, std::size_t kc, double* c, std::size_t ldc,
                        bool accumulate);

// Plain reference (no SIMD level): 4 x 12, a product then a sum, the same order per entry.
void kernel_plain(const double* a, const double* b, std::size_t bs, std::size_t kc, double* c, std::size_t ldc,
                  bool accumulate) {
  double acc[4][12];
  for (int r = 0; r < 4; ++r) {
    for (int q = 0; q < 12; ++q) acc[r][q] = accumulate ? c[r * ldc + q] : 0.0;
  }
  for (std::size_t t = 0; t < kc; ++t) {
    double y[12];
    for (int p = 0; p < 3; ++p) {
      for (int l = 0; l < 4; ++l) y[4 * p + l] = b[p * bs + 4 * t + l];
    }
    for (int r = 0; r < 4; ++r) {
      const double x = a[4 * t + r];
      for (int q = 0; q < 12; ++q) acc[r][q] += x * y[q];
    }
  }
  for (int r = 0; r < 4; ++r) {
    for (int q = 0; q < 12; ++q) c[r * ldc + q] = acc[r][q];
  }
}

#if defined(__x86_64__)
// AVX2+FMA: 4 x 12, 12 accumulators + 3 loaded rows of B + 1 broadcast = the 16 ymm registers;
// per observation 3 loads and 4 broadcasts feed 12 FMAs (BLIS's haswell kernel is 6 x 8: 6
// broadcasts per 12 FMAs, and on Zen a broadcast takes an FP pipe slot from the FMAs).
__attribute__((target("avx2,fma")))
void kernel_avx2(const double* a, const double* b, std::size_t bs, std::size_t kc, double* c, std::size_t ldc,
                 bool accumulate) {
  const double* b1 = b + bs;
  const double* b2 = b1 + bs;
  __m256d c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
  if (accumulate) {
    c00 = _mm256_loadu_pd(c), c01 = _mm256_loadu_pd(c + 4), c02 = _mm256_loadu_pd(c + 8);
    c10 = _mm256_loadu_pd(c + ldc), c11 = _mm256_loadu_pd(c + ldc + 4), c12 = _mm256_loadu_pd(c + ldc + 8);
    c20 = _mm256_loadu_pd(c + 2 * ldc), c21 = _mm256_loadu_pd(c + 2 * ldc + 4), c22 = _mm256_loadu_pd(c + 2 * ldc + 8);
    c30 = _mm256_loadu_pd(c + 3 * ldc), c31 = _mm256_loadu_pd(c + 3 * ldc + 4), c32 = _mm256_loadu_pd(c + 3 * ldc + 8);
  } else {
    c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = _mm256_setzero_pd();
  }
  for (std::size_t t = 0; t < kc; ++t) {
    const __m256d y0 = _mm256_loadu_pd(b + 4 * t);
    const __m256d y1 = _mm256_loadu_pd(b1 + 4 * t);
    const __m256d y2 = _mm256_loadu_pd(b2 + 4 * t);
    __m256d x = _mm256_broadcast_sd(a + 4 * t);
    c00 = _mm256_fmadd_pd(x, y0, c00), c01 = _mm256_fmadd_pd(x, y1, c01), c02 = _mm256_fmadd_pd(x, y2, c02);
    x = _mm256_broadcast_sd(a + 4 * t + 1);
    c10 = _mm256_fmadd_pd(x, y0, c10), c11 = _mm256_fmadd_pd(x, y1, c11), c12 = _mm256_fmadd_pd(x, y2, c12);
    x = _mm256_broadcast_sd(a + 4 * t + 2);
    c20 = _mm256_fmadd_pd(x, y0, c20), c21 = _mm256_fmadd_pd(x, y1, c21), c22 = _mm256_fmadd_pd(x, y2, c22);
    x = _mm256_broadcast_sd(a + 4 * t + 3);
    c30 = _mm256_fmadd_pd(x, y0, c30), c31 = _mm256_fmadd_pd(x, y1, c31), c32 = _mm256_fmadd_pd(x, y2, c32);
  }
  _mm256_storeu_pd(c, c00), _mm256_storeu_pd(c + 4, c01), _mm256_storeu_pd(c + 8, c02);
  _mm256_storeu_pd(c + ldc, c10), _mm256_storeu_pd(c + ldc + 4, c11), _mm256_storeu_pd(c + ldc + 8, c12);
  _mm256_storeu_pd(c + 2 * ldc, c20), _mm256_storeu_pd(c + 2 * ldc + 4, c21), _mm256_storeu_pd(c + 2 * ldc + 8, c22);
  _mm256_storeu_pd(c + 3 * ldc, c30), _mm256_storeu_pd(c + 3 * ldc + 4, c31), _mm256_storeu_pd(c + 3 * ldc + 8, c32);
}

// AVX-512F: 8 x 24, 24 accumulators + 3 rows of B + 1 broadcast of the 32 zmm registers.
// Not run on the development VM (no AVX-512 there); test/native/risk_test.cc compares it with
// the plain kernel where the CPU has AVX-512F.
__attribute__((target("avx512f")))
void kernel_avx512(const double* a, const double* b, std::size_t bs, std::size_t kc, double* c, std::size_t ldc,
                   bool accumulate) {
  __m512d acc[8][3];
  for (int r = 0; r < 8; ++r) {
    for (int p = 0; p < 3; ++p) acc[r][p] = accumulate ? _mm512_loadu_pd(c + r * ldc + 8 * p) : _mm512_setzero_pd();
  }
  for (std::size_t t = 0; t < kc; ++t) {
    const __m512d y0 = _mm512_loadu_pd(b + 8 * t);
    const __m512d y1 = _mm512_loadu_pd(b + bs + 8 * t);
    const __m512d y2 = _mm512_loadu_pd(b + 2 * bs + 8 * t);
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) {
      const __m512d x = _mm512_set1_pd(a[8 * t + r]);
      acc[r][0] = _mm512_fmadd_pd(x, y0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_pd(x, y1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_pd(x, y2, acc[r][2]);
    }
  }
  for (int r = 0; r < 8; ++r) {
    for (int p = 0; p < 3; ++p) _mm512_storeu_pd(c + r * ldc + 8 * p, acc[r][p]);
  }
}
#endif

Kernel kernel_for(SimdLevel level) {
#if defined(__x86_64__)
  if (level == SimdLevel::kAvx512) return kernel_avx512;
  if (level == SimdLevel::kAvx2) return kernel_avx2;
#endif
  (void)level;
  return kernel_plain;
}

}  // namespace

std::size_t gram_panel_width(SimdLevel level) { return level == SimdLevel::kAvx512 ? 8 : 4; }

std::size_t gram_rows(SimdLevel level, std::size_t assets) {
  const std::size_t tile = 3 * gram_panel_width(level);
  return (assets + tile - 1) / tile * tile;
}

void gram_upper(SimdLevel level, const double* packed, std::size_t rows, std::size_t T, double* g, bool parallel) {
  const std::size_t w = gram_panel_width(level);
  const std::size_t tile = 3 * w;
  const Kernel kernel = kernel_for(level);
  // Observations per block: the B panels of a micro-tile (3W x kc doubles, 18 KiB) stay in L1d.
  const std::size_t kc = w == 8 ? 96 : 192;
  const std::size_t panel = T * w;
  // Blocks of up to 96 assets (an A block of 96 x kc stays in L2), small enough that the
  // triangle has ~10 block pairs or more to share between threads.
  const std::size_t block = std::clamp<std::size_t>(rows / tile / 4, 1, 96 / tile) * tile;
  const std::size_t blocks = (rows + block - 1) / block;
  // Pairs (I, J), I <= J, off-diagonal (the larger) first so the dynamic hand-out balances.
  thread_local std::vector<std::pair<std::size_t, std::size_t>> pair_buf;
  auto& pairs = pair_buf;  // the caller's list: a thread_local named inside the task would be the worker's
  pairs.clear();
  for (std::size_t d = blocks; d-- > 0;) {
    for (std::size_t i = 0; i + d < blocks; ++i) pairs.emplace_back(i, i + d);
  }
  if (T == 0) {
    std::fill(g, g + rows * rows, 0.0);
    return;
  }
  const auto task = [&](std::size_t k) {
    const auto [bi, bj] = pairs[k];
    const std::size_t i0 = bi * block, i1 = std::min(rows, i0 + block);
    const std::size_t j0 = bj * block, j1 = std::min(rows, j0 + block);
    for (std::size_t t0 = 0; t0 < T; t0 += kc) {
      const std::size_t kn = std::min(kc, T - t0);
      for (std::size_t j = j0; j < j1; j += tile) {
        const double* b = packed + (j / w) * panel + t0 * w;
        // Panels of A wholly below the diagonal are skipped: only i <= j is wanted.
        const std::size_t iend = bi == bj ? std::min(i1, j + tile) : i1;
        for (std::size_t i = i0; i < iend; i += w) {
          kernel(packed + (i / w) * panel + t0 * w, b, panel, kn, g + i * rows + j, rows, t0 > 0);
        }
      }
    }
  };
  if (parallel) {
    parallel_for(pairs.size(), task);
  } else {
    for (std::size_t k = 0; k < pairs.size(); ++k) task(k);
  }
}

}  // namespace up::risk
