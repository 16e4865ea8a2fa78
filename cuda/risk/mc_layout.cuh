// The per-thread steps of the wide-portfolio Monte Carlo kernel (montecarlo.cu
// mc_large_kernel), as host/device functions: the kernel calls them between its barriers,
// and test/native/cuda_emulation_test.cc runs the very same functions thread by thread
// on the host to check the layout's index math and that every loss stays bit-identical
// to cpp/risk portfolio_mc_losses (no GPU needed).
//
// Layout (issue 19 item 10): the draws of the paths in flight live assets-major,
// path-minor, z[k * slots + slot], so a warp's 32 paths read or write 256 contiguous
// bytes per asset. The factor L is staged through shared memory kMcRows rows x kMcChunk
// columns at a time and read by every thread of the block (a broadcast); each thread keeps
// kMcRows row sums c_i in registers, so one z[k] load feeds kMcRows multiply-adds.
// Every c_i still adds L_ik z_k for k = 0..i in order, and the loss adds the rows in
// order: the CPU's operations in the CPU's order.
#pragma once

#include <cstddef>
#include <cstdint>

// Relative includes: the host test builds with -Icpp only.
#include "../../cpp/risk/detmath.hpp"
#include "../../cpp/risk/philox.hpp"

namespace up::cuda::mc {

namespace dm = up::risk::detmath;

inline constexpr int kMcRows = 16;   // rows of L per register tile
inline constexpr int kMcChunk = 64;  // columns of L per shared stage: kMcRows * kMcChunk * 8 = 8 KiB

UP_HD std::size_t smaller(std::size_t a, std::size_t b) { return a < b ? a : b; }

// Normals 2b and 2b+1 of `stream`.
UP_HD void normal_pair(std::uint64_t seed, std::uint64_t stream, std::uint64_t b, double* z0, double* z1) {
  const up::risk::PhiloxBlock blk = up::risk::philox4x32_10(
      static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), static_cast<std::uint32_t>(stream),
      static_cast<std::uint32_t>(stream >> 32), static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  up::risk::box_muller(blk.x[0], blk.x[1], blk.x[2], blk.x[3], z0, z1);
}

// Normals first .. first+count-1 of stream 0 into z[k * stride], one Philox block per two.
UP_HD void draw(std::uint64_t seed, std::uint64_t first, std::size_t count, double* z, std::size_t stride) {
  double z0 = 0.0;
  double z1 = 0.0;
  std::uint64_t held = ~0ull;
  for (std::size_t k = 0; k < count; ++k) {
    const std::uint64_t idx = first + static_cast<std::uint64_t>(k);
    if ((idx >> 1) != held) {
      held = idx >> 1;
      normal_pair(seed, 0, held, &z0, &z1);
    }
    z[k * stride] = (idx & 1) ? z1 : z0;
  }
}

// Where path slot `slot`'s draw k lives in the scratch of `slots` slots.
UP_HD std::size_t z_at(std::size_t k, std::size_t slot, std::size_t slots) { return k * slots + slot; }

// The columns of the stage starting at k0 for the row tile starting at i0: rows
// i0..i0+kMcRows-1 use columns up to their own index, so the tile needs k < kend.
UP_HD std::size_t tile_end(std::size_t assets, std::size_t i0) { return smaller(assets, i0 + kMcRows); }

// Thread `tid` of `threads` stages its share of L[i0 .. i0+kMcRows) x [k0 .. k0+kMcChunk)
// into ls (row-major, kMcChunk per row); entries outside the matrix or above the diagonal
// are 0 and never used. Consecutive threads read consecutive columns of a row: coalesced.
UP_HD void stage(const double* lower, std::size_t assets, std::size_t i0, std::size_t k0, double* ls, unsigned tid,
                 unsigned threads) {
  for (unsigned e = tid; e < static_cast<unsigned>(kMcRows * kMcChunk); e += threads) {
    const std::size_t i = i0 + e / kMcChunk;
    const std::size_t k = k0 + e % kMcChunk;
    ls[e] = i < assets && k <= i ? lower[i * assets + k] : 0.0;
  }
}

// c[r] += L(i0 + r, k) z_k for the stage's columns k0 .. k0+width-1 with k <= i0 + r.
// A stage entirely at or left of the tile's first row needs no per-row test.
UP_HD void accumulate(const double* ls, const double* z, std::size_t slot, std::size_t slots, std::size_t i0,
                      std::size_t k0, std::size_t width, double (&c)[kMcRows]) {
  if (k0 + width <= i0 + 1) {
    for (std::size_t kk = 0; kk < width; ++kk) {
      const double zk = z[z_at(k0 + kk, slot, slots)];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
      for (int r = 0; r < kMcRows; ++r) c[r] = dm::add(c[r], dm::mul(ls[r * kMcChunk + kk], zk));
    }
  } else {
    for (std::size_t kk = 0; kk < width; ++kk) {
      const std::size_t k = k0 + kk;
      const double zk = z[z_at(k, slot, slots)];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
      for (int r = 0; r < kMcRows; ++r) {
        if (k <= i0 + static_cast<std::size_t>(r)) c[r] = dm::add(c[r], dm::mul(ls[r * kMcChunk + kk], zk));
      }
    }
  }
}

// r += w_i (m_i h + root c_i) over the tile's rows in order (rows past the last asset skipped).
UP_HD double add_rows(const double* weights, const double* means, std::size_t assets, std::size_t i0,
                      const double (&c)[kMcRows], double horizon, double root, double r) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int q = 0; q < kMcRows; ++q) {
    const std::size_t i = i0 + static_cast<std::size_t>(q);
    if (i < assets) r = dm::add(r, dm::mul(weights[i], dm::add(dm::mul(means[i], horizon), dm::mul(root, c[q]))));
  }
  return r;
}

}  // namespace up::cuda::mc
