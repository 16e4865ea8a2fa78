// The shared-memory layout of SpscQueue and MpmcQueue, byte for byte. lib/queue/layout.ts
// implements the same layout with Atomics on an Int32Array; the addon exports these
// offsets and test/queue.test.ts compares them with the TS constants.
//
//   offset  size  field              written by        read by
//   ------  ----  -----------------  ----------------  -----------------------------
//   line 0 (config, written once by create, then read-mostly)
//        0     4  magic 0x55505155   create            attach
//        4     4  version (1)        create            attach
//        8     4  kind (1 SPSC, 2 MPMC)
//       12     4  capacity           (power of two, 2..2^30)
//       16     4  slot_bytes         (largest message, 1..2^24)
//       20     4  slot_stride        (kSlotHeaderBytes + slot_bytes rounded up to 8)
//       24     4  data_offset        (kDataOffset)
//       28     4  total_bytes        (data_offset + capacity * stride, rounded to a line)
//       32     4  closed             close()           everyone (0 open, 1 closed)
//   line 1 @128  tail / enqueue_pos  producer(s)       consumer(s), size()
//   line 2 @256  head_cache          SPSC producer only (its cached copy of head)
//   line 3 @384  head / dequeue_pos  consumer(s)       producer(s), size()
//   line 4 @512  tail_cache          SPSC consumer only (its cached copy of tail)
//   line 5 @640  not_empty_seq, consumers_asleep (flag), native_producers
//   line 6 @768  not_full_seq, producers_asleep (flag)
//   @896         slots: capacity x slot_stride bytes, each
//                  +0 u32 seq    (MPMC: Vyukov's per-slot sequence; SPSC: unused, 0)
//                  +4 u32 length (bytes of payload in use)
//                  +8 payload    (slot_bytes, padded to 8)
//
// Indices are free-running u32 counters; a slot is index & (capacity - 1). Every field is
// 4 bytes so JS can use Atomics.wait on it (Int32Array); C++ reads them as uint32_t or
// int32_t through std::atomic_ref, which has the same bits and the same alignment.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace up::queue {

// Two 64-byte lines: Intel's adjacent-line prefetcher pulls lines in pairs, so indices
// owned by different threads sit 128 bytes apart (crossbeam's CachePadded does the same).
inline constexpr std::size_t kCacheLineSize = 64;
inline constexpr std::size_t kLineBytes = 2 * kCacheLineSize;

inline constexpr uint32_t kMagic = 0x55505155;  // "UQPU" in memory: ultra-performance queue
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kKindSpsc = 1;
inline constexpr uint32_t kKindMpmc = 2;

inline constexpr uint32_t kMinCapacity = 2;
inline constexpr uint32_t kMaxCapacity = 1u << 30;
inline constexpr uint32_t kMaxSlotBytes = 1u << 24;
// Offsets stay below 2^31 so JS index arithmetic stays in small integers.
inline constexpr uint64_t kMaxTotalBytes = (uint64_t{1} << 31) - kLineBytes;
inline constexpr uint32_t kSlotHeaderBytes = 8;
inline constexpr uint32_t kSlotSeqOffset = 0;
inline constexpr uint32_t kSlotLengthOffset = 4;

// Results shared with lib/queue (layout.ts Status). Non-negative values are counts or
// byte lengths; kWakeBit on a result means "someone may sleep: the caller must notify
// every waiter on the matching seq".
inline constexpr int32_t kFull = 0;
inline constexpr int32_t kPushed = 1;
inline constexpr int32_t kEmpty = -1;
inline constexpr int32_t kClosed = -2;
inline constexpr int32_t kTooBig = -3;
inline constexpr int32_t kOutTooSmall = -4;
inline constexpr int32_t kBadQueue = -5;
inline constexpr int32_t kCorrupt = -6;
inline constexpr int32_t kBadBatch = -7;
inline constexpr int32_t kStopped = -8;
inline constexpr int32_t kBadArgument = -9;
inline constexpr int32_t kWakeBit = 1 << 29;

