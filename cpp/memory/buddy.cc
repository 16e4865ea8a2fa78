#include "buddy.hpp"

#include <bit>

#include "lock.hpp"

namespace up::memory {

Buddy::Buddy(std::byte* base, OwnedBytes owned) noexcept : base_(base), owned_(std::move(owned)) {
  const Header h = read_header(base);
  const Geometry g = buddy_geometry(h.data_bytes, h.g0);
  lock_ = reinterpret_cast<int32_t*>(base + BuddyLayout::kLock);
  avail_ = reinterpret_cast<int32_t*>(base + BuddyLayout::kAvail);
  used_bytes_ = reinterpret_cast<int32_t*>(base + BuddyLayout::kUsedBytes);
  live_blocks_ = reinterpret_cast<int32_t*>(base + BuddyLayout::kLiveBlocks);
  heads_ = reinterpret_cast<int32_t*>(base + BuddyLayout::kFreeHeads);
  meta_ = reinterpret_cast<uint8_t*>(base + g.array0);
  prev_ = reinterpret_cast<int32_t*>(base + g.array1);
  next_ = reinterpret_cast<int32_t*>(base + g.array2);
  bytes_ = h.data_bytes;
  min_block_ = h.g0;
  min_shift_ = static_cast<uint32_t>(std::countr_zero(h.g0));
  max_order_ = h.g1;
  blocks_ = h.g2;
  data_offset_ = h.data_offset;
  shared_ = (h.flags & kFlagShared) != 0;
}

std::optional<Buddy> Buddy::format(std::byte* base, std::size_t len, uint32_t bytes, uint32_t min_block,
                                   bool shared) noexcept {
  const Geometry g = buddy_geometry(bytes, min_block);
  if (g.status != Status::ok || base == nullptr || len < g.total_bytes || reinterpret_cast<uintptr_t>(base) % 8 != 0) {
    return std::nullopt;
  }
  write_header(base, Kind::buddy, g, shared);
  Buddy b(base, nullptr);
  b.reset();
  return b;
}

std::optional<Buddy> Buddy::attach(std::byte* base, std::size_t len) noexcept {
  if (validate(base, len, Kind::buddy) != Status::ok) return std::nullopt;
  return Buddy(base, nullptr);
}

std::optional<Buddy> Buddy::create(uint32_t bytes, uint32_t min_block, bool shared) noexcept {
  const Geometry g = buddy_geometry(bytes, min_block);
  if (g.status != Status::ok) return std::nullopt;
  OwnedBytes mem = allocate_aligned(g.total_bytes);
  if (!mem) return std::nullopt;
  if (!format(mem.get(), g.total_bytes, bytes, min_block, shared)) return std::nullopt;
  std::byte* base = mem.get();
  return Buddy(base, std::move(mem));
}

void Buddy::reset() noexcept {
  *lock_ = 0;
  *avail_ = 0;
  *used_bytes_ = 0;
  *live_blocks_ = 0;
  for (uint32_t k = 0; k < BuddyLayout::kMaxOrders; ++k) heads_[k] = -1;
  for (uint32_t i = 0; i < blocks_; ++i) {
    meta_[i] = 0;
    prev_[i] = -1;
    next_[i] = -1;
  }
  push(max_order_, 0);
}

void Buddy::push(uint32_t order, uint32_t block) noexcept {
  const int32_t head = heads_[order];
  next_[block] = head;
  prev_[block] = -1;
  if (head >= 0) prev_[head] = static_cast<int32_t>(block);
  heads_[order] = static_cast<int32_t>(block);
  meta_[block] = static_cast<uint8_t>(BuddyLayout::kFree | order);
  *avail_ |= static_cast<int32_t>(1u << order);
}

void Buddy::unlink(uint32_t order, uint32_t block) noexcept {
  const int32_t p = prev_[block];
  const int32_t n = next_[block];
  if (p >= 0) {
    next_[p] = n;
  } else {
    heads_[order] = n;
  }
  if (n >= 0) prev_[n] = p;
  if (heads_[order] < 0) *avail_ &= ~static_cast<int32_t>(1u << order);
}

int32_t Buddy::alloc(uint32_t size) noexcept {
  if (size == 0) return static_cast<int32_t>(Status::bad_argument);
  if (size > bytes_) return static_cast<int32_t>(Status::too_big);
  const uint32_t order = size <= min_block_ ? 0 : static_cast<uint32_t>(std::bit_width(size - 1)) - min_shift_;
  MaybeLocked guard(lock_, shared_);
  return alloc_locked(order);
}

int32_t Buddy::alloc_locked(uint32_t order) noexcept {
  const uint32_t fits = static_cast<uint32_t>(*avail_) & ~((1u << order) - 1);
  if (fits == 0) return static_cast<int32_t>(Status::full);
  uint32_t k = static_cast<uint32_t>(std::countr_zero(fits));
  const int32_t head = heads_[k];
  if (k > max_order_ || head < 0 || static_cast<uint32_t>(head) >= blocks_ || !valid_link(next_[head]) ||
      meta_[head] != (BuddyLayout::kFree | k)) {
    return static_cast<int32_t>(Status::corrupt);
  }
  const auto block = static_cast<uint32_t>(head);
  unlink(k, block);
  while (k > order) {
    --k;
    push(k, block + (1u << k));
  }
  meta_[block] = static_cast<uint8_t>(BuddyLayout::kUsed | order);
  *used_bytes_ += static_cast<int32_t>(min_block_ << order);
  *live_blocks_ += 1;
  return static_cast<int32_t>(data_offset_ + (block << min_shift_));
}

int32_t Buddy::block_of(int32_t offset) const noexcept {
  if (offset < static_cast<int32_t>(data_offset_)) return static_cast<int32_t>(Status::foreign);
  const uint32_t rel = static_cast<uint32_t>(offset) - data_offset_;
  if (rel >= bytes_) return static_cast<int32_t>(Status::foreign);
  if ((rel & (min_block_ - 1)) != 0) return static_cast<int32_t>(Status::misaligned);
  return static_cast<int32_t>(rel >> min_shift_);
}

Status Buddy::free(int32_t offset) noexcept {
  const int32_t block = block_of(offset);
  if (block < 0) return static_cast<Status>(block);
  MaybeLocked guard(lock_, shared_);
  return free_locked(static_cast<uint32_t>(block));
}

Status Buddy::free_locked(uint32_t block) noexcept {
  const uint8_t m = meta_[block];
  if ((m & BuddyLayout::kUsed) == 0) return (m & BuddyLayout::kFree) != 0 ? Status::double_free : Status::foreign;
  uint32_t order = m & BuddyLayout::kOrderMask;
  if (order > max_order_ || (block & ((1u << order) - 1)) != 0) return Status::corrupt;
  meta_[block] = 0;
  *used_bytes_ -= static_cast<int32_t>(min_block_ << order);
  *live_blocks_ -= 1;
  while (order < max_order_) {
    const uint32_t buddy = block ^ (1u << order);
    if (meta_[buddy] != (BuddyLayout::kFree | order)) break;
    if (!valid_link(prev_[buddy]) || !valid_link(next_[buddy])) return Status::corrupt;
    unlink(order, buddy);
    meta_[buddy] = 0;
    block &= ~(1u << order);
    ++order;
  }
  push(order, block);
  return Status::ok;
}

int64_t Buddy::block_size(int32_t offset) noexcept {
  const int32_t block = block_of(offset);
  if (block < 0) return block;
  MaybeLocked guard(lock_, shared_);
  const uint8_t m = meta_[block];
  if ((m & BuddyLayout::kUsed) == 0) {
    return static_cast<int64_t>((m & BuddyLayout::kFree) != 0 ? Status::double_free : Status::foreign);
  }
  return static_cast<int64_t>(min_block_) << (m & BuddyLayout::kOrderMask);
}

BuddyStats Buddy::stats() noexcept {
  MaybeLocked guard(lock_, shared_);
  const auto avail = static_cast<uint32_t>(*avail_);
  const auto used = static_cast<uint32_t>(*used_bytes_);
  const uint32_t free = bytes_ - used;
  const uint32_t largest = avail == 0 ? 0 : min_block_ << (std::bit_width(avail) - 1);
  const double frag = free == 0 ? 0.0 : 1.0 - static_cast<double>(largest) / static_cast<double>(free);
  return BuddyStats{bytes_, used, free, largest, static_cast<uint32_t>(*live_blocks_), frag};
}

}  // namespace up::memory
