#include "itch_batch.hpp"

#include <array>
#include <cstring>

namespace up::net {
namespace {

// memcpy keeps the loads legal at any alignment; the compiler emits one mov + bswap.
inline std::uint16_t be16(const std::uint8_t* p) noexcept {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline std::uint32_t be32(const std::uint8_t* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline std::uint64_t be64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
// Through int64: one signed convert, where uint64 -> double costs a branch (every value here is < 2^53).
inline double to_double(std::uint64_t v) noexcept { return static_cast<double>(static_cast<std::int64_t>(v)); }
inline double be48(const std::uint8_t* p) noexcept {
  return to_double((static_cast<std::uint64_t>(be16(p)) << 32) | be32(p + 2));
}

inline constexpr std::uint64_t kExactLimit = std::uint64_t{1} << 53;

// How to read each batch column's field from a message of a type: 8 bytes at `at` (from the
// type byte) ANDed with `mask`. A 4-byte field is read as the low half of the 8 bytes ending
// with it; an absent field has mask 0. So the hot loop reads every type the same way, with
// no branch on the type to mispredict. Order: ref, new ref, shares, price, match.
struct Layout {
  std::uint64_t mask[5];
  std::uint8_t at[5];
  std::uint8_t side;  // 0: no buy/sell indicator
};
enum Col { kRef, kNewRef, kQty, kPx, kMatch };
inline constexpr std::uint64_t kAll = ~std::uint64_t{0};
inline constexpr std::uint64_t kLow32 = 0xffffffffu;

inline constexpr std::array<Layout, 256> kLayouts = [] {
  std::array<Layout, 256> t{};
  // An absent field reads offset 1 (inside every message: the shortest is 12 bytes).
  for (auto& l : t) l = {{0, 0, 0, 0, 0}, {1, 1, 1, 1, 1}, 0};
  auto set = [&](char type, Col c, std::uint8_t field_at, int bytes) {
    t[static_cast<std::uint8_t>(type)].mask[c] = bytes == 8 ? kAll : kLow32;
    t[static_cast<std::uint8_t>(type)].at[c] = static_cast<std::uint8_t>(bytes == 8 ? field_at : field_at - 4);
  };
  // Offsets as lib/net/itch.ts decodeItchBatchTs reads them (body offset + 11).
  for (char type : {'A', 'F', 'P'}) {
    set(type, kRef, 11, 8);
    set(type, kQty, 20, 4);
    set(type, kPx, 32, 4);
    t[static_cast<std::uint8_t>(type)].side = 19;
  }
  set('P', kMatch, 36, 8);
  for (char type : {'E', 'C'}) {
    set(type, kRef, 11, 8);
    set(type, kQty, 19, 4);
    set(type, kMatch, 23, 8);
  }
  set('C', kPx, 32, 4);
  set('X', kRef, 11, 8);
  set('X', kQty, 19, 4);
  set('D', kRef, 11, 8);
  set('U', kRef, 11, 8);
  set('U', kNewRef, 19, 8);
  set('U', kQty, 27, 4);
  set('U', kPx, 31, 4);
  set('Q', kQty, 11, 8);
  set('Q', kPx, 27, 4);
  set('Q', kMatch, 31, 8);
  set('B', kMatch, 11, 8);
  set('I', kQty, 11, 8);
  set('I', kPx, 44, 4);
  return t;
}();



struct Suspect {
  ItchStatus status;
  std::size_t at;  // from the body (the byte after the header)
  ItchField field;
};

// The first bad field of a message body, checked in the TS decoder's order (decodeItchBatchTs
// reads each type's fields in wire order and throws at the first), so both name the same byte.
Suspect first_error(std::uint8_t code, const std::uint8_t* b) noexcept {
  auto exact = [&](std::size_t at, ItchField field) noexcept {
    return be64(b + at) >= kExactLimit ? Suspect{ItchStatus::kNotExact, at, field} : Suspect{ItchStatus::kOk, 0, ItchField::kNone};
  };
  Suspect e{ItchStatus::kOk, 0, ItchField::kNone};
  switch (code) {
    case 'A':
    case 'F':
    case 'P':
      if ((e = exact(0, ItchField::kOrderRef)).status != ItchStatus::kOk) return e;
      if (b[8] != 'B' && b[8] != 'S') return {ItchStatus::kBadSide, 8, ItchField::kNone};
      return code == 'P' ? exact(25, ItchField::kMatchNumber) : e;
    case 'E':
    case 'C':
      if ((e = exact(0, ItchField::kOrderRef)).status != ItchStatus::kOk) return e;
      return exact(12, ItchField::kMatchNumber);
    case 'X':
    case 'D':
      return exact(0, ItchField::kOrderRef);
    case 'U':
      if ((e = exact(0, ItchField::kOrderRef)).status != ItchStatus::kOk) return e;
      return exact(8, ItchField::kNewOrderRef);
    case 'Q':
      if ((e = exact(0, ItchField::kCrossShares)).status != ItchStatus::kOk) return e;
      return exact(20, ItchField::kMatchNumber);
    case 'B':
      return exact(0, ItchField::kMatchNumber);
    case 'I':
      return exact(0, ItchField::kPairedShares);
    default:
      return e;
  }
}

}  // namespace

ItchBatchResult decode_itch_batch(const std::uint8_t* bytes, std::size_t size, std::size_t start, std::size_t capacity,
                                  const ItchColumns& out) noexcept {
  ItchBatchResult r;
  std::size_t at = start;
  std::size_t i = 0;
  // One exit for every error, so the counters stay those of the last complete row.
  auto fail = [&](ItchStatus status, std::size_t where, ItchField field) noexcept {
    r.count = i;
    r.end = at;
    r.status = status;
    r.error_at = where;
    r.field = field;
    return r;
  };
  while (i < capacity && at < size) {
    if (size - at < 2) return fail(ItchStatus::kBadFrame, at, ItchField::kNone);
    const std::size_t m = at + 2;
    const std::uint8_t code = m < size ? bytes[m] : 0;
    const std::size_t length = kItchMessageLength[code];
    // Unknown type, a prefix that is not the type's length, or a message past the end.
    if (length == 0 || be16(bytes + at) != length || length > size - m) return fail(ItchStatus::kBadFrame, at, ItchField::kNone);
    const std::uint8_t* p = bytes + m;
    out.type[i] = code;
    out.stock_locate[i] = be16(p + 1);
    out.tracking_number[i] = be16(p + 3);
    out.timestamp[i] = be48(p + 5);
    out.offset[i] = to_double(m);
    const Layout& l = kLayouts[code];
    const std::uint64_t ref = be64(p + l.at[kRef]) & l.mask[kRef];
    const std::uint64_t new_ref = be64(p + l.at[kNewRef]) & l.mask[kNewRef];
    const std::uint64_t qty = be64(p + l.at[kQty]) & l.mask[kQty];
    const std::uint64_t px = be64(p + l.at[kPx]) & l.mask[kPx];
    const std::uint64_t match = be64(p + l.at[kMatch]) & l.mask[kMatch];
    const std::uint8_t s = p[l.side];
    const bool has_side = l.side != 0;
    const std::int8_t sd = has_side ? static_cast<std::int8_t>(s == 'S') : std::int8_t{-1};
    // Rare: some 8-byte field is >= 2^53 or a side is not 'B'/'S'; first_error says which.
    if (((ref | new_ref | qty | match) >= kExactLimit) | (has_side & (s != 'B') & (s != 'S'))) [[unlikely]] {
      const Suspect e = first_error(code, p + kItchHeaderBytes);
      if (e.status != ItchStatus::kOk) return fail(e.status, m + kItchHeaderBytes + e.at, e.field);
    }
    out.order_ref[i] = to_double(ref);
    out.new_order_ref[i] = to_double(new_ref);
    out.side[i] = sd;
    out.shares[i] = to_double(qty);
    out.price[i] = to_double(px);
    out.match_number[i] = to_double(match);
    ++i;
    at = m + length;
  }
  r.count = i;
  r.end = at;
  return r;
}

}  // namespace up::net
