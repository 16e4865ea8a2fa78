#include "mbo_book.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>

namespace up::orderbook {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Largest id, tick count and lot count an event may carry: 2^53 - 1 (exact doubles).
constexpr double kMax = 9007199254740991.0;
constexpr int64_t kMaxInt = (int64_t{1} << 53) - 1;
constexpr std::size_t kInitialLevels = 64;
// Levels scanned from the best before bisecting.
constexpr std::size_t kNearTop = 8;

// A whole number in [lo, kMax] (NaN and fractions refused); in range first, so the cast is defined.
bool whole(double v, double lo) noexcept { return v >= lo && v <= kMax && v == static_cast<double>(static_cast<int64_t>(v)); }
}  // namespace

MboBook::MboBook(Grid tick, Grid lot, std::size_t expected_orders) : tick_(tick), lot_(lot) {
  const std::size_t slots = std::clamp<std::size_t>(expected_orders, 16, std::size_t{1} << 22);
  std::size_t cap = 32;
  while (cap < 2 * slots) cap *= 2;
  keys_.assign(cap, 0);
  vals_.assign(cap, -1);
  mask_ = cap - 1;
  shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
  orders_.reserve(slots);
  bids_.reserve(kInitialLevels);
  asks_.reserve(kInitialLevels);
  refresh(Side::bid);
  refresh(Side::ask);
}

// ---- levels ----

int64_t MboBook::find_level(Side s, int64_t ticks) const noexcept {
  const auto& l = ladder(s);
  const std::size_t n = l.size();
  const std::size_t stop = n > kNearTop ? n - kNearTop : 0;
  for (std::size_t i = n; i > stop; --i) {
    if (l[i - 1].ticks == ticks) return static_cast<int64_t>(i - 1);
  }
  if (stop == 0) return -1;
  const int64_t key = key_of(s, ticks);
  auto it = std::lower_bound(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(stop), key,
                             [s](const Level& lv, int64_t k) { return key_of(s, lv.ticks) < k; });
  return it != l.begin() + static_cast<std::ptrdiff_t>(stop) && it->ticks == ticks ? it - l.begin() : -1;
}

std::size_t MboBook::insert_level(Side s, int64_t ticks) noexcept {
  auto& l = ladder(s);
  const int64_t key = key_of(s, ticks);
  const std::size_t n = l.size();
  std::size_t i = n;
  while (i > 0 && i + kNearTop > n && key_of(s, l[i - 1].ticks) > key) --i;
  if (i > 0 && i + kNearTop == n && key_of(s, l[i - 1].ticks) > key) {
    i = static_cast<std::size_t>(std::lower_bound(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(i), key,
                                                  [s](const Level& lv, int64_t k) { return key_of(s, lv.ticks) < k; }) -
                                 l.begin());
  }
  // Capacity was reserved: insert does not allocate.
  l.insert(l.begin() + static_cast<std::ptrdiff_t>(i), Level{ticks, 0, 0, -1});
  return i;
}

void MboBook::refresh(Side s) noexcept {
  const auto& l = ladder(s);
  const int side = static_cast<int>(s);
  double* t = view_ + 2 * side;
  if (l.empty()) {
    t[0] = kNaN;
    t[1] = kNaN;
    view_[kBidTicks + side] = kNaN;
  } else {
    t[0] = tick_.to_value(l.back().ticks);
    t[1] = lot_.to_value(l.back().total);
    view_[kBidTicks + side] = static_cast<double>(l.back().ticks);
  }
  view_[kBidLevels + side] = static_cast<double>(l.size());
}

void MboBook::settle(Side s, std::size_t li, bool inserted) noexcept {
  auto& l = ladder(s);
  const bool top = li + 1 == l.size();
  if (l[li].total == 0) {
    l.erase(l.begin() + static_cast<std::ptrdiff_t>(li));
    refresh(s);
  } else if (top || inserted) {
    refresh(s);
  }
}

