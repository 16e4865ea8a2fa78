// cpp/net/itch_batch: rows of hand-built messages, each error's status, offset and field (the
// first bad field in wire order), and, under ASan, no read outside the buffer for every
// truncation of a valid stream and for random and mutated buffers in exact-size allocations.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "check.hpp"
#include "net/itch_batch.hpp"

using namespace up::net;

namespace {

struct Columns {
  explicit Columns(std::size_t n)
      : type(n), stock_locate(n), tracking_number(n), timestamp(n), order_ref(n), new_order_ref(n), side(n), shares(n),
        price(n), match_number(n), offset(n) {}
  ItchColumns view() {
    return {type.data(),  stock_locate.data(), tracking_number.data(), timestamp.data(),    order_ref.data(),
            new_order_ref.data(), side.data(), shares.data(),          price.data(), match_number.data(), offset.data()};
  }
  std::vector<std::uint8_t> type;
  std::vector<std::uint16_t> stock_locate, tracking_number;
  std::vector<double> timestamp, order_ref, new_order_ref;
  std::vector<std::int8_t> side;
  std::vector<double> shares, price, match_number, offset;
};

void put(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) b[at + k] = static_cast<std::uint8_t>(v >> (8 * (bytes - 1 - k)));
}

// One framed message of `type` with the header filled in; body fields zero (callers set them).
std::vector<std::uint8_t> frame(char type, std::uint16_t locate, std::uint64_t ts) {
  const std::size_t n = kItchMessageLength[static_cast<std::uint8_t>(type)];
  std::vector<std::uint8_t> b(2 + n, 0);
  put(b, 0, n, 2);
  b[2] = static_cast<std::uint8_t>(type);
  put(b, 3, locate, 2);
  put(b, 5, 7, 2);
  put(b, 7, ts, 6);
  return b;
}

void append(std::vector<std::uint8_t>& to, const std::vector<std::uint8_t>& m) { to.insert(to.end(), m.begin(), m.end()); }

// Decodes `bytes` from a heap copy of exactly its size, so ASan sees any read past the end.
ItchBatchResult decode_exact(const std::vector<std::uint8_t>& bytes, std::size_t len, Columns& c, std::size_t cap) {
  std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[len == 0 ? 1 : len]);
  if (len != 0) std::memcpy(copy.get(), bytes.data(), len);
  return decode_itch_batch(len == 0 ? nullptr : copy.get(), len, 0, cap, c.view());
}

std::vector<std::uint8_t> sample_stream() {
  std::vector<std::uint8_t> s;
  auto a = frame('A', 13, 34200000000123ull);
  put(a, 2 + 11, 42, 8);
  a[2 + 19] = 'S';
  put(a, 2 + 20, 300, 4);
  std::memcpy(&a[2 + 24], "AAPL    ", 8);
  put(a, 2 + 32, 3215000, 4);
  append(s, a);
  auto e = frame('E', 13, 34200000000200ull);
  put(e, 2 + 11, 42, 8);
  put(e, 2 + 19, 100, 4);
  put(e, 2 + 23, 9001, 8);
  append(s, e);
  auto u = frame('U', 13, 34200000000300ull);
  put(u, 2 + 11, 42, 8);
  put(u, 2 + 19, 43, 8);
  put(u, 2 + 27, 200, 4);
  put(u, 2 + 31, 3216000, 4);
  append(s, u);
  auto q = frame('Q', 13, 1);
  put(q, 2 + 11, 5000000000ull, 8);
  put(q, 2 + 27, 3210000, 4);
  put(q, 2 + 31, 9002, 8);
  append(s, q);
  auto i = frame('I', 13, 2);
  put(i, 2 + 11, 7777, 8);
  put(i, 2 + 44, 3211000, 4);
  append(s, i);
  append(s, frame('S', 0, 3));
  auto d = frame('D', 13, 4);
  put(d, 2 + 11, 43, 8);
  append(s, d);
  return s;
}

void test_rows() {
  const auto s = sample_stream();
  Columns c(16);
  const auto r = decode_exact(s, s.size(), c, 16);
  CHECK(r.status == ItchStatus::kOk);
  CHECK_EQ(r.count, 7u);
  CHECK_EQ(r.end, s.size());
  CHECK_EQ(c.type[0], 'A');
  CHECK_EQ(c.stock_locate[0], 13);
  CHECK_EQ(c.tracking_number[0], 7);
  CHECK(c.timestamp[0] == 34200000000123.0);
  CHECK(c.order_ref[0] == 42 && c.side[0] == 1 && c.shares[0] == 300 && c.price[0] == 3215000 && c.match_number[0] == 0);
  CHECK(c.offset[0] == 2);
  CHECK(c.order_ref[1] == 42 && c.side[1] == -1 && c.shares[1] == 100 && c.match_number[1] == 9001 && c.price[1] == 0);
  CHECK(c.order_ref[2] == 42 && c.new_order_ref[2] == 43 && c.shares[2] == 200 && c.price[2] == 3216000);
  CHECK(c.shares[3] == 5000000000.0 && c.price[3] == 3210000 && c.match_number[3] == 9002 && c.order_ref[3] == 0);
  CHECK(c.shares[4] == 7777 && c.price[4] == 3211000);
  CHECK(c.type[5] == 'S' && c.order_ref[5] == 0 && c.shares[5] == 0 && c.side[5] == -1);
  CHECK(c.order_ref[6] == 43);
  // Capacity stops the batch at a frame boundary; the next call starts from `end`.
  Columns two(2);
  const auto first = decode_itch_batch(s.data(), s.size(), 0, 2, two.view());
  CHECK_EQ(first.count, 2u);
  const auto rest = decode_itch_batch(s.data(), s.size(), first.end, 2, two.view());
  CHECK(rest.status == ItchStatus::kOk && rest.count == 2 && two.type[0] == 'U');
}

