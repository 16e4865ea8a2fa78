// cpp/orderbook under ASan+UBSan (and TSan, single-threaded): the L2 ladder against a
// std::map model, the id map and slab pool against std containers, the matching engine's
// rules case by case, and a long random run checked for invariants after every step.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "check.hpp"
#include "orderbook/l2_book.hpp"
#include "orderbook/matching_engine.hpp"
#include "orderbook/order_pool.hpp"

using namespace up::orderbook;

namespace {

const Grid kCents{1, 100};
const Grid kLots{1, 1000};
const Grid kNoLot{1, 0};
const Grid kUnit{1, 1};

void test_grid() {
  int64_t t = 0;
  CHECK(kCents.to_ticks(100.01, t) && t == 10001);
  CHECK(kCents.to_ticks(-0.03, t) && t == -3);
  CHECK(!kCents.to_ticks(100.005, t));
  CHECK(!kCents.to_ticks(NAN, t));
  CHECK(!kCents.to_ticks(INFINITY, t));
  CHECK(!kCents.to_ticks(1e300, t));
  CHECK(kCents.to_value(10001) == 100.01);
  // On the grid at every magnitude (a relative tolerance), exact past 2^53.
  const Grid sats{1, 1e8};
  CHECK(sats.to_lots(128.01013632, t) && t == 12801013632);
  CHECK(sats.to_value(12801013632) == 128.01013632);
  CHECK(sats.to_lots(1e8, t) && t == 10000000000000000);
  CHECK(!sats.to_lots(-1e-8, t) && !sats.to_lots(1e11, t));
  CHECK(sats.to_value(INT64_MAX) == 92233720368.54775807);
  CHECK(sats.to_value(9007199254740993) == 90071992.54740993);
  const Grid nautilus{1, 1000};
  CHECK(nautilus.ratio_value(886 * 5, 5) == 0.886);
  CHECK(nautilus.ratio_value(static_cast<__int128>(886) * INT64_MAX, INT64_MAX) == 0.886);
  CHECK(crosses(Side::ask, 100, 101) && crosses(Side::ask, 101, 101) && !crosses(Side::ask, 102, 101));
  CHECK(crosses(Side::bid, 102, 101) && !crosses(Side::bid, 100, 101));
}

void test_l2_basics() {
  L2Book b(kCents, kLots);
  CHECK(std::isnan(b.top()[kBidPrice]) && std::isnan(b.top()[kAskSize]));
  b.set(Side::bid, 10001, 2);
  b.set(Side::bid, 10002, 1);
  b.set(Side::ask, 10004, 3);
  CHECK(b.top()[kBidPrice] == 100.02 && b.top()[kBidSize] == 1 && b.top()[kAskPrice] == 100.04);
  CHECK_EQ(b.top()[kBidLevels], 2);
  b.set(Side::bid, 10002, 0);
  CHECK(b.top()[kBidPrice] == 100.01 && b.top()[kBidSize] == 2);
  b.set(Side::bid, 10005, 1);  // a crossed book from a bad feed is kept as is
  CHECK(b.top()[kBidTicks] >= b.top()[kAskTicks]);
  double out[8];
  CHECK_EQ(b.levels(Side::bid, 4, out), 2u);
  CHECK(out[0] == 100.05 && out[2] == 100.01);
  // A bad delta anywhere in the batch: nothing applied, its index reported.
  const double bad[] = {0, 100.03, 1, 1, 100.06, 2, 2, 100.07, 1};
  CHECK_EQ(b.apply_deltas(bad, 3), -3);
  const double offgrid[] = {0, 100.03, 1, 1, 100.065, 2};
  CHECK_EQ(b.apply_deltas(offgrid, 2), -2);
  const double neg[] = {0, 100.03, -1};
  CHECK_EQ(b.apply_deltas(neg, 1), -1);
  const double offlot[] = {0, 100.03, 0.0001};
  CHECK_EQ(b.apply_deltas(offlot, 1), -1);
  CHECK_EQ(b.top()[kBidLevels], 2);
  const double good[] = {0, 100.03, 1, 1, 100.06, 2.5, 1, 100.04, 0};
  CHECK_EQ(b.apply_deltas(good, 3), 3);
  CHECK(b.top()[kAskPrice] == 100.06 && b.top()[kAskSize] == 2.5);
  b.clear();
  CHECK_EQ(b.level_count(Side::bid) + b.level_count(Side::ask), 0u);
}

void test_l2_random() {
  std::mt19937_64 rng(7);
  L2Book b(kCents, kNoLot);
  std::map<int64_t, double> model[2];
  std::vector<double> out(4096);
  for (int step = 0; step < 200000; ++step) {
    const Side s = rng() & 1 ? Side::ask : Side::bid;
    const int64_t t = 10000 + static_cast<int64_t>(rng() % 300);
    const double size = rng() % 4 == 0 ? 0 : static_cast<double>(rng() % 1000) / 8;
    b.set(s, t, size);
    auto& m = model[static_cast<int>(s)];
    if (size == 0) m.erase(t); else m[t] = size;
    if (step % 97 == 0) {
      for (int side = 0; side < 2; ++side) {
        const auto& mm = model[side];
        const std::size_t n = b.levels(static_cast<Side>(side), out.size() / 2, out.data());
        CHECK_EQ(n, mm.size());
        std::size_t j = 0;
        if (side == 0) {
          for (auto it = mm.rbegin(); it != mm.rend(); ++it, ++j) CHECK(out[2 * j] == kCents.to_value(it->first) && out[2 * j + 1] == it->second);
        } else {
          for (auto it = mm.begin(); it != mm.end(); ++it, ++j) CHECK(out[2 * j] == kCents.to_value(it->first) && out[2 * j + 1] == it->second);
        }
      }
    }
  }
}

void test_pool_and_ids() {
  SlabPool<Order> pool;
  IdMap ids;
  std::unordered_map<uint64_t, int32_t> model;
  std::mt19937_64 rng(11);
  std::vector<uint64_t> live;
  uint64_t next = 1;
  for (int step = 0; step < 300000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      const int32_t h = pool.alloc();
      CHECK(h >= 0);
      pool[h].id = next;
      ids.insert(next, h);
      model[next] = h;
      live.push_back(next++);
    } else {
      const std::size_t k = rng() % live.size();
      const uint64_t id = live[k];
      live[k] = live.back();
      live.pop_back();
      const int32_t h = ids.find(id);
      CHECK_EQ(h, model[id]);
      CHECK_EQ(pool[h].id, id);
      pool.free(h);
      ids.erase(id);
      model.erase(id);
      CHECK_EQ(ids.find(id), -1);
    }
  }
  CHECK_EQ(ids.size(), model.size());
  for (const auto& [id, h] : model) CHECK_EQ(ids.find(id), h);
  CHECK(pool.chunks() >= 2);  // grew past one slab without moving live nodes

