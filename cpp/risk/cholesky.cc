// cholesky() (matrix.hpp): a blocked, recursive right-looking factorization with the
// operation order of the unblocked loop in lib/risk, so both give the same L to the last bit.
//
// Every entry of L is s_ij = a_ij - l_i0 l_j0 - l_i1 l_j1 - ... - l_i(j-1) l_j(j-1), each
// product rounded, then subtracted and rounded, in ascending k, then l_ij = s_ij / l_jj
// (l_jj = sqrt(s_jj)). Any schedule that applies those subtractions to each entry in
// ascending k, one multiply and one subtract at a time (never a fused multiply-add), gives
// the same bits; so the work is reordered across entries only:
//  - the lower triangle is copied into a column-major workspace W (leading dimension ld, a
//    multiple of 8, 64-byte aligned), where column k of L is contiguous;
//  - columns [k0, k1) are factored by halving: the left half, then the right half's update
//    by it, then the right half (a recursive right-looking factorization, as LAPACK's
//    dpotrf2), so almost every flop lands in a large update;
//  - at most kLeaf columns are factored one at a time: column j takes the columns k0..j-1
//    of its block (a matrix-vector product vectorised down the column), then the pivot
//    tests of the scalar loop, then the division by the square root of its pivot;
//  - an update of columns [c0, c1) by columns [k0, k1) runs 8 x 4 blocks of accumulators
//    held in registers, k ascending inside: the rows in vectors, the columns broadcast
//    (vectorised across entries, never across k), vmulpd then vsubpd; a large one is split
//    by columns over the thread pool (each entry's operations do not depend on the split);
//  - L is copied back, row-major, with zeros above the diagonal.
// The entries above the diagonal of W and the padding rows and columns are scratch: they are
// computed alongside (whole vectors) and never read into an entry of L.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <new>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "matrix.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace up::risk {
namespace {

// A positive pivot below this fraction of its diagonal entry (R^2 > 1 - 2^-20 against the
// assets before it) gets the Rayleigh-quotient test; real covariance matrices rarely do.
constexpr double kNearSingular = 0x1p-20;

// Columns factored one at a time at the bottom of the recursion (a multiple of 8).
constexpr std::size_t kLeaf = 8;

// Columns of k an update takes per pass over its entries: 64 keeps a pass's 8 x 4 block
// operands (64 lines of rows, 64 of columns) in L1 (n = 500: 1.61 -> 1.43 ms on one core).
constexpr std::size_t kDepth = 64;

// Mul-subtracts (n^3/6 in all) above which an update is split over threads (n = 500: the
// largest 4 updates, most of the flops). Each split costs a hand-off and a wait for every
// worker, which on a loaded machine is a scheduling delay, so only large updates are split.
constexpr double kParallelWork = 1 << 20;

// Workspaces up to this many doubles stay allocated per thread between calls (8 MiB: n <= 1024);
// a larger one is allocated for the call (its O(n^3) work dwarfs the allocation).
constexpr std::size_t kKeepWorkspace = std::size_t{1} << 20;

// |w|^2 for w = L11^-T l_j (l_j: row j of L left of the diagonal), by back substitution;
// zero columns (zero pivots) take w_k = 0. x = (-w, 1, 0...) has x^T A x = pivot j.
// l(row, col) reads L; w is scratch of j doubles.
template <class At>
double pivot_direction_norm2(At l, std::size_t j, double* w) {
  std::fill(w, w + j, 0.0);
  double norm2 = 0.0;
  for (std::size_t k = j; k-- > 0;) {
    const double diag = l(k, k);
    if (diag == 0.0) continue;
    double v = l(j, k);
    for (std::size_t m = k + 1; m < j; ++m) v -= l(m, k) * w[m];
    w[k] = v / diag;
    norm2 += w[k] * w[k];
  }
  return norm2;
}

// The pivot tests of column j, shared by both paths. d: the pivot after elimination;
// s(i): entry i > j of the column after elimination (before the division). Returns
// kFactor (divide by sqrt(d)), kZero (column j of L is zero) or kFail (info filled).
enum class Pivot { kFactor, kZero, kFail };

template <class At, class Entry>
Pivot test_pivot(const double* a, std::size_t n, std::size_t j, double d, double tol, At l, Entry s, double* w,
                 double* info) {
  // Rounding of a rank-deficient matrix grows in the pivot, not in the Rayleigh quotient
  // d / (1 + |w|^2) of the direction it exposes: that is what the tolerance judges, for a
  // negative pivot and for a tiny positive one (which would otherwise divide noise by noise).
  const bool zero = !(d > tol);
  bool tiny = false;
  if (zero ? !(d >= -tol) : d <= a[j * n + j] * kNearSingular) {
    const double quotient = d / (1.0 + pivot_direction_norm2(l, j, w));
    if (!(quotient >= -tol)) {
      info[0] = d;
      info[1] = -1.0;
      info[2] = quotient;
      return Pivot::kFail;
    }
    tiny = quotient <= tol;
  }
  if (!zero && !tiny) return Pivot::kFactor;
  // Column j of L stays zero when the rest of the column vanishes; a zero pivot needs it,
  // a tiny positive one keeps its column otherwise.
  for (std::size_t i = j + 1; i < n; ++i) {
    const double v = s(i);
    if (!(v * v <= tol * std::max(a[i * n + i], 0.0))) {
      if (!zero) return Pivot::kFactor;
      info[0] = d;
      info[1] = static_cast<double>(i);
      info[2] = v;
      return Pivot::kFail;
    }
  }
  return Pivot::kZero;
}

// The unblocked loop, exactly lib/risk's: the kScalar path and the reference for the others.
std::int64_t cholesky_plain(const double* a, std::size_t n, double* lower, double* info) {
  for (std::size_t i = 0; i < n * n; ++i) lower[i] = 0.0;
  const double tol = psd_tolerance(a, n);
  std::unique_ptr<double[]> w(new double[n]);
  const auto l = [lower, n](std::size_t r, std::size_t c) { return lower[r * n + c]; };
  for (std::size_t j = 0; j < n; ++j) {
    const double* lj = lower + j * n;
    double d = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) d -= lj[k] * lj[k];
    const auto entry = [&](std::size_t i) {
      const double* li = lower + i * n;
      double s = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) s -= li[k] * lj[k];
      return s;
    };
    const Pivot p = test_pivot(a, n, j, d, tol, l, entry, w.get(), info);
    if (p == Pivot::kFail) return static_cast<std::int64_t>(j);
    if (p == Pivot::kZero) continue;
    const double diag = std::sqrt(d);
    lower[j * n + j] = diag;
    for (std::size_t i = j + 1; i < n; ++i) lower[i * n + j] = entry(i) / diag;
  }
  return -1;
}