// ---- id map ----

int32_t MboBook::find_order(uint64_t key) const noexcept {
  for (std::size_t i = home(key);; i = (i + 1) & mask_) {
    const uint64_t x = keys_[i];
    if (x == key) return vals_[i];
    if (x == 0) return -1;
  }
}

void MboBook::map_insert(uint64_t key, int32_t slot) noexcept {
  std::size_t i = home(key);
  while (keys_[i] != 0) i = (i + 1) & mask_;
  keys_[i] = key;
  vals_[i] = slot;
  ++size_;
}

void MboBook::map_erase(uint64_t key) noexcept {
  std::size_t i = home(key);
  while (keys_[i] != key) {
    if (keys_[i] == 0) return;
    i = (i + 1) & mask_;
  }
  // Shift back later entries whose probe run passes through the hole.
  std::size_t j = i;
  for (;;) {
    j = (j + 1) & mask_;
    const uint64_t x = keys_[j];
    if (x == 0) break;
    const std::size_t h = home(x);
    if (((j - h) & mask_) >= ((j - i) & mask_)) {
      keys_[i] = x;
      vals_[i] = vals_[j];
      i = j;
    }
  }
  keys_[i] = 0;
  --size_;
}

bool MboBook::reserve_one(Side s) noexcept {
  try {
    if (2 * (size_ + 1) > keys_.size()) {
      if (keys_.size() >= (std::size_t{1} << 31)) return false;
      std::vector<uint64_t> k(keys_.size() * 2, 0);
      std::vector<int32_t> v(keys_.size() * 2, -1);
      k.swap(keys_);
      v.swap(vals_);
      mask_ = keys_.size() - 1;
      shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(keys_.size()));
      size_ = 0;
      for (std::size_t i = 0; i < k.size(); ++i) {
        if (k[i] != 0) map_insert(k[i], v[i]);
      }
    }
    if (free_head_ < 0 && orders_.size() == orders_.capacity()) {
      if (orders_.size() >= static_cast<std::size_t>(INT32_MAX) / 2) return false;
      orders_.reserve(orders_.size() * 2 + 16);
    }
  } catch (const std::bad_alloc&) {
    return false;
  }
  return reserve_level(s);
}

