// Bindings for cpp/net/udp_receiver: unpack, call, pack. lib/net/native-source.ts validates
// first; these still check every raw argument (typed_args.hpp) and throw, with a code, what
// the core refuses. A receiver is a plain object tagged with kReceiverTag and wrapped around
// a Binding: the core, a strong reference to the queue's Uint8Array (a SharedArrayBuffer:
// it can be neither detached nor shrunk, and the reference keeps its backing store alive
// while the thread writes into it), and the thread-safe function the thread wakes JS with.
#if !defined(_WIN32)
#include <arpa/inet.h>
#endif

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

#include "../net/udp_receiver.hpp"
#include "../queue/spsc_queue.hpp"
#include "../system/affinity.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

namespace up::napi {
namespace {

using up::net::UdpReceiver;

constexpr napi_type_tag kReceiverTag = {0x7564707265637672ULL, 0x756c747261706572ULL};
constexpr uint32_t kStatsCount = 11;

struct Binding {
  napi_env env = nullptr;
  UdpReceiver core;
  napi_ref queue_ref = nullptr;
  uint8_t* queue = nullptr;
  std::size_t queue_len = 0;
  napi_threadsafe_function tsfn = nullptr;
  // Coalesces wake-ups: at most one drain call is queued on the JS thread at a time.
  std::atomic<bool> wake_pending{false};
  bool hooked = false;
  bool torn_down = false;
  bool closed = false;
  // A released thread-safe function still runs the drain calls queued before the release
  // (call_drain, with this Binding as context) and is finalized after them: until then the
  // Binding must outlive its JS object, so the last of the two finalizers deletes it.
  int live_tsfns = 0;  // created by start() and not yet finalized (a failed start leaves one finalizing)
  bool object_finalized = false;
};

const char* errno_name(int err) noexcept {
  switch (err) {
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EACCES: return "EACCES";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EMFILE: return "EMFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    default: return errno_code(err);
  }
}

// A refused call as an Error with `code` (and `errno`, `syscall` for an OS error).
napi_value throw_coded(napi_env env, const char* code, const std::string& message, int err = 0, const char* syscall = nullptr) {
  napi_value c = nullptr, m = nullptr, e = nullptr;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c) != napi_ok ||
      napi_create_string_utf8(env, message.c_str(), message.size(), &m) != napi_ok || napi_create_error(env, c, m, &e) != napi_ok) {
    napi_throw_error(env, code, message.c_str());
    return nullptr;
  }
  if (err != 0) {
    napi_value n = nullptr, s = nullptr;
    if (napi_create_int32(env, -err, &n) == napi_ok) napi_set_named_property(env, e, "errno", n);
    if (syscall != nullptr && napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &s) == napi_ok) {
      napi_set_named_property(env, e, "syscall", s);
    }
  }
  napi_throw(env, e);
  return nullptr;
}

// A worker (or the process) going away: stop the thread before the thread-safe function it
// calls is torn down (cleanup hooks run last-registered first; start() re-registers this
// one after creating that function) and before the queue's memory can go.
void on_env_teardown(void* arg) {
  auto* b = static_cast<Binding*>(arg);
  b->torn_down = true;
  b->core.close();
}

// Stops the thread, closes the socket and lets go of the queue and the wake function.
void close_binding(napi_env env, Binding* b) {
  if (b->closed) return;
  b->closed = true;
  b->core.close();
  if (b->torn_down) return;
  if (b->tsfn != nullptr) napi_release_threadsafe_function(b->tsfn, napi_tsfn_release);
  b->tsfn = nullptr;
  if (b->queue_ref != nullptr) napi_delete_reference(env, b->queue_ref);
  b->queue_ref = nullptr;
  if (b->hooked) napi_remove_env_cleanup_hook(env, on_env_teardown, b);
  b->hooked = false;
}

void finalize_binding(napi_env env, void* data, void* /*hint*/) {
  auto* b = static_cast<Binding*>(data);
  close_binding(env, b);
  if (b->live_tsfns > 0) {
    b->object_finalized = true;  // the last finalize_tsfn deletes it
    return;
  }
  delete b;
}

// The thread-safe function's finalizer: after its last queued call_drain.
void finalize_tsfn(napi_env /*env*/, void* data, void* /*hint*/) {
  auto* b = static_cast<Binding*>(data);
  if (--b->live_tsfns == 0 && b->object_finalized) delete b;
}

