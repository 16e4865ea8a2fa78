#include "matching_engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace up::orderbook {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMaxId = 9007199254740991.0;  // ids stay exact doubles in JS
constexpr double kMaxOwner = 4294967295.0;

bool is_int_in(double v, double lo, double hi) noexcept { return v >= lo && v <= hi && v == std::floor(v); }

// lower_bound on key without data-dependent branches: the probe sequence is unpredictable,
// so cmov beats a mispredicted branch per step (level lookup was a fifth of the mix).
template <class Entry>
auto find_key(std::vector<Entry>& v, int64_t key) {
  if (v.empty()) return v.end();
  Entry* base = v.data();
  std::size_t n = v.size();
  while (n > 1) {
    const std::size_t half = n / 2;
    base = base[half].key < key ? base + half : base;
    n -= half;
  }
  return v.begin() + ((base - v.data()) + (base->key < key ? 1 : 0));
}
}  // namespace

MatchingEngine::MatchingEngine(Grid tick, Grid lot, SelfTrade stp) : tick_(tick), lot_(lot), stp_(stp) {
  std::fill(view_, view_ + kViewDoubles, 0.0);
  levels_.reserve(1024);
  bids_.reserve(512);
  asks_.reserve(512);
  fills_.reserve(64);
  refresh_top();
  report(0, OrderStatus::accepted, 0, 0, RejectReason::none);
}

void MatchingEngine::refresh_top() noexcept {
  if (defer_top_) return;
  for (int s = 0; s < 2; ++s) {
    const auto& book = s == 0 ? bids_ : asks_;
    // Most calls leave a side's best level as it was: its price and size doubles (two exact
    // divisions) are rewritten only when (ticks, total) changed since the last write.
    int64_t ticks = kEmptyTop;
    int64_t total = 0;
    if (!book.empty()) {
      const Level& lv = levels_[book.back().level];
      ticks = lv.ticks;
      total = lv.total;
    }
    if (ticks != top_ticks_[s] || total != top_total_[s]) {
      top_ticks_[s] = ticks;
      top_total_[s] = total;
      if (ticks == kEmptyTop) {
        view_[kBidPrice + 2 * s] = kNaN;
        view_[kBidSize + 2 * s] = kNaN;
        view_[kBidTicks + s] = kNaN;
      } else {
        view_[kBidPrice + 2 * s] = tick_.to_value(ticks);
        view_[kBidSize + 2 * s] = lot_.to_value(total);
        view_[kBidTicks + s] = static_cast<double>(ticks);
      }
    }
    view_[kBidLevels + s] = static_cast<double>(live_[s]);
  }
}

void MatchingEngine::report(uint64_t id, OrderStatus status, int64_t filled, int64_t remaining,
                            RejectReason reason) noexcept {
  view_[kReportOrderId] = static_cast<double>(id);
  view_[kReportStatus] = static_cast<double>(status);
  view_[kReportReject] = static_cast<double>(reason);
  view_[kReportFillCount] = static_cast<double>(fills_.size());
  report_filled_ = filled;
  report_remaining_ = remaining;
  if (!defer_top_) write_report_values();
}

void MatchingEngine::report_cancelled(uint64_t id, int64_t filled, CancelReason reason) noexcept {
  report(id, OrderStatus::cancelled, filled, 0, RejectReason::none);
  view_[kReportReject] = static_cast<double>(reason);
}

void MatchingEngine::write_report_values() noexcept {
  const int64_t filled = report_filled_;
  const int64_t remaining = report_remaining_;
  // Most reports carry a 0 (nothing filled, or nothing resting): no division for it.
  view_[kReportFilledQuantity] = filled == 0 ? 0.0 : lot_.to_value(filled);
  view_[kReportRemainingQuantity] = remaining == 0 ? 0.0 : lot_.to_value(remaining);
  // Sum ticks x lots exactly and convert once: a single fill averages to its own price.
  double avg = kNaN;
  if (fills_.size() == 1) {
    avg = tick_.to_value(fills_[0].ticks);  // what ratio_value gives, without the division
  } else if (filled > 0) {
    __int128 notional = 0;
    for (const Fill& f : fills_) notional += static_cast<__int128>(f.ticks) * f.lots;
    avg = tick_.ratio_value(notional, filled);
  }
  view_[kReportAveragePrice] = avg;
}

