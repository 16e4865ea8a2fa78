// cpp/memory under sanitizers: every allocator single-threaded against a reference
// model (ASan+UBSan: no stray byte touched), the shared ones from many threads at once
// (TSan: no data race; each thread stamps its blocks and checks them on free), and bad
// input and corrupted buffers answered with a Status, never a crash.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "check.hpp"
#include "memory/buddy.hpp"
#include "memory/layout.hpp"
#include "memory/ring.hpp"
#include "memory/slab.hpp"
#include "memory/stack.hpp"

using namespace up::memory;

namespace {

constexpr int kThreads = 4;

int st(Status s) { return static_cast<int>(s); }

// Memory the tests format themselves, as JS hands the addon an ArrayBuffer.
struct Buffer {
  explicit Buffer(std::size_t n) : bytes(allocate_aligned(n)), len(n) {}
  OwnedBytes bytes;
  std::size_t len;
};

void test_layout() {
  const Geometry s = slab_geometry(20, 3);
  CHECK_EQ(s.status, Status::ok);
  CHECK_EQ(s.g1, 24u);  // stride rounds up to 8
  CHECK_EQ(s.g3, 2u);
  CHECK_EQ(s.data_offset, 192u);
  CHECK_EQ(s.total_bytes, 192u + 72u);
  CHECK_EQ(slab_geometry(0, 1).status, Status::bad_argument);
  CHECK_EQ(slab_geometry(8, 0).status, Status::bad_argument);
  CHECK_EQ(slab_geometry(8, SlabLayout::kMaxSlots + 1).status, Status::bad_argument);
  CHECK_EQ(slab_geometry(1u << 30, 4).status, Status::bad_argument);  // over 2 GiB
  const Geometry b = buddy_geometry(1024, 64);
  CHECK_EQ(b.status, Status::ok);
  CHECK_EQ(b.g1, 4u);
  CHECK_EQ(b.g2, 16u);
  CHECK_EQ(b.array1, 384u);
  CHECK_EQ(b.array2, 448u);
  CHECK_EQ(b.data_offset, 512u);
  CHECK_EQ(buddy_geometry(1000, 64).status, Status::bad_argument);
  CHECK_EQ(buddy_geometry(1024, 4).status, Status::bad_argument);
  CHECK_EQ(buddy_geometry(1024, 2048).status, Status::bad_argument);
  CHECK_EQ(ring_geometry(12).status, Status::bad_argument);
  CHECK_EQ(stack_geometry(0).status, Status::bad_argument);
  CHECK_EQ(ring_geometry(64).total_bytes, 256u);
}

void test_slab_basic() {
  for (bool shared : {false, true}) {
    auto made = Slab::create(24, 100, shared);
    CHECK(made.has_value());
    Slab& slab = *made;
    std::set<int32_t> live;
    for (int i = 0; i < 100; ++i) {
      const int32_t off = slab.alloc();
      CHECK(off >= static_cast<int32_t>(slab.data_offset()));
      CHECK_EQ((off - slab.data_offset()) % 24, 0u);
      CHECK(live.insert(off).second);
      std::memset(slab.at(off), 0xAB, 24);
    }
    CHECK_EQ(slab.alloc(), -1);
    CHECK_EQ(slab.stats().used, 100u);
    const int32_t first = *live.begin();
    CHECK_EQ(st(slab.free(first + 8)), st(Status::misaligned));
    CHECK_EQ(st(slab.free(0)), st(Status::foreign));
    CHECK_EQ(st(slab.free(-64)), st(Status::foreign));
    CHECK_EQ(st(slab.free(static_cast<int32_t>(slab.total_bytes()))), st(Status::foreign));
    CHECK_EQ(st(slab.free(first)), st(Status::ok));
    CHECK_EQ(st(slab.free(first)), st(Status::double_free));
    CHECK_EQ(slab.stats().used, 99u);
    CHECK_EQ(slab.alloc(), first);  // LIFO reuse
    for (int32_t off : live) CHECK_EQ(st(slab.free(off)), st(Status::ok));
    CHECK_EQ(slab.stats().used, 0u);
    void* p = slab.alloc_ptr();
    CHECK(p != nullptr);
    CHECK_EQ(st(slab.free_ptr(p)), st(Status::ok));
    CHECK_EQ(st(slab.free_ptr(&live)), st(Status::foreign));
  }
}

void test_slab_given_buffer_and_attach() {
  const Geometry g = slab_geometry(64, 10);
  Buffer buf(g.total_bytes);
  CHECK(!Slab::format(buf.bytes.get(), g.total_bytes - 1, 64, 10).has_value());
  auto a = Slab::format(buf.bytes.get(), buf.len, 64, 10);
  CHECK(a.has_value());
  const int32_t off = a->alloc();
  auto b = Slab::attach(buf.bytes.get(), buf.len);
  CHECK(b.has_value());
  CHECK_EQ(b->stats().used, 1u);
  CHECK(b->alloc() != off);
  CHECK_EQ(st(b->free(off)), st(Status::ok));
  CHECK_EQ(st(a->free(off)), st(Status::double_free));
  // Wrong kind, short buffer, bad magic and an inconsistent header are all refused.
  CHECK(!Buddy::attach(buf.bytes.get(), buf.len).has_value());
  CHECK(!Slab::attach(buf.bytes.get(), buf.len - 1).has_value());
  Header h = read_header(buf.bytes.get());
  h.g2 = 11;
  std::memcpy(buf.bytes.get(), &h, sizeof h);
  CHECK(!Slab::attach(buf.bytes.get(), buf.len).has_value());
  h.g2 = 10;
  h.magic = 0;
  std::memcpy(buf.bytes.get(), &h, sizeof h);
  CHECK_EQ(st(validate(buf.bytes.get(), buf.len, Kind::slab)), st(Status::bad_header));
}

void test_slab_corrupt_links() {
  auto slab = Slab::create(8, 4);
  CHECK(slab.has_value());
  // A stray write into the next array is caught, never followed out of bounds.
  reinterpret_cast<int32_t*>(slab->base() + SlabLayout::kNext)[0] = 1000;
  CHECK_EQ(slab->alloc(), st(Status::corrupt));
  auto shared = Slab::create(8, 4, true);
  reinterpret_cast<int32_t*>(shared->base() + SlabLayout::kNext)[0] = -7;
  CHECK_EQ(shared->alloc(), st(Status::corrupt));
}

void test_slab_threads() {
  constexpr uint32_t kSlots = 256;
  auto made = Slab::create(16, kSlots, true);
  CHECK(made.has_value());
  Slab& slab = *made;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&slab, &failures, t] {
      std::mt19937 rng(t);
      std::vector<int32_t> mine;
      for (int round = 0; round < 20000; ++round) {
        if (mine.size() < 40 && (rng() % 3 != 0 || mine.empty())) {
          const int32_t off = slab.alloc();
          if (off < 0) continue;  // full: the others hold the rest
          auto* stamp = reinterpret_cast<uint32_t*>(slab.at(off));
          stamp[0] = static_cast<uint32_t>(t);
          stamp[1] = static_cast<uint32_t>(round);
          mine.push_back(off);
        } else {
          const std::size_t pick = rng() % mine.size();
          const int32_t off = mine[pick];
          mine[pick] = mine.back();
          mine.pop_back();
          if (reinterpret_cast<uint32_t*>(slab.at(off))[0] != static_cast<uint32_t>(t)) ++failures;
          if (slab.free(off) != Status::ok) ++failures;
        }
      }
      for (int32_t off : mine) {
        if (reinterpret_cast<uint32_t*>(slab.at(off))[0] != static_cast<uint32_t>(t)) ++failures;
        if (slab.free(off) != Status::ok) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(failures.load(), 0);
  CHECK_EQ(slab.stats().used, 0u);
  std::set<int32_t> all;
  for (uint32_t i = 0; i < kSlots; ++i) CHECK(all.insert(slab.alloc()).second);
  CHECK_EQ(slab.alloc(), -1);
}

// Live blocks never overlap, are aligned to their size, and stats add up.
void check_buddy(Buddy& buddy, const std::map<int32_t, uint32_t>& live) {
  uint64_t used = 0;
  int64_t end = 0;
  for (const auto& [off, size] : live) {
    CHECK(off >= end);
    CHECK_EQ((off - buddy.data_offset()) % size, 0u);
    CHECK_EQ(buddy.block_size(off), static_cast<int64_t>(size));
    end = off + static_cast<int64_t>(size);
    used += size;
  }
  const BuddyStats s = buddy.stats();
  CHECK_EQ(s.used, used);
  CHECK_EQ(s.free, buddy.bytes() - used);
  CHECK_EQ(s.live_blocks, live.size());
  CHECK(s.largest_free_block <= s.free);
}

void test_buddy_model() {
  auto made = Buddy::create(1 << 14, 16);
  CHECK(made.has_value());
  Buddy& buddy = *made;
  std::map<int32_t, uint32_t> live;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || rng() % 2 == 0) {
      const uint32_t size = 1 + rng() % 2000;
      const int32_t off = buddy.alloc(size);
      if (off == -1) continue;
      CHECK(off > 0);
      const uint32_t block = std::max<uint32_t>(16, std::bit_ceil(size));
      std::memset(buddy.at(off), 0x5A, block);
      live[off] = block;
    } else {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      CHECK_EQ(st(buddy.free(it->first)), st(Status::ok));
      live.erase(it);
    }
    if (step % 97 == 0) check_buddy(buddy, live);
  }
  for (const auto& [off, size] : live) CHECK_EQ(st(buddy.free(off)), st(Status::ok));
  const BuddyStats s = buddy.stats();
  // Everything coalesced back into one block.
  CHECK_EQ(s.used, 0u);
  CHECK_EQ(s.largest_free_block, 1u << 14);
  CHECK(s.fragmentation == 0.0);
}

