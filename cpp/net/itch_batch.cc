#include "itch_batch.hpp"

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
inline double be48(const std::uint8_t* p) noexcept {
  return static_cast<double>((static_cast<std::uint64_t>(be16(p)) << 32) | be32(p + 2));
}

inline constexpr std::uint64_t kExactLimit = std::uint64_t{1} << 53;

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
    out.offset[i] = static_cast<double>(m);
    const std::uint8_t* b = p + kItchHeaderBytes;
    std::uint64_t ref = 0;
    std::uint64_t new_ref = 0;
    std::int8_t sd = -1;
    std::uint64_t qty = 0;
    std::uint32_t px = 0;
    std::uint64_t match = 0;
    // The checks run in the TS decoder's order, so the first failure reported is the same one.
    switch (code) {
      case 'A':
      case 'F':
      case 'P': {
        ref = be64(b);
        if (ref >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes, ItchField::kOrderRef);
        const std::uint8_t s = b[8];
        if (s != 'B' && s != 'S') return fail(ItchStatus::kBadSide, m + kItchHeaderBytes + 8, ItchField::kNone);
        sd = s == 'S' ? 1 : 0;
        qty = be32(b + 9);
        px = be32(b + 21);
        if (code == 'P') {
          match = be64(b + 25);
          if (match >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes + 25, ItchField::kMatchNumber);
        }
        break;
      }
      case 'E':
      case 'C':
        ref = be64(b);
        if (ref >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes, ItchField::kOrderRef);
        qty = be32(b + 8);
        match = be64(b + 12);
        if (match >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes + 12, ItchField::kMatchNumber);
        if (code == 'C') px = be32(b + 21);
        break;
      case 'X':
        ref = be64(b);
        if (ref >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes, ItchField::kOrderRef);
        qty = be32(b + 8);
        break;
      case 'D':
        ref = be64(b);
        if (ref >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes, ItchField::kOrderRef);
        break;
      case 'U':
        ref = be64(b);
        if (ref >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes, ItchField::kOrderRef);
        new_ref = be64(b + 8);
        if (new_ref >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes + 8, ItchField::kNewOrderRef);
        qty = be32(b + 16);
        px = be32(b + 20);
        break;
      case 'Q':
        qty = be64(b);
        if (qty >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes, ItchField::kCrossShares);
        px = be32(b + 16);
        match = be64(b + 20);
        if (match >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes + 20, ItchField::kMatchNumber);
        break;
      case 'B':
        match = be64(b);
        if (match >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes, ItchField::kMatchNumber);
        break;
      case 'I':
        qty = be64(b);
        if (qty >= kExactLimit) return fail(ItchStatus::kNotExact, m + kItchHeaderBytes, ItchField::kPairedShares);
        px = be32(b + 33);
        break;
      default:
        break;
    }
    out.order_ref[i] = static_cast<double>(ref);
    out.new_order_ref[i] = static_cast<double>(new_ref);
    out.side[i] = sd;
    out.shares[i] = static_cast<double>(qty);
    out.price[i] = static_cast<double>(px);
    out.match_number[i] = static_cast<double>(match);
    ++i;
    at = m + length;
  }
  r.count = i;
  r.end = at;
  return r;
}

}  // namespace up::net