int32_t MatchingEngine::level_for(Side side, int64_t ticks) {
  auto& book = side_of(side);
  const int64_t key = key_of(side, ticks);
  auto it = book.empty() || book.back().key < key ? book.end() : find_key(book, key);
  const auto s = static_cast<int>(side);
  if (it != book.end() && it->key == key) {
    if (levels_[it->level].head == SlabPool<Order>::kNone) {
      --dead_[s];
      ++live_[s];
    }
    return it->level;
  }
  int32_t li = free_level_;
  if (li >= 0) {
    free_level_ = levels_[li].next_free;
  } else {
    levels_.push_back(Level{});
    li = static_cast<int32_t>(levels_.size() - 1);
  }
  levels_[li] = Level{ticks, 0, SlabPool<Order>::kNone, SlabPool<Order>::kNone, -1};
  try {
    book.insert(it, Entry{key, li});
  } catch (...) {
    free_level(li);
    throw;
  }
  ++live_[s];
  return li;
}

void MatchingEngine::free_level(int32_t li) noexcept {
  levels_[li].next_free = free_level_;
  free_level_ = li;
}

void MatchingEngine::drop_level(Side side, int32_t li) noexcept {
  auto& book = side_of(side);
  const auto s = static_cast<int>(side);
  --live_[s];
  if (book.back().level != li) {
    ++dead_[s];
    if (dead_[s] > 2 * live_[s] + 64) compact(side);
    return;
  }
  free_level(li);
  book.pop_back();
  while (!book.empty() && levels_[book.back().level].head == SlabPool<Order>::kNone) {
    free_level(book.back().level);
    book.pop_back();
    --dead_[s];
  }
}

void MatchingEngine::compact(Side side) noexcept {
  auto& book = side_of(side);
  std::size_t kept = 0;
  for (const Entry& e : book) {
    if (levels_[e.level].head == SlabPool<Order>::kNone) {
      free_level(e.level);
    } else {
      book[kept++] = e;
    }
  }
  book.resize(kept);
  dead_[static_cast<int>(side)] = 0;
}

void MatchingEngine::detach(int32_t h) noexcept {
  Order& o = orders_[h];
  Level& lv = levels_[o.level];
  lv.total -= o.remaining;
  if (o.prev != SlabPool<Order>::kNone) orders_[o.prev].next = o.next; else lv.head = o.next;
  if (o.next != SlabPool<Order>::kNone) orders_[o.next].prev = o.prev; else lv.tail = o.prev;
}

void MatchingEngine::unlink(int32_t h) noexcept {
  detach(h);
  ids_.erase(orders_[h].id);
  orders_.free(h);
}

RejectReason MatchingEngine::rest(uint64_t id, Side side, int64_t ticks, int64_t lots, int64_t filled,
                                  uint32_t owner, double client_id, bool post_only) {
  const int32_t h = orders_.alloc();
  if (h == SlabPool<Order>::kNone) return RejectReason::out_of_memory;
  int32_t li = -1;
  int64_t total = 0;
  try {
    li = level_for(side, ticks);
    // A live level is returned untouched, so refusing here changes nothing.
    if (__builtin_add_overflow(levels_[li].total, lots, &total)) {
      orders_.free(h);
      return RejectReason::quantity_overflow;
    }
    ids_.insert(id, h);
  } catch (...) {
    if (li >= 0 && levels_[li].head == SlabPool<Order>::kNone) drop_level(side, li);
    orders_.free(h);
    return RejectReason::out_of_memory;
  }
  Level& lv = levels_[li];
  orders_[h] = Order{id, ticks, lots, filled, client_id, lv.tail, SlabPool<Order>::kNone, li, owner, side, post_only};
  if (lv.tail != SlabPool<Order>::kNone) orders_[lv.tail].next = h; else lv.head = h;
  lv.tail = h;
  lv.total = total;
  return RejectReason::none;
}

