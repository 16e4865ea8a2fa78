// GPU covariance / correlation (a tiled float64 SYRK), loss moments and portfolio returns:
// the contracts of kernels.cuh, with the CPU semantics of cpp/risk/matrix.cc and var.cc.
// Every sum is deterministic (fixed grids, fixed combination order, no atomics on doubles),
// so a call gives the same bits on every run; atomics only pick the first bad index.
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "cpp/risk/detmath.hpp"
#include "cuda/device.cuh"
#include "cuda/risk/kernels.cuh"
#include "cuda/risk/narrow_syrk.cuh"
#include "cuda/risk/reduce.cuh"

namespace up::cuda {
namespace {

namespace dm = up::risk::detmath;

// "No index yet" for the atomicMin flags (first non-finite input, first zero variance).
inline constexpr unsigned long long kNone = ~0ull;

// SYRK: a block computes one kTile x kTile tile of C = Z^T Z, staging kSlice observations
// of both column panels in shared memory; 16 x 16 threads, each an 8 x 8 register tile.
inline constexpr int kTile = 128;
inline constexpr int kSlice = 8;
inline constexpr int kSyrkThreads = 256;
inline constexpr int kMicro = 8;
static_assert(kSyrkThreads * 2 * 2 == kSlice * kTile, "each thread fetches two double2 per panel per slice");
static_assert((kSyrkThreads / 16) * kMicro == kTile, "16 x 16 threads of 8 x 8 cover the tile");

// Split-K: tile grids smaller than this many blocks also split the observations (a fixed
// rule of the sizes only, never of the device, so results stay reproducible).
inline constexpr std::size_t kSplitBlocks = 256;
inline constexpr std::size_t kMinSlicesPerSplit = 32;  // 256 observations: keeps the prologue cheap

// Column sums: one thread per column over chunks of rows, chunk partials added in order.
inline constexpr unsigned kColThreads = 256;
inline constexpr std::size_t kColRows = 64;
inline constexpr std::size_t kMaxGridY = 65535;

// Centring and the finishing pass.
inline constexpr unsigned kCentreThreads = 128;
inline constexpr std::size_t kNarrowLinearBlocks = 8192;  // narrow centring: grid cap (grid stride)
inline constexpr unsigned kEdge = 32;  // finishing tile edge; 32 x 8 threads
inline constexpr unsigned kEdgeRows = 8;

// Portfolio returns: a block sums kRowThreads rows, assets staged kCols at a time.
inline constexpr unsigned kRowThreads = 128;
inline constexpr unsigned kCols = 32;

__host__ __device__ constexpr std::size_t smaller(std::size_t a, std::size_t b) { return a < b ? a : b; }
__host__ __device__ constexpr std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------------------------------
// Covariance kernels. Z is Tp x Np row-major (observations x assets), pitch ld = Np, the
// data copied in at the top left; everything outside T x N is written 0 by centre_kernel.

// Chunk partial column maxima of |x| and |x - x_0| (0 exactly when every value equals the
// first: a constant column is found by comparison, never by a rounded variance), and the
// first non-finite data index (t * N + j: the smallest t of a column is its first, and the
// minimum over columns is the first overall). Maxima combine in any order: deterministic.
__global__ void __launch_bounds__(kColThreads)
    column_stats_kernel(const double* __restrict__ z, std::size_t ld, std::size_t T, std::size_t N,
                        std::size_t rows_per_chunk, double* __restrict__ top, double* __restrict__ spread,
                        unsigned long long* bad) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * kColThreads + threadIdx.x;
  if (j >= N) return;
  const std::size_t t_begin = static_cast<std::size_t>(blockIdx.y) * rows_per_chunk;
  const std::size_t t_end = smaller(T, t_begin + rows_per_chunk);
  const double first_value = z[j];
  double big = 0.0;
  double far = 0.0;
  unsigned long long first = kNone;
  for (std::size_t t = t_begin; t < t_end; ++t) {
    const double v = z[t * ld + j];
    big = fmax(big, fabs(v));
    far = fmax(far, fabs(v - first_value));
    if (!isfinite(v) && first == kNone) first = static_cast<unsigned long long>(t * N + j);
  }
  top[static_cast<std::size_t>(blockIdx.y) * N + j] = big;
  spread[static_cast<std::size_t>(blockIdx.y) * N + j] = far;
  if (first != kNone) atomicMin(bad, first);
}

// Per column, before centring: the chunk maxima combined, the exponent e (detmath.hpp
// scale_exponent, as on the CPU), the exact scale 2^-e and the scaled first value (the
// Pearson shift; read here because centring overwrites row 0).
__global__ void __launch_bounds__(kColThreads)
    column_scale_kernel(const double* __restrict__ top, const double* __restrict__ spread, std::size_t chunks,
                        std::size_t N, const double* __restrict__ z, int* __restrict__ expo,
                        double* __restrict__ scale, double* __restrict__ shift, double* __restrict__ far) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * kColThreads + threadIdx.x;
  if (j >= N) return;
  double big = 0.0;
  double sp = 0.0;
  for (std::size_t c = 0; c < chunks; ++c) {
    big = fmax(big, top[c * N + j]);
    sp = fmax(sp, spread[c * N + j]);
  }
  const int e = dm::scale_exponent(big);
  const double s = dm::pow2(-e);
  expo[j] = e;
  scale[j] = s;
  shift[j] = dm::mul(z[j], s);
  far[j] = sp;
}

// Chunk partial column sums (of the shifted columns: the Pearson means).
__global__ void __launch_bounds__(kColThreads)
    column_partials_kernel(const double* __restrict__ z, std::size_t ld, std::size_t T, std::size_t N,
                           std::size_t rows_per_chunk, double* __restrict__ partials) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * kColThreads + threadIdx.x;
  if (j >= N) return;
  const std::size_t t_begin = static_cast<std::size_t>(blockIdx.y) * rows_per_chunk;
  const std::size_t t_end = smaller(T, t_begin + rows_per_chunk);
  double acc = 0.0;
  for (std::size_t t = t_begin; t < t_end; ++t) acc += z[t * ld + j];
  partials[static_cast<std::size_t>(blockIdx.y) * N + j] = acc;
}

