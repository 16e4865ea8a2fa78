// cpp/cache (the L2 shared-memory cache) under sanitizers: single-thread semantics, a full
// cache that evicts, bad geometry and arguments, a scribbled buffer (ASan/UBSan), and threads
// hammering get/set/erase on the same keys with checksummed values (TSan).
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cache/layout.hpp"
#include "cache/shared_cache.hpp"
#include "check.hpp"

using namespace up::cache;

namespace {

constexpr double kInf = __builtin_inf();

// A cache buffer as a SharedArrayBuffer would give it: zeroed and well aligned.
struct Buffer {
  Buffer(uint32_t entries, uint32_t slot) {
    Geometry g;
    CHECK(g.compute(entries, slot));
    size = g.total_bytes;
    bytes.reset(new (std::align_val_t{kLineBytes}) uint8_t[size]());
    CHECK_EQ(init_cache(bytes.get(), size, entries, slot), 0);
  }
  struct Free {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{kLineBytes}); }
  };
  std::size_t size = 0;
  std::unique_ptr<uint8_t[], Free> bytes;
};

int32_t put(SharedCache& c, const std::string& k, const std::string& v, double version = 0, double stale = kInf) {
  return c.set(reinterpret_cast<const uint8_t*>(k.data()), static_cast<uint32_t>(k.size()),
               reinterpret_cast<const uint8_t*>(v.data()), static_cast<uint32_t>(v.size()), 0, stale, stale, version, 0);
}

std::string get(SharedCache& c, const std::string& k, double now = 0, int32_t* status = nullptr) {
  uint8_t out[4096];
  EntryMeta m;
  const int32_t r = c.get(reinterpret_cast<const uint8_t*>(k.data()), static_cast<uint32_t>(k.size()), now, out, sizeof out, &m);
  if (status != nullptr) *status = r;
  return r >= 0 ? std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(r)) : std::string("<miss>");
}

void test_basics() {
  Buffer b(16, 64);
  SharedCache c;
  CHECK_EQ(c.attach(b.bytes.get(), b.size), 0);
  CHECK_EQ(put(c, "a", "alpha", 3), 0);
  CHECK_EQ(put(c, "b", "beta"), 0);
  CHECK(get(c, "a") == "alpha");
  CHECK(get(c, "b") == "beta");
  CHECK(get(c, "zz") == "<miss>");
  CHECK_EQ(put(c, "a", "again"), 0);
  CHECK(get(c, "a") == "again");
  CHECK_EQ(c.size(), 2u);
  CHECK_EQ(c.erase(reinterpret_cast<const uint8_t*>("a"), 1), 1);
  CHECK_EQ(c.erase(reinterpret_cast<const uint8_t*>("a"), 1), 0);
  CHECK(get(c, "a") == "<miss>");
  CHECK_EQ(c.size(), 1u);
  // Past stale_until: a miss that says so.
  CHECK_EQ(put(c, "t", "ttl", 0, 100), 0);
  CHECK(get(c, "t", 99) == "ttl");
  int32_t st = 0;
  CHECK(get(c, "t", 100, &st) == "<miss>");
  CHECK_EQ(st, kMiss);
  // Too big: key padded to 8 + value over the slot.
  CHECK_EQ(put(c, "k", std::string(57, 'x')), kTooBig);
  CHECK_EQ(put(c, "k", std::string(56, 'x')), 0);
  CHECK_EQ(c.clear(), 0);
  CHECK_EQ(c.size(), 0u);
  CHECK(get(c, "b") == "<miss>");
  CHECK_EQ(c.get(reinterpret_cast<const uint8_t*>("k"), 0, 0, nullptr, 0, nullptr), kBadArgument);
}

void test_full_cache_evicts() {
  Buffer b(32, 64);
  SharedCache c;
  CHECK_EQ(c.attach(b.bytes.get(), b.size), 0);
  int evicted = 0;
  for (int i = 0; i < 1000; ++i) {
    const int32_t r = put(c, "k" + std::to_string(i), std::to_string(i));
    CHECK(r == 0 || r == 1);
    evicted += r;
    CHECK(get(c, "k" + std::to_string(i)) == std::to_string(i));
  }
  CHECK_EQ(evicted, 1000 - 32);
  CHECK_EQ(c.size(), 32u);
  int found = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string v = get(c, "k" + std::to_string(i));
    if (v != "<miss>") {
      CHECK(v == std::to_string(i));
      ++found;
    }
  }
  CHECK_EQ(found, 32);
}

void test_bad_geometry() {
  Buffer b(8, 64);
  SharedCache c;
  CHECK_EQ(c.attach(b.bytes.get(), b.size - 1), kBadCache);
  CHECK_EQ(c.attach(nullptr, 0), kBadCache);
  CHECK_EQ(c.attach(b.bytes.get() + 1, b.size - 8), kBadCache);
  reinterpret_cast<CacheHeader*>(b.bytes.get())->slot_bytes = 60;
  CHECK_EQ(c.attach(b.bytes.get(), b.size), kBadCache);
  CHECK_EQ(init_cache(b.bytes.get(), 100, 8, 64), kBadCache);
  CHECK_EQ(init_cache(b.bytes.get(), b.size, 0, 64), kBadCache);
  CHECK_EQ(init_cache(b.bytes.get(), b.size, 8, 12), kBadCache);
}