bool MatchingEngine::would_take(Side side, int64_t limit) const noexcept {
  const Side ms = opposite(side);
  const auto& book = side_of(ms);
  return !book.empty() && crosses(ms, levels_[book.back().level].ticks, limit);
}

bool MatchingEngine::fok_fillable(Side side, bool market, int64_t limit, int64_t lots, uint32_t owner) const noexcept {
  const Side ms = opposite(side);
  const auto& book = side_of(ms);
  const bool stp = stp_ != SelfTrade::none && owner != 0;
  __int128 acc = 0;  // a side's lots can sum past int64
  auto& orders = orders_;
  for (auto it = book.rbegin(); it != book.rend(); ++it) {
    const Level& lv = levels_[it->level];
    if (!market && !crosses(ms, lv.ticks, limit)) break;
    if (!stp) {
      acc += lv.total;
      if (acc >= lots) return true;
      continue;
    }
    for (int32_t h = lv.head; h != SlabPool<Order>::kNone; h = orders[h].next) {
      const Order& o = orders[h];
      if (o.owner == owner) {
        if (stp_ == SelfTrade::cancel_maker) continue;
        return false;
      }
      acc += o.remaining;
      if (acc >= lots) return true;
    }
  }
  return false;
}

bool MatchingEngine::match(uint64_t taker_id, Side side, bool market, int64_t limit, int64_t& remaining,
                           uint32_t owner) {
  (void)taker_id;
  const Side ms = opposite(side);
  auto& book = side_of(ms);
  const bool stp = stp_ != SelfTrade::none && owner != 0;
  while (remaining > 0 && !book.empty()) {
    const int32_t li = book.back().level;
    Level& lv = levels_[li];
    if (!market && !crosses(ms, lv.ticks, limit)) break;
    int32_t h = lv.head;
    while (h != SlabPool<Order>::kNone && remaining > 0) {
      Order& m = orders_[h];
      const int32_t next = m.next;
      if (stp && m.owner == owner) {
        if (stp_ == SelfTrade::cancel_taker) return false;
        unlink(h);
        if (stp_ == SelfTrade::cancel_both) {
          if (lv.head == SlabPool<Order>::kNone) drop_level(ms, li);
          return false;
        }
        h = next;
        continue;
      }
      const int64_t q = std::min(remaining, m.remaining);
      fills_.push_back(Fill{m.id, m.ticks, q});
      m.remaining -= q;
      m.filled += q;
      lv.total -= q;
      remaining -= q;
      if (m.remaining == 0) unlink(h);
      h = next;
    }
    if (lv.head == SlabPool<Order>::kNone) drop_level(ms, li);
  }
  return true;
}

void MatchingEngine::execute(uint64_t id, Side side, bool market, int64_t ticks, int64_t lots, TimeInForce tif,
                             bool post_only, uint32_t owner, double client_id, int64_t prior_filled) {
  fills_.clear();
  if (post_only && !market && would_take(side, ticks)) {
    report(id, OrderStatus::rejected, 0, 0, RejectReason::post_only_would_take);
  } else if (tif == TimeInForce::fok && !fok_fillable(side, market, ticks, lots, owner)) {
    report_cancelled(id, 0, CancelReason::fok_unfillable);
  } else {
    int64_t remaining = lots;
    const bool alive = match(id, side, market, ticks, remaining, owner);
    const int64_t filled = lots - remaining;
    if (remaining == 0) {
      report(id, OrderStatus::filled, filled, 0, RejectReason::none);
    } else if (!alive || market || tif != TimeInForce::gtc) {
      // One reason, most specific first: STP named the taker; a market order never rests
      // whatever its time in force; else its time in force cancelled the rest.
      report_cancelled(id, filled,
                       !alive ? CancelReason::self_trade_prevention
                       : market ? CancelReason::market_remainder
                       : tif == TimeInForce::ioc ? CancelReason::ioc_remainder
                                                 : CancelReason::fok_unfillable);
    } else if (const RejectReason why = rest(id, side, ticks, remaining, prior_filled + filled, owner, client_id, post_only);
               why != RejectReason::none) {
      report(id, OrderStatus::rejected, filled, 0, why);
    } else {
      report(id, prior_filled + filled > 0 ? OrderStatus::partially_filled : OrderStatus::accepted, filled, remaining,
             RejectReason::none);
    }
  }
  refresh_top();
}