#if defined(__x86_64__)

// ---- AVX2 (no FMA: the target has none, so nothing can be fused) -------------------------

#define UP_CHOL_TARGET __attribute__((target("avx2")))

// W[j][i] -= W[k][i] * W[k][j] for k in [k0, k1), i in [i0, i0 + 8), j in [j0, j0 + 4).
UP_CHOL_TARGET inline void update_8x4(double* w, std::size_t ld, std::size_t i0, std::size_t j0, std::size_t k0,
                                      std::size_t k1) {
  double* c = w + j0 * ld + i0;
  __m256d c00 = _mm256_load_pd(c), c10 = _mm256_load_pd(c + 4);
  __m256d c01 = _mm256_load_pd(c + ld), c11 = _mm256_load_pd(c + ld + 4);
  __m256d c02 = _mm256_load_pd(c + 2 * ld), c12 = _mm256_load_pd(c + 2 * ld + 4);
  __m256d c03 = _mm256_load_pd(c + 3 * ld), c13 = _mm256_load_pd(c + 3 * ld + 4);
  const double* p = w + k0 * ld;
  for (std::size_t k = k0; k < k1; ++k, p += ld) {
    const __m256d a0 = _mm256_load_pd(p + i0);
    const __m256d a1 = _mm256_load_pd(p + i0 + 4);
    __m256d b = _mm256_broadcast_sd(p + j0);
    c00 = _mm256_sub_pd(c00, _mm256_mul_pd(a0, b));
    c10 = _mm256_sub_pd(c10, _mm256_mul_pd(a1, b));
    b = _mm256_broadcast_sd(p + j0 + 1);
    c01 = _mm256_sub_pd(c01, _mm256_mul_pd(a0, b));
    c11 = _mm256_sub_pd(c11, _mm256_mul_pd(a1, b));
    b = _mm256_broadcast_sd(p + j0 + 2);
    c02 = _mm256_sub_pd(c02, _mm256_mul_pd(a0, b));
    c12 = _mm256_sub_pd(c12, _mm256_mul_pd(a1, b));
    b = _mm256_broadcast_sd(p + j0 + 3);
    c03 = _mm256_sub_pd(c03, _mm256_mul_pd(a0, b));
    c13 = _mm256_sub_pd(c13, _mm256_mul_pd(a1, b));
  }
  _mm256_store_pd(c, c00);
  _mm256_store_pd(c + 4, c10);
  _mm256_store_pd(c + ld, c01);
  _mm256_store_pd(c + ld + 4, c11);
  _mm256_store_pd(c + 2 * ld, c02);
  _mm256_store_pd(c + 2 * ld + 4, c12);
  _mm256_store_pd(c + 3 * ld, c03);
  _mm256_store_pd(c + 3 * ld + 4, c13);
}

