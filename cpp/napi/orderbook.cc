// Bindings for cpp/orderbook: unpack, call, pack. Validation happens in lib/orderbook.
//
// create functions return a plain object of per-instance functions whose napi `data` is
// the core object, plus `view`, an external ArrayBuffer over the core's top-of-book (and,
// for the engine, report) doubles that JS reads with no call. The hottest calls take no
// JS arguments: JS writes them into the view's argument slots first (udx-native style),
// which saves a napi_get_value_* per argument (~25 ns of a 3-argument call here). The core lives until the
// view and every one of those functions have been collected (a refcount the finalizers
// share), so no handle JS keeps can outlive it. The hot calls are plain napi_callbacks:
// node-addon-api's CallbackInfo costs ~10 ns a call.
#include <cmath>
#include <cstring>
#include <new>
#include <utility>

#include "../orderbook/l2_book.hpp"
#include "../orderbook/matching_engine.hpp"
#include "bindings.hpp"

namespace up::napi {
namespace {

namespace ob = up::orderbook;

template <class Core>
struct Holder {
  template <class... A>
  explicit Holder(A&&... a) : core(std::forward<A>(a)...) {}
  Core core;
  int refs = 0;
};

template <class Core>
void release(napi_env /*env*/, void* /*data*/, void* hint) {
  auto* h = static_cast<Holder<Core>*>(hint);
  if (--h->refs == 0) delete h;
}

template <std::size_t N>
void* args(napi_env env, napi_callback_info cb, napi_value (&argv)[N]) {
  std::size_t argc = N;
  void* data = nullptr;
  for (auto& a : argv) a = nullptr;
  if (napi_get_cb_info(env, cb, &argc, argv, nullptr, &data) != napi_ok || argc < N) return nullptr;
  return data;
}

double num(napi_env env, napi_value v) {
  double out = std::nan("");
  napi_get_value_double(env, v, &out);
  return out;
}

napi_value number(napi_env env, double v) {
  napi_value out = nullptr;
  napi_create_double(env, v, &out);
  return out;
}

napi_value boolean(napi_env env, bool v) {
  napi_value out = nullptr;
  napi_get_boolean(env, v, &out);
  return out;
}

napi_value undefined(napi_env env) {
  napi_value out = nullptr;
  napi_get_undefined(env, &out);
  return out;
}

// A Float64Array's data and length in doubles; (nullptr, 0) for anything else.
double* f64(napi_env env, napi_value v, std::size_t& len) {
  napi_typedarray_type type;
  void* data = nullptr;
  len = 0;
  bool is = false;
  if (v == nullptr || napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &len, &data, nullptr, nullptr) != napi_ok || type != napi_float64_array) {
    len = 0;
    return nullptr;
  }
  return static_cast<double*>(data);
}

// lib/orderbook validates before writing the argument slots; this only keeps a bad
// slot (NaN, out of range) from reaching an undefined float-to-integer cast.
// In range first, so the cast is defined; it also spares a libm floor call per slot.
bool whole(double v, double lo, double hi) {
  return v >= lo && v <= hi && v == static_cast<double>(static_cast<int64_t>(v));
}
constexpr double kMaxTicks = ob::kMaxTicksDouble;
constexpr double kMaxLots = ob::kMaxLotsDouble;
constexpr double kMaxId = 9007199254740991.0;
// The part of a lot count its nearest double (at most kMaxLots) misses: within 2^10.
constexpr double kMaxCorrection = 1024;

// Lots carried as (approx, correction) argument slots; false unless lo <= lots <= int64 max.
bool lots_of(double approx, double correction, int64_t lo, int64_t& out) {
  if (!whole(approx, 0, kMaxLots) || !(correction == 0 || whole(correction, -kMaxCorrection, kMaxCorrection))) return false;
  const __int128 l = static_cast<__int128>(static_cast<int64_t>(approx)) + static_cast<int64_t>(correction);
  if (l < lo || l > ob::kMaxLots) return false;
  out = static_cast<int64_t>(l);
  return true;
}

napi_value bad_argument(napi_env env) {
  napi_throw_range_error(env, "ERR_ULTRA_PERF_BAD_ARGUMENT", "an order book call got an argument lib/orderbook never writes");
  return nullptr;
}

napi_value oom(napi_env env) {
  napi_throw_error(env, "ERR_ULTRA_PERF_OUT_OF_MEMORY", "the order book could not allocate memory");
  return nullptr;
}

template <class Core>
bool add_function(napi_env env, napi_value obj, const char* name, napi_callback cb, Holder<Core>* h) {
  napi_value fn = nullptr;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, h, &fn) != napi_ok) return false;
  if (napi_add_finalizer(env, fn, nullptr, release<Core>, h, nullptr) != napi_ok) return false;
  ++h->refs;
  return napi_set_named_property(env, obj, name, fn) == napi_ok;
}