// Column means: the chunk partials of a column added in chunk order.
__global__ void __launch_bounds__(kColThreads)
    column_means_kernel(const double* __restrict__ partials, std::size_t chunks, std::size_t T, std::size_t N,
                        double* __restrict__ mean) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * kColThreads + threadIdx.x;
  if (j >= N) return;
  double s = 0.0;
  for (std::size_t c = 0; c < chunks; ++c) s += partials[c * N + j];
  mean[j] = s / static_cast<double>(T);
}

// EWMA: a column whose largest weighted value is below 2^-256 (its values sit on rows of
// tiny weight) is scaled up again so its squares stay normal; factor 1 otherwise.
__global__ void __launch_bounds__(kColThreads)
    ewma_rescale_kernel(const double* __restrict__ top, std::size_t chunks, std::size_t N, int* __restrict__ expo,
                        double* __restrict__ factor) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * kColThreads + threadIdx.x;
  if (j >= N) return;
  double big = 0.0;
  for (std::size_t c = 0; c < chunks; ++c) big = fmax(big, top[c * N + j]);
  double f = 1.0;
  if (big != 0.0 && big < 0x1p-256) {
    const int e = dm::scale_exponent(big);
    f = dm::pow2(-e);
    expo[j] += e;
  }
  factor[j] = f;
}

// Element (t, j) of the scaled, centred (or weighted) data: x * 2^-e - shift (Pearson) or
// sqrt(w_t) * (x * 2^-e) (EWMA), and 0 in the padding, so the SYRKs need no bounds checks.
__device__ __forceinline__ double centred(double x, std::size_t t, std::size_t j, std::size_t T, std::size_t N,
                                          const double* scale, const double* shift, const double* weight, bool ewma) {
  if (t >= T || j >= N) return 0.0;
  const double v = dm::mul(x, scale[j]);
  return ewma ? dm::mul(weight[t], v) : dm::sub(v, shift[j]);
}

// In place over Tp x ld: centred() per element.
__global__ void __launch_bounds__(kCentreThreads)
    centre_kernel(double* z, std::size_t ld, std::size_t T, std::size_t Tp, std::size_t N, const double* scale,
                  const double* shift, const double* weight, bool ewma, const unsigned long long* bad) {
  if (*bad != kNone) return;  // the call returns the bad index; skip the work
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * kCentreThreads + threadIdx.x;
  if (j >= ld) return;
  for (std::size_t t = blockIdx.y; t < Tp; t += gridDim.y) {
    double* p = z + t * ld + j;
    *p = centred(*p, t, j, T, N, scale, shift, weight, ewma);
  }
}

// The same for a narrow pitch ld = 2^lg (< one block): linear over the elements, so every
// thread works and a warp's accesses are contiguous.
__global__ void __launch_bounds__(kCentreThreads)
    narrow_centre_kernel(double* z, unsigned lg, std::size_t T, std::size_t Tp, std::size_t N, const double* scale,
                         const double* shift, const double* weight, bool ewma, const unsigned long long* bad) {
  if (*bad != kNone) return;
  const std::size_t total = Tp << lg;
  const std::size_t mask = (std::size_t{1} << lg) - 1;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kCentreThreads;
  for (std::size_t e = static_cast<std::size_t>(blockIdx.x) * kCentreThreads + threadIdx.x; e < total; e += stride) {
    z[e] = centred(z[e], e >> lg, e & mask, T, N, scale, shift, weight, ewma);
  }
}

// In place over the T x N data: z -= by[j] (Pearson means) or z *= by[j] (EWMA rescale).
__global__ void __launch_bounds__(kCentreThreads)
    adjust_kernel(double* z, std::size_t ld, std::size_t T, std::size_t N, const double* by, bool multiply,
                  const unsigned long long* bad) {
  if (*bad != kNone) return;
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * kCentreThreads + threadIdx.x;
  if (j >= N) return;
  const double b = by[j];
  for (std::size_t t = blockIdx.y; t < T; t += gridDim.y) {
    double* p = z + t * ld + j;
    *p = multiply ? dm::mul(*p, b) : dm::sub(*p, b);
  }
}

// adjust_kernel for a narrow pitch ld = 2^lg, linear over the T x ld elements.
__global__ void __launch_bounds__(kCentreThreads)
    narrow_adjust_kernel(double* z, unsigned lg, std::size_t T, std::size_t N, const double* by, bool multiply,
                         const unsigned long long* bad) {
  if (*bad != kNone) return;
  const std::size_t total = T << lg;
  const std::size_t mask = (std::size_t{1} << lg) - 1;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kCentreThreads;
  for (std::size_t e = static_cast<std::size_t>(blockIdx.x) * kCentreThreads + threadIdx.x; e < total; e += stride) {
    const std::size_t j = e & mask;
    if (j < N) z[e] = multiply ? dm::mul(z[e], by[j]) : dm::sub(z[e], by[j]);
  }
}

// One stage of a panel: kSlice observations x kTile assets, two double2 per thread.
__device__ __forceinline__ void fetch_panel(const double* __restrict__ z, std::size_t ld, std::size_t t0,
                                            std::size_t col0, double2 (&reg)[2]) {
#pragma unroll
  for (int q = 0; q < 2; ++q) {
    const int e = static_cast<int>(threadIdx.x) + q * kSyrkThreads;  // 64 double2 per row: a warp reads 512 B
    const int row = e / (kTile / 2);
    const int col = (e % (kTile / 2)) * 2;
    reg[q] = *reinterpret_cast<const double2*>(z + (t0 + row) * ld + col0 + col);
  }
}

