// The byte layout every allocator in lib/memory and cpp/memory shares. The prose is in
// docs/memory-layout.md; lib/memory/layout.ts computes the same numbers, the loader
// refuses an addon whose memoryLayout() differs from it (lib/internal/layout-check.ts),
// and test/memory.test.ts compares the geometry through memoryGeometry().
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace up::memory {

static_assert(std::endian::native == std::endian::little, "the layout is little-endian, as JS TypedArrays are here");
static_assert(std::atomic_ref<int32_t>::is_always_lock_free, "JS Atomics on Int32Array needs lock-free 32-bit CAS");
static_assert(std::atomic_ref<int32_t>::required_alignment == 4);

inline constexpr std::size_t kCacheLineSize = 64;
inline constexpr uint32_t kMagic = 0x4D4D5055;  // "UPMM" in memory order
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kHeaderBytes = 64;
// Offsets stay non-negative int32 so JS can hold them in small integers.
inline constexpr uint64_t kMaxTotalBytes = 0x7FFFFFFF;

enum class Kind : uint32_t { slab = 1, buddy = 2, ring = 3, stack = 4 };

inline constexpr uint32_t kFlagShared = 1;

// Returned by alloc-like calls as negative offsets and by free-like calls; the same
// numbers in lib/memory/layout.ts (Status).
enum class Status : int32_t {
  ok = 0,
  full = -1,
  double_free = -2,
  foreign = -3,
  not_oldest = -4,
  corrupt = -5,
  bad_header = -6,
  too_big = -7,
  bad_argument = -8,
  misaligned = -9,
  // A shared buddy/ring lock word stayed held past the header's lock_timeout_ms.
  lock_timeout = -10,
};

// Bound on waiting for a buddy/ring lock word (header field lock_timeout_ms; 0 = default).
inline constexpr uint32_t kDefaultLockTimeoutMs = 1000;
inline constexpr uint32_t kMaxLockTimeoutMs = 60000;

// Every word another thread may rewrite is read once through these (relaxed atomics: the
// compiler may neither tear nor re-read it), then checked before it is used.
template <class T>
inline T load_word(const T* p) noexcept {
  return std::atomic_ref<T>(*const_cast<T*>(p)).load(std::memory_order_relaxed);
}
template <class T>
inline void store_word(T* p, T v) noexcept {
  std::atomic_ref<T>(*p).store(v, std::memory_order_relaxed);
}

// Bytes 0..63 of every allocator buffer. g0..g3 are per kind (see the *Layout structs).
struct Header {
  uint32_t magic;
  uint32_t version;
  uint32_t kind;
  uint32_t flags;
  uint32_t total_bytes;
  uint32_t data_offset;
  uint32_t data_bytes;
  uint32_t g0;
  uint32_t g1;
  uint32_t g2;
  uint32_t g3;
  uint32_t lock_timeout_ms;  // buddy/ring: bound on a lock wait; 0 = kDefaultLockTimeoutMs
  uint32_t reserved[4];
};
static_assert(sizeof(Header) == kHeaderBytes);
static_assert(offsetof(Header, magic) == 0);
static_assert(offsetof(Header, version) == 4);
static_assert(offsetof(Header, kind) == 8);
static_assert(offsetof(Header, flags) == 12);
static_assert(offsetof(Header, total_bytes) == 16);
static_assert(offsetof(Header, data_offset) == 20);
static_assert(offsetof(Header, data_bytes) == 24);
static_assert(offsetof(Header, g0) == 28);
static_assert(offsetof(Header, g1) == 32);
static_assert(offsetof(Header, g2) == 36);
static_assert(offsetof(Header, g3) == 40);
static_assert(offsetof(Header, lock_timeout_ms) == 44);

// The header's lock bound, clamped: the word is as untrusted as the rest of the buffer.
constexpr uint32_t lock_timeout_ms(const Header& h) noexcept {
  return h.lock_timeout_ms == 0 ? kDefaultLockTimeoutMs
                                : (h.lock_timeout_ms > kMaxLockTimeoutMs ? kMaxLockTimeoutMs : h.lock_timeout_ms);
}

constexpr uint64_t align_up(uint64_t n, uint64_t a) noexcept { return (n + a - 1) / a * a; }

// Where everything of one allocator lies, for one geometry. `status` is ok or bad_argument.
struct Geometry {
  Status status = Status::bad_argument;
  uint32_t total_bytes = 0;
  uint32_t data_offset = 0;
  uint32_t data_bytes = 0;
  uint32_t g0 = 0, g1 = 0, g2 = 0, g3 = 0;
  // Kind-specific metadata arrays (slab: next; buddy: meta, prev, next).
  uint32_t array0 = 0, array1 = 0, array2 = 0;
};

// ---- Slab: fixed-size slots, Treiber free list with a tagged head ----
// g0 slotBytes (as asked), g1 stride (slotBytes rounded up to 8), g2 slots, g3 indexBits.
// The head packs (index | tag << indexBits) into one 32-bit word so JS can CAS it with
// Atomics on an Int32Array; the index field's all-ones value means "empty".
struct SlabLayout {
  static constexpr uint32_t kHead = 64;  // alone on cache line 1: every thread CASes it
  static constexpr uint32_t kNext = 128;  // int32 per slot: next free index, or kAllocated
  static constexpr int32_t kAllocated = -2;
  static constexpr uint32_t kMaxSlots = (1u << 24) - 1;  // leaves >= 8 tag bits
  static constexpr uint32_t kMaxSlotBytes = 1u << 30;
};
static_assert(SlabLayout::kHead % kCacheLineSize == 0 && SlabLayout::kNext - SlabLayout::kHead == kCacheLineSize);

constexpr uint32_t slab_index_bits(uint32_t slots) noexcept {
  // The smallest field whose all-ones value (the empty marker) is above every index.
  return static_cast<uint32_t>(std::bit_width(slots));
}

constexpr Geometry slab_geometry(uint32_t slot_bytes, uint32_t slots) noexcept {
  Geometry g;
  if (slot_bytes < 1 || slot_bytes > SlabLayout::kMaxSlotBytes || slots < 1 || slots > SlabLayout::kMaxSlots) return g;
  const uint64_t stride = align_up(slot_bytes, 8);
  const uint64_t data = align_up(SlabLayout::kNext + 4ull * slots, kCacheLineSize);
  const uint64_t total = data + stride * slots;
  if (total > kMaxTotalBytes) return g;
  g.status = Status::ok;
  g.total_bytes = static_cast<uint32_t>(total);
  g.data_offset = static_cast<uint32_t>(data);
  g.data_bytes = static_cast<uint32_t>(stride * slots);
  g.g0 = slot_bytes;
  g.g1 = static_cast<uint32_t>(stride);
  g.g2 = slots;
  g.g3 = slab_index_bits(slots);
  g.array0 = SlabLayout::kNext;
  return g;
}
static_assert(slab_index_bits(1) == 1 && slab_index_bits(2) == 2 && slab_index_bits(3) == 2);
static_assert(slab_index_bits(SlabLayout::kMaxSlots) == 24);
static_assert(slab_geometry(64, 1024).data_offset == 4224 && slab_geometry(64, 1024).total_bytes == 4224 + 65536);

// ---- Buddy: power-of-two blocks, free list per order, side arrays for metadata ----
// g0 minBlock, g1 maxOrder (data = minBlock << maxOrder), g2 minBlocks, g3 0.
// meta[i] (one byte per min block) is 0 inside a block, kFree|order at the start of a
// free block, kUsed|order at the start of an allocated one. prev/next link free blocks
// of one order by min-block index (-1 ends a list); links live beside the data, so a
// write into freed memory cannot break the allocator.
struct BuddyLayout {
  static constexpr uint32_t kLock = 64;  // alone on cache line 1
  static constexpr uint32_t kAvail = 128;  // bit k set when freeHead[k] is not empty
  static constexpr uint32_t kUsedBytes = 132;
  static constexpr uint32_t kLiveBlocks = 136;
  static constexpr uint32_t kFreeHeads = 192;  // int32[32]
  static constexpr uint32_t kMeta = 320;  // uint8[minBlocks]
  static constexpr uint32_t kMaxOrders = 32;
  static constexpr uint8_t kFree = 0x40;
  static constexpr uint8_t kUsed = 0x80;
  static constexpr uint8_t kOrderMask = 0x3F;
  static constexpr uint32_t kMinMinBlock = 8;
  static constexpr uint32_t kMaxBytes = 1u << 30;
  static constexpr uint32_t kMaxMinBlocks = 1u << 24;
};
static_assert(BuddyLayout::kFreeHeads + 4 * BuddyLayout::kMaxOrders == BuddyLayout::kMeta);

constexpr Geometry buddy_geometry(uint32_t bytes, uint32_t min_block) noexcept {
  Geometry g;
  if (!std::has_single_bit(bytes) || !std::has_single_bit(min_block)) return g;
  if (min_block < BuddyLayout::kMinMinBlock || min_block > bytes || bytes > BuddyLayout::kMaxBytes) return g;
  const uint64_t blocks = bytes / min_block;
  if (blocks > BuddyLayout::kMaxMinBlocks) return g;
  const uint64_t prev = align_up(BuddyLayout::kMeta + blocks, kCacheLineSize);
  const uint64_t next = align_up(prev + 4 * blocks, kCacheLineSize);
  const uint64_t data = align_up(next + 4 * blocks, kCacheLineSize);
  const uint64_t total = data + bytes;
  if (total > kMaxTotalBytes) return g;
  g.status = Status::ok;
  g.total_bytes = static_cast<uint32_t>(total);
  g.data_offset = static_cast<uint32_t>(data);
  g.data_bytes = bytes;
  g.g0 = min_block;
  g.g1 = static_cast<uint32_t>(std::countr_zero(static_cast<uint32_t>(blocks)));
  g.g2 = static_cast<uint32_t>(blocks);
  g.array0 = BuddyLayout::kMeta;
  g.array1 = static_cast<uint32_t>(prev);
  g.array2 = static_cast<uint32_t>(next);
  return g;
}
static_assert(buddy_geometry(1 << 20, 64).g1 == 14);

// ---- Ring: FIFO of variable-size records in a circular data region ----
// g0 capacity (data bytes). Each record is an 8-byte header {size, check} and the
// payload rounded up to 8; a record that would cross the end is preceded by a skip
// record and placed at the start. All fields are under the lock when shared.
struct RingLayout {
  static constexpr uint32_t kLock = 64;  // alone on cache line 1
  static constexpr uint32_t kHead = 128;  // next record's position, relative to data
  static constexpr uint32_t kTail = 132;  // oldest record's position
  static constexpr uint32_t kUsed = 136;  // bytes taken by records and skips
  static constexpr uint32_t kCount = 140;  // live records
  static constexpr uint32_t kData = 192;
  static constexpr uint32_t kRecordHeader = 8;
  static constexpr uint32_t kSkip = 0xFFFFFFFF;
  static constexpr uint32_t kCheck = 0x52494E47;  // "RING": check = payload offset ^ kCheck
  static constexpr uint32_t kMinBytes = 16;
  static constexpr uint32_t kMaxBytes = 1u << 30;
};

constexpr Geometry ring_geometry(uint32_t bytes) noexcept {
  Geometry g;
  if (bytes < RingLayout::kMinBytes || bytes > RingLayout::kMaxBytes || bytes % 8 != 0) return g;
  g.status = Status::ok;
  g.total_bytes = RingLayout::kData + bytes;
  g.data_offset = RingLayout::kData;
  g.data_bytes = bytes;
  g.g0 = bytes;
  return g;
}

// ---- Stack: bump pointer with mark/reset ----
// g0 capacity. top is an absolute byte offset (what mark() returns); allocations are
// 8-aligned.
struct StackLayout {
  static constexpr uint32_t kTop = 64;  // alone on cache line 1: CASed by every thread
  static constexpr uint32_t kHighWater = 128;
  static constexpr uint32_t kData = 192;
  static constexpr uint32_t kMinBytes = 8;
  static constexpr uint32_t kMaxBytes = 1u << 30;
};

constexpr Geometry stack_geometry(uint32_t bytes) noexcept {
  Geometry g;
  if (bytes < StackLayout::kMinBytes || bytes > StackLayout::kMaxBytes || bytes % 8 != 0) return g;
  g.status = Status::ok;
  g.total_bytes = StackLayout::kData + bytes;
  g.data_offset = StackLayout::kData;
  g.data_bytes = bytes;
  g.g0 = bytes;
  return g;
}

constexpr Geometry geometry(Kind kind, uint32_t a, uint32_t b) noexcept {
  switch (kind) {
    case Kind::slab: return slab_geometry(a, b);
    case Kind::buddy: return buddy_geometry(a, b);
    case Kind::ring: return ring_geometry(a);
    case Kind::stack: return stack_geometry(a);
  }
  return Geometry{};
}

// Writes the 64-byte header for `g` (status must be ok) at base.
void write_header(std::byte* base, Kind kind, const Geometry& g, bool shared) noexcept;
// The header at base, read once word by word (relaxed atomics: the bytes may come from
// anywhere, and another thread may be writing them).
Header read_header(const std::byte* base) noexcept;

// Writes the header and the kind's initial state into [base, base + len). base must be
// 8-aligned and len >= the geometry's total_bytes. Formatting is single-threaded.
Status format(std::byte* base, std::size_t len, Kind kind, uint32_t a, uint32_t b, bool shared) noexcept;

// Checks that [base, base + len) holds a formatted allocator of `kind` whose geometry
// is self-consistent and fits in len. Every attach and every binding call goes through it.
// The header is read once; `out` receives that copy, which is all an allocator uses
// afterwards (re-reading it would let another thread swap the geometry after the check).
Status validate(const std::byte* base, std::size_t len, Kind kind, Header* out = nullptr) noexcept;

}  // namespace up::memory
