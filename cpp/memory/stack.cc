#include "stack.hpp"

#include <atomic>

namespace up::memory {

namespace {

constexpr std::memory_order kRelaxed = std::memory_order_relaxed;

}  // namespace

Stack::Stack(std::byte* base, const Header& h, OwnedBytes owned) noexcept
    : base_(base),
      top_(reinterpret_cast<int32_t*>(base + StackLayout::kTop)),
      high_water_(reinterpret_cast<int32_t*>(base + StackLayout::kHighWater)),
      owned_(std::move(owned)) {
  bytes_ = h.g0;
  data_offset_ = h.data_offset;
  shared_ = (h.flags & kFlagShared) != 0;
}

std::optional<Stack> Stack::format(std::byte* base, std::size_t len, uint32_t bytes, bool shared) noexcept {
  const Geometry g = stack_geometry(bytes);
  if (g.status != Status::ok || base == nullptr || len < g.total_bytes || reinterpret_cast<uintptr_t>(base) % 8 != 0) {
    return std::nullopt;
  }
  write_header(base, Kind::stack, g, shared);
  Stack s(base, read_header(base), nullptr);
  *s.top_ = static_cast<int32_t>(g.data_offset);
  *s.high_water_ = static_cast<int32_t>(g.data_offset);
  return s;
}

std::optional<Stack> Stack::attach(std::byte* base, std::size_t len) noexcept {
  Header h;
  if (validate(base, len, Kind::stack, &h) != Status::ok) return std::nullopt;
  return Stack(base, h, nullptr);
}

std::optional<Stack> Stack::create(uint32_t bytes, bool shared) noexcept {
  const Geometry g = stack_geometry(bytes);
  if (g.status != Status::ok) return std::nullopt;
  OwnedBytes mem = allocate_aligned(g.total_bytes);
  if (!mem) return std::nullopt;
  if (!format(mem.get(), g.total_bytes, bytes, shared)) return std::nullopt;
  std::byte* base = mem.get();
  return Stack(base, read_header(base), std::move(mem));
}

// top and highWater are read once and checked (8-aligned, inside the data region):
// a scribbled top gives corrupt, never an offset outside the region.

bool Stack::valid_top(int32_t top) const noexcept {
  return top >= static_cast<int32_t>(data_offset_) && static_cast<int64_t>(top) <= static_cast<int64_t>(data_offset_) + bytes_ &&
         (top - static_cast<int32_t>(data_offset_)) % 8 == 0;
}

int32_t Stack::alloc(uint32_t size) noexcept {
  if (size == 0) return static_cast<int32_t>(Status::bad_argument);
  if (size > bytes_) return static_cast<int32_t>(Status::too_big);
  const auto need = static_cast<int64_t>(align_up(size, 8));
  const int64_t end = static_cast<int64_t>(data_offset_) + bytes_;
  if (!shared_) {
    const int32_t top = *top_;
    if (!valid_top(top)) return static_cast<int32_t>(Status::corrupt);
    if (top + need > end) return static_cast<int32_t>(Status::full);
    const auto moved = static_cast<int32_t>(top + need);
    *top_ = moved;
    if (moved > *high_water_) *high_water_ = moved;
    return top;
  }
  std::atomic_ref<int32_t> top_ref(*top_);
  int32_t top = top_ref.load(kRelaxed);
  int32_t moved;
  do {
    if (!valid_top(top)) return static_cast<int32_t>(Status::corrupt);
    if (top + need > end) return static_cast<int32_t>(Status::full);
    moved = static_cast<int32_t>(top + need);
  } while (!top_ref.compare_exchange_weak(top, moved, std::memory_order_acq_rel, kRelaxed));
  std::atomic_ref<int32_t> hw(*high_water_);
  int32_t seen = hw.load(kRelaxed);
  while (seen < moved && !hw.compare_exchange_weak(seen, moved, kRelaxed, kRelaxed)) {
  }
  return top;
}

int32_t Stack::mark() const noexcept {
  const int32_t top = shared_ ? std::atomic_ref<int32_t>(*top_).load(std::memory_order_acquire) : *top_;
  return valid_top(top) ? top : static_cast<int32_t>(Status::corrupt);
}

Status Stack::reset(int32_t mark) noexcept {
  if (!valid_top(mark)) return Status::bad_argument;
  if (!shared_) {
    const int32_t top = *top_;
    if (!valid_top(top)) return Status::corrupt;
    if (mark > top) return Status::bad_argument;
    *top_ = mark;
    return Status::ok;
  }
  std::atomic_ref<int32_t> top_ref(*top_);
  int32_t top = top_ref.load(kRelaxed);
  do {
    if (!valid_top(top)) return Status::corrupt;
    if (mark > top) return Status::bad_argument;
  } while (!top_ref.compare_exchange_weak(top, mark, std::memory_order_acq_rel, kRelaxed));
  return Status::ok;
}

StackStats Stack::stats() const noexcept {
  // Out-of-range words (a scribble) are clamped into the region for the report.
  const auto clamp = [this](int32_t v) {
    const int64_t rel = static_cast<int64_t>(v) - data_offset_;
    return static_cast<uint32_t>(rel < 0 ? 0 : (rel > bytes_ ? bytes_ : rel));
  };
  const int32_t top = shared_ ? std::atomic_ref<int32_t>(*top_).load(kRelaxed) : *top_;
  const int32_t hw = shared_ ? std::atomic_ref<int32_t>(*high_water_).load(kRelaxed) : *high_water_;
  const uint32_t used = clamp(top);
  return StackStats{bytes_, used, bytes_ - used, clamp(hw)};
}

}  // namespace up::memory
