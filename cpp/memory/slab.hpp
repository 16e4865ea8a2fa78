// Fixed-size slot allocator over a buffer laid out as in layout.hpp (SlabLayout): the
// allocator the order books take their nodes from, and the one lib/memory's
// SlabAllocator drives from JS on the same bytes.
//
// Shared slabs use a Treiber free list whose head packs (index | tag << indexBits) in
// 32 bits, so JS can CAS the same word with Atomics on an Int32Array and never needs a
// BigInt. The tag grows on every head change; ABA needs a thread to stall between its
// load and its CAS while 2^(32 - indexBits) head changes bring the same index back to
// the top (>= 256 with the maximum 2^24 - 1 slots, 2^21 with 1024). See docs/memory-layout.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "layout.hpp"

namespace up::memory {

struct AlignedFree {
  void operator()(std::byte* p) const noexcept;
};
using OwnedBytes = std::unique_ptr<std::byte[], AlignedFree>;
// Zeroed, cache-line-aligned memory, or null when it cannot be had.
OwnedBytes allocate_aligned(std::size_t bytes) noexcept;

struct SlabStats {
  uint32_t slot_bytes;
  uint32_t slots;
  uint32_t used;
  uint32_t free;
};

class Slab {
 public:
  // Formats caller-owned memory (8-aligned, at least slab_geometry().total_bytes) and
  // attaches to it. The memory must outlive the Slab.
  static std::optional<Slab> format(std::byte* base, std::size_t len, uint32_t slot_bytes, uint32_t slots,
                                    bool shared = false) noexcept;
  // Attaches to memory formatted here or by lib/memory; nullopt when it is not a slab.
  static std::optional<Slab> attach(std::byte* base, std::size_t len) noexcept;
  // A slab on memory it owns and frees.
  static std::optional<Slab> create(uint32_t slot_bytes, uint32_t slots, bool shared = false) noexcept;

  // Byte offset of a free slot from the start of the buffer, or -1 when all are taken.
  int32_t alloc() noexcept { return shared_ ? alloc_shared() : alloc_local(); }
  // ok, or double_free / foreign / misaligned, leaving the slab unchanged.
  Status free(int32_t offset) noexcept;

  void* alloc_ptr() noexcept {
    const int32_t off = alloc();
    return off < 0 ? nullptr : base_ + off;
  }
  Status free_ptr(const void* p) noexcept;

  std::byte* at(int32_t offset) const noexcept { return base_ + offset; }
  std::byte* base() const noexcept { return base_; }
  uint32_t slot_bytes() const noexcept { return slot_bytes_; }
  uint32_t stride() const noexcept { return stride_; }
  uint32_t slots() const noexcept { return slots_; }
  uint32_t data_offset() const noexcept { return data_offset_; }
  uint32_t total_bytes() const noexcept { return data_offset_ + stride_ * slots_; }
  bool shared() const noexcept { return shared_; }
  // Exact when no other thread is allocating; a consistent-per-slot count otherwise.
  SlabStats stats() const noexcept;

 private:
  // h: the header as validated (read once); the constructor never reads it again.
  Slab(std::byte* base, const Header& h, OwnedBytes owned) noexcept;
  int32_t alloc_local() noexcept;
  int32_t alloc_shared() noexcept;
  // The slot index for an offset, or a negative Status.
  int32_t index_of(int32_t offset) const noexcept;

  std::byte* base_;
  uint32_t* head_;
  int32_t* next_;
  uint32_t slot_bytes_;
  uint32_t stride_;
  uint32_t slots_;
  uint32_t data_offset_;
  uint32_t index_mask_;
  uint32_t tag_unit_;
  bool shared_;
  OwnedBytes owned_;
};

}  // namespace up::memory
