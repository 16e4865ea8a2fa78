// Bindings for cpp/system: unpack, call, pack. Validation happens in lib/system.
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

// (cores: Int32Array) -> 0 | -errno
Napi::Value set_thread_affinity(const Napi::CallbackInfo& info) {
  TypedArg cores;
  if (!typed_array_arg(info.Env(), info[0], napi_int32_array, 1, "setThreadAffinity", "cores (argument 1)", &cores)) {
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(),
                           up::system::set_thread_affinity(static_cast<const int*>(cores.data), cores.length));
}

// (out: Int32Array) -> count | -errno; a shorter out gets the first out.length cores.
Napi::Value get_thread_affinity(const Napi::CallbackInfo& info) {
  TypedArg out;
  if (!typed_array_arg(info.Env(), info[0], napi_int32_array, 0, "getThreadAffinity", "out (argument 1)", &out)) {
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), up::system::get_thread_affinity(static_cast<int*>(out.data), out.length));
}

Napi::Value current_cpu(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), up::system::current_cpu());
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
