// Bindings for cpp/risk: unpack, call, pack. Validation happens in lib/risk; every
// argument here is already checked (types, lengths, finiteness where cheap, ranges).
// Each kernel has a synchronous form and an `...Async` form that runs it on the libuv
// pool (one AsyncWorker holding a Promise::Deferred) with its TypedArrays pinned.
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

namespace up::napi {
namespace {

using Kernel = std::function<double()>;

// The TS layer validates everything; these checks only keep a direct caller of the raw
// addon from making the kernels read or write out of bounds.
Napi::Float64Array f64_array(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(v.Env(), std::string("Expected a Float64Array for ") + name);
  }
  return v.As<Napi::Float64Array>();
}

double* f64(const Napi::Value& v, const char* name = "an argument", std::size_t min_length = 0) {
  Napi::Float64Array a = f64_array(v, name);
  if (a.ElementLength() < min_length) {
    throw Napi::RangeError::New(v.Env(), std::string("Expected at least ") + std::to_string(min_length) +
                                             " elements for " + name + " but received " +
                                             std::to_string(a.ElementLength()));
  }
  return a.Data();
}

std::size_t f64_len(const Napi::Value& v, const char* name = "an argument") { return f64_array(v, name).ElementLength(); }
std::uint64_t u64(const Napi::Value& v) { return static_cast<std::uint64_t>(v.As<Napi::Number>().DoubleValue()); }
double num(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }

// Runs a kernel off the JS thread; resolves with its number. The TypedArrays it reads
// and writes stay referenced until the promise settles.
class RiskWorker final : public Napi::AsyncWorker {
 public:
  RiskWorker(Napi::Env env, Kernel kernel, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env, "ultra-performance:risk"), deferred_(Napi::Promise::Deferred::New(env)),
        kernel_(std::move(kernel)) {
    for (std::size_t i = 0; i < info.Length(); ++i) {
      if (info[i].IsTypedArray()) pinned_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
    }
  }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = kernel_();
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("risk kernel failed");
    }
  }

  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), result_)); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Kernel kernel_;
  std::vector<Napi::ObjectReference> pinned_;
  double result_ = 0;
};

// Each binding builds a Kernel from its arguments; Sync runs it here, Async queues it.
using Builder = Kernel (*)(const Napi::CallbackInfo&);

template <Builder B>
Napi::Value run_sync(const Napi::CallbackInfo& info) {
  try {
    return Napi::Number::New(info.Env(), B(info)());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

template <Builder B>
Napi::Value run_async(const Napi::CallbackInfo& info) {
  auto* worker = new RiskWorker(info.Env(), B(info), info);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

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
  const double* values = f64(info[0], "values", 2);
  const std::size_t n = f64_len(info[0]);
  const double sign = num(info[1]), confidence = num(info[2]);
  if (!(confidence > 0 && confidence < 1)) throw Napi::RangeError::New(info.Env(), "Expected a confidence in (0, 1)");
  double* out = f64(info[3], "out", 2);
  return [=] {
    up::risk::TailResult r{};
    const std::int64_t status = up::risk::historical_tail(values, n, sign, confidence, &r);
    if (status < 0) {
      out[0] = r.var;
      out[1] = r.cvar;
    }
    return static_cast<double>(status);
  };
}

// (values, sign, out[4]) -> -1 | first non-finite index; out = mean, std, skew, excess kurtosis
Kernel loss_moments(const Napi::CallbackInfo& info) {
  const double* values = f64(info[0], "values", 2);
  const std::size_t n = f64_len(info[0]);
  const double sign = num(info[1]);
  double* out = f64(info[2], "out", 4);
  return [=] {
    up::risk::Moments m{};
    const std::int64_t status = up::risk::loss_moments(values, n, sign, &m);
    out[0] = m.mean;
    out[1] = m.std;
    out[2] = m.skew;
    out[3] = m.exkurt;
    return static_cast<double>(status);
  };
}

// (returns, observations, assets, weights, out) -> -1 | first non-finite index
Kernel portfolio_returns(const Napi::CallbackInfo& info) {
  const std::size_t t = static_cast<std::size_t>(u64(info[1])), a = static_cast<std::size_t>(u64(info[2]));
  const double* returns = f64(info[0], "returns", t * a);
  const double* weights = f64(info[3], "weights", a);
  double* out = f64(info[4], "out", t);
  return [=] { return static_cast<double>(up::risk::portfolio_returns(returns, t, a, weights, out)); };
}

// (data, observations, assets, method 0|1, lambda, correlation 0|1, out) -> status (matrix.hpp)
Kernel covariance(const Napi::CallbackInfo& info) {
  const std::size_t t = static_cast<std::size_t>(u64(info[1])), a = static_cast<std::size_t>(u64(info[2]));
  if (t < 2 || a < 1) throw Napi::RangeError::New(info.Env(), "Expected at least 2 observations and 1 asset");
  const double* data = f64(info[0], "data", t * a);
  const auto method = static_cast<up::risk::CovMethod>(static_cast<int>(num(info[3])));
  const double lambda = num(info[4]);
  const bool corr = num(info[5]) != 0;
  double* out = f64(info[6], "out", a * a);
  return [=] { return static_cast<double>(up::risk::covariance(data, t, a, method, lambda, corr, out)); };
}

// (matrix, n, lower, pivotOut[1]) -> -1 | failing pivot index
Kernel cholesky(const Napi::CallbackInfo& info) {
  const std::size_t n = static_cast<std::size_t>(u64(info[1]));
  const double* a = f64(info[0], "matrix", n * n);
  double* lower = f64(info[2], "lower", n * n);
  double* pivot = f64(info[3], "pivot", 1);
  return [=] { return static_cast<double>(up::risk::cholesky(a, n, lower, pivot)); };
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

template <Builder B>
void add(Napi::Env env, Napi::Object exports, const char* name, const char* async_name) {
  exports.Set(name, Napi::Function::New<run_sync<B>>(env, name));
  exports.Set(async_name, Napi::Function::New<run_async<B>>(env, async_name));
}

}  // namespace

void init_risk(Napi::Env env, Napi::Object exports) {
  add<fill_normals>(env, exports, "fillNormals", "fillNormalsAsync");
  add<var_historical>(env, exports, "varHistorical", "varHistoricalAsync");
  add<loss_moments>(env, exports, "lossMoments", "lossMomentsAsync");
  add<portfolio_returns>(env, exports, "portfolioReturns", "portfolioReturnsAsync");
  add<covariance>(env, exports, "covariance", "covarianceAsync");
  add<cholesky>(env, exports, "cholesky", "choleskyAsync");
  add<simulate_gbm>(env, exports, "simulateGbm", "simulateGbmAsync");
  add<portfolio_losses>(env, exports, "portfolioLosses", "portfolioLossesAsync");
  exports.Set("riskThreads", Napi::Number::New(env, up::risk::parallel_width()));
}

}  // namespace up::napi
