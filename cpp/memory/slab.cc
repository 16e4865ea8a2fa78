#include "slab.hpp"

#include <algorithm>
#include <atomic>
#include <new>

namespace up::memory {

void AlignedFree::operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{kCacheLineSize}); }

OwnedBytes allocate_aligned(std::size_t bytes) noexcept {
  auto* p = static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{kCacheLineSize}, std::nothrow));
  if (p != nullptr) std::fill(p, p + bytes, std::byte{0});
  return OwnedBytes(p);
}

namespace {

constexpr std::memory_order kRelaxed = std::memory_order_relaxed;

}  // namespace

Slab::Slab(std::byte* base, const Header& h, OwnedBytes owned) noexcept
    : base_(base),
      head_(reinterpret_cast<uint32_t*>(base + SlabLayout::kHead)),
      next_(reinterpret_cast<int32_t*>(base + SlabLayout::kNext)),
      owned_(std::move(owned)) {
  slot_bytes_ = h.g0;
  stride_ = h.g1;
  slots_ = h.g2;
  data_offset_ = h.data_offset;
  index_mask_ = (1u << h.g3) - 1;
  tag_unit_ = 1u << h.g3;
  shared_ = (h.flags & kFlagShared) != 0;
}

std::optional<Slab> Slab::format(std::byte* base, std::size_t len, uint32_t slot_bytes, uint32_t slots,
                                 bool shared) noexcept {
  const Geometry g = slab_geometry(slot_bytes, slots);
  if (g.status != Status::ok || base == nullptr || len < g.total_bytes || reinterpret_cast<uintptr_t>(base) % 8 != 0) {
    return std::nullopt;
  }
  write_header(base, Kind::slab, g, shared);
  const uint32_t end = (1u << g.g3) - 1;
  auto* next = reinterpret_cast<int32_t*>(base + SlabLayout::kNext);
  for (uint32_t i = 0; i < slots; ++i) next[i] = static_cast<int32_t>(i + 1 < slots ? i + 1 : end);
  *reinterpret_cast<uint32_t*>(base + SlabLayout::kHead) = 0;
  return Slab(base, read_header(base), nullptr);
}

std::optional<Slab> Slab::attach(std::byte* base, std::size_t len) noexcept {
  Header h;
  if (validate(base, len, Kind::slab, &h) != Status::ok) return std::nullopt;
  return Slab(base, h, nullptr);
}

std::optional<Slab> Slab::create(uint32_t slot_bytes, uint32_t slots, bool shared) noexcept {
  const Geometry g = slab_geometry(slot_bytes, slots);
  if (g.status != Status::ok) return std::nullopt;
  OwnedBytes mem = allocate_aligned(g.total_bytes);
  if (!mem) return std::nullopt;
  if (!format(mem.get(), g.total_bytes, slot_bytes, slots, shared)) return std::nullopt;
  std::byte* base = mem.get();
  return Slab(base, read_header(base), std::move(mem));
}

int32_t Slab::alloc_local() noexcept {
  const uint32_t h = *head_;
  const uint32_t idx = h & index_mask_;
  if (idx == index_mask_) return static_cast<int32_t>(Status::full);
  if (idx >= slots_) return static_cast<int32_t>(Status::corrupt);
  const int32_t next = next_[idx];
  if (next != static_cast<int32_t>(index_mask_) && (next < 0 || static_cast<uint32_t>(next) >= slots_)) {
    return static_cast<int32_t>(Status::corrupt);
  }
  *head_ = static_cast<uint32_t>(next) | ((h + tag_unit_) & ~index_mask_);
  next_[idx] = SlabLayout::kAllocated;
  return static_cast<int32_t>(data_offset_ + idx * stride_);
}

int32_t Slab::alloc_shared() noexcept {
  std::atomic_ref<uint32_t> head(*head_);
  uint32_t h = head.load(std::memory_order_acquire);
  for (;;) {
    const uint32_t idx = h & index_mask_;
    if (idx == index_mask_) return static_cast<int32_t>(Status::full);
    if (idx >= slots_) return static_cast<int32_t>(Status::corrupt);
    // May be stale (another thread popped idx meanwhile); the tagged CAS then fails.
    const int32_t next = std::atomic_ref<int32_t>(next_[idx]).load(kRelaxed);
    if (next != static_cast<int32_t>(index_mask_) && (next < 0 || static_cast<uint32_t>(next) >= slots_)) {
      const uint32_t again = head.load(std::memory_order_acquire);
      if (again == h) return static_cast<int32_t>(Status::corrupt);
      h = again;
      continue;
    }
    const uint32_t desired = static_cast<uint32_t>(next) | ((h + tag_unit_) & ~index_mask_);
    if (head.compare_exchange_weak(h, desired, std::memory_order_acquire, std::memory_order_acquire)) {
      std::atomic_ref<int32_t>(next_[idx]).store(SlabLayout::kAllocated, kRelaxed);
      return static_cast<int32_t>(data_offset_ + idx * stride_);
    }
  }
}

int32_t Slab::index_of(int32_t offset) const noexcept {
  if (offset < static_cast<int32_t>(data_offset_)) return static_cast<int32_t>(Status::foreign);
  const uint32_t rel = static_cast<uint32_t>(offset) - data_offset_;
  if (rel >= stride_ * slots_) return static_cast<int32_t>(Status::foreign);
  if (rel % stride_ != 0) return static_cast<int32_t>(Status::misaligned);
  return static_cast<int32_t>(rel / stride_);
}

Status Slab::free(int32_t offset) noexcept {
  const int32_t idx = index_of(offset);
  if (idx < 0) return static_cast<Status>(idx);
  const auto end = static_cast<int32_t>(index_mask_);
  if (!shared_) {
    if (next_[idx] != SlabLayout::kAllocated) return Status::double_free;
    const uint32_t h = *head_;
    next_[idx] = static_cast<int32_t>(h & index_mask_);
    *head_ = static_cast<uint32_t>(idx) | ((h + tag_unit_) & ~index_mask_);
    return Status::ok;
  }
  std::atomic_ref<int32_t> link(next_[idx]);
  // Claiming the slot first makes a concurrent second free of it fail here.
  int32_t expected = SlabLayout::kAllocated;
  if (!link.compare_exchange_strong(expected, end, kRelaxed, kRelaxed)) return Status::double_free;
  std::atomic_ref<uint32_t> head(*head_);
  uint32_t h = head.load(kRelaxed);
  for (;;) {
    link.store(static_cast<int32_t>(h & index_mask_), kRelaxed);
    const uint32_t desired = static_cast<uint32_t>(idx) | ((h + tag_unit_) & ~index_mask_);
    // Release publishes the link and whatever the owner wrote into the slot.
    if (head.compare_exchange_weak(h, desired, std::memory_order_release, kRelaxed)) return Status::ok;
  }
}

Status Slab::free_ptr(const void* p) noexcept {
  const auto* b = static_cast<const std::byte*>(p);
  if (b < base_ || b >= base_ + total_bytes()) return Status::foreign;
  return free(static_cast<int32_t>(b - base_));
}

SlabStats Slab::stats() const noexcept {
  uint32_t used = 0;
  for (uint32_t i = 0; i < slots_; ++i) {
    const int32_t v = shared_ ? std::atomic_ref<int32_t>(next_[i]).load(kRelaxed) : next_[i];
    used += v == SlabLayout::kAllocated ? 1 : 0;
  }
  return SlabStats{slot_bytes_, slots_, used, slots_ - used};
}

}  // namespace up::memory
