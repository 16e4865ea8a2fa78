// Bindings for cpp/orderbook: unpack, call, pack. Validation of user input happens in
// lib/orderbook; these check every raw argument with typed_args.hpp (the raw, non-throwing
// set: a pending error and nullptr), so a caller who skips lib/ gets an error with a code,
// never a silent 0 or undefined (the rule is at the top of typed_args.hpp).
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
#include <initializer_list>
#include <new>
#include <string>
#include <utility>

#include "../orderbook/l2_book.hpp"
#include "../orderbook/matching_engine.hpp"
#include "../orderbook/mbo_book.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

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

// argv (argc of them) gets the arguments, undefined where left out, and *data the function's
// data; false with a pending error when napi_get_cb_info fails.
bool call_args(napi_env env, napi_callback_info cb, const char* fn, std::size_t argc, napi_value* argv, void** data) {
  const napi_status st = napi_get_cb_info(env, cb, &argc, argv, nullptr, data);
  if (st == napi_ok) return true;
  throw_napi_failure(env, fn, st);
  return false;
}

// The instance a per-instance function was created with, or nullptr with a pending error.
void* instance(napi_env env, napi_callback_info cb, const char* fn, std::size_t argc = 0, napi_value* argv = nullptr) {
  void* data = nullptr;
  if (!call_args(env, cb, fn, argc, argv, &data)) return nullptr;
  if (data == nullptr) napi_throw_error(env, "ERR_ULTRA_PERF_NAPI", "order book: a per-instance function lost its instance");
  return data;
}

napi_value number(napi_env env, const char* fn, double v) {
  napi_value out = nullptr;
  const napi_status st = napi_create_double(env, v, &out);
  if (st != napi_ok) throw_napi_failure(env, fn, st);
  return out;
}

