// Generated from lib/net/struct-schemas.ts (schema Quote) by `npx tsx scripts/gen-struct-headers.ts`: do not edit.
// Reads and writes the bytes of defineStruct(Quote) in lib/net/struct.ts; the frame is struct_frame.hpp's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "struct_frame.hpp"

namespace up::net {

struct Quote {
  static constexpr std::uint16_t kTemplateId = 1;
  static constexpr std::uint16_t kSchemaId = 1;
  static constexpr std::uint16_t kSchemaVersion = 0;
  static constexpr std::uint16_t kBlockLength = 40;
  static constexpr std::size_t kEncodedLength = kStructHeaderBytes + kBlockLength;
  static constexpr std::size_t kTimestampOffset = 0;
  static constexpr std::size_t kInstrumentIdOffset = 8;
  static constexpr std::size_t kSequenceOffset = 12;
  static constexpr std::size_t kBidPriceOffset = 16;
  static constexpr std::size_t kAskPriceOffset = 24;
  static constexpr std::size_t kBidSizeOffset = 32;
  static constexpr std::size_t kAskSizeOffset = 36;
  static constexpr int kBidPriceExponent = -4;
  static constexpr int kAskPriceExponent = -4;

  // The block bytes a frame of `version` must carry: the end of the fields it has.
  static constexpr std::uint16_t block_length_at([[maybe_unused]] std::uint16_t version) noexcept {
    return 40;
  }

  std::uint64_t timestamp = 0; // |v| <= 2^53 - 1 (a JS number)
  std::uint32_t instrument_id = 0;
  std::uint32_t sequence = 0;
  std::int64_t bid_price = 0; // ticks of 10^-4
  std::int64_t ask_price = 0; // ticks of 10^-4
  std::uint32_t bid_size = 0;
  std::uint32_t ask_size = 0;

  // Writes the header and the block (padding zeroed) to out[0, kEncodedLength).
  void encode(std::uint8_t* out) const noexcept {
    std::memset(out, 0, kEncodedLength);
    write_header(out, {kBlockLength, kTemplateId, kSchemaId, kSchemaVersion});
    std::uint8_t* block = out + kStructHeaderBytes;
    store(block + kTimestampOffset, timestamp);
    store(block + kInstrumentIdOffset, instrument_id);
    store(block + kSequenceOffset, sequence);
    store(block + kBidPriceOffset, bid_price);
    store(block + kAskPriceOffset, ask_price);
    store(block + kBidSizeOffset, bid_size);
    store(block + kAskSizeOffset, ask_size);
  }

  // Reads the frame in[0, length): kOk, or why not with *error_at the offending byte of the frame.
  // Checks in the order the TS decoder does, so both name the same byte. Fields a frame of an
  // older version lacks are zero; a NUL/space-padded string keeps its padding here.
  static FrameStatus decode(const std::uint8_t* in, std::size_t length, Quote* out, std::size_t* error_at) noexcept {
    FrameHeader h{};
    const FrameStatus status = check_frame(in, length, kTemplateId, kSchemaId, kSchemaVersion, block_length_at, true, &h, error_at);
    if (status != FrameStatus::kOk) return status;
    *out = Quote{};
    const std::uint8_t* block = in + kStructHeaderBytes;
    out->timestamp = load<std::uint64_t>(block + kTimestampOffset);
    if (!safe_integer(out->timestamp)) { *error_at = kStructHeaderBytes + 0; return FrameStatus::kBadValue; }
    out->instrument_id = load<std::uint32_t>(block + kInstrumentIdOffset);
    out->sequence = load<std::uint32_t>(block + kSequenceOffset);
    out->bid_price = load<std::int64_t>(block + kBidPriceOffset);
    if (!safe_integer(out->bid_price)) { *error_at = kStructHeaderBytes + 16; return FrameStatus::kBadValue; }
    out->ask_price = load<std::int64_t>(block + kAskPriceOffset);
    if (!safe_integer(out->ask_price)) { *error_at = kStructHeaderBytes + 24; return FrameStatus::kBadValue; }
    out->bid_size = load<std::uint32_t>(block + kBidSizeOffset);
    out->ask_size = load<std::uint32_t>(block + kAskSizeOffset);
    return FrameStatus::kOk;
  }
};

static_assert(Quote::kEncodedLength == 48);

}  // namespace up::net