void test_buddy_split_merge_and_errors() {
  auto made = Buddy::create(1024, 64);
  Buddy& buddy = *made;
  const auto data = static_cast<int32_t>(buddy.data_offset());
  CHECK_EQ(buddy.alloc(0), st(Status::bad_argument));
  CHECK_EQ(buddy.alloc(1025), st(Status::too_big));
  const int32_t a = buddy.alloc(64);  // splits 1024 -> 512 -> 256 -> 128 -> 64
  CHECK_EQ(a, data);
  const int32_t b = buddy.alloc(64);  // its buddy
  CHECK_EQ(b, data + 64);
  const int32_t c = buddy.alloc(200);
  CHECK_EQ(c, data + 256);
  BuddyStats s = buddy.stats();
  CHECK_EQ(s.used, 384u);
  CHECK_EQ(s.largest_free_block, 512u);
  CHECK_EQ(st(buddy.free(a + 1)), st(Status::misaligned));
  CHECK_EQ(st(buddy.free(a + 128)), st(Status::double_free));  // a free 128 block starts there
  CHECK_EQ(st(buddy.free(c + 64)), st(Status::foreign));  // inside c
  CHECK_EQ(st(buddy.free(data + 1024)), st(Status::foreign));
  CHECK_EQ(st(buddy.free(a)), st(Status::ok));
  CHECK_EQ(st(buddy.free(a)), st(Status::double_free));
  s = buddy.stats();
  CHECK(s.fragmentation > 0.0);
  CHECK_EQ(st(buddy.free(b)), st(Status::ok));  // a+b merge into 128, then 256
  CHECK_EQ(buddy.stats().largest_free_block, 512u);
  CHECK_EQ(st(buddy.free(c)), st(Status::ok));
  CHECK_EQ(buddy.stats().largest_free_block, 1024u);
  CHECK_EQ(buddy.alloc(1024), data);
  CHECK_EQ(buddy.alloc(1), -1);
}

