// Philox4x32-10 (Salmon et al., SC'11; the Random123 reference) and the normal transform
// every backend shares (lib/risk/philox.ts is the same code in TS; CUDA includes this).
//
// Counter layout: ctr = (block lo32, block hi32, stream lo32, stream hi32), key = (seed
// lo32, seed hi32). Block b of stream s yields four words (x0..x3) and from them one
// Box-Muller pair: normal 2b and 2b+1 of stream s. So "normal i of stream s" is a pure
// function of (seed, s, i), and any split of the work over threads gives the same draws.
//
// Transform (only +,-,*,/,sqrt and exact bit operations, see detmath.hpp):
//   K1 = (x0 >> 5) * 2^26 + (x1 >> 6)        53-bit integer, u1 = (K1 + 1) * 2^-53 in (0, 1]
//   r  = sqrt(-2 log u1)
//   q  = x2 >> 30 (quarter turn), f = ((x2 >> 5) & (2^25-1)) * 2^26 + (x3 >> 6)) * 2^-51
//   t  = (f - 0.5) * pi/2 in [-pi/4, pi/4); angle = q * pi/2 + t (uniform on the circle)
//   (c, s) = (cos t, sin t) rotated by q quarter turns; normals = (r c, r s).
#pragma once

#include <cstddef>
#include <cstdint>

#include "detmath.hpp"

namespace up::risk {

inline constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
inline constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;
inline constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;

struct PhiloxBlock {
  std::uint32_t x[4];
};

// One Philox4x32-10 block: ten rounds, the key bumped between rounds.
UP_HD PhiloxBlock philox4x32_10(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                                std::uint32_t k0, std::uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32);
    const std::uint32_t lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32);
    const std::uint32_t lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return PhiloxBlock{{c0, c1, c2, c3}};
}

// Box-Muller on one block's four words: writes normal 2b to *z0 and 2b+1 to *z1.
UP_HD void box_muller(std::uint32_t x0, std::uint32_t x1, std::uint32_t x2, std::uint32_t x3, double* z0,
                      double* z1) {
  using namespace detmath;
  const double k1 = static_cast<double>((static_cast<std::uint64_t>(x0 >> 5) << 26) | (x1 >> 6));
  const double u1 = mul(add(k1, 1.0), 1.1102230246251565404e-16);  // 2^-53
  const double r = sqrt_rn(mul(-2.0, log_pos(u1)));
  const std::uint32_t q = x2 >> 30;
  const double kf = static_cast<double>((static_cast<std::uint64_t>((x2 >> 5) & 0x1FFFFFFu) << 26) | (x3 >> 6));
  const double f = mul(kf, 4.4408920985006261617e-16);  // 2^-51
  const double t = mul(sub(f, 0.5), kHalfPi);
  const double c = cos_kernel(t);
  const double s = sin_kernel(t);
  // Rotate (c, s) by q quarter turns: exact sign and swap.
  const double rc = q == 0 ? c : q == 1 ? -s : q == 2 ? -c : s;
  const double rs = q == 0 ? s : q == 1 ? c : q == 2 ? -s : -c;
  *z0 = mul(r, rc);
  *z1 = mul(r, rs);
}

// Normal i of stream `stream` under `seed` (one block; use fill_normals for many).
UP_HD double philox_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  const std::uint64_t b = i >> 1;
  const PhiloxBlock blk = philox4x32_10(static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32),
                                        static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32),
                                        static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  double z0;
  double z1;
  box_muller(blk.x[0], blk.x[1], blk.x[2], blk.x[3], &z0, &z1);
  return (i & 1) ? z1 : z0;
}

#if !defined(__CUDACC__)
// Normals first..first+n-1 of `stream` into out (host only; vectorised in philox.cc).
void fill_normals(double* out, std::size_t n, std::uint64_t seed, std::uint64_t stream, std::uint64_t first);
// The same numbers, split over the thread pool for large n.
void fill_normals_parallel(double* out, std::size_t n, std::uint64_t seed, std::uint64_t stream, std::uint64_t first);
#endif

}  // namespace up::risk
