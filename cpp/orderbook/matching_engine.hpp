// L3 matching engine with price-time priority. Orders are nodes in a SlabPool (cpp/memory's
// slab) linked FIFO per level; levels sit in a pool and each side keeps a sorted vector of
// (key, level) with the best at the back. Quantities are integer lots, prices integer ticks.
//
// Everything JS reads after a call lands in view(): a fixed array of doubles laid out as
// lib/orderbook/layout.ts says (top of book, the last report, an order query, fills).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "l2_book.hpp"
#include "order_pool.hpp"
#include "price.hpp"

namespace up::orderbook {

enum class OrderStatus : int { accepted = 0, partially_filled = 1, filled = 2, cancelled = 3, rejected = 4 };
// quantity_overflow: a level total, or an order's filled plus open lots, would pass int64.
enum class RejectReason : int { none = 0, post_only_would_take = 1, unknown_order = 2, out_of_memory = 3, quantity_overflow = 4 };
// Why a report says cancelled, in the same view slot (kReportReject) as a reject reason: the
// codes follow RejectReason's so one slot never means two things. lib/orderbook/engine-core.ts
// CancelCode mirrors them.
enum class CancelReason : int {
  fok_unfillable = 5,         // fill-or-kill that could not fill completely: nothing traded
  ioc_remainder = 6,          // immediate-or-cancel: what did not fill at once
  market_remainder = 7,       // a market order's unfilled rest (market orders never rest)
  self_trade_prevention = 8,  // selfTradePrevention cancelled the taker
  modified_to_zero = 9,       // modify() to quantity 0
};
enum class TimeInForce : int { gtc = 0, ioc = 1, fok = 2 };
enum class SelfTrade : int { none = 0, cancel_taker = 1, cancel_maker = 2, cancel_both = 3 };

// Offsets into view(), in doubles. lib/orderbook/layout.ts mirrors these. Quantities and
// prices are written as values (correctly rounded from exact lots and ticks, so lots beyond
// 2^53 never pass through a double); the argument slots carry lots as a double plus the
// correction it could not hold.
enum ViewField : int {
  kReportOrderId = 8,
  kReportStatus = 9,
  kReportFilledQuantity = 10,
  kReportRemainingQuantity = 11,
  kReportReject = 12,
  kReportFillCount = 13,
  kBatchFills = 14,
  kBatchFirstOrderId = 15,
  kQueryOrderId = 16,
  kQuerySide = 17,
  kQueryPrice = 18,
  kQueryQuantity = 19,
  kQueryFilledQuantity = 20,
  kQueryOwner = 21,
  kQueryClientId = 22,
  kQueryPostOnly = 23,
  kReportAveragePrice = 24,
  kViewFills = 25,
  kViewFillCapacity = 256,
  kViewFillStride = 3,
  // Argument slots the binding reads instead of JS arguments (see l2_book.hpp kArgTicks).
  kViewArgs = kViewFills + kViewFillCapacity * kViewFillStride,
  kViewArgCount = 9,
  kViewDoubles = kViewArgs + kViewArgCount,
};

// Packed batch formats (lib/orderbook/engine.ts documents them for users).
inline constexpr std::size_t kCommandStride = 6;
inline constexpr std::size_t kFillStride = 4;
enum class Command : int { limit = 0, market = 1, cancel = 2, modify = 3 };

struct Order {
  uint64_t id;
  int64_t ticks;
  int64_t remaining;
  int64_t filled;
  double client_id;
  int32_t prev;
  int32_t next;
  int32_t level;
  uint32_t owner;
  Side side;
  bool post_only;
};
static_assert(sizeof(Order) == 64, "one order per cache line");

struct Fill {
  uint64_t maker_id;
  int64_t ticks;
  int64_t lots;
};

class MatchingEngine {
 public:
  MatchingEngine(Grid tick, Grid lot, SelfTrade stp);

  // Arguments validated and converted by the caller; ticks is ignored for market orders.
  void submit(Side side, bool market, int64_t ticks, int64_t lots, TimeInForce tif, bool post_only, uint32_t owner,
              double client_id);
  bool cancel(uint64_t id) noexcept;
  // has_price/has_qty false keep the order's own; unknown ids report rejected/unknown_order.
  // Fills of the last submit/modify are in fills() and (the first kViewFillCapacity) in view().
  void modify_and_publish(uint64_t id, bool has_price, int64_t ticks, bool has_qty, int64_t lots);
  // Fills the query fields of view(); false when the id is not resting.
  bool query(uint64_t id) noexcept;
  // (price, size) pairs best first, or with units (ticks, lots as a double, the correction
  // the double could not hold) triples, for book walks that sum exactly.
  std::size_t levels(Side side, std::size_t n, double* out, bool units = false) const noexcept;
  // Every fill of the last submit/modify as (makerId, price, quantity); returns the count written.
  std::size_t copy_fills(double* out, std::size_t cap) const noexcept;
  // Validates every command first (-(index + 1) on the first bad one, nothing applied),
  // then runs them all and returns n. Fills beyond fills_cap are counted, not written. Each
  // element of commands is read exactly once (it may be shared memory another thread writes,
  // or the fills_out array itself): what runs is what was validated.
  int64_t batch(const double* commands, std::size_t n, double* fills_out, std::size_t fills_cap);

