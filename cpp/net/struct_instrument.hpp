// Generated from lib/net/struct-schemas.ts (schema Instrument) by `npx tsx scripts/gen-struct-headers.ts`: do not edit.
// Reads and writes the bytes of defineStruct(Instrument) in lib/net/struct.ts; the frame is struct_frame.hpp's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "struct_frame.hpp"

namespace up::net {

struct Instrument {
  static constexpr std::uint16_t kTemplateId = 2;
  static constexpr std::uint16_t kSchemaId = 1;
  static constexpr std::uint16_t kSchemaVersion = 1;
  static constexpr std::uint16_t kBlockLength = 88;
  static constexpr std::size_t kEncodedLength = kStructHeaderBytes + kBlockLength;
  static constexpr std::size_t kInstrumentIdOffset = 0;
  static constexpr std::size_t kSymbolOffset = 4;
  static constexpr std::size_t kVenueOffset = 12;
  static constexpr std::size_t kSideOffset = 16;
  static constexpr std::size_t kKindOffset = 17;
  static constexpr std::size_t kLotSizeOffset = 18;
  static constexpr std::size_t kTickSizeOffset = 24;
  static constexpr std::size_t kMultiplierOffset = 32;
  static constexpr std::size_t kWeightOffset = 40;
  static constexpr std::size_t kDeltaOffset = 44;
  static constexpr std::size_t kFlagsOffset = 48;
  static constexpr std::size_t kBiasOffset = 49;
  static constexpr std::size_t kSkewOffset = 50;
  static constexpr std::size_t kOpenInterestOffset = 56;
  static constexpr std::size_t kTotalVolumeOffset = 64;
  static constexpr std::size_t kNetPositionOffset = 72;
  static constexpr std::size_t kListedAtOffset = 80;
  static constexpr int kTickSizeExponent = -8;
  enum class Kind : std::uint8_t { kEquity = 0, kFuture = 1, kOption = 2 };

  // The block bytes a frame of `version` must carry: the end of the fields it has.
  static constexpr std::uint16_t block_length_at([[maybe_unused]] std::uint16_t version) noexcept {
    if (version >= 1) return 88;
    return 80;
  }

  std::uint32_t instrument_id = 0;
  std::array<char, 8> symbol{}; // ASCII, space-padded
  std::array<char, 4> venue{}; // ASCII, NUL-padded
  char side = 0;
  Kind kind{};
  std::uint16_t lot_size = 0;
  std::int64_t tick_size = 0; // ticks of 10^-8
  double multiplier = 0;
  float weight = 0;
  std::int32_t delta = 0;
  std::uint8_t flags = 0;
  std::int8_t bias = 0;
  std::int16_t skew = 0;
  std::int64_t open_interest = 0; // |v| <= 2^53 - 1 (a JS number)
  std::uint64_t total_volume = 0;
  std::int64_t net_position = 0;
  std::uint64_t listed_at = 0; // |v| <= 2^53 - 1 (a JS number) // since version 1

  // Writes the header and the block (padding zeroed) to out[0, kEncodedLength).
  void encode(std::uint8_t* out) const noexcept {
    std::memset(out, 0, kEncodedLength);
    write_header(out, {kBlockLength, kTemplateId, kSchemaId, kSchemaVersion});
    std::uint8_t* block = out + kStructHeaderBytes;
    store(block + kInstrumentIdOffset, instrument_id);
    std::memcpy(block + kSymbolOffset, symbol.data(), 8);
    std::memcpy(block + kVenueOffset, venue.data(), 4);
    store(block + kSideOffset, side);
    store(block + kKindOffset, kind);
    store(block + kLotSizeOffset, lot_size);
    store(block + kTickSizeOffset, tick_size);
    store(block + kMultiplierOffset, multiplier);
    store(block + kWeightOffset, weight);
    store(block + kDeltaOffset, delta);
    store(block + kFlagsOffset, flags);
    store(block + kBiasOffset, bias);
    store(block + kSkewOffset, skew);
    store(block + kOpenInterestOffset, open_interest);
    store(block + kTotalVolumeOffset, total_volume);
    store(block + kNetPositionOffset, net_position);
    store(block + kListedAtOffset, listed_at);
  }

  // Reads the frame in[0, length): kOk, or why not with *error_at the offending byte of the frame.
  // Checks in the order the TS decoder does, so both name the same byte. Fields a frame of an
  // older version lacks are zero; a NUL/space-padded string keeps its padding here.
  static FrameStatus decode(const std::uint8_t* in, std::size_t length, Instrument* out, std::size_t* error_at) noexcept {
    FrameHeader h{};
    const FrameStatus status = check_frame(in, length, kTemplateId, kSchemaId, kSchemaVersion, block_length_at, true, &h, error_at);
    if (status != FrameStatus::kOk) return status;
    *out = Instrument{};
    const std::uint8_t* block = in + kStructHeaderBytes;
    out->instrument_id = load<std::uint32_t>(block + kInstrumentIdOffset);
    if (const std::size_t i = first_non_ascii((block + kSymbolOffset), 8); i != 8) { *error_at = kStructHeaderBytes + 4 + i; return FrameStatus::kBadValue; }
    std::memcpy(out->symbol.data(), block + kSymbolOffset, 8);
    if (const std::size_t i = first_non_ascii((block + kVenueOffset), 4); i != 4) { *error_at = kStructHeaderBytes + 12 + i; return FrameStatus::kBadValue; }
    std::memcpy(out->venue.data(), block + kVenueOffset, 4);
    if (const std::size_t i = first_non_ascii((block + kSideOffset), 1); i != 1) { *error_at = kStructHeaderBytes + 16 + i; return FrameStatus::kBadValue; }
    out->side = load<char>(block + kSideOffset);
    if ((block + kKindOffset)[0] >= 3) { *error_at = kStructHeaderBytes + 17; return FrameStatus::kBadValue; }
    out->kind = static_cast<Kind>((block + kKindOffset)[0]);
    out->lot_size = load<std::uint16_t>(block + kLotSizeOffset);
    out->tick_size = load<std::int64_t>(block + kTickSizeOffset);
    if (!safe_integer(out->tick_size)) { *error_at = kStructHeaderBytes + 24; return FrameStatus::kBadValue; }
    out->multiplier = load<double>(block + kMultiplierOffset);
    out->weight = load<float>(block + kWeightOffset);
    out->delta = load<std::int32_t>(block + kDeltaOffset);
    out->flags = load<std::uint8_t>(block + kFlagsOffset);
    out->bias = load<std::int8_t>(block + kBiasOffset);
    out->skew = load<std::int16_t>(block + kSkewOffset);
    out->open_interest = load<std::int64_t>(block + kOpenInterestOffset);
    if (!safe_integer(out->open_interest)) { *error_at = kStructHeaderBytes + 56; return FrameStatus::kBadValue; }
    out->total_volume = load<std::uint64_t>(block + kTotalVolumeOffset);
    out->net_position = load<std::int64_t>(block + kNetPositionOffset);
    if (h.version >= 1) { out->listed_at = load<std::uint64_t>(block + kListedAtOffset); if (!safe_integer(out->listed_at)) { *error_at = kStructHeaderBytes + 80; return FrameStatus::kBadValue; } }
    return FrameStatus::kOk;
  }
};

static_assert(Instrument::kEncodedLength == 96);

}  // namespace up::net