__device__ __forceinline__ void stash_panel(double (*panel)[kTile], const double2 (&reg)[2]) {
#pragma unroll
  for (int q = 0; q < 2; ++q) {
    const int e = static_cast<int>(threadIdx.x) + q * kSyrkThreads;
    *reinterpret_cast<double2*>(&panel[e / (kTile / 2)][(e % (kTile / 2)) * 2]) = reg[q];
  }
}

// C tile (bi, bj), bi <= bj, over the observation slices of split blockIdx.y, into plane
// blockIdx.y of `partial` (pitch ld). Thread (tx, ty) owns rows ty*2 + 32*r2 + {0,1} and
// columns tx*2 + 32*c2 + {0,1}: double2 shared reads, B's 16 distinct per warp are one
// contiguous 256 B run and A's two are a broadcast, so no bank conflicts.
__global__ void __launch_bounds__(kSyrkThreads, 1)
    syrk_kernel(const double* __restrict__ z, std::size_t ld, unsigned tiles_per_side, std::size_t slices,
                std::size_t slices_per_split, double* __restrict__ partial, std::size_t plane,
                const unsigned long long* bad) {
  if (*bad != kNone) return;  // uniform: every thread reads the same flag
  __shared__ __align__(16) double as[2][kSlice][kTile];
  __shared__ __align__(16) double bs[2][kSlice][kTile];

  // Linear block index -> upper-triangle tile (bi, bj); consecutive blocks share bi (an L2-warm panel).
  unsigned bi = 0;
  unsigned rem = blockIdx.x;
  while (rem >= tiles_per_side - bi) {
    rem -= tiles_per_side - bi;
    ++bi;
  }
  const unsigned bj = bi + rem;
  const std::size_t i0 = static_cast<std::size_t>(bi) * kTile;
  const std::size_t j0 = static_cast<std::size_t>(bj) * kTile;
  const std::size_t s_begin = static_cast<std::size_t>(blockIdx.y) * slices_per_split;
  const std::size_t s_end = smaller(slices, s_begin + slices_per_split);
  const std::size_t count = s_end > s_begin ? s_end - s_begin : 0;

  const int tx = static_cast<int>(threadIdx.x) & 15;
  const int ty = static_cast<int>(threadIdx.x) >> 4;

  double acc[kMicro][kMicro];
#pragma unroll
  for (int r = 0; r < kMicro; ++r) {
#pragma unroll
    for (int c = 0; c < kMicro; ++c) acc[r][c] = 0.0;
  }

  double2 ra[2];
  double2 rb[2];
  if (count > 0) {
    fetch_panel(z, ld, s_begin * kSlice, i0, ra);
    fetch_panel(z, ld, s_begin * kSlice, j0, rb);
    stash_panel(as[0], ra);
    stash_panel(bs[0], rb);
  }
  __syncthreads();
  // Double buffered: the next slice is fetched into registers before this one's FMAs and
  // stored into the other buffer after them; one barrier per slice (the other buffer's
  // last readers all passed the previous barrier).
  for (std::size_t s = 0; s < count; ++s) {
    const int cur = static_cast<int>(s & 1);
    const bool more = s + 1 < count;
    if (more) {
      fetch_panel(z, ld, (s_begin + s + 1) * kSlice, i0, ra);
      fetch_panel(z, ld, (s_begin + s + 1) * kSlice, j0, rb);
    }
#pragma unroll
    for (int k = 0; k < kSlice; ++k) {
      double a[kMicro];
      double b[kMicro];
#pragma unroll
      for (int h = 0; h < kMicro / 2; ++h) {
        const double2 va = *reinterpret_cast<const double2*>(&as[cur][k][ty * 2 + 32 * h]);
        const double2 vb = *reinterpret_cast<const double2*>(&bs[cur][k][tx * 2 + 32 * h]);
        a[2 * h] = va.x;
        a[2 * h + 1] = va.y;
        b[2 * h] = vb.x;
        b[2 * h + 1] = vb.y;
      }
#pragma unroll
      for (int r = 0; r < kMicro; ++r) {
#pragma unroll
        for (int c = 0; c < kMicro; ++c) acc[r][c] = fma(a[r], b[c], acc[r][c]);
      }
    }
    if (more) {
      stash_panel(as[cur ^ 1], ra);
      stash_panel(bs[cur ^ 1], rb);
    }
    __syncthreads();
  }

  double* out = partial + static_cast<std::size_t>(blockIdx.y) * plane;
#pragma unroll
  for (int r = 0; r < kMicro; ++r) {
    const std::size_t row = i0 + static_cast<std::size_t>(ty * 2 + 32 * (r >> 1) + (r & 1));
#pragma unroll
    for (int h = 0; h < kMicro / 2; ++h) {
      const std::size_t col = j0 + static_cast<std::size_t>(tx * 2 + 32 * h);
      *reinterpret_cast<double2*>(out + row * ld + col) = make_double2(acc[r][2 * h], acc[r][2 * h + 1]);
    }
  }
}