  const std::vector<Fill>& fills() const noexcept { return fills_; }
  double* view() noexcept { return view_; }
  std::size_t resting() const noexcept { return ids_.size(); }
  // -kMaxTicks, or 0 when the engine refuses negative prices (Grid::min_ticks).
  int64_t min_ticks() const noexcept { return tick_.min_ticks; }
  uint64_t next_id() const noexcept { return next_id_; }

 private:
  struct Level {
    int64_t ticks;
    int64_t total;
    int32_t head;
    int32_t tail;
    int32_t next_free;
  };
  struct Entry {
    int64_t key;
    int32_t level;
  };
  // A batch command after validation, converted once: what the second pass runs.
  struct BatchCommand {
    uint64_t id;  // cancel, modify
    int64_t ticks;
    int64_t lots;
    uint32_t owner;
    Command op;
    Side side;
    TimeInForce tif;
    bool post_only;
    bool has_price;  // modify
    bool has_qty;    // modify
  };

  std::vector<Entry>& side_of(Side s) noexcept { return s == Side::bid ? bids_ : asks_; }
  const std::vector<Entry>& side_of(Side s) const noexcept { return s == Side::bid ? bids_ : asks_; }

  // Matches a taker against the opposite side; returns false when self-trade prevention
  // cancelled the taker's remainder.
  bool match(uint64_t taker_id, Side side, bool market, int64_t limit, int64_t& remaining, uint32_t owner);
  bool fok_fillable(Side side, bool market, int64_t limit, int64_t lots, uint32_t owner) const noexcept;
  bool would_take(Side side, int64_t limit) const noexcept;
  // Rests a new node; none, out_of_memory or quantity_overflow (the level total would pass int64).
  RejectReason rest(uint64_t id, Side side, int64_t ticks, int64_t lots, int64_t filled, uint32_t owner,
                    double client_id, bool post_only);
  // Takes a node out of its level's queue and total; unlink also forgets and frees it.
  void detach(int32_t h) noexcept;
  void unlink(int32_t h) noexcept;
  int32_t level_for(Side side, int64_t ticks);
  void drop_level(Side side, int32_t level) noexcept;
  void free_level(int32_t level) noexcept;
  void compact(Side side) noexcept;
  void refresh_top() noexcept;
  void publish_fills() noexcept;
  void modify(uint64_t id, bool has_price, int64_t ticks, bool has_qty, int64_t lots);
  void report(uint64_t id, OrderStatus status, int64_t filled, int64_t remaining, RejectReason reason) noexcept;
  void report_cancelled(uint64_t id, int64_t filled, CancelReason reason) noexcept;
  void write_report_values() noexcept;
  // A whole submit/modify after validation: match, then rest or cancel the remainder.
  void execute(uint64_t id, Side side, bool market, int64_t ticks, int64_t lots, TimeInForce tif, bool post_only,
               uint32_t owner, double client_id, int64_t prior_filled);

  alignas(64) double view_[kViewDoubles];
  Grid tick_;
  Grid lot_;
  SelfTrade stp_;
  uint64_t next_id_ = 1;
  mutable SlabPool<Order> orders_;
  IdMap ids_;
  std::vector<Level> levels_;
  int32_t free_level_ = -1;
  // A level that empties below the top stays in its side's vector as a tombstone (head ==
  // kNone): orders moving back to that price reuse it, and no insert or erase shifts the
  // vector in steady state. The back is never a tombstone; live_ counts levels with orders.
  std::vector<Entry> bids_;
  std::vector<Entry> asks_;
  std::size_t live_[2] = {0, 0};
  std::size_t dead_[2] = {0, 0};
  std::vector<Fill> fills_;
  // batch()'s validated commands: grows to the largest batch and is reused, so a steady
  // stream of batches allocates nothing.
  std::vector<BatchCommand> batch_;
  // Inside a batch the view's top of book and the last report's quantities and average price
  // are written once, at the end: no command of a batch reads them.
  bool defer_top_ = false;
  // What refresh_top last wrote for each side's best level, (ticks, total), kEmptyTop for an
  // empty side; kUnpublished (never a level's ticks) forces the first write.
  static constexpr int64_t kEmptyTop = INT64_MIN;
  static constexpr int64_t kUnpublished = INT64_MIN + 1;
  int64_t top_ticks_[2] = {kUnpublished, kUnpublished};
  int64_t top_total_[2] = {0, 0};
  int64_t report_filled_ = 0;
  int64_t report_remaining_ = 0;
};

}  // namespace up::orderbook