napi_value boolean(napi_env env, const char* fn, bool v) {
  napi_value out = nullptr;
  const napi_status st = napi_get_boolean(env, v, &out);
  if (st != napi_ok) throw_napi_failure(env, fn, st);
  return out;
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

// An argument slot holding what lib/orderbook never writes there (the raw addon misused):
// a RangeError naming the function and the slots. Off the hot path.
napi_value bad_slots(napi_env env, const char* fn, const char* slots) {
  const std::string msg = std::string(fn) + ": the view's argument slots (" + slots +
                          ") hold a value lib/orderbook never writes (out of range, NaN or a fraction)";
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
  return nullptr;
}

napi_value oom(napi_env env, const char* fn) {
  const std::string msg = std::string(fn) + ": the order book could not allocate memory";
  napi_throw_error(env, "ERR_ULTRA_PERF_OUT_OF_MEMORY", msg.c_str());
  return nullptr;
}

// A tick or lot step (num, den) as the creators take it: finite, num > 0, den > 0 (or
// den == 0 when `den_zero_ok`: the L2 book's "no lot grid").
bool step_args(napi_env env, napi_value const* argv, const char* fn, const char* num_name, const char* den_name,
               bool den_zero_ok, double* num, double* den) {
  if (!number_arg(env, argv[0], fn, num_name, num) || !number_arg(env, argv[1], fn, den_name, den)) return false;
  const char* bad = !(std::isfinite(*num) && *num > 0) ? num_name
                    : !(std::isfinite(*den) && (*den > 0 || (den_zero_ok && *den == 0))) ? den_name
                                                                                         : nullptr;
  if (bad == nullptr) return true;
  const std::string msg = std::string(fn) + ": expected a finite number > 0" +
                          (bad == den_name && den_zero_ok ? " (or 0: no lot grid)" : "") + " for " + bad +
                          " but received " + describe_number(bad == num_name ? *num : *den);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
  return false;
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

// () with (ticks, size) in the view's argument slots
template <ob::Side kSide>
napi_value l2_set(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = kSide == ob::Side::bid ? "setBid" : "setAsk";
  auto* h = static_cast<L2*>(instance(env, cb, fn));
  if (h == nullptr) return nullptr;
  const double* a = h->core.top();
  // min_ticks() is -kMaxTicks or 0 (no negative prices): the same one comparison as before.
  if (!whole(a[ob::kArgTicks], static_cast<double>(h->core.min_ticks()), kMaxTicks) || !(a[ob::kArgSize] >= 0)) {
    return bad_slots(env, fn, "ticks, size");
  }
  try {
    h->core.set(kSide, static_cast<int64_t>(a[ob::kArgTicks]), a[ob::kArgSize]);
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
  return nullptr;
}

// (deltas, count) -> count | -(index + 1)
napi_value l2_apply(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "applyDeltas";
  napi_value argv[2];
  auto* h = static_cast<L2*>(instance(env, cb, fn, 2, argv));
  TypedArg d;
  std::uint64_t n = 0;
  if (h == nullptr || !live_typed_array_arg(env, argv[0], napi_float64_array, 0, fn, "deltas (argument 1)", &d) ||
      !size_arg(env, argv[1], fn, "count (argument 2)", 0, d.length / 3, &n)) {
    return nullptr;
  }
  try {
    return number(env, fn, static_cast<double>(h->core.apply_deltas(static_cast<const double*>(d.data), n)));
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
}

napi_value l2_clear(napi_env env, napi_callback_info cb) {
  auto* h = static_cast<L2*>(instance(env, cb, "clear"));
  if (h != nullptr) h->core.clear();
  return nullptr;
}

// (side, n, out, units) -> levels written: (price, size) pairs, or (ticks, size|lots, correction)
// triples; an out shorter than n levels gets the first that fit.
template <class H>
napi_value levels(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "levels";
  napi_value argv[4];
  auto* h = static_cast<H*>(instance(env, cb, fn, 4, argv));
  std::uint64_t side = 0;
  std::uint64_t n = 0;
  std::uint64_t units = 0;
  TypedArg out;
  if (h == nullptr || !size_arg(env, argv[0], fn, "side (argument 1)", 0, 1, &side) ||
      !size_arg(env, argv[1], fn, "n (argument 2)", 0, static_cast<std::uint64_t>(kMaxId), &n) ||
      !live_typed_array_arg(env, argv[2], napi_float64_array, 0, fn, "out (argument 3)", &out) ||
      !size_arg(env, argv[3], fn, "units (argument 4)", 0, 1, &units)) {
    return nullptr;
  }
  const std::size_t cap = out.length / (units == 1 ? 3 : 2);
  const std::size_t m = n < cap ? static_cast<std::size_t>(n) : cap;
  return number(env, fn,
                static_cast<double>(h->core.levels(side == 0 ? ob::Side::bid : ob::Side::ask, m,
                                                   static_cast<double*>(out.data), units == 1)));
}

// Builds { view, ...functions } around a new core; throws (and frees the core) on any failure.
template <class Core>
napi_value wrap(napi_env env, const char* fn, Holder<Core>* h, double* view, std::size_t doubles,
                std::initializer_list<std::pair<const char*, napi_callback>> functions) {
  napi_value obj = nullptr;
  h->refs = 1;  // held by this call until everything is attached
  napi_status st = napi_create_object(env, &obj);
  bool ok = st == napi_ok && add_view(env, obj, view, doubles, h);
  for (const auto& f : functions) ok = ok && add_function(env, obj, f.first, f.second, h);
  release<Core>(env, nullptr, h);
  if (ok) return obj;
  throw_napi_failure(env, fn, st == napi_ok ? napi_generic_failure : st);
  return nullptr;
}

// (tickNum, tickDen, lotNum, lotDen, allowNegativePrices = true) -> { view, setBid, setAsk, applyDeltas, clear, levels }
napi_value l2_create(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "orderbookL2Create";
  napi_value argv[5];
  if (!call_args(env, cb, fn, 5, argv, nullptr)) return nullptr;
  double tn = 0, td = 0, ln = 0, ld = 0;
  bool negative = true;
  if (!step_args(env, argv, fn, "tickNum (argument 1)", "tickDen (argument 2)", false, &tn, &td) ||
      !step_args(env, argv + 2, fn, "lotNum (argument 3)", "lotDen (argument 4)", true, &ln, &ld) ||
      !optional_bool_arg(env, argv[4], fn, "allowNegativePrices (argument 5)", true, &negative)) {
    return nullptr;
  }
  L2* h = nullptr;
  try {
    h = new L2(ob::Grid(tn, td, negative), ob::Grid(ln, ld));
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
  return wrap(env, fn, h, h->core.top(), ob::kL2ViewDoubles,
              {{"setBid", l2_set<ob::Side::bid>},
               {"setAsk", l2_set<ob::Side::ask>},
               {"applyDeltas", l2_apply},
               {"clear", l2_clear},
               {"levels", levels<L2>}});
}

// ---- matching engine ----
using Me = Holder<ob::MatchingEngine>;

// () with (side, market, ticks, lots, tif, postOnly, owner, clientId, lots correction) in the argument slots
napi_value me_submit(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "submit";
  auto* h = static_cast<Me*>(instance(env, cb, fn));
  if (h == nullptr) return nullptr;
  const double* a = h->core.view() + ob::kViewArgs;
  int64_t lots = 0;
  if (!whole(a[0], 0, 1) || !whole(a[1], 0, 1) || !whole(a[2], static_cast<double>(h->core.min_ticks()), kMaxTicks) ||
      !lots_of(a[3], a[8], 1, lots) || !whole(a[4], 0, 2) || !whole(a[5], 0, 1) || !whole(a[6], 0, 4294967295.0)) {
    return bad_slots(env, fn, "side, market, ticks, lots, tif, postOnly, owner, lots correction");
  }
  try {
    h->core.submit(a[0] == 0 ? ob::Side::bid : ob::Side::ask, a[1] != 0, static_cast<int64_t>(a[2]), lots,
                   static_cast<ob::TimeInForce>(static_cast<int>(a[4])), a[5] != 0, static_cast<uint32_t>(a[6]), a[7]);
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
  return nullptr;
}

// () with (orderId) in the argument slots -> boolean: cancel and query differ only in the call.
template <bool (ob::MatchingEngine::*Fn)(uint64_t) noexcept>
napi_value me_by_id(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = Fn == &ob::MatchingEngine::cancel ? "cancel" : "query";
  auto* h = static_cast<Me*>(instance(env, cb, fn));
  if (h == nullptr) return nullptr;
  const double id = h->core.view()[ob::kViewArgs];
  if (!whole(id, 0, kMaxId)) return bad_slots(env, fn, "orderId");
  return boolean(env, fn, (h->core.*Fn)(static_cast<uint64_t>(id)));
}

// () with (orderId, ticks | NaN, lots | NaN, lots correction) in the argument slots
napi_value me_modify(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "modify";
  auto* h = static_cast<Me*>(instance(env, cb, fn));
  if (h == nullptr) return nullptr;
  const double* a = h->core.view() + ob::kViewArgs;
  const double t = a[1];
  const double l = a[2];
  int64_t lots = 0;
  if (!whole(a[0], 0, kMaxId) || !(std::isnan(t) || whole(t, static_cast<double>(h->core.min_ticks()), kMaxTicks)) ||
      !(std::isnan(l) || lots_of(l, a[3], 0, lots))) {
    return bad_slots(env, fn, "orderId, ticks, lots, lots correction");
  }
  try {
    h->core.modify_and_publish(static_cast<uint64_t>(a[0]), !std::isnan(t), std::isnan(t) ? 0 : static_cast<int64_t>(t),
                               !std::isnan(l), lots);
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
  return nullptr;
}

// (out) -> fills of the last submit/modify written as (makerId, price, quantity)
napi_value me_copy_fills(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "copyFills";
  napi_value argv[1];
  auto* h = static_cast<Me*>(instance(env, cb, fn, 1, argv));
  TypedArg out;
  if (h == nullptr || !live_typed_array_arg(env, argv[0], napi_float64_array, 0, fn, "out (argument 1)", &out)) {
    return nullptr;
  }
  return number(env, fn, static_cast<double>(h->core.copy_fills(static_cast<double*>(out.data), out.length / 3)));
}

// (commands, count, fillsOut | null) -> count | -(index + 1)
napi_value me_batch(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "batch";
  napi_value argv[3];
  auto* h = static_cast<Me*>(instance(env, cb, fn, 3, argv));
  TypedArg c;
  std::uint64_t n = 0;
  if (h == nullptr || !live_typed_array_arg(env, argv[0], napi_float64_array, 0, fn, "commands (argument 1)", &c) ||
      !size_arg(env, argv[1], fn, "count (argument 2)", 0, c.length / ob::kCommandStride, &n)) {
    return nullptr;
  }
  TypedArg fills;
  napi_valuetype t = napi_undefined;
  const napi_status st = napi_typeof(env, argv[2], &t);
  if (st != napi_ok) {
    throw_napi_failure(env, fn, st);
    return nullptr;
  }
  if (t != napi_null && t != napi_undefined &&
      !live_typed_array_arg(env, argv[2], napi_float64_array, 0, fn, "fillsOut (argument 3)", &fills)) {
    return nullptr;
  }
  try {
    return number(env, fn,
                  static_cast<double>(h->core.batch(static_cast<const double*>(c.data), n,
                                                    static_cast<double*>(fills.data), fills.length / ob::kFillStride)));
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
}

// (tickNum, tickDen, lotNum, lotDen, stp, allowNegativePrices = true)
//   -> { view, submit, cancel, modify, query, levels, copyFills, batch }
napi_value me_create(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "orderbookEngineCreate";
  napi_value argv[6];
  if (!call_args(env, cb, fn, 6, argv, nullptr)) return nullptr;
  double tn = 0, td = 0, ln = 0, ld = 0;
  std::uint64_t stp = 0;
  bool negative = true;
  if (!step_args(env, argv, fn, "tickNum (argument 1)", "tickDen (argument 2)", false, &tn, &td) ||
      !step_args(env, argv + 2, fn, "lotNum (argument 3)", "lotDen (argument 4)", false, &ln, &ld) ||
      !size_arg(env, argv[4], fn, "stp (argument 5)", 0, 3, &stp) ||
      !optional_bool_arg(env, argv[5], fn, "allowNegativePrices (argument 6)", true, &negative)) {
    return nullptr;
  }
  Me* h = nullptr;
  try {
    h = new Me(ob::Grid(tn, td, negative), ob::Grid(ln, ld), static_cast<ob::SelfTrade>(static_cast<int>(stp)));
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
  return wrap(env, fn, h, h->core.view(), ob::kViewDoubles,
              {{"submit", me_submit},
               {"cancel", me_by_id<&ob::MatchingEngine::cancel>},
               {"modify", me_modify},
               {"query", me_by_id<&ob::MatchingEngine::query>},
               {"levels", levels<Me>},
               {"copyFills", me_copy_fills},
               {"batch", me_batch}});
}

// ---- market by order ----
using Mb = Holder<ob::MboBook>;

// (events, from, to) -> to | -(index + 1), the reason in the view
napi_value mbo_apply(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "apply";
  napi_value argv[3];
  auto* h = static_cast<Mb*>(instance(env, cb, fn, 3, argv));
  TypedArg e;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  if (h == nullptr || !live_typed_array_arg(env, argv[0], napi_float64_array, 0, fn, "events (argument 1)", &e) ||
      !size_arg(env, argv[2], fn, "to (argument 3)", 0, e.length / ob::kEventStride, &to) ||
      !size_arg(env, argv[1], fn, "from (argument 2)", 0, to, &from)) {
    return nullptr;
  }
  return number(env, fn, static_cast<double>(h->core.apply(static_cast<const double*>(e.data), from, to)));
}

// () with one event in the view's event slot -> 1 | -1
napi_value mbo_apply_one(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "applyOne";
  auto* h = static_cast<Mb*>(instance(env, cb, fn));
  if (h == nullptr) return nullptr;
  return number(env, fn, static_cast<double>(h->core.apply(h->core.view() + ob::kMboEvent, 0, 1)));
}

// () with the order id in the event slot -> boolean
napi_value mbo_query(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "query";
  auto* h = static_cast<Mb*>(instance(env, cb, fn));
  if (h == nullptr) return nullptr;
  return boolean(env, fn, h->core.query());
}

napi_value mbo_clear(napi_env env, napi_callback_info cb) {
  auto* h = static_cast<Mb*>(instance(env, cb, "clear"));
  if (h != nullptr) h->core.clear();
  return nullptr;
}

// (events, rows, count, cols, depth, extraStart, summary) -> Float64Array of the added events
napi_value mbo_replay_lobster(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "replayLobster";
  napi_value argv[7];
  auto* h = static_cast<Mb*>(instance(env, cb, fn, 7, argv));
  TypedArg e, rows, starts, summary;
  std::uint64_t count = 0, cols = 0, depth = 0;
  if (h == nullptr || !live_typed_array_arg(env, argv[0], napi_float64_array, 0, fn, "events (argument 1)", &e) ||
      !live_typed_array_arg(env, argv[1], napi_float64_array, 0, fn, "rows (argument 2)", &rows) ||
      !size_arg(env, argv[2], fn, "count (argument 3)", 0, e.length / ob::kEventStride, &count) ||
      !size_arg(env, argv[3], fn, "cols (argument 4)", 4, 1u << 16, &cols) ||
      !size_arg(env, argv[4], fn, "depth (argument 5)", 1, cols / 4, &depth) ||
      !live_typed_array_arg(env, argv[5], napi_uint32_array, count + 1, fn, "extraStart (argument 6)", &starts) ||
      !live_typed_array_arg(env, argv[6], napi_float64_array, ob::kReplaySummary, fn, "summary (argument 7)", &summary)) {
    return nullptr;
  }
  std::size_t need = 0;
  if (!checked_mul(count, cols, &need)) {
    throw_too_large(env, fn, "count * cols");
    return nullptr;
  }
  if (rows.length < need) {
    const std::string msg = std::string(fn) + ": expected a Float64Array of at least count * cols (" + std::to_string(need) +
                            ") for rows (argument 2) but received one of length " + std::to_string(rows.length);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
    return nullptr;
  }
  std::vector<double> extras;
  try {
    // One event per message: more than either file needs (0.5–0.6), so no regrowth copies;
    // pages never written are never touched.
    extras.reserve(count * ob::kEventStride);
    h->core.replay_lobster(static_cast<const double*>(e.data), static_cast<const double*>(rows.data), count, cols, depth,
                           extras, static_cast<uint32_t*>(starts.data), static_cast<double*>(summary.data));
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
  napi_value ab = nullptr;
  void* data = nullptr;
  napi_value out = nullptr;
  napi_status st = napi_create_arraybuffer(env, extras.size() * sizeof(double), &data, &ab);
  if (st == napi_ok) {
    if (!extras.empty()) std::memcpy(data, extras.data(), extras.size() * sizeof(double));
    st = napi_create_typedarray(env, napi_float64_array, extras.size(), ab, 0, &out);
  }
  if (st != napi_ok) throw_napi_failure(env, fn, st);
  return out;
}

// (tickNum, tickDen, lotNum, lotDen, allowNegativePrices, expectedOrders)
//   -> { view, apply, applyOne, query, clear, levels, replayLobster }
napi_value mbo_create(napi_env env, napi_callback_info cb) {
  constexpr const char* fn = "orderbookMboCreate";
  napi_value argv[6];
  if (!call_args(env, cb, fn, 6, argv, nullptr)) return nullptr;
  double tn = 0, td = 0, ln = 0, ld = 0;
  bool negative = true;
  std::uint64_t expected = 0;
  if (!step_args(env, argv, fn, "tickNum (argument 1)", "tickDen (argument 2)", false, &tn, &td) ||
      !step_args(env, argv + 2, fn, "lotNum (argument 3)", "lotDen (argument 4)", false, &ln, &ld) ||
      !optional_bool_arg(env, argv[4], fn, "allowNegativePrices (argument 5)", true, &negative) ||
      !size_arg(env, argv[5], fn, "expectedOrders (argument 6)", 1, 1u << 22, &expected)) {
    return nullptr;
  }
  Mb* h = nullptr;
  try {
    h = new Mb(ob::Grid(tn, td, negative), ob::Grid(ln, ld), static_cast<std::size_t>(expected));
  } catch (const std::bad_alloc&) {
    return oom(env, fn);
  }
  return wrap(env, fn, h, h->core.view(), ob::kMboViewDoubles,
              {{"apply", mbo_apply},
               {"applyOne", mbo_apply_one},
               {"query", mbo_query},
               {"clear", mbo_clear},
               {"levels", levels<Mb>},
               {"replayLobster", mbo_replay_lobster}});
}

}  // namespace

void init_orderbook(Napi::Env env, Napi::Object exports) {
  for (const auto& f : {std::pair<const char*, napi_callback>{"orderbookEngineCreate", me_create},
                        std::pair<const char*, napi_callback>{"orderbookL2Create", l2_create},
                        std::pair<const char*, napi_callback>{"orderbookMboCreate", mbo_create}}) {
    napi_value fn = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, f.first, NAPI_AUTO_LENGTH, f.second, nullptr, &fn));
    exports.Set(f.first, Napi::Value(env, fn));
  }
  // Every view offset and code lib/orderbook/layout.ts mirrors, under its orderbookLayout
  // names; lib/internal/layout-check.ts refuses an addon whose table differs.
  using St = ob::OrderStatus;
  using Rj = ob::RejectReason;
  using Cr = ob::CancelReason;
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
      {"cancel.fokUnfillable", static_cast<double>(Cr::fok_unfillable)},
      {"cancel.iocRemainder", static_cast<double>(Cr::ioc_remainder)},
      {"cancel.marketRemainder", static_cast<double>(Cr::market_remainder)},
      {"cancel.selfTradePrevention", static_cast<double>(Cr::self_trade_prevention)},
      {"cancel.modifiedToZero", static_cast<double>(Cr::modified_to_zero)},
      {"commandStride", static_cast<double>(ob::kCommandStride)}, {"fillStride", static_cast<double>(ob::kFillStride)},
      {"mbo.bidPrice", ob::kBidPrice}, {"mbo.bidSize", ob::kBidSize}, {"mbo.askPrice", ob::kAskPrice},
      {"mbo.askSize", ob::kAskSize}, {"mbo.bidTicks", ob::kBidTicks}, {"mbo.askTicks", ob::kAskTicks},
      {"mbo.bidLevels", ob::kBidLevels}, {"mbo.askLevels", ob::kAskLevels}, {"mbo.orderCount", ob::kMboOrderCount},
      {"mbo.unknownOrders", ob::kMboUnknownOrders}, {"mbo.forgottenOrders", ob::kMboForgottenOrders},
      {"mbo.errorReason", ob::kMboErrorReason}, {"mbo.querySide", ob::kMboQuerySide}, {"mbo.queryTicks", ob::kMboQueryTicks},
      {"mbo.queryLots", ob::kMboQueryLots}, {"mbo.event", ob::kMboEvent}, {"mbo.doubles", ob::kMboViewDoubles},
      {"mboReason.op", static_cast<double>(ob::MboReason::op)}, {"mboReason.orderId", static_cast<double>(ob::MboReason::order_id)},
      {"mboReason.side", static_cast<double>(ob::MboReason::side)}, {"mboReason.price", static_cast<double>(ob::MboReason::price)},
      {"mboReason.size", static_cast<double>(ob::MboReason::size)},
      {"mboReason.newOrderId", static_cast<double>(ob::MboReason::new_order_id)},
      {"mboReason.duplicate", static_cast<double>(ob::MboReason::duplicate)},
      {"mboReason.duplicateNew", static_cast<double>(ob::MboReason::duplicate_new)},
      {"mboReason.overflow", static_cast<double>(ob::MboReason::overflow)},
      {"mboReason.outOfMemory", static_cast<double>(ob::MboReason::out_of_memory)},
      {"eventStride", static_cast<double>(ob::kEventStride)}, {"replaySummary", static_cast<double>(ob::kReplaySummary)},
  };
  Napi::Object layout = Napi::Object::New(env);
  for (const auto& [key, value] : table) layout.Set(key, value);
  exports.Set("orderbookLayout", layout);
}

}  // namespace up::napi
