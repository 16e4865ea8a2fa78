// Bindings for cpp/system: unpack, call, pack. Validation happens in lib/system.
#include "../system/affinity.hpp"
#include "../system/cpu_info.hpp"
#include "bindings.hpp"

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
  const auto cores = info[0].As<Napi::Int32Array>();
  return Napi::Number::New(info.Env(), up::system::set_thread_affinity(cores.Data(), cores.ElementLength()));
}

// (out: Int32Array) -> count | -errno
Napi::Value get_thread_affinity(const Napi::CallbackInfo& info) {
  auto out = info[0].As<Napi::Int32Array>();
  return Napi::Number::New(info.Env(), up::system::get_thread_affinity(out.Data(), out.ElementLength()));
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
