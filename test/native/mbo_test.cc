// cpp/orderbook/mbo_book under ASan+UBSan and TSan: every event kind, every refusal, growth of
// the id map / order pool / ladders from the smallest sizes, and a long random run checked
// against a std::map model after every event (test/mbo.test.ts runs the same model in TS).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <vector>

#include "check.hpp"
#include "orderbook/mbo_book.hpp"

using namespace up::orderbook;

namespace {

const Grid kTick{1, 10000, false};
const Grid kLot{1, 1};

// One event in the events.ts layout.
struct Ev {
  double op, id, side, price, size, nid;
};

int64_t apply(MboBook& b, std::vector<Ev> list) {
  std::vector<double> e;
  for (const Ev& v : list) e.insert(e.end(), {v.op, 0, v.id, v.side, v.price, v.size, v.nid, 0});
  return b.apply(e.data(), 0, list.size());
}

// (ticks, lots) of the best n levels of a side.
std::vector<std::pair<int64_t, int64_t>> depth(const MboBook& b, Side s) {
  std::vector<double> out(3 * 256);
  const std::size_t m = b.levels(s, 256, out.data(), true);
  std::vector<std::pair<int64_t, int64_t>> r;
  for (std::size_t j = 0; j < m; ++j) r.emplace_back(static_cast<int64_t>(out[3 * j]), static_cast<int64_t>(out[3 * j + 1]));
  return r;
}

void test_ops() {
  MboBook b(kTick, kLot, 1);
  CHECK(std::isnan(b.view()[kBidPrice]));
  CHECK_EQ(apply(b, {{1, 1, 0, 5853300, 18, 0}, {1, 2, 1, 5859100, 100, 0}, {1, 3, 0, 5853300, 2, 0}}), 3);
  CHECK(b.view()[kBidPrice] == 585.33);
  CHECK(b.view()[kBidSize] == 20);
  CHECK(b.view()[kAskSize] == 100);
  CHECK(b.view()[kMboOrderCount] == 3);
  CHECK_EQ(apply(b, {{4, 2, 1, 5859100, 40, 0}, {2, 1, 0, 5853300, 8, 0}, {3, 3, 0, 5853300, 2, 0}}), 3);
  CHECK(b.view()[kAskSize] == 60);
  CHECK(b.view()[kBidSize] == 10);
  CHECK(b.view()[kMboOrderCount] == 2);
  // replace: same side, new id and price
  CHECK_EQ(apply(b, {{8, 1, 0, 5853500, 5, 7}}), 1);
  b.view()[kMboEvent + kEvOrderId] = 1;
  CHECK(!b.query());
  b.view()[kMboEvent + kEvOrderId] = 7;
  CHECK(b.query());
  CHECK(b.view()[kMboQuerySide] == 0 && b.view()[kMboQueryTicks] == 5853500 && b.view()[kMboQueryLots] == 5);
  // execute of everything removes the order and the level
  CHECK_EQ(apply(b, {{4, 2, 1, 5859100, 60, 0}}), 1);
  CHECK(std::isnan(b.view()[kAskPrice]));
  CHECK(b.view()[kAskLevels] == 0);
  // unknown ids act on the level's anonymous quantity, never below the known orders
  CHECK_EQ(apply(b, {{9, 0, 0, 5853500, 50, 0}, {4, 99, 0, 5853500, 20, 0}, {3, 98, 0, 5853500, 500, 0}}), 3);
  CHECK(depth(b, Side::bid) == (std::vector<std::pair<int64_t, int64_t>>{{5853500, 5}}));
  CHECK(b.view()[kMboUnknownOrders] == 2);
  // level below the known orders keeps them
  CHECK_EQ(apply(b, {{9, 0, 0, 5853500, 1, 0}}), 1);
  CHECK(depth(b, Side::bid)[0].second == 5);
  // trim forgets
  CHECK_EQ(apply(b, {{1, 10, 0, 5853600, 1, 0}, {1, 11, 0, 5853700, 1, 0}, {10, 0, 0, 0, 1, 0}}), 3);
  CHECK(depth(b, Side::bid) == (std::vector<std::pair<int64_t, int64_t>>{{5853700, 1}}));
  CHECK(b.view()[kMboForgottenOrders] == 2);
  CHECK(b.view()[kMboOrderCount] == 1);
  // hidden execute, cross, halt: nothing, even with garbage fields
  CHECK_EQ(apply(b, {{5, NAN, 9, NAN, -1, 0}, {6, 0, 0, 0, 0, 0}, {7, 0, 1, -1, 0, 0}}), 3);
  CHECK(b.view()[kMboOrderCount] == 1);
  CHECK_EQ(apply(b, {{11, 0, 0, 0, 0, 0}}), 1);
  CHECK(b.view()[kMboOrderCount] == 0);
  CHECK(b.view()[kBidLevels] == 0);
}

void test_refusals() {
  const std::vector<std::pair<Ev, MboReason>> cases = {
      {{0, 1, 0, 1, 1, 0}, MboReason::op},          {{12, 1, 0, 1, 1, 0}, MboReason::op},
      {{1.5, 1, 0, 1, 1, 0}, MboReason::op},        {{NAN, 1, 0, 1, 1, 0}, MboReason::op},
      {{1, 1, 2, 1, 1, 0}, MboReason::side},        {{1, 1, 0, -1, 1, 0}, MboReason::price},
      {{1, 1, 0, 0.5, 1, 0}, MboReason::price},     {{1, 1, 0, 9007199254740992.0, 1, 0}, MboReason::price},
      {{1, 1, 0, 1, -1, 0}, MboReason::size},       {{1, 1, 0, 1, 0, 0}, MboReason::size},
      {{1, -1, 0, 1, 1, 0}, MboReason::order_id},   {{1, INFINITY, 0, 1, 1, 0}, MboReason::order_id},
      {{8, 5, 0, 1, 1, -1}, MboReason::new_order_id}, {{1, 5, 0, 1, 1, 0}, MboReason::duplicate},
      {{8, 6, 0, 1, 1, 5}, MboReason::duplicate_new}, {{1, 7, 0, 100, 9007199254740991.0, 0}, MboReason::overflow},
      {{10, 0, 0, 0, 0.5, 0}, MboReason::size},
  };
  for (const auto& [ev, why] : cases) {
    MboBook b(kTick, kLot, 16);
    CHECK_EQ(apply(b, {{1, 5, 0, 100, 3, 0}, {1, 6, 1, 101, 4, 0}}), 2);
    const int64_t r = apply(b, {{1, 8, 0, 99, 1, 0}, ev, {1, 9, 0, 98, 1, 0}});
    CHECK_EQ(r, -2);
    CHECK_EQ(static_cast<int>(b.view()[kMboErrorReason]), static_cast<int>(why));
    CHECK(b.view()[kMboOrderCount] == 3);
    CHECK(depth(b, Side::bid) == (std::vector<std::pair<int64_t, int64_t>>{{100, 3}, {99, 1}}));
  }
}

// The events.ts rules, written plainly.
struct Model {
  struct O {
    int side;
    int64_t ticks, lots;
  };
  struct L {
    int64_t total = 0, known = 0;
  };
  std::map<int64_t, O> orders;
  std::map<int64_t, L> levels[2];
  double unknown = 0, forgotten = 0;
  void take(int64_t id, int64_t q) {
    O& o = orders[id];
    const int64_t k = std::min(q, o.lots);
    L& l = levels[o.side][o.ticks];
    l.total -= k;
    l.known -= k;
    o.lots -= k;
    const O copy = o;
    if (o.lots == 0) orders.erase(id);
    if (l.total == 0) levels[copy.side].erase(copy.ticks);
  }
  void apply(const Ev& e) {
    const int op = static_cast<int>(e.op), s = static_cast<int>(e.side);
    const auto id = static_cast<int64_t>(e.id), t = static_cast<int64_t>(e.price), q = static_cast<int64_t>(e.size);
    if (op == 1) {
      levels[s][t].total += q;
      levels[s][t].known += q;
      orders[id] = {s, t, q};
    } else if (op == 2 || op == 3 || op == 4) {
      if (orders.count(id) != 0) {
        take(id, op == 3 ? INT64_MAX : q);
      } else {
        unknown += 1;
        auto it = levels[s].find(t);
        if (it != levels[s].end()) {
          it->second.total -= std::min(q, it->second.total - it->second.known);
          if (it->second.total == 0) levels[s].erase(it);
        }
      }
    } else if (op == 8) {
      int side = s;
      if (orders.count(id) != 0) {
        side = orders[id].side;
        take(id, INT64_MAX);
      } else {
        unknown += 1;
      }
      apply({1, e.nid, static_cast<double>(side), e.price, e.size, 0});
    } else if (op == 9) {
      auto it = levels[s].find(t);
      if (it == levels[s].end()) {
        if (q > 0) levels[s][t] = {q, 0};
      } else {
        it->second.total = std::max(q, it->second.known);
        if (it->second.total == 0) levels[s].erase(it);
      }
    } else if (op == 10) {
      std::vector<int64_t> keys;
      for (const auto& [k, v] : levels[s]) keys.push_back(k);
      if (s == 0) std::reverse(keys.begin(), keys.end());
      for (std::size_t i = static_cast<std::size_t>(q); i < keys.size(); ++i) {
        levels[s].erase(keys[i]);
        for (auto it = orders.begin(); it != orders.end();) {
          if (it->second.side == s && it->second.ticks == keys[i]) {
            it = orders.erase(it);
            forgotten += 1;
          } else {
            ++it;
          }
        }
      }
    } else if (op == 11) {
      orders.clear();
      levels[0].clear();
      levels[1].clear();
    }
  }
  std::vector<std::pair<int64_t, int64_t>> depth(int s) const {
    std::vector<std::pair<int64_t, int64_t>> r;
    for (const auto& [k, v] : levels[s]) r.emplace_back(k, v.total);
    if (s == 0) std::reverse(r.begin(), r.end());
    return r;
  }
};

void test_random() {
  std::mt19937 rng(7);
  for (int run = 0; run < 20; ++run) {
    MboBook b(kTick, kLot, 1);
    Model m;
    for (int step = 0; step < 3000; ++step) {
      static const int ops[] = {1, 1, 1, 1, 2, 4, 3, 3, 8, 9, 9, 10, 5, 11};
      int op = ops[rng() % (run % 2 == 0 ? 13 : 14)];
      const int64_t id = 1 + static_cast<int64_t>(rng() % 200), nid = 1 + static_cast<int64_t>(rng() % 200);
      const int side = static_cast<int>(rng() % 2);
      const int64_t t = 900 + static_cast<int64_t>(rng() % 200);
      int64_t q = static_cast<int64_t>(rng() % 30);
      if ((op == 1 || op == 8) && q == 0) q = 1;
      if (op == 1 && m.orders.count(id) != 0) op = 2;
      if (op == 8 && nid != id && m.orders.count(nid) != 0) op = 4;
      if (op == 10) q %= 12;
      const Ev e{static_cast<double>(op), static_cast<double>(id), static_cast<double>(side), static_cast<double>(t),
                 static_cast<double>(q), static_cast<double>(nid)};
      m.apply(e);
      CHECK_EQ(apply(b, {e}), 1);
      CHECK(depth(b, Side::bid) == m.depth(0));
      CHECK(depth(b, Side::ask) == m.depth(1));
      CHECK(b.view()[kMboOrderCount] == static_cast<double>(m.orders.size()));
      CHECK(b.view()[kMboUnknownOrders] == m.unknown);
      CHECK(b.view()[kMboForgottenOrders] == m.forgotten);
    }
  }
}

void test_replay() {
  // message 1 (already in row 1), then an add, a partial execute, and a delete that empties
  // the best bid so the next level enters from beyond depth 1 (a refill).
  const std::vector<double> ev = {1, 0, 7, 0, 100, 5, 0, 1,  // add 7: bid 100 x 5
                                  1, 0, 8, 0, 101, 3, 0, 2,  // add 8: bid 101 x 3
                                  4, 0, 8, 0, 101, 1, 0, 3,  // execute 1 of 8
                                  3, 0, 8, 0, 101, 2, 0, 4};  // delete 8: the bid is 100 x 5 again
  const std::vector<double> rows = {200, 1, 100, 5, 200, 1, 101, 3, 200, 1, 101, 2, 200, 1, 100, 5};
  for (int bad = 0; bad < 2; ++bad) {
    MboBook b(kTick, kLot, 16);
    CHECK_EQ(apply(b, {{9, 0, 1, 200, 1, 0}, {9, 0, 0, 100, 5, 0}}), 2);
    std::vector<double> r = rows;
    if (bad == 1) r[4 * 2 + 3] = 9;  // row 3's bid size
    std::vector<double> extras;
    std::vector<uint32_t> starts(5);
    std::vector<double> summary(kReplaySummary);
    b.replay_lobster(ev.data(), r.data(), 4, 4, 1, extras, starts.data(), summary.data());
    CHECK(summary[0] == 4);
    // row 2: 101 x 3 pushes 100 beyond depth 1 -> trim (forgets nothing: 100 is anonymous)
    // row 4: 101 leaves; 100 x 5 enters from beyond -> a refill
    if (bad == 0) {
      CHECK(summary[1] == 0);
      CHECK(summary[2] == 1);
      CHECK(starts[1] == 0 && starts[2] == 1 && starts[3] == 1 && starts[4] == 2);
    } else {
      // row 3 differs; the side is reset from it (forgetting order 8), so order 8's delete
      // at row 4 is unknown and row 4 differs too
      CHECK(summary[1] == 2);
      CHECK(summary[2] == 0);
      CHECK(summary[3] == 2);
      CHECK(summary[4] == 3 && summary[5] == 0 && summary[6] == 1 && summary[7] == 101 && summary[8] == 2 &&
            summary[9] == 101 && summary[10] == 9);
    }
    CHECK(depth(b, Side::bid) == (std::vector<std::pair<int64_t, int64_t>>{{100, 5}}));
  }
}

}  // namespace

int main() {
  test_ops();
  test_refusals();
  test_random();
  test_replay();
  std::printf("mbo: all checks passed\n");
  return 0;
}
