// FIFO allocator over a buffer laid out as in layout.hpp (RingLayout): alloc() takes
// space at the head, release() gives back the oldest allocation. Suited to messages
// that die in the order they were made (outbound frames, log records).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "layout.hpp"
#include "slab.hpp"

namespace up::memory {

struct RingStats {
  uint32_t bytes;
  uint32_t used;  // record headers and skipped tail bytes included
  uint32_t free;
  uint32_t live;
};

class Ring {
 public:
  static std::optional<Ring> format(std::byte* base, std::size_t len, uint32_t bytes, bool shared = false) noexcept;
  static std::optional<Ring> attach(std::byte* base, std::size_t len) noexcept;
  static std::optional<Ring> create(uint32_t bytes, bool shared = false) noexcept;

  // Offset of `size` bytes (8-aligned), -1 when the ring has no room, too_big when it
  // could never fit, bad_argument for 0.
  int32_t alloc(uint32_t size) noexcept;
  // Releases the oldest allocation and returns its offset, or -1 when the ring is empty.
  int32_t release() noexcept;
  // Releases `offset`, which must be the oldest allocation (not_oldest otherwise).
  Status free(int32_t offset) noexcept;
  // The oldest allocation's offset, or -1 when empty.
  int32_t oldest() noexcept;
  // The size asked for the live allocation at offset, or a negative Status.
  int64_t size_of(int32_t offset) noexcept;

  std::byte* at(int32_t offset) const noexcept { return base_ + offset; }
  uint32_t bytes() const noexcept { return bytes_; }
  // The largest size alloc() accepts.
  uint32_t max_size() const noexcept { return bytes_ - RingLayout::kRecordHeader; }
  // ok, or lock_timeout / corrupt from the lock (out untouched then).
  Status stats(RingStats* out) noexcept;
  // Zeros when stats(&out) fails.
  RingStats stats() noexcept {
    RingStats s{};
    (void)stats(&s);
    return s;
  }

 private:
  // h: the header as validated (read once); the constructor never reads it again.
  Ring(std::byte* base, const Header& h, OwnedBytes owned) noexcept;
  // What peek_locked read, once, for release_locked to use without reading it again.
  struct Oldest {
    uint32_t old_tail = 0;
    uint32_t pos = 0;
    uint32_t size = 0;
    uint32_t used = 0;
  };
  // Position of the oldest record (skips followed), or a negative Status; -1 when empty.
  int64_t peek_locked(Oldest* out) noexcept;
  int32_t release_locked(const Oldest& oldest) noexcept;
  bool valid_pos(uint32_t pos) const noexcept;
  uint32_t* word(uint32_t pos) const noexcept { return reinterpret_cast<uint32_t*>(base_ + data_offset_ + pos); }

  std::byte* base_;
  int32_t* lock_;
  uint32_t* head_;
  uint32_t* tail_;
  uint32_t* used_;
  uint32_t* count_;
  uint32_t bytes_;
  uint32_t data_offset_;
  uint32_t lock_timeout_ms_;
  bool shared_;
  OwnedBytes owned_;
};

}  // namespace up::memory
