// TypedArray arguments checked at the boundary, for raw N-API and node-addon-api bindings
// alike: the element type and the element count are checked before the binding touches
// the memory, and a mismatch throws a TypeError / RangeError naming the function and the
// argument (code ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE, as Node's own errors). A
// detached view passes with (nullptr, 0): the callers' length checks refuse it.
//
// The rule for every binding: misuse of the raw addon (a wrong type, a size out of range,
// a detached or too short array, a value in an argument slot lib/ never writes, too few
// arguments) is a thrown error with a code, named after the function and the argument; a
// domain outcome (a rejected order, a full queue, an unknown id) is a status code or a
// report, never an exception. An OS call that fails is thrown as a system error naming the
// call, the argument and the errno text (throw_os_error). Every napi_status is checked; a
// failed Node-API call with no pending exception becomes one (throw_napi_failure), so no
// binding returns undefined where lib/ expects an object.
#pragma once

#include <node_api.h>

#include <cmath>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace up::napi {

inline const char* typed_array_name(napi_typedarray_type t) noexcept {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

// "a Float64Array", "an Int32Array".
inline std::string with_article(napi_typedarray_type t) {
  const bool an = t == napi_int8_array || t == napi_int16_array || t == napi_int32_array;
  return std::string(an ? "an " : "a ") + typed_array_name(t);
}

struct TypedArg {
  void* data = nullptr;
  std::size_t length = 0;  // elements
};

// True with `out` filled when `value` is a `want` of at least min_length elements; else
// throws (a JS exception is pending) and returns false. The caller returns nullptr then.
inline bool typed_array_arg(napi_env env, napi_value value, napi_typedarray_type want, std::size_t min_length,
                            const char* fn, const char* name, TypedArg* out) {
  // One N-API call on the good path (it fails for anything that is not a TypedArray).
  napi_typedarray_type type = napi_uint8_array;
  std::size_t length = 0;
  void* data = nullptr;
  const bool is_typed =
      value != nullptr && napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) == napi_ok;
  if (is_typed && type == want && length >= min_length) {
    out->data = length == 0 ? nullptr : data;
    out->length = length;
    return true;
  }
  if (is_typed && type == want) {
    const std::string msg = std::string(fn) + ": expected " + with_article(want) + " of at least " +
                            std::to_string(min_length) + " elements for " + name + " but received one of " +
                            std::to_string(length);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
    return false;
  }
  const std::string got = is_typed ? with_article(type) : std::string("a value that is not a TypedArray");
  const std::string msg = std::string(fn) + ": expected " + with_article(want) + " for " + name + " but received " + got;
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg.c_str());
  return false;
}

// ---- Scalars and sizes (raw N-API). Same contract as typed_array_arg: true with `out`
// filled, or a pending TypeError / RangeError (codes ERR_INVALID_ARG_TYPE /
// ERR_OUT_OF_RANGE) naming the function and the argument, and false.

inline std::string describe_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0 && std::signbit(v)) return "-0";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Any JS number (NaN and the infinities included: the caller decides what they mean).
inline bool number_arg(napi_env env, napi_value value, const char* fn, const char* name, double* out) {
  napi_valuetype t = napi_undefined;
  if (value == nullptr || napi_typeof(env, value, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, value, out) != napi_ok) {
    const std::string msg = std::string(fn) + ": expected a number for " + name;
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg.c_str());
    return false;
  }
  return true;
}

// A count or size: an integer number in [min, max] (never NaN, an infinity or a fraction),
// converted without wrapping. Every size a binding reads goes through here, and every
// product of sizes through checked_mul, so no length check is passed by a wrapped value.
inline bool size_arg(napi_env env, napi_value value, const char* fn, const char* name, std::uint64_t min,
                     std::uint64_t max, std::uint64_t* out) {
  double v = 0;
  if (!number_arg(env, value, fn, name, &v)) return false;
  // 2^64 as a double; max <= 2^53 in practice, the comparison below is exact for it.
  if (!(v == std::floor(v)) || !(v >= static_cast<double>(min)) || !(v <= static_cast<double>(max)) ||
      v >= 18446744073709551616.0) {
    const std::string msg = std::string(fn) + ": expected an integer from " + std::to_string(min) + " to " +
                            std::to_string(max) + " for " + name + " but received " + describe_number(v);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
    return false;
  }
  *out = static_cast<std::uint64_t>(v);
  return true;
}

// a * b without wrapping; false when the product does not fit in size_t.
inline bool checked_mul(std::size_t a, std::size_t b, std::size_t* out) noexcept {
  return !__builtin_mul_overflow(a, b, out);
}