void MatchingEngine::submit(Side side, bool market, int64_t ticks, int64_t lots, TimeInForce tif, bool post_only,
                            uint32_t owner, double client_id) {
  execute(next_id_++, side, market, ticks, lots, tif, post_only, owner, client_id, 0);
  publish_fills();
}

void MatchingEngine::publish_fills() noexcept { copy_fills(view_ + kViewFills, kViewFillCapacity); }

std::size_t MatchingEngine::copy_fills(double* out, std::size_t cap) const noexcept {
  const std::size_t m = std::min(fills_.size(), cap);
  for (std::size_t i = 0; i < m; ++i) {
    out[3 * i] = static_cast<double>(fills_[i].maker_id);
    out[3 * i + 1] = tick_.to_value(fills_[i].ticks);
    out[3 * i + 2] = lot_.to_value(fills_[i].lots);
  }
  return m;
}

bool MatchingEngine::cancel(uint64_t id) noexcept {
  const int32_t h = ids_.find(id);
  if (h < 0) return false;
  const Order& o = orders_[h];
  const Side side = o.side;
  const int32_t li = o.level;
  unlink(h);
  if (levels_[li].head == SlabPool<Order>::kNone) drop_level(side, li);
  refresh_top();
  return true;
}

void MatchingEngine::modify(uint64_t id, bool has_price, int64_t ticks, bool has_qty, int64_t lots) {
  fills_.clear();
  const int32_t h = ids_.find(id);
  if (h < 0) {
    report(id, OrderStatus::rejected, 0, 0, RejectReason::unknown_order);
    return;
  }
  Order& o = orders_[h];
  const int64_t new_ticks = has_price ? ticks : o.ticks;
  const int64_t new_lots = has_qty ? lots : o.remaining;
  if (new_lots == 0) {
    cancel(id);
    report_cancelled(id, 0, CancelReason::modified_to_zero);
    return;
  }
  int64_t life = 0;
  if (__builtin_add_overflow(o.filled, new_lots, &life)) {
    // Filled plus open lots stay within int64, so a maker's filled sum never overflows.
    report(id, OrderStatus::rejected, 0, 0, RejectReason::quantity_overflow);
    return;
  }
  if (new_ticks == o.ticks && new_lots <= o.remaining) {
    // Shrinking in place keeps time priority.
    levels_[o.level].total -= o.remaining - new_lots;
    o.remaining = new_lots;
    report(id, o.filled > 0 ? OrderStatus::partially_filled : OrderStatus::accepted, 0, new_lots, RejectReason::none);
    refresh_top();
    return;
  }
  if (!would_take(o.side, new_ticks)) {
    // A move that cannot trade (82% of exchange-core's mix): relink the same node at the
    // back of its new level, as a cancel and re-submit would, without freeing and re-keying it.
    const int32_t old_level = o.level;
    Level& ol = levels_[old_level];
    if (ol.head == h && ol.tail == h && new_ticks != o.ticks) {
      // Alone at its level and going to an empty price: move the level itself, shifting only
      // the entries between its old and new place (erase + insert would shift two tails).
      auto& book = side_of(o.side);
      const int64_t new_key = key_of(o.side, new_ticks);
      const auto to = find_key(book, new_key);
      if (to == book.end() || to->key != new_key) {
        const auto i = static_cast<std::size_t>(find_key(book, key_of(o.side, o.ticks)) - book.begin());
        const auto j = static_cast<std::size_t>(to - book.begin());
        if (j > i) {
          std::memmove(&book[i], &book[i + 1], (j - 1 - i) * sizeof(Entry));
          book[j - 1] = Entry{new_key, old_level};
        } else {
          std::memmove(&book[j + 1], &book[j], (i - j) * sizeof(Entry));
          book[j] = Entry{new_key, old_level};
        }
        // Moving the best level down can leave a tombstone at the back; the back must be live.
        while (levels_[book.back().level].head == SlabPool<Order>::kNone) {
          free_level(book.back().level);
          book.pop_back();
          --dead_[static_cast<int>(o.side)];
        }
        ol.ticks = new_ticks;
        ol.total = new_lots;
        o.ticks = new_ticks;
        o.remaining = new_lots;
        report(id, o.filled > 0 ? OrderStatus::partially_filled : OrderStatus::accepted, 0, new_lots, RejectReason::none);
        refresh_top();
        return;
      }
    }
    const int32_t li = level_for(o.side, new_ticks);
    int64_t total = 0;
    if (__builtin_add_overflow(levels_[li].total - (li == old_level ? o.remaining : 0), new_lots, &total)) {
      // level_for returned a live level untouched: nothing has changed.
      report(id, OrderStatus::rejected, 0, 0, RejectReason::quantity_overflow);
      return;
    }
    detach(h);
    Level& lv = levels_[li];
    o.ticks = new_ticks;
    o.remaining = new_lots;
    o.level = li;
    o.prev = lv.tail;
    o.next = SlabPool<Order>::kNone;
    if (lv.tail != SlabPool<Order>::kNone) orders_[lv.tail].next = h; else lv.head = h;
    lv.tail = h;
    lv.total = total;
    // Only now: a level level_for revived is empty until the order is in it, and dropping the
    // old level may pop or compact empty levels.
    if (li != old_level && levels_[old_level].head == SlabPool<Order>::kNone) drop_level(o.side, old_level);
    report(id, o.filled > 0 ? OrderStatus::partially_filled : OrderStatus::accepted, 0, new_lots, RejectReason::none);
    refresh_top();
    return;
  }
  if (o.post_only) {
    // A rejected cancel/replace leaves the original working, with its priority.
    report(id, OrderStatus::rejected, 0, o.remaining, RejectReason::post_only_would_take);
    return;
  }
  const Order copy = o;
  const int32_t li = o.level;
  unlink(h);
  if (levels_[li].head == SlabPool<Order>::kNone) drop_level(copy.side, li);
  execute(id, copy.side, false, new_ticks, new_lots, TimeInForce::gtc, copy.post_only, copy.owner, copy.client_id,
          copy.filled);
}