  // Full chunks leave the room stack and come back on a free; no chunk is added while one has room.
  SlabPool<Order> p2;
  std::vector<int32_t> hs;
  for (uint32_t i = 0; i < 2 * SlabPool<Order>::kChunkSlots; ++i) hs.push_back(p2.alloc());
  CHECK_EQ(p2.chunks(), 2u);
  p2.free(hs[5]);
  p2.free(hs[SlabPool<Order>::kChunkSlots + 7]);
  CHECK(p2.alloc() >= 0);
  CHECK(p2.alloc() >= 0);
  CHECK_EQ(p2.chunks(), 2u);
  CHECK(p2.alloc() >= 0);
  CHECK_EQ(p2.chunks(), 3u);
}

const double* rep(MatchingEngine& e) { return e.view(); }
int status(MatchingEngine& e) { return static_cast<int>(rep(e)[kReportStatus]); }
// The view holds quantities as values; back to lots on the engine's lot grid.
int64_t lots_of(double v, const Grid& lot) {
  int64_t l = -1;
  CHECK(lot.to_lots(v, l));
  return l;
}
int64_t filled(MatchingEngine& e, const Grid& lot = kLots) { return lots_of(rep(e)[kReportFilledQuantity], lot); }
int64_t remaining(MatchingEngine& e, const Grid& lot = kLots) { return lots_of(rep(e)[kReportRemainingQuantity], lot); }
uint64_t oid(MatchingEngine& e) { return static_cast<uint64_t>(rep(e)[kReportOrderId]); }

