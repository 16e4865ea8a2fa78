// Bindings for cpp/queue: unpack, call, pack. Validation happens in lib/queue; these
// functions still check every argument themselves (a wrong type or size throws naming
// it, typed_args.hpp) and refuse what would send the core out of bounds, by status code.
// The per-message calls use raw N-API: they are the whole cost of a native tryPush.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../queue/layout.hpp"
#include "../queue/mpmc_queue.hpp"
#include "../queue/replay.hpp"
#include "../queue/spsc_queue.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

namespace up::napi {
namespace {

using namespace up::queue;

struct Span {
  uint8_t* data = nullptr;
  std::size_t len = 0;
};

// A TypedArray argument of type `want`, or false with a TypeError naming it pending.
bool typed_span(napi_env env, napi_value value, napi_typedarray_type want, const char* fn, const char* name, Span* out) {
  TypedArg a;
  if (!typed_array_arg(env, value, want, 0, fn, name, &a)) return false;
  out->data = static_cast<uint8_t*>(a.data);
  out->len = want == napi_uint32_array ? a.length * 4 : a.length;
  return true;
}

// A batch count: at most the number of lengths given.
bool count_arg(napi_env env, napi_value v, std::size_t lengths, const char* fn, const char* name, uint32_t* out) {
  return uint32_arg(env, v, fn, name, 0, static_cast<uint32_t>(std::min<std::size_t>(lengths, UINT32_MAX)), out);
}

// (queue: Uint8Array, bytes: Uint8Array) -> status
template <class Queue>
napi_value try_push(napi_env env, napi_callback_info info) {
  napi_value argv[2] = {};
  Span q, bytes;
  raw_args(env, info, argv);
  if (!typed_span(env, argv[0], napi_uint8_array, "spscTryPush/mpmcTryPush", "queue (argument 1)", &q) ||
      !typed_span(env, argv[1], napi_uint8_array, "spscTryPush/mpmcTryPush", "bytes (argument 2)", &bytes) || bytes.len > kMaxSlotBytes) {
    return int32_value(env, kBadArgument);
  }
  Queue queue;
  if (queue.attach(q.data, q.len) != 0) return int32_value(env, kBadQueue);
  return int32_value(env, queue.try_push(bytes.data, static_cast<uint32_t>(bytes.len)));
}

// (queue: Uint8Array, out: Uint8Array) -> bytes | status
template <class Queue>
napi_value try_pop(napi_env env, napi_callback_info info) {
  napi_value argv[2] = {};
  Span q, out;
  raw_args(env, info, argv);
  if (!typed_span(env, argv[0], napi_uint8_array, "spscTryPop/mpmcTryPop", "queue (argument 1)", &q) ||
      !typed_span(env, argv[1], napi_uint8_array, "spscTryPop/mpmcTryPop", "out (argument 2)", &out)) {
    return int32_value(env, kBadArgument);
  }
  Queue queue;
  if (queue.attach(q.data, q.len) != 0) return int32_value(env, kBadQueue);
  return int32_value(env, queue.try_pop(out.data, out.len));
}

// (queue: Uint8Array, data: Uint8Array, lengths: Uint32Array, count: number) -> count | status
template <class Queue>
napi_value push_batch(napi_env env, napi_callback_info info) {
  napi_value argv[4] = {};
  Span q, data, lengths;
  uint32_t count = 0;
  raw_args(env, info, argv);
  if (!typed_span(env, argv[0], napi_uint8_array, "spscPushBatch/mpmcPushBatch", "queue (argument 1)", &q) ||
      !typed_span(env, argv[1], napi_uint8_array, "spscPushBatch/mpmcPushBatch", "data (argument 2)", &data) || !typed_span(env, argv[2], napi_uint32_array, "spscPushBatch/mpmcPushBatch", "lengths (argument 3)", &lengths) ||
      !count_arg(env, argv[3], lengths.len / 4, "spscPushBatch/mpmcPushBatch", "count (argument 4)", &count)) {
    return nullptr;
  }
  Queue queue;
  if (queue.attach(q.data, q.len) != 0) return int32_value(env, kBadQueue);
  return int32_value(env, queue.push_batch(data.data, data.len, reinterpret_cast<const uint32_t*>(lengths.data), count));
}

// (queue: Uint8Array, out: Uint8Array, lengths: Uint32Array, max: number) -> count | status
template <class Queue>
napi_value pop_batch(napi_env env, napi_callback_info info) {
  napi_value argv[4] = {};
  Span q, out, lengths;
  uint32_t max = 0;
  raw_args(env, info, argv);
  if (!typed_span(env, argv[0], napi_uint8_array, "spscPopBatch/mpmcPopBatch", "queue (argument 1)", &q) ||
      !typed_span(env, argv[1], napi_uint8_array, "spscPopBatch/mpmcPopBatch", "out (argument 2)", &out) || !typed_span(env, argv[2], napi_uint32_array, "spscPopBatch/mpmcPopBatch", "lengths (argument 3)", &lengths) ||
      !count_arg(env, argv[3], lengths.len / 4, "spscPopBatch/mpmcPopBatch", "max (argument 4)", &max)) {
    return nullptr;
  }
  Queue queue;
  if (queue.attach(q.data, q.len) != 0) return int32_value(env, kBadQueue);
  return int32_value(env, queue.pop_batch(out.data, out.len, reinterpret_cast<uint32_t*>(lengths.data), max));
}

// (queue: Uint8Array) -> size | status
napi_value queue_size(napi_env env, napi_callback_info info) {
  napi_value argv[1] = {};
  Span q;
  raw_args(env, info, argv);
  if (!typed_span(env, argv[0], napi_uint8_array, "queueSize", "queue (argument 1)", &q)) return int32_value(env, kBadArgument);
  QueueBase queue;
  if (queue.attach(q.data, q.len, 0) != 0) return int32_value(env, kBadQueue);
  return int32_value(env, static_cast<int32_t>(queue.size()));
}

// (queue: Uint8Array) -> 0 | status; the caller notifies the sleepers.
napi_value queue_close(napi_env env, napi_callback_info info) {
  napi_value argv[1] = {};
  Span q;
  raw_args(env, info, argv);
  if (!typed_span(env, argv[0], napi_uint8_array, "queueClose", "queue (argument 1)", &q)) return int32_value(env, kBadArgument);
  QueueBase queue;
  if (queue.attach(q.data, q.len, 0) != 0) return int32_value(env, kBadQueue);
  queue.close();
  return int32_value(env, 0);
}

// (queue: Uint8Array, kind, capacity, slotBytes) -> 0 | status
napi_value queue_init(napi_env env, napi_callback_info info) {
  napi_value argv[4] = {};
  Span q;
  uint32_t kind = 0, capacity = 0, slot_bytes = 0;
  raw_args(env, info, argv);
  if (!typed_span(env, argv[0], napi_uint8_array, "queueInit", "queue (argument 1)", &q) ||
      !uint32_arg(env, argv[1], "queueInit", "kind (argument 2)", kKindSpsc, kKindMpmc, &kind) ||
      !uint32_arg(env, argv[2], "queueInit", "capacity (argument 3)", 0, UINT32_MAX, &capacity) ||
      !uint32_arg(env, argv[3], "queueInit", "slotBytes (argument 4)", 0, UINT32_MAX, &slot_bytes)) {
    return nullptr;
  }
  return int32_value(env, up::queue::init_queue(q.data, q.len, kind, capacity, slot_bytes));
}

// One replay: the thread, the memory it reads and writes, and how it reports back. The
// thread owns everything it touches until it ends: memory that cannot be detached or
// shrunk (a SharedArrayBuffer: the queue always, the frames when they are shared) is held
// by a reference, and frames in a plain ArrayBuffer, which the caller could transfer or
// resize meanwhile, are copied here. Shared frames may still be rewritten while the
// thread runs: the core reads each length once and checks it where it is used.
struct Replay {
  napi_env env = nullptr;
  napi_ref queue_ref = nullptr;
  napi_ref data_ref = nullptr;
  napi_ref lengths_ref = nullptr;
  std::vector<uint8_t> data_copy;
  std::vector<uint32_t> lengths_copy;
  napi_deferred deferred = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  Span queue;
  ReplayFrames frames;
  double rate_per_sec = 0;
  std::thread thread;
  std::atomic<bool> stop{false};
  // Coalesces wake-ups: at most one notify call is queued on the JS thread at a time.
  std::atomic<bool> wake_pending{false};
  bool torn_down = false;
  ReplayResult result;
};

// Runs on the JS thread that started the replay: calls the TS notify function.
void call_wake(napi_env env, napi_value js_wake, void* context, void* /*data*/) {
  auto* r = static_cast<Replay*>(context);
  r->wake_pending.store(false, std::memory_order_seq_cst);
  if (env == nullptr || js_wake == nullptr) return;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_wake, 0, nullptr, nullptr);
}

// Runs on the replay thread, from the core, when consumers sleep.
void request_wake(void* context) {
  auto* r = static_cast<Replay*>(context);
  if (!r->wake_pending.exchange(true, std::memory_order_seq_cst)) {
    if (napi_call_threadsafe_function(r->tsfn, nullptr, napi_tsfn_nonblocking) != napi_ok) {
      r->wake_pending.store(false, std::memory_order_seq_cst);
    }
  }
}

// A worker (or the process) going away: stop the thread and wait for it, before the
// thread-safe function it uses is torn down (cleanup hooks run last-registered first).
void on_env_teardown(void* arg) {
  auto* r = static_cast<Replay*>(arg);
  r->torn_down = true;
  r->stop.store(true, std::memory_order_relaxed);
  if (r->thread.joinable()) r->thread.join();
}

void delete_refs(Replay* r) {
  for (napi_ref ref : {r->queue_ref, r->data_ref, r->lengths_ref}) {
    if (ref != nullptr) napi_delete_reference(r->env, ref);
  }
}

// Runs on the JS thread once the replay thread has released the function.
void finish_replay(napi_env env, void* data, void* /*hint*/) {
  auto* r = static_cast<Replay*>(data);
  if (r->thread.joinable()) r->thread.join();
  if (!r->torn_down) {
    napi_remove_env_cleanup_hook(env, on_env_teardown, r);
    napi_value result, pushed, elapsed, status;
    napi_create_object(env, &result);
    napi_create_double(env, static_cast<double>(r->result.pushed), &pushed);
    napi_create_double(env, r->result.elapsed_ms, &elapsed);
    napi_create_int32(env, r->result.status, &status);
    napi_set_named_property(env, result, "pushed", pushed);
    napi_set_named_property(env, result, "elapsedMs", elapsed);
    napi_set_named_property(env, result, "status", status);
    napi_resolve_deferred(env, r->deferred, result);
    delete_refs(r);
  }
  delete r;
}

// A refused replay, as an Error naming what was wrong (code ERR_ULTRA_PERF_QUEUE_REFUSED).
napi_value throw_refused(napi_env env, const std::string& what) {
  const std::string message = "replayIntoQueue: " + what;
  napi_throw_error(env, "ERR_ULTRA_PERF_QUEUE_REFUSED", message.c_str());
  return nullptr;
}

// True when `view` is over a SharedArrayBuffer: memory that cannot be detached or shrunk.
bool over_shared_memory(napi_env env, napi_value view) {
  napi_value buffer = nullptr;
  bool plain = true;
  if (napi_get_typedarray_info(env, view, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok) return false;
  // napi_is_arraybuffer is false for a SharedArrayBuffer (V8's IsArrayBuffer).
  return napi_is_arraybuffer(env, buffer, &plain) == napi_ok && !plain;
}

// (queue: Uint8Array over a SharedArrayBuffer, data: Uint8Array, lengths: Uint32Array,
//  ratePerSec: number, wake: () => void) -> Promise<{ pushed, elapsedMs, status }>
napi_value replay_into_queue(napi_env env, napi_callback_info info) {
  constexpr const char* kFn = "replayIntoQueue";
  napi_value argv[5] = {};
  Span q, data, lengths;
  double rate = 0;
  napi_valuetype wake_type = napi_undefined;
  raw_args(env, info, argv);
  if (!typed_span(env, argv[0], napi_uint8_array, kFn, "queue (argument 1)", &q) ||
      !typed_span(env, argv[1], napi_uint8_array, kFn, "data (argument 2)", &data) ||
      !typed_span(env, argv[2], napi_uint32_array, kFn, "lengths (argument 3)", &lengths) ||
      !number_arg(env, argv[3], kFn, "ratePerSec (argument 4)", &rate)) {
    return nullptr;
  }
  if (!over_shared_memory(env, argv[0])) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "replayIntoQueue: expected a Uint8Array over a SharedArrayBuffer for queue (argument 1) but "
                          "received one over an ArrayBuffer, which could be detached or resized under the replay thread");
    return nullptr;
  }
  if (!(rate >= 0) || std::isinf(rate)) {
    const std::string msg = std::string(kFn) + ": expected a finite number of frames per second >= 0 (0: unpaced) for "
                            "ratePerSec (argument 4) but received " + describe_number(rate);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
    return nullptr;
  }
  if (napi_typeof(env, argv[4], &wake_type) != napi_ok || wake_type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "replayIntoQueue: expected a function for wake (argument 5)");
    return nullptr;
  }
  if (lengths.len / 4 > UINT32_MAX) return throw_refused(env, "lengths (argument 3) holds more than 2^32 - 1 frames");
  // Frames in a plain ArrayBuffer: the thread's own copy, taken before anything is
  // checked (what is validated is what is pushed). Shared frames: referenced below.
  auto owned = std::make_unique<Replay>();
  const uint32_t count = static_cast<uint32_t>(lengths.len / 4);
  const bool data_shared = over_shared_memory(env, argv[1]);
  const bool lengths_shared = over_shared_memory(env, argv[2]);
  if (!data_shared) owned->data_copy.assign(data.data, data.data + data.len);
  if (!lengths_shared) {
    const auto* l = reinterpret_cast<const uint32_t*>(lengths.data);
    owned->lengths_copy.assign(l, l + count);
  }
  const ReplayFrames frames{data_shared ? data.data : owned->data_copy.data(), data.len,
                            lengths_shared ? reinterpret_cast<const uint32_t*>(lengths.data) : owned->lengths_copy.data(), count};
  if (const int32_t bad = check_replay(q.data, q.len, frames); bad == kBadQueue) {
    return throw_refused(env, "queue (argument 1) does not hold a queue (its header is missing, of another version or corrupt)");
  } else if (bad != 0) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; ++i) total += frames.lengths[i];
    return throw_refused(env, "the frames do not fit: every lengths (argument 3) entry must be at most the queue's slotBytes, "
                              "and their sum (" + std::to_string(total) + ") at most the bytes of data (argument 2), " +
                              std::to_string(data.len));
  }

  auto* r = owned.release();
  r->env = env;
  r->queue = q;
  r->frames = frames;
  r->rate_per_sec = rate;
  napi_value promise, name;
  napi_create_reference(env, argv[0], 1, &r->queue_ref);
  if (data_shared) napi_create_reference(env, argv[1], 1, &r->data_ref);
  if (lengths_shared) napi_create_reference(env, argv[2], 1, &r->lengths_ref);
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, "ultra-performance:replayIntoQueue", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[4], nullptr, name, 0, 1, r, finish_replay, r, call_wake, &r->tsfn) !=
      napi_ok) {
    delete_refs(r);
    napi_value err, msg;
    napi_create_string_utf8(env, "replayIntoQueue: could not create a thread-safe function", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, nullptr, msg, &err);
    napi_reject_deferred(env, r->deferred, err);
    delete r;
    return promise;
  }
  napi_add_env_cleanup_hook(env, on_env_teardown, r);
  // Counted from now, not from when the thread gets going: a consumer that goes to
  // sleep on this very JS thread must already cap its sleep.
  QueueBase counter;
  if (counter.attach(q.data, q.len, 0) == 0) counter.add_native_producer(1);
  r->thread = std::thread([r] {
    ReplayOptions options;
    options.rate_per_sec = r->rate_per_sec;
    options.stop = &r->stop;
    options.wake = request_wake;
    options.context = r;
    r->result = replay_frames(r->queue.data, r->queue.len, r->frames, options);
    QueueBase counter;
    if (counter.attach(r->queue.data, r->queue.len, 0) == 0) counter.add_native_producer(-1);
    napi_release_threadsafe_function(r->tsfn, napi_tsfn_release);
  });
  return promise;
}

