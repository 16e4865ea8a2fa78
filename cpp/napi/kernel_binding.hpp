// What the CPU and GPU addons' kernel bindings share (the node-addon-api, cold-path half of
// the one N-API dialect; typed_args.hpp is the raw half and does every check): arguments
// unpacked into a KernelArgs, and one way to run a kernel either here (Sync) or on the
// libuv pool (Async: an AsyncWorker holding a Promise::Deferred). Binding code only.
//
// Ownership: a native thread never touches a caller's ArrayBuffer. A sync kernel works on
// the caller's memory (nothing can detach it before the call returns). An async kernel
// works on memory the work owns: inputs are copied when the call is queued, outputs are
// allocated then and copied back on the JS thread when the kernel has finished, into each
// caller array that is still attached and long enough; otherwise the promise rejects with
// ERR_ULTRA_PERF_DETACHED naming the argument. Errors keep their class and code across the
// sync and async forms, and no C++ exception text reaches JS unexplained.
#pragma once

#include <napi.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "typed_args.hpp"

namespace up::napi {

using Kernel = std::function<double()>;

inline constexpr const char* kErrDetached = "ERR_ULTRA_PERF_DETACHED";
inline constexpr const char* kErrOutOfMemory = "ERR_ULTRA_PERF_OUT_OF_MEMORY";
inline constexpr const char* kErrKernel = "ERR_ULTRA_PERF_KERNEL";
// The largest integer a double holds exactly: the bound of every count a binding reads.
inline constexpr std::uint64_t kMaxSafeInteger = (std::uint64_t{1} << 53) - 1;

// The JS exception a raw helper left pending, thrown as a C++ Napi::Error (same object:
// class, message and code unchanged).
[[noreturn]] inline void throw_pending(Napi::Env env) { throw Napi::Error::New(env); }

// A status that is not napi_ok as a C++ Napi::Error (the pending exception, or one made
// from the status).
inline void check_status(Napi::Env env, napi_status status) {
  if (status != napi_ok) throw_pending(env);
}

enum class ErrorClass { kError, kTypeError, kRangeError };

// new Error / TypeError / RangeError(message) with a string `code`.
inline Napi::Error coded_error(Napi::Env env, ErrorClass cls, const char* code, const std::string& message) {
  napi_value c = nullptr, m = nullptr, e = nullptr;
  check_status(env, napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c));
  check_status(env, napi_create_string_utf8(env, message.data(), message.size(), &m));
  switch (cls) {
    case ErrorClass::kTypeError: check_status(env, napi_create_type_error(env, c, m, &e)); break;
    case ErrorClass::kRangeError: check_status(env, napi_create_range_error(env, c, m, &e)); break;
    default: check_status(env, napi_create_error(env, c, m, &e)); break;
  }
  return Napi::Error(env, e);
}

// ---- The node-addon-api face of typed_args.hpp: the same checks, wording and codes, as
// C++ exceptions. `fn` is the exported function's name, `name` the argument's.

inline double* f64(const Napi::Value& v, const char* fn, const char* name, std::size_t min_length = 0,
                   std::size_t* length = nullptr) {
  TypedArg a;
  if (!typed_array_arg(v.Env(), v, napi_float64_array, min_length, fn, name, &a)) throw_pending(v.Env());
  if (length != nullptr) *length = a.length;
  return static_cast<double*>(a.data);
}

inline std::size_t f64_len(const Napi::Value& v, const char* fn, const char* name) {
  std::size_t n = 0;
  f64(v, fn, name, 0, &n);
  return n;
}

// An integer in [min, max] (size_arg): never NaN, an infinity, a fraction or a wrapped value.
inline std::uint64_t u64(const Napi::Value& v, const char* fn, const char* name, std::uint64_t min = 0,
                         std::uint64_t max = kMaxSafeInteger) {
  std::uint64_t out = 0;
  if (!size_arg(v.Env(), v, fn, name, min, max, &out)) throw_pending(v.Env());
  return out;
}

