#include "ring.hpp"

#include <algorithm>

#include "lock.hpp"

namespace up::memory {

namespace {

constexpr uint32_t record_bytes(uint32_t size) noexcept {
  return RingLayout::kRecordHeader + static_cast<uint32_t>(align_up(size, 8));
}

}  // namespace

Ring::Ring(std::byte* base, const Header& h, OwnedBytes owned) noexcept
    : base_(base),
      lock_(reinterpret_cast<int32_t*>(base + RingLayout::kLock)),
      head_(reinterpret_cast<uint32_t*>(base + RingLayout::kHead)),
      tail_(reinterpret_cast<uint32_t*>(base + RingLayout::kTail)),
      used_(reinterpret_cast<uint32_t*>(base + RingLayout::kUsed)),
      count_(reinterpret_cast<uint32_t*>(base + RingLayout::kCount)),
      owned_(std::move(owned)) {
  bytes_ = h.g0;
  data_offset_ = h.data_offset;
  shared_ = (h.flags & kFlagShared) != 0;
  lock_timeout_ms_ = lock_timeout_ms(h);
}

std::optional<Ring> Ring::format(std::byte* base, std::size_t len, uint32_t bytes, bool shared) noexcept {
  const Geometry g = ring_geometry(bytes);
  if (g.status != Status::ok || base == nullptr || len < g.total_bytes || reinterpret_cast<uintptr_t>(base) % 8 != 0) {
    return std::nullopt;
  }
  write_header(base, Kind::ring, g, shared);
  Ring r(base, read_header(base), nullptr);
  *r.lock_ = 0;
  *r.head_ = 0;
  *r.tail_ = 0;
  *r.used_ = 0;
  *r.count_ = 0;
  return r;
}

std::optional<Ring> Ring::attach(std::byte* base, std::size_t len) noexcept {
  Header h;
  if (validate(base, len, Kind::ring, &h) != Status::ok) return std::nullopt;
  return Ring(base, h, nullptr);
}

std::optional<Ring> Ring::create(uint32_t bytes, bool shared) noexcept {
  const Geometry g = ring_geometry(bytes);
  if (g.status != Status::ok) return std::nullopt;
  OwnedBytes mem = allocate_aligned(g.total_bytes);
  if (!mem) return std::nullopt;
  if (!format(mem.get(), g.total_bytes, bytes, shared)) return std::nullopt;
  std::byte* base = mem.get();
  return Ring(base, read_header(base), std::move(mem));
}

// head, tail, used, count and every record word are read once (load_word) and checked
// before use: a position must be 8-aligned and inside the data region, so a scribbled
// head or tail gives corrupt instead of a record written past the end.

bool Ring::valid_pos(uint32_t pos) const noexcept { return pos < bytes_ && pos % 8 == 0; }

int32_t Ring::alloc(uint32_t size) noexcept {
  if (size == 0) return static_cast<int32_t>(Status::bad_argument);
  if (size > max_size()) return static_cast<int32_t>(Status::too_big);
  const uint32_t need = record_bytes(size);
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return static_cast<int32_t>(guard.status());
  uint32_t head = load_word(head_);
  const uint32_t tail = load_word(tail_);
  const uint32_t used = load_word(used_);
  if (!valid_pos(head) || !valid_pos(tail) || used > bytes_) return static_cast<int32_t>(Status::corrupt);
  uint32_t taken = need;
  if (used == 0) {
    head = 0;
    store_word(tail_, 0u);
  } else if (head > tail) {
    // Live records are [tail, head): room at the end, else skip it and use [0, tail).
    if (bytes_ - head < need) {
      if (tail < need) return static_cast<int32_t>(Status::full);
      store_word(word(head), RingLayout::kSkip);
      store_word(word(head) + 1, RingLayout::kSkip ^ RingLayout::kCheck);
      taken += bytes_ - head;
      head = 0;
    }
  } else if (head == tail || tail - head < need) {
    // Wrapped: live records are [tail, end) and [0, head).
    return static_cast<int32_t>(Status::full);
  }
  if (bytes_ - used < taken) return static_cast<int32_t>(Status::corrupt);
  const uint32_t payload = data_offset_ + head + RingLayout::kRecordHeader;
  store_word(word(head), size);
  store_word(word(head) + 1, payload ^ RingLayout::kCheck);
  head += need;
  store_word(head_, head == bytes_ ? 0 : head);
  store_word(used_, used + taken);
  store_word(count_, load_word(count_) + 1);
  return static_cast<int32_t>(payload);
}

int64_t Ring::peek_locked(Oldest* out) noexcept {
  const uint32_t used = load_word(used_);
  if (used == 0) return static_cast<int32_t>(Status::full);
  const uint32_t old_tail = load_word(tail_);
  if (!valid_pos(old_tail) || used > bytes_) return static_cast<int32_t>(Status::corrupt);
  uint32_t tail = old_tail;
  uint32_t size = load_word(word(tail));
  if (size == RingLayout::kSkip) {
    if (load_word(word(tail) + 1) != (RingLayout::kSkip ^ RingLayout::kCheck)) return static_cast<int32_t>(Status::corrupt);
    tail = 0;
    size = load_word(word(tail));
  }
  const uint32_t payload = data_offset_ + tail + RingLayout::kRecordHeader;
  if (load_word(word(tail) + 1) != (payload ^ RingLayout::kCheck) || size == 0 || size > max_size() ||
      record_bytes(size) > bytes_ - tail) {
    return static_cast<int32_t>(Status::corrupt);
  }
  out->old_tail = old_tail;
  out->pos = tail;
  out->size = size;
  out->used = used;
  return tail;
}

int32_t Ring::release_locked(const Oldest& o) noexcept {
  const uint32_t rec = record_bytes(o.size);
  // A skip at the old tail gives its bytes back with the record after it.
  const uint32_t skipped = o.pos == o.old_tail ? 0 : bytes_ - o.old_tail;
  const uint32_t released = rec + skipped;
  if (released > o.used) return static_cast<int32_t>(Status::corrupt);
  const uint32_t used = o.used - released;
  store_word(used_, used);
  store_word(count_, load_word(count_) - 1);
  const uint32_t next = o.pos + rec;
  store_word(tail_, next == bytes_ ? 0 : next);
  if (used == 0) {
    store_word(head_, 0u);
    store_word(tail_, 0u);
  }
  return static_cast<int32_t>(data_offset_ + o.pos + RingLayout::kRecordHeader);
}

int32_t Ring::release() noexcept {
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return static_cast<int32_t>(guard.status());
  Oldest o;
  const int64_t pos = peek_locked(&o);
  if (pos < 0) return static_cast<int32_t>(pos);
  return release_locked(o);
}

Status Ring::free(int32_t offset) noexcept {
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return guard.status();
  Oldest o;
  const int64_t pos = peek_locked(&o);
  if (pos == static_cast<int32_t>(Status::full)) return Status::not_oldest;
  if (pos < 0) return static_cast<Status>(pos);
  if (static_cast<int64_t>(data_offset_) + pos + RingLayout::kRecordHeader != offset) return Status::not_oldest;
  const int32_t released = release_locked(o);
  return released < 0 ? static_cast<Status>(released) : Status::ok;
}

int32_t Ring::oldest() noexcept {
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return static_cast<int32_t>(guard.status());
  Oldest o;
  const int64_t pos = peek_locked(&o);
  if (pos < 0) return static_cast<int32_t>(pos);
  return static_cast<int32_t>(data_offset_ + pos + RingLayout::kRecordHeader);
}

int64_t Ring::size_of(int32_t offset) noexcept {
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return static_cast<int64_t>(guard.status());
  const int64_t pos = static_cast<int64_t>(offset) - data_offset_ - RingLayout::kRecordHeader;
  if (load_word(used_) == 0 || pos < 0 || pos >= bytes_ || pos % 8 != 0) return static_cast<int32_t>(Status::foreign);
  const auto p = static_cast<uint32_t>(pos);
  const uint32_t head = load_word(head_);
  const uint32_t tail = load_word(tail_);
  // Live records are [tail, head), or [tail, end) and [0, head) once wrapped.
  const bool live = tail < head ? (p >= tail && p < head) : (p >= tail || p < head);
  const uint32_t size = load_word(word(p));
  if (!live || load_word(word(p) + 1) != (static_cast<uint32_t>(offset) ^ RingLayout::kCheck) || size == 0 ||
      size > max_size() || record_bytes(size) > bytes_ - p) {
    return static_cast<int32_t>(Status::foreign);
  }
  return size;
}

Status Ring::stats(RingStats* out) noexcept {
  MaybeLocked guard(lock_, shared_, lock_timeout_ms_);
  if (guard.status() != Status::ok) return guard.status();
  const uint32_t used = std::min(load_word(used_), bytes_);
  *out = RingStats{bytes_, used, bytes_ - used, load_word(count_)};
  return Status::ok;
}

}  // namespace up::memory
