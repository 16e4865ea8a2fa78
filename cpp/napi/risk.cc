// Bindings for cpp/risk: unpack, call, pack. Validation happens in lib/risk; every
// argument here is already checked (types, lengths, finiteness where cheap, ranges).
// Each kernel has a synchronous form and an `...Async` form (kernel_binding.hpp).
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../risk/matrix.hpp"
#include "../risk/montecarlo.hpp"
#include "../risk/parallel.hpp"
#include "../risk/philox.hpp"
#include "../risk/var.hpp"
#include "bindings.hpp"
#include "kernel_binding.hpp"
#include "risk_args.hpp"

namespace up::napi {
namespace {

// (out, seed, stream, first)
Kernel fill_normals(const Napi::CallbackInfo& info) {
  double* out = f64(info[0], "out");
  const std::size_t n = f64_len(info[0]);
  const std::uint64_t seed = u64(info[1]), stream = u64(info[2]), first = u64(info[3]);
  return [=] {
    up::risk::fill_normals_parallel(out, n, seed, stream, first);
    return 0.0;
  };
}

// (values, sign, confidence, out[2]) -> -1 | first non-finite index
Kernel var_historical(const Napi::CallbackInfo& info) {
  const HistoricalArgs a = historical_args(info);
  return [=] {
    up::risk::TailResult r{};
    const std::int64_t status = up::risk::historical_tail(a.values, a.n, a.sign, a.confidence, &r);
    if (status < 0) {
      a.out[0] = r.var;
      a.out[1] = r.cvar;
    }
    return static_cast<double>(status);
  };
}

// (values, sign, ddof, out[4]) -> -1 | first non-finite index; out = mean, std, skew, excess kurtosis
Kernel loss_moments(const Napi::CallbackInfo& info) {
  const MomentsArgs a = moments_args(info);
  return [=] {
    up::risk::Moments m{};
    const std::int64_t status = up::risk::loss_moments(a.values, a.n, a.sign, a.ddof, &m);
    a.out[0] = m.mean;
    a.out[1] = m.std;
    a.out[2] = m.skew;
    a.out[3] = m.exkurt;
    return static_cast<double>(status);
  };
}

// (returns, observations, assets, weights, out) -> -1 | first non-finite index
Kernel portfolio_returns(const Napi::CallbackInfo& info) {
  const ReturnsArgs a = returns_args(info);
  return [=] { return static_cast<double>(up::risk::portfolio_returns(a.returns, a.observations, a.assets, a.weights, a.out)); };
}

// (data, observations, assets, method 0|1, lambda, correlation 0|1, out) -> status (matrix.hpp)
Kernel covariance(const Napi::CallbackInfo& info) {
  const CovarianceArgs a = covariance_args(info);
  return [=] {
    return static_cast<double>(up::risk::covariance(a.data, a.observations, a.assets, a.method, a.lambda, a.correlation, a.out));
  };
}

// (matrix, n, lower, failure[3]) -> -1 | failing pivot index (failure: matrix.hpp cholesky)
Kernel cholesky(const Napi::CallbackInfo& info) {
  const std::size_t n = static_cast<std::size_t>(u64(info[1]));
  const double* a = f64(info[0], "matrix", n * n);
  double* lower = f64(info[2], "lower", n * n);
  double* failure = f64(info[3], "failure", 3);
  return [=] { return static_cast<double>(up::risk::cholesky(a, n, lower, failure)); };
}

// (spot, drift, volatility, dt, steps, paths, seed, antithetic, terminal, kept | null)
Kernel simulate_gbm(const Napi::CallbackInfo& info) {
  up::risk::GbmParams g{num(info[0]), num(info[1]), num(info[2]), num(info[3]), u64(info[4]), u64(info[5]),
                        u64(info[6]), info[7].ToBoolean().Value()};
  double* terminal = f64(info[8], "terminal", g.paths);
  double* kept = info[9].IsTypedArray() ? f64(info[9], "kept", g.paths * (g.steps + 1)) : nullptr;
  return [=] {
    up::risk::simulate_gbm(g, terminal, kept);
    return 0.0;
  };
}

// (weights, means, lower, assets, paths, horizon, seed, losses)
Kernel portfolio_losses(const Napi::CallbackInfo& info) {
  const std::size_t assets = static_cast<std::size_t>(u64(info[3]));
  const std::uint64_t paths = u64(info[4]);
  const double* w = f64(info[0], "weights", assets);
  const double* m = f64(info[1], "means", assets);
  const double* l = f64(info[2], "lower", assets * assets);
  const double horizon = num(info[5]);
  const std::uint64_t seed = u64(info[6]);
  double* losses = f64(info[7], "losses", paths);
  return [=] {
    up::risk::portfolio_mc_losses(w, m, l, assets, paths, horizon, seed, losses);
    return 0.0;
  };
}

}  // namespace

void init_risk(Napi::Env env, Napi::Object exports) {
  add_kernel<fill_normals>(env, exports, "fillNormals", "fillNormalsAsync");
  add_kernel<var_historical>(env, exports, "varHistorical", "varHistoricalAsync");
  add_kernel<loss_moments>(env, exports, "lossMoments", "lossMomentsAsync");
  add_kernel<portfolio_returns>(env, exports, "portfolioReturns", "portfolioReturnsAsync");
  add_kernel<covariance>(env, exports, "covariance", "covarianceAsync");
  add_kernel<cholesky>(env, exports, "cholesky", "choleskyAsync");
  add_kernel<simulate_gbm>(env, exports, "simulateGbm", "simulateGbmAsync");
  add_kernel<portfolio_losses>(env, exports, "portfolioLosses", "portfolioLossesAsync");
  exports.Set("riskThreads", Napi::Number::New(env, up::risk::parallel_width()));
}

}  // namespace up::napi
