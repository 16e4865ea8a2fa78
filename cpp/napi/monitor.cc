// Bindings for cpp/system/nvml (lib/monitor/gpu.ts): unpack, call, pack. NVML failures stay
// statuses (> 0; counts come back as -status) and lib/ turns them into errors; bad raw
// arguments throw here (typed_args.hpp), naming the function and the argument.
#include <cstdint>
#include <string>

#include "../system/nvml.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

namespace up::napi {
namespace {

using up::system::Nvml;

// Device indices as NVML takes them (unsigned int); lib/ checks them against the count.
constexpr std::uint32_t kMaxIndex = 0xFFFFFFFFu;

bool string_arg(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name, std::string* out) {
  if (!info[i].IsString()) {
    const std::string msg = std::string(fn) + ": expected a string for " + name;
    napi_throw_type_error(info.Env(), "ERR_INVALID_ARG_TYPE", msg.c_str());
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    const std::string msg = std::string(fn) + ": expected a path without NUL characters for " + name;
    napi_throw_type_error(info.Env(), "ERR_INVALID_ARG_VALUE", msg.c_str());
    return false;
  }
  return true;
}

// (path) -> "" when NVML is open, else why not.
Napi::Value nvml_open(const Napi::CallbackInfo& info) {
  std::string path;
  if (!string_arg(info, 0, "nvmlOpen", "path (argument 1)", &path)) return Napi::Value();
  return Napi::String::New(info.Env(), Nvml::instance().open(path));
}

Napi::Value nvml_close(const Napi::CallbackInfo& info) {
  Nvml::instance().close();
  return info.Env().Undefined();
}

// () -> device count, or -status.
Napi::Value nvml_device_count(const Napi::CallbackInfo& info) {
  unsigned count = 0;
  const int status = Nvml::instance().device_count(&count);
  return Napi::Number::New(info.Env(), status == 0 ? static_cast<double>(count) : -status);
}

// (index) -> the name, or a status (a number).
Napi::Value nvml_device_name(const Napi::CallbackInfo& info) {
  std::uint32_t index = 0;
  if (!uint32_arg(info.Env(), info[0], "nvmlDeviceName", "index (argument 1)", 0, kMaxIndex, &index)) {
    return Napi::Value();
  }
  std::string name;
  const int status = Nvml::instance().device_name(index, &name);
  if (status != 0) return Napi::Number::New(info.Env(), status);
  return Napi::String::New(info.Env(), name);
}

// (index, out: Float64Array of nvmlFieldCount) -> status; NaN where a quantity is unsupported.
Napi::Value nvml_read(const Napi::CallbackInfo& info) {
  constexpr const char* fn = "nvmlRead";
  std::uint32_t index = 0;
  if (!uint32_arg(info.Env(), info[0], fn, "index (argument 1)", 0, kMaxIndex, &index)) return Napi::Value();
  TypedArg out;
  if (!live_typed_array_arg(info.Env(), info[1], napi_float64_array, up::system::kGpuFieldCount, fn,
                            "out (argument 2)", &out)) {
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), Nvml::instance().read(index, static_cast<double*>(out.data)));
}

// (index, lastSeenUs, timestampsUs: Float64Array, values: Float64Array) -> samples written
// (at most the shorter array's length), or -status.
Napi::Value nvml_utilization_samples(const Napi::CallbackInfo& info) {
  constexpr const char* fn = "nvmlUtilizationSamples";
  std::uint32_t index = 0;
  if (!uint32_arg(info.Env(), info[0], fn, "index (argument 1)", 0, kMaxIndex, &index)) return Napi::Value();
  std::uint64_t last_seen = 0;
  if (!size_arg(info.Env(), info[1], fn, "lastSeenUs (argument 2)", 0, 9007199254740991ull, &last_seen)) {
    return Napi::Value();
  }
  TypedArg timestamps;
  TypedArg values;
  if (!live_typed_array_arg(info.Env(), info[2], napi_float64_array, 0, fn, "timestampsUs (argument 3)", &timestamps) ||
      !live_typed_array_arg(info.Env(), info[3], napi_float64_array, 0, fn, "values (argument 4)", &values)) {
    return Napi::Value();
  }
  const std::size_t capacity = timestamps.length < values.length ? timestamps.length : values.length;
  std::size_t written = 0;
  const int status = Nvml::instance().utilization_samples(index, last_seen, static_cast<double*>(timestamps.data),
                                                          static_cast<double*>(values.data), capacity, &written);
  return Napi::Number::New(info.Env(), status == 0 ? static_cast<double>(written) : -status);
}

// (status) -> NVML's text for it.
Napi::Value nvml_error_string(const Napi::CallbackInfo& info) {
  std::uint32_t status = 0;
  if (!uint32_arg(info.Env(), info[0], "nvmlErrorString", "status (argument 1)", 0, 0x7FFFFFFF, &status)) {
    return Napi::Value();
  }
  return Napi::String::New(info.Env(), Nvml::instance().error_string(static_cast<int>(status)));
}

}  // namespace

void init_monitor(Napi::Env env, Napi::Object exports) {
  exports.Set("nvmlFieldCount", Napi::Number::New(env, up::system::kGpuFieldCount));
  exports.Set("nvmlOpen", Napi::Function::New<nvml_open>(env, "nvmlOpen"));
  exports.Set("nvmlClose", Napi::Function::New<nvml_close>(env, "nvmlClose"));
  exports.Set("nvmlDeviceCount", Napi::Function::New<nvml_device_count>(env, "nvmlDeviceCount"));
  exports.Set("nvmlDeviceName", Napi::Function::New<nvml_device_name>(env, "nvmlDeviceName"));
  exports.Set("nvmlRead", Napi::Function::New<nvml_read>(env, "nvmlRead"));
  exports.Set("nvmlUtilizationSamples", Napi::Function::New<nvml_utilization_samples>(env, "nvmlUtilizationSamples"));
  exports.Set("nvmlErrorString", Napi::Function::New<nvml_error_string>(env, "nvmlErrorString"));
}

}  // namespace up::napi
