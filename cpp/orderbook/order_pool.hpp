// Order nodes in cpp/memory's Slab. A Slab has a fixed slot count and hands out byte
// offsets; an engine must grow without moving live orders, so this thin adapter chains
// slabs of kChunkSlots each and names a node by a 32-bit handle (chunk << kChunkBits | slot).
#pragma once

#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <vector>

#include "../memory/slab.hpp"

namespace up::orderbook {

template <class T>
class SlabPool {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  // 16,384 slots of 64 bytes: a 1 MiB chunk, cheap to create for a small book.
  static constexpr uint32_t kChunkBits = 14;
  static constexpr uint32_t kChunkSlots = 1u << kChunkBits;
  static constexpr int32_t kNone = -1;

  // A handle to a fresh node, or kNone when memory ran out. O(1): chunks with room are kept
  // on a stack, so a large book does not scan its full chunks.
  int32_t alloc() noexcept {
    // A chunk is on with_room_ exactly when it has a free slot, so the stack never holds
    // more entries than there are chunks and free() never has to grow it.
    if (!with_room_.empty()) {
      const uint32_t c = with_room_.back();
      const int32_t h = alloc_in(c);
      if (used_[c] == kChunkSlots || h == kNone) with_room_.pop_back();
      if (h != kNone) return h;
    }
    if (chunks_.size() >= (1u << (31 - kChunkBits))) return kNone;
    std::optional<memory::Slab> slab = memory::Slab::create(sizeof(T), kChunkSlots);
    if (!slab) return kNone;
    try {
      chunks_.reserve(chunks_.size() + 1);
      used_.reserve(chunks_.size() + 1);
      with_room_.reserve(chunks_.size() + 1);
    } catch (const std::bad_alloc&) {
      return kNone;
    }
    chunks_.push_back(std::move(*slab));
    used_.push_back(0);
    const auto c = static_cast<uint32_t>(chunks_.size() - 1);
    with_room_.push_back(c);
    return alloc_in(c);
  }

  void free(int32_t h) noexcept {
    const auto c = static_cast<uint32_t>(h) >> kChunkBits;
    memory::Slab& s = chunks_[c];
    // The slab refuses double or foreign frees; the engine never makes one.
    if (s.free(static_cast<int32_t>(s.data_offset() + (static_cast<uint32_t>(h) & (kChunkSlots - 1)) * s.stride())) !=
        memory::Status::ok) {
      return;
    }
    // with_room_ has spare capacity for every chunk (reserved when the chunk was added).
    if (used_[c]-- == kChunkSlots) with_room_.push_back(c);
  }

  T& operator[](int32_t h) noexcept {
    const memory::Slab& s = chunks_[static_cast<uint32_t>(h) >> kChunkBits];
    return *std::launder(reinterpret_cast<T*>(
        s.at(static_cast<int32_t>(s.data_offset() + (static_cast<uint32_t>(h) & (kChunkSlots - 1)) * s.stride()))));
  }

  std::size_t chunks() const noexcept { return chunks_.size(); }

 private:
  int32_t alloc_in(uint32_t c) noexcept {
    memory::Slab& s = chunks_[c];
    const int32_t off = s.alloc();
    if (off < 0) return kNone;
    ++used_[c];
    const uint32_t slot = (static_cast<uint32_t>(off) - s.data_offset()) / s.stride();
    T* p = new (s.at(off)) T{};
    (void)p;
    return static_cast<int32_t>((c << kChunkBits) | slot);
  }

  std::vector<memory::Slab> chunks_;
  std::vector<uint32_t> used_;
  std::vector<uint32_t> with_room_;
};

// Order id -> node handle: open addressing with linear probing and backward-shift
// deletion (no tombstones, so a long-lived engine does not slow down). Id 0 marks empty.
class IdMap {
 public:
  IdMap() { rehash(1024); }

  int32_t find(uint64_t id) const noexcept {
    for (std::size_t i = slot(id);; i = (i + 1) & mask_) {
      if (keys_[i] == id) return vals_[i];
      if (keys_[i] == 0) return -1;
    }
  }
  void insert(uint64_t id, int32_t v) {
    if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.size() * 2);
    std::size_t i = slot(id);
    while (keys_[i] != 0 && keys_[i] != id) i = (i + 1) & mask_;
    if (keys_[i] == 0) ++size_;
    keys_[i] = id;
    vals_[i] = v;
  }
  void erase(uint64_t id) noexcept {
    std::size_t i = slot(id);
    while (keys_[i] != id) {
      if (keys_[i] == 0) return;
      i = (i + 1) & mask_;
    }
    // Shift back later entries whose probe run passes through the hole.
    std::size_t j = i;
    for (;;) {
      j = (j + 1) & mask_;
      if (keys_[j] == 0) break;
      const std::size_t home = slot(keys_[j]);
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        keys_[i] = keys_[j];
        vals_[i] = vals_[j];
        i = j;
      }
    }
    keys_[i] = 0;
    --size_;
  }
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t slot(uint64_t id) const noexcept { return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ull) >> shift_); }
  void rehash(std::size_t cap) {
    std::vector<uint64_t> old_keys(cap, 0);
    std::vector<int32_t> old_vals(cap, -1);
    old_keys.swap(keys_);
    old_vals.swap(vals_);
    mask_ = cap - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
    size_ = 0;
    for (std::size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != 0) insert(old_keys[i], old_vals[i]);
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<int32_t> vals_;
  std::size_t mask_ = 0;
  unsigned shift_ = 0;
  std::size_t size_ = 0;
};

}  // namespace up::orderbook