// Runs on the JS thread: calls the drain function lib/ gave start().
void call_drain(napi_env env, napi_value js_drain, void* context, void* /*data*/) {
  auto* b = static_cast<Binding*>(context);
  b->wake_pending.store(false, std::memory_order_seq_cst);
  if (env == nullptr || js_drain == nullptr) return;
  napi_value undefined = nullptr;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_drain, 0, nullptr, nullptr);
}

// Runs on the receiver thread after a push that found the consumer asleep.
void request_wake(void* context) {
  auto* b = static_cast<Binding*>(context);
  if (!b->wake_pending.exchange(true, std::memory_order_seq_cst)) {
    if (napi_call_threadsafe_function(b->tsfn, nullptr, napi_tsfn_nonblocking) != napi_ok) {
      b->wake_pending.store(false, std::memory_order_seq_cst);
    }
  }
}

// The receiver argument: a tagged object, or nullptr with a TypeError pending.
Binding* receiver_arg(napi_env env, napi_value v, const char* fn) {
  napi_valuetype t = napi_undefined;
  bool tagged = false;
  void* data = nullptr;
  if (v != nullptr && napi_typeof(env, v, &t) == napi_ok && t == napi_object &&
      napi_check_object_type_tag(env, v, &kReceiverTag, &tagged) == napi_ok && tagged &&
      napi_unwrap(env, v, &data) == napi_ok && data != nullptr) {
    return static_cast<Binding*>(data);
  }
  const std::string msg = std::string(fn) + ": expected a receiver made by udpReceiverOpen for receiver (argument 1)";
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg.c_str());
  return nullptr;
}

napi_value number_value(napi_env env, double v) {
  napi_value n = nullptr;
  napi_create_double(env, v, &n);
  return n;
}

bool set_number(napi_env env, napi_value obj, const char* key, double v) {
  napi_value n = nullptr;
  return napi_create_double(env, v, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

// (queue: Uint8Array over a SharedArrayBuffer, host, port, receiveBufferBytes, busyPollUs,
//  batch, timestamps) -> receiver
napi_value udp_receiver_open(napi_env env, napi_callback_info info) {
  constexpr const char* kFn = "udpReceiverOpen";
  napi_value argv[7] = {};
  raw_args(env, info, argv);
  TypedArg q;
  uint32_t port = 0, rcvbuf = 0, busy = 0, batch = 0;
  bool timestamps = true;
  if (!live_typed_array_arg(env, argv[0], napi_uint8_array, 0, kFn, "queue (argument 1)", &q)) return nullptr;
  napi_valuetype host_type = napi_undefined;
  char host[64] = {};
  std::size_t host_len = 0;
  if (argv[1] == nullptr || napi_typeof(env, argv[1], &host_type) != napi_ok || host_type != napi_string ||
      napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "udpReceiverOpen: expected a string for host (argument 2)");
    return nullptr;
  }
  if (!uint32_arg(env, argv[2], kFn, "port (argument 3)", 0, 65535, &port) ||
      !uint32_arg(env, argv[3], kFn, "receiveBufferBytes (argument 4)", 0, INT32_MAX, &rcvbuf) ||
      !uint32_arg(env, argv[4], kFn, "busyPollUs (argument 5)", 0, 1000000, &busy) ||
      !uint32_arg(env, argv[5], kFn, "batch (argument 6)", 1, up::net::kMaxBatch, &batch)) {
    return nullptr;
  }
  napi_valuetype ts_type = napi_undefined;
  if (argv[6] == nullptr || napi_typeof(env, argv[6], &ts_type) != napi_ok || ts_type != napi_boolean ||
      napi_get_value_bool(env, argv[6], &timestamps) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "udpReceiverOpen: expected a boolean for timestamps (argument 7)");
    return nullptr;
  }
  // The thread writes into the queue after this call returns: only memory that cannot be
  // detached or shrunk is taken.
  napi_value buffer = nullptr;
  bool plain = true;
  if (napi_get_typedarray_info(env, argv[0], nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &plain) != napi_ok || plain) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "udpReceiverOpen: expected a Uint8Array over a SharedArrayBuffer for queue (argument 1) but received one "
                          "over an ArrayBuffer, which could be detached or resized under the receiver thread");
    return nullptr;
  }
  {
    up::queue::SpscQueue probe;
    if (probe.attach(static_cast<uint8_t*>(q.data), q.length) != 0 || probe.slot_bytes() <= up::net::kRecordHeaderBytes) {
      return throw_coded(env, "ERR_ULTRA_PERF_QUEUE_REFUSED",
                         "udpReceiverOpen: queue (argument 1) must hold an SPSC queue whose slotBytes exceed the " +
                             std::to_string(up::net::kRecordHeaderBytes) + "-byte record header");
    }
  }
  if (host_len >= sizeof host - 1) {
    return throw_coded(env, "ERR_INVALID_ARG_VALUE", "udpReceiverOpen: expected a numeric IPv4 or IPv6 address for host (argument 2) but received a string of more than 62 bytes");
  }
  auto* b = new Binding();
  b->env = env;
  up::net::UdpReceiverOptions o;
  o.host = host;
  o.port = static_cast<uint16_t>(port);
  o.receive_buffer_bytes = static_cast<int>(rcvbuf);
  o.busy_poll_us = static_cast<int>(busy);
  o.batch = batch;
  o.timestamps = timestamps;
  const int rc = b->core.open(o);
  if (rc != 0) {
    const std::string call = b->core.failed_call();
    delete b;
    if (rc == up::net::kUnsupported) {
      return throw_coded(env, "ERR_ULTRA_PERF_UNSUPPORTED", "udpReceiverOpen: the native UDP receiver needs Linux (recvmmsg)");
    }
    if (call == "inet_pton (host)") {
      return throw_coded(env, "ERR_INVALID_ARG_VALUE",
                         std::string("udpReceiverOpen: expected a numeric IPv4 or IPv6 address for host (argument 2) but received '") + host + "'");
    }
    const int err = -rc;
    return throw_coded(env, errno_name(err),
                       std::string("udpReceiverOpen: ") + call + " refused " + host + ":" + std::to_string(port) + ": " +
                           std::strerror(err) + " (" + errno_name(err) + ")",
                       err, call.c_str());
  }
  b->queue = static_cast<uint8_t*>(q.data);
  b->queue_len = q.length;
  napi_value obj = nullptr;
  const auto& s = b->core.settings();
  char text[64] = {};
