// Bindings for cpp/cache (the L2 shared-memory cache): unpack, call, pack. lib/cache/l2.ts
// validates first; these still check every argument (a wrong type or size throws naming it)
// and the core refuses a buffer that does not hold a consistent cache, by status code.
// Raw N-API: these calls are the whole cost of a native get.
#include <algorithm>
#include <cstddef>

#include "../cache/layout.hpp"
#include "../cache/shared_cache.hpp"
#include "bindings.hpp"
#include "typed_args.hpp"

namespace up::napi {
namespace {

using namespace up::cache;

bool bytes_arg(napi_env env, napi_value v, const char* fn, const char* name, TypedArg* out) {
  return typed_array_arg(env, v, napi_uint8_array, 0, fn, name, out);
}

// (cache: Uint8Array, maxEntries, slotBytes) -> 0 | status
napi_value cache_init(napi_env env, napi_callback_info info) {
  napi_value argv[3] = {};
  TypedArg c;
  uint32_t entries = 0, slot = 0;
  raw_args(env, info, argv);
  if (!bytes_arg(env, argv[0], "cacheInit", "cache (argument 1)", &c) ||
      !uint32_arg(env, argv[1], "cacheInit", "maxEntries (argument 2)", 0, UINT32_MAX, &entries) ||
      !uint32_arg(env, argv[2], "cacheInit", "slotBytes (argument 3)", 0, UINT32_MAX, &slot)) {
    return nullptr;
  }
  return int32_value(env, up::cache::init_cache(static_cast<uint8_t*>(c.data), c.length, entries, slot));
}

// (cache, key: Uint8Array, keyBytes, now, out: Uint8Array, meta: Float64Array(6)) -> value bytes | status
// meta: [expiresAt, staleUntil, version, flags & miss, -, expired (1 when the key was found past staleUntil)]
napi_value cache_get(napi_env env, napi_callback_info info) {
  constexpr const char* kFn = "cacheGet";
  napi_value argv[6] = {};
  TypedArg c, key, out, meta;
  uint32_t n = 0;
  double now = 0;
  raw_args(env, info, argv);
  if (!bytes_arg(env, argv[0], kFn, "cache (argument 1)", &c) || !bytes_arg(env, argv[1], kFn, "key (argument 2)", &key) ||
      !uint32_arg(env, argv[2], kFn, "keyBytes (argument 3)", 1, static_cast<uint32_t>(std::min<std::size_t>(key.length, kMaxKeyBytes)), &n) ||
      !number_arg(env, argv[3], kFn, "now (argument 4)", &now) || !bytes_arg(env, argv[4], kFn, "out (argument 5)", &out) ||
      !typed_array_arg(env, argv[5], napi_float64_array, 6, kFn, "meta (argument 6)", &meta)) {
    return nullptr;
  }
  SharedCache cache;
  if (cache.attach(static_cast<uint8_t*>(c.data), c.length) != 0) return int32_value(env, kBadCache);
  EntryMeta m;
  const int32_t r = cache.get(static_cast<const uint8_t*>(key.data), n, now, static_cast<uint8_t*>(out.data), out.length, &m);
  auto* md = static_cast<double*>(meta.data);
  if (r >= 0) {
    md[0] = m.expires_at;
    md[1] = m.stale_until;
    md[2] = m.version;
    md[3] = m.flags;
  }
  md[5] = m.expired ? 1 : 0;
  return int32_value(env, r);
}

// (cache, key, keyBytes, value: Uint8Array, valueBytes, meta: Float64Array [expiresAt, staleUntil, version, flags, now]) -> 0 | 1 | status
napi_value cache_set(napi_env env, napi_callback_info info) {
  constexpr const char* kFn = "cacheSet";
  napi_value argv[6] = {};
  TypedArg c, key, value, meta;
  uint32_t n = 0, len = 0;
  raw_args(env, info, argv);
  if (!bytes_arg(env, argv[0], kFn, "cache (argument 1)", &c) || !bytes_arg(env, argv[1], kFn, "key (argument 2)", &key) ||
      !uint32_arg(env, argv[2], kFn, "keyBytes (argument 3)", 1, static_cast<uint32_t>(std::min<std::size_t>(key.length, kMaxKeyBytes)), &n) ||
      !bytes_arg(env, argv[3], kFn, "value (argument 4)", &value) ||
      !uint32_arg(env, argv[4], kFn, "valueBytes (argument 5)", 0, static_cast<uint32_t>(std::min<std::size_t>(value.length, kMaxSlotBytes)), &len) ||
      !typed_array_arg(env, argv[5], napi_float64_array, 5, kFn, "meta (argument 6)", &meta)) {
    return nullptr;
  }
  SharedCache cache;
  if (cache.attach(static_cast<uint8_t*>(c.data), c.length) != 0) return int32_value(env, kBadCache);
  const auto* md = static_cast<const double*>(meta.data);
  const uint32_t flags = md[3] == kFlagMiss ? kFlagMiss : 0;
  return int32_value(env, cache.set(static_cast<const uint8_t*>(key.data), n, static_cast<const uint8_t*>(value.data), len, flags,
                                    md[0], md[1], md[2], md[4]));
}

// (cache, key, keyBytes) -> 1 | 0 | status
napi_value cache_delete(napi_env env, napi_callback_info info) {
  constexpr const char* kFn = "cacheDelete";
  napi_value argv[3] = {};
  TypedArg c, key;
  uint32_t n = 0;
  raw_args(env, info, argv);
  if (!bytes_arg(env, argv[0], kFn, "cache (argument 1)", &c) || !bytes_arg(env, argv[1], kFn, "key (argument 2)", &key) ||
      !uint32_arg(env, argv[2], kFn, "keyBytes (argument 3)", 1, static_cast<uint32_t>(std::min<std::size_t>(key.length, kMaxKeyBytes)), &n)) {
    return nullptr;
  }
  SharedCache cache;
  if (cache.attach(static_cast<uint8_t*>(c.data), c.length) != 0) return int32_value(env, kBadCache);
  return int32_value(env, cache.erase(static_cast<const uint8_t*>(key.data), n));
}

// (cache) -> 0 | status
napi_value cache_clear(napi_env env, napi_callback_info info) {
  napi_value argv[1] = {};
  TypedArg c;
  raw_args(env, info, argv);
  if (!bytes_arg(env, argv[0], "cacheClear", "cache (argument 1)", &c)) return nullptr;
  SharedCache cache;
  if (cache.attach(static_cast<uint8_t*>(c.data), c.length) != 0) return int32_value(env, kBadCache);
  return int32_value(env, cache.clear());
}

// Every constant and offset of layout.hpp, for the check that holds the TS side to them.
napi_value layout_object(napi_env env) {
  napi_value out;
  napi_create_object(env, &out);
  auto set = [&](const char* key, double v) {
    napi_value n;
    napi_create_double(env, v, &n);
    napi_set_named_property(env, out, key, n);
  };
  set("magic", kMagic);
  set("version", kVersion);
  set("lineBytes", kLineBytes);
  set("headerBytes", kHeaderBytes);
  set("indexOffset", kIndexOffset);
  set("bucketBytes", kBucketBytes);
  set("entryHeaderBytes", kEntryHeaderBytes);
  set("maxEntries", kMaxEntries);
  set("minSlotBytes", kMinSlotBytes);
  set("maxSlotBytes", kMaxSlotBytes);
  set("maxTotalBytes", static_cast<double>(kMaxTotalBytes));
  set("maxKeyBytes", kMaxKeyBytes);
  set("flagLive", kFlagLive);
  set("flagMiss", kFlagMiss);
  set("readRetries", kReadRetries);
  set("evictionSample", kEvictionSample);
  set("magicOffset", offsetof(CacheHeader, magic));
  set("versionOffset", offsetof(CacheHeader, version));
  set("maxEntriesOffset", offsetof(CacheHeader, max_entries));
  set("indexCapacityOffset", offsetof(CacheHeader, index_capacity));
  set("slotBytesOffset", offsetof(CacheHeader, slot_bytes));
  set("entryStrideOffset", offsetof(CacheHeader, entry_stride));
  set("indexOffsetOffset", offsetof(CacheHeader, index_offset));
  set("entriesOffsetOffset", offsetof(CacheHeader, entries_offset));
  set("totalBytesOffset", offsetof(CacheHeader, total_bytes));
  set("writeLockOffset", offsetof(CacheHeader, write_lock));
  set("usedOffset", offsetof(CacheHeader, used));
  set("freeHeadOffset", offsetof(CacheHeader, free_head));
  set("liveOffset", offsetof(CacheHeader, live));
  set("stampOffset", offsetof(CacheHeader, stamp));
  set("evictionsOffset", offsetof(CacheHeader, evictions));
  set("entrySeqOffset", offsetof(Entry, seq));
  set("entryFlagsOffset", offsetof(Entry, flags));
  set("entryHashOffset", offsetof(Entry, hash));
  set("entryKeyBytesOffset", offsetof(Entry, key_bytes));
  set("entryValueBytesOffset", offsetof(Entry, value_bytes));
  set("entryFreqOffset", offsetof(Entry, freq));
  set("entryStampOffset", offsetof(Entry, stamp));
  set("entryNextOffset", offsetof(Entry, next));
  set("entryExpiresAtOffset", offsetof(Entry, expires_at));
  set("entryStaleUntilOffset", offsetof(Entry, stale_until));
  set("entryVersionOffset", offsetof(Entry, version));
  set("ok", kOk);
  set("miss", kMiss);
  set("tooBig", kTooBig);
  set("badCache", kBadCache);
  set("busy", kBusy);
  set("outTooSmall", kOutTooSmall);
  set("badArgument", kBadArgument);
  return out;
}

}  // namespace

void init_cache(Napi::Env env, Napi::Object exports) {
  set_function(env, exports, "cacheInit", cache_init);
  set_function(env, exports, "cacheGet", cache_get);
  set_function(env, exports, "cacheSet", cache_set);
  set_function(env, exports, "cacheDelete", cache_delete);
  set_function(env, exports, "cacheClear", cache_clear);
  exports.Set("cacheLayout", Napi::Value(env, layout_object(env)));
}

}  // namespace up::napi