// Every constant and offset of layout.hpp, for the test that holds the TS side to them.
napi_value layout_object(napi_env env) {
  napi_value out;
  napi_create_object(env, &out);
  auto set = [&](const char* key, double v) {
    napi_value n;
    napi_create_double(env, v, &n);
    napi_set_named_property(env, out, key, n);
  };
  set("cacheLineSize", kCacheLineSize);
  set("lineBytes", kLineBytes);
  set("magic", kMagic);
  set("version", kVersion);
  set("kindSpsc", kKindSpsc);
  set("kindMpmc", kKindMpmc);
  set("minCapacity", kMinCapacity);
  set("maxCapacity", kMaxCapacity);
  set("maxSlotBytes", kMaxSlotBytes);
  set("maxTotalBytes", static_cast<double>(kMaxTotalBytes));
  set("slotHeaderBytes", kSlotHeaderBytes);
  set("slotSeqOffset", kSlotSeqOffset);
  set("slotLengthOffset", kSlotLengthOffset);
  set("dataOffset", kDataOffset);
  set("magicOffset", offsetof(QueueHeader, magic));
  set("versionOffset", offsetof(QueueHeader, version));
  set("kindOffset", offsetof(QueueHeader, kind));
  set("capacityOffset", offsetof(QueueHeader, capacity));
  set("slotBytesOffset", offsetof(QueueHeader, slot_bytes));
  set("slotStrideOffset", offsetof(QueueHeader, slot_stride));
  set("dataOffsetOffset", offsetof(QueueHeader, data_offset));
  set("totalBytesOffset", offsetof(QueueHeader, total_bytes));
  set("closedOffset", offsetof(QueueHeader, closed));
  set("tailOffset", offsetof(QueueHeader, tail));
  set("headCacheOffset", offsetof(QueueHeader, head_cache));
  set("headOffset", offsetof(QueueHeader, head));
  set("tailCacheOffset", offsetof(QueueHeader, tail_cache));
  set("notEmptySeqOffset", offsetof(QueueHeader, not_empty_seq));
  set("consumersAsleepOffset", offsetof(QueueHeader, consumers_asleep));
  set("nativeProducersOffset", offsetof(QueueHeader, native_producers));
  set("notFullSeqOffset", offsetof(QueueHeader, not_full_seq));
  set("producersAsleepOffset", offsetof(QueueHeader, producers_asleep));
  set("full", kFull);
  set("pushed", kPushed);
  set("empty", kEmpty);
  set("closed", kClosed);
  set("tooBig", kTooBig);
  set("outTooSmall", kOutTooSmall);
  set("badQueue", kBadQueue);
  set("corrupt", kCorrupt);
  set("badBatch", kBadBatch);
  set("stopped", kStopped);
  set("badArgument", kBadArgument);
  set("wakeBit", kWakeBit);
  set("replayBatch", kReplayBatch);
  return out;
}

}  // namespace

void init_queue(Napi::Env env, Napi::Object exports) {
  set_function(env, exports, "spscTryPush", try_push<SpscQueue>);
  set_function(env, exports, "spscTryPop", try_pop<SpscQueue>);
  set_function(env, exports, "spscPushBatch", push_batch<SpscQueue>);
  set_function(env, exports, "spscPopBatch", pop_batch<SpscQueue>);
  set_function(env, exports, "mpmcTryPush", try_push<MpmcQueue>);
  set_function(env, exports, "mpmcTryPop", try_pop<MpmcQueue>);
  set_function(env, exports, "mpmcPushBatch", push_batch<MpmcQueue>);
  set_function(env, exports, "mpmcPopBatch", pop_batch<MpmcQueue>);
  set_function(env, exports, "queueSize", queue_size);
  set_function(env, exports, "queueClose", queue_close);
  set_function(env, exports, "queueInit", queue_init);
  set_function(env, exports, "replayIntoQueue", replay_into_queue);
  exports.Set("queueLayout", Napi::Value(env, layout_object(env)));
}

}  // namespace up::napi