#if !defined(_WIN32)
  inet_ntop(s.family == 4 ? AF_INET : AF_INET6, s.address, text, sizeof text);
#endif
  napi_value address = nullptr;
  napi_status st = napi_create_object(env, &obj);
  if (st == napi_ok) st = napi_create_reference(env, argv[0], 1, &b->queue_ref);
  if (st == napi_ok) st = napi_type_tag_object(env, obj, &kReceiverTag);
  if (st == napi_ok) st = napi_wrap(env, obj, b, finalize_binding, nullptr, nullptr);
  if (st != napi_ok) {
    if (b->queue_ref != nullptr) napi_delete_reference(env, b->queue_ref);
    delete b;
    throw_napi_failure(env, kFn, st);
    return nullptr;
  }
  napi_add_env_cleanup_hook(env, on_env_teardown, b);
  b->hooked = true;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address) != napi_ok ||
      napi_set_named_property(env, obj, "address", address) != napi_ok || !set_number(env, obj, "family", s.family) ||
      !set_number(env, obj, "port", s.port) || !set_number(env, obj, "receiveBufferBytes", s.receive_buffer_bytes) ||
      !set_number(env, obj, "busyPoll", s.busy_poll) || !set_number(env, obj, "timestamps", s.timestamps) ||
      !set_number(env, obj, "overflowCounter", s.overflow_counter)) {
    throw_napi_failure(env, kFn, napi_generic_failure);
    return nullptr;
  }
  return obj;
}

