// GPU addon bindings: unpack, call cuda/, pack. Failures come back as
// { ok: false, code, message } objects; lib/risk/gpu.ts turns them into JS errors.
#include <napi.h>

#include "cuda/device.cuh"
#include "cuda/risk/normals.cuh"

namespace {

constexpr int kAbiVersion = 1;

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
  const Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    Napi::TypeError::New(env, "philoxNormals(out: Float64Array, seed, stream, first)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto out = info[0].As<Napi::Float64Array>();
  const auto u64 = [&](std::size_t i) { return static_cast<std::uint64_t>(info[i].As<Napi::Number>().DoubleValue()); };
  return status_object(env, up::cuda::philox_normals(out.Data(), out.ElementLength(), u64(1), u64(2), u64(3)));
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("probe", Napi::Function::New<probe>(env, "probe"));
  exports.Set("selectDevice", Napi::Function::New<select_device>(env, "selectDevice"));
  exports.Set("currentDevice", Napi::Function::New<current_device>(env, "currentDevice"));
  exports.Set("memoryInfo", Napi::Function::New<memory_info>(env, "memoryInfo"));
  exports.Set("selfTest", Napi::Function::New<self_test>(env, "selfTest"));
  exports.Set("philoxNormals", Napi::Function::New<philox_normals>(env, "philoxNormals"));
  return exports;
}

}  // namespace

NODE_API_MODULE(ultra_perf_cuda, init)