// size_arg narrowed to a uint32 in [min, max] (max at most UINT32_MAX).
inline bool uint32_arg(napi_env env, napi_value value, const char* fn, const char* name, std::uint32_t min,
                       std::uint32_t max, std::uint32_t* out) {
  std::uint64_t v = 0;
  if (!size_arg(env, value, fn, name, min, max, &v)) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

// The first N arguments of a raw callback into argv (nullptr where left out); returns how
// many the caller gave, 0 when napi_get_cb_info fails. For hot paths: no exception thrown.
template <std::size_t N>
std::size_t raw_args(napi_env env, napi_callback_info cb, napi_value (&argv)[N]) {
  std::size_t argc = N;
  return napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr) == napi_ok ? argc : 0;
}

// An int32 result (a status or an offset) for a raw callback.
inline napi_value int32_value(napi_env env, std::int32_t v) {
  napi_value out = nullptr;
  napi_create_int32(env, v, &out);
  return out;
}

// A size product that overflowed, as a RangeError naming what it measured.
inline void throw_too_large(napi_env env, const char* fn, const char* what) {
  const std::string msg = std::string(fn) + ": " + what + " is too large to address";
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
}

// ---- Appended for the order-book and system bindings (book-native). ----

// typed_array_arg that also refuses a detached view (which reports length 0 and would pass
// min_length 0 as a valid empty array): a TypeError with ERR_INVALID_ARG_TYPE. Only a
// zero-length view pays for the extra check.
inline bool live_typed_array_arg(napi_env env, napi_value value, napi_typedarray_type want, std::size_t min_length,
                                 const char* fn, const char* name, TypedArg* out) {
  if (!typed_array_arg(env, value, want, 0, fn, name, out)) return false;
  if (out->length != 0) return out->length >= min_length || typed_array_arg(env, value, want, min_length, fn, name, out);
  napi_value buffer = nullptr;
  bool detached = false;
  if (napi_get_typedarray_info(env, value, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
      napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached) {
    const std::string msg = std::string(fn) + ": expected " + with_article(want) + " for " + name +
                            " but received one whose buffer is detached (transferred or closed)";
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg.c_str());
    return false;
  }
  return min_length == 0 || typed_array_arg(env, value, want, min_length, fn, name, out);
}

// A boolean, or `fallback` when the argument is undefined (left out).
inline bool optional_bool_arg(napi_env env, napi_value value, const char* fn, const char* name, bool fallback,
                              bool* out) {
  napi_valuetype t = napi_undefined;
  if (value == nullptr || (napi_typeof(env, value, &t) == napi_ok && t == napi_undefined)) {
    *out = fallback;
    return true;
  }
  if (t != napi_boolean || napi_get_value_bool(env, value, out) != napi_ok) {
    const std::string msg = std::string(fn) + ": expected a boolean (or undefined) for " + name;
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg.c_str());
    return false;
  }
  return true;
}

// A Node-API call returned `status` != napi_ok: throws an Error (code ERR_ULTRA_PERF_NAPI)
// naming the function, unless that call already left an exception pending.
inline void throw_napi_failure(napi_env env, const char* fn, napi_status status) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const std::string msg = std::string(fn) + ": a Node-API call failed (napi_status " + std::to_string(status) + ")";
  napi_throw_error(env, "ERR_ULTRA_PERF_NAPI", msg.c_str());
}

// Exports `cb` as `exports[name]` (raw Node-API, for the hot bindings); a failed call throws
// (throw_napi_failure) naming the binding.
inline void set_function(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn = nullptr;
  napi_status status = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  if (status == napi_ok) status = napi_set_named_property(env, exports, name, fn);
  if (status != napi_ok) throw_napi_failure(env, name, status);
}

// errno as Node names it in a system error's code; ERR_ULTRA_PERF_SYSTEM for the rest.
inline const char* errno_code(int err) noexcept {
  switch (err) {
    case 1: return "EPERM";
    case 3: return "ESRCH";
    case 14: return "EFAULT";
    case 22: return "EINVAL";
    case 38: return "ENOSYS";
    default: return "ERR_ULTRA_PERF_SYSTEM";
  }
}

// An OS call failed with errno `err` (> 0): throws an Error whose message names the function,
// the OS call, the argument and the errno text, with code (errno_code), errno (-err, as Node's
// system errors) and syscall.
inline void throw_os_error(napi_env env, const char* fn, const char* syscall, const char* name, int err) {
  const std::string msg = std::string(fn) + ": " + syscall + " refused " + name + ": " + std::strerror(err) + " (" +
                          errno_code(err) + ")";
  napi_value code = nullptr;
  napi_value text = nullptr;
  napi_value error = nullptr;
  napi_value errno_value = nullptr;
  napi_value syscall_value = nullptr;
  if (napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg.c_str(), msg.size(), &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok || napi_create_int32(env, -err, &errno_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok || napi_throw(env, error) != napi_ok) {
    napi_throw_error(env, errno_code(err), msg.c_str());
  }
}

}  // namespace up::napi