// (receiver, cpu: -1 or a core, drain: () => void) -> 0; throws when it cannot start.
napi_value udp_receiver_start(napi_env env, napi_callback_info info) {
  constexpr const char* kFn = "udpReceiverStart";
  napi_value argv[3] = {};
  raw_args(env, info, argv);
  Binding* b = receiver_arg(env, argv[0], kFn);
  if (b == nullptr) return nullptr;
  double cpu = 0;
  if (!number_arg(env, argv[1], kFn, "cpu (argument 2)", &cpu)) return nullptr;
  if (!(cpu == -1 || (cpu >= 0 && cpu < up::system::kMaxCores && cpu == static_cast<double>(static_cast<int>(cpu))))) {
    const std::string msg = std::string(kFn) + ": expected -1 (no pinning) or a core index from 0 to " +
                            std::to_string(up::system::kMaxCores - 1) + " for cpu (argument 2) but received " + describe_number(cpu);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
    return nullptr;
  }
  napi_valuetype t = napi_undefined;
  if (argv[2] == nullptr || napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "udpReceiverStart: expected a function for drain (argument 3)");
    return nullptr;
  }
  if (b->closed) return throw_coded(env, "ERR_ULTRA_PERF_RECEIVER_CLOSED", "udpReceiverStart: the receiver is closed");
  if (b->core.running()) return throw_coded(env, "ERR_ULTRA_PERF_RECEIVER_STARTED", "udpReceiverStart: the receiver is already started");
  napi_value name = nullptr;
  napi_create_string_utf8(env, "ultra-performance:udpReceiver", NAPI_AUTO_LENGTH, &name);
  napi_threadsafe_function tsfn = nullptr;
  const napi_status st = napi_create_threadsafe_function(env, argv[2], nullptr, name, 0, 1, b, finalize_tsfn, b, call_drain, &tsfn);
  if (st != napi_ok) {
    throw_napi_failure(env, kFn, st);
    return nullptr;
  }
  b->tsfn = tsfn;
  ++b->live_tsfns;
  const int rc = b->core.start(b->queue, b->queue_len, static_cast<int>(cpu), request_wake, b);
  if (rc != 0) {
    b->tsfn = nullptr;
    napi_release_threadsafe_function(tsfn, napi_tsfn_release);
    if (rc == up::net::kBadQueue) {
      return throw_coded(env, "ERR_ULTRA_PERF_QUEUE_REFUSED", "udpReceiverStart: the queue's header no longer describes an SPSC queue (written over since udpReceiverOpen)");
    }
    if (rc == -ENOMEM) return throw_coded(env, "ERR_ULTRA_PERF_OUT_OF_MEMORY", "udpReceiverStart: could not allocate the receive batch");
    const int err = rc < 0 && rc > -4096 ? -rc : EINVAL;
    return throw_coded(env, errno_name(err),
                       std::string("udpReceiverStart: pthread_setaffinity_np refused cpu (argument 2) ") + describe_number(cpu) + ": " +
                           std::strerror(err) + " (" + errno_name(err) + ")",
                       err, "pthread_setaffinity_np");
  }
  // After the thread-safe function's own cleanup hook, so this one runs first at teardown.
  napi_remove_env_cleanup_hook(env, on_env_teardown, b);
  napi_add_env_cleanup_hook(env, on_env_teardown, b);
  return int32_value(env, 0);
}

// (receiver, out: Float64Array(11)) -> 11: received, receivedBytes, queued, queueFull,
// truncated, kernelDropped, batches, sleeps, wakes, errors, lastErrno.
napi_value udp_receiver_stats(napi_env env, napi_callback_info info) {
  constexpr const char* kFn = "udpReceiverStats";
  napi_value argv[2] = {};
  raw_args(env, info, argv);
  Binding* b = receiver_arg(env, argv[0], kFn);
  TypedArg out;
  if (b == nullptr || !live_typed_array_arg(env, argv[1], napi_float64_array, kStatsCount, kFn, "out (argument 2)", &out)) return nullptr;
  const auto& c = b->core.counters();
  constexpr auto r = std::memory_order_relaxed;
  const double v[kStatsCount] = {
      static_cast<double>(c.received.load(r)),   static_cast<double>(c.received_bytes.load(r)),
      static_cast<double>(c.queued.load(r)),     static_cast<double>(c.queue_full.load(r)),
      static_cast<double>(c.truncated.load(r)),  static_cast<double>(c.kernel_dropped.load(r)),
      static_cast<double>(c.batches.load(r)),    static_cast<double>(c.sleeps.load(r)),
      static_cast<double>(c.wakes.load(r)),      static_cast<double>(c.errors.load(r)),
      static_cast<double>(c.last_errno.load(r)),
  };
  std::memcpy(out.data, v, sizeof v);
  return int32_value(env, static_cast<int32_t>(kStatsCount));
}

// (receiver) -> 0: stops and joins the thread, closes the socket; idempotent.
napi_value udp_receiver_close(napi_env env, napi_callback_info info) {
  napi_value argv[1] = {};
  raw_args(env, info, argv);
  Binding* b = receiver_arg(env, argv[0], "udpReceiverClose");
  if (b == nullptr) return nullptr;
  close_binding(env, b);
  return int32_value(env, 0);
}