void MatchingEngine::modify_and_publish(uint64_t id, bool has_price, int64_t ticks, bool has_qty, int64_t lots) {
  modify(id, has_price, ticks, has_qty, lots);
  publish_fills();
}

bool MatchingEngine::query(uint64_t id) noexcept {
  const int32_t h = ids_.find(id);
  if (h < 0) return false;
  const Order& o = orders_[h];
  view_[kQueryOrderId] = static_cast<double>(o.id);
  view_[kQuerySide] = static_cast<double>(o.side);
  view_[kQueryPrice] = tick_.to_value(o.ticks);
  view_[kQueryQuantity] = lot_.to_value(o.remaining);
  view_[kQueryFilledQuantity] = lot_.to_value(o.filled);
  view_[kQueryOwner] = static_cast<double>(o.owner);
  view_[kQueryClientId] = o.client_id;
  view_[kQueryPostOnly] = o.post_only ? 1 : 0;
  return true;
}

std::size_t MatchingEngine::levels(Side side, std::size_t n, double* out, bool units) const noexcept {
  const auto& book = side_of(side);
  std::size_t m = 0;
  for (auto it = book.rbegin(); it != book.rend() && m < n; ++it) {
    const Level& lv = levels_[it->level];
    if (lv.head == SlabPool<Order>::kNone) continue;
    if (units) {
      // lots = approx + correction exactly; the approximation stays below 2^63.
      const double approx = std::min(static_cast<double>(lv.total), kMaxLotsDouble);
      out[3 * m] = static_cast<double>(lv.ticks);
      out[3 * m + 1] = approx;
      out[3 * m + 2] = static_cast<double>(lv.total - static_cast<int64_t>(approx));
    } else {
      out[2 * m] = tick_.to_value(lv.ticks);
      out[2 * m + 1] = lot_.to_value(lv.total);
    }
    ++m;
  }
  return m;
}

