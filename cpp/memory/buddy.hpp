// Power-of-two buddy allocator over a buffer laid out as in layout.hpp (BuddyLayout).
// Blocks split on alloc and merge with their buddy on free; free lists are doubly
// linked through side arrays so both ends are O(1) and user writes into freed memory
// cannot reach them. Shared buddies take the WordLock (lock.hpp) around each call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "layout.hpp"
#include "slab.hpp"

namespace up::memory {

struct BuddyStats {
  uint32_t bytes;
  uint32_t used;
  uint32_t free;
  uint32_t largest_free_block;
  uint32_t live_blocks;
  // 1 - largest_free_block / free: 0 when the free space is one block (or none).
  double fragmentation;
};

class Buddy {
 public:
  static std::optional<Buddy> format(std::byte* base, std::size_t len, uint32_t bytes, uint32_t min_block,
                                     bool shared = false) noexcept;
  static std::optional<Buddy> attach(std::byte* base, std::size_t len) noexcept;
  static std::optional<Buddy> create(uint32_t bytes, uint32_t min_block, bool shared = false) noexcept;

  // Offset of a block of at least `size` bytes aligned to its size (relative to the data
  // region), -1 when no block is free, too_big above the region, bad_argument for 0;
  // corrupt when a link or meta byte is out of range, lock_timeout when shared and the
  // lock word stays held past the header's bound.
  int32_t alloc(uint32_t size) noexcept;
  // ok, or double_free / foreign / misaligned, leaving the allocator unchanged.
  Status free(int32_t offset) noexcept;
  // The size of the live block at offset, or a negative Status.
  int64_t block_size(int32_t offset) noexcept;

  std::byte* at(int32_t offset) const noexcept { return base_ + offset; }
  uint32_t bytes() const noexcept { return bytes_; }
  uint32_t min_block() const noexcept { return min_block_; }
  uint32_t max_order() const noexcept { return max_order_; }
  uint32_t data_offset() const noexcept { return data_offset_; }
  bool shared() const noexcept { return shared_; }
  // ok, or lock_timeout / corrupt from the lock (out untouched then).
  Status stats(BuddyStats* out) noexcept;
  // Zeros when stats(&out) fails.
  BuddyStats stats() noexcept {
    BuddyStats s{};
    (void)stats(&s);
    return s;
  }

 private:
  // h: the header as validated (read once); the constructor never reads it again.
  Buddy(std::byte* base, const Header& h, OwnedBytes owned) noexcept;
  void reset() noexcept;
  int32_t alloc_locked(uint32_t order) noexcept;
  Status free_locked(uint32_t block) noexcept;
  bool valid_link(int32_t v) const noexcept { return v == -1 || (v >= 0 && static_cast<uint32_t>(v) < blocks_); }
  Status push(uint32_t order, uint32_t block) noexcept;
  Status unlink(uint32_t order, uint32_t block) noexcept;
  // The min-block index for an offset, or a negative Status.
  int32_t block_of(int32_t offset) const noexcept;

  std::byte* base_;
  int32_t* lock_;
  int32_t* avail_;
  int32_t* used_bytes_;
  int32_t* live_blocks_;
  int32_t* heads_;
  uint8_t* meta_;
  int32_t* prev_;
  int32_t* next_;
  uint32_t bytes_;
  uint32_t min_block_;
  uint32_t min_shift_;
  uint32_t max_order_;
  uint32_t blocks_;
  uint32_t data_offset_;
  uint32_t lock_timeout_ms_;
  bool shared_;
  OwnedBytes owned_;
};

}  // namespace up::memory