// (host, port, size, count, ratePerSec, batch) -> datagrams sent; blocks until done (a load
// generator for benches and tests: call it from a worker or a child process).
napi_value udp_send_burst(napi_env env, napi_callback_info info) {
  constexpr const char* kFn = "udpSendBurst";
  napi_value argv[6] = {};
  raw_args(env, info, argv);
  napi_valuetype host_type = napi_undefined;
  char host[64] = {};
  std::size_t host_len = 0;
  if (argv[0] == nullptr || napi_typeof(env, argv[0], &host_type) != napi_ok || host_type != napi_string ||
      napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "udpSendBurst: expected a string for host (argument 1)");
    return nullptr;
  }
  uint32_t port = 0, size = 0, batch = 0;
  std::uint64_t count = 0;
  double rate = 0;
  if (!uint32_arg(env, argv[1], kFn, "port (argument 2)", 1, 65535, &port) ||
      !uint32_arg(env, argv[2], kFn, "size (argument 3)", up::net::kBurstMinBytes, 65507, &size) ||
      !size_arg(env, argv[3], kFn, "count (argument 4)", 0, 1ULL << 22, &count) ||
      !number_arg(env, argv[4], kFn, "ratePerSec (argument 5)", &rate) ||
      !uint32_arg(env, argv[5], kFn, "batch (argument 6)", 1, up::net::kMaxBatch, &batch)) {
    return nullptr;
  }
  if (!(rate == 0 || (rate >= 100 && rate <= 1e9))) {
    const std::string msg = std::string(kFn) + ": expected 0 (unpaced) or from 100 to 1e9 datagrams per second for ratePerSec (argument 5) but received " + describe_number(rate);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
    return nullptr;
  }
  if (host_len >= sizeof host - 1) {
    return throw_coded(env, "ERR_INVALID_ARG_VALUE", "udpSendBurst: expected a numeric IPv4 or IPv6 address for host (argument 1) but received a string of more than 62 bytes");
  }
  const up::net::UdpBurstResult r = up::net::send_burst(host, static_cast<uint16_t>(port), size, count, rate, batch);
  if (r.status == 0) return number_value(env, static_cast<double>(r.sent));
  if (r.status == up::net::kUnsupported) return throw_coded(env, "ERR_ULTRA_PERF_UNSUPPORTED", "udpSendBurst: needs Linux (sendmmsg)");
  if (std::string(r.failed_call) == "inet_pton (host)") {
    return throw_coded(env, "ERR_INVALID_ARG_VALUE", std::string("udpSendBurst: expected a numeric IPv4 or IPv6 address for host (argument 1) but received '") + host + "'");
  }
  const int err = -r.status;
  return throw_coded(env, errno_name(err),
                     std::string("udpSendBurst: ") + r.failed_call + " refused " + host + ":" + std::to_string(port) + " after " +
                         std::to_string(r.sent) + " datagrams: " + std::strerror(err) + " (" + errno_name(err) + ")",
                     err, r.failed_call);
}

napi_value record_layout(napi_env env) {
  napi_value out;
  napi_create_object(env, &out);
  set_number(env, out, "kernelNsOffset", up::net::kRecordKernelNsOffset);
  set_number(env, out, "threadNsOffset", up::net::kRecordThreadNsOffset);
  set_number(env, out, "wireBytesOffset", up::net::kRecordWireBytesOffset);
  set_number(env, out, "portOffset", up::net::kRecordPortOffset);
  set_number(env, out, "familyOffset", up::net::kRecordFamilyOffset);
  set_number(env, out, "flagsOffset", up::net::kRecordFlagsOffset);
  set_number(env, out, "addressOffset", up::net::kRecordAddressOffset);
  set_number(env, out, "headerBytes", up::net::kRecordHeaderBytes);
  set_number(env, out, "statsCount", kStatsCount);
  set_number(env, out, "maxBatch", up::net::kMaxBatch);
  set_number(env, out, "burstSeqOffset", up::net::kBurstSeqOffset);
  set_number(env, out, "burstStampOffset", up::net::kBurstStampOffset);
  set_number(env, out, "burstMinBytes", up::net::kBurstMinBytes);
  return out;
}

}  // namespace

void init_udp_receiver(Napi::Env env, Napi::Object exports) {
  set_function(env, exports, "udpReceiverOpen", udp_receiver_open);
  set_function(env, exports, "udpReceiverStart", udp_receiver_start);
  set_function(env, exports, "udpReceiverStats", udp_receiver_stats);
  set_function(env, exports, "udpReceiverClose", udp_receiver_close);
  set_function(env, exports, "udpSendBurst", udp_send_burst);
  exports.Set("udpRecordLayout", Napi::Value(env, record_layout(env)));
}

}  // namespace up::napi
