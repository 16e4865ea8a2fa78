// Bindings for cpp/memory: unpack, call, pack. Validation happens in lib/memory; the
// bindings still check every argument: a size or kind that is not an integer in uint32
// range throws naming it (typed_args.hpp), an offset that is not an int32 integer is
// answered as foreign (never wrapped onto another block), and the core re-checks the buffer's
// header on every call and answers with a Status, so a stale or foreign buffer can never
// make it touch memory it does not own.
//
// Every allocator function takes the whole buffer as a Uint8Array (it may view a
// SharedArrayBuffer) and primitives, and returns an offset or a Status as a number.
//
// lib/ allocates through none of them: one call into the addon costs more than a whole TS
// alloc+free, so the allocators have no native backend from JS (docs/memory-layout.md, "Why
// there is no native backend from JS", measured with a bind-once variant too). They stay as
// the conformance hooks the tests drive the C++ allocators through, interleaved with TS on
// the same bytes (lib/memory/common.ts kCrossCheckNative); C++ callers use cpp/memory.
#include <cmath>
#include <cstring>
#include <optional>

#include "../memory/buddy.hpp"
#include "../memory/layout.hpp"
#include "../memory/ring.hpp"
#include "../memory/slab.hpp"
#include "../memory/stack.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

namespace up::napi {
namespace {

namespace mem = up::memory;

struct Bytes {
  std::byte* data = nullptr;
  std::size_t len = 0;
};

// The allocator's bytes: a Uint8Array (of any buffer), else a TypeError naming the
// argument. A detached buffer comes back as (null, 0) and fails every header check.
bool bytes_of(napi_env env, napi_value value, const char* fn, Bytes* out) {
  TypedArg a;
  if (!typed_array_arg(env, value, napi_uint8_array, 0, fn, "mem (argument 1)", &a)) return false;
  *out = {static_cast<std::byte*>(a.data), a.length};
  return true;
}

// An output array of `type` with at least `min` elements, or null with a TypeError /
// RangeError naming the argument pending, rather than writing past a shorter array.
template <class T>
T* out_array(napi_env env, napi_value value, napi_typedarray_type want, std::size_t min, const char* fn, const char* name) {
  TypedArg a;
  if (!typed_array_arg(env, value, want, min, fn, name, &a)) return nullptr;
  return static_cast<T*>(a.data);
}

// An offset or mark: an integer number in int32 range, else INT32_MIN, which names no
// block (the core answers foreign / bad_argument, as lib/memory expects). Never a wrapped
// value: napi_get_value_int32 would turn 2^32 + k into k, another live block.
int32_t offset_of(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  double d = 0;
  if (v == nullptr || napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
    return INT32_MIN;
  }
  return d == std::floor(d) && d >= -2147483648.0 && d <= 2147483647.0 ? static_cast<int32_t>(d) : INT32_MIN;
}

int32_t int_arg(const Napi::CallbackInfo& info, std::size_t i) { return offset_of(info.Env(), info[i]); }

// Argument i as a uint32 (uint32_arg), or nullopt with an error pending.
std::optional<uint32_t> uint_arg(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  uint32_t v = 0;
  if (!uint32_arg(info.Env(), info[i], fn, name, 0, UINT32_MAX, &v)) return std::nullopt;
  return v;
}

Napi::Value num(const Napi::CallbackInfo& info, double v) { return Napi::Number::New(info.Env(), v); }
Napi::Value status(const Napi::CallbackInfo& info, mem::Status s) { return num(info, static_cast<int32_t>(s)); }

constexpr auto kBadHeader = static_cast<double>(mem::Status::bad_header);

// The allocator in argument 1; *thrown set (and nullopt) when it is not a Uint8Array.
template <class Allocator>
std::optional<Allocator> attach(const Napi::CallbackInfo& info, const char* fn, bool* thrown) {
  Bytes b;
  *thrown = !bytes_of(info.Env(), info[0], fn, &b);
  if (*thrown) return std::nullopt;
  return Allocator::attach(b.data, b.len);
}

// ---- raw N-API for the hot calls ----
// alloc/free go through plain napi_callbacks: node-addon-api's CallbackInfo and
// exception wrapper cost ~10 ns a call, which the conformance tests' many calls need not pay.

// The first N arguments; false (the caller answers bad_argument) when fewer were given.
template <std::size_t N>
bool args(napi_env env, napi_callback_info cb, napi_value (&argv)[N]) {
  return raw_args(env, cb, argv) >= N;
}

constexpr int32_t kBadArgumentStatus = static_cast<int32_t>(mem::Status::bad_argument);

constexpr int32_t kBadHeaderStatus = static_cast<int32_t>(mem::Status::bad_header);

// (mem) -> offset | status
napi_value raw_slab_alloc(napi_env env, napi_callback_info cb) {
  napi_value argv[1];
  if (!args(env, cb, argv)) return int32_value(env, kBadArgumentStatus);
  Bytes b;
  if (!bytes_of(env, argv[0], "slabAlloc", &b)) return nullptr;
  auto s = mem::Slab::attach(b.data, b.len);
  return int32_value(env, s ? s->alloc() : kBadHeaderStatus);
}

// (mem, offset) -> status
napi_value raw_slab_free(napi_env env, napi_callback_info cb) {
  napi_value argv[2];
  if (!args(env, cb, argv)) return int32_value(env, kBadArgumentStatus);
  Bytes b;
  if (!bytes_of(env, argv[0], "slabFree", &b)) return nullptr;
  const int32_t offset = offset_of(env, argv[1]);
  auto s = mem::Slab::attach(b.data, b.len);
  return int32_value(env, s ? static_cast<int32_t>(s->free(offset)) : kBadHeaderStatus);
}

// (mem, size) -> offset | status
napi_value raw_buddy_alloc(napi_env env, napi_callback_info cb) {
  napi_value argv[2];
  if (!args(env, cb, argv)) return int32_value(env, kBadArgumentStatus);
  Bytes b;
  uint32_t size = 0;
  if (!bytes_of(env, argv[0], "buddyAlloc", &b) || !uint32_arg(env, argv[1], "buddyAlloc", "size (argument 2)", 0, UINT32_MAX, &size)) return nullptr;
  auto s = mem::Buddy::attach(b.data, b.len);
  return int32_value(env, s ? s->alloc(size) : kBadHeaderStatus);
}

// (mem, offset) -> status
napi_value raw_buddy_free(napi_env env, napi_callback_info cb) {
  napi_value argv[2];
  if (!args(env, cb, argv)) return int32_value(env, kBadArgumentStatus);
  Bytes b;
  if (!bytes_of(env, argv[0], "buddyFree", &b)) return nullptr;
  const int32_t offset = offset_of(env, argv[1]);
  auto s = mem::Buddy::attach(b.data, b.len);
  return int32_value(env, s ? static_cast<int32_t>(s->free(offset)) : kBadHeaderStatus);
}

// ---- layout ----

Napi::Value memory_layout(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const auto set = [&](const char* name, double v) { o.Set(name, Napi::Number::New(env, v)); };
  set("magic", mem::kMagic);
  set("version", mem::kVersion);
  set("headerBytes", mem::kHeaderBytes);
  set("cacheLine", mem::kCacheLineSize);
  set("maxTotalBytes", static_cast<double>(mem::kMaxTotalBytes));
  set("flagShared", mem::kFlagShared);
  set("header.magic", offsetof(mem::Header, magic));
  set("header.version", offsetof(mem::Header, version));
  set("header.kind", offsetof(mem::Header, kind));
  set("header.flags", offsetof(mem::Header, flags));
  set("header.totalBytes", offsetof(mem::Header, total_bytes));
  set("header.dataOffset", offsetof(mem::Header, data_offset));
  set("header.dataBytes", offsetof(mem::Header, data_bytes));
  set("header.g0", offsetof(mem::Header, g0));
  set("header.g1", offsetof(mem::Header, g1));
  set("header.g2", offsetof(mem::Header, g2));
  set("header.g3", offsetof(mem::Header, g3));
  set("header.lockTimeoutMs", offsetof(mem::Header, lock_timeout_ms));
  set("defaultLockTimeoutMs", mem::kDefaultLockTimeoutMs);
  set("maxLockTimeoutMs", mem::kMaxLockTimeoutMs);
  set("kind.slab", static_cast<uint32_t>(mem::Kind::slab));
  set("kind.buddy", static_cast<uint32_t>(mem::Kind::buddy));
  set("kind.ring", static_cast<uint32_t>(mem::Kind::ring));
  set("kind.stack", static_cast<uint32_t>(mem::Kind::stack));
  set("slab.head", mem::SlabLayout::kHead);
  set("slab.next", mem::SlabLayout::kNext);
  set("slab.allocated", mem::SlabLayout::kAllocated);
  set("slab.maxSlots", mem::SlabLayout::kMaxSlots);
  set("slab.maxSlotBytes", mem::SlabLayout::kMaxSlotBytes);
  set("buddy.lock", mem::BuddyLayout::kLock);
  set("buddy.avail", mem::BuddyLayout::kAvail);
  set("buddy.usedBytes", mem::BuddyLayout::kUsedBytes);
  set("buddy.liveBlocks", mem::BuddyLayout::kLiveBlocks);
  set("buddy.freeHeads", mem::BuddyLayout::kFreeHeads);
  set("buddy.meta", mem::BuddyLayout::kMeta);
  set("buddy.maxOrders", mem::BuddyLayout::kMaxOrders);
  set("buddy.free", mem::BuddyLayout::kFree);
  set("buddy.used", mem::BuddyLayout::kUsed);
  set("buddy.minMinBlock", mem::BuddyLayout::kMinMinBlock);
  set("buddy.maxBytes", mem::BuddyLayout::kMaxBytes);
  set("buddy.maxMinBlocks", mem::BuddyLayout::kMaxMinBlocks);
  set("ring.lock", mem::RingLayout::kLock);
  set("ring.head", mem::RingLayout::kHead);
  set("ring.tail", mem::RingLayout::kTail);
  set("ring.used", mem::RingLayout::kUsed);
  set("ring.count", mem::RingLayout::kCount);
  set("ring.data", mem::RingLayout::kData);
  set("ring.recordHeader", mem::RingLayout::kRecordHeader);
  set("ring.skip", mem::RingLayout::kSkip);
  set("ring.check", mem::RingLayout::kCheck);
  set("ring.minBytes", mem::RingLayout::kMinBytes);
  set("ring.maxBytes", mem::RingLayout::kMaxBytes);
  set("stack.top", mem::StackLayout::kTop);
  set("stack.highWater", mem::StackLayout::kHighWater);
  set("stack.data", mem::StackLayout::kData);
  set("stack.minBytes", mem::StackLayout::kMinBytes);
  set("stack.maxBytes", mem::StackLayout::kMaxBytes);
  set("status.ok", static_cast<int32_t>(mem::Status::ok));
  set("status.full", static_cast<int32_t>(mem::Status::full));
  set("status.doubleFree", static_cast<int32_t>(mem::Status::double_free));
  set("status.foreign", static_cast<int32_t>(mem::Status::foreign));
  set("status.notOldest", static_cast<int32_t>(mem::Status::not_oldest));
  set("status.corrupt", static_cast<int32_t>(mem::Status::corrupt));
  set("status.badHeader", static_cast<int32_t>(mem::Status::bad_header));
  set("status.tooBig", static_cast<int32_t>(mem::Status::too_big));
  set("status.badArgument", static_cast<int32_t>(mem::Status::bad_argument));
  set("status.misaligned", static_cast<int32_t>(mem::Status::misaligned));
  set("status.lockTimeout", static_cast<int32_t>(mem::Status::lock_timeout));
  return o;
}

// (kind, a, b, out: Int32Array(10)) -> Status; out = [total, dataOffset, dataBytes, g0..g3, array0..2]
Napi::Value memory_geometry(const Napi::CallbackInfo& info) {
  const auto kind = uint_arg(info, 0, "memoryGeometry", "kind (argument 1)");
  const auto a = kind ? uint_arg(info, 1, "memoryGeometry", "a (argument 2)") : std::nullopt;
  const auto b = a ? uint_arg(info, 2, "memoryGeometry", "b (argument 3)") : std::nullopt;
  if (!b) return info.Env().Undefined();
  const mem::Geometry g = mem::geometry(static_cast<mem::Kind>(*kind), *a, *b);
  auto* out = out_array<int32_t>(info.Env(), info[3], napi_int32_array, 10, "memoryGeometry", "out (argument 4)");
  if (out == nullptr) return info.Env().Undefined();
  const uint32_t fields[10] = {g.total_bytes, g.data_offset, g.data_bytes, g.g0, g.g1, g.g2, g.g3, g.array0, g.array1, g.array2};
  std::memcpy(out, fields, sizeof fields);
  return status(info, g.status);
}

// (mem, kind, a, b, shared) -> Status
Napi::Value memory_format(const Napi::CallbackInfo& info) {
  Bytes b;
  if (!bytes_of(info.Env(), info[0], "memoryFormat", &b)) return info.Env().Undefined();
  const auto kind = uint_arg(info, 1, "memoryFormat", "kind (argument 2)");
  const auto ga = kind ? uint_arg(info, 2, "memoryFormat", "a (argument 3)") : std::nullopt;
  const auto gb = ga ? uint_arg(info, 3, "memoryFormat", "b (argument 4)") : std::nullopt;
  if (!gb) return info.Env().Undefined();
  if (b.data == nullptr) return num(info, kBadHeader);
  const bool shared = info[4].ToBoolean().Value();
  return status(info, mem::format(b.data, b.len, static_cast<mem::Kind>(*kind), *ga, *gb, shared));
}

// (mem, kind) -> Status
Napi::Value memory_validate(const Napi::CallbackInfo& info) {
  Bytes b;
  if (!bytes_of(info.Env(), info[0], "memoryValidate", &b)) return info.Env().Undefined();
  const auto kind = uint_arg(info, 1, "memoryValidate", "kind (argument 2)");
  if (!kind) return info.Env().Undefined();
  return status(info, mem::validate(b.data, b.len, static_cast<mem::Kind>(*kind)));
}

// Unpacks (mem, ...) for one allocator call: `fn` names it in errors. `ok()` is false
// when an argument threw (return `thrown()` then) or the header was refused (`bad()`).
template <class Allocator>
struct Call {
  Call(const Napi::CallbackInfo& info, const char* fn) : info_(info), a_(attach<Allocator>(info, fn, &thrown_)) {}
  bool ok() const { return a_.has_value(); }
  Napi::Value fail() const { return thrown_ ? info_.Env().Undefined() : num(info_, kBadHeader); }
  Allocator* operator->() { return &*a_; }