constexpr int kNew = 0, kPartial = 1, kFilled = 2, kCancelled = 3, kRejected = 4;

void test_engine_rules() {
  MatchingEngine e(kCents, kLots, SelfTrade::none);
  e.submit(Side::ask, false, 10010, 5, TimeInForce::gtc, false, 0, 1);
  const uint64_t a1 = oid(e);
  e.submit(Side::ask, false, 10010, 5, TimeInForce::gtc, false, 0, 2);
  const uint64_t a2 = oid(e);
  e.submit(Side::ask, false, 10020, 5, TimeInForce::gtc, false, 0, 3);
  CHECK(e.view()[kAskPrice] == 100.10 && e.view()[kAskSize] == 0.010);
  // Price-time priority: a1 before a2, then the next level.
  e.submit(Side::bid, false, 10020, 12, TimeInForce::gtc, false, 0, 4);
  CHECK_EQ(status(e), kFilled);
  CHECK_EQ(e.fills().size(), 3u);
  CHECK_EQ(e.fills()[0].maker_id, a1);
  CHECK_EQ(e.fills()[1].maker_id, a2);
  CHECK_EQ(e.fills()[2].lots, 2);
  CHECK_EQ(e.fills()[2].ticks, 10020);
  // IOC remainder is cancelled; GTC remainder rests.
  e.submit(Side::bid, false, 10020, 10, TimeInForce::ioc, false, 0, 0);
  CHECK_EQ(status(e), kCancelled);
  CHECK_EQ(filled(e), 3);
  CHECK_EQ(static_cast<int>(e.view()[kReportReject]), static_cast<int>(CancelReason::ioc_remainder));
  CHECK(std::isnan(e.view()[kAskPrice]));
  e.submit(Side::bid, false, 10000, 4, TimeInForce::gtc, false, 0, 0);
  const uint64_t b1 = oid(e);
  CHECK_EQ(status(e), kNew);
  // FOK: not enough -> nothing happens; enough -> all.
  e.submit(Side::ask, false, 10000, 5, TimeInForce::fok, false, 0, 0);
  CHECK_EQ(status(e), kCancelled);
  CHECK_EQ(filled(e), 0);
  CHECK_EQ(static_cast<int>(e.view()[kReportReject]), static_cast<int>(CancelReason::fok_unfillable));
  CHECK_EQ(e.view()[kBidSize] * 1000, 4);
  // Post-only that would take is rejected; one that would not rests.
  e.submit(Side::ask, false, 10000, 1, TimeInForce::gtc, true, 0, 0);
  CHECK_EQ(status(e), kRejected);
  CHECK_EQ(e.view()[kReportReject], 1);
  e.submit(Side::ask, false, 10001, 1, TimeInForce::gtc, true, 0, 0);
  CHECK_EQ(status(e), kNew);
  // A post-only modify that would take is rejected and the original keeps working.
  const uint64_t p1 = oid(e);
  e.modify_and_publish(p1, true, 10000, false, 0);
  CHECK_EQ(status(e), kRejected);
  CHECK_EQ(e.view()[kReportReject], 1);
  CHECK_EQ(remaining(e), 1);
  CHECK(e.query(p1) && e.view()[kQueryQuantity] == kLots.to_value(1));
  // Market order into the bid.
  e.submit(Side::ask, true, 0, 3, TimeInForce::gtc, false, 0, 0);
  CHECK_EQ(status(e), kFilled);
  CHECK(e.query(b1) && e.view()[kQueryQuantity] == kLots.to_value(1) && e.view()[kQueryFilledQuantity] == kLots.to_value(3));
  // Modify: shrink keeps priority, growth loses it, 0 cancels, unknown is rejected.
  e.submit(Side::bid, false, 10000, 2, TimeInForce::gtc, false, 0, 0);
  const uint64_t b2 = oid(e);
  e.modify_and_publish(b1, false, 0, true, 5);  // grows: goes behind b2
  CHECK_EQ(status(e), kPartial);
  e.submit(Side::ask, true, 0, 2, TimeInForce::ioc, false, 0, 0);
  CHECK_EQ(e.fills()[0].maker_id, b2);
  e.modify_and_publish(b1, false, 0, true, 1);
  CHECK_EQ(remaining(e), 1);
  e.modify_and_publish(b1, false, 0, true, 0);
  CHECK_EQ(status(e), kCancelled);
  CHECK(!e.query(b1));
  e.modify_and_publish(b1, false, 0, true, 1);
  CHECK_EQ(status(e), kRejected);
  CHECK_EQ(e.view()[kReportReject], 2);
  CHECK(!e.cancel(b1));
  CHECK(!e.cancel(999999));
}

