// Argument unpacking for the risk kernels whose signatures the CPU addon (cpp/napi/risk.cc)
// and the GPU addon (cuda/napi/addon.cc) share: one place keeps both in bounds. Every size
// goes through KernelArgs::size (typed_args.hpp size_arg) and every product of sizes
// through KernelArgs::mul, so no wrapped value reaches a length check or a loop bound.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "../risk/matrix.hpp"
#include "kernel_binding.hpp"

namespace up::napi {

// The largest sizes whose working memory the kernels allocate apart from the arrays they
// are given (lib/risk/validate.ts has the same limits): GBM draws `steps` normals per path
// into a per-thread buffer, the portfolio Monte Carlo paths x assets per task.
inline constexpr std::uint64_t kMaxSteps = std::uint64_t{1} << 24;
inline constexpr std::uint64_t kMaxAssets = 4096;

// (values, sign, confidence, out[2])
struct HistoricalArgs {
  const double* values;
  std::size_t n;
  double sign;
  double confidence;
  double* out;
};

inline HistoricalArgs historical_args(KernelArgs& a) {
  HistoricalArgs r{};
  r.sign = a.number_of(1, "sign (argument 2)", -1, 1);
  r.confidence = a.number_in(2, "confidence (argument 3)", 0, 1);
  r.values = a.input(0, "values (argument 1)", 2, &r.n);
  r.out = a.output(3, "out (argument 4)", 2, Fill::kCopy);
  a.set_memory("a copy of ", r.n, " losses");
  return r;
}

// (values, sign, ddof 0|1, out[4])
struct MomentsArgs {
  const double* values;
  std::size_t n;
  double sign;
  int ddof;
  double* out;
};

inline MomentsArgs moments_args(KernelArgs& a) {
  MomentsArgs r{};
  r.sign = a.number_of(1, "sign (argument 2)", -1, 1);
  r.ddof = static_cast<int>(a.number_of(2, "ddof (argument 3)", 0, 1));
  r.values = a.input(0, "values (argument 1)", 2, &r.n);
  r.out = a.output(3, "out (argument 4)", 4, Fill::kCopy);
  return r;
}

// (returns, observations, assets, weights, out)
struct ReturnsArgs {
  const double* returns;
  std::size_t observations;
  std::size_t assets;
  const double* weights;
  double* out;
};

inline ReturnsArgs returns_args(KernelArgs& a) {
  ReturnsArgs r{};
  r.observations = a.size(1, "observations (argument 2)", 1);
  r.assets = a.size(2, "assets (argument 3)", 1);
  r.returns = a.input(0, "returns (argument 1)", a.mul("observations x assets", r.observations, r.assets));
  r.weights = a.input(3, "weights (argument 4)", r.assets);
  r.out = a.output(4, "out (argument 5)", r.observations, Fill::kCopy);
  return r;
}

// (data, observations, assets, method 0|1, lambda, correlation 0|1, out)
struct CovarianceArgs {
  const double* data;
  std::size_t observations;
  std::size_t assets;
  up::risk::CovMethod method;
  double lambda;
  bool correlation;
  double* out;
};

inline CovarianceArgs covariance_args(KernelArgs& a) {
  CovarianceArgs r{};
  r.observations = a.size(1, "observations (argument 2)", 2);
  r.assets = a.size(2, "assets (argument 3)", 1);
  r.method = a.number_of(3, "method (argument 4)", 0, 1) == 0 ? up::risk::CovMethod::kPearson : up::risk::CovMethod::kEwma;
  // Pearson ignores lambda; EWMA needs a decay factor in (0, 1).
  r.lambda = r.method == up::risk::CovMethod::kEwma ? a.number_in(4, "lambda (argument 5)", 0, 1) : a.number(4, "lambda (argument 5)");
  r.correlation = a.number_of(5, "correlation (argument 6)", 0, 1) != 0;
  const std::size_t cells = a.mul("observations x assets", r.observations, r.assets);
  const std::size_t matrix = a.mul("assets x assets", r.assets, r.assets);
  r.data = a.input(0, "data (argument 1)", cells);
  r.out = a.output(6, "out (argument 7)", matrix, Fill::kCopy);
  a.set_memory("a transposed copy of ", cells, " values");
  return r;
}

// The parameters every GBM binding reads: (spot, drift, volatility, dt, steps, paths, seed,
// antithetic, ...). Paths are bounded by the terminal array the caller checks against.
struct GbmArgs {
  double spot;
  double drift;
  double volatility;
  double dt;
  std::uint64_t steps;
  std::uint64_t paths;
  std::uint64_t seed;
  bool antithetic;
};

inline GbmArgs gbm_args(KernelArgs& a, std::uint64_t min_paths) {
  GbmArgs g{};
  g.spot = a.number(0, "spot (argument 1)");
  g.drift = a.number(1, "drift (argument 2)");
  g.volatility = a.number(2, "volatility (argument 3)");
  g.dt = a.number(3, "dt (argument 4)");
  g.steps = a.size(4, "steps (argument 5)", 1, kMaxSteps);
  g.paths = a.size(5, "paths (argument 6)", min_paths);
  g.seed = a.size(6, "seed (argument 7)");
  g.antithetic = a.flag(7, "antithetic (argument 8)");
  a.set_memory("a buffer of ", g.steps, " normals per path and thread");
  return g;
}

// The rows x (steps + 1) matrix of kept paths, as a size.
inline std::size_t kept_values(KernelArgs& a, const GbmArgs& g) {
  return a.mul("paths x (steps + 1)", static_cast<std::size_t>(g.paths), static_cast<std::size_t>(g.steps) + 1);
}

}  // namespace up::napi