// Narrow N (narrow_syrk.cuh): split blockIdx.x of the Tp observations into plane
// blockIdx.x of `partial` (NP x NP). z has pitch NP and Tp rows (padding rows are 0).
template <int NP>
__global__ void __launch_bounds__(narrow::kThreads)
    narrow_syrk_kernel(const double* __restrict__ z, std::size_t Tp, std::size_t rows_per_split,
                       double* __restrict__ partial, const unsigned long long* bad) {
  using S = narrow::Shape<NP>;
  if (*bad != kNone) return;  // uniform
  __shared__ __align__(16) double slab[narrow::kSlabValues];
  __shared__ double red[S::kReduce];
  const std::size_t begin = static_cast<std::size_t>(blockIdx.x) * rows_per_split;
  const std::size_t end = smaller(Tp, begin + rows_per_split);
  double acc[S::M][S::M];
#pragma unroll
  for (int x = 0; x < S::M; ++x) {
#pragma unroll
    for (int y = 0; y < S::M; ++y) acc[x][y] = 0.0;
  }
  for (std::size_t r0 = begin; r0 < end; r0 += S::kSlabRows) {
    const int rows = static_cast<int>(smaller(S::kSlabRows, end - r0));
    __syncthreads();  // the previous slab's readers are done
    narrow::stage<NP>(z, r0, rows, slab, threadIdx.x);
    __syncthreads();
    narrow::accumulate<NP>(slab, rows, threadIdx.x, acc);
  }
  narrow::publish<NP>(acc, threadIdx.x, red);
  __syncthreads();
  narrow::combine<NP>(red, threadIdx.x, partial + static_cast<std::size_t>(blockIdx.x) * NP * NP);
}

// Element `at` of the Gram matrix: the split planes added in split order.
__device__ __forceinline__ double gram(const double* __restrict__ c, std::size_t plane, unsigned splits,
                                       std::size_t at) {
  double g = c[at];
  for (unsigned s = 1; s < splits; ++s) g += c[s * plane + at];
  return g;
}

// Scaled variances, and for a correlation the first constant asset (all values equal, or
// under EWMA all weighted values zero).
__global__ void __launch_bounds__(kColThreads)
    diagonal_kernel(const double* __restrict__ c, std::size_t plane, unsigned splits, std::size_t ld,
                    std::size_t N, double scale, bool correlation, const double* __restrict__ far,
                    double* __restrict__ diag, unsigned long long* zero, const unsigned long long* bad) {
  if (*bad != kNone) return;
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * kColThreads + threadIdx.x;
  if (i >= N) return;
  const double d = gram(c, plane, splits, i * ld + i) * scale;
  diag[i] = d;
  if (correlation && (far[i] == 0.0 || !(d > 0))) atomicMin(zero, static_cast<unsigned long long>(i));
}

// out (N x N, compact) from the upper triangle: a covariance scaled back by 2^(e_i + e_j)
// (exact: detmath.hpp times_pow2, as on the CPU), or a correlation normalised from the
// scaled sums and clamped (with a constant asset, the scaled covariance the caller discards),
// mirrored through shared memory so both writes are coalesced. Block (x, y) is the
// kEdge tile (y, x); tiles below the diagonal exit, their values come from the mirror.
__global__ void __launch_bounds__(kEdge * kEdgeRows)
    finish_kernel(const double* __restrict__ c, std::size_t plane, unsigned splits, std::size_t ld, std::size_t N,
                  double scale, bool correlation, const double* __restrict__ diag, const int* __restrict__ expo,
                  const unsigned long long* zero, const unsigned long long* bad, double* __restrict__ out) {
  if (blockIdx.y > blockIdx.x) return;  // uniform per block
  if (*bad != kNone) return;
  __shared__ double tile[kEdge][kEdge + 1];  // +1: the transposed reads hit distinct banks
  const bool normalise = correlation && *zero == kNone;
  const std::size_t ti = static_cast<std::size_t>(blockIdx.y) * kEdge;
  const std::size_t tj = static_cast<std::size_t>(blockIdx.x) * kEdge;
  const unsigned tx = threadIdx.x;
  for (unsigned r = threadIdx.y; r < kEdge; r += kEdgeRows) {
    const std::size_t i = ti + r;
    const std::size_t j = tj + tx;
    double v = 0.0;
    if (i < N && j < N && i <= j) {
      v = gram(c, plane, splits, i * ld + j) * scale;
      if (!correlation) {
        v = dm::times_pow2(v, expo[i] + expo[j]);
      } else if (normalise) {
        if (i == j) {
          v = 1.0;
        } else {
          const double q = v / sqrt(diag[i] * diag[j]);
          v = q < -1.0 ? -1.0 : (1.0 < q ? 1.0 : q);  // std::clamp's comparisons
        }
      }
    }
    tile[r][tx] = v;
  }
  __syncthreads();
  for (unsigned r = threadIdx.y; r < kEdge; r += kEdgeRows) {
    const std::size_t i = ti + r;
    const std::size_t j = tj + tx;
    if (i < N && j < N && i <= j) out[i * N + j] = tile[r][tx];
    // Mirror: out(tj + r, ti + tx) is the upper element (ti + tx, tj + r) = tile[tx][r].
    const std::size_t mi = tj + r;
    const std::size_t mj = ti + tx;
    if (mi < N && mj <= mi) out[mi * N + mj] = tile[tx][r];
  }
}

// ---------------------------------------------------------------------------------------
// Moments and portfolio returns.

// Pass 1: sum of the losses; a non-finite value (not loss: sign * v may overflow, as on
// the CPU) records its index.
struct LossSum {
  const double* values;
  double sign;
  unsigned long long* bad;
  __device__ void operator()(std::size_t i, double (&acc)[1]) const {
    const double v = values[i];
    if (!isfinite(v)) atomicMin(bad, static_cast<unsigned long long>(i));
    acc[0] += sign * v;
  }
};

// Pass 2: central sums d^2, d^3, d^4 about the mean from pass 1.
struct CentralSums {
  const double* values;
  double sign;
  const double* mean;
  __device__ void operator()(std::size_t i, double (&acc)[3]) const {
    const double d = sign * values[i] - *mean;
    const double d2 = d * d;
    acc[0] += d2;
    acc[1] += d2 * d;
    acc[2] += d2 * d2;
  }
};

// sums[1] = sums[0] / n: the mean pass 2 uses and the host reports, one division.
__global__ void mean_kernel(double* sums, std::size_t n) { sums[1] = sums[0] / static_cast<double>(n); }