// A move onto the price of an emptied (tombstone) level, from the best level: the revived
// level must hold the order before the old best is dropped (a regression the JS differential
// test found).
void test_move_onto_emptied_level() {
  MatchingEngine e(kCents, kLots, SelfTrade::none);
  e.submit(Side::bid, false, 9900, 3, TimeInForce::gtc, false, 0, 0);
  const uint64_t best = oid(e);
  e.submit(Side::bid, false, 9850, 1, TimeInForce::gtc, false, 0, 0);
  const uint64_t mid = oid(e);
  e.submit(Side::bid, false, 9800, 1, TimeInForce::gtc, false, 0, 0);
  CHECK(e.cancel(mid));
  e.modify_and_publish(best, true, 9850, true, 2);
  CHECK_EQ(status(e), kNew);
  CHECK(e.view()[kBidPrice] == 98.50 && e.view()[kBidSize] == 0.002);
  CHECK_EQ(e.view()[kBidLevels], 2);
  double out[8];
  CHECK_EQ(e.levels(Side::bid, 4, out), 2u);
  CHECK(out[0] == 98.50 && out[2] == 98.00);
  // And the alone-level move into an empty gap, both ways.
  e.modify_and_publish(best, true, 9825, false, 0);
  CHECK(e.view()[kBidPrice] == 98.25);
  e.modify_and_publish(best, true, 9950, false, 0);
  CHECK(e.view()[kBidPrice] == 99.50);
  CHECK_EQ(e.levels(Side::bid, 4, out), 2u);
  CHECK(out[0] == 99.50 && out[2] == 98.00);
}

void test_stp() {
  for (int mode = 1; mode <= 3; ++mode) {
    MatchingEngine e(kCents, kLots, static_cast<SelfTrade>(mode));
    e.submit(Side::ask, false, 10000, 5, TimeInForce::gtc, false, 7, 0);
    const uint64_t self = oid(e);
    e.submit(Side::ask, false, 10000, 5, TimeInForce::gtc, false, 8, 0);
    e.submit(Side::bid, false, 10000, 8, TimeInForce::gtc, false, 7, 0);
    if (mode == 1) {  // cancel-taker: nothing trades, maker stays
      CHECK_EQ(status(e), kCancelled);
      CHECK_EQ(filled(e), 0);
      CHECK(e.query(self));
    } else if (mode == 2) {  // cancel-maker: own maker goes, trades with the next
      CHECK(!e.query(self));
      CHECK_EQ(filled(e), 5);
      CHECK_EQ(status(e), kPartial);
    } else {  // cancel-both
      CHECK(!e.query(self));
      CHECK_EQ(status(e), kCancelled);
      CHECK_EQ(filled(e), 0);
    }
    CHECK(!(e.view()[kBidTicks] >= e.view()[kAskTicks]));
  }
}