// The update of columns [j0, j1) (multiples of 4, j1 <= ld) by columns [k0, k1):
// every 8 x 4 block on or below the diagonal, rows up to ld.
UP_CHOL_TARGET void update_avx2(double* w, std::size_t ld, std::size_t j0, std::size_t j1, std::size_t k0,
                               std::size_t k1) {
  for (std::size_t kc = k0; kc < k1; kc += kDepth) {
    const std::size_t kd = std::min(kc + kDepth, k1);
    for (std::size_t j = j0; j < j1; j += 4) {
      for (std::size_t i = j & ~std::size_t{7}; i < ld; i += 8) update_8x4(w, ld, i, j, kc, kd);
    }
  }
}

// Column j of a leaf takes the leaf's columns [k0, j): W[j][i] -= W[k][i] * W[k][j], rows from
// j & ~3 to ld, 16 rows per pass.
UP_CHOL_TARGET void leaf_column_avx2(double* w, std::size_t ld, std::size_t j, std::size_t k0) {
  double* c = w + j * ld;
  std::size_t i = j & ~std::size_t{3};
  for (; i + 16 <= ld; i += 16) {
    __m256d s0 = _mm256_load_pd(c + i), s1 = _mm256_load_pd(c + i + 4);
    __m256d s2 = _mm256_load_pd(c + i + 8), s3 = _mm256_load_pd(c + i + 12);
    const double* p = w + k0 * ld;
    for (std::size_t k = k0; k < j; ++k, p += ld) {
      const __m256d b = _mm256_broadcast_sd(p + j);
      s0 = _mm256_sub_pd(s0, _mm256_mul_pd(_mm256_load_pd(p + i), b));
      s1 = _mm256_sub_pd(s1, _mm256_mul_pd(_mm256_load_pd(p + i + 4), b));
      s2 = _mm256_sub_pd(s2, _mm256_mul_pd(_mm256_load_pd(p + i + 8), b));
      s3 = _mm256_sub_pd(s3, _mm256_mul_pd(_mm256_load_pd(p + i + 12), b));
    }
    _mm256_store_pd(c + i, s0);
    _mm256_store_pd(c + i + 4, s1);
    _mm256_store_pd(c + i + 8, s2);
    _mm256_store_pd(c + i + 12, s3);
  }
  for (; i < ld; i += 4) {
    __m256d s0 = _mm256_load_pd(c + i);
    const double* p = w + k0 * ld;
    for (std::size_t k = k0; k < j; ++k, p += ld) {
      s0 = _mm256_sub_pd(s0, _mm256_mul_pd(_mm256_load_pd(p + i), _mm256_broadcast_sd(p + j)));
    }
    _mm256_store_pd(c + i, s0);
  }
}

// W[j][i] /= diag for i in (j, ld): whole vectors from j & ~3, the diagonal put back after.
UP_CHOL_TARGET void scale_column_avx2(double* w, std::size_t ld, std::size_t j, double diag) {
  double* c = w + j * ld;
  const __m256d d = _mm256_set1_pd(diag);
  for (std::size_t i = j & ~std::size_t{3}; i < ld; i += 4) _mm256_store_pd(c + i, _mm256_div_pd(_mm256_load_pd(c + i), d));
  c[j] = diag;
}