// out[t] = sum_j w_j * r_tj in j order, with no FMA contraction: the CPU's bits. Rows are
// staged through shared memory kCols assets at a time so the global reads are coalesced.
__global__ void __launch_bounds__(kRowThreads)
    portfolio_kernel(const double* __restrict__ returns, std::size_t T, std::size_t A,
                     const double* __restrict__ weights, double* __restrict__ out, unsigned long long* bad) {
  __shared__ double tile[kRowThreads][kCols + 1];  // +1: row-per-thread reads hit distinct banks
  __shared__ double ws[kCols];
  const std::size_t row0 = static_cast<std::size_t>(blockIdx.x) * kRowThreads;
  const unsigned rows = static_cast<unsigned>(smaller(kRowThreads, T - row0));
  unsigned long long first = kNone;
  double acc = 0.0;
  for (std::size_t c0 = 0; c0 < A; c0 += kCols) {
    const unsigned width = static_cast<unsigned>(smaller(kCols, A - c0));
    const unsigned count = rows * width;
    // Linear over (row, column) of the block's slab: contiguous when width == A.
    for (unsigned e = threadIdx.x; e < count; e += kRowThreads) {
      const unsigned r = e / width;
      const unsigned c = e % width;
      const std::size_t at = (row0 + r) * A + c0 + c;
      const double v = returns[at];
      if (!isfinite(v) && at < first) first = at;
      tile[r][c] = v;
    }
    if (threadIdx.x < width) ws[threadIdx.x] = weights[c0 + threadIdx.x];
    __syncthreads();
    if (threadIdx.x < rows) {
      for (unsigned c = 0; c < width; ++c) acc = __dadd_rn(acc, __dmul_rn(ws[c], tile[threadIdx.x][c]));
    }
    __syncthreads();  // the next slab overwrites tile and ws
  }
  if (threadIdx.x < rows) out[row0 + threadIdx.x] = acc;
  if (first != kNone) atomicMin(bad, first);
}

// ---------------------------------------------------------------------------------------
// Host side.

Status open_stream(Stream& s) noexcept {
  UP_CUDA_TRY(cudaStreamCreateWithFlags(&s.handle, cudaStreamNonBlocking));
  return {};
}

// Events for Timing, created only when the caller asks for it; mark() is a no-op otherwise.
struct Clock {
  EventPair total;    // first copy in .. last copy out
  EventPair kernels;  // first kernel .. last kernel
};

Status open_clock(Clock& clock, const Timing* timing) noexcept {
  if (timing == nullptr) return {};
  UP_CUDA_TRY(cudaEventCreate(&clock.total.start));
  UP_CUDA_TRY(cudaEventCreate(&clock.total.stop));
  UP_CUDA_TRY(cudaEventCreate(&clock.kernels.start));
  UP_CUDA_TRY(cudaEventCreate(&clock.kernels.stop));
  return {};
}

Status mark(cudaEvent_t event, cudaStream_t stream) noexcept {
  if (event != nullptr) UP_CUDA_TRY(cudaEventRecord(event, stream));
  return {};
}

// After the stream has synchronised.
Status read_clock(const Clock& clock, Timing* timing) noexcept {
  if (timing == nullptr) return {};
  UP_CUDA_TRY(cudaEventElapsedTime(&timing->kernel_ms, clock.kernels.start, clock.kernels.stop));
  UP_CUDA_TRY(cudaEventElapsedTime(&timing->total_ms, clock.total.start, clock.total.stop));
  return {};
}

Status allocate(DeviceBuffer& buf, std::size_t bytes) noexcept {
  UP_CUDA_TRY(device_malloc(&buf.ptr, bytes));
  return {};
}

// A size that would overflow size_t reads as an allocation failure, like any too-big request.
Status too_big(const char* what) {
  return Status{static_cast<int>(cudaErrorMemoryAllocation), std::string("cudaErrorMemoryAllocation: ") + what};
}

}  // namespace