void test_batch() {
  MatchingEngine e(kCents, kLots, SelfTrade::none);
  const double cmds[] = {0, 1, 100.00, 1, 0, 0,   0, 0, 100.00, 0.5, 1, 0,   2, 1, 0, 0, 0, 0,   3, 99, NAN, 0.1, 0, 0};
  double fills[8] = {};
  CHECK_EQ(e.batch(cmds, 4, fills, 2), 4);
  CHECK_EQ(e.view()[kBatchFills], 1);
  CHECK(fills[0] == 1 && fills[1] == 2 && fills[2] == 100.00 && fills[3] == 0.5);
  CHECK(std::isnan(e.view()[kAskPrice]));
  // Bad commands anywhere: nothing runs.
  const double bad[][6] = {{0, 1, 100.001, 1, 0, 0}, {0, 2, 100, 1, 0, 0}, {0, 1, 100, 0, 0, 0}, {1, 1, 0, 1, 4, 0},
                           {0, 1, 100, 1, 3, 0},     {0, 1, 100, 1, 0, -1}, {2, 0, 0, 0, 0, 0}, {3, 1, NAN, -1, 0, 0},
                           {4, 0, 0, 0, 0, 0},       {0, 1, NAN, 1, 0, 0}};
  for (const auto& b : bad) {
    double two[12] = {0, 1, 101, 1, 0, 0};
    std::copy(b, b + 6, two + 6);
    const uint64_t before = e.next_id();
    CHECK_EQ(e.batch(two, 2, nullptr, 0), -2);
    CHECK_EQ(e.next_id(), before);
    CHECK(std::isnan(e.view()[kAskPrice]));
  }
}

// batch reads each command once: fills written over the commands array itself (fills_out
// aliasing commands) do not change the commands still to run.
void test_batch_reads_once() {
  MatchingEngine e(kUnit, kUnit, SelfTrade::none);
  for (int k = 0; k < 6; ++k) e.submit(Side::ask, false, 100, 1, TimeInForce::gtc, false, 0, NAN);
  // A market buy of 6 (six fills, the first three written over both commands), then a bid at 99.
  double c[12] = {1, 0, 0, 6, 0, 0, 0, 0, 99, 1, 0, 0};
  CHECK_EQ(e.batch(c, 2, c, 3), 2);
  CHECK_EQ(e.view()[kBatchFills], 6);
  CHECK(c[0] == 1 && c[1] == 7 && c[2] == 100 && c[3] == 1);
  // Read again, command 1 would now be (100, 1, 3, 7, 100, 1): a post-only ask.
  CHECK(e.view()[kBidPrice] == 99 && std::isnan(e.view()[kAskPrice]));
  CHECK_EQ(e.resting(), 1u);
}

// Another thread rewrites the input of apply_deltas and batch while they run (a
// SharedArrayBuffer in JS). Whatever it writes, what is applied is what was validated: a book
// that refuses negative prices never holds one, every level is on the grids, the engine never
// crosses. Calls and writes are relaxed atomics, so TSan sees no race.
void test_shared_input() {
  constexpr std::size_t kDeltas = 512;
  constexpr std::size_t kCommands = 256;
  std::vector<double> d(3 * kDeltas);
  std::vector<double> c(kCommandStride * kCommands);
  std::atomic<int> stop{0};
  auto scribble = [&stop](std::vector<double>& a) {
    const double bad[] = {-5, -7, -1, NAN, 1e300, 0.5, 0x1p53, INFINITY, 9, 3, 2};
    uint32_t x = 0x9e3779b9;
    while (stop.load(std::memory_order_relaxed) == 0) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      std::atomic_ref<double>(a[x % a.size()]).store(bad[(x >> 8) % std::size(bad)], std::memory_order_relaxed);
      for (int k = 0; k < 64 && stop.load(std::memory_order_relaxed) == 0; ++k) {
      }
    }
  };
  auto put = [](std::vector<double>& a, std::size_t i, double v) {
    std::atomic_ref<double>(a[i]).store(v, std::memory_order_relaxed);
  };
  double out[3 * 1024];
  const Grid no_negative(1, 1, false);

  std::thread w([&] { scribble(d); });
  L2Book book(no_negative, kUnit);
  int applied = 0;
  for (int it = 0; it < 400; ++it) {
    for (std::size_t i = 0; i < kDeltas; ++i) {
      put(d, 3 * i, static_cast<double>(i & 1));
      put(d, 3 * i + 1, static_cast<double>(i % 500 + 1));
      put(d, 3 * i + 2, static_cast<double>(i % 3));
    }
    if (book.apply_deltas(d.data(), kDeltas) > 0) ++applied;
    for (Side s : {Side::bid, Side::ask}) {
      const std::size_t m = book.levels(s, 1024, out, true);
      for (std::size_t j = 0; j < m; ++j) {
        CHECK(out[3 * j] >= 0 && out[3 * j] <= kMaxTicksDouble);
        CHECK(out[3 * j + 1] > 0 && out[3 * j + 1] <= kMaxLotsDouble && out[3 * j + 1] == std::floor(out[3 * j + 1]));
      }
    }
  }
  stop.store(1);
  w.join();

  stop.store(0);
  std::thread w2([&] { scribble(c); });
  MatchingEngine e(no_negative, kUnit, SelfTrade::none);
  for (int it = 0; it < 400; ++it) {
    for (std::size_t i = 0; i < kCommands; ++i) {
      const std::size_t r = kCommandStride * i;
      put(c, r, 0);
      put(c, r + 1, static_cast<double>(i & 1));
      put(c, r + 2, static_cast<double>(100 + (i / 2) % 50));
      put(c, r + 3, 1);
      put(c, r + 4, 0);
      put(c, r + 5, 0);
    }
    if (e.batch(c.data(), kCommands, nullptr, 0) > 0) ++applied;
    CHECK(!(e.view()[kBidTicks] >= e.view()[kAskTicks]));
    for (Side s : {Side::bid, Side::ask}) {
      const std::size_t m = e.levels(s, 1024, out, true);
      for (std::size_t j = 0; j < m; ++j) {
        CHECK(out[3 * j] >= 0 && out[3 * j] <= kMaxTicksDouble);
        CHECK(out[3 * j + 1] > 0 && out[3 * j + 2] == 0);
      }
    }
  }
  stop.store(1);
  w2.join();
  std::printf("shared input: %d of 800 calls applied\n", applied);
}