void test_buddy_threads() {
  auto made = Buddy::create(1 << 16, 32, true);
  Buddy& buddy = *made;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&buddy, &failures, t] {
      std::mt19937 rng(100 + t);
      std::vector<std::pair<int32_t, uint32_t>> mine;
      for (int round = 0; round < 5000; ++round) {
        if (mine.size() < 20 && (rng() % 3 != 0 || mine.empty())) {
          const uint32_t size = 1 + rng() % 1500;
          const int32_t off = buddy.alloc(size);
          if (off < 0) continue;
          auto* words = reinterpret_cast<uint32_t*>(buddy.at(off));
          for (uint32_t w = 0; w < size / 4; ++w) words[w] = static_cast<uint32_t>(t);
          mine.emplace_back(off, size);
        } else {
          const std::size_t pick = rng() % mine.size();
          const auto [off, size] = mine[pick];
          mine[pick] = mine.back();
          mine.pop_back();
          const auto* words = reinterpret_cast<const uint32_t*>(buddy.at(off));
          for (uint32_t w = 0; w < size / 4; ++w) {
            if (words[w] != static_cast<uint32_t>(t)) {
              ++failures;
              break;
            }
          }
          if (buddy.free(off) != Status::ok) ++failures;
        }
      }
      for (const auto& [off, size] : mine) {
        if (buddy.free(off) != Status::ok) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(failures.load(), 0);
  const BuddyStats s = buddy.stats();
  CHECK_EQ(s.used, 0u);
  CHECK_EQ(s.largest_free_block, 1u << 16);
}

void test_ring() {
  auto made = Ring::create(128);
  Ring& ring = *made;
  const auto data = static_cast<int32_t>(RingLayout::kData);
  CHECK_EQ(ring.alloc(0), st(Status::bad_argument));
  CHECK_EQ(ring.alloc(121), st(Status::too_big));
  CHECK_EQ(ring.release(), -1);
  CHECK_EQ(st(ring.free(data + 8)), st(Status::not_oldest));
  const int32_t a = ring.alloc(20);  // record 32 bytes at 0
  const int32_t b = ring.alloc(40);  // 48 at 32
  const int32_t c = ring.alloc(30);  // 40 at 80 -> head 120
  CHECK_EQ(a, data + 8);
  CHECK_EQ(b, data + 40);
  CHECK_EQ(c, data + 88);
  CHECK_EQ(ring.size_of(b), 40);
  CHECK_EQ(ring.alloc(8), -1);  // 16 needed, 8 left, nothing free at the front
  CHECK_EQ(st(ring.free(b)), st(Status::not_oldest));
  CHECK_EQ(st(ring.free(a)), st(Status::ok));
  CHECK_EQ(ring.size_of(a), st(Status::foreign));
  const int32_t d = ring.alloc(16);  // skip the 8 bytes at the end, wrap to 0
  CHECK_EQ(d, data + 8);
  CHECK_EQ(ring.stats().used, 48u + 40u + 8u + 24u);
  CHECK_EQ(ring.release(), b);
  CHECK_EQ(ring.release(), c);
  CHECK_EQ(ring.oldest(), d);
  CHECK_EQ(ring.release(), d);  // gives back the skipped tail too
  CHECK_EQ(ring.stats().used, 0u);
  CHECK_EQ(ring.alloc(120), data + 8);  // an empty ring restarts at 0
  // A write past the end of a record is detected at release, not followed.
  auto small = Ring::create(64);
  const int32_t x = small->alloc(8);
  std::memset(small->at(x - 8), 0xFF, 4);
  CHECK_EQ(small->release(), st(Status::corrupt));
}

void test_ring_threads() {
  auto made = Ring::create(4096, true);
  Ring& ring = *made;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<uint64_t> produced{0};
  std::atomic<uint64_t> consumed{0};
  // A record is released only once its producer has finished writing it: a release under a
  // producer's memset would let the next alloc's header be overwritten, which release then
  // (rightly) reports as corrupt. ready[offset / 8] is set after the write.
  std::vector<std::atomic<int>> ready(ring_geometry(made->bytes()).total_bytes / 8 + 1);
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        const uint32_t size = 8 + (static_cast<uint32_t>(i * 7 + t) % 100);
        int32_t off;
        while ((off = ring.alloc(size)) == -1) std::this_thread::yield();
        if (off < 0) {
          ++failures;
          return;
        }
        std::memset(ring.at(off), t + 1, size);
        ready[static_cast<std::size_t>(off) / 8].store(1, std::memory_order_release);
        ++produced;
      }
    });
  }
  std::thread consumer([&] {
    while (!done.load() || ring.stats().live > 0) {
      // Only this thread releases, so the oldest record stays the oldest until it does.
      const int32_t off = ring.oldest();
      if (off >= 0 && ready[static_cast<std::size_t>(off) / 8].exchange(0, std::memory_order_acquire) == 1) {
        CHECK_EQ(ring.release(), off);
        ++consumed;
      } else {
        std::this_thread::yield();
      }
    }
  });
  for (auto& p : producers) p.join();
  done = true;
  consumer.join();
  CHECK_EQ(failures.load(), 0);
  CHECK_EQ(produced.load(), 10000u);
  CHECK_EQ(consumed.load(), 10000u);
  CHECK_EQ(ring.stats().used, 0u);
}