Status covariance(const double* data, std::size_t observations, std::size_t assets, up::risk::CovMethod method,
                  double lambda, bool correlation, double* out, std::int64_t* status, Timing* timing) noexcept {
  const std::size_t T = observations;
  const std::size_t N = assets;
  if (timing != nullptr) *timing = Timing{};
  if (N == 0) {
    *status = -1;
    return {};
  }
  if (T == 0) {  // the CPU's result without a device: no rows, a zero Gram matrix
    std::memset(out, 0, sizeof(double) * N * N);
    *status = correlation ? up::risk::kZeroVariance : -1;
    return {};
  }
  const bool ewma = method == up::risk::CovMethod::kEwma;
  // Narrow N pads to a power of two up to 32 (narrow_syrk.cuh), wider N to the 128-wide tile.
  const bool narrow_n = N <= narrow::kNarrowMax;
  const std::size_t Np = narrow_n ? narrow::padded(N) : ceil_div(N, kTile) * kTile;
  const std::size_t Tp = ceil_div(T, kSlice) * kSlice;
  // N beyond 2^20 would need terabytes for the N x N planes; refusing it keeps every byte count in range.
  if (Np > (static_cast<std::size_t>(1) << 20) || Tp > SIZE_MAX / 8 / Np) return too_big("covariance data");
  const std::size_t cells = Tp * Np;
  const auto tiles_per_side = static_cast<unsigned>(Np / kTile);
  const std::size_t tiles = static_cast<std::size_t>(tiles_per_side) * (tiles_per_side + 1) / 2;
  const std::size_t slices = Tp / kSlice;
  const std::size_t plane = Np * Np;
  // Split the observations only when the tiles alone leave the device mostly idle.
  std::size_t splits = 1;
  if (narrow_n) {
    splits = narrow::splits_for(Tp);
  } else if (tiles < kSplitBlocks) {
    const std::size_t by_tiles = ceil_div(kSplitBlocks, tiles);
    const std::size_t by_depth = slices / kMinSlicesPerSplit > 1 ? slices / kMinSlicesPerSplit : 1;
    splits = smaller(by_tiles, by_depth);
  }
  const std::size_t slices_per_split = ceil_div(slices, splits);
  const std::size_t rows_per_split = ceil_div(Tp, splits);  // narrow
  splits = narrow_n ? ceil_div(Tp, rows_per_split) : ceil_div(slices, slices_per_split);  // no empty split
  // Chunks of kColRows rows, longer only where the chunk count would pass the grid's y limit.
  const std::size_t rows_per_chunk = ceil_div(T, kMaxGridY) > kColRows ? ceil_div(T, kMaxGridY) : kColRows;
  const std::size_t chunks = ceil_div(T, rows_per_chunk);

  // EWMA weights from matrix.hpp, on the host: the CPU's very numbers.
  std::unique_ptr<double[]> weight;
  if (ewma) {
    weight.reset(new (std::nothrow) double[T]);
    if (!weight) return too_big("EWMA weights");
    up::risk::ewma_sqrt_weights(T, lambda, weight.get());
  }

  Stream stream;
  UP_CUDA_RETURN_IF_ERROR(open_stream(stream));
  const cudaStream_t s = stream.handle;
  DeviceBuffer z, gram_planes, partials, cols, expo, w, flags, spare;
  UP_CUDA_RETURN_IF_ERROR(allocate(z, sizeof(double) * cells));
  UP_CUDA_RETURN_IF_ERROR(allocate(gram_planes, sizeof(double) * plane * splits));
  UP_CUDA_RETURN_IF_ERROR(allocate(partials, sizeof(double) * 2 * chunks * N));
  UP_CUDA_RETURN_IF_ERROR(allocate(cols, sizeof(double) * 5 * N));  // scale, shift, spread, mean|factor, diag
  UP_CUDA_RETURN_IF_ERROR(allocate(expo, sizeof(int) * N));
  UP_CUDA_RETURN_IF_ERROR(allocate(flags, sizeof(unsigned long long) * 2));
  if (ewma) UP_CUDA_RETURN_IF_ERROR(allocate(w, sizeof(double) * T));
  // The compact result reuses Z (dead after the SYRK) when it is large enough.
  double* d_out = z.as<double>();
  if (cells < N * N) {
    UP_CUDA_RETURN_IF_ERROR(allocate(spare, sizeof(double) * N * N));
    d_out = spare.as<double>();
  }
  Clock clock;
  UP_CUDA_RETURN_IF_ERROR(open_clock(clock, timing));
  unsigned long long* d_bad = flags.as<unsigned long long>();
  unsigned long long* d_zero = d_bad + 1;
  double* d_top = partials.as<double>();
  double* d_spread = d_top + chunks * N;
  double* d_scale = cols.as<double>();
  double* d_shift = d_scale + N;
  double* d_far = d_shift + N;
  double* d_adjust = d_far + N;  // Pearson means or EWMA rescale factors
  double* d_diag = d_adjust + N;
  int* d_expo = expo.as<int>();

  UP_CUDA_RETURN_IF_ERROR(mark(clock.total.start, s));
  // The data goes through pinned staging slots (device.cuh): the host copies the next rows
  // while the previous ones are in flight. The uploader waits for its copies on every way out.
  Uploader uploader;
  UP_CUDA_RETURN_IF_ERROR(uploader.open(sizeof(double) * T * N, kStagingChunkBytes));
  UP_CUDA_RETURN_IF_ERROR(
      uploader.copy_rows(z.ptr, sizeof(double) * Np, data, sizeof(double) * N, sizeof(double) * N, T, s));
  if (ewma) UP_CUDA_TRY(timed_copy(w.ptr, weight.get(), sizeof(double) * T, cudaMemcpyHostToDevice, s));
  UP_CUDA_TRY(cudaMemsetAsync(flags.ptr, 0xFF, sizeof(unsigned long long) * 2, s));  // both kNone

  UP_CUDA_RETURN_IF_ERROR(mark(clock.kernels.start, s));
  const auto col_blocks = static_cast<unsigned>(ceil_div(N, kColThreads));
  const dim3 chunk_grid(col_blocks, static_cast<unsigned>(chunks));
  const dim3 data_grid(static_cast<unsigned>(ceil_div(Np, kCentreThreads)), static_cast<unsigned>(smaller(Tp, kMaxGridY)));
  // Scale each column by a power of two near its largest magnitude and shift it by its
  // first value (Pearson), as cpp/risk/matrix.cc does: exact, and no overflow or underflow.
  column_stats_kernel<<<chunk_grid, kColThreads, 0, s>>>(z.as<double>(), Np, T, N, rows_per_chunk, d_top, d_spread,
                                                        d_bad);
  UP_CUDA_TRY(cudaGetLastError());
  column_scale_kernel<<<col_blocks, kColThreads, 0, s>>>(d_top, d_spread, chunks, N, z.as<double>(), d_expo, d_scale,
                                                         d_shift, d_far);
  UP_CUDA_TRY(cudaGetLastError());
  // Narrow: ld = Np = 2^lg; linear kernels on a grid capped at kNarrowLinearBlocks (grid stride).
  unsigned lg = 0;
  while ((std::size_t{1} << lg) < Np) ++lg;
  const auto linear_grid = static_cast<unsigned>(smaller(kNarrowLinearBlocks, ceil_div(Tp * Np, kCentreThreads)));
  if (narrow_n) {
    narrow_centre_kernel<<<linear_grid, kCentreThreads, 0, s>>>(z.as<double>(), lg, T, Tp, N, d_scale, d_shift,
                                                                w.as<double>(), ewma, d_bad);
  } else {
    centre_kernel<<<data_grid, kCentreThreads, 0, s>>>(z.as<double>(), Np, T, Tp, N, d_scale, d_shift, w.as<double>(),
                                                       ewma, d_bad);
  }
  UP_CUDA_TRY(cudaGetLastError());
  if (!ewma) {
    column_partials_kernel<<<chunk_grid, kColThreads, 0, s>>>(z.as<double>(), Np, T, N, rows_per_chunk, d_top);
    UP_CUDA_TRY(cudaGetLastError());
    column_means_kernel<<<col_blocks, kColThreads, 0, s>>>(d_top, chunks, T, N, d_adjust);
    UP_CUDA_TRY(cudaGetLastError());
  } else {
    column_stats_kernel<<<chunk_grid, kColThreads, 0, s>>>(z.as<double>(), Np, T, N, rows_per_chunk, d_top, d_spread,
                                                          d_bad);
    UP_CUDA_TRY(cudaGetLastError());
    ewma_rescale_kernel<<<col_blocks, kColThreads, 0, s>>>(d_top, chunks, N, d_expo, d_adjust);
    UP_CUDA_TRY(cudaGetLastError());
  }
  if (narrow_n) {
    narrow_adjust_kernel<<<linear_grid, kCentreThreads, 0, s>>>(z.as<double>(), lg, T, N, d_adjust, ewma, d_bad);
  } else {
    adjust_kernel<<<data_grid, kCentreThreads, 0, s>>>(z.as<double>(), Np, T, N, d_adjust, ewma, d_bad);
  }
  UP_CUDA_TRY(cudaGetLastError());
  if (narrow_n) {
    const auto narrow_grid = static_cast<unsigned>(splits);
    double* planes = gram_planes.as<double>();
    switch (Np) {
      case 1: narrow_syrk_kernel<1><<<narrow_grid, narrow::kThreads, 0, s>>>(z.as<double>(), Tp, rows_per_split, planes, d_bad); break;
      case 2: narrow_syrk_kernel<2><<<narrow_grid, narrow::kThreads, 0, s>>>(z.as<double>(), Tp, rows_per_split, planes, d_bad); break;
      case 4: narrow_syrk_kernel<4><<<narrow_grid, narrow::kThreads, 0, s>>>(z.as<double>(), Tp, rows_per_split, planes, d_bad); break;
      case 8: narrow_syrk_kernel<8><<<narrow_grid, narrow::kThreads, 0, s>>>(z.as<double>(), Tp, rows_per_split, planes, d_bad); break;
      case 16: narrow_syrk_kernel<16><<<narrow_grid, narrow::kThreads, 0, s>>>(z.as<double>(), Tp, rows_per_split, planes, d_bad); break;
      default: narrow_syrk_kernel<32><<<narrow_grid, narrow::kThreads, 0, s>>>(z.as<double>(), Tp, rows_per_split, planes, d_bad); break;
    }
  } else {
    syrk_kernel<<<dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(splits)), kSyrkThreads, 0, s>>>(
        z.as<double>(), Np, tiles_per_side, slices, slices_per_split, gram_planes.as<double>(), plane, d_bad);
  }
  UP_CUDA_TRY(cudaGetLastError());
  const double scale = ewma ? 1.0 : 1.0 / static_cast<double>(T - 1);
  diagonal_kernel<<<col_blocks, kColThreads, 0, s>>>(gram_planes.as<double>(), plane, static_cast<unsigned>(splits),
                                                     Np, N, scale, correlation, d_far, d_diag, d_zero, d_bad);
  UP_CUDA_TRY(cudaGetLastError());
  const auto edge_tiles = static_cast<unsigned>(ceil_div(N, kEdge));
  finish_kernel<<<dim3(edge_tiles, edge_tiles), dim3(kEdge, kEdgeRows), 0, s>>>(
      gram_planes.as<double>(), plane, static_cast<unsigned>(splits), Np, N, scale, correlation, d_diag, d_expo,
      d_zero, d_bad, d_out);
  UP_CUDA_TRY(cudaGetLastError());
  UP_CUDA_RETURN_IF_ERROR(mark(clock.kernels.stop, s));

  // The flags first: out is written only when the data was finite, as on the CPU.
  unsigned long long host_flags[2] = {kNone, kNone};
  UP_CUDA_TRY(timed_copy(host_flags, flags.ptr, sizeof(host_flags), cudaMemcpyDeviceToHost, s));
  UP_CUDA_RETURN_IF_ERROR(mark(clock.total.stop, s));
  UP_CUDA_TRY(cudaStreamSynchronize(s));
  if (host_flags[0] != kNone) {
    *status = static_cast<std::int64_t>(host_flags[0]);
    return read_clock(clock, timing);
  }
  UP_CUDA_TRY(timed_copy(out, d_out, sizeof(double) * N * N, cudaMemcpyDeviceToHost, s));
  UP_CUDA_RETURN_IF_ERROR(mark(clock.total.stop, s));
  UP_CUDA_TRY(cudaStreamSynchronize(s));
  *status = host_flags[1] == kNone ? -1 : up::risk::kZeroVariance - static_cast<std::int64_t>(host_flags[1]);
  return read_clock(clock, timing);
}