// Any number (NaN and the infinities included: the caller decides what they mean).
inline double num(const Napi::Value& v, const char* fn, const char* name) {
  double out = 0;
  if (!number_arg(v.Env(), v, fn, name, &out)) throw_pending(v.Env());
  return out;
}

// A number in the open interval (lo, hi) (NaN refused).
inline double num_in(const Napi::Value& v, const char* fn, const char* name, double lo, double hi) {
  const double x = num(v, fn, name);
  if (!(x > lo && x < hi)) {
    throw coded_error(v.Env(), ErrorClass::kRangeError, "ERR_OUT_OF_RANGE",
                      std::string(fn) + ": expected a number in (" + describe_number(lo) + ", " + describe_number(hi) +
                          ") for " + name + " but received " + describe_number(x));
  }
  return x;
}

// One of the listed values exactly (a sign of -1 or 1, a ddof of 0 or 1).
inline double num_of(const Napi::Value& v, const char* fn, const char* name, double a, double b) {
  const double x = num(v, fn, name);
  if (x != a && x != b) {
    throw coded_error(v.Env(), ErrorClass::kRangeError, "ERR_OUT_OF_RANGE",
                      std::string(fn) + ": expected " + describe_number(a) + " or " + describe_number(b) + " for " +
                          name + " but received " + describe_number(x));
  }
  return x;
}

inline bool boolean(const Napi::Value& v, const char* fn, const char* name) {
  if (!v.IsBoolean()) {
    throw coded_error(v.Env(), ErrorClass::kTypeError, "ERR_INVALID_ARG_TYPE",
                      std::string(fn) + ": expected a boolean for " + name);
  }
  return v.As<Napi::Boolean>().Value();
}

// a * b, or a RangeError naming what the product measures and its factors.
inline std::size_t mul(Napi::Env env, const char* fn, const char* what, std::size_t a, std::size_t b) {
  std::size_t out = 0;
  if (!checked_mul(a, b, &out)) {
    const std::string measured = std::string(what) + " (" + std::to_string(a) + " x " + std::to_string(b) + ")";
    throw_too_large(env, fn, measured.c_str());
    throw_pending(env);
  }
  return out;
}

// ---- Kernel failures (on any thread), as data until the JS thread makes an error of them.

// A failure the kernel reports with its own code and message (the GPU addon's CUDA errors).
struct KernelFailure : std::runtime_error {
  KernelFailure(const char* c, const std::string& message) : std::runtime_error(message), code(c) {}
  const char* code;
};

struct Failure {
  const char* code = nullptr;  // nullptr: no failure
  std::string message;
};

// What a kernel allocates for its sizes, named in an out-of-memory error: "<prefix><count><suffix>"
// ("a copy of 1000000 losses"). Kept as parts so that a call that succeeds formats nothing.
struct MemoryNote {
  const char* prefix = nullptr;
  std::size_t count = 0;
  const char* suffix = "";
  std::string text() const {
    return prefix == nullptr ? "the kernel's working buffers" : prefix + std::to_string(count) + suffix;
  }
};

// Runs the kernel, catching everything it throws: out of memory (std::bad_alloc, a
// std::length_error from a vector asked for more than it can hold) names the function and
// `memory`, what the sizes asked the kernel to allocate.
inline Failure run_kernel(const Kernel& kernel, const char* fn, const MemoryNote& memory, double* result) noexcept {
  Failure f;
  try {
    *result = kernel();
    return f;
  } catch (const KernelFailure& e) {
    f.code = e.code;
    f.message = e.what();
    return f;
  } catch (const std::bad_alloc&) {
    f.code = kErrOutOfMemory;
  } catch (const std::length_error&) {
    f.code = kErrOutOfMemory;
  } catch (const std::exception& e) {
    f.code = kErrKernel;
    f.message = std::string(fn) + ": the kernel failed: " + e.what();
    return f;
  } catch (...) {
    f.code = kErrKernel;
    f.message = std::string(fn) + ": the kernel failed";
    return f;
  }
  try {
    f.message = std::string(fn) + ": out of memory for " + memory.text() + "; use smaller sizes";
  } catch (...) {
    f.message = "out of memory";
  }
  return f;
}