// Random commands; after each: not crossed, level sums match resting orders, fills conserve.
void test_engine_random() {
  for (int mode = 0; mode < 4; ++mode) {
    MatchingEngine e(kUnit, kUnit, static_cast<SelfTrade>(mode));
    std::mt19937_64 rng(100 + mode);
    std::vector<uint64_t> ids;
    std::vector<double> lv(8192);
    for (int step = 0; step < 60000; ++step) {
      const int op = static_cast<int>(rng() % 10);
      if (op < 6 || ids.empty()) {
        const Side s = rng() & 1 ? Side::ask : Side::bid;
        const int64_t t = 1000 + static_cast<int64_t>(rng() % 40) - (s == Side::bid ? 3 : -3);
        const int64_t q = 1 + static_cast<int64_t>(rng() % 20);
        const auto tif = static_cast<TimeInForce>(rng() % 5 == 0 ? 1 + rng() % 2 : 0);
        const bool market = rng() % 20 == 0;
        e.submit(s, market, t, q, tif, !market && rng() % 10 == 0, static_cast<uint32_t>(rng() % 4), 0);
        int64_t sum = 0;
        for (const Fill& f : e.fills()) sum += f.lots;
        CHECK_EQ(sum, filled(e, kUnit));
        CHECK(filled(e, kUnit) + remaining(e, kUnit) <= q);
        if (status(e) == kNew || status(e) == kPartial) ids.push_back(oid(e));
      } else if (op < 8) {
        const std::size_t k = rng() % ids.size();
        e.cancel(ids[k]);
        ids[k] = ids.back();
        ids.pop_back();
      } else {
        const uint64_t id = ids[rng() % ids.size()];
        e.modify_and_publish(id, rng() & 1, 990 + static_cast<int64_t>(rng() % 60), rng() & 1,
                             static_cast<int64_t>(rng() % 20));
      }
      CHECK(!(e.view()[kBidTicks] >= e.view()[kAskTicks]));
      // Top of book is the first live level, never an emptied one.
      for (int s = 0; s < 2; ++s) {
        double first[2] = {NAN, NAN};
        const std::size_t n = e.levels(static_cast<Side>(s), 1, first);
        CHECK_EQ(n, e.view()[kBidLevels + s] > 0 ? 1u : 0u);
        if (n == 1) CHECK(first[0] == e.view()[kBidPrice + 2 * s] && first[1] == e.view()[kBidSize + 2 * s]);
      }
      if (step % 101 == 0) {
        std::size_t resting = 0;
        for (uint64_t id : ids) resting += e.query(id) ? 1 : 0;
        CHECK_EQ(resting, e.resting());
        for (int s = 0; s < 2; ++s) {
          const std::size_t n = e.levels(static_cast<Side>(s), lv.size() / 2, lv.data());
          for (std::size_t j = 0; j < n; ++j) CHECK(lv[2 * j + 1] > 0);
          for (std::size_t j = 1; j < n; ++j) CHECK(s == 0 ? lv[2 * j] < lv[2 * j - 2] : lv[2 * j] > lv[2 * j - 2]);
        }
      }
    }
  }
}

}  // namespace

