#include "montecarlo.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "detmath.hpp"
#include "parallel.hpp"
#include "philox.hpp"

namespace up::risk {
namespace {

// Paths per parallel task: big enough to amortise dispatch, small enough to balance.
constexpr std::uint64_t kGbmPathsPerTask = 1024;
constexpr std::uint64_t kMcPathsPerTask = 16384;

double* scratch(std::size_t n) {
  thread_local std::vector<double> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

}  // namespace

void simulate_gbm(const GbmParams& g, double* terminal, double* kept) {
  const double a = (g.drift - 0.5 * g.volatility * g.volatility) * g.dt;
  const double b = g.volatility * std::sqrt(g.dt);
  const std::size_t steps = static_cast<std::size_t>(g.steps);
  const std::uint64_t tasks = (g.paths + kGbmPathsPerTask - 1) / kGbmPathsPerTask;
  parallel_for(static_cast<std::size_t>(tasks), [&](std::size_t task) {
    const std::uint64_t begin = task * kGbmPathsPerTask;
    const std::uint64_t end = std::min(g.paths, begin + kGbmPathsPerTask);
    if (kept != nullptr) {
      double* z = scratch(steps);
      for (std::uint64_t p = begin; p < end; ++p) {
        const std::uint64_t stream = g.antithetic ? p >> 1 : p;
        const bool negate = g.antithetic && (p & 1);
        fill_normals(z, steps, g.seed, stream, 0);
        double* row = kept + p * (steps + 1);
        row[0] = g.spot;
        double x = 0.0;
        for (std::size_t s = 0; s < steps; ++s) {
          x += a + b * (negate ? -z[s] : z[s]);
          row[s + 1] = g.spot * detmath::exp_d(x);
        }
        terminal[p] = g.spot * detmath::exp_d(x);
      }
      return;
    }
    // Four paths at a time: each path's sum keeps its own order (so the result is the
    // same as one path at a time and as lib/risk), but four independent chains hide the
    // latency of the additions.
    constexpr std::size_t kLanes = 4;
    double* z = scratch(kLanes * steps);
    for (std::uint64_t p0 = begin; p0 < end; p0 += kLanes) {
      const std::size_t lanes = static_cast<std::size_t>(std::min<std::uint64_t>(kLanes, end - p0));
      double sign[kLanes];
      const double* zl[kLanes];
      for (std::size_t l = 0; l < kLanes; ++l) {
        const std::uint64_t p = p0 + std::min(l, lanes - 1);
        const std::uint64_t stream = g.antithetic ? p >> 1 : p;
        sign[l] = g.antithetic && (p & 1) ? -1.0 : 1.0;
        // With antithetic variates lanes 2k and 2k+1 share a stream: draw it once.
        if (g.antithetic && l % 2 == 1 && (p & 1) && l < lanes) {
          zl[l] = zl[l - 1];
        } else {
          fill_normals(z + l * steps, steps, g.seed, stream, 0);
          zl[l] = z + l * steps;
        }
      }
      double x0 = 0.0, x1 = 0.0, x2 = 0.0, x3 = 0.0;
      for (std::size_t s = 0; s < steps; ++s) {
        x0 += a + b * (sign[0] * zl[0][s]);
        x1 += a + b * (sign[1] * zl[1][s]);
        x2 += a + b * (sign[2] * zl[2][s]);
        x3 += a + b * (sign[3] * zl[3][s]);
      }
      const double x[kLanes] = {x0, x1, x2, x3};
      for (std::size_t l = 0; l < lanes; ++l) terminal[p0 + l] = g.spot * detmath::exp_d(x[l]);
    }
  });
}

void portfolio_mc_losses(const double* weights, const double* means, const double* lower, std::size_t assets,
                         std::uint64_t paths, double horizon, std::uint64_t seed, double* losses) {
  const double root = std::sqrt(horizon);
  const std::uint64_t tasks = (paths + kMcPathsPerTask - 1) / kMcPathsPerTask;
  parallel_for(static_cast<std::size_t>(tasks), [&](std::size_t task) {
    const std::uint64_t begin = task * kMcPathsPerTask;
    const std::uint64_t end = std::min(paths, begin + kMcPathsPerTask);
    double* z = scratch(static_cast<std::size_t>(end - begin) * assets);
    fill_normals(z, static_cast<std::size_t>(end - begin) * assets, seed, 0, begin * assets);
    for (std::uint64_t p = begin; p < end; ++p) {
      const double* zp = z + (p - begin) * assets;
      double r = 0.0;
      for (std::size_t i = 0; i < assets; ++i) {
        const double* li = lower + i * assets;
        double c = 0.0;
        for (std::size_t k = 0; k <= i; ++k) c += li[k] * zp[k];
        r += weights[i] * (means[i] * horizon + root * c);
      }
      losses[p] = -r;
    }
  });
}

}  // namespace up::risk