template <class Core>
bool add_view(napi_env env, napi_value obj, double* data, std::size_t doubles, Holder<Core>* h) {
  napi_value ab = nullptr;
  if (napi_create_external_arraybuffer(env, data, doubles * sizeof(double), release<Core>, h, &ab) != napi_ok) {
    return false;
  }
  ++h->refs;
  return napi_set_named_property(env, obj, "view", ab) == napi_ok;
}

// ---- L2 ----
using L2 = Holder<ob::L2Book>;

void* data_of(napi_env env, napi_callback_info cb) {
  std::size_t argc = 0;
  void* data = nullptr;
  if (napi_get_cb_info(env, cb, &argc, nullptr, nullptr, &data) != napi_ok) return nullptr;
  return data;
}

// () with (ticks, size) in the view's argument slots
template <ob::Side kSide>
napi_value l2_set(napi_env env, napi_callback_info cb) {
  auto* h = static_cast<L2*>(data_of(env, cb));
  if (h == nullptr) return nullptr;
  const double* a = h->core.top();
  if (!whole(a[ob::kArgTicks], -kMaxTicks, kMaxTicks) || !(a[ob::kArgSize] >= 0)) return bad_argument(env);
  try {
    h->core.set(kSide, static_cast<int64_t>(a[ob::kArgTicks]), a[ob::kArgSize]);
  } catch (const std::bad_alloc&) {
    return oom(env);
  }
  return nullptr;
}

// (deltas, count) -> count | -(index + 1)
napi_value l2_apply(napi_env env, napi_callback_info cb) {
  napi_value argv[2];
  auto* h = static_cast<L2*>(args(env, cb, argv));
  std::size_t len = 0;
  const double* d = h == nullptr ? nullptr : f64(env, argv[0], len);
  const double n = num(env, argv[1]);
  if (d == nullptr || !(n >= 0) || n * 3 > static_cast<double>(len)) return number(env, 0);
  try {
    return number(env, static_cast<double>(h->core.apply_deltas(d, static_cast<std::size_t>(n))));
  } catch (const std::bad_alloc&) {
    return oom(env);
  }
}

napi_value l2_clear(napi_env env, napi_callback_info cb) {
  napi_value argv[1];
  std::size_t argc = 0;
  void* data = nullptr;
  napi_get_cb_info(env, cb, &argc, argv, nullptr, &data);
  if (data != nullptr) static_cast<L2*>(data)->core.clear();
  return undefined(env);
}

// (side, n, out, units) -> levels written: (price, size) pairs, or (ticks, size|lots, correction) triples
template <class H>
napi_value levels(napi_env env, napi_callback_info cb) {
  napi_value argv[4];
  auto* h = static_cast<H*>(args(env, cb, argv));
  std::size_t len = 0;
  double* out = h == nullptr ? nullptr : f64(env, argv[2], len);
  const double n = num(env, argv[1]);
  if (out == nullptr || !(n >= 0)) return number(env, 0);
  const bool units = num(env, argv[3]) == 1;
  const double cap = static_cast<double>(len / (units ? 3 : 2));
  const auto m = static_cast<std::size_t>(n < cap ? n : cap);
  return number(env, static_cast<double>(h->core.levels(num(env, argv[0]) == 0 ? ob::Side::bid : ob::Side::ask, m, out, units)));
}

// (tickNum, tickDen, lotNum, lotDen) -> { view, set, applyDeltas, clear, levels }
napi_value l2_create(napi_env env, napi_callback_info cb) {
  napi_value argv[4];
  std::size_t argc = 4;
  napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr);
  if (argc < 4) return undefined(env);
  L2* h = nullptr;
  try {
    h = new L2(ob::Grid(num(env, argv[0]), num(env, argv[1])), ob::Grid(num(env, argv[2]), num(env, argv[3])));
  } catch (const std::bad_alloc&) {
    return oom(env);
  }
  napi_value obj = nullptr;
  h->refs = 1;  // held by this call until everything is attached
  const bool ok = napi_create_object(env, &obj) == napi_ok && add_view(env, obj, h->core.top(), ob::kL2ViewDoubles, h) &&
                  add_function(env, obj, "setBid", l2_set<ob::Side::bid>, h) &&
                  add_function(env, obj, "setAsk", l2_set<ob::Side::ask>, h) && add_function(env, obj, "applyDeltas", l2_apply, h) &&
                  add_function(env, obj, "clear", l2_clear, h) && add_function(env, obj, "levels", levels<L2>, h);
  release<ob::L2Book>(env, nullptr, h);
  return ok ? obj : undefined(env);
}