struct QueueHeader {
  uint32_t magic;
  uint32_t version;
  uint32_t kind;
  uint32_t capacity;
  uint32_t slot_bytes;
  uint32_t slot_stride;
  uint32_t data_offset;
  uint32_t total_bytes;
  int32_t closed;
  // Producers own this line; consumers only read it.
  alignas(kLineBytes) uint32_t tail;
  // The SPSC producer's private copy of head: the full check rarely touches line 3.
  alignas(kLineBytes) uint32_t head_cache;
  // Consumers own this line; producers only read it.
  alignas(kLineBytes) uint32_t head;
  // The SPSC consumer's private copy of tail: the empty check rarely touches line 1.
  alignas(kLineBytes) uint32_t tail_cache;
  // Slow-path state apart from the indices, so sleeping never dirties a hot line.
  // *_asleep is a flag: set by a thread about to sleep, cleared by the one that wakes all.
  alignas(kLineBytes) int32_t not_empty_seq;
  int32_t consumers_asleep;
  int32_t native_producers;
  alignas(kLineBytes) int32_t not_full_seq;
  int32_t producers_asleep;
};

inline constexpr uint32_t kDataOffset = 7 * kLineBytes;

static_assert(offsetof(QueueHeader, magic) == 0);
static_assert(offsetof(QueueHeader, version) == 4);
static_assert(offsetof(QueueHeader, kind) == 8);
static_assert(offsetof(QueueHeader, capacity) == 12);
static_assert(offsetof(QueueHeader, slot_bytes) == 16);
static_assert(offsetof(QueueHeader, slot_stride) == 20);
static_assert(offsetof(QueueHeader, data_offset) == 24);
static_assert(offsetof(QueueHeader, total_bytes) == 28);
static_assert(offsetof(QueueHeader, closed) == 32);
static_assert(offsetof(QueueHeader, tail) == 1 * kLineBytes);
static_assert(offsetof(QueueHeader, head_cache) == 2 * kLineBytes);
static_assert(offsetof(QueueHeader, head) == 3 * kLineBytes);
static_assert(offsetof(QueueHeader, tail_cache) == 4 * kLineBytes);
static_assert(offsetof(QueueHeader, not_empty_seq) == 5 * kLineBytes);
static_assert(offsetof(QueueHeader, consumers_asleep) == 5 * kLineBytes + 4);
static_assert(offsetof(QueueHeader, native_producers) == 5 * kLineBytes + 8);
static_assert(offsetof(QueueHeader, not_full_seq) == 6 * kLineBytes);
static_assert(offsetof(QueueHeader, producers_asleep) == 6 * kLineBytes + 4);
static_assert(sizeof(QueueHeader) == kDataOffset);
static_assert(alignof(QueueHeader) == kLineBytes);
static_assert(std::atomic_ref<uint32_t>::required_alignment <= 4, "JS Int32Array fields are 4-aligned");
static_assert(std::atomic_ref<uint32_t>::is_always_lock_free, "the JS side uses lock-free Atomics");
static_assert(kMaxCapacity <= (1u << 31), "u32 index differences must stay unambiguous");
static_assert(kMaxSlotBytes < static_cast<uint32_t>(kWakeBit), "a length never collides with kWakeBit");

constexpr uint32_t slot_stride_for(uint32_t slot_bytes) noexcept {
  return kSlotHeaderBytes + ((slot_bytes + 7u) & ~7u);
}

constexpr uint64_t total_bytes_for(uint32_t capacity, uint32_t slot_bytes) noexcept {
  const uint64_t end = kDataOffset + uint64_t{capacity} * slot_stride_for(slot_bytes);
  return (end + kLineBytes - 1) / kLineBytes * kLineBytes;
}

