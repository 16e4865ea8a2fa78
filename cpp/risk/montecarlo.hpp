// Monte Carlo on the shared Philox stream (philox.hpp). Which normal feeds which path is
// fixed by the counters, never by the thread that computes it:
// - GBM: path p draws normals 0..steps-1 of stream p; with antithetic variates path p
//   uses stream p / 2 and negates the draws when p is odd (pairs (0,1), (2,3), ...).
// - Portfolio VaR: path p draws normals p*assets .. p*assets+assets-1 of stream 0.
#pragma once

#include <cstddef>
#include <cstdint>

namespace up::risk {

struct GbmParams {
  double spot;
  double drift;       // mu per unit of time
  double volatility;  // sigma per sqrt(unit of time)
  double dt;
  std::uint64_t steps;
  std::uint64_t paths;
  std::uint64_t seed;
  bool antithetic;
};

// Exact log-normal steps: log S(t+dt) = log S(t) + (mu - sigma^2/2) dt + sigma sqrt(dt) Z.
// terminal[p] = S(T) of path p; kept (optional, paths x (steps + 1)) gets every S(t),
// S(0) = spot first. Multithreaded; results do not depend on the thread count.
void simulate_gbm(const GbmParams& params, double* terminal, double* kept);

// Portfolio losses over `horizon` days: x = mean * horizon + sqrt(horizon) * L z with z
// standard normal (assets of them), L lower-triangular (row-major), loss = -(w . x).
void portfolio_mc_losses(const double* weights, const double* means, const double* lower, std::size_t assets,
                         std::uint64_t paths, double horizon, std::uint64_t seed, double* losses);

}  // namespace up::risk
