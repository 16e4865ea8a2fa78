// The frame every struct of lib/net/struct.ts shares: an 8-byte SBE-style header (block
// length, template id, schema id, version; u16 little-endian each) then a fixed block. The
// generated headers (struct_<name>.hpp) build their encode/decode on these helpers, and
// check a frame in the same order as the TS decoder so both name the same byte.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace up::net {

static_assert(std::endian::native == std::endian::little, "struct frames are little-endian; add byte swaps for this host");

inline constexpr std::size_t kStructHeaderBytes = 8;

// Why a frame was refused; error_at says which byte of the frame.
enum class FrameStatus : std::int32_t {
  kOk = 0,
  kShortHeader = 1,    // fewer than 8 bytes: at the end of the bytes
  kUnknownTemplate = 2,  // byte 2
  kWrongSchema = 3,    // byte 4
  kNewerVersion = 4,   // byte 6
  kShortBlock = 5,     // block length below the fields of the frame's version: byte 0
  kLengthMismatch = 6,  // the bytes end before or after 8 + block length
  kBadValue = 7,       // a field holds a value its type refuses (not ASCII, no such enum value, beyond 2^53)
};

struct FrameHeader {
  std::uint16_t block_length;
  std::uint16_t template_id;
  std::uint16_t schema_id;
  std::uint16_t version;
};

template <typename T>
inline T load(const std::uint8_t* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
inline void store(std::uint8_t* p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

inline FrameHeader read_header(const std::uint8_t* p) noexcept {
  return {load<std::uint16_t>(p), load<std::uint16_t>(p + 2), load<std::uint16_t>(p + 4), load<std::uint16_t>(p + 6)};
}

inline void write_header(std::uint8_t* p, const FrameHeader& h) noexcept {
  store(p, h.block_length);
  store(p + 2, h.template_id);
  store(p + 4, h.schema_id);
  store(p + 6, h.version);
}

// Checks the header of a frame of exactly `length` bytes against a decoder's template, schema
// id and version; `need_at(version)` is the block a frame of that version must carry.
// `exact`: the bytes must end with the frame (decode), or may run on past it (a batch).
template <typename NeedAt>
inline FrameStatus check_frame(const std::uint8_t* in, std::size_t length, std::uint16_t template_id,
                               std::uint16_t schema_id, std::uint16_t version, NeedAt need_at, bool exact,
                               FrameHeader* header, std::size_t* error_at) noexcept {
  if (length < kStructHeaderBytes) {
    *error_at = length;
    return FrameStatus::kShortHeader;
  }
  const FrameHeader h = read_header(in);
  if (h.template_id != template_id) {
    *error_at = 2;
    return FrameStatus::kUnknownTemplate;
  }
  if (h.schema_id != schema_id) {
    *error_at = 4;
    return FrameStatus::kWrongSchema;
  }
  if (h.version > version) {
    *error_at = 6;
    return FrameStatus::kNewerVersion;
  }
  if (h.block_length < need_at(h.version)) {
    *error_at = 0;
    return FrameStatus::kShortBlock;
  }
  const std::size_t frame = kStructHeaderBytes + h.block_length;
  if (length < frame || (exact && length != frame)) {
    *error_at = length < frame ? length : frame;
    return FrameStatus::kLengthMismatch;
  }
  *header = h;
  return FrameStatus::kOk;
}

// A 64-bit integer JS reads as a number must be a safe integer, |v| <= 2^53 - 1.
inline bool safe_integer(std::int64_t v) noexcept { return v >= -9007199254740991LL && v <= 9007199254740991LL; }
inline bool safe_integer(std::uint64_t v) noexcept { return v <= 9007199254740991ULL; }

// An ASCII field of `width` bytes: every byte below 128; returns the first bad byte's index or width.
inline std::size_t first_non_ascii(const std::uint8_t* p, std::size_t width) noexcept {
  for (std::size_t i = 0; i < width; ++i) {
    if (p[i] > 127) return i;
  }
  return width;
}

}  // namespace up::net