void test_stack() {
  for (bool shared : {false, true}) {
    auto made = Stack::create(256, shared);
    Stack& stack = *made;
    const auto data = static_cast<int32_t>(stack.data_offset());
    CHECK_EQ(stack.mark(), data);
    CHECK_EQ(stack.alloc(10), data);
    const int32_t m = stack.mark();
    CHECK_EQ(m, data + 16);
    CHECK_EQ(stack.alloc(100), data + 16);
    CHECK_EQ(stack.alloc(200), -1);
    CHECK_EQ(stack.alloc(257), st(Status::too_big));
    CHECK_EQ(st(stack.reset(m + 4)), st(Status::bad_argument));
    CHECK_EQ(st(stack.reset(m + 1024)), st(Status::bad_argument));
    CHECK_EQ(st(stack.reset(m)), st(Status::ok));
    CHECK_EQ(stack.stats().used, 16u);
    CHECK_EQ(stack.stats().high_water, 120u);
    CHECK_EQ(st(stack.reset(data)), st(Status::ok));
    CHECK_EQ(stack.stats().used, 0u);
  }
}

void test_stack_threads() {
  auto made = Stack::create(1 << 16, true);
  Stack& stack = *made;
  std::vector<std::vector<std::pair<int32_t, uint32_t>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&stack, &got, t] {
      for (uint32_t i = 0;; ++i) {
        const uint32_t size = 8 + 8 * ((i + t) % 4);
        const int32_t off = stack.alloc(size);
        if (off < 0) break;
        std::memset(stack.at(off), t, size);
        got[t].emplace_back(off, size);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::pair<int32_t, uint32_t>> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].first + static_cast<int32_t>(all[i - 1].second) <= all[i].first);
}

