// The per-thread steps of the GBM kernels (montecarlo.cu), as host/device functions: the
// kernels call them between their barriers, and test/native/cuda_emulation_test.cc runs
// the same functions thread by thread on the host against cpp/risk simulate_gbm (bit for
// bit, kept paths included), so the index math of both layouts is checked without a GPU.
// - Kept paths (issue 19 item 10): a block's paths stage kKeepSteps steps in shared
//   memory (tile rows of kKeepPitch), then the block writes the rows' segments with
//   consecutive threads on consecutive addresses of the row-major kept matrix.
// - Few paths (item 11): the draws of a chunk of steps, step-major z[j * streams + s],
//   one thread per Philox pair; then one thread per stream adds x += a + b z in order,
//   and with kept paths a tiled transpose writes S(t) into the rows, coalesced.
#pragma once

#include <cstddef>
#include <cstdint>

// Relative includes: the host test builds with -Icpp only.
#include "../../cpp/risk/detmath.hpp"
#include "mc_layout.cuh"

namespace up::cuda::gbm {

namespace dm = up::risk::detmath;

inline constexpr unsigned kKeepSteps = 16;             // even: a Philox pair never straddles a stage
inline constexpr unsigned kKeepPitch = kKeepSteps + 1;  // +1: a thread's row writes hit distinct banks

struct GbmArgs {
  double spot;
  double a;  // (mu - sigma^2/2) dt, computed on the host exactly as the CPU does
  double b;  // sigma sqrt(dt)
  std::uint64_t steps;
  std::uint64_t paths;
  std::uint64_t seed;
  bool antithetic;
};

UP_HD std::uint64_t streams_of(const GbmArgs& g) { return g.antithetic ? g.paths / 2 : g.paths; }

// One step from draw z: x0 += a + b z, and the antithetic partner x1 += a + b (-z).
UP_HD void step(const GbmArgs& g, double z, double* x0, double* x1) {
  *x0 = dm::add(*x0, dm::add(g.a, dm::mul(g.b, z)));
  if (g.antithetic) *x1 = dm::add(*x1, dm::add(g.a, dm::mul(g.b, -z)));
}

UP_HD double price(double spot, double x) { return dm::mul(spot, dm::exp_d(x)); }

// Steps c0 .. c0+width-1 (c0 even) of stream s: S(t) into tile_row0[j] (and tile_row1[j]
// for the antithetic partner; null otherwise).
UP_HD void keep_steps(const GbmArgs& g, std::uint64_t s, std::uint64_t c0, unsigned width, double* tile_row0,
                      double* tile_row1, double* x0, double* x1) {
  for (unsigned j = 0; j < width; j += 2) {
    double z0;
    double z1;
    up::cuda::mc::normal_pair(g.seed, s, (c0 + j) >> 1, &z0, &z1);
    step(g, z0, x0, x1);
    tile_row0[j] = price(g.spot, *x0);
    if (tile_row1 != nullptr) tile_row1[j] = price(g.spot, *x1);
    if (j + 1 < width) {
      step(g, z1, x0, x1);
      tile_row0[j + 1] = price(g.spot, *x0);
      if (tile_row1 != nullptr) tile_row1[j + 1] = price(g.spot, *x1);
    }
  }
}

// Thread tid of `threads` writes its share of the staged rows: tile row r is path p0 + r,
// columns c0 + 1 .. c0 + width of kept (pitch steps + 1).
UP_HD void keep_flush(const double* tile, unsigned rows, unsigned width, unsigned tid, unsigned threads, double* kept,
                      std::uint64_t p0, std::uint64_t pitch, std::uint64_t c0) {
  for (unsigned e = tid; e < rows * width; e += threads) {
    const unsigned r = e / width;
    const unsigned c = e % width;
    kept[(p0 + r) * pitch + 1 + c0 + c] = tile[r * kKeepPitch + c];
  }
}

// Pair t of a chunk of `count` steps from c0 (even): stream t % streams, steps j, j + 1.
UP_HD void draw_pair(std::uint64_t seed, std::uint64_t streams, std::uint64_t c0, std::uint64_t count, std::uint64_t t,
                     double* z) {
  const std::uint64_t s = t % streams;
  const std::uint64_t j = 2 * (t / streams);
  double z0;
  double z1;
  up::cuda::mc::normal_pair(seed, s, (c0 + j) >> 1, &z0, &z1);
  z[j * streams + s] = z0;
  if (j + 1 < count) z[(j + 1) * streams + s] = z1;
}

// Stream s over the chunk: the sums carried in state[s] (and state[streams + s]). With
// `xs` (kept paths), x after each step goes back over its draw in z (step-major, so the
// stores are coalesced) and the antithetic partner's into xs1; transpose_store turns
// them into kept's rows.
UP_HD void scan_stream(const GbmArgs& g, std::uint64_t streams, std::uint64_t count, std::uint64_t s, double* z,
                       double* state, bool xs, double* xs1) {
  double x0 = state[s];
  double x1 = g.antithetic ? state[streams + s] : 0.0;
  for (std::uint64_t j = 0; j < count; ++j) {
    const std::uint64_t at = j * streams + s;
    step(g, z[at], &x0, &x1);
    if (xs) {
      z[at] = x0;
      if (g.antithetic) xs1[at] = x1;
    }
  }
  state[s] = x0;
  if (g.antithetic) state[streams + s] = x1;
}

// Kept rows from a scanned chunk, through a kTr x kTr shared tile (pitch kTr + 1) per
// block of kTr x kTrRows threads: tile (j0, s0) of the step-major sums is read with
// consecutive threads on consecutive streams and written with consecutive threads on
// consecutive steps of one path's row, both coalesced.
inline constexpr unsigned kTr = 32;
inline constexpr unsigned kTrRows = 8;

UP_HD void transpose_load(const double* xs, std::uint64_t streams, std::uint64_t count, std::uint64_t j0,
                          std::uint64_t s0, unsigned tx, unsigned ty, double* tile) {
  for (unsigned jj = ty; jj < kTr; jj += kTrRows) {
    const std::uint64_t j = j0 + jj;
    const std::uint64_t s = s0 + tx;
    tile[jj * (kTr + 1) + tx] = j < count && s < streams ? xs[j * streams + s] : 0.0;
  }
}

// plane 0: the paths of the draws (s, or 2s with antithetic variates); plane 1: 2s + 1.
UP_HD void transpose_store(const GbmArgs& g, const double* tile, std::uint64_t streams, std::uint64_t c0,
                           std::uint64_t count, std::uint64_t j0, std::uint64_t s0, unsigned tx, unsigned ty,
                           unsigned plane, double* kept) {
  const std::uint64_t pitch = g.steps + 1;
  for (unsigned ss = ty; ss < kTr; ss += kTrRows) {
    const std::uint64_t s = s0 + ss;
    const std::uint64_t j = j0 + tx;
    if (s < streams && j < count) {
      const std::uint64_t p = g.antithetic ? 2 * s + plane : s;
      kept[p * pitch + 1 + c0 + j] = price(g.spot, tile[tx * (kTr + 1) + ss]);
    }
  }
}

// Where path p's sum is after the scan: state[p], or with antithetic variates path 2s + 1
// at state[streams + s].
UP_HD std::uint64_t state_at(const GbmArgs& g, std::uint64_t streams, std::uint64_t p) {
  return g.antithetic ? (p & 1) * streams + p / 2 : p;
}

}  // namespace up::cuda::gbm