// Lots are int64: an order of 2^63 - 1 lots rests; a level total or an order's filled plus
// open lots that would pass it is refused with quantity_overflow and changes nothing.
void test_engine_int64() {
  MatchingEngine e(kCents, kUnit, SelfTrade::none);
  e.submit(Side::bid, false, 100, INT64_MAX, TimeInForce::gtc, false, 0, 0);
  const uint64_t big = oid(e);
  CHECK_EQ(status(e), kNew);
  CHECK(e.view()[kBidSize] == 9223372036854775807.0);
  e.submit(Side::bid, false, 100, 1, TimeInForce::gtc, false, 0, 0);
  CHECK_EQ(status(e), kRejected);
  CHECK_EQ(static_cast<int>(rep(e)[kReportReject]), static_cast<int>(RejectReason::quantity_overflow));
  e.submit(Side::bid, false, 99, 5, TimeInForce::gtc, false, 0, 0);
  const uint64_t small = oid(e);
  e.modify_and_publish(small, true, 100, false, 0);  // would join the full level
  CHECK_EQ(status(e), kRejected);
  CHECK(e.query(small) && e.view()[kQueryPrice] == 0.99);
  // FOK sums both levels past int64 without overflow.
  e.submit(Side::ask, false, 99, INT64_MAX, TimeInForce::fok, false, 0, 0);
  CHECK_EQ(status(e), kFilled);
  CHECK(rep(e)[kReportAveragePrice] == 1.0);  // INT64_MAX lots at 1.00: one price
  CHECK(e.query(small) && !e.query(big));
  double lv[3] = {};
  CHECK_EQ(e.levels(Side::bid, 1, lv, true), 1u);
  CHECK(lv[0] == 99 && lv[1] + lv[2] == 5);
}

// allowNegativePrices false: the grid refuses negative ticks, and with them the L2 deltas and
// engine batches that carry one; true (the default of Grid) keeps the symmetric grid.
void test_negative_prices() {
  int64_t t = 1;
  const Grid no(1, 100, false);
  CHECK(!no.to_ticks(-0.01, t));
  CHECK(no.to_ticks(0.0, t) && t == 0);
  CHECK(no.to_ticks(-0.0, t) && t == 0);
  CHECK(no.to_ticks(0.07, t) && t == 7);
  const Grid yes(1, 100);
  CHECK(yes.to_ticks(-0.07, t) && t == -7);
  CHECK(yes.to_ticks(-90071992547409.91, t) && t == -kMaxTicks);
  L2Book book(no, Grid(1, 0));
  const double deltas[] = {0, 1, 1, 0, -0.05, 1};
  CHECK_EQ(book.apply_deltas(deltas, 2), -2);
  CHECK_EQ(book.level_count(Side::bid), 0u);
  CHECK_EQ(book.min_ticks(), 0);
  MatchingEngine e(no, Grid(1, 1), SelfTrade::none);
  const double cmds[] = {0, 1, -2, 1, 0, 0};
  CHECK_EQ(e.batch(cmds, 1, nullptr, 0), -1);
  MatchingEngine neg(yes, Grid(1, 1), SelfTrade::none);
  CHECK_EQ(neg.batch(cmds, 1, nullptr, 0), 1);
  CHECK(neg.view()[kAskPrice] == -2);
}

int main() {
  test_grid();
  test_negative_prices();
  test_engine_int64();
  test_l2_basics();
  test_l2_random();
  test_pool_and_ids();
  test_engine_rules();
  test_move_onto_emptied_level();
  test_stp();
  test_batch();
  test_batch_reads_once();
  test_shared_input();
  test_engine_random();
  std::printf("orderbook: all checks passed\n");
  return 0;
}