void test_generic_format() {
  Buffer buf(4096);
  CHECK_EQ(st(format(buf.bytes.get(), buf.len, Kind::stack, 512, 0, false)), st(Status::ok));
  CHECK_EQ(st(validate(buf.bytes.get(), buf.len, Kind::stack)), st(Status::ok));
  CHECK_EQ(st(validate(buf.bytes.get(), buf.len, Kind::ring)), st(Status::bad_header));
  CHECK_EQ(st(format(buf.bytes.get(), buf.len, Kind::buddy, 8192, 64, false)), st(Status::bad_argument));
  CHECK_EQ(st(validate(buf.bytes.get() + 4, buf.len - 4, Kind::stack)), st(Status::bad_header));
}

// ---- issue 12: shared memory is hostile ----

// Writes pseudo-random words (relaxed atomics: wrong, never torn) over [base, base + len)
// until stop; half small (near valid indices and sizes), half anything.
void scribble(std::byte* base, std::size_t len, uint32_t seed, const std::atomic<bool>& stop) {
  auto* words = reinterpret_cast<uint32_t*>(base);
  const std::size_t n = len / 4;
  Scribbles rng{seed};
  while (!stop.load(std::memory_order_relaxed)) store_word(words + rng.next() % n, rng.word());
}

// A buddy whose free-list links were scribbled: attach still works (the header is fine)
// and every call answers corrupt, never touching memory past the buffer (exact size: ASan
// would see a stray byte).
void test_buddy_scribbled_links() {
  const Geometry g = buddy_geometry(4096, 64);
  Buffer buf(g.total_bytes);
  auto b = Buddy::format(buf.bytes.get(), buf.len, 4096, 64, true);
  CHECK(b.has_value());
  const int32_t a0 = b->alloc(64);
  const int32_t a1 = b->alloc(64);
  CHECK(b->alloc(256) > 0);
  CHECK_EQ(st(b->free(a0)), st(Status::ok));
  for (const int32_t fill : {0x7ffffff0, -100000, 1 << 24}) {
    auto* links = reinterpret_cast<int32_t*>(buf.bytes.get() + g.array1);
    std::fill(links, links + 2 * (g.data_offset - g.array1) / 8, fill);
    auto attached = Buddy::attach(buf.bytes.get(), buf.len);
    CHECK(attached.has_value());
    for (int i = 0; i < 8; ++i) {
      const int32_t r = attached->alloc(64);
      CHECK(r == st(Status::corrupt) || r == -1 || (r >= static_cast<int32_t>(g.data_offset) && r + 64 <= static_cast<int32_t>(g.total_bytes)));
    }
    const Status f = attached->free(a1);
    CHECK(f == Status::corrupt || f == Status::ok || f == Status::double_free || f == Status::foreign);
  }
  // A meta byte claiming an order past maxOrder, or a free head out of range.
  auto* meta = reinterpret_cast<uint8_t*>(buf.bytes.get() + g.array0);
  meta[(a1 - g.data_offset) / 64] = BuddyLayout::kUsed | 40;
  auto attached = Buddy::attach(buf.bytes.get(), buf.len);
  CHECK_EQ(attached->block_size(a1), st(Status::corrupt));
  CHECK_EQ(st(attached->free(a1)), st(Status::corrupt));
  reinterpret_cast<int32_t*>(buf.bytes.get() + BuddyLayout::kFreeHeads)[0] = 1 << 20;
  reinterpret_cast<int32_t*>(buf.bytes.get() + BuddyLayout::kAvail)[0] = -1;
  CHECK_EQ(attached->alloc(1), st(Status::corrupt));
}