// ---- matching engine ----
using Me = Holder<ob::MatchingEngine>;

// () with (side, market, ticks, lots, tif, postOnly, owner, clientId, lots correction) in the argument slots
napi_value me_submit(napi_env env, napi_callback_info cb) {
  auto* h = static_cast<Me*>(data_of(env, cb));
  if (h == nullptr) return nullptr;
  const double* a = h->core.view() + ob::kViewArgs;
  int64_t lots = 0;
  if (!whole(a[0], 0, 1) || !whole(a[1], 0, 1) || !whole(a[2], -kMaxTicks, kMaxTicks) || !lots_of(a[3], a[8], 1, lots) ||
      !whole(a[4], 0, 2) || !whole(a[5], 0, 1) || !whole(a[6], 0, 4294967295.0)) {
    return bad_argument(env);
  }
  try {
    h->core.submit(a[0] == 0 ? ob::Side::bid : ob::Side::ask, a[1] != 0, static_cast<int64_t>(a[2]), lots,
                   static_cast<ob::TimeInForce>(static_cast<int>(a[4])), a[5] != 0, static_cast<uint32_t>(a[6]), a[7]);
  } catch (const std::bad_alloc&) {
    return oom(env);
  }
  return nullptr;
}

// () with (orderId) in the argument slots -> boolean: cancel and query differ only in the call.
template <bool (ob::MatchingEngine::*Fn)(uint64_t) noexcept>
napi_value me_by_id(napi_env env, napi_callback_info cb) {
  auto* h = static_cast<Me*>(data_of(env, cb));
  if (h == nullptr) return boolean(env, false);
  const double id = h->core.view()[ob::kViewArgs];
  if (!whole(id, 0, kMaxId)) return bad_argument(env);
  return boolean(env, (h->core.*Fn)(static_cast<uint64_t>(id)));
}

// () with (orderId, ticks | NaN, lots | NaN, lots correction) in the argument slots
napi_value me_modify(napi_env env, napi_callback_info cb) {
  auto* h = static_cast<Me*>(data_of(env, cb));
  if (h == nullptr) return nullptr;
  const double* a = h->core.view() + ob::kViewArgs;
  const double t = a[1];
  const double l = a[2];
  int64_t lots = 0;
  if (!whole(a[0], 0, kMaxId) || !(std::isnan(t) || whole(t, -kMaxTicks, kMaxTicks)) ||
      !(std::isnan(l) || lots_of(l, a[3], 0, lots))) {
    return bad_argument(env);
  }
  try {
    h->core.modify_and_publish(static_cast<uint64_t>(a[0]), !std::isnan(t), std::isnan(t) ? 0 : static_cast<int64_t>(t),
                               !std::isnan(l), lots);
  } catch (const std::bad_alloc&) {
    return oom(env);
  }
  return nullptr;
}

// (out) -> fills of the last submit/modify written as (makerId, price, quantity)
napi_value me_copy_fills(napi_env env, napi_callback_info cb) {
  napi_value argv[1];
  auto* h = static_cast<Me*>(args(env, cb, argv));
  std::size_t len = 0;
  double* out = h == nullptr ? nullptr : f64(env, argv[0], len);
  if (out == nullptr) return number(env, 0);
  return number(env, static_cast<double>(h->core.copy_fills(out, len / 3)));
}

// (commands, count, fillsOut | null) -> count | -(index + 1)
napi_value me_batch(napi_env env, napi_callback_info cb) {
  napi_value argv[3];
  auto* h = static_cast<Me*>(args(env, cb, argv));
  std::size_t len = 0;
  const double* c = h == nullptr ? nullptr : f64(env, argv[0], len);
  const double n = num(env, argv[1]);
  if (c == nullptr || !(n >= 0) || n * ob::kCommandStride > static_cast<double>(len)) return number(env, 0);
  std::size_t fills_len = 0;
  double* fills = f64(env, argv[2], fills_len);
  try {
    return number(env, static_cast<double>(h->core.batch(c, static_cast<std::size_t>(n), fills,
                                                         fills_len / ob::kFillStride)));
  } catch (const std::bad_alloc&) {
    return oom(env);
  }
}

