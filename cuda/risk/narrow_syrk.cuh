// The narrow-N SYRK of the GPU covariance (matrix.cu narrow_syrk_kernel, issue 19
// item 9), as host/device functions that the kernel calls between its barriers and that
// test/native/cuda_emulation_test.cc runs thread by thread on the host.
//
// The tiled SYRK pads the asset count to 128, so for N < 128 memory and traffic grow
// 128/N times (N = 1 with T = 2^28 would need 256 GiB). For N <= kNarrowMax the data is
// padded only to NP in {1, 2, 4, 8, 16, 32} columns (at most 2x) and this kernel runs:
// a block takes a contiguous range of observations (its split), stages kSlabValues
// doubles of rows at a time in shared memory (one contiguous, coalesced read), and its
// threads are (tile, group) pairs: each of the U upper M x M tiles of the NP x NP Gram
// matrix is held in registers by G groups, group g taking the slab rows g, g + G, ...
// At the end the groups' tiles are added in group order and written to the split's plane;
// the planes are added in split order by the finishing kernels, as for the tiled SYRK.
// A fixed rule of the sizes (never of the device) picks the splits: reproducible bits.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define UP_NARROW_HD __host__ __device__ __forceinline__
#else
#define UP_NARROW_HD inline
#endif
#if defined(__CUDA_ARCH__)
#define UP_NARROW_UNROLL _Pragma("unroll")
#define UP_NARROW_UNROLL_4 _Pragma("unroll 4")
#else
#define UP_NARROW_UNROLL
#define UP_NARROW_UNROLL_4
#endif

namespace up::cuda::narrow {

inline constexpr std::size_t kNarrowMax = 32;
inline constexpr unsigned kThreads = 256;
inline constexpr unsigned kSlabValues = 1024;  // 8 KiB of staged observations
inline constexpr std::size_t kMinRowsPerSplit = 4096;
inline constexpr std::size_t kMaxSplits = 1024;

// The padded width for N <= kNarrowMax: the next power of two.
UP_NARROW_HD std::size_t padded(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p *= 2;
  return p;
}

template <int NP>
struct Shape {
  static constexpr int M = NP < 4 ? NP : 4;      // micro tile edge
  static constexpr int NT = NP / M;              // tiles per side
  static constexpr int U = NT * (NT + 1) / 2;    // upper tiles
  static constexpr int G = kThreads / U;         // row groups
  static constexpr int kSlabRows = kSlabValues / NP;
  static constexpr int kReduce = G * U * M * M;  // doubles of the group reduction
};

// Splits (blocks) and rows per split for T observations: a rule of T alone.
UP_NARROW_HD std::size_t splits_for(std::size_t T) {
  std::size_t s = (T + kMinRowsPerSplit - 1) / kMinRowsPerSplit;
  if (s < 1) s = 1;
  return s < kMaxSplits ? s : kMaxSplits;
}

// Upper tile u (row by row: (0,0), (0,1), .., (1,1), ..) as its tile row and column.
UP_NARROW_HD void tile_of(int u, int nt, int* ti, int* tj) {
  int i = 0;
  while (u >= nt - i) {
    u -= nt - i;
    ++i;
  }
  *ti = i;
  *tj = i + u;
}

// Thread tid's share of rows r0 .. r0+rows-1 (row-major, pitch NP) into the slab.
template <int NP>
UP_NARROW_HD void stage(const double* z, std::size_t r0, int rows, double* slab, unsigned tid) {
  const double* src = z + r0 * static_cast<std::size_t>(NP);
  for (unsigned e = tid; e < static_cast<unsigned>(rows * NP); e += kThreads) slab[e] = src[e];
}

// acc += the slab rows of thread tid's group, for its tile (threads past G * U idle).
template <int NP>
UP_NARROW_HD void accumulate(const double* slab, int rows, unsigned tid, double (&acc)[Shape<NP>::M][Shape<NP>::M]) {
  using S = Shape<NP>;
  if (tid >= static_cast<unsigned>(S::G * S::U)) return;
  const int u = static_cast<int>(tid) % S::U;
  const int g = static_cast<int>(tid) / S::U;
  int ti = 0;
  int tj = 0;
  tile_of(u, S::NT, &ti, &tj);
  for (int r = g; r < rows; r += S::G) {
    const double* row = slab + r * NP;
    double a[S::M];
    double b[S::M];
UP_NARROW_UNROLL
    for (int q = 0; q < S::M; ++q) {
      a[q] = row[ti * S::M + q];
      b[q] = row[tj * S::M + q];
    }
UP_NARROW_UNROLL
    for (int x = 0; x < S::M; ++x) {
UP_NARROW_UNROLL
      for (int y = 0; y < S::M; ++y) acc[x][y] = fma(a[x], b[y], acc[x][y]);
    }
  }
}

// Thread tid's tile into the reduction buffer: red[(g * U + u) * M * M + x * M + y].
template <int NP>
UP_NARROW_HD void publish(const double (&acc)[Shape<NP>::M][Shape<NP>::M], unsigned tid, double* red) {
  using S = Shape<NP>;
  if (tid >= static_cast<unsigned>(S::G * S::U)) return;
  double* dst = red + static_cast<std::size_t>(tid) * S::M * S::M;  // tid = g * U + u
  UP_NARROW_UNROLL
  for (int x = 0; x < S::M; ++x) {
    UP_NARROW_UNROLL
    for (int y = 0; y < S::M; ++y) dst[x * S::M + y] = acc[x][y];
  }
}

// Thread u < U adds tile u over the groups in group order and writes it to `plane`
// (NP x NP, pitch NP): every element (i, j) with i <= j, and the diagonal tiles whole.
template <int NP>
UP_NARROW_HD void combine(const double* red, unsigned tid, double* plane) {
  using S = Shape<NP>;
  if (tid >= static_cast<unsigned>(S::U)) return;
  const int u = static_cast<int>(tid);
  int ti = 0;
  int tj = 0;
  tile_of(u, S::NT, &ti, &tj);
  for (int x = 0; x < S::M; ++x) {
    for (int y = 0; y < S::M; ++y) {
      double v = red[static_cast<std::size_t>(u) * S::M * S::M + x * S::M + y];
      UP_NARROW_UNROLL_4
      for (int g = 1; g < S::G; ++g) v += red[(static_cast<std::size_t>(g) * S::U + u) * S::M * S::M + x * S::M + y];
      plane[static_cast<std::size_t>(ti * S::M + x) * NP + tj * S::M + y] = v;
    }
  }
}

}  // namespace up::cuda::narrow