void expect_error(std::vector<std::uint8_t> s, ItchStatus status, std::size_t at, ItchField field, std::size_t count) {
  Columns c(16);
  const auto r = decode_exact(s, s.size(), c, 16);
  CHECK(r.status == status);
  CHECK_EQ(r.error_at, at);
  CHECK(r.field == field);
  CHECK_EQ(r.count, count);
}

void test_errors() {
  const auto s = sample_stream();
  const std::size_t a_len = 38, e_len = 33;
  // Framing: a lone prefix byte, no type byte, unknown type, wrong prefix, cut short.
  expect_error({0}, ItchStatus::kBadFrame, 0, ItchField::kNone, 0);
  expect_error({0, 19}, ItchStatus::kBadFrame, 0, ItchField::kNone, 0);
  expect_error({0, 19, 'Z', 0}, ItchStatus::kBadFrame, 0, ItchField::kNone, 0);
  auto wrong = s;
  wrong[a_len + 1] = 30;  // E's prefix says 30
  expect_error(wrong, ItchStatus::kBadFrame, a_len, ItchField::kNone, 1);
  expect_error(std::vector<std::uint8_t>(s.begin(), s.begin() + a_len + 10), ItchStatus::kBadFrame, a_len, ItchField::kNone, 1);
  // Order reference >= 2^53 and a bad side in the same Add: the reference (first in wire order) is named.
  auto both = s;
  both[2 + 11] = 0x00;
  both[2 + 12] = 0x20;  // 2^53
  both[2 + 19] = 'X';
  expect_error(both, ItchStatus::kNotExact, 2 + 11, ItchField::kOrderRef, 0);
  auto side = s;
  side[2 + 19] = 'X';
  expect_error(side, ItchStatus::kBadSide, 2 + 19, ItchField::kNone, 0);
  auto match = s;
  match[a_len + 2 + 23] = 0xff;
  expect_error(match, ItchStatus::kNotExact, a_len + 2 + 23, ItchField::kMatchNumber, 1);
  auto new_ref = s;
  new_ref[a_len + e_len + 2 + 19] = 0x01;
  expect_error(new_ref, ItchStatus::kNotExact, a_len + e_len + 2 + 19, ItchField::kNewOrderRef, 2);
  auto cross = s;
  cross[a_len + e_len + 37 + 2 + 11] = 0x80;
  expect_error(cross, ItchStatus::kNotExact, a_len + e_len + 37 + 2 + 11, ItchField::kCrossShares, 3);
  // 2^53 - 1 is still exact.
  auto edge = s;
  put(edge, 2 + 11, (std::uint64_t{1} << 53) - 1, 8);
  Columns c(16);
  const auto r = decode_exact(edge, edge.size(), c, 16);
  CHECK(r.status == ItchStatus::kOk && c.order_ref[0] == 9007199254740991.0);
}

void test_truncations_and_mutations() {
  const auto s = sample_stream();
  Columns c(64);
  for (std::size_t len = 0; len <= s.size(); ++len) {
    const auto r = decode_exact(s, len, c, 64);
    CHECK(r.status == ItchStatus::kOk || r.status == ItchStatus::kBadFrame);
    CHECK(r.end <= len);
  }
  std::uint32_t x = 0x9e3779b9u;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  for (int k = 0; k < 200000; ++k) {
    std::vector<std::uint8_t> b;
    if (k % 4 == 0) {
      b.resize(next() % 96);
      for (auto& v : b) v = static_cast<std::uint8_t>(next());
    } else {
      b = s;
      for (int m = 1 + next() % 4; m > 0; --m) b[next() % b.size()] = static_cast<std::uint8_t>(next());
      b.resize(next() % (b.size() + 1));
    }
    const auto r = decode_exact(b, b.size(), c, 1 + next() % 64);
    CHECK(r.error_at <= b.size());
    CHECK(r.end <= b.size());
  }
}

}  // namespace

int main() {
  test_rows();
  test_errors();
  test_truncations_and_mutations();
  std::printf("itch: rows, errors, every truncation and 200000 mutated buffers\n");
  return 0;
}