 private:
  const Napi::CallbackInfo& info_;
  bool thrown_ = false;
  std::optional<Allocator> a_;
};

// ---- slab ----

// (mem, out: Int32Array(2)) -> Status; out = [used, free]
Napi::Value slab_stats(const Napi::CallbackInfo& info) {
  Call<mem::Slab> s(info, "slabStats");
  auto* out = out_array<int32_t>(info.Env(), info[1], napi_int32_array, 2, "slabStats", "out (argument 2)");
  if (out == nullptr) return info.Env().Undefined();
  if (!s.ok()) return s.fail();
  const mem::SlabStats st = s->stats();
  out[0] = static_cast<int32_t>(st.used);
  out[1] = static_cast<int32_t>(st.free);
  return status(info, mem::Status::ok);
}

// ---- buddy ----

Napi::Value buddy_block_size(const Napi::CallbackInfo& info) {
  Call<mem::Buddy> b(info, "buddyBlockSize");
  if (!b.ok()) return b.fail();
  const int32_t offset = int_arg(info, 1);
  return num(info, static_cast<double>(b->block_size(offset)));
}

// (mem, out: Float64Array(6)) -> Status; out = [bytes, used, free, largestFreeBlock, liveBlocks, fragmentation]
Napi::Value buddy_stats(const Napi::CallbackInfo& info) {
  Call<mem::Buddy> b(info, "buddyStats");
  auto* out = out_array<double>(info.Env(), info[1], napi_float64_array, 6, "buddyStats", "out (argument 2)");
  if (out == nullptr) return info.Env().Undefined();
  if (!b.ok()) return b.fail();
  mem::BuddyStats st{};
  if (const mem::Status s = b->stats(&st); s != mem::Status::ok) return status(info, s);
  out[0] = st.bytes;
  out[1] = st.used;
  out[2] = st.free;
  out[3] = st.largest_free_block;
  out[4] = st.live_blocks;
  out[5] = st.fragmentation;
  return status(info, mem::Status::ok);
}

// ---- ring ----

Napi::Value ring_alloc(const Napi::CallbackInfo& info) {
  Call<mem::Ring> r(info, "ringAlloc");
  if (!r.ok()) return r.fail();
  const auto size = uint_arg(info, 1, "ringAlloc", "size (argument 2)");
  return size ? num(info, r->alloc(*size)) : info.Env().Undefined();
}

Napi::Value ring_release(const Napi::CallbackInfo& info) {
  Call<mem::Ring> r(info, "ringRelease");
  return r.ok() ? num(info, r->release()) : r.fail();
}

Napi::Value ring_free(const Napi::CallbackInfo& info) {
  Call<mem::Ring> r(info, "ringFree");
  if (!r.ok()) return r.fail();
  const int32_t offset = int_arg(info, 1);
  return status(info, r->free(offset));
}

Napi::Value ring_oldest(const Napi::CallbackInfo& info) {
  Call<mem::Ring> r(info, "ringOldest");
  return r.ok() ? num(info, r->oldest()) : r.fail();
}

Napi::Value ring_size_of(const Napi::CallbackInfo& info) {
  Call<mem::Ring> r(info, "ringSizeOf");
  if (!r.ok()) return r.fail();
  const int32_t offset = int_arg(info, 1);
  return num(info, static_cast<double>(r->size_of(offset)));
}

// (mem, out: Int32Array(4)) -> Status; out = [bytes, used, free, live]
Napi::Value ring_stats(const Napi::CallbackInfo& info) {
  Call<mem::Ring> r(info, "ringStats");
  auto* out = out_array<int32_t>(info.Env(), info[1], napi_int32_array, 4, "ringStats", "out (argument 2)");
  if (out == nullptr) return info.Env().Undefined();
  if (!r.ok()) return r.fail();
  mem::RingStats st{};
  if (const mem::Status s = r->stats(&st); s != mem::Status::ok) return status(info, s);
  out[0] = static_cast<int32_t>(st.bytes);
  out[1] = static_cast<int32_t>(st.used);
  out[2] = static_cast<int32_t>(st.free);
  out[3] = static_cast<int32_t>(st.live);
  return status(info, mem::Status::ok);
}

// ---- stack ----

Napi::Value stack_alloc(const Napi::CallbackInfo& info) {
  Call<mem::Stack> s(info, "stackAlloc");
  if (!s.ok()) return s.fail();
  const auto size = uint_arg(info, 1, "stackAlloc", "size (argument 2)");
  return size ? num(info, s->alloc(*size)) : info.Env().Undefined();
}

Napi::Value stack_mark(const Napi::CallbackInfo& info) {
  Call<mem::Stack> s(info, "stackMark");
  return s.ok() ? num(info, s->mark()) : s.fail();
}

Napi::Value stack_reset(const Napi::CallbackInfo& info) {
  Call<mem::Stack> s(info, "stackReset");
  if (!s.ok()) return s.fail();
  const int32_t mark = int_arg(info, 1);
  return status(info, s->reset(mark));
}

// (mem, out: Int32Array(4)) -> Status; out = [bytes, used, free, highWater]
Napi::Value stack_stats(const Napi::CallbackInfo& info) {
  Call<mem::Stack> s(info, "stackStats");
  auto* out = out_array<int32_t>(info.Env(), info[1], napi_int32_array, 4, "stackStats", "out (argument 2)");
  if (out == nullptr) return info.Env().Undefined();
  if (!s.ok()) return s.fail();
  const mem::StackStats st = s->stats();
  out[0] = static_cast<int32_t>(st.bytes);
  out[1] = static_cast<int32_t>(st.used);
  out[2] = static_cast<int32_t>(st.free);
  out[3] = static_cast<int32_t>(st.high_water);
  return status(info, mem::Status::ok);
}

}  // namespace

void init_memory(Napi::Env env, Napi::Object exports) {
  const auto add = [&](const char* name, Napi::Function fn) { exports.Set(name, fn); };
  add("memoryLayout", Napi::Function::New<memory_layout>(env, "memoryLayout"));
  add("memoryGeometry", Napi::Function::New<memory_geometry>(env, "memoryGeometry"));
  add("memoryFormat", Napi::Function::New<memory_format>(env, "memoryFormat"));
  add("memoryValidate", Napi::Function::New<memory_validate>(env, "memoryValidate"));
  const auto add_raw = [&](const char* name, napi_callback cb) {
    napi_value fn = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn));
    exports.Set(name, Napi::Value(env, fn));
  };
  add_raw("slabAlloc", raw_slab_alloc);
  add_raw("slabFree", raw_slab_free);
  add("slabStats", Napi::Function::New<slab_stats>(env, "slabStats"));
  add_raw("buddyAlloc", raw_buddy_alloc);
  add_raw("buddyFree", raw_buddy_free);
  add("buddyBlockSize", Napi::Function::New<buddy_block_size>(env, "buddyBlockSize"));
  add("buddyStats", Napi::Function::New<buddy_stats>(env, "buddyStats"));
  add("ringAlloc", Napi::Function::New<ring_alloc>(env, "ringAlloc"));
  add("ringRelease", Napi::Function::New<ring_release>(env, "ringRelease"));
  add("ringFree", Napi::Function::New<ring_free>(env, "ringFree"));
  add("ringOldest", Napi::Function::New<ring_oldest>(env, "ringOldest"));
  add("ringSizeOf", Napi::Function::New<ring_size_of>(env, "ringSizeOf"));
  add("ringStats", Napi::Function::New<ring_stats>(env, "ringStats"));
  add("stackAlloc", Napi::Function::New<stack_alloc>(env, "stackAlloc"));
  add("stackMark", Napi::Function::New<stack_mark>(env, "stackMark"));
  add("stackReset", Napi::Function::New<stack_reset>(env, "stackReset"));
  add("stackStats", Napi::Function::New<stack_stats>(env, "stackStats"));
}

}  // namespace up::napi