// A ring whose head is bytes - 1 used to write its skip record 7 bytes past the end.
void test_ring_bad_head() {
  const Geometry g = ring_geometry(1024);
  Buffer buf(g.total_bytes);
  auto r = Ring::format(buf.bytes.get(), buf.len, 1024, true);
  for (int i = 0; i < 6; ++i) CHECK(r->alloc(100) > 0);
  CHECK(r->release() > 0);
  CHECK(r->release() > 0);
  auto* head = reinterpret_cast<uint32_t*>(buf.bytes.get() + RingLayout::kHead);
  auto* tail = reinterpret_cast<uint32_t*>(buf.bytes.get() + RingLayout::kTail);
  *head = 1024 - 1;
  CHECK_EQ(r->alloc(100), st(Status::corrupt));
  *head = 0xfffffff8u;
  CHECK_EQ(r->alloc(8), st(Status::corrupt));
  *head = 672;
  *tail = 1021;
  CHECK_EQ(r->release(), st(Status::corrupt));
  CHECK_EQ(r->oldest(), st(Status::corrupt));
  CHECK_EQ(st(r->free(g.data_offset + 8)), st(Status::corrupt));
}

// A lock word left held: lock_timeout after the header's bound, corrupt for a value that
// is no lock state; both quickly, and the allocator works again once the word is free.
void test_lock_bounds() {
  const Geometry g = buddy_geometry(4096, 64);
  Buffer buf(g.total_bytes);
  CHECK(Buddy::format(buf.bytes.get(), buf.len, 4096, 64, true).has_value());
  reinterpret_cast<Header*>(buf.bytes.get())->lock_timeout_ms = 20;
  auto b = Buddy::attach(buf.bytes.get(), buf.len);
  auto* lock = reinterpret_cast<int32_t*>(buf.bytes.get() + BuddyLayout::kLock);
  *lock = 1;
  const auto start = std::chrono::steady_clock::now();
  CHECK_EQ(b->alloc(64), st(Status::lock_timeout));
  CHECK_EQ(st(b->free(static_cast<int32_t>(g.data_offset))), st(Status::lock_timeout));
  BuddyStats s{};
  CHECK_EQ(st(b->stats(&s)), st(Status::lock_timeout));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  *lock = 7;
  CHECK_EQ(b->alloc(64), st(Status::corrupt));
  *lock = 0;
  CHECK_EQ(b->alloc(64), static_cast<int32_t>(g.data_offset));

  const Geometry rg = ring_geometry(256);
  Buffer rbuf(rg.total_bytes);
  CHECK(Ring::format(rbuf.bytes.get(), rbuf.len, 256, true).has_value());
  reinterpret_cast<Header*>(rbuf.bytes.get())->lock_timeout_ms = 20;
  auto r = Ring::attach(rbuf.bytes.get(), rbuf.len);
  *reinterpret_cast<int32_t*>(rbuf.bytes.get() + RingLayout::kLock) = 2;
  CHECK_EQ(r->alloc(8), st(Status::lock_timeout));
  CHECK_EQ(r->release(), st(Status::lock_timeout));
  // A header bound past the maximum is clamped, not trusted.
  Header h = read_header(rbuf.bytes.get());
  h.lock_timeout_ms = 0xffffffffu;
  CHECK_EQ(lock_timeout_ms(h), kMaxLockTimeoutMs);
}

// A thread scribbling every byte of a shared allocator (header included) while this one
// calls it the way the binding does (attach per call): every answer is an in-range
// offset or a status, and nothing outside the exact-size buffer is touched.
template <class Run>
void scribbled(std::byte* base, std::size_t len, uint32_t seed, Run run) {
  std::atomic<bool> stop{false};
  std::thread writer([&] { scribble(base, len, seed, stop); });
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(150);
  for (uint32_t i = 0; std::chrono::steady_clock::now() < until; ++i) run(i);
  stop.store(true);
  writer.join();
}