Status loss_moments(const double* values, std::size_t n, double sign, int ddof, up::risk::Moments* out,
                    std::int64_t* status, Timing* timing) noexcept {
  if (timing != nullptr) *timing = Timing{};
  double sums[5] = {0.0, 0.0, 0.0, 0.0, 0.0};  // s1, mean, s2, s3, s4
  if (n == 0) {
    sums[1] = sums[0] / static_cast<double>(n);  // the CPU's 0 / 0
  } else {
    Stream stream;
    UP_CUDA_RETURN_IF_ERROR(open_stream(stream));
    const cudaStream_t s = stream.handle;
    DeviceBuffer v, scratch, d_sums, flag;
    UP_CUDA_RETURN_IF_ERROR(allocate(v, sizeof(double) * n));
    UP_CUDA_RETURN_IF_ERROR(allocate(scratch, sizeof(double) * 3 * kSumGrid));
    UP_CUDA_RETURN_IF_ERROR(allocate(d_sums, sizeof(sums)));
    UP_CUDA_RETURN_IF_ERROR(allocate(flag, sizeof(unsigned long long)));
    Clock clock;
    UP_CUDA_RETURN_IF_ERROR(open_clock(clock, timing));
    double* ds = d_sums.as<double>();
    unsigned long long* d_bad = flag.as<unsigned long long>();

    UP_CUDA_RETURN_IF_ERROR(mark(clock.total.start, s));
    UP_CUDA_TRY(timed_copy(v.ptr, values, sizeof(double) * n, cudaMemcpyHostToDevice, s));
    UP_CUDA_TRY(cudaMemsetAsync(flag.ptr, 0xFF, sizeof(unsigned long long), s));
    UP_CUDA_RETURN_IF_ERROR(mark(clock.kernels.start, s));
    UP_CUDA_RETURN_IF_ERROR(device_sums<1>(n, LossSum{v.as<double>(), sign, d_bad}, scratch.as<double>(), ds, s));
    mean_kernel<<<1, 1, 0, s>>>(ds, n);
    UP_CUDA_TRY(cudaGetLastError());
    UP_CUDA_RETURN_IF_ERROR(
        device_sums<3>(n, CentralSums{v.as<double>(), sign, ds + 1}, scratch.as<double>(), ds + 2, s));
    UP_CUDA_RETURN_IF_ERROR(mark(clock.kernels.stop, s));
    unsigned long long bad = kNone;
    UP_CUDA_TRY(timed_copy(sums, ds, sizeof(sums), cudaMemcpyDeviceToHost, s));
    UP_CUDA_TRY(timed_copy(&bad, d_bad, sizeof(bad), cudaMemcpyDeviceToHost, s));
    UP_CUDA_RETURN_IF_ERROR(mark(clock.total.stop, s));
    UP_CUDA_TRY(cudaStreamSynchronize(s));
    UP_CUDA_RETURN_IF_ERROR(read_clock(clock, timing));
    if (bad != kNone) {  // *out untouched, as on the CPU
      *status = static_cast<std::int64_t>(bad);
      return {};
    }
  }
  // The rare paths (a constant series, extreme magnitudes) run on the host copy, as on the CPU.
  const double scale = n == 0 ? 1.0 : up::risk::settle_central_sums(values, n, sign, &sums[1], &sums[2], &sums[3], &sums[4]);
  *out = up::risk::moments_from_sums(sums[1], sums[2], sums[3], sums[4], n, ddof, scale);
  *status = -1;
  return {};
}