// 4 x 4 transposes: W's lower triangle from a (row-major), and lower from W with zeros above
// the diagonal. Rows and columns past n are handled one by one.
UP_CHOL_TARGET inline void transpose4(__m256d& r0, __m256d& r1, __m256d& r2, __m256d& r3) {
  const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
  const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
  r0 = _mm256_permute2f128_pd(t0, t2, 0x20);
  r1 = _mm256_permute2f128_pd(t1, t3, 0x20);
  r2 = _mm256_permute2f128_pd(t0, t2, 0x31);
  r3 = _mm256_permute2f128_pd(t1, t3, 0x31);
}

UP_CHOL_TARGET void copy_in_avx2(const double* a, std::size_t n, double* w, std::size_t ld) {
  const std::size_t n4 = n & ~std::size_t{3};
  for (std::size_t j = 0; j < n4; j += 4) {
    for (std::size_t i = j; i < n4; i += 4) {
      __m256d r0 = _mm256_loadu_pd(a + i * n + j), r1 = _mm256_loadu_pd(a + (i + 1) * n + j);
      __m256d r2 = _mm256_loadu_pd(a + (i + 2) * n + j), r3 = _mm256_loadu_pd(a + (i + 3) * n + j);
      transpose4(r0, r1, r2, r3);
      _mm256_store_pd(w + j * ld + i, r0);
      _mm256_store_pd(w + (j + 1) * ld + i, r1);
      _mm256_store_pd(w + (j + 2) * ld + i, r2);
      _mm256_store_pd(w + (j + 3) * ld + i, r3);
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t i = std::max(j, n4); i < n; ++i) w[j * ld + i] = a[i * n + j];
    for (std::size_t i = n; i < ld; ++i) w[j * ld + i] = 0.0;
  }
}

UP_CHOL_TARGET void copy_out_avx2(const double* w, std::size_t ld, std::size_t n, double* lower) {
  const std::size_t n4 = n & ~std::size_t{3};
  const __m256d zero = _mm256_setzero_pd();
  for (std::size_t i = 0; i < n4; i += 4) {
    for (std::size_t j = 0; j <= i; j += 4) {
      __m256d r0 = _mm256_load_pd(w + j * ld + i), r1 = _mm256_load_pd(w + (j + 1) * ld + i);
      __m256d r2 = _mm256_load_pd(w + (j + 2) * ld + i), r3 = _mm256_load_pd(w + (j + 3) * ld + i);
      transpose4(r0, r1, r2, r3);  // now r_m = row i + m, columns j..j+3
      if (j == i) {
        r0 = _mm256_blend_pd(zero, r0, 0x1);
        r1 = _mm256_blend_pd(zero, r1, 0x3);
        r2 = _mm256_blend_pd(zero, r2, 0x7);
      }
      _mm256_storeu_pd(lower + i * n + j, r0);
      _mm256_storeu_pd(lower + (i + 1) * n + j, r1);
      _mm256_storeu_pd(lower + (i + 2) * n + j, r2);
      _mm256_storeu_pd(lower + (i + 3) * n + j, r3);
    }
    for (std::size_t r = i; r < i + 4; ++r) {
      for (std::size_t j = i + 4; j < n; ++j) lower[r * n + j] = 0.0;
    }
  }
  for (std::size_t i = n4; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) lower[i * n + j] = j <= i ? w[j * ld + i] : 0.0;
  }
}