// Everything after the header overwritten with junk: operations answer statuses, never stray.
void test_scribbled() {
  Buffer b(64, 64);
  SharedCache c;
  CHECK_EQ(c.attach(b.bytes.get(), b.size), 0);
  for (int i = 0; i < 64; ++i) put(c, "k" + std::to_string(i), "v" + std::to_string(i));
  uint32_t x = 0x12345678;
  auto* words = reinterpret_cast<uint32_t*>(b.bytes.get() + kHeaderBytes);
  const std::size_t n = (b.size - kHeaderBytes) / 4;
  for (int round = 0; round < 50; ++round) {
    for (std::size_t i = 0; i < n / 4; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      words[x % n] = (x & 1) ? (x >> 8) % 200 : x;
    }
    for (int i = 0; i < 200; ++i) {
      const std::string k = "k" + std::to_string(i % 80);
      int32_t st = 0;
      get(c, k, 0, &st);
      CHECK(st >= kMiss || st == kOutTooSmall);
      const int32_t r = (i % 3 == 0) ? put(c, k, "x") : c.erase(reinterpret_cast<const uint8_t*>(k.data()), static_cast<uint32_t>(k.size()));
      CHECK(r >= 0 || r == kBadCache);
    }
  }
  CHECK_EQ(c.clear(), 0);
  CHECK_EQ(put(c, "after", "ok"), 0);
  CHECK(get(c, "after") == "ok");
}

// Value for key k by writer w, sequence s: [k][w][s][len][filler...][fnv of the rest].
uint32_t encode(uint8_t* out, uint32_t k, uint32_t w, uint32_t s) {
  const uint32_t len = 16 + (s * 2654435761u >> 24) % 100;
  const uint32_t head[4] = {k, w, s, len};
  std::memcpy(out, head, 16);
  for (uint32_t i = 16; i < len; ++i) out[i] = static_cast<uint8_t>(s * 31 + i);
  const uint32_t sum = fnv1a(out, len);
  std::memcpy(out + len, &sum, 4);
  return len + 4;
}

void test_threads() {
  Buffer b(8, 256);
  constexpr int kThreads = 4;
  constexpr uint32_t kKeys = 16;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, hits{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      SharedCache c;
      CHECK_EQ(c.attach(b.bytes.get(), b.size), 0);
      uint8_t value[256], out[256];
      uint32_t x = 0x9e3779b9u * (t + 1), s = 0;
      uint64_t my_reads = 0, my_hits = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const uint32_t k = x % kKeys;
        const std::string key = "shared:" + std::to_string(k);
        const auto* kp = reinterpret_cast<const uint8_t*>(key.data());
        const uint32_t kn = static_cast<uint32_t>(key.size());
        const uint32_t op = (x >> 8) % 100;
        if (op < 25) {
          ++s;
          const uint32_t len = encode(value, k, t, s);
          const int32_t r = c.set(kp, kn, value, len, 0, 1e15 + s, 2e15 + s, s, 0);
          if (r != 0 && r != 1) std::fprintf(stderr, "set returned %d\n", r);
          CHECK(r == 0 || r == 1);
        } else if (op < 28) {
          CHECK(c.erase(kp, kn) >= 0);
        } else {
          ++my_reads;
          EntryMeta m;
          const int32_t r = c.get(kp, kn, 0, out, sizeof out, &m);
          if (r < 0) continue;
          ++my_hits;
          uint32_t head[4];
          std::memcpy(head, out, 16);
          uint32_t sum = 0;
          const bool sized = r >= 20 && head[3] + 4 == static_cast<uint32_t>(r);
          if (sized) std::memcpy(&sum, out + head[3], 4);
          const bool ok = sized && sum == fnv1a(out, head[3]) && head[0] == k && m.version == head[2] &&
                          m.expires_at == 1e15 + head[2] && m.stale_until == 2e15 + head[2];
          if (!ok) bad.fetch_add(1);
        }
      }
      reads.fetch_add(my_reads);
      hits.fetch_add(my_hits);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop.store(true);
  for (auto& th : threads) th.join();
  CHECK_EQ(bad.load(), 0u);
  CHECK(hits.load() > 100);
  std::printf("threads: %llu reads, %llu hits, 0 torn\n", static_cast<unsigned long long>(reads.load()),
              static_cast<unsigned long long>(hits.load()));
}

}  // namespace

int main() {
  test_basics();
  test_full_cache_evicts();
  test_bad_geometry();
  test_scribbled();
  test_threads();
  std::printf("cache_l2_test: all passed\n");
  return 0;
}
