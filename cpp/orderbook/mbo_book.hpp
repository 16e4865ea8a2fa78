// Market-by-order book over lib/pipeline/events.ts events (8 doubles each: op, time, order id,
// side, price ticks, size lots, new order id, aux). lib/orderbook/mbo-core.ts is the same
// algorithm line for line; the two are differential-tested (test/mbo.test.ts).
//
// Orders: an open-addressing hash map id -> slot (linear probing, backward-shift deletion, no
// tombstones) and a slot pool, both sized from expected_orders up front and doubled when full
// (the growth happens before an event changes anything, so running out of memory refuses that
// event with MboReason::out_of_memory and leaves the book as it was). Levels: per side a sorted
// vector, best at the back, found by a short scan from the back (feeds update near the top)
// before bisecting; each level heads a doubly linked list of its known orders, for trim.
//
// A level's total is at least what its known orders hold (known); the rest is anonymous
// quantity (from `level` events) that events for unknown order ids reduce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "l2_book.hpp"
#include "price.hpp"

namespace up::orderbook {

// View doubles after the Top fields (lib/orderbook/layout.ts Mbo).
enum MboField : int {
  kMboOrderCount = 8,
  kMboUnknownOrders = 9,
  kMboForgottenOrders = 10,
  kMboErrorReason = 11,
  kMboQuerySide = 12,
  kMboQueryTicks = 13,
  kMboQueryLots = 14,
  kMboEvent = 16,
  kMboViewDoubles = 24,
};

// lib/pipeline/events.ts EventOp and EventField.
enum class EventOp : int { add = 1, reduce, del, execute, hidden_execute, cross, halt, replace, level, trim, clear };
inline constexpr int kEventStride = 8;
inline constexpr int kEvOp = 0, kEvTime = 1, kEvOrderId = 2, kEvSide = 3, kEvPrice = 4, kEvSize = 5, kEvNewOrderId = 6,
                     kEvAux = 7;

// Why an event was refused (lib/orderbook/layout.ts MboReason).
enum class MboReason : int {
  none = 0,
  op = 1,
  order_id = 2,
  side = 3,
  price = 4,
  size = 5,
  new_order_id = 6,
  duplicate = 7,
  duplicate_new = 8,
  overflow = 9,
  out_of_memory = 10,
};

// What replay_lobster found: per mismatch (row, side, level, ours ticks, ours lots, theirs
// ticks, theirs lots), NaN for "no level"; at most kFirstMismatches kept.
inline constexpr int kFirstMismatches = 10;
inline constexpr int kMismatchStride = 7;
// summary: status (count, or -(i + 1) for a refused message i), mismatches, refills, kept, then the kept mismatches.
inline constexpr int kReplaySummary = 4 + kFirstMismatches * kMismatchStride;

class MboBook {
 public:
  MboBook(Grid tick, Grid lot, std::size_t expected_orders);

  // Applies events [from, to) one by one, each validated before it changes anything: to, or
  // -(i + 1) for the first refused event i with the reason in view()[kMboErrorReason]. Each
  // element is read once (the array may be shared memory another thread writes).
  int64_t apply(const double* events, std::size_t from, std::size_t to) noexcept;
  // The order whose id is in the view's event slot: false when unknown, else its side, ticks
  // and lots in the view's query fields.
  bool query() noexcept;
  void clear() noexcept;
  // Up to n levels best first: (price, size) value pairs, or with units (ticks, lots, 0) triples.
  std::size_t levels(Side side, std::size_t n, double* out, bool units) const noexcept;
  std::size_t level_count(Side side) const noexcept { return ladder(side).size(); }
  double* view() noexcept { return view_; }

  // The LOBSTER replay check (lib/pipeline/sources/lobster.ts replayLobster), natively: for
  // message k = 1..count-1 apply events[k], compare the best `depth` levels per side with
  // orderbook row k (rows: count x cols doubles, ask price, ask size, bid price, bid size per
  // level), take a level that entered from beyond the book's last one from the row (a refill),
  // count any other difference as a mismatch and reset that side from the row, then trim
  // each side to depth. The events it adds go to extras (kEventStride doubles each), those of
  // message k from extra_start[k] (count + 1 entries). Throws std::bad_alloc only from extras.
  void replay_lobster(const double* events, const double* rows, std::size_t count, std::size_t cols, std::size_t depth,
                      std::vector<double>& extras, uint32_t* extra_start, double* summary);

 private:
  struct Level {
    int64_t ticks;
    int64_t total;
    int64_t known;
    int32_t head;
  };
  struct Order {
    uint64_t key;  // id + 1
    int64_t ticks;
    int64_t lots;
    int32_t prev;
    int32_t next;
    uint8_t side;
  };

  std::vector<Level>& ladder(Side s) noexcept { return s == Side::bid ? bids_ : asks_; }
  const std::vector<Level>& ladder(Side s) const noexcept { return s == Side::bid ? bids_ : asks_; }
  int64_t find_level(Side s, int64_t ticks) const noexcept;
  // Inserts an empty level (capacity reserved by the caller) and returns its index.
  std::size_t insert_level(Side s, int64_t ticks) noexcept;
  void refresh(Side s) noexcept;
  // Level li of s changed (inserted: it is new): dropped at 0; the view is refreshed when the
  // best level or the level count changed (most near-top updates of a deep book do neither).
  void settle(Side s, std::size_t li, bool inserted) noexcept;

  std::size_t home(uint64_t key) const noexcept { return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  int32_t find_order(uint64_t key) const noexcept;
  void map_insert(uint64_t key, int32_t slot) noexcept;
  void map_erase(uint64_t key) noexcept;
  // Room for one more order (map and pool) and one more level on side s; false when out of memory.
  bool reserve_one(Side s) noexcept;
  bool reserve_level(Side s) noexcept;

  void add_order(uint64_t id, Side s, int64_t ticks, int64_t lots) noexcept;
  void take_known(int32_t slot, int64_t lots) noexcept;
  void take_unknown(Side s, int64_t ticks, int64_t lots) noexcept;
  void set_level(Side s, int64_t ticks, int64_t lots) noexcept;
  void trim(Side s, std::size_t keep) noexcept;
  bool fits(Side s, int64_t ticks, int64_t lots) const noexcept;
  int64_t refuse(MboReason r, std::size_t i) noexcept;
  int64_t one(const double* e, std::size_t i) noexcept;

  alignas(64) double view_[kMboViewDoubles] = {};
  Grid tick_;
  Grid lot_;
  std::vector<Level> bids_;
  std::vector<Level> asks_;
  std::vector<uint64_t> keys_;
  std::vector<int32_t> vals_;
  std::size_t mask_ = 0;
  unsigned shift_ = 0;
  std::size_t size_ = 0;
  std::vector<Order> orders_;
  int32_t free_head_ = -1;
};

}  // namespace up::orderbook
