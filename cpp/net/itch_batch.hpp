// NASDAQ TotalView-ITCH 5.0 batch decoder: framed messages ([u16 big-endian length][message])
// into struct-of-arrays columns, the same rows and the same errors as lib/net/itch.ts
// decodeItchBatch. Knows nothing of Node; cpp/napi/itch.cc binds it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace up::net {

// Type, stock locate, tracking number, timestamp: the header every message starts with.
inline constexpr std::size_t kItchHeaderBytes = 11;

// Message length (type byte included) by type byte; 0 for a byte that is not an ITCH 5.0 type.
inline constexpr std::array<std::uint8_t, 256> kItchMessageLength = [] {
  std::array<std::uint8_t, 256> t{};
  t['S'] = 12; t['R'] = 39; t['H'] = 25; t['Y'] = 20; t['L'] = 26; t['V'] = 35; t['W'] = 12;
  t['K'] = 28; t['J'] = 35; t['h'] = 21; t['A'] = 36; t['F'] = 40; t['E'] = 31; t['C'] = 36;
  t['X'] = 23; t['D'] = 19; t['U'] = 35; t['P'] = 44; t['Q'] = 40; t['B'] = 19; t['I'] = 50;
  t['N'] = 20; t['O'] = 48;
  return t;
}();

// Where the decoder writes row i; every column holds at least `capacity` elements.
struct ItchColumns {
  std::uint8_t* type;
  std::uint16_t* stock_locate;
  std::uint16_t* tracking_number;
  double* timestamp;
  double* order_ref;
  double* new_order_ref;
  std::int8_t* side;
  double* shares;
  double* price;
  double* match_number;
  double* offset;
};

// Why a batch stopped early. The TS side rebuilds the error message from the bytes at error_at.
enum class ItchStatus : std::int32_t {
  kOk = 0,
  kBadFrame = 1,  // error_at: the length prefix of a frame that is cut short, unknown or mislabelled
  kNotExact = 2,  // error_at: an 8-byte field >= 2^53 (field says which)
  kBadSide = 3,   // error_at: a buy/sell indicator other than 'B'/'S'
};

// The 8-byte field a kNotExact names, in lib/net/itch.ts kNativeExactFields order.
enum class ItchField : std::int32_t { kNone = -1, kOrderRef = 0, kNewOrderRef, kMatchNumber, kCrossShares, kPairedShares };

struct ItchBatchResult {
  std::size_t count = 0;  // rows written completely
  std::size_t end = 0;    // byte after the last decoded frame
  ItchStatus status = ItchStatus::kOk;
  std::size_t error_at = 0;
  ItchField field = ItchField::kNone;
};

// Decodes from bytes[start] until `capacity` rows or the end of the buffer. On an error the
// rows before it are complete and, for kNotExact / kBadSide, the failing row's header columns
// and offset are written (as the TS decoder leaves them). Requires start <= size.
ItchBatchResult decode_itch_batch(const std::uint8_t* bytes, std::size_t size, std::size_t start, std::size_t capacity,
                                  const ItchColumns& out) noexcept;

}  // namespace up::net
