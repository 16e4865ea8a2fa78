// Batches of Quote frames to and from struct-of-arrays columns, the layout JS hands over
// (lib/net/struct-batch.ts). 64-bit fields travel as doubles: JS numbers, safe integers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "struct_frame.hpp"
#include "struct_quote.hpp"

namespace up::net {

struct QuoteColumns {
  double* timestamp;
  std::uint32_t* instrument_id;
  std::uint32_t* sequence;
  double* bid_price;
  double* ask_price;
  std::uint32_t* bid_size;
  std::uint32_t* ask_size;
};

// Encodes rows [0, count) into out (count * Quote::kEncodedLength bytes, the caller checked).
// Returns the bytes written, or -1 - row for the first row whose 64-bit value is not a safe
// integer (a u64 below 0): nothing past that row is written.
std::int64_t encode_quote_batch(std::uint8_t* out, std::size_t count, const QuoteColumns& in) noexcept;

struct QuoteBatchResult {
  std::size_t count;     // frames decoded into the columns
  std::size_t consumed;  // bytes of `in` they took
  FrameStatus status;    // kOk, or why the frame at `consumed` was refused
  std::size_t error_at;  // with a status: the offending byte, from the start of `in`
};

// Decodes frames from in[0, length) into rows [0, max) until the bytes or the rows run out.
QuoteBatchResult decode_quote_batch(const std::uint8_t* in, std::size_t length, std::size_t max,
                                    const QuoteColumns& out) noexcept;

}  // namespace up::net
