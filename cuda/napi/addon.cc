// GPU addon bindings: unpack, call cuda/, pack. Device queries answer with
// { ok: false, code, message } objects that lib/risk/gpu.ts turns into JS errors; the
// risk kernels have the CPU addon's signatures and argument checks (risk_args.hpp), own
// their memory in the async form (kernel_binding.hpp), and fail with an Error whose code
// is ERR_ULTRA_PERF_GPU and whose message is the failed CUDA call's, which
// lib/risk/kernels.ts turns into a GpuError.
#include <napi.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "cpp/napi/kernel_binding.hpp"
#include "cpp/napi/risk_args.hpp"
#include "cuda/device.cuh"
#include "cuda/risk/kernels.cuh"
#include "cuda/risk/normals.cuh"

namespace {

using up::napi::Fill;
using up::napi::Kernel;
using up::napi::KernelArgs;

constexpr int kAbiVersion = 8;

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

// A device index or element count: an integer in [min, max] (max <= INT32_MAX), checked as every size is.
int int_arg(const Napi::Value& v, const char* fn, const char* name, std::uint64_t min, std::uint64_t max) {
  return static_cast<int>(up::napi::u64(v, fn, name, min, max));
}

Napi::Value select_device(const Napi::CallbackInfo& info) {
  return status_object(info.Env(), up::cuda::select_device(int_arg(info[0], "selectDevice", "index (argument 1)", 0, INT32_MAX)));
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
  const int n = int_arg(info[0], "selfTest", "n (argument 1)", 1, 1 << 28);
  up::cuda::Status s = up::cuda::device_fault();
  if (s.ok()) s = up::cuda::self_test(n);
  return status_object(info.Env(), s);
}

// The first sticky device fault of the process ({ ok: true } when none): after one, every
// CUDA call fails, so lib/risk/kernels.ts stops sending work here and backendInfo() says why.
Napi::Value device_fault_value(const Napi::CallbackInfo& info) {
  return status_object(info.Env(), up::cuda::device_fault());
}

// (out: Float64Array, seed, stream, first) -> status. Synchronous: the caller's memory.
Napi::Value philox_normals(const Napi::CallbackInfo& info) {
  KernelArgs a(info, "philoxNormals", false);
  const std::uint64_t seed = a.size(1, "seed (argument 2)");
  const std::uint64_t stream = a.size(2, "stream (argument 3)");
  const std::uint64_t first = a.size(3, "first (argument 4)");
  std::size_t n = 0;
  double* out = a.output(0, "out (argument 1)", 0, Fill::kNone, &n);
  up::cuda::Status s = up::cuda::device_fault();
  if (s.ok()) s = up::cuda::use_selected_device();
  if (s.ok()) s = up::cuda::philox_normals(out, n, seed, stream, first);
  return status_object(info.Env(), s);
}

std::mutex timing_mutex;
up::cuda::Timing last_timing;

// Runs one GPU call on the selected device; a device failure becomes a KernelFailure
// (code ERR_ULTRA_PERF_GPU) carrying the CUDA call's name, message and file:line. After a
// sticky fault no CUDA call is tried: the failure is that fault's, every time.
// Timing: the kernels' events, the copies' events (check.cuh CopyLog, through this thread's
// current_copy_log) and the host's wall clock around the whole call.
template <class Call>
double on_device(Call call) {
  const auto started = std::chrono::steady_clock::now();
  up::cuda::Timing timing;
  std::int64_t status = -1;
  up::cuda::Status s = up::cuda::device_fault();
  if (s.ok()) s = up::cuda::use_selected_device();
  if (s.ok()) {
    up::cuda::CopyLog copies;
    struct Scope {  // the log is this call's only, on every path out
      explicit Scope(up::cuda::CopyLog* log) { up::cuda::current_copy_log = log; }
      ~Scope() { up::cuda::current_copy_log = nullptr; }
    } scope(&copies);
    s = call(&status, &timing);
    // Every call has synchronised with its streams before it returns, so the copies are done.
    if (s.ok()) {
      if (const cudaError_t e = copies.elapsed_ms(&timing.copy_ms); e != cudaSuccess) {
        s = up::cuda::make_status(e, "cudaEventElapsedTime(copy events)", __FILE__, __LINE__);
      }
    }
  }
  if (!s.ok()) throw up::napi::KernelFailure("ERR_ULTRA_PERF_GPU", s.message);
  timing.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard<std::mutex> lock(timing_mutex);
  last_timing = timing;
  return static_cast<double>(status);
}

// The CPU addon's signatures and statuses (cpp/napi/risk_args.hpp).
Kernel var_historical(KernelArgs& args) {
  const auto a = up::napi::historical_args(args);
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

Kernel loss_moments(KernelArgs& args) {
  const auto a = up::napi::moments_args(args);
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

Kernel portfolio_returns(KernelArgs& args) {
  const auto a = up::napi::returns_args(args);
  return [=] {
    return on_device([&](std::int64_t* status, up::cuda::Timing* timing) {
      return up::cuda::portfolio_returns(a.returns, a.observations, a.assets, a.weights, a.out, status, timing);
    });
  };
}

Kernel covariance(KernelArgs& args) {
  const auto a = up::napi::covariance_args(args);
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
Kernel simulate_gbm(KernelArgs& args) {
  const up::napi::GbmArgs p = up::napi::gbm_args(args, 2);
  if (p.antithetic && p.paths % 2 != 0) {
    throw up::napi::coded_error(args.env(), up::napi::ErrorClass::kRangeError, "ERR_OUT_OF_RANGE",
                                "simulateGbm: expected an even number of paths (argument 6) with antithetic variates but received " +
                                    std::to_string(p.paths));
  }
  const up::risk::GbmParams g{p.spot, p.drift, p.volatility, p.dt, p.steps, p.paths, p.seed, p.antithetic};
  const double confidence = args.number_in(8, "confidence (argument 9)", 0, 1);
  double* terminal = args.output(9, "terminal (argument 10)", g.paths, Fill::kNone);
  double* kept = args.absent(10) ? nullptr : args.output(10, "kept (argument 11)", up::napi::kept_values(args, p), Fill::kNone);
  double* summary = args.output(11, "summary (argument 12)", 4, Fill::kCopy);
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
Kernel portfolio_mc(KernelArgs& args) {
  const std::size_t assets = args.size(3, "assets (argument 4)", 1, up::napi::kMaxAssets);
  const std::uint64_t paths = args.size(4, "paths (argument 5)", 2);
  const double horizon = args.number(5, "horizon (argument 6)");
  const std::uint64_t seed = args.size(6, "seed (argument 7)");
  const double confidence = args.number_in(7, "confidence (argument 8)", 0, 1);
  const double* w = args.input(0, "weights (argument 1)", assets);
  const double* m = args.input(1, "means (argument 2)", assets);
  const double* l = args.input(2, "lower (argument 3)", args.mul("assets x assets", assets, assets));
  double* losses = args.absent(8) ? nullptr : args.output(8, "losses (argument 9)", paths, Fill::kNone);
  double* summary = args.absent(9) ? nullptr : args.output(9, "summary (argument 10)", 4, Fill::kCopy);
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
  // hostMs: the wall time no device work accounts for (allocation, launches, round trips,
  // staging); copies that overlap kernels count once in each, so it is clamped at 0.
  const double device_ms = static_cast<double>(t.kernel_ms) + static_cast<double>(t.copy_ms);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("kernelMs", t.kernel_ms);
  o.Set("copyMs", t.copy_ms);
  o.Set("hostMs", t.wall_ms > device_ms ? t.wall_ms - device_ms : 0.0);
  o.Set("wallMs", t.wall_ms);
  o.Set("totalMs", t.total_ms);
  return o;
}

// Test hook: the allocation `n` calls from now fails (-1 turns it off). check.cuh.
Napi::Value fail_allocation(const Napi::CallbackInfo& info) {
  const double n = up::napi::num(info[0], "failAllocation", "n (argument 1)");
  if (!(n == std::floor(n) && n >= -1 && n <= INT32_MAX)) {
    throw up::napi::coded_error(info.Env(), up::napi::ErrorClass::kRangeError, "ERR_OUT_OF_RANGE",
                                "failAllocation: expected an integer from -1 to 2147483647 for n (argument 1) but received " +
                                    up::napi::describe_number(n));
  }
  up::cuda::fail_allocation_after.store(static_cast<long>(n));
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
  // The pinned staging pool (device.cuh) is freed when this environment goes away.
  env.AddCleanupHook([] { up::cuda::release_staging(); });
  exports.Set("deviceFault", Napi::Function::New<device_fault_value>(env, "deviceFault"));
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
