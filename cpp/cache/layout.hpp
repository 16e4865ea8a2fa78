// The shared-memory layout of the L2 cache, byte for byte. lib/cache/l2-layout.ts implements
// the same layout with Atomics on an Int32Array (the table and the protocol are documented
// there and in docs/cache.md "L2: shared memory"); the addon exports these constants as
// cacheLayout and lib/backend.ts refuses an addon whose table differs.
//
//   line 0 @0    magic, version, max_entries, index_capacity, slot_bytes, entry_stride,
//                index_offset, entries_offset, total_bytes   (written once by create)
//   line 1 @128  write_lock, used, free_head, live, stamp, evictions (under the write lock)
//   @256         index: index_capacity x { u32 hash, u32 ref (entry + 1, 0 empty) }
//   @entries     max_entries x entry_stride: a 64-byte Entry, then key (UTF-8, padded to 8)
//                and value bytes
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace up::cache {

inline constexpr uint32_t kMagic = 0x55504332;
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kLineBytes = 128;
inline constexpr uint32_t kHeaderBytes = 256;
inline constexpr uint32_t kIndexOffset = 256;
inline constexpr uint32_t kBucketBytes = 8;
inline constexpr uint32_t kEntryHeaderBytes = 64;
inline constexpr uint32_t kMaxEntries = 1u << 24;
inline constexpr uint32_t kMinSlotBytes = 8;
inline constexpr uint32_t kMaxSlotBytes = 1u << 20;
inline constexpr uint64_t kMaxTotalBytes = (uint64_t{1} << 31) - kLineBytes;
inline constexpr uint32_t kMaxKeyBytes = 1536;
inline constexpr uint32_t kFlagLive = 1;
inline constexpr uint32_t kFlagMiss = 2;
// Reader retries on an odd or changed seq before the read counts as a miss.
inline constexpr uint32_t kReadRetries = 64;
inline constexpr uint32_t kEvictionSample = 8;

// Results shared with lib/cache (l2-layout.ts L2Status).
inline constexpr int32_t kOk = 0;
inline constexpr int32_t kMiss = -1;
inline constexpr int32_t kTooBig = -2;
inline constexpr int32_t kBadCache = -3;
inline constexpr int32_t kBusy = -4;
inline constexpr int32_t kOutTooSmall = -5;
inline constexpr int32_t kBadArgument = -6;

struct CacheHeader {
  uint32_t magic;
  uint32_t version;
  uint32_t max_entries;
  uint32_t index_capacity;
  uint32_t slot_bytes;
  uint32_t entry_stride;
  uint32_t index_offset;
  uint32_t entries_offset;
  uint32_t total_bytes;
  // Writers' line: only the lock holder writes it, readers never touch it.
  alignas(kLineBytes) uint32_t write_lock;
  uint32_t used;
  uint32_t free_head;
  uint32_t live;
  uint32_t stamp;
  uint32_t evictions;
};

struct Entry {
  uint32_t seq;  // seqlock: odd while a writer rewrites the entry
  uint32_t flags;
  uint32_t hash;
  uint32_t key_bytes;
  uint32_t value_bytes;
  uint32_t freq;   // readers bump it without the lock (approximate)
  uint32_t stamp;  // header stamp at the write: age for eviction ties
  uint32_t next;   // free-list link, entry + 1
  double expires_at;
  double stale_until;
  double version;
  uint32_t reserved[2];
};

static_assert(offsetof(CacheHeader, magic) == 0);
static_assert(offsetof(CacheHeader, version) == 4);
static_assert(offsetof(CacheHeader, max_entries) == 8);
static_assert(offsetof(CacheHeader, index_capacity) == 12);
static_assert(offsetof(CacheHeader, slot_bytes) == 16);
static_assert(offsetof(CacheHeader, entry_stride) == 20);
static_assert(offsetof(CacheHeader, index_offset) == 24);
static_assert(offsetof(CacheHeader, entries_offset) == 28);
static_assert(offsetof(CacheHeader, total_bytes) == 32);
static_assert(offsetof(CacheHeader, write_lock) == 128);
static_assert(offsetof(CacheHeader, used) == 132);
static_assert(offsetof(CacheHeader, free_head) == 136);
static_assert(offsetof(CacheHeader, live) == 140);
static_assert(offsetof(CacheHeader, stamp) == 144);
static_assert(offsetof(CacheHeader, evictions) == 148);
static_assert(sizeof(CacheHeader) == kHeaderBytes);
static_assert(offsetof(Entry, seq) == 0);
static_assert(offsetof(Entry, flags) == 4);
static_assert(offsetof(Entry, hash) == 8);
static_assert(offsetof(Entry, key_bytes) == 12);
static_assert(offsetof(Entry, value_bytes) == 16);
static_assert(offsetof(Entry, freq) == 20);
static_assert(offsetof(Entry, stamp) == 24);
static_assert(offsetof(Entry, next) == 28);
static_assert(offsetof(Entry, expires_at) == 32);
static_assert(offsetof(Entry, stale_until) == 40);
static_assert(offsetof(Entry, version) == 48);
static_assert(sizeof(Entry) == kEntryHeaderBytes);
static_assert(std::atomic_ref<uint32_t>::is_always_lock_free && std::atomic_ref<uint64_t>::is_always_lock_free,
              "the JS side uses lock-free Atomics");

constexpr uint32_t round_up8(uint32_t n) noexcept { return (n + 7u) & ~7u; }

constexpr uint32_t index_capacity_for(uint32_t max_entries) noexcept {
  uint32_t c = 2;
  while (c < 2 * max_entries) c *= 2;
  return c;
}

// FNV-1a 32 over the UTF-8 key; never 0 (the TS twin is l2-layout.ts fnv1a).
inline uint32_t fnv1a(const uint8_t* b, uint32_t n) noexcept {
  uint32_t h = 0x811c9dc5u;
  for (uint32_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x01000193u;
  return h == 0 ? 1 : h;
}

// The immutable geometry, copied out of a checked header once, so a header scribbled on
// later can never send an access out of bounds.
struct Geometry {
  uint32_t max_entries = 0;
  uint32_t index_capacity = 0;
  uint32_t slot_bytes = 0;
  uint32_t entry_stride = 0;
  uint32_t entries_offset = 0;
  uint64_t total_bytes = 0;

  bool compute(uint32_t entries, uint32_t slot) noexcept {
    if (entries < 1 || entries > kMaxEntries || slot < kMinSlotBytes || slot > kMaxSlotBytes || slot % 8 != 0) return false;
    max_entries = entries;
    index_capacity = index_capacity_for(entries);
    slot_bytes = slot;
    entry_stride = kEntryHeaderBytes + slot;
    const uint64_t idx_end = kIndexOffset + uint64_t{index_capacity} * kBucketBytes;
    entries_offset = static_cast<uint32_t>((idx_end + kLineBytes - 1) / kLineBytes * kLineBytes);
    total_bytes = entries_offset + uint64_t{entries} * entry_stride;
    return total_bytes <= kMaxTotalBytes;
  }

  // 0 or kBadCache.
  int32_t read(const uint8_t* base, std::size_t bytes) noexcept {
    if (base == nullptr || bytes < kHeaderBytes || (reinterpret_cast<std::uintptr_t>(base) & 7u) != 0) return kBadCache;
    auto* h = reinterpret_cast<CacheHeader*>(const_cast<uint8_t*>(base));
    const auto word = [](uint32_t& w) { return std::atomic_ref<uint32_t>(w).load(std::memory_order_acquire); };
    if (word(h->magic) != kMagic || word(h->version) != kVersion) return kBadCache;
    Geometry g;
    if (!g.compute(word(h->max_entries), word(h->slot_bytes))) return kBadCache;
    if (word(h->index_capacity) != g.index_capacity || word(h->entry_stride) != g.entry_stride ||
        word(h->index_offset) != kIndexOffset || word(h->entries_offset) != g.entries_offset ||
        word(h->total_bytes) != g.total_bytes || g.total_bytes > bytes) {
      return kBadCache;
    }
    *this = g;
    return 0;
  }
};

// Writes a fresh header into base (zeroing the whole cache); the TS twin is l2-layout.ts writeHeader.
inline int32_t init_cache(uint8_t* base, std::size_t bytes, uint32_t max_entries, uint32_t slot_bytes) noexcept {
  Geometry g;
  if (base == nullptr || (reinterpret_cast<std::uintptr_t>(base) & 7u) != 0) return kBadCache;
  if (!g.compute(max_entries, slot_bytes) || g.total_bytes > bytes) return kBadCache;
  for (uint64_t i = 0; i < g.total_bytes; ++i) base[i] = 0;
  auto* h = reinterpret_cast<CacheHeader*>(base);
  h->version = kVersion;
  h->max_entries = g.max_entries;
  h->index_capacity = g.index_capacity;
  h->slot_bytes = g.slot_bytes;
  h->entry_stride = g.entry_stride;
  h->index_offset = kIndexOffset;
  h->entries_offset = g.entries_offset;
  h->total_bytes = static_cast<uint32_t>(g.total_bytes);
  // Magic last: a reader that sees it sees a complete header.
  std::atomic_ref<uint32_t>(h->magic).store(kMagic, std::memory_order_seq_cst);
  return 0;
}

}  // namespace up::cache
