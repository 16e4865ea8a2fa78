// Prices as integer ticks and quantities as integer lots (Nautilus PriceRaw style). A
// step is held as num/den (den a power of ten when the step is decimal) so that the
// conversions below are the same IEEE operations, in the same order, as lib/orderbook/grid.ts:
// the two backends agree bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

namespace up::orderbook {

enum class Side : uint8_t { bid = 0, ask = 1 };

constexpr Side opposite(Side s) noexcept { return s == Side::bid ? Side::ask : Side::bid; }

// The one side-dependent comparison: a key that grows toward the best price on either
// side, so both ladders sort ascending with the best level at the back.
constexpr int64_t key_of(Side s, int64_t ticks) noexcept { return s == Side::bid ? ticks : -ticks; }

// A maker at maker_ticks on side s can trade with a taker whose limit is limit_ticks.
constexpr bool crosses(Side maker_side, int64_t maker_ticks, int64_t limit_ticks) noexcept {
  return key_of(maker_side, maker_ticks) >= key_of(maker_side, limit_ticks);
}

// How far (in steps) a value may sit from the grid and still count as on it.
inline constexpr double kGridTolerance = 1e-6;
// 2^50: unit counts stay exact doubles with room for sums of a few hundred levels.
inline constexpr double kMaxUnits = 1125899906842624.0;

struct Grid {
  double num = 1;  // step = num / den
  double den = 1;

  // Units of the step for v; false when v is not finite, off the grid or out of range.
  bool to_units(double v, int64_t& out) const noexcept {
    if (!std::isfinite(v)) return false;
    // Dividing by 1 is exact, so skipping it keeps the result bit-identical to grid.ts.
    const double scaled = v * den;
    const double x = num == 1 ? scaled : scaled / num;
    const double r = std::floor(x + 0.5);
    if (!(std::fabs(x - r) <= kGridTolerance) || !(std::fabs(r) <= kMaxUnits)) return false;
    out = static_cast<int64_t>(r);
    return true;
  }
  double to_value(int64_t units) const noexcept { return static_cast<double>(units) * num / den; }
};

}  // namespace up::orderbook
