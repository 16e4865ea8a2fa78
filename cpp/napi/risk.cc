// Bindings for cpp/risk: unpack, call, pack. lib/risk validates for the user; the checks
// here (risk_args.hpp, kernel_binding.hpp) keep a direct caller of the raw addon in
// bounds. Each kernel has a synchronous form and an `...Async` form that works on memory
// it owns (kernel_binding.hpp).
#include <cstdint>
#include <string>

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

// (out, seed, stream, first): normals first .. first + out.length - 1 of (seed, stream).
Kernel fill_normals(KernelArgs& a) {
  const std::uint64_t seed = a.size(1, "seed (argument 2)");
  const std::uint64_t stream = a.size(2, "stream (argument 3)");
  const std::uint64_t first = a.size(3, "first (argument 4)");
  std::size_t n = 0;
  double* out = a.output(0, "out (argument 1)", 0, Fill::kNone, &n);
  return [=] {
    up::risk::fill_normals_parallel(out, n, seed, stream, first);
    return 0.0;
  };
}

// (values, sign, confidence, out[2]) -> -1 | first non-finite index
Kernel var_historical(KernelArgs& args) {
  const HistoricalArgs a = historical_args(args);
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
Kernel loss_moments(KernelArgs& args) {
  const MomentsArgs a = moments_args(args);
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
Kernel portfolio_returns(KernelArgs& args) {
  const ReturnsArgs a = returns_args(args);
  return [=] { return static_cast<double>(up::risk::portfolio_returns(a.returns, a.observations, a.assets, a.weights, a.out)); };
}

// (data, observations, assets, method 0|1, lambda, correlation 0|1, out) -> status (matrix.hpp)
Kernel covariance(KernelArgs& args) {
  const CovarianceArgs a = covariance_args(args);
  return [=] {
    return static_cast<double>(up::risk::covariance(a.data, a.observations, a.assets, a.method, a.lambda, a.correlation, a.out));
  };
}

// (matrix, n, lower, failure[3]) -> -1 | failing pivot index (failure: matrix.hpp cholesky)
Kernel cholesky(KernelArgs& args) {
  const std::size_t n = args.size(1, "n (argument 2)", 1);
  const std::size_t cells = args.mul("n x n", n, n);
  const double* a = args.input(0, "matrix (argument 1)", cells);
  double* lower = args.output(2, "lower (argument 3)", cells, Fill::kNone);  // zeroed first by the kernel
  double* failure = args.output(3, "failure (argument 4)", 3, Fill::kCopy);
  return [=] { return static_cast<double>(up::risk::cholesky(a, n, lower, failure)); };
}

// (spot, drift, volatility, dt, steps, paths, seed, antithetic, terminal, kept | null)
Kernel simulate_gbm(KernelArgs& args) {
  const GbmArgs p = gbm_args(args, 1);
  const up::risk::GbmParams g{p.spot, p.drift, p.volatility, p.dt, p.steps, p.paths, p.seed, p.antithetic};
  double* terminal = args.output(8, "terminal (argument 9)", g.paths, Fill::kNone);
  double* kept = args.absent(9) ? nullptr : args.output(9, "kept (argument 10)", kept_values(args, p), Fill::kNone);
  return [=] {
    up::risk::simulate_gbm(g, terminal, kept);
    return 0.0;
  };
}

// (weights, means, lower, assets, paths, horizon, seed, losses)
Kernel portfolio_losses(KernelArgs& args) {
  const std::size_t assets = args.size(3, "assets (argument 4)", 1, kMaxAssets);
  const std::uint64_t paths = args.size(4, "paths (argument 5)", 1);
  const double horizon = args.number(5, "horizon (argument 6)");
  const std::uint64_t seed = args.size(6, "seed (argument 7)");
  const double* w = args.input(0, "weights (argument 1)", assets);
  const double* m = args.input(1, "means (argument 2)", assets);
  const double* l = args.input(2, "lower (argument 3)", args.mul("assets x assets", assets, assets));
  double* losses = args.output(7, "losses (argument 8)", paths, Fill::kNone);
  args.set_memory("a buffer of 16384 x ", assets, " normals per thread");
  return [=] {
    up::risk::portfolio_mc_losses(w, m, l, assets, paths, horizon, seed, losses);
    return 0.0;
  };
}

// () -> the pool's spin window in ns (parallel.hpp: how long an idle worker polls before it sleeps).
Napi::Value risk_pool_spin_ns(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(up::risk::pool_spin_ns()));
}

// (spinNs: integer 0 .. 1e9) -> undefined
Napi::Value set_risk_pool_spin_ns(const Napi::CallbackInfo& info) {
  std::uint64_t ns = 0;
  if (!size_arg(info.Env(), info[0], "setRiskPoolSpinNs", "spinNs (argument 1)", 0,
                static_cast<std::uint64_t>(up::risk::kMaxPoolSpinNs), &ns)) {
    return Napi::Value();
  }
  up::risk::set_pool_spin_ns(static_cast<std::int64_t>(ns));
  return info.Env().Undefined();
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
  exports.Set("riskPoolSpinNs", Napi::Function::New<risk_pool_spin_ns>(env, "riskPoolSpinNs"));
  exports.Set("setRiskPoolSpinNs", Napi::Function::New<set_risk_pool_spin_ns>(env, "setRiskPoolSpinNs"));
}

}  // namespace up::napi
