// Bindings for cpp/system: unpack, call, pack. lib/system validates user input; these check
// every raw argument themselves (typed_args.hpp) and turn an OS error into a thrown system
// error naming the call, the argument and the errno text. kUnsupported stays a status: lib/
// turns it into UnsupportedError.
#include <cstdint>
#include <string>

#include "../system/affinity.hpp"
#include "../system/cpu_info.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

namespace up::napi {
namespace {

Napi::Value cpu_info(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const auto cpu = up::system::cpu_info();
  Napi::Object out = Napi::Object::New(env);
  out.Set("model", cpu.model);
  out.Set("cores", cpu.cores);
  Napi::Array features = Napi::Array::New(env, cpu.features.size());
  for (std::size_t i = 0; i < cpu.features.size(); ++i) features.Set(static_cast<uint32_t>(i), cpu.features[i]);
  out.Set("features", features);
  return out;
}

// A status from cpp/system: itself when >= 0 or kUnsupported, else (-errno) a thrown system
// error naming fn, the OS call and the argument.
Napi::Value status_or_throw(const Napi::CallbackInfo& info, int status, const char* fn, const char* syscall,
                            const char* argument) {
  if (status < 0 && status != up::system::kUnsupported) {
    throw_os_error(info.Env(), fn, syscall, argument, -status);
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), status);
}

// (cores: Int32Array of indices in [0, kMaxCores)) -> 0 | kUnsupported; throws what the OS refuses.
Napi::Value set_thread_affinity(const Napi::CallbackInfo& info) {
  constexpr const char* fn = "setThreadAffinity";
  TypedArg cores;
  if (!live_typed_array_arg(info.Env(), info[0], napi_int32_array, 1, fn, "cores (argument 1)", &cores)) {
    return Napi::Value();
  }
  const auto* c = static_cast<const int32_t*>(cores.data);
  for (std::size_t i = 0; i < cores.length; ++i) {
    if (c[i] < 0 || c[i] >= up::system::kMaxCores) {
      const std::string msg = std::string(fn) + ": expected a core index from 0 to " +
                              std::to_string(up::system::kMaxCores - 1) + " for cores[" + std::to_string(i) +
                              "] (argument 1) but received " + std::to_string(c[i]);
      napi_throw_range_error(info.Env(), "ERR_OUT_OF_RANGE", msg.c_str());
      return Napi::Value();
    }
  }
  std::string argument = "cores (argument 1) [";
  for (std::size_t i = 0; i < cores.length && i < 16; ++i) argument += (i == 0 ? "" : ", ") + std::to_string(c[i]);
  argument += cores.length > 16 ? ", ...]" : "]";
  return status_or_throw(info, up::system::set_thread_affinity(c, cores.length), fn, "pthread_setaffinity_np",
                         argument.c_str());
}

// (out: Int32Array) -> count | kUnsupported; a shorter out gets the first out.length cores.
Napi::Value get_thread_affinity(const Napi::CallbackInfo& info) {
  constexpr const char* fn = "getThreadAffinity";
  TypedArg out;
  if (!live_typed_array_arg(info.Env(), info[0], napi_int32_array, 0, fn, "out (argument 1)", &out)) {
    return Napi::Value();
  }
  return status_or_throw(info, up::system::get_thread_affinity(static_cast<int*>(out.data), out.length), fn,
                         "pthread_getaffinity_np", "the calling thread's affinity");
}

Napi::Value current_cpu(const Napi::CallbackInfo& info) {
  return status_or_throw(info, up::system::current_cpu(), "currentCpu", "sched_getcpu", "the calling thread");
}

}  // namespace

void init_system(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuInfo", Napi::Function::New<cpu_info>(env, "cpuInfo"));
  exports.Set("affinitySupported", Napi::Boolean::New(env, up::system::affinity_supported()));
  exports.Set("setThreadAffinity", Napi::Function::New<set_thread_affinity>(env, "setThreadAffinity"));
  exports.Set("getThreadAffinity", Napi::Function::New<get_thread_affinity>(env, "getThreadAffinity"));
  exports.Set("currentCpu", Napi::Function::New<current_cpu>(env, "currentCpu"));
}

}  // namespace up::napi