// (tickNum, tickDen, lotNum, lotDen, stp) -> { view, submit, cancel, modify, query, levels, copyFills, batch }
napi_value me_create(napi_env env, napi_callback_info cb) {
  napi_value argv[5];
  std::size_t argc = 5;
  napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr);
  if (argc < 5) return undefined(env);
  Me* h = nullptr;
  try {
    h = new Me(ob::Grid(num(env, argv[0]), num(env, argv[1])), ob::Grid(num(env, argv[2]), num(env, argv[3])),
               static_cast<ob::SelfTrade>(static_cast<int>(num(env, argv[4]))));
  } catch (const std::bad_alloc&) {
    return oom(env);
  }
  napi_value obj = nullptr;
  h->refs = 1;
  const bool ok = napi_create_object(env, &obj) == napi_ok &&
                  add_view(env, obj, h->core.view(), ob::kViewDoubles, h) &&
                  add_function(env, obj, "submit", me_submit, h) && add_function(env, obj, "cancel", me_by_id<&ob::MatchingEngine::cancel>, h) &&
                  add_function(env, obj, "modify", me_modify, h) && add_function(env, obj, "query", me_by_id<&ob::MatchingEngine::query>, h) &&
                  add_function(env, obj, "levels", levels<Me>, h) &&
                  add_function(env, obj, "copyFills", me_copy_fills, h) && add_function(env, obj, "batch", me_batch, h);
  release<ob::MatchingEngine>(env, nullptr, h);
  return ok ? obj : undefined(env);
}

}  // namespace

void init_orderbook(Napi::Env env, Napi::Object exports) {
  napi_value fn = nullptr;
  napi_create_function(env, "orderbookEngineCreate", NAPI_AUTO_LENGTH, me_create, nullptr, &fn);
  exports.Set("orderbookEngineCreate", Napi::Value(env, fn));
  napi_create_function(env, "orderbookL2Create", NAPI_AUTO_LENGTH, l2_create, nullptr, &fn);
  exports.Set("orderbookL2Create", Napi::Value(env, fn));
  // Every view offset and code lib/orderbook/layout.ts mirrors, under its orderbookLayout
  // names; lib/internal/layout-check.ts refuses an addon whose table differs.
  using St = ob::OrderStatus;
  using Rj = ob::RejectReason;
  const std::pair<const char*, double> table[] = {
      {"top.bidPrice", ob::kBidPrice}, {"top.bidSize", ob::kBidSize}, {"top.askPrice", ob::kAskPrice},
      {"top.askSize", ob::kAskSize}, {"top.bidTicks", ob::kBidTicks}, {"top.askTicks", ob::kAskTicks},
      {"top.bidLevels", ob::kBidLevels}, {"top.askLevels", ob::kAskLevels}, {"top.fields", ob::kTopFields},
      {"top.argTicks", ob::kArgTicks}, {"top.argSize", ob::kArgSize}, {"top.doubles", ob::kL2ViewDoubles},
      {"view.reportOrderId", ob::kReportOrderId}, {"view.reportStatus", ob::kReportStatus},
      {"view.reportFilledQuantity", ob::kReportFilledQuantity}, {"view.reportRemainingQuantity", ob::kReportRemainingQuantity},
      {"view.reportReject", ob::kReportReject}, {"view.reportFillCount", ob::kReportFillCount},
      {"view.batchFills", ob::kBatchFills}, {"view.batchFirstOrderId", ob::kBatchFirstOrderId},
      {"view.queryOrderId", ob::kQueryOrderId}, {"view.querySide", ob::kQuerySide}, {"view.queryPrice", ob::kQueryPrice},
      {"view.queryQuantity", ob::kQueryQuantity}, {"view.queryFilledQuantity", ob::kQueryFilledQuantity},
      {"view.queryOwner", ob::kQueryOwner}, {"view.queryClientId", ob::kQueryClientId},
      {"view.queryPostOnly", ob::kQueryPostOnly}, {"view.reportAveragePrice", ob::kReportAveragePrice},
      {"view.fills", ob::kViewFills}, {"view.fillCapacity", ob::kViewFillCapacity},
      {"view.fillStride", ob::kViewFillStride}, {"view.args", ob::kViewArgs}, {"view.doubles", ob::kViewDoubles},
      {"status.new", static_cast<double>(St::accepted)}, {"status.partiallyFilled", static_cast<double>(St::partially_filled)},
      {"status.filled", static_cast<double>(St::filled)}, {"status.cancelled", static_cast<double>(St::cancelled)},
      {"status.rejected", static_cast<double>(St::rejected)}, {"reject.none", static_cast<double>(Rj::none)},
      {"reject.postOnlyWouldTake", static_cast<double>(Rj::post_only_would_take)},
      {"reject.unknownOrder", static_cast<double>(Rj::unknown_order)},
      {"reject.outOfMemory", static_cast<double>(Rj::out_of_memory)},
      {"reject.quantityOverflow", static_cast<double>(Rj::quantity_overflow)},
      {"commandStride", static_cast<double>(ob::kCommandStride)}, {"fillStride", static_cast<double>(ob::kFillStride)},
  };
  Napi::Object layout = Napi::Object::New(env);
  for (const auto& [key, value] : table) layout.Set(key, value);
  exports.Set("orderbookLayout", layout);
}

}  // namespace up::napi
