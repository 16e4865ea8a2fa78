// The per-thread steps of the GBM kernels (montecarlo.cu), as host/device functions: the
// kernels call them between their barriers, and test/native/cuda_emulation_test.cc runs
// the same functions thread by thread on the host against cpp/risk simulate_gbm (bit for
// bit, kept paths included), so the index math of both layouts is checked without a GPU.
// - Kept paths (issue 19 item 10): a block's paths stage kKeepSteps steps in shared
//   memory (tile rows of kKeepPitch), then the block writes the rows' segments with
//   consecutive threads on consecutive addresses of the row-major kept matrix.
// - Few paths (item 11): the draws of a chunk of steps, step-major z[j * streams + s],
//   one thread per Philox pair; then one thread per stream adds x += a + b z in order.
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

// Stream s over the chunk: the sums carried in state[s] (and state[streams + s]); with
// kept, x itself goes to the path's row (turned into S(t) by exp_element afterwards).
UP_HD void scan_stream(const GbmArgs& g, std::uint64_t streams, std::uint64_t c0, std::uint64_t count, std::uint64_t s,
                       const double* z, double* state, double* kept) {
  const std::uint64_t pitch = g.steps + 1;
  const std::uint64_t p = g.antithetic ? 2 * s : s;
  double x0 = state[s];
  double x1 = g.antithetic ? state[streams + s] : 0.0;
  double* row0 = kept == nullptr ? nullptr : kept + p * pitch + 1 + c0;
  double* row1 = row0 == nullptr || !g.antithetic ? nullptr : row0 + pitch;
  for (std::uint64_t j = 0; j < count; ++j) {
    step(g, z[j * streams + s], &x0, &x1);
    if (row0 != nullptr) row0[j] = x0;
    if (row1 != nullptr) row1[j] = x1;
  }
  state[s] = x0;
  if (g.antithetic) state[streams + s] = x1;
}

// Element e of kept after the scan: spot in column 0, spot exp(x) elsewhere.
UP_HD double exp_element(double spot, std::uint64_t pitch, std::uint64_t e, double x) {
  return e % pitch == 0 ? spot : price(spot, x);
}

// Where path p's sum is after the scan: state[p], or with antithetic variates path 2s + 1
// at state[streams + s].
UP_HD std::uint64_t state_at(const GbmArgs& g, std::uint64_t streams, std::uint64_t p) {
  return g.antithetic ? (p & 1) * streams + p / 2 : p;
}

}  // namespace up::cuda::gbm
