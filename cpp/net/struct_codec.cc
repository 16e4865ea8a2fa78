#include "struct_codec.hpp"

#include <cmath>

namespace up::net {
namespace {

// A double that is an integer with |v| <= 2^53 - 1 (the JS side's safe integers).
inline bool safe_double(double v) noexcept { return std::trunc(v) == v && std::fabs(v) <= 9007199254740991.0; }

}  // namespace

std::int64_t encode_quote_batch(std::uint8_t* out, std::size_t count, const QuoteColumns& in) noexcept {
  Quote q;
  for (std::size_t i = 0; i < count; ++i) {
    const double ts = in.timestamp[i];
    const double bid = in.bid_price[i];
    const double ask = in.ask_price[i];
    if (!safe_double(ts) || ts < 0 || !safe_double(bid) || !safe_double(ask)) return -1 - static_cast<std::int64_t>(i);
    q.timestamp = static_cast<std::uint64_t>(ts);
    q.instrument_id = in.instrument_id[i];
    q.sequence = in.sequence[i];
    q.bid_price = static_cast<std::int64_t>(bid);
    q.ask_price = static_cast<std::int64_t>(ask);
    q.bid_size = in.bid_size[i];
    q.ask_size = in.ask_size[i];
    q.encode(out + i * Quote::kEncodedLength);
  }
  return static_cast<std::int64_t>(count * Quote::kEncodedLength);
}

QuoteBatchResult decode_quote_batch(const std::uint8_t* in, std::size_t length, std::size_t max,
                                    const QuoteColumns& out) noexcept {
  QuoteBatchResult r{0, 0, FrameStatus::kOk, 0};
  Quote q;
  while (r.consumed < length && r.count < max) {
    const std::uint8_t* frame = in + r.consumed;
    const std::size_t avail = length - r.consumed;
    // The frame's own length from its header, so one frame's error names its bytes only.
    std::size_t frame_length = avail;
    if (avail >= kStructHeaderBytes) {
      const std::size_t declared = kStructHeaderBytes + load<std::uint16_t>(frame);
      if (declared <= avail) frame_length = declared;
    }
    std::size_t at = 0;
    const FrameStatus s = Quote::decode(frame, frame_length, &q, &at);
    if (s != FrameStatus::kOk) {
      r.status = s;
      r.error_at = r.consumed + at;
      return r;
    }
    out.timestamp[r.count] = static_cast<double>(q.timestamp);
    out.instrument_id[r.count] = q.instrument_id;
    out.sequence[r.count] = q.sequence;
    out.bid_price[r.count] = static_cast<double>(q.bid_price);
    out.ask_price[r.count] = static_cast<double>(q.ask_price);
    out.bid_size[r.count] = q.bid_size;
    out.ask_size[r.count] = q.ask_size;
    r.consumed += frame_length;
    ++r.count;
  }
  return r;
}

}  // namespace up::net
