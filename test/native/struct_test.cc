// cpp/net struct frames under sanitizers: the generated headers write the bytes the TS
// encoder writes (the same hex as test/struct.test.ts), refuse the same frames at the same
// byte, and the Quote batch stays inside its buffers.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.hpp"
#include "net/struct_codec.hpp"
#include "net/struct_instrument.hpp"
#include "net/struct_quote.hpp"

using namespace up::net;

static std::string hex(const std::uint8_t* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

// The value and hex of test/struct.test.ts `instrument` / `instrumentHex`.
static const char* kInstrumentHex =
    "5800020001000100010000004141504c20202020584e41534201640000000000"
    "40420f0000000000000000000000f83f0000003ffdffffffff80d4fe00000000"
    "010000000000e0ffffffffffffffffff00000000000000803930000000000000";

static Instrument instrument() {
  Instrument v;
  v.instrument_id = 1;
  std::memcpy(v.symbol.data(), "AAPL    ", 8);
  std::memcpy(v.venue.data(), "XNAS", 4);
  v.side = 'B';
  v.kind = Instrument::Kind::kFuture;
  v.lot_size = 100;
  v.tick_size = 1000000;
  v.multiplier = 1.5;
  v.weight = 0.5f;
  v.delta = -3;
  v.flags = 255;
  v.bias = -128;
  v.skew = -300;
  v.open_interest = -9007199254740991LL;
  v.total_volume = 18446744073709551615ULL;
  v.net_position = INT64_MIN;
  v.listed_at = 12345;
  return v;
}

static void test_instrument_bytes() {
  std::uint8_t buf[Instrument::kEncodedLength];
  std::memset(buf, 0xee, sizeof buf);
  instrument().encode(buf);
  CHECK(hex(buf, sizeof buf) == kInstrumentHex);
  Instrument back;
  std::size_t at = 99;
  CHECK(Instrument::decode(buf, sizeof buf, &back, &at) == FrameStatus::kOk);
  std::uint8_t again[Instrument::kEncodedLength];
  back.encode(again);
  CHECK(std::memcmp(buf, again, sizeof buf) == 0);
  // Version 0: an 80-byte block without listed_at, which decodes to zero.
  buf[0] = 80;
  buf[6] = 0;
  CHECK(Instrument::decode(buf, 88, &back, &at) == FrameStatus::kOk);
  CHECK_EQ(back.listed_at, 0u);
  CHECK(back.symbol[0] == 'A');
}

static void test_refusals() {
  Quote q;
  q.bid_price = 1234500;
  std::uint8_t good[Quote::kEncodedLength];
  q.encode(good);
  Quote out;
  std::size_t at = 0;
  auto with = [&](std::size_t i, std::uint8_t v) {
    static std::uint8_t b[Quote::kEncodedLength];
    std::memcpy(b, good, sizeof b);
    b[i] = v;
    return b;
  };
  CHECK(Quote::decode(with(6, 1), 48, &out, &at) == FrameStatus::kNewerVersion);
  CHECK_EQ(at, 6u);
  CHECK(Quote::decode(with(2, 2), 48, &out, &at) == FrameStatus::kUnknownTemplate);
  CHECK_EQ(at, 2u);
  CHECK(Quote::decode(with(4, 9), 48, &out, &at) == FrameStatus::kWrongSchema);
  CHECK_EQ(at, 4u);
  CHECK(Quote::decode(with(0, 39), 48, &out, &at) == FrameStatus::kShortBlock);
  CHECK_EQ(at, 0u);
  CHECK(Quote::decode(good, 47, &out, &at) == FrameStatus::kLengthMismatch);
  CHECK_EQ(at, 47u);
  CHECK(Quote::decode(good, 5, &out, &at) == FrameStatus::kShortHeader);
  CHECK_EQ(at, 5u);
  CHECK(Quote::decode(with(8 + 16 + 7, 0x7f), 48, &out, &at) == FrameStatus::kBadValue);  // bid_price beyond 2^53
  CHECK_EQ(at, 24u);
  std::uint8_t ins[Instrument::kEncodedLength];
  instrument().encode(ins);
  Instrument iv;
  ins[8 + 6] = 0xc3;
  CHECK(Instrument::decode(ins, sizeof ins, &iv, &at) == FrameStatus::kBadValue);
  CHECK_EQ(at, 14u);
  ins[8 + 6] = ' ';
  ins[8 + 17] = 3;
  CHECK(Instrument::decode(ins, sizeof ins, &iv, &at) == FrameStatus::kBadValue);
  CHECK_EQ(at, 25u);
}

static void test_batch() {
  constexpr std::size_t n = 5;
  std::vector<double> ts(n), bid(n), ask(n);
  std::vector<std::uint32_t> iid(n), seq(n), bsz(n), asz(n);
  for (std::size_t i = 0; i < n; ++i) {
    ts[i] = 34200000000000.0 + static_cast<double>(i);
    bid[i] = -static_cast<double>(i);
    ask[i] = 9007199254740991.0;
    iid[i] = static_cast<std::uint32_t>(i);
    seq[i] = 4294967295u;
    bsz[i] = 1;
    asz[i] = 2;
  }
  QuoteColumns in{ts.data(), iid.data(), seq.data(), bid.data(), ask.data(), bsz.data(), asz.data()};
  std::vector<std::uint8_t> buf(n * Quote::kEncodedLength);
  CHECK_EQ(encode_quote_batch(buf.data(), n, in), static_cast<std::int64_t>(buf.size()));
  std::vector<double> ts2(n), bid2(n), ask2(n);
  std::vector<std::uint32_t> iid2(n), seq2(n), bsz2(n), asz2(n);
  QuoteColumns out{ts2.data(), iid2.data(), seq2.data(), bid2.data(), ask2.data(), bsz2.data(), asz2.data()};
  QuoteBatchResult r = decode_quote_batch(buf.data(), buf.size(), n, out);
  CHECK(r.status == FrameStatus::kOk);
  CHECK_EQ(r.count, n);
  CHECK_EQ(r.consumed, buf.size());
  CHECK(ts2 == ts && bid2 == bid && ask2 == ask && seq2 == seq);
  // Fewer rows than frames: stops at the rows.
  r = decode_quote_batch(buf.data(), buf.size(), 2, out);
  CHECK_EQ(r.count, 2u);
  CHECK_EQ(r.consumed, 96u);
  // Every truncation is refused inside the buffer (ASan checks the reads).
  for (std::size_t len = 1; len < buf.size(); ++len) {
    std::vector<std::uint8_t> cut(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
    r = decode_quote_batch(cut.data(), cut.size(), n, out);
    CHECK((len % Quote::kEncodedLength == 0) == (r.status == FrameStatus::kOk));
    if (r.status != FrameStatus::kOk) CHECK(r.error_at <= len);
  }
  // A bad value stops the batch at its row.
  bid[3] = 0.5;
  CHECK_EQ(encode_quote_batch(buf.data(), n, in), -4);
  bid[3] = 9007199254740992.0;
  CHECK_EQ(encode_quote_batch(buf.data(), n, in), -4);
  bid[3] = 0;
  ts[1] = -1;
  CHECK_EQ(encode_quote_batch(buf.data(), n, in), -2);
}

int main() {
  test_instrument_bytes();
  test_refusals();
  test_batch();
  std::printf("struct_test: ok\n");
  return 0;
}
