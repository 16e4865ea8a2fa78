#include "buddy.hpp"

#include <algorithm>
#include <bit>

#include "lock.hpp"

namespace up::memory {

Buddy::Buddy(std::byte* base, const Header& h, OwnedBytes owned) noexcept : base_(base), owned_(std::move(owned)) {
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
  lock_timeout_ms_ = lock_timeout_ms(h);
}

std::optional<Buddy> Buddy::format(std::byte* base, std::size_t len, uint32_t bytes, uint32_t min_block,
                                   bool shared) noexcept {
  const Geometry g = buddy_geometry(bytes, min_block);
  if (g.status != Status::ok || base == nullptr || len < g.total_bytes || reinterpret_cast<uintptr_t>(base) % 8 != 0) {
    return std::nullopt;
  }
  write_header(base, Kind::buddy, g, shared);
  Buddy b(base, read_header(base), nullptr);
  b.reset();
  return b;
}

std::optional<Buddy> Buddy::attach(std::byte* base, std::size_t len) noexcept {
  Header h;
  if (validate(base, len, Kind::buddy, &h) != Status::ok) return std::nullopt;
  return Buddy(base, h, nullptr);
}

std::optional<Buddy> Buddy::create(uint32_t bytes, uint32_t min_block, bool shared) noexcept {
  const Geometry g = buddy_geometry(bytes, min_block);
  if (g.status != Status::ok) return std::nullopt;
  OwnedBytes mem = allocate_aligned(g.total_bytes);
  if (!mem) return std::nullopt;
  if (!format(mem.get(), g.total_bytes, bytes, min_block, shared)) return std::nullopt;
  std::byte* base = mem.get();
  return Buddy(base, read_header(base), std::move(mem));
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
  (void)push(max_order_, 0);
}

// Every link, head and meta byte below is read once (load_word) and checked before it
// is followed or written through: another thread may scribble on the side arrays at any
// time, and a wrong value must give corrupt, never an access outside them.

Status Buddy::push(uint32_t order, uint32_t block) noexcept {
  const int32_t head = load_word(&heads_[order]);
  if (!valid_link(head) || head == static_cast<int32_t>(block)) return Status::corrupt;
  store_word(&next_[block], head);
  store_word(&prev_[block], int32_t{-1});
  if (head >= 0) store_word(&prev_[head], static_cast<int32_t>(block));
  store_word(&heads_[order], static_cast<int32_t>(block));
  store_word(&meta_[block], static_cast<uint8_t>(BuddyLayout::kFree | order));
  store_word(avail_, load_word(avail_) | static_cast<int32_t>(1u << order));
  return Status::ok;
}

Status Buddy::unlink(uint32_t order, uint32_t block) noexcept {
  const int32_t p = load_word(&prev_[block]);
  const int32_t n = load_word(&next_[block]);
  if (!valid_link(p) || !valid_link(n)) return Status::corrupt;
  int32_t head;
  if (p >= 0) {
    store_word(&next_[p], n);
    head = load_word(&heads_[order]);
  } else {
    head = n;
    store_word(&heads_[order], n);
  }
  if (n >= 0) store_word(&prev_[n], p);
  if (head < 0) store_word(avail_, load_word(avail_) & ~static_cast<int32_t>(1u << order));
  return Status::ok;
}

int32_t Buddy::alloc(uint32_t size) noexcept {
  if (size == 0) return static_cast<int32_t>(Status::bad_argument);
  if (size > bytes_) return static_cast<int32_t>(Status::too_big);
  const uint32_t order = size <= min_block_ ? 0 : static_cast<uint32_t>(std::bit_width(size - 1)) - min_shift_;
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return static_cast<int32_t>(guard.status());
  return alloc_locked(order);
}

int32_t Buddy::alloc_locked(uint32_t order) noexcept {
  const uint32_t fits = static_cast<uint32_t>(load_word(avail_)) & ~((1u << order) - 1);
  if (fits == 0) return static_cast<int32_t>(Status::full);
  uint32_t k = static_cast<uint32_t>(std::countr_zero(fits));
  if (k > max_order_) return static_cast<int32_t>(Status::corrupt);
  const int32_t head = load_word(&heads_[k]);
  // A block of order k starts on a multiple of 2^k and ends inside the region.
  if (head < 0 || static_cast<uint32_t>(head) >= blocks_ || (static_cast<uint32_t>(head) & ((1u << k) - 1)) != 0 ||
      load_word(&meta_[head]) != (BuddyLayout::kFree | k)) {
    return static_cast<int32_t>(Status::corrupt);
  }
  const auto block = static_cast<uint32_t>(head);
  if (unlink(k, block) != Status::ok) return static_cast<int32_t>(Status::corrupt);
  while (k > order) {
    --k;
    if (push(k, block + (1u << k)) != Status::ok) return static_cast<int32_t>(Status::corrupt);
  }
  store_word(&meta_[block], static_cast<uint8_t>(BuddyLayout::kUsed | order));
  store_word(used_bytes_, load_word(used_bytes_) + static_cast<int32_t>(min_block_ << order));
  store_word(live_blocks_, load_word(live_blocks_) + 1);
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
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return guard.status();
  return free_locked(static_cast<uint32_t>(block));
}

Status Buddy::free_locked(uint32_t block) noexcept {
  const uint8_t m = load_word(&meta_[block]);
  if ((m & BuddyLayout::kUsed) == 0) return (m & BuddyLayout::kFree) != 0 ? Status::double_free : Status::foreign;
  uint32_t order = m & BuddyLayout::kOrderMask;
  if (order > max_order_ || (block & ((1u << order) - 1)) != 0) return Status::corrupt;
  store_word(&meta_[block], uint8_t{0});
  store_word(used_bytes_, load_word(used_bytes_) - static_cast<int32_t>(min_block_ << order));
  store_word(live_blocks_, load_word(live_blocks_) - 1);
  while (order < max_order_) {
    const uint32_t buddy = block ^ (1u << order);
    if (load_word(&meta_[buddy]) != (BuddyLayout::kFree | order)) break;
    if (unlink(order, buddy) != Status::ok) return Status::corrupt;
    store_word(&meta_[buddy], uint8_t{0});
    block &= ~(1u << order);
    ++order;
  }
  return push(order, block);
}

int64_t Buddy::block_size(int32_t offset) noexcept {
  const int32_t block = block_of(offset);
  if (block < 0) return block;
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return static_cast<int64_t>(guard.status());
  const uint8_t m = load_word(&meta_[block]);
  if ((m & BuddyLayout::kUsed) == 0) {
    return static_cast<int64_t>((m & BuddyLayout::kFree) != 0 ? Status::double_free : Status::foreign);
  }
  const uint32_t order = m & BuddyLayout::kOrderMask;
  if (order > max_order_) return static_cast<int64_t>(Status::corrupt);
  return static_cast<int64_t>(min_block_) << order;
}

Status Buddy::stats(BuddyStats* out) noexcept {
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return guard.status();
  // Bits above max_order and counts beyond the region can only come from a scribble.
  const auto avail = static_cast<uint32_t>(load_word(avail_)) & ((2u << max_order_) - 1);
  const auto used = std::min(static_cast<uint32_t>(load_word(used_bytes_)), bytes_);
  const uint32_t free = bytes_ - used;
  const uint32_t largest = avail == 0 ? 0 : min_block_ << (std::bit_width(avail) - 1);
  const double frag = free == 0 ? 0.0 : 1.0 - static_cast<double>(largest) / static_cast<double>(free);
  const auto live = std::min(static_cast<uint32_t>(load_word(live_blocks_)), blocks_);
  *out = BuddyStats{bytes_, used, free, largest, live, frag};
  return Status::ok;
}

}  // namespace up::memory
