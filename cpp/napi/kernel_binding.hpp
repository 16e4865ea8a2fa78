// What the CPU and GPU addons' kernel bindings share: TypedArray unpacking that keeps a
// direct caller of the raw addon in bounds, and one way to run a kernel either here
// (Sync) or on the libuv pool (Async: an AsyncWorker holding a Promise::Deferred, with
// the call's TypedArrays pinned until it settles). Binding code only; no domain logic.
#pragma once

#include <napi.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace up::napi {

using Kernel = std::function<double()>;

// The TS layer validates everything; these checks only keep a direct caller of the raw
// addon from making the kernels read or write out of bounds.
inline Napi::Float64Array f64_array(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(v.Env(), std::string("Expected a Float64Array for ") + name);
  }
  return v.As<Napi::Float64Array>();
}

inline double* f64(const Napi::Value& v, const char* name = "an argument", std::size_t min_length = 0) {
  Napi::Float64Array a = f64_array(v, name);
  if (a.ElementLength() < min_length) {
    throw Napi::RangeError::New(v.Env(), std::string("Expected at least ") + std::to_string(min_length) +
                                             " elements for " + name + " but received " +
                                             std::to_string(a.ElementLength()));
  }
  return a.Data();
}

inline std::size_t f64_len(const Napi::Value& v, const char* name = "an argument") { return f64_array(v, name).ElementLength(); }
inline std::uint64_t u64(const Napi::Value& v) { return static_cast<std::uint64_t>(v.As<Napi::Number>().DoubleValue()); }
inline double num(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }

// Runs a kernel off the JS thread; resolves with its number. The TypedArrays it reads
// and writes stay referenced until the promise settles.
class KernelWorker final : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, Kernel kernel, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env, "ultra-performance:kernel"), deferred_(Napi::Promise::Deferred::New(env)),
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
      SetError("kernel failed");
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
  auto* worker = new KernelWorker(info.Env(), B(info), info);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

template <Builder B>
void add_kernel(Napi::Env env, Napi::Object exports, const char* name, const char* async_name) {
  exports.Set(name, Napi::Function::New<run_sync<B>>(env, name));
  exports.Set(async_name, Napi::Function::New<run_async<B>>(env, async_name));
}

}  // namespace up::napi