inline Napi::Error failure_error(Napi::Env env, const Failure& f) {
  return coded_error(env, ErrorClass::kError, f.code, f.message);
}

// ---- The arguments of one call.

// How an async output's owned copy starts: as a copy of the caller's elements (for outputs
// a kernel writes only in part, or only on success: the copy back then leaves the rest as
// the sync form would), or unset (the kernel writes every element before it succeeds).
enum class Fill { kCopy, kNone };

// Unpacks one call's arguments. Sync (owned = false): the caller's memory. Async (owned =
// true): every array is a copy the work owns (see the header).
class KernelArgs {
 public:
  KernelArgs(const Napi::CallbackInfo& info, const char* fn, bool owned) : info_(&info), env_(info.Env()), fn_(fn), owned_(owned) {}
  KernelArgs(KernelArgs&&) = default;

  const char* fn() const { return fn_; }
  Napi::Env env() const { return env_; }

  // What the kernel allocates for these sizes, for an out-of-memory error.
  void set_memory(const char* prefix, std::size_t count, const char* suffix) { memory_ = MemoryNote{prefix, count, suffix}; }
  const MemoryNote& memory() const { return memory_; }

  std::uint64_t size(std::size_t i, const char* name, std::uint64_t min = 0, std::uint64_t max = kMaxSafeInteger) const {
    return u64((*info_)[i], fn_, name, min, max);
  }
  double number(std::size_t i, const char* name) const { return num((*info_)[i], fn_, name); }
  double number_in(std::size_t i, const char* name, double lo, double hi) const { return num_in((*info_)[i], fn_, name, lo, hi); }
  double number_of(std::size_t i, const char* name, double a, double b) const { return num_of((*info_)[i], fn_, name, a, b); }
  bool flag(std::size_t i, const char* name) const { return boolean((*info_)[i], fn_, name); }
  bool absent(std::size_t i) const { return (*info_)[i].IsNull() || (*info_)[i].IsUndefined(); }
  std::size_t mul(const char* what, std::size_t a, std::size_t b) const { return up::napi::mul(env_, fn_, what, a, b); }

  // A Float64Array the kernel reads: at least min_length elements; *length (when asked)
  // gets the element count, and then the kernel may read them all.
  const double* input(std::size_t i, const char* name, std::size_t min_length, std::size_t* length = nullptr) {
    std::size_t n = 0;
    const double* data = f64((*info_)[i], fn_, name, min_length, &n);
    const std::size_t used = length != nullptr ? n : min_length;
    if (length != nullptr) *length = n;
    if (!owned_ || used == 0) return data;
    double* copy = allocate(used, name);
    std::memcpy(copy, data, used * sizeof(double));
    return copy;
  }

  // A Float64Array the kernel writes: its first `count` elements, or all of them with
  // `length` (which gets the count).
  double* output(std::size_t i, const char* name, std::size_t count, Fill fill, std::size_t* length = nullptr) {
    std::size_t n = 0;
    const Napi::Value v = (*info_)[i];
    double* data = f64(v, fn_, name, count, &n);
    const std::size_t used = length != nullptr ? n : count;
    if (length != nullptr) *length = n;
    if (!owned_ || used == 0) return data;
    double* copy = allocate(used, name);
    if (fill == Fill::kCopy) std::memcpy(copy, data, used * sizeof(double));
    outputs_.push_back(Output{Napi::Persistent(v.As<Napi::Object>()), copy, used, name});
    return copy;
  }

  // Async only, on the JS thread once the kernel has finished: copies every owned output
  // back into its caller array. Checks them all first, so a detached or shrunk one leaves
  // every caller array untouched and rejects with ERR_ULTRA_PERF_DETACHED.
  std::string copy_back(Napi::Env env) {
    std::vector<double*> targets(outputs_.size(), nullptr);
    for (std::size_t k = 0; k < outputs_.size(); ++k) {
      const Output& o = outputs_[k];
      napi_typedarray_type type = napi_int8_array;
      std::size_t n = 0;
      void* data = nullptr;
      const napi_value v = o.ref.Value();
      if (v == nullptr || napi_get_typedarray_info(env, v, &type, &n, &data, nullptr, nullptr) != napi_ok ||
          type != napi_float64_array || n < o.count || data == nullptr) {
        return std::string(fn_) + ": " + o.name + " was detached or shrunk while the kernel ran (its buffer was " +
               "transferred or resized; it now holds " + std::to_string(n) + " of the " + std::to_string(o.count) +
               " elements the result needs); the result was not written";
      }
      targets[k] = static_cast<double*>(data);
    }
    for (std::size_t k = 0; k < outputs_.size(); ++k) {
      std::memcpy(targets[k], outputs_[k].data, outputs_[k].count * sizeof(double));
    }
    return {};
  }

