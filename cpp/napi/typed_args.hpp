// TypedArray arguments checked at the boundary, for raw N-API and node-addon-api bindings
// alike: the element type and the element count are checked before the binding touches
// the memory, and a mismatch throws a TypeError / RangeError naming the function and the
// argument (code ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE, as Node's own errors). A
// detached view passes with (nullptr, 0): the callers' length checks refuse it.
#pragma once

#include <node_api.h>

#include <cstddef>
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

}  // namespace up::napi