// One place for the workspace: 64-byte aligned, kept per thread when small.
struct AlignedFree {
  void operator()(double* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using Workspace = std::unique_ptr<double[], AlignedFree>;

double* workspace(std::size_t doubles, Workspace& local) {
  thread_local Workspace kept;
  thread_local std::size_t kept_size = 0;
  Workspace& slot = doubles <= kKeepWorkspace ? kept : local;
  if (&slot == &kept && kept_size >= doubles) return kept.get();
  slot.reset(static_cast<double*>(::operator new[](doubles * sizeof(double), std::align_val_t{64})));
  std::fill(slot.get(), slot.get() + doubles, 0.0);
  if (&slot == &kept) kept_size = doubles;
  return slot.get();
}

struct Factor {
  const double* a;
  std::size_t n;
  double* w;
  std::size_t ld;
  double tol;
  double* scratch;  // pivot_direction_norm2's
  double* info;
};

// W[j][i] -= sum_k W[k][i] W[k][j], k in [k0, k1) ascending, for columns [c0, c1) (multiples
// of 4) and rows from each column's diagonal block to ld; split by columns over the pool when
// the work pays (a column's work is ld - j: the cuts share the trapezoid's area).
void update(const Factor& f, std::size_t c0, std::size_t c1, std::size_t k0, std::size_t k1) {
  const double top = static_cast<double>(f.ld - c0), bottom = static_cast<double>(f.ld - c1);
  const double work = (top * top - bottom * bottom) / 2 * static_cast<double>(k1 - k0);
  const std::size_t tasks = work >= kParallelWork ? std::min<std::size_t>((c1 - c0) / 4, 4 * parallel_width()) : 1;
  if (tasks <= 1) return update_avx2(f.w, f.ld, c0, c1, k0, k1);
  parallel_for(tasks, [&](std::size_t t) {
    const auto cut = [&](std::size_t q) {
      if (q == tasks) return c1;
      const double left = top * top - (top * top - bottom * bottom) * static_cast<double>(q) / static_cast<double>(tasks);
      const std::size_t x = f.ld - static_cast<std::size_t>(std::sqrt(left));
      return std::min(c1, c0 + ((x - std::min(x, c0)) & ~std::size_t{3}));
    };
    update_avx2(f.w, f.ld, cut(t), cut(t + 1), k0, k1);
  });
}

// Factors columns [k0, k1), which already took every k < k0: up to kLeaf columns one at a
// time (each takes the columns before it in the leaf, then its pivot test and division);
// more are halved, the left half factored, the right half updated by it, then factored.
// Returns -1 or the refused pivot (info filled).
std::int64_t factor(const Factor& f, std::size_t k0, std::size_t k1) {
  if (k1 - k0 > kLeaf) {
    const std::size_t mid = k0 + (((k1 - k0) / 2 + 7) & ~std::size_t{7});
    const std::int64_t left = factor(f, k0, mid);
    if (left >= 0) return left;
    update(f, mid, std::min(f.ld, (k1 + 3) & ~std::size_t{3}), k0, mid);
    return factor(f, mid, k1);
  }
  const auto l = [&f](std::size_t r, std::size_t c) { return f.w[c * f.ld + r]; };
  for (std::size_t j = k0; j < k1; ++j) {
    leaf_column_avx2(f.w, f.ld, j, k0);
    double* c = f.w + j * f.ld;
    const auto entry = [c](std::size_t i) { return c[i]; };
    const Pivot p = test_pivot(f.a, f.n, j, c[j], f.tol, l, entry, f.scratch, f.info);
    if (p == Pivot::kFail) return static_cast<std::int64_t>(j);
    if (p == Pivot::kZero) {
      std::fill(c + (j & ~std::size_t{3}), c + f.ld, 0.0);
    } else {
      scale_column_avx2(f.w, f.ld, j, std::sqrt(c[j]));
    }
  }
  return -1;
}

std::int64_t cholesky_avx2(const double* a, std::size_t n, double* lower, double* info) {
  const std::size_t ld = (n + 7) & ~std::size_t{7};
  Workspace local;
  double* w = workspace(ld * ld + ld, local);
  copy_in_avx2(a, n, w, ld);
  const Factor f{a, n, w, ld, psd_tolerance(a, n), w + ld * ld, info};
  const std::int64_t refused = factor(f, 0, n);
  if (refused >= 0) {
    // As the scalar loop leaves it: the columns before the refused pivot, zeros elsewhere.
    for (std::size_t col = static_cast<std::size_t>(refused); col < ld; ++col) std::fill(w + col * ld, w + col * ld + ld, 0.0);
  }
  copy_out_avx2(w, ld, n, lower);
  return refused;
}

#endif  // __x86_64__

}  // namespace

std::int64_t cholesky(const double* a, std::size_t n, double* lower, double* info) {
#if defined(__x86_64__)
  if (simd_level() != SimdLevel::kScalar) return cholesky_avx2(a, n, lower, info);
#endif
  return cholesky_plain(a, n, lower, info);
}

}  // namespace up::risk