constexpr bool is_power_of_two(uint32_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

// The immutable part of the header, copied out once and checked against the buffer
// size, so a header scribbled on later can never send an access out of bounds.
struct Geometry {
  uint32_t capacity = 0;
  uint32_t mask = 0;
  uint32_t slot_bytes = 0;
  uint32_t slot_stride = 0;
  uint32_t data_offset = 0;

  // kind 0 accepts either kind. Returns 0 or kBadQueue.
  int32_t read(const uint8_t* base, std::size_t bytes, uint32_t kind) noexcept {
    if (base == nullptr || bytes < kDataOffset) return kBadQueue;
    if ((reinterpret_cast<std::uintptr_t>(base) & 7u) != 0) return kBadQueue;
    auto* h = reinterpret_cast<QueueHeader*>(const_cast<uint8_t*>(base));
    // Each word read once (relaxed atomics: another thread may be writing them) and
    // only the checked copies are used afterwards.
    const auto word = [](uint32_t& w) { return std::atomic_ref<uint32_t>(w).load(std::memory_order_relaxed); };
    if (word(h->magic) != kMagic || word(h->version) != kVersion) return kBadQueue;
    const uint32_t k = word(h->kind);
    if (kind != 0 ? k != kind : (k != kKindSpsc && k != kKindMpmc)) return kBadQueue;
    const uint32_t cap = word(h->capacity);
    const uint32_t slot = word(h->slot_bytes);
    if (!is_power_of_two(cap) || cap < kMinCapacity || cap > kMaxCapacity) return kBadQueue;
    if (slot == 0 || slot > kMaxSlotBytes) return kBadQueue;
    if (word(h->slot_stride) != slot_stride_for(slot) || word(h->data_offset) != kDataOffset) return kBadQueue;
    const uint64_t total = total_bytes_for(cap, slot);
    if (total > kMaxTotalBytes || word(h->total_bytes) != total || total > bytes) return kBadQueue;
    capacity = cap;
    mask = cap - 1;
    slot_bytes = slot;
    slot_stride = slot_stride_for(slot);
    data_offset = kDataOffset;
    return 0;
  }
};

// Writes a fresh header and slot array; the TS twin is writeHeader in layout.ts.
// Returns 0, or kBadQueue when the geometry is invalid or does not fit in bytes.
inline int32_t init_queue(uint8_t* base, std::size_t bytes, uint32_t kind, uint32_t capacity,
                          uint32_t slot_bytes) noexcept {
  if (base == nullptr || (kind != kKindSpsc && kind != kKindMpmc)) return kBadQueue;
  if (!is_power_of_two(capacity) || capacity < kMinCapacity || capacity > kMaxCapacity) return kBadQueue;
  if (slot_bytes == 0 || slot_bytes > kMaxSlotBytes) return kBadQueue;
  const uint64_t total = total_bytes_for(capacity, slot_bytes);
  if (total > kMaxTotalBytes || total > bytes) return kBadQueue;
  auto* h = reinterpret_cast<QueueHeader*>(base);
  for (std::size_t i = 0; i < total; ++i) base[i] = 0;
  h->version = kVersion;
  h->kind = kind;
  h->capacity = capacity;
  h->slot_bytes = slot_bytes;
  h->slot_stride = slot_stride_for(slot_bytes);
  h->data_offset = kDataOffset;
  h->total_bytes = static_cast<uint32_t>(total);
  if (kind == kKindMpmc) {
    const uint32_t stride = slot_stride_for(slot_bytes);
    for (uint32_t i = 0; i < capacity; ++i) {
      std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(base + kDataOffset + std::size_t{i} * stride))
          .store(i, std::memory_order_relaxed);
    }
  }
  // Magic last: a reader that sees it sees a complete header.
  std::atomic_ref<uint32_t>(h->magic).store(kMagic, std::memory_order_seq_cst);
  return 0;
}

}  // namespace up::queue
