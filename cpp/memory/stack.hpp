// Bump allocator over a buffer laid out as in layout.hpp (StackLayout): alloc() moves
// the top up, mark() reads it, reset(mark) drops everything allocated after the mark.
// Shared stacks move the top with a CAS, so alloc never takes a lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "layout.hpp"
#include "slab.hpp"

namespace up::memory {

struct StackStats {
  uint32_t bytes;
  uint32_t used;
  uint32_t free;
  uint32_t high_water;
};

class Stack {
 public:
  static std::optional<Stack> format(std::byte* base, std::size_t len, uint32_t bytes, bool shared = false) noexcept;
  static std::optional<Stack> attach(std::byte* base, std::size_t len) noexcept;
  static std::optional<Stack> create(uint32_t bytes, bool shared = false) noexcept;

  // Offset of `size` bytes (8-aligned), -1 when the stack has no room, too_big when it
  // could never fit, bad_argument for 0.
  int32_t alloc(uint32_t size) noexcept;
  // The current top (pass it to reset() to free everything allocated after it), or
  // corrupt when the shared top word is out of range.
  int32_t mark() const noexcept;
  // ok, or bad_argument when mark is not 8-aligned, below the data or above the top.
  Status reset(int32_t mark) noexcept;

  std::byte* at(int32_t offset) const noexcept { return base_ + offset; }
  uint32_t bytes() const noexcept { return bytes_; }
  uint32_t data_offset() const noexcept { return data_offset_; }
  StackStats stats() const noexcept;

 private:
  // h: the header as validated (read once); the constructor never reads it again.
  Stack(std::byte* base, const Header& h, OwnedBytes owned) noexcept;
  bool valid_top(int32_t top) const noexcept;

  std::byte* base_;
  int32_t* top_;
  int32_t* high_water_;
  uint32_t bytes_;
  uint32_t data_offset_;
  bool shared_;
  OwnedBytes owned_;
};

}  // namespace up::memory
