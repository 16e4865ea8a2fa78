// Prices as integer ticks and quantities as integer lots (Nautilus PriceRaw style). A
// step is held as num/den (den a power of ten when the step is decimal) so that the
// conversions below are the same IEEE operations, in the same order, as lib/orderbook/grid.ts:
// the two backends agree bit for bit.
#pragma once

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace up::orderbook {

enum class Side : uint8_t { bid = 0, ask = 1 };

// One element of a caller's array (deltas, batch commands), which may live in a
// SharedArrayBuffer another thread writes while a call runs: read once, as a relaxed atomic
// so the compiler cannot read it again, into a local that is then validated and used. A
// Float64Array's data is always 8-byte aligned.
inline double read_once(const double* p) noexcept {
  return std::atomic_ref<double>(*const_cast<double*>(p)).load(std::memory_order_relaxed);
}

constexpr Side opposite(Side s) noexcept { return s == Side::bid ? Side::ask : Side::bid; }

// The one side-dependent comparison: a key that grows toward the best price on either
// side, so both ladders sort ascending with the best level at the back.
constexpr int64_t key_of(Side s, int64_t ticks) noexcept { return s == Side::bid ? ticks : -ticks; }

// A maker at maker_ticks on side s can trade with a taker whose limit is limit_ticks.
constexpr bool crosses(Side maker_side, int64_t maker_ticks, int64_t limit_ticks) noexcept {
  return key_of(maker_side, maker_ticks) >= key_of(maker_side, limit_ticks);
}

// Relative tolerance (4 * 2^-52 of x) within which a number counts as on the grid: the double
// nearest k * step is within 1.5 * 2^-52 * k of k after the multiply and divide (grid.ts).
inline constexpr double kGridTolerance = 0x1p-50;
// |ticks| <= 2^53 - 1: ticks are exact doubles in the view and in JS.
inline constexpr int64_t kMaxTicks = (int64_t{1} << 53) - 1;
inline constexpr double kMaxTicksDouble = 9007199254740991.0;
// Lots of an order, a level total or a filled sum: int64.
inline constexpr int64_t kMaxLots = INT64_MAX;
// The largest double not above kMaxLots (2^63 - 1024).
inline constexpr double kMaxLotsDouble = 9223372036854774784.0;
// Integers up to 2^53 - 1 are exact doubles.
inline constexpr double kSafe = 9007199254740991.0;
inline constexpr int64_t kSafeInt = (int64_t{1} << 53) - 1;

// d when den == 10^d and num is a whole number below 2^53 (a decimal step), else -1.
inline int decimal_digits(double num, double den) noexcept {
  if (!(num >= 1 && num <= kSafe && num == std::floor(num))) return -1;
  double p = 1;
  for (int d = 0; d <= 22; ++d, p *= 10) {
    if (den == p) return d;
  }
  return -1;
}

// The exact decimal p / 10^digits, correctly rounded to a double (from_chars rounds
// correctly, as Number() does in grid.ts, and ignores the locale).
inline double decimal_value(__int128 p, int digits) noexcept {
  char digs[48];
  int n = 0;
  const bool neg = p < 0;
  auto u = neg ? -static_cast<unsigned __int128>(p) : static_cast<unsigned __int128>(p);
  do {
    digs[n++] = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  } while (u != 0);
  while (n <= digits) digs[n++] = '0';
  char buf[80];
  int k = 0;
  for (int i = n - 1; i >= 0; --i) {
    buf[k++] = digs[i];
    if (i == digits && digits > 0) buf[k++] = '.';
  }
  double out = 0;
  std::from_chars(buf, buf + k, out);
  return neg ? -out : out;
}

struct Grid {
  double num = 1;  // step = num / den
  double den = 1;
  int digits = -1;
  // The smallest tick count to_ticks accepts: -kMaxTicks, or 0 for an instrument whose prices
  // are never negative (allowNegativePrices false, the default in lib/orderbook). Unused for lots.
  int64_t min_ticks = -kMaxTicks;

  Grid() = default;
  Grid(double n, double d, bool allow_negative = true) noexcept
      : num(n), den(d), digits(decimal_digits(n, d)), min_ticks(allow_negative ? -kMaxTicks : 0) {}

  // Units of the step for v; false when v is not finite, off the grid or |units| > max_units.
  bool to_units(double v, int64_t& out, double max_units) const noexcept {
    // Dividing by 1 is exact, so skipping it keeps the result bit-identical to grid.ts.
    const double scaled = v * den;
    const double x = num == 1 ? scaled : scaled / num;
    // Above 2^52 every double is whole and x + 0.5 could round up.
    const double r = std::fabs(x) < 0x1p52 ? std::floor(x + 0.5) : x;
    if (!(std::fabs(x - r) <= kGridTolerance * std::fabs(x)) || !(std::fabs(r) <= max_units)) return false;
    out = static_cast<int64_t>(r);
    return true;
  }
  bool to_ticks(double v, int64_t& out) const noexcept { return to_units(v, out, kMaxTicksDouble) && out >= min_ticks; }
  // Lots are never negative.
  bool to_lots(double v, int64_t& out) const noexcept { return to_units(v, out, kMaxLotsDouble) && out >= 0; }

  // The value of units, correctly rounded: units * num is exact below 2^53 and one division
  // rounds once; beyond, the exact decimal is parsed.
  double to_value(int64_t units) const noexcept {
    const double p = static_cast<double>(units) * num;
    // Dividing by 1 is exact (a whole lot or tick grid): skipping it keeps the bits grid.ts gives.
    if (!(p > kSafe || p < -kSafe) || digits < 0) return den == 1 ? p : p / den;
    return big_value(units);
  }
  double big_value(__int128 units) const noexcept {
    if (digits < 0) return static_cast<double>(units) * num / den;
    const __int128 p = units * static_cast<__int128>(static_cast<int64_t>(num));
    if (p <= kSafeInt && p >= -kSafeInt) return static_cast<double>(p) / den;
    return decimal_value(p, digits);
  }
  // The value of n / f units (f > 0), for averages, as grid.ts ratioValue. While n * num and
  // f * den are exact (below 2^53) one division rounds the exact quotient once, so a whole
  // quotient (one fill, one level) comes out as its own price; past that, a whole quotient
  // goes through big_value and any other through the correctly rounded n and f.
  double ratio_value(__int128 n, __int128 f) const noexcept {
    if (digits >= 0 && n >= -kSafeInt && n <= kSafeInt && f <= kSafeInt) {
      const double a = static_cast<double>(n) * num;
      const double b = static_cast<double>(f) * den;
      if (a >= -kSafe && a <= kSafe && b <= kSafe) return a / b;
    }
    if (n % f == 0) return big_value(n / f);
    return static_cast<double>(n) * num / (static_cast<double>(f) * den);
  }
};

}  // namespace up::orderbook
