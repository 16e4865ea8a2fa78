// Bindings for cpp/net/itch_batch: unpack, call, pack. lib/net/itch.ts validates first and
// turns a status into the SourceFormatError the TS decoder throws; this binding still checks
// every argument itself (typed_args.hpp), so the raw addon refuses a wrong type, a short or
// detached column and a start past the end with an error, never an out-of-bounds access.
#include <cstdint>

#include "../net/itch_batch.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

namespace up::napi {
namespace {

constexpr const char* kFn = "itchDecodeBatch";
// createItchColumns' upper bound.
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 28;

struct ColumnArg {
  const char* name;
  napi_typedarray_type type;
};

// Argument 4 onwards, in ItchColumns order.
constexpr ColumnArg kColumns[] = {
    {"type (argument 4)", napi_uint8_array},           {"stockLocate (argument 5)", napi_uint16_array},
    {"trackingNumber (argument 6)", napi_uint16_array}, {"timestamp (argument 7)", napi_float64_array},
    {"orderRef (argument 8)", napi_float64_array},      {"newOrderRef (argument 9)", napi_float64_array},
    {"side (argument 10)", napi_int8_array},            {"shares (argument 11)", napi_float64_array},
    {"price (argument 12)", napi_float64_array},        {"matchNumber (argument 13)", napi_float64_array},
    {"offset (argument 14)", napi_float64_array},
};
constexpr std::size_t kColumnCount = sizeof kColumns / sizeof kColumns[0];

// (bytes: Uint8Array, start, capacity, ...11 columns, result: Float64Array(4)) -> status
// result: [count, end, errorAt, field]; status: ItchStatus (0 ok).
napi_value decode_batch(napi_env env, napi_callback_info info) {
  napi_value argv[3 + kColumnCount + 1] = {};
  raw_args(env, info, argv);
  TypedArg bytes;
  if (!live_typed_array_arg(env, argv[0], napi_uint8_array, 0, kFn, "bytes (argument 1)", &bytes)) return nullptr;
  std::uint64_t start = 0;
  std::uint64_t capacity = 0;
  if (!size_arg(env, argv[1], kFn, "start (argument 2)", 0, bytes.length, &start) ||
      !size_arg(env, argv[2], kFn, "capacity (argument 3)", 0, kMaxCapacity, &capacity)) {
    return nullptr;
  }
  TypedArg cols[kColumnCount];
  for (std::size_t k = 0; k < kColumnCount; ++k) {
    if (!live_typed_array_arg(env, argv[3 + k], kColumns[k].type, capacity, kFn, kColumns[k].name, &cols[k])) return nullptr;
  }
  TypedArg result;
  if (!live_typed_array_arg(env, argv[3 + kColumnCount], napi_float64_array, 4, kFn, "result (argument 15)", &result)) {
    return nullptr;
  }
  const net::ItchColumns out{
      static_cast<std::uint8_t*>(cols[0].data), static_cast<std::uint16_t*>(cols[1].data),
      static_cast<std::uint16_t*>(cols[2].data), static_cast<double*>(cols[3].data),
      static_cast<double*>(cols[4].data),       static_cast<double*>(cols[5].data),
      static_cast<std::int8_t*>(cols[6].data),  static_cast<double*>(cols[7].data),
      static_cast<double*>(cols[8].data),       static_cast<double*>(cols[9].data),
      static_cast<double*>(cols[10].data),
  };
  const auto r = net::decode_itch_batch(static_cast<const std::uint8_t*>(bytes.data), bytes.length, start, capacity, out);
  auto* res = static_cast<double*>(result.data);
  res[0] = static_cast<double>(r.count);
  res[1] = static_cast<double>(r.end);
  res[2] = static_cast<double>(r.error_at);
  res[3] = static_cast<double>(static_cast<std::int32_t>(r.field));
  return int32_value(env, static_cast<std::int32_t>(r.status));
}

}  // namespace

void init_itch(Napi::Env env, Napi::Object exports) {
  set_function(env, exports, kFn, decode_batch);
}

}  // namespace up::napi