bool MboBook::reserve_level(Side s) noexcept {
  auto& l = ladder(s);
  if (l.size() < l.capacity()) return true;
  try {
    l.reserve(l.capacity() * 2 + 16);
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

// ---- operations (validated, capacity reserved) ----

void MboBook::add_order(uint64_t id, Side s, int64_t ticks, int64_t lots) noexcept {
  auto& l = ladder(s);
  int64_t li = find_level(s, ticks);
  const bool inserted = li < 0;
  if (inserted) li = static_cast<int64_t>(insert_level(s, ticks));
  int32_t slot = free_head_;
  if (slot >= 0) {
    free_head_ = orders_[static_cast<std::size_t>(slot)].next;
  } else {
    slot = static_cast<int32_t>(orders_.size());
    orders_.push_back(Order{});  // capacity reserved
  }
  Level& lv = l[static_cast<std::size_t>(li)];
  Order& o = orders_[static_cast<std::size_t>(slot)];
  o = Order{id + 1, ticks, lots, -1, lv.head, static_cast<uint8_t>(s)};
  if (lv.head >= 0) orders_[static_cast<std::size_t>(lv.head)].prev = slot;
  lv.head = slot;
  lv.total += lots;
  lv.known += lots;
  map_insert(id + 1, slot);
  view_[kMboOrderCount] = static_cast<double>(size_);
  settle(s, static_cast<std::size_t>(li), inserted);
}

void MboBook::take_known(int32_t slot, int64_t lots) noexcept {
  Order& o = orders_[static_cast<std::size_t>(slot)];
  const Side s = static_cast<Side>(o.side);
  auto& l = ladder(s);
  const auto li = static_cast<std::size_t>(find_level(s, o.ticks));
  Level& lv = l[li];
  const int64_t take = lots < o.lots ? lots : o.lots;
  lv.total -= take;
  lv.known -= take;
  if (take == o.lots) {
    if (o.prev >= 0) orders_[static_cast<std::size_t>(o.prev)].next = o.next;
    else lv.head = o.next;
    if (o.next >= 0) orders_[static_cast<std::size_t>(o.next)].prev = o.prev;
    map_erase(o.key);
    o.next = free_head_;
    free_head_ = slot;
    view_[kMboOrderCount] = static_cast<double>(size_);
  } else {
    o.lots -= take;
  }
  settle(s, li, false);
}

void MboBook::take_unknown(Side s, int64_t ticks, int64_t lots) noexcept {
  view_[kMboUnknownOrders] += 1;
  auto& l = ladder(s);
  const int64_t li = find_level(s, ticks);
  if (li < 0) return;
  Level& lv = l[static_cast<std::size_t>(li)];
  const int64_t anon = lv.total - lv.known;
  lv.total -= lots < anon ? lots : anon;
  settle(s, static_cast<std::size_t>(li), false);
}

void MboBook::set_level(Side s, int64_t ticks, int64_t lots) noexcept {
  auto& l = ladder(s);
  int64_t li = find_level(s, ticks);
  const bool inserted = li < 0;
  if (inserted) {
    if (lots == 0) return;
    li = static_cast<int64_t>(insert_level(s, ticks));
  }
  Level& lv = l[static_cast<std::size_t>(li)];
  lv.total = lots > lv.known ? lots : lv.known;
  settle(s, static_cast<std::size_t>(li), inserted);
}

void MboBook::trim(Side s, std::size_t keep) noexcept {
  auto& l = ladder(s);
  if (l.size() <= keep) return;
  const std::size_t k = l.size() - keep;
  for (std::size_t i = 0; i < k; ++i) {
    for (int32_t slot = l[i].head; slot >= 0;) {
      Order& o = orders_[static_cast<std::size_t>(slot)];
      const int32_t nx = o.next;
      map_erase(o.key);
      o.next = free_head_;
      free_head_ = slot;
      view_[kMboForgottenOrders] += 1;
      slot = nx;
    }
  }
  l.erase(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(k));
  view_[kMboOrderCount] = static_cast<double>(size_);
  refresh(s);
}

void MboBook::clear() noexcept {
  std::fill(keys_.begin(), keys_.end(), 0);
  size_ = 0;
  free_head_ = -1;
  orders_.clear();
  bids_.clear();
  asks_.clear();
  view_[kMboOrderCount] = 0;
  refresh(Side::bid);
  refresh(Side::ask);
}

bool MboBook::fits(Side s, int64_t ticks, int64_t lots) const noexcept {
  const int64_t li = find_level(s, ticks);
  return li < 0 || ladder(s)[static_cast<std::size_t>(li)].total + lots <= kMaxInt;
}

int64_t MboBook::refuse(MboReason r, std::size_t i) noexcept {
  view_[kMboErrorReason] = static_cast<double>(r);
  return -static_cast<int64_t>(i) - 1;
}

// ---- validation and dispatch: the same checks, in the same order, as mbo-core.ts `one` ----

int64_t MboBook::one(const double* e, std::size_t i) noexcept {
  const double op = read_once(e + kEvOp);
  if (op == 5 || op == 6 || op == 7) return 1;  // hiddenExecute, cross, halt
  if (op == 11) {
    clear();
    return 1;
  }
  if (!(op >= 1 && op <= 11 && op == std::floor(op))) return refuse(MboReason::op, i);
  const auto code = static_cast<EventOp>(static_cast<int>(op));
  const double side = read_once(e + kEvSide);
  if (!(side == 0 || side == 1)) return refuse(MboReason::side, i);
  const Side s = side == 0 ? Side::bid : Side::ask;
  const double size = read_once(e + kEvSize);
  if (!whole(size, 0)) return refuse(MboReason::size, i);
  const auto lots = static_cast<int64_t>(size);
  if (code == EventOp::trim) {
    trim(s, static_cast<std::size_t>(lots));
    return 1;
  }
  const double price = read_once(e + kEvPrice);
  if (!whole(price, static_cast<double>(tick_.min_ticks))) return refuse(MboReason::price, i);
  const auto ticks = static_cast<int64_t>(price);
  if (code == EventOp::level) {
    if (!reserve_level(s)) return refuse(MboReason::out_of_memory, i);
    set_level(s, ticks, lots);
    return 1;
  }
  const double id = read_once(e + kEvOrderId);
  if (!whole(id, 0)) return refuse(MboReason::order_id, i);
  const auto uid = static_cast<uint64_t>(id);
  const int32_t slot = find_order(uid + 1);
  if (code == EventOp::add) {
    if (lots == 0) return refuse(MboReason::size, i);
    if (slot >= 0) return refuse(MboReason::duplicate, i);
    if (!fits(s, ticks, lots)) return refuse(MboReason::overflow, i);
    if (!reserve_one(s)) return refuse(MboReason::out_of_memory, i);
    add_order(uid, s, ticks, lots);
    return 1;
  }
  if (code == EventOp::replace) {
    const double nid = read_once(e + kEvNewOrderId);
    if (!whole(nid, 0)) return refuse(MboReason::new_order_id, i);
    if (lots == 0) return refuse(MboReason::size, i);
    const auto unid = static_cast<uint64_t>(nid);
    if (unid != uid && find_order(unid + 1) >= 0) return refuse(MboReason::duplicate_new, i);
    const Side to = slot >= 0 ? static_cast<Side>(orders_[static_cast<std::size_t>(slot)].side) : s;
    if (!fits(to, ticks, lots)) return refuse(MboReason::overflow, i);
    if (!reserve_one(to)) return refuse(MboReason::out_of_memory, i);
    if (slot >= 0) take_known(slot, kMaxInt);
    else view_[kMboUnknownOrders] += 1;
    add_order(unid, to, ticks, lots);
    return 1;
  }
  // reduce, delete, execute
  if (slot >= 0) take_known(slot, code == EventOp::del ? kMaxInt : lots);
  else take_unknown(s, ticks, lots);
  return 1;
}

int64_t MboBook::apply(const double* events, std::size_t from, std::size_t to) noexcept {
  for (std::size_t i = from; i < to; ++i) {
    const int64_t r = one(events + i * kEventStride, i);
    if (r < 0) return r;
  }
  return static_cast<int64_t>(to);
}

bool MboBook::query() noexcept {
  const double id = view_[kMboEvent + kEvOrderId];
  const int32_t slot = whole(id, 0) ? find_order(static_cast<uint64_t>(id) + 1) : -1;
  if (slot < 0) return false;
  const Order& o = orders_[static_cast<std::size_t>(slot)];
  view_[kMboQuerySide] = o.side;
  view_[kMboQueryTicks] = static_cast<double>(o.ticks);
  view_[kMboQueryLots] = static_cast<double>(o.lots);
  return true;
}

std::size_t MboBook::levels(Side side, std::size_t n, double* out, bool units) const noexcept {
  const auto& l = ladder(side);
  const std::size_t m = std::min(n, l.size());
  for (std::size_t j = 0; j < m; ++j) {
    const Level& lv = l[l.size() - 1 - j];
    if (units) {
      out[3 * j] = static_cast<double>(lv.ticks);
      out[3 * j + 1] = static_cast<double>(lv.total);
      out[3 * j + 2] = 0;
    } else {
      out[2 * j] = tick_.to_value(lv.ticks);
      out[2 * j + 1] = lot_.to_value(lv.total);
    }
  }
  return m;
}

// ---- LOBSTER replay check: the same steps as mbo-core.ts replayLobster ----

void MboBook::replay_lobster(const double* events, const double* rows, std::size_t count, std::size_t cols,
                             std::size_t depth, std::vector<double>& extras, uint32_t* extra_start, double* summary) {
  double mismatches = 0;
  double refills = 0;
  int kept = 0;
  double status = static_cast<double>(count);
  auto push = [&extras](double op, double time, int side, double price, double size, double aux) {
    extras.insert(extras.end(), {op, time, 0.0, static_cast<double>(side), price, size, 0.0, aux});
  };
  std::fill(summary, summary + kReplaySummary, kNaN);
  if (count > 0) extra_start[0] = 0;
  for (std::size_t k = 1; k < count; ++k) {
    const auto from = static_cast<uint32_t>(extras.size() / kEventStride);
    extra_start[k] = from;
    const int64_t r = apply(events, k, k + 1);
    if (r < 0) {
      status = static_cast<double>(r);
      for (std::size_t j = k + 1; j <= count; ++j) extra_start[j] = from;
      break;
    }
    const double time = read_once(events + k * kEventStride + kEvTime);
    const double aux = static_cast<double>(k + 1);
    for (int side = 0; side < 2; ++side) {
      const Side s = side == 0 ? Side::bid : Side::ask;
      const auto& l = ladder(s);
      const std::size_t m = l.size();
      const double* row = rows + k * cols + (side == 0 ? 2 : 0);
      // The book's level j (best first) is l[m - 1 - j]; refills append beyond the last one.
      std::size_t bad = depth;
      for (std::size_t j = 0; j < depth; ++j) {
        const double pt = row[4 * j];
        const double qt = row[4 * j + 1];
        const bool theirs = qt > 0;
        if (j >= m) {
          if (!theirs) break;
          push(static_cast<double>(EventOp::level), time, side, pt, qt, aux);
          refills += 1;
          continue;
        }
        const Level& lv = l[m - 1 - j];
        if (!theirs || static_cast<double>(lv.ticks) != pt || static_cast<double>(lv.total) != qt) {
          bad = j;
          break;
        }
      }
      if (bad < depth) {
        mismatches += 1;
        if (kept < kFirstMismatches) {
          double* f = summary + 4 + kept * kMismatchStride;
          const bool ours = bad < m;
          const double qt = row[4 * bad + 1];
          f[0] = static_cast<double>(k + 1);
          f[1] = side;
          f[2] = static_cast<double>(bad + 1);
          f[3] = ours ? static_cast<double>(l[m - 1 - bad].ticks) : kNaN;
          f[4] = ours ? static_cast<double>(l[m - 1 - bad].total) : kNaN;
          f[5] = qt > 0 ? row[4 * bad] : kNaN;
          f[6] = qt > 0 ? qt : kNaN;
          ++kept;
        }
        push(static_cast<double>(EventOp::trim), time, side, 0, 0, aux);
        for (std::size_t j = 0; j < depth; ++j) {
          if (row[4 * j + 1] > 0) push(static_cast<double>(EventOp::level), time, side, row[4 * j], row[4 * j + 1], aux);
        }
      } else if (m > depth) {
        push(static_cast<double>(EventOp::trim), time, side, 0, static_cast<double>(depth), aux);
      }
    }
    const std::size_t to = extras.size() / kEventStride;
    if (to > from) {
      const int64_t x = apply(extras.data(), from, to);
      if (x < 0) {
        // A row's own numbers refused as an event (a price off the grid): reported as the message's.
        status = -static_cast<double>(k) - 1;
        for (std::size_t j = k + 1; j <= count; ++j) extra_start[j] = static_cast<uint32_t>(to);
        break;
      }
    }
  }
  if (count > 0 && status >= 0) extra_start[count] = static_cast<uint32_t>(extras.size() / kEventStride);
  summary[0] = status;
  summary[1] = mismatches;
  summary[2] = refills;
  summary[3] = kept;
}

}  // namespace up::orderbook
