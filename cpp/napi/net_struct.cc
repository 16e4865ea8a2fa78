// Bindings for cpp/net/struct_codec: Quote frames to and from struct-of-arrays columns.
// Every argument is checked here (typed_args.hpp): a raw caller with a short column, an
// offset past the buffer or a detached view gets a thrown error with a code, never a write
// out of bounds. Bad values and bad frames are results, not exceptions: lib/net turns them
// into errors naming the row or the byte.
#include <cstdint>
#include <string>

#include "../net/struct_codec.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

namespace up::napi {
namespace {

constexpr std::uint64_t kMaxBytes = 9007199254740991ULL;  // 2^53 - 1: what a JS number holds exactly

// The seven columns from argv[first ..], each with at least `rows` elements.
bool quote_columns(napi_env env, napi_value* argv, std::size_t rows, const char* fn, up::net::QuoteColumns* out) {
  TypedArg a[7];
  static const char* const names[7] = {"timestamp (argument 5)", "instrumentId (argument 6)", "sequence (argument 7)",
                                       "bidPrice (argument 8)", "askPrice (argument 9)", "bidSize (argument 10)",
                                       "askSize (argument 11)"};
  static const napi_typedarray_type types[7] = {napi_float64_array, napi_uint32_array, napi_uint32_array,
                                                napi_float64_array, napi_float64_array, napi_uint32_array,
                                                napi_uint32_array};
  for (int i = 0; i < 7; ++i) {
    if (!live_typed_array_arg(env, argv[i], types[i], rows, fn, names[i], &a[i])) return false;
  }
  *out = {static_cast<double*>(a[0].data),        static_cast<std::uint32_t*>(a[1].data),
          static_cast<std::uint32_t*>(a[2].data), static_cast<double*>(a[3].data),
          static_cast<double*>(a[4].data),        static_cast<std::uint32_t*>(a[5].data),
          static_cast<std::uint32_t*>(a[6].data)};
  return true;
}

napi_value number_value(napi_env env, double v) {
  napi_value out = nullptr;
  napi_create_double(env, v, &out);
  return out;
}

// (out: Uint8Array, offset, count, ...7 columns) -> bytes written, or -1 - row of the first bad value.
napi_value encode_batch(napi_env env, napi_callback_info info) {
  constexpr const char* fn = "structQuoteEncodeBatch";
  napi_value argv[10] = {};
  raw_args(env, info, argv);
  TypedArg out;
  std::uint64_t offset = 0, count = 0;
  if (!live_typed_array_arg(env, argv[0], napi_uint8_array, 0, fn, "out (argument 1)", &out) ||
      !size_arg(env, argv[1], fn, "offset (argument 2)", 0, out.length, &offset) ||
      !size_arg(env, argv[2], fn, "count (argument 3)", 0, kMaxBytes, &count)) {
    return nullptr;
  }
  std::size_t bytes = 0;
  if (!checked_mul(static_cast<std::size_t>(count), up::net::Quote::kEncodedLength, &bytes)) {
    throw_too_large(env, fn, "count * 48");
    return nullptr;
  }
  if (bytes > out.length - offset) {
    const std::string msg = std::string(fn) + ": expected room for " + std::to_string(bytes) +
                            " bytes at offset (argument 2) in out (argument 1) but received " +
                            std::to_string(out.length - offset);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
    return nullptr;
  }
  up::net::QuoteColumns cols{};
  if (!quote_columns(env, argv + 3, count, fn, &cols)) return nullptr;
  const std::int64_t r = up::net::encode_quote_batch(static_cast<std::uint8_t*>(out.data) + offset, count, cols);
  return number_value(env, static_cast<double>(r));
}

// (bytes: Uint8Array, offset, length, max, ...7 columns, result: Float64Array(3)) -> frames
// decoded; result = [bytes consumed, FrameStatus, offending byte from bytes[0]].
napi_value decode_batch(napi_env env, napi_callback_info info) {
  constexpr const char* fn = "structQuoteDecodeBatch";
  napi_value argv[12] = {};
  raw_args(env, info, argv);
  TypedArg bytes, result;
  std::uint64_t offset = 0, length = 0, max = 0;
  if (!live_typed_array_arg(env, argv[0], napi_uint8_array, 0, fn, "bytes (argument 1)", &bytes) ||
      !size_arg(env, argv[1], fn, "offset (argument 2)", 0, bytes.length, &offset) ||
      !size_arg(env, argv[2], fn, "length (argument 3)", 0, bytes.length - offset, &length) ||
      !size_arg(env, argv[3], fn, "max (argument 4)", 0, kMaxBytes, &max)) {
    return nullptr;
  }
  // The columns are arguments 5 to 11, each checked for `max` rows.
  napi_value columns[7] = {argv[4], argv[5], argv[6], argv[7], argv[8], argv[9], argv[10]};
  up::net::QuoteColumns cols{};
  if (!quote_columns(env, columns, max, fn, &cols) ||
      !live_typed_array_arg(env, argv[11], napi_float64_array, 3, fn, "result (argument 12)", &result)) {
    return nullptr;
  }
  const auto* in = static_cast<const std::uint8_t*>(bytes.data);
  const up::net::QuoteBatchResult r =
      up::net::decode_quote_batch(in == nullptr ? nullptr : in + offset, length, max, cols);
  auto* res = static_cast<double*>(result.data);
  res[0] = static_cast<double>(r.consumed);
  res[1] = static_cast<double>(static_cast<std::int32_t>(r.status));
  res[2] = static_cast<double>(offset + r.error_at);
  return number_value(env, static_cast<double>(r.count));
}

}  // namespace

void init_net_struct(Napi::Env env, Napi::Object exports) {
  set_function(env, exports, "structQuoteEncodeBatch", encode_batch);
  set_function(env, exports, "structQuoteDecodeBatch", decode_batch);
}

}  // namespace up::napi
