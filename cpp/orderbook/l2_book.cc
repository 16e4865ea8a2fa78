#include "l2_book.hpp"

#include <algorithm>
#include <limits>

namespace up::orderbook {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t kInitialLevels = 256;
}  // namespace

L2Book::L2Book(Grid tick, Grid lot) : tick_(tick), lot_(lot) {
  bids_.reserve(kInitialLevels);
  asks_.reserve(kInitialLevels);
  refresh(Side::bid);
  refresh(Side::ask);
}

void L2Book::refresh(Side s) noexcept {
  const auto& l = ladder(s);
  double* t = top_ + (s == Side::bid ? 0 : 2);
  if (l.empty()) {
    t[0] = kNaN;
    t[1] = kNaN;
    top_[kBidTicks + static_cast<int>(s)] = kNaN;
  } else {
    t[0] = tick_.to_value(l.back().ticks);
    t[1] = l.back().size;
    top_[kBidTicks + static_cast<int>(s)] = static_cast<double>(l.back().ticks);
  }
  top_[kBidLevels + static_cast<int>(s)] = static_cast<double>(l.size());
}

void L2Book::set(Side side, int64_t ticks, double size) {
  auto& l = ladder(side);
  const int64_t key = key_of(side, ticks);
  // Most updates land at or near the top (the back), so look there before bisecting.
  std::size_t i = l.size();
  if (i == 0 || key_of(side, l.back().ticks) < key) {
    // Above the current best: append.
  } else {
    auto it = std::lower_bound(l.begin(), l.end(), key,
                               [side](const L2Level& lv, int64_t k) { return key_of(side, lv.ticks) < k; });
    i = static_cast<std::size_t>(it - l.begin());
  }
  const bool found = i < l.size() && l[i].ticks == ticks;
  const bool top = i + 1 >= l.size();
  if (size == 0) {
    if (!found) return;
    l.erase(l.begin() + static_cast<std::ptrdiff_t>(i));
  } else if (found) {
    l[i].size = size;
  } else {
    l.insert(l.begin() + static_cast<std::ptrdiff_t>(i), L2Level{ticks, size});
  }
  if (top || !found || size == 0) refresh(side);
}

bool L2Book::canonical_size(double raw, double& out) const noexcept {
  if (!std::isfinite(raw) || raw < 0) return false;
  if (lot_.den == 0) {
    out = raw;
    return true;
  }
  int64_t lots = 0;
  if (!lot_.to_lots(raw, lots)) return false;
  out = lot_.to_value(lots);
  return true;
}

int64_t L2Book::apply_deltas(const double* d, std::size_t n) {
  if (pending_.size() < n) pending_.resize(n);
  Pending* p = pending_.data();
  for (std::size_t i = 0; i < n; ++i) {
    const double side = read_once(d + 3 * i);
    const double price = read_once(d + 3 * i + 1);
    const double raw = read_once(d + 3 * i + 2);
    if (!(side == 0 || side == 1) || !tick_.to_ticks(price, p[i].ticks) || !canonical_size(raw, p[i].size)) {
      return -static_cast<int64_t>(i) - 1;
    }
    p[i].side = side == 0 ? Side::bid : Side::ask;
  }
  for (std::size_t i = 0; i < n; ++i) set(p[i].side, p[i].ticks, p[i].size);
  return static_cast<int64_t>(n);
}

void L2Book::clear() noexcept {
  bids_.clear();
  asks_.clear();
  refresh(Side::bid);
  refresh(Side::ask);
}

std::size_t L2Book::levels(Side side, std::size_t n, double* out, bool units) const noexcept {
  const auto& l = ladder(side);
  const std::size_t m = std::min(n, l.size());
  for (std::size_t j = 0; j < m; ++j) {
    const L2Level& lv = l[l.size() - 1 - j];
    if (units) {
      out[3 * j] = static_cast<double>(lv.ticks);
      out[3 * j + 1] = lv.size;
      out[3 * j + 2] = 0;
    } else {
      out[2 * j] = tick_.to_value(lv.ticks);
      out[2 * j + 1] = lv.size;
    }
  }
  return m;
}

}  // namespace up::orderbook
