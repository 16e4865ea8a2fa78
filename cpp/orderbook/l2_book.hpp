// L2 market-by-price book: one aggregated size per price level. Each side is a sorted
// vector of levels with the best at the back, so the updates a feed sends most (at or
// near the top) touch the end of the vector and move little.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "price.hpp"

namespace up::orderbook {

struct L2Level {
  int64_t ticks;
  double size;
};

// Doubles JS reads without a call, through a Float64Array over top_ (lib/orderbook/layout.ts).
enum TopField : int {
  kBidPrice = 0,
  kBidSize = 1,
  kAskPrice = 2,
  kAskSize = 3,
  kBidTicks = 4,
  kAskTicks = 5,
  kBidLevels = 6,
  kAskLevels = 7,
  kTopFields = 8,
  // Argument slots: the binding's hot calls read (ticks, size) here instead of taking JS
  // arguments, so a call carries none (udx-native style); one view covers both.
  kArgTicks = 8,
  kArgSize = 9,
  kL2ViewDoubles = 10,
};

class L2Book {
 public:
  // lot.den == 0: sizes are free values (no lot grid).
  L2Book(Grid tick, Grid lot);

  // Sets a level; size 0 removes it. Arguments are already validated and canonical.
  void set(Side side, int64_t ticks, double size);
  // Validates every [side, price, size] triple first; on a bad one returns -(index + 1)
  // and changes nothing, else applies all and returns n. Each element of deltas is read
  // exactly once (it may be shared memory another thread writes): what is applied is what
  // was validated.
  int64_t apply_deltas(const double* deltas, std::size_t n);
  void clear() noexcept;
  // Writes up to n (price, size) pairs, best first, or with units (ticks, size, 0) triples
  // (the engine's layout for book walks); returns the levels written.
  std::size_t levels(Side side, std::size_t n, double* out, bool units = false) const noexcept;
  std::size_t level_count(Side side) const noexcept { return ladder(side).size(); }
  // -kMaxTicks, or 0 when the book refuses negative prices (Grid::min_ticks).
  int64_t min_ticks() const noexcept { return tick_.min_ticks; }

  // top_[0, kTopFields) then the argument slots: what JS sees through one Float64Array.
  double* top() noexcept { return top_; }

 private:
  std::vector<L2Level>& ladder(Side s) noexcept { return s == Side::bid ? bids_ : asks_; }
  const std::vector<L2Level>& ladder(Side s) const noexcept { return s == Side::bid ? bids_ : asks_; }
  void refresh(Side s) noexcept;
  // Canonical size for a raw delta size; false when it is invalid.
  bool canonical_size(double raw, double& out) const noexcept;

  // A delta after validation, kept until the whole call has been checked.
  struct Pending {
    int64_t ticks;
    double size;
    Side side;
  };

  alignas(64) double top_[kL2ViewDoubles] = {};
  Grid tick_;
  Grid lot_;
  std::vector<L2Level> bids_;
  std::vector<L2Level> asks_;
  // apply_deltas' validated deltas: grows to the largest call and is reused, so a steady
  // stream of calls allocates nothing.
  std::vector<Pending> pending_;
};

}  // namespace up::orderbook