Status portfolio_returns(const double* returns, std::size_t observations, std::size_t assets, const double* weights,
                         double* out, std::int64_t* status, Timing* timing) noexcept {
  const std::size_t T = observations;
  const std::size_t A = assets;
  if (timing != nullptr) *timing = Timing{};
  if (T == 0 || A == 0) {  // empty sums: no device needed
    for (std::size_t t = 0; t < T; ++t) out[t] = 0.0;
    *status = -1;
    return {};
  }
  if (A > SIZE_MAX / 8 / T) return too_big("portfolio returns");
  Stream stream;
  UP_CUDA_RETURN_IF_ERROR(open_stream(stream));
  const cudaStream_t s = stream.handle;
  DeviceBuffer r, w, o, flag;
  UP_CUDA_RETURN_IF_ERROR(allocate(r, sizeof(double) * T * A));
  UP_CUDA_RETURN_IF_ERROR(allocate(w, sizeof(double) * A));
  UP_CUDA_RETURN_IF_ERROR(allocate(o, sizeof(double) * T));
  UP_CUDA_RETURN_IF_ERROR(allocate(flag, sizeof(unsigned long long)));
  Clock clock;
  UP_CUDA_RETURN_IF_ERROR(open_clock(clock, timing));

  UP_CUDA_RETURN_IF_ERROR(mark(clock.total.start, s));
  UP_CUDA_TRY(timed_copy(r.ptr, returns, sizeof(double) * T * A, cudaMemcpyHostToDevice, s));
  UP_CUDA_TRY(timed_copy(w.ptr, weights, sizeof(double) * A, cudaMemcpyHostToDevice, s));
  UP_CUDA_TRY(cudaMemsetAsync(flag.ptr, 0xFF, sizeof(unsigned long long), s));
  UP_CUDA_RETURN_IF_ERROR(mark(clock.kernels.start, s));
  portfolio_kernel<<<static_cast<unsigned>(ceil_div(T, kRowThreads)), kRowThreads, 0, s>>>(
      r.as<double>(), T, A, w.as<double>(), o.as<double>(), flag.as<unsigned long long>());
  UP_CUDA_TRY(cudaGetLastError());
  UP_CUDA_RETURN_IF_ERROR(mark(clock.kernels.stop, s));
  // out is written even when a return is not finite, as the CPU does.
  unsigned long long bad = kNone;
  UP_CUDA_TRY(timed_copy(out, o.ptr, sizeof(double) * T, cudaMemcpyDeviceToHost, s));
  UP_CUDA_TRY(timed_copy(&bad, flag.ptr, sizeof(bad), cudaMemcpyDeviceToHost, s));
  UP_CUDA_RETURN_IF_ERROR(mark(clock.total.stop, s));
  UP_CUDA_TRY(cudaStreamSynchronize(s));
  UP_CUDA_RETURN_IF_ERROR(read_clock(clock, timing));
  *status = bad == kNone ? -1 : static_cast<std::int64_t>(bad);
  return {};
}

}  // namespace up::cuda
