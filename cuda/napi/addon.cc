// GPU addon bindings: unpack, call cuda/, pack. Device queries answer with
// { ok: false, code, message } objects that lib/risk/gpu.ts turns into JS errors; the
// risk kernels have the CPU addon's signatures (kernel_binding.hpp) and throw the
// failed CUDA call's message, which lib/risk/kernels.ts turns into a GpuError.
#include <napi.h>

#include <mutex>
#include <stdexcept>

#include "cpp/napi/kernel_binding.hpp"
#include "cpp/napi/risk_args.hpp"
#include "cuda/device.cuh"
#include "cuda/risk/kernels.cuh"
#include "cuda/risk/normals.cuh"

namespace {

using up::napi::f64;
using up::napi::f64_len;
using up::napi::Kernel;
using up::napi::num;
using up::napi::u64;

constexpr int kAbiVersion = 3;

Napi::Object status_object(Napi::Env env, const up::cuda::Status& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", s.ok());
  o.Set("code", s.code);
  o.Set("message", s.message);
  return o;
}

Napi::Object device_object(Napi::Env env, const up::cuda::DeviceProps& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", p.index);
  o.Set("name", p.name);
  o.Set("totalMemory", static_cast<double>(p.total_memory));
  o.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
  o.Set("multiprocessors", p.multiprocessors);
  o.Set("memoryBusWidth", p.memory_bus_width);
  o.Set("pciBusId", p.pci_bus_id);
  return o;
}

// Everything the loader needs in one call, so a child process can run it safely.
Napi::Value probe(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const auto v = up::cuda::versions();
  out.Set("abiVersion", kAbiVersion);
  out.Set("runtimeVersion", v.runtime);
  out.Set("driverVersion", v.driver);
  std::vector<up::cuda::DeviceProps> devices;
  const auto s = up::cuda::list_devices(devices);
  out.Set("status", status_object(env, s));
  Napi::Array arr = Napi::Array::New(env, devices.size());
  for (std::size_t i = 0; i < devices.size(); ++i) arr.Set(static_cast<uint32_t>(i), device_object(env, devices[i]));
  out.Set("devices", arr);
  return out;
}

Napi::Value select_device(const Napi::CallbackInfo& info) {
  return status_object(info.Env(), up::cuda::select_device(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Value current_device(const Napi::CallbackInfo& info) {
  int index = -1;
  const auto s = up::cuda::current_device(index);
  Napi::Object o = status_object(info.Env(), s);
  o.Set("index", index);
  return o;
}

Napi::Value memory_info(const Napi::CallbackInfo& info) {
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  const auto s = up::cuda::memory_info(free_bytes, total_bytes);
  Napi::Object o = status_object(info.Env(), s);
  o.Set("free", static_cast<double>(free_bytes));
  o.Set("total", static_cast<double>(total_bytes));
  return o;
}

Napi::Value self_test(const Napi::CallbackInfo& info) {
  return status_object(info.Env(), up::cuda::self_test(info[0].As<Napi::Number>().Int32Value()));
}

// (out: Float64Array, seed, stream, first) -> status. lib/ validates the integers.
Napi::Value philox_normals(const Napi::CallbackInfo& info) {
  double* out = f64(info[0], "out");
  const std::size_t n = f64_len(info[0]);
  up::cuda::Status s = up::cuda::use_selected_device();
  if (s.ok()) s = up::cuda::philox_normals(out, n, u64(info[1]), u64(info[2]), u64(info[3]));
  return status_object(info.Env(), s);
}

std::mutex timing_mutex;
up::cuda::Timing last_timing;

// Runs one GPU call on the selected device; a device failure becomes an exception
// carrying the CUDA call's name, message and file:line.
template <class Call>
double on_device(Call call) {
  up::cuda::Timing timing;
  std::int64_t status = -1;
  up::cuda::Status s = up::cuda::use_selected_device();
  if (s.ok()) s = call(&status, &timing);
  if (!s.ok()) throw std::runtime_error(s.message);
  std::lock_guard<std::mutex> lock(timing_mutex);
  last_timing = timing;
  return static_cast<double>(status);
}

// The CPU addon's signatures and statuses (cpp/napi/risk_args.hpp).
Kernel var_historical(const Napi::CallbackInfo& info) {
  const auto a = up::napi::historical_args(info);
  return [=] {
    return on_device([&](std::int64_t* status, up::cuda::Timing* timing) {
      up::risk::TailResult r{};
      auto s = up::cuda::historical_tail(a.values, a.n, a.sign, a.confidence, &r, status, timing);
      if (s.ok() && *status < 0) {
        a.out[0] = r.var;
        a.out[1] = r.cvar;
      }
      return s;
    });
  };
}

Kernel loss_moments(const Napi::CallbackInfo& info) {
  const auto a = up::napi::moments_args(info);
  return [=] {
    return on_device([&](std::int64_t* status, up::cuda::Timing* timing) {
      up::risk::Moments m{};
      auto s = up::cuda::loss_moments(a.values, a.n, a.sign, a.ddof, &m, status, timing);
      if (s.ok() && *status < 0) {
        a.out[0] = m.mean;
        a.out[1] = m.std;
        a.out[2] = m.skew;
        a.out[3] = m.exkurt;
      }
      return s;
    });
  };
}

Kernel portfolio_returns(const Napi::CallbackInfo& info) {
  const auto a = up::napi::returns_args(info);
  return [=] {
    return on_device([&](std::int64_t* status, up::cuda::Timing* timing) {
      return up::cuda::portfolio_returns(a.returns, a.observations, a.assets, a.weights, a.out, status, timing);
    });
  };
}

Kernel covariance(const Napi::CallbackInfo& info) {
  const auto a = up::napi::covariance_args(info);
  return [=] {
    return on_device([&](std::int64_t* status, up::cuda::Timing* timing) {
      return up::cuda::covariance(a.data, a.observations, a.assets, a.method, a.lambda, a.correlation, a.out, status,
                                  timing);
    });
  };
}

// The summary layout lib/risk/kernels.ts reads: [var, cvar, mean, stdError].
void write_summary(const up::cuda::McSummary& r, double* summary) {
  summary[0] = r.var;
  summary[1] = r.cvar;
  summary[2] = r.mean;
  summary[3] = r.std_error;
}

// (spot, drift, volatility, dt, steps, paths, seed, antithetic, confidence, terminal, kept | null,
//  summary[4] = var, cvar, mean, stdError) -> -1 | index of the first path whose S(T) is not finite
Kernel simulate_gbm(const Napi::CallbackInfo& info) {
  up::risk::GbmParams g{num(info[0]), num(info[1]), num(info[2]), num(info[3]), u64(info[4]), u64(info[5]),
                        u64(info[6]), info[7].ToBoolean().Value()};
  if (g.paths < 2 || (g.antithetic && g.paths % 2 != 0)) {
    throw Napi::RangeError::New(info.Env(), "Expected at least 2 paths (an even number with antithetic variates)");
  }
  const double confidence = num(info[8]);
  if (!(confidence > 0 && confidence < 1)) throw Napi::RangeError::New(info.Env(), "Expected a confidence in (0, 1)");
  double* terminal = f64(info[9], "terminal", g.paths);
  double* kept = info[10].IsTypedArray() ? f64(info[10], "kept", g.paths * (g.steps + 1)) : nullptr;
  double* summary = f64(info[11], "summary", 4);
  return [=] {
    return on_device([&](std::int64_t* status, up::cuda::Timing* timing) {
      up::cuda::McSummary r{};
      auto s = up::cuda::simulate_gbm(g, confidence, terminal, kept, &r, status, timing);
      if (s.ok() && *status < 0) write_summary(r, summary);
      return s;
    });
  };
}

// (weights, means, lower, assets, paths, horizon, seed, confidence, losses | null, summary[4] | null)
// -> -1 | index of the first non-finite loss (only with a summary)
Kernel portfolio_mc(const Napi::CallbackInfo& info) {
  const std::size_t assets = static_cast<std::size_t>(u64(info[3]));
  const std::uint64_t paths = u64(info[4]);
  if (assets < 1 || paths < 2) throw Napi::RangeError::New(info.Env(), "Expected at least 1 asset and 2 paths");
  const double* w = f64(info[0], "weights", assets);
  const double* m = f64(info[1], "means", assets);
  const double* l = f64(info[2], "lower", assets * assets);
  const double horizon = num(info[5]);
  const std::uint64_t seed = u64(info[6]);
  const double confidence = num(info[7]);
  if (!(confidence > 0 && confidence < 1)) throw Napi::RangeError::New(info.Env(), "Expected a confidence in (0, 1)");
  double* losses = info[8].IsTypedArray() ? f64(info[8], "losses", paths) : nullptr;
  double* summary = info[9].IsTypedArray() ? f64(info[9], "summary", 4) : nullptr;
  return [=] {
    return on_device([&](std::int64_t* status, up::cuda::Timing* timing) {
      up::cuda::McSummary r{};
      auto s = up::cuda::portfolio_mc(w, m, l, assets, paths, horizon, seed, confidence, losses,
                                      summary == nullptr ? nullptr : &r, status, timing);
      if (s.ok() && *status < 0 && summary != nullptr) write_summary(r, summary);
      return s;
    });
  };
}

// Device time of the last GPU risk call (any thread), from CUDA events.
Napi::Value last_timing_value(const Napi::CallbackInfo& info) {
  up::cuda::Timing t;
  {
    std::lock_guard<std::mutex> lock(timing_mutex);
    t = last_timing;
  }
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("kernelMs", t.kernel_ms);
  o.Set("totalMs", t.total_ms);
  return o;
}

// Test hook: the allocation `n` calls from now fails (-1 turns it off). check.cuh.
Napi::Value fail_allocation(const Napi::CallbackInfo& info) {
  up::cuda::fail_allocation_after.store(static_cast<long>(num(info[0])));
  return info.Env().Undefined();
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("probe", Napi::Function::New<probe>(env, "probe"));
  exports.Set("selectDevice", Napi::Function::New<select_device>(env, "selectDevice"));
  exports.Set("currentDevice", Napi::Function::New<current_device>(env, "currentDevice"));
  exports.Set("memoryInfo", Napi::Function::New<memory_info>(env, "memoryInfo"));
  exports.Set("selfTest", Napi::Function::New<self_test>(env, "selfTest"));
  exports.Set("philoxNormals", Napi::Function::New<philox_normals>(env, "philoxNormals"));
  exports.Set("lastTiming", Napi::Function::New<last_timing_value>(env, "lastTiming"));
  exports.Set("failAllocation", Napi::Function::New<fail_allocation>(env, "failAllocation"));
  up::napi::add_kernel<var_historical>(env, exports, "varHistorical", "varHistoricalAsync");
  up::napi::add_kernel<loss_moments>(env, exports, "lossMoments", "lossMomentsAsync");
  up::napi::add_kernel<portfolio_returns>(env, exports, "portfolioReturns", "portfolioReturnsAsync");
  up::napi::add_kernel<covariance>(env, exports, "covariance", "covarianceAsync");
  up::napi::add_kernel<simulate_gbm>(env, exports, "simulateGbm", "simulateGbmAsync");
  up::napi::add_kernel<portfolio_mc>(env, exports, "portfolioMc", "portfolioMcAsync");
  return exports;
}

}  // namespace

NODE_API_MODULE(ultra_perf_cuda, init)