int64_t MatchingEngine::batch(const double* c, std::size_t n, double* fills_out, std::size_t fills_cap) {
  if (batch_.size() < n) batch_.resize(n);
  BatchCommand* cmds = batch_.data();
  for (std::size_t i = 0; i < n; ++i) {
    const double* r = c + kCommandStride * i;
    BatchCommand& b = cmds[i];
    const double op = read_once(r);
    const double a1 = read_once(r + 1);
    b.ticks = 0;
    b.lots = -1;
    bool ok = false;
    if (op == 0 || op == 1) {
      const bool market = op == 1;
      const double price = read_once(r + 2);
      const double qty = read_once(r + 3);
      const double flags = read_once(r + 4);
      const double owner = read_once(r + 5);
      ok = (a1 == 0 || a1 == 1) && (market || tick_.to_ticks(price, b.ticks)) && lot_.to_lots(qty, b.lots) &&
           b.lots > 0 && is_int_in(flags, 0, 6) && (static_cast<int>(flags) & 3) != 3 &&
           !(market && (static_cast<int>(flags) & 4)) && is_int_in(owner, 0, kMaxOwner);
      if (ok) {
        const int f = static_cast<int>(flags);
        b.op = market ? Command::market : Command::limit;
        b.side = a1 == 0 ? Side::bid : Side::ask;
        b.tif = static_cast<TimeInForce>(f & 3);
        b.post_only = (f & 4) != 0;
        b.owner = static_cast<uint32_t>(owner);
      }
    } else if (op == 2) {
      ok = is_int_in(a1, 1, kMaxId);
      b.op = Command::cancel;
    } else if (op == 3) {
      const double price = read_once(r + 2);
      const double qty = read_once(r + 3);
      b.has_price = !std::isnan(price);
      b.has_qty = !std::isnan(qty);
      ok = is_int_in(a1, 1, kMaxId) && (!b.has_price || tick_.to_ticks(price, b.ticks)) &&
           (!b.has_qty || lot_.to_lots(qty, b.lots));
      b.op = Command::modify;
    }
    if (!ok) return -static_cast<int64_t>(i) - 1;
    b.id = static_cast<uint64_t>(a1);  // a side (0 or 1) for submits, unused there
  }
  struct TopOnce {
    MatchingEngine& e;
    explicit TopOnce(MatchingEngine& m) : e(m) { e.defer_top_ = true; }
    ~TopOnce() {
      e.defer_top_ = false;
      e.refresh_top();
      e.write_report_values();
    }
  } top_once(*this);
  const uint64_t first_id = next_id_;
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const BatchCommand& b = cmds[i];
    if (b.op == Command::cancel) {
      cancel(b.id);
      continue;
    }
    if (b.op == Command::modify) {
      modify(b.id, b.has_price, b.ticks, b.has_qty, b.lots);
    } else {
      execute(next_id_++, b.side, b.op == Command::market, b.ticks, b.lots, b.tif, b.post_only, b.owner, kNaN, 0);
    }
    if (fills_.empty()) continue;
    const double taker = view_[kReportOrderId];
    for (const Fill& f : fills_) {
      if (total < fills_cap && fills_out != nullptr) {
        double* o = fills_out + kFillStride * total;
        o[0] = static_cast<double>(f.maker_id);
        o[1] = taker;
        o[2] = tick_.to_value(f.ticks);
        o[3] = lot_.to_value(f.lots);
      }
      ++total;
    }
  }
  view_[kBatchFills] = static_cast<double>(total);
  view_[kBatchFirstOrderId] = static_cast<double>(first_id);
  return static_cast<int64_t>(n);
}

}  // namespace up::orderbook