bool in_range(int32_t r, const Geometry& g, uint32_t size) {
  return r == -1 || (r < -1 && r >= st(Status::lock_timeout)) ||
         (r >= static_cast<int32_t>(g.data_offset) && static_cast<uint64_t>(r) + size <= g.total_bytes);
}

void test_scribbled_allocators() {
  {
    const Geometry g = slab_geometry(24, 32);
    Buffer buf(g.total_bytes);
    CHECK(Slab::format(buf.bytes.get(), buf.len, 24, 32, true).has_value());
    std::vector<int32_t> live;
    scribbled(buf.bytes.get(), buf.len, 11, [&](uint32_t i) {
      auto s = Slab::attach(buf.bytes.get(), buf.len);
      if (!s) return;
      const int32_t r = s->alloc();
      CHECK(in_range(r, g, 24));
      if (r >= 0) live.push_back(r);
      if (!live.empty() && i % 2 == 0) {
        (void)s->free(live.back());
        live.pop_back();
      }
    });
  }
  {
    const Geometry g = buddy_geometry(4096, 32);
    Buffer buf(g.total_bytes);
    CHECK(Buddy::format(buf.bytes.get(), buf.len, 4096, 32, true).has_value());
    reinterpret_cast<Header*>(buf.bytes.get())->lock_timeout_ms = 1;
    std::vector<int32_t> live;
    scribbled(buf.bytes.get(), buf.len, 22, [&](uint32_t i) {
      auto b = Buddy::attach(buf.bytes.get(), buf.len);
      if (!b) return;
      const uint32_t size = 1 + i % 200;
      const int32_t r = b->alloc(size);
      CHECK(in_range(r, g, size));
      if (r >= 0) live.push_back(r);
      if (!live.empty() && i % 2 == 0) {
        (void)b->free(live.back());
        (void)b->block_size(live.back());
        live.pop_back();
      }
      BuddyStats s{};
      if (b->stats(&s) == Status::ok) CHECK(s.used <= s.bytes && s.largest_free_block <= s.bytes);
    });
  }
  {
    const Geometry g = ring_geometry(2048);
    Buffer buf(g.total_bytes);
    CHECK(Ring::format(buf.bytes.get(), buf.len, 2048, true).has_value());
    reinterpret_cast<Header*>(buf.bytes.get())->lock_timeout_ms = 1;
    scribbled(buf.bytes.get(), buf.len, 33, [&](uint32_t i) {
      auto r = Ring::attach(buf.bytes.get(), buf.len);
      if (!r) return;
      const uint32_t size = 1 + i % 100;
      const int32_t a = r->alloc(size);
      CHECK(in_range(a, g, size));
      if (i % 3 == 0) CHECK(in_range(r->release(), g, 0));
      if (a >= 0) (void)r->size_of(a);
    });
  }
  {
    const Geometry g = stack_geometry(2048);
    Buffer buf(g.total_bytes);
    CHECK(Stack::format(buf.bytes.get(), buf.len, 2048, true).has_value());
    scribbled(buf.bytes.get(), buf.len, 44, [&](uint32_t i) {
      auto s = Stack::attach(buf.bytes.get(), buf.len);
      if (!s) return;
      const uint32_t size = 1 + i % 64;
      CHECK(in_range(s->alloc(size), g, size));
      const int32_t m = s->mark();
      CHECK(in_range(m, g, 0) || m == static_cast<int32_t>(g.total_bytes));
      if (i % 8 == 0) (void)s->reset(static_cast<int32_t>(g.data_offset));
      const StackStats ss = s->stats();
      CHECK(ss.used <= ss.bytes && ss.high_water <= ss.bytes);
    });
  }
}

}  // namespace

int main() {
  test_layout();
  test_slab_basic();
  test_slab_given_buffer_and_attach();
  test_slab_corrupt_links();
  test_slab_threads();
  test_buddy_model();
  test_buddy_split_merge_and_errors();
  test_buddy_threads();
  test_ring();
  test_ring_threads();
  test_stack();
  test_stack_threads();
  test_generic_format();
  test_buddy_scribbled_links();
  test_ring_bad_head();
  test_lock_bounds();
  test_scribbled_allocators();
  std::puts("memory_test: 17 groups passed (4 on scribbled or held shared memory)");
  return 0;
}