 private:
  struct Output {
    Napi::ObjectReference ref;
    double* data;
    std::size_t count;
    const char* name;
  };

  double* allocate(std::size_t count, const char* name) {
    std::unique_ptr<double[]> p(count <= SIZE_MAX / sizeof(double) ? new (std::nothrow) double[count] : nullptr);
    if (p == nullptr) {
      throw coded_error(env_, ErrorClass::kError, kErrOutOfMemory,
                        std::string(fn_) + ": out of memory for the work's copy of " + name + " (" +
                            std::to_string(count) + " doubles)");
    }
    buffers_.push_back(std::move(p));
    return buffers_.back().get();
  }

  const Napi::CallbackInfo* info_;  // valid while the binding runs; never used after
  Napi::Env env_;
  const char* fn_;
  bool owned_;
  MemoryNote memory_;
  std::vector<std::unique_ptr<double[]>> buffers_;
  std::vector<Output> outputs_;
};

// Runs a kernel off the JS thread on memory it owns (KernelArgs); resolves with its number.
class KernelWorker final : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, KernelArgs args, Kernel kernel)
      : Napi::AsyncWorker(env, "ultra-performance:kernel"), deferred_(Napi::Promise::Deferred::New(env)),
        args_(std::move(args)), kernel_(std::move(kernel)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    failure_ = run_kernel(kernel_, args_.fn(), args_.memory(), &result_);
    if (failure_.code != nullptr) SetError(failure_.message);
  }

  void OnOK() override {
    const Napi::Env env = Env();
    const std::string detached = args_.copy_back(env);
    if (!detached.empty()) {
      deferred_.Reject(coded_error(env, ErrorClass::kError, kErrDetached, detached).Value());
      return;
    }
    deferred_.Resolve(Napi::Number::New(env, result_));
  }

  void OnError(const Napi::Error&) override { deferred_.Reject(failure_error(Env(), failure_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  KernelArgs args_;
  Kernel kernel_;
  Failure failure_;
  double result_ = 0;
};

// Each binding builds a Kernel from its arguments; Sync runs it here, Async queues it.
using Builder = Kernel (*)(KernelArgs&);

// The exported name travels as the function's data, for the error messages.
inline const char* function_name(const Napi::CallbackInfo& info) { return static_cast<const char*>(info.Data()); }

template <Builder B>
Napi::Value run_sync(const Napi::CallbackInfo& info) {
  KernelArgs args(info, function_name(info), false);
  const Kernel kernel = B(args);  // argument errors propagate with their class and code
  double result = 0;
  const Failure f = run_kernel(kernel, args.fn(), args.memory(), &result);
  if (f.code != nullptr) throw failure_error(info.Env(), f);
  return Napi::Number::New(info.Env(), result);
}

template <Builder B>
Napi::Value run_async(const Napi::CallbackInfo& info) {
  KernelArgs args(info, function_name(info), true);
  Kernel kernel = B(args);
  auto* worker = new KernelWorker(info.Env(), std::move(args), std::move(kernel));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// name and async_name must outlive the addon (string literals).
template <Builder B>
void add_kernel(Napi::Env env, Napi::Object exports, const char* name, const char* async_name) {
  exports.Set(name, Napi::Function::New<run_sync<B>>(env, name, const_cast<char*>(name)));
  exports.Set(async_name, Napi::Function::New<run_async<B>>(env, async_name, const_cast<char*>(async_name)));
}

}  // namespace up::napi
