// cpp/queue under sanitizers: the layout, single-thread semantics and bad input
// (ASan/UBSan), index wrap-around, and millions of messages across threads with a
// sequence and a checksum per producer (TSan).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "check.hpp"
#include "queue/layout.hpp"
#include "queue/mpmc_queue.hpp"
#include "queue/replay.hpp"
#include "queue/spsc_queue.hpp"

using namespace up::queue;

namespace {

// A queue buffer as a SharedArrayBuffer would give it: zeroed and well aligned.
struct Buffer {
  explicit Buffer(uint32_t kind, uint32_t capacity, uint32_t slot_bytes)
      : size(total_bytes_for(capacity, slot_bytes)), bytes(new (std::align_val_t{kLineBytes}) uint8_t[size]()) {
    CHECK_EQ(init_queue(bytes.get(), size, kind, capacity, slot_bytes), 0);
  }
  struct Free {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{kLineBytes}); }
  };
  std::size_t size;
  std::unique_ptr<uint8_t[], Free> bytes;
  QueueHeader* header() const { return reinterpret_cast<QueueHeader*>(bytes.get()); }
};

// Message from producer p with sequence s: [p:u32][s:u32][check:u32][filler...].
uint32_t mix(uint32_t p, uint32_t s) {
  uint32_t x = p * 0x9e3779b9u ^ (s + 0x7f4a7c15u);
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  return x;
}

uint32_t encode(uint8_t* out, uint32_t p, uint32_t s) {
  const uint32_t check = mix(p, s);
  std::memcpy(out, &p, 4);
  std::memcpy(out + 4, &s, 4);
  std::memcpy(out + 8, &check, 4);
  const uint32_t filler = s % 5;
  for (uint32_t i = 0; i < filler; ++i) out[12 + i] = static_cast<uint8_t>(check >> (i * 8));
  return 12 + filler;
}

struct Decoded {
  uint32_t producer, seq;
  bool ok;
};

Decoded decode(const uint8_t* in, int32_t len) {
  Decoded d{0, 0, false};
  if (len < 12) return d;
  uint32_t check;
  std::memcpy(&d.producer, in, 4);
  std::memcpy(&d.seq, in + 4, 4);
  std::memcpy(&check, in + 8, 4);
  d.ok = check == mix(d.producer, d.seq) && static_cast<uint32_t>(len) == 12 + d.seq % 5;
  for (int32_t i = 12; d.ok && i < len; ++i) d.ok = in[i] == static_cast<uint8_t>(check >> ((i - 12) * 8));
  return d;
}

void test_layout() {
  CHECK_EQ(slot_stride_for(1), 16u);
  CHECK_EQ(slot_stride_for(64), 72u);
  CHECK_EQ(total_bytes_for(2, 8), 1024u);
  Buffer b(kKindSpsc, 16, 64);
  Geometry g;
  CHECK_EQ(g.read(b.bytes.get(), b.size, kKindSpsc), 0);
  CHECK_EQ(g.capacity, 16u);
  CHECK_EQ(g.mask, 15u);
  CHECK_EQ(g.slot_stride, 72u);
  CHECK_EQ(g.read(b.bytes.get(), b.size, kKindMpmc), kBadQueue);
  CHECK_EQ(g.read(b.bytes.get(), b.size - 1, kKindSpsc), kBadQueue);
  CHECK_EQ(g.read(b.bytes.get(), 100, kKindSpsc), kBadQueue);
  CHECK_EQ(g.read(nullptr, b.size, kKindSpsc), kBadQueue);
  CHECK_EQ(g.read(b.bytes.get() + 4, b.size - 4, 0), kBadQueue);
  auto* h = b.header();
  h->magic ^= 1;
  CHECK_EQ(g.read(b.bytes.get(), b.size, 0), kBadQueue);
  h->magic ^= 1;
  h->capacity = 12;
  CHECK_EQ(g.read(b.bytes.get(), b.size, 0), kBadQueue);
  h->capacity = 1u << 30;  // a header claiming more than the buffer holds
  CHECK_EQ(g.read(b.bytes.get(), b.size, 0), kBadQueue);
  h->capacity = 16;
  h->slot_stride = 64;
  CHECK_EQ(g.read(b.bytes.get(), b.size, 0), kBadQueue);
  h->slot_stride = 72;
  h->version = 2;
  CHECK_EQ(g.read(b.bytes.get(), b.size, 0), kBadQueue);
  h->version = kVersion;
  CHECK_EQ(g.read(b.bytes.get(), b.size, 0), 0);
  std::vector<uint8_t> small(512);
  CHECK_EQ(init_queue(small.data(), small.size(), kKindSpsc, 16, 64), kBadQueue);
  CHECK_EQ(init_queue(b.bytes.get(), b.size, kKindSpsc, 12, 64), kBadQueue);
  CHECK_EQ(init_queue(b.bytes.get(), b.size, 3, 16, 64), kBadQueue);
  CHECK_EQ(init_queue(b.bytes.get(), b.size, kKindSpsc, 16, 0), kBadQueue);
}

template <class Queue>
void test_single_thread(uint32_t kind) {
  Buffer b(kind, 4, 16);
  Queue q;
  CHECK_EQ(q.attach(b.bytes.get(), b.size), 0);
  uint8_t msg[17] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
  uint8_t out[16];
  CHECK_EQ(q.try_pop(out, sizeof out), kEmpty);
  CHECK_EQ(q.try_pop(out, 15), kOutTooSmall);
  CHECK_EQ(q.try_push(msg, 17), kTooBig);
  CHECK_EQ(q.size(), 0u);
  for (uint32_t i = 0; i < 4; ++i) CHECK_EQ(q.try_push(msg + i, 3), kPushed);
  CHECK_EQ(q.try_push(msg, 1), kFull);
  CHECK_EQ(q.size(), 4u);
  CHECK_EQ(q.try_pop(out, sizeof out), 3);
  CHECK_EQ(out[0], 1);
  CHECK_EQ(q.try_push(msg, 0), kPushed);  // an empty message is a message
  for (uint32_t i = 1; i < 4; ++i) {
    CHECK_EQ(q.try_pop(out, sizeof out), 3);
    CHECK_EQ(out[0], i + 1);
  }
  CHECK_EQ(q.try_pop(out, sizeof out), 0);
  CHECK_EQ(q.try_pop(out, sizeof out), kEmpty);

  // Batches: a bad length refuses the whole batch; a batch larger than the room pushes a prefix.
  const uint32_t bad[] = {3, 17};
  CHECK_EQ(q.push_batch(msg, sizeof msg, bad, 2), kBadBatch);
  const uint32_t overrun[] = {10, 10};
  CHECK_EQ(q.push_batch(msg, sizeof msg, overrun, 2), kBadBatch);
  CHECK_EQ(q.size(), 0u);
  const uint32_t lengths[] = {1, 2, 3, 4, 5, 2};
  CHECK_EQ(q.push_batch(msg, sizeof msg, lengths, 6), 4);
  uint8_t packed[40];
  uint32_t got[8] = {};
  CHECK_EQ(q.pop_batch(packed, 15, got, 8), kOutTooSmall);
  // Pops while 16 bytes (slot_bytes) of out are left: 20, 19, 17 left, then 14 stops it.
  CHECK_EQ(q.pop_batch(packed, 20, got, 8), 3);
  CHECK_EQ(got[0], 1u);
  CHECK_EQ(got[2], 3u);
  CHECK_EQ(packed[0], 1);  // [1] [2 3] [4 5 6], back to back
  CHECK_EQ(packed[1], 2);
  CHECK_EQ(packed[3], 4);
  CHECK_EQ(packed[5], 6);
  CHECK_EQ(q.pop_batch(packed, sizeof packed, got, 1), 1);  // max
  CHECK_EQ(got[0], 4u);
  CHECK_EQ(packed[0], 7);
  CHECK_EQ(packed[3], 10);
  CHECK_EQ(q.pop_batch(packed, sizeof packed, got, 8), 0);

  // Sleepers: the push that finds the asleep flag set clears it, bumps not_empty_seq and
  // says so; the next push has nobody left to wake.
  auto* h = b.header();
  h->consumers_asleep = 1;
  CHECK_EQ(q.try_push(msg, 2), kPushed | kWakeBit);
  CHECK_EQ(h->not_empty_seq, 1);
  CHECK_EQ(h->consumers_asleep, 0);
  CHECK_EQ(q.try_push(msg, 2), kPushed);
  CHECK_EQ(h->not_empty_seq, 1);
  h->producers_asleep = 1;
  CHECK_EQ(q.try_pop(out, sizeof out), 2 | kWakeBit);
  CHECK_EQ(h->not_full_seq, 1);
  CHECK_EQ(h->producers_asleep, 0);
  CHECK_EQ(q.try_pop(out, sizeof out), 2);

  // A slot whose length was scribbled on is refused, never copied past out. SPSC leaves
  // it in place; MPMC has claimed it by then and hands the slot back empty.
  CHECK_EQ(q.try_push(msg, 2), kPushed);
  const uint32_t head = h->head;
  auto* len_field = reinterpret_cast<uint32_t*>(b.bytes.get() + kDataOffset + (head & 3) * slot_stride_for(16) + 4);
  *len_field = 1000;
  CHECK_EQ(q.try_pop(out, sizeof out), kCorrupt);
  *len_field = 2;
  if (kind == kKindMpmc) CHECK_EQ(q.try_push(msg, 2), kPushed);

  // close: pushes fail, what is left drains.
  q.close();
  CHECK(q.closed());
  CHECK_EQ(q.try_push(msg, 1), kClosed);
  CHECK_EQ(q.push_batch(msg, sizeof msg, lengths, 1), kClosed);
  CHECK_EQ(q.try_pop(out, sizeof out), 2);
  CHECK_EQ(q.try_pop(out, sizeof out), kEmpty);
}

// Free-running u32 indices crossing 2^32 keep their meaning.
template <class Queue>
void test_wraparound(uint32_t kind) {
  Buffer b(kind, 8, 8);
  auto* h = b.header();
  const uint32_t start = 0xFFFFFFF0u;
  h->head = h->tail = h->head_cache = h->tail_cache = start;
  if (kind == kKindMpmc) {
    for (uint32_t i = 0; i < 8; ++i) {
      const uint32_t pos = start + ((i - start) & 7u);  // the position that maps to slot i
      *reinterpret_cast<uint32_t*>(b.bytes.get() + kDataOffset + i * slot_stride_for(8)) = pos;
    }
  }
  Queue q;
  CHECK_EQ(q.attach(b.bytes.get(), b.size), 0);
  uint8_t out[8];
  uint32_t next_push = 0, next_pop = 0;
  for (int round = 0; round < 100; ++round) {
    for (int k = 0; k < 5; ++k, ++next_push) CHECK_EQ(q.try_push(reinterpret_cast<uint8_t*>(&next_push), 4), kPushed);
    CHECK_EQ(q.size(), 5u);
    for (int k = 0; k < 5; ++k, ++next_pop) {
      CHECK_EQ(q.try_pop(out, sizeof out), 4);
      uint32_t v;
      std::memcpy(&v, out, 4);
      CHECK_EQ(v, next_pop);
    }
  }
  CHECK(h->tail < start);  // it did wrap
}

// P producers and C consumers, N messages each producer; every message checked, none
// lost or repeated, each producer's order kept as each consumer sees it.
template <class Queue>
void run_threads(uint32_t kind, uint32_t capacity, int producers, int consumers, uint32_t per_producer, bool batches) {
  Buffer b(kind, capacity, 32);
  std::atomic<int> producers_left{producers};
  std::vector<std::vector<uint8_t>> seen(static_cast<std::size_t>(producers), std::vector<uint8_t>(per_producer, 0));
  std::vector<std::thread> threads;
  std::atomic<uint64_t> bad{0};
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      Queue q;
      CHECK_EQ(q.attach(b.bytes.get(), b.size), 0);
      uint8_t msg[32 * 16];
      uint32_t lengths[16];
      Backoff backoff;
      for (uint32_t s = 0; s < per_producer;) {
        if (batches) {
          const uint32_t n = std::min<uint32_t>(16, per_producer - s);
          std::size_t off = 0;
          for (uint32_t k = 0; k < n; ++k) {
            lengths[k] = encode(msg + off, static_cast<uint32_t>(p), s + k);
            off += lengths[k];
          }
          const int32_t r = q.push_batch(msg, off, lengths, n);
          CHECK(r >= 0);
          const uint32_t pushed = static_cast<uint32_t>(r & ~kWakeBit);
          if (pushed == 0) {
            backoff.pause();
          } else {
            backoff.reset();
          }
          s += pushed;
        } else {
          const uint32_t len = encode(msg, static_cast<uint32_t>(p), s);
          const int32_t r = q.try_push(msg, len);
          CHECK(r == kFull || (r & ~kWakeBit) == kPushed);
          if (r == kFull) {
            backoff.pause();
          } else {
            backoff.reset();
            ++s;
          }
        }
      }
      if (producers_left.fetch_sub(1) == 1) q.close();
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&] {
      Queue q;
      CHECK_EQ(q.attach(b.bytes.get(), b.size), 0);
      std::vector<int64_t> last(static_cast<std::size_t>(producers), -1);
      uint8_t out[32 * 16];
      uint32_t lengths[16];
      Backoff backoff;
      auto take = [&](const uint8_t* m, int32_t len) {
        const Decoded d = decode(m, len);
        if (!d.ok || d.producer >= static_cast<uint32_t>(producers) || d.seq >= per_producer ||
            static_cast<int64_t>(d.seq) <= last[d.producer]) {
          bad.fetch_add(1);
          return;
        }
        last[d.producer] = d.seq;
        seen[d.producer][d.seq] += 1;  // one consumer per message: no race unless duplicated
      };
      for (;;) {
        const bool closed = q.closed();
        int32_t got;
        if (batches) {
          got = q.pop_batch(out, sizeof out, lengths, 16);
          CHECK(got >= 0);
          got &= ~kWakeBit;
          std::size_t off = 0;
          for (int32_t k = 0; k < got; ++k) {
            take(out + off, static_cast<int32_t>(lengths[k]));
            off += lengths[k];
          }
        } else {
          const int32_t r = q.try_pop(out, sizeof out);
          CHECK(r >= kEmpty);
          got = r == kEmpty ? 0 : 1;
          if (got != 0) take(out, r & ~kWakeBit);
        }
        if (got != 0) {
          backoff.reset();
        } else if (closed) {
          break;
        } else {
          backoff.pause();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_EQ(bad.load(), 0u);
  for (const auto& per : seen) {
    for (uint8_t n : per) CHECK_EQ(n, 1);
  }
  Queue q;
  CHECK_EQ(q.attach(b.bytes.get(), b.size), 0);
  CHECK_EQ(q.size(), 0u);
}

// The sleep protocol of lib/queue (read seq, raise the asleep flag, try once more, wait on
// seq; the side that finds the flag clears it, bumps seq and wakes everyone), with real
// futex sleeps through std::atomic_ref::wait on a small queue so both sides sleep often.
// A lost wake-up shows up as a hang, which the watchdog turns into a failure.
template <class Queue>
void run_sleepers(uint32_t kind, uint32_t capacity, int producers, int consumers, uint32_t per_producer) {
  Buffer b(kind, capacity, 32);
  QueueHeader* h = b.header();
  auto not_empty = std::atomic_ref<int32_t>(h->not_empty_seq);
  auto not_full = std::atomic_ref<int32_t>(h->not_full_seq);
  std::atomic<uint64_t> progress{0};
  std::atomic<bool> finished{false};
  std::atomic<int> producers_left{producers};
  std::atomic<uint64_t> bad{0};
  std::atomic<uint64_t> sleeps{0};
  std::vector<std::vector<uint8_t>> seen(static_cast<std::size_t>(producers), std::vector<uint8_t>(per_producer, 0));
  std::thread watchdog([&] {
    uint64_t last = ~uint64_t{0};
    int still = 0;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const uint64_t now = progress.load();
      if (now != last) {
        last = now;
        still = 0;
      } else if (++still > 100) {
        std::fprintf(stderr, "run_sleepers: no progress for 10 s at %llu messages: a lost wake-up\n",
                     static_cast<unsigned long long>(now));
        std::abort();
      }
    }
  });
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      Queue q;
      CHECK_EQ(q.attach(b.bytes.get(), b.size), 0);
      uint8_t msg[32];
      for (uint32_t s = 0; s < per_producer; ++s) {
        const uint32_t len = encode(msg, static_cast<uint32_t>(p), s);
        for (;;) {
          int32_t r = q.try_push(msg, len);
          if (r == kFull) {
            const int32_t seq = not_full.load();
            std::atomic_ref<int32_t>(h->producers_asleep).store(1);
            r = q.try_push(msg, len);
            if (r == kFull) {
              sleeps.fetch_add(1, std::memory_order_relaxed);
              not_full.wait(seq);
              continue;
            }
          }
          CHECK((r & ~kWakeBit) == kPushed);
          if ((r & kWakeBit) != 0) not_empty.notify_all();
          break;
        }
      }
      if (producers_left.fetch_sub(1) == 1) {
        q.close();
        not_empty.notify_all();
        not_full.notify_all();
      }
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&] {
      Queue q;
      CHECK_EQ(q.attach(b.bytes.get(), b.size), 0);
      std::vector<int64_t> last(static_cast<std::size_t>(producers), -1);
      uint8_t out[32];
      for (;;) {
        const bool closed = q.closed();
        int32_t r = q.try_pop(out, sizeof out);
        if (r == kEmpty) {
          if (closed) break;
          const int32_t seq = not_empty.load();
          std::atomic_ref<int32_t>(h->consumers_asleep).store(1);
          r = q.try_pop(out, sizeof out);
          if (r == kEmpty) {
            if (!q.closed()) {
              sleeps.fetch_add(1, std::memory_order_relaxed);
              not_empty.wait(seq);
            }
            continue;
          }
        }
        CHECK(r >= 0);
        if ((r & kWakeBit) != 0) not_full.notify_all();
        const Decoded d = decode(out, r & ~kWakeBit);
        if (!d.ok || d.producer >= static_cast<uint32_t>(producers) || d.seq >= per_producer ||
            static_cast<int64_t>(d.seq) <= last[d.producer]) {
          bad.fetch_add(1);
          continue;
        }
        last[d.producer] = d.seq;
        seen[d.producer][d.seq] += 1;
        progress.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  finished.store(true);
  watchdog.join();
  CHECK_EQ(bad.load(), 0u);
  for (const auto& per : seen) {
    for (uint8_t n : per) CHECK_EQ(n, 1);
  }
  CHECK(sleeps.load() > 0);  // the protocol was exercised, not just the spin
}

void test_replay(uint32_t kind) {
  constexpr uint32_t kFrames = 200000;
  std::vector<uint8_t> data(kFrames * 17);
  std::vector<uint32_t> lengths(kFrames);
  std::size_t off = 0;
  for (uint32_t s = 0; s < kFrames; ++s) {
    lengths[s] = encode(data.data() + off, 0, s);
    off += lengths[s];
  }
  Buffer b(kind, 1024, 32);
  std::atomic<uint32_t> wakes{0};
  std::atomic<bool> stop{false};
  ReplayOptions options;
  options.stop = &stop;
  options.wake = [](void* ctx) { static_cast<std::atomic<uint32_t>*>(ctx)->fetch_add(1); };
  options.context = &wakes;
  ReplayFrames frames{data.data(), off, lengths.data(), kFrames};
  CHECK_EQ(check_replay(b.bytes.get(), b.size, frames), 0);
  ReplayResult result;
  std::thread producer([&] { result = replay_frames(b.bytes.get(), b.size, frames, options); });
  SpscQueue spsc;
  MpmcQueue mpmc;
  const bool is_spsc = kind == kKindSpsc;
  CHECK_EQ(is_spsc ? spsc.attach(b.bytes.get(), b.size) : mpmc.attach(b.bytes.get(), b.size), 0);
  uint8_t out[32];
  Backoff backoff;
  for (uint32_t s = 0; s < kFrames;) {
    const int32_t r = is_spsc ? spsc.try_pop(out, sizeof out) : mpmc.try_pop(out, sizeof out);
    if (r == kEmpty) {
      backoff.pause();
      continue;
    }
    backoff.reset();
    const Decoded d = decode(out, r & ~kWakeBit);
    CHECK(d.ok);
    CHECK_EQ(d.seq, s);
    ++s;
  }
  producer.join();
  CHECK_EQ(result.status, 0);
  CHECK_EQ(result.pushed, kFrames);
  CHECK_EQ(b.header()->native_producers, 0);
  CHECK_EQ(wakes.load(), 0u);  // nobody slept, so nobody was woken

  // A closed queue stops the replayer cleanly, part way.
  Buffer c(kind, 64, 32);
  std::thread closer([&] {
    QueueBase q;
    CHECK_EQ(q.attach(c.bytes.get(), c.size, 0), 0);
    while (q.size() < 64) std::this_thread::yield();
    q.close();
  });
  const ReplayResult closed = replay_frames(c.bytes.get(), c.size, frames, options);
  closer.join();
  CHECK_EQ(closed.status, kClosed);
  CHECK_EQ(closed.pushed, 64u);

  // The stop flag ends a replay stuck on a full queue; consumers asleep get wake calls.
  Buffer d(kind, 8, 32);
  d.header()->consumers_asleep = 1;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop.store(true);
  });
  const ReplayResult stopped = replay_frames(d.bytes.get(), d.size, frames, options);
  stopper.join();
  CHECK_EQ(stopped.status, kStopped);
  CHECK_EQ(stopped.pushed, 8u);
  CHECK(wakes.load() >= 1u);

  // Refused up front: a frame longer than a slot, lengths past the data, not a queue.
  const uint32_t too_long[] = {33};
  CHECK_EQ(check_replay(b.bytes.get(), b.size, ReplayFrames{data.data(), off, too_long, 1}), kBadBatch);
  const uint32_t past_end[] = {20};
  CHECK_EQ(check_replay(b.bytes.get(), b.size, ReplayFrames{data.data(), 10, past_end, 1}), kBadBatch);
  CHECK_EQ(replay_frames(data.data(), off, frames, options).status, kBadQueue);

  // Paced: 200 frames at 20k/s take about 10 ms; only the order is checked here.
  Buffer e(kind, 256, 32);
  ReplayOptions paced;
  paced.rate_per_sec = 20000;
  const ReplayResult r = replay_frames(e.bytes.get(), e.size, ReplayFrames{data.data(), off, lengths.data(), 200}, paced);
  CHECK_EQ(r.status, 0);
  CHECK_EQ(r.pushed, 200u);
}

// ---- issue 12: shared memory is hostile ----

// Writes pseudo-random words (relaxed atomics) into the queue's header and the seq and
// length words of its slots (not the payloads, which the queue copies plainly) until stop.
void scribble_queue(Buffer& buf, uint32_t capacity, uint32_t stride, uint32_t seed, const std::atomic<bool>& stop) {
  auto* words = reinterpret_cast<uint32_t*>(buf.bytes.get());
  Scribbles rng{seed};
  while (!stop.load(std::memory_order_relaxed)) {
    const uint32_t value = rng.word();
    const uint32_t pick = rng.next();
    const std::size_t word = (pick & 1) != 0
                                 ? (pick >> 1) % (kDataOffset / 4)
                                 : (kDataOffset + std::size_t{(pick >> 1) % capacity} * stride) / 4 + ((pick >> 8) & 1);
    std::atomic_ref<uint32_t>(words[word]).store(value, std::memory_order_relaxed);
  }
}

bool allowed(int32_t r, uint32_t slot_bytes) {
  const int32_t v = r >= kWakeBit ? r - kWakeBit : r;
  return (v >= 0 && static_cast<uint32_t>(v) <= std::max(slot_bytes, 16u)) || v == kEmpty || v == kClosed ||
         v == kBadQueue || v == kCorrupt || v == kBadBatch || v == kOutTooSmall;
}

// A thread scribbling the header, indices and slot words while this one pushes and pops
// (attaching per call, as the bindings do): every answer is a count, a length at most
// slot_bytes, or a status, and nothing past the exact-size buffer is touched (ASan).
template <class Queue>
void test_scribbled(uint32_t kind) {
  constexpr uint32_t kCap = 16, kSlot = 24;
  Buffer buf(kind, kCap, kSlot);
  std::atomic<bool> stop{false};
  std::thread writer([&] { scribble_queue(buf, kCap, slot_stride_for(kSlot), kind * 97, stop); });
  uint8_t msg[kSlot] = {1, 2, 3};
  uint8_t data[4 * kSlot] = {};
  const uint32_t lengths[4] = {kSlot, 1, 0, kSlot};
  std::vector<uint8_t> out(16 * kSlot);
  uint32_t out_lengths[16];
  uint64_t corrupt = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(150);
  while (std::chrono::steady_clock::now() < until) {
    Queue q;
    if (q.attach(buf.bytes.get(), buf.size) != 0) {
      ++corrupt;
      continue;
    }
    CHECK(allowed(q.try_push(msg, kSlot), kSlot));
    const int32_t popped = q.try_pop(out.data(), kSlot);
    CHECK(allowed(popped, kSlot));
    CHECK(allowed(q.push_batch(data, sizeof data, lengths, 4), kSlot));
    const int32_t n = q.pop_batch(out.data(), out.size(), out_lengths, 16);
    CHECK(allowed(n, kSlot));
    for (int32_t k = 0; k < (n >= kWakeBit ? n - kWakeBit : n); ++k) CHECK(out_lengths[k] <= kSlot);
    corrupt += popped == kCorrupt || n == kCorrupt;
  }
  stop.store(true);
  writer.join();
  CHECK(corrupt > 0);
}

// lengths[] in shared memory rewritten by another thread while push_batch copies: each
// length is read once and checked, so nothing longer than a slot is ever copied.
template <class Queue>
void test_batch_lengths_rewritten(uint32_t kind) {
  constexpr uint32_t kCap = 16, kSlot = 64;
  Buffer buf(kind, kCap, kSlot);
  std::vector<uint32_t> lengths(8, 8);
  std::vector<uint8_t> data(8 * kSlot, 7);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    uint32_t x = 12345;
    while (!stop.load(std::memory_order_relaxed)) {
      x = x * 1103515245u + 12345u;
      std::atomic_ref<uint32_t>(lengths[x % 8]).store((x & 0x100) != 0 ? (1u << 30) : (x >> 26), std::memory_order_relaxed);
    }
  });
  std::vector<uint8_t> out(kCap * kSlot);
  uint32_t out_lengths[kCap];
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(150);
  while (std::chrono::steady_clock::now() < until) {
    Queue q;
    CHECK_EQ(q.attach(buf.bytes.get(), buf.size), 0);
    const int32_t r = q.push_batch(data.data(), data.size(), lengths.data(), 8);
    CHECK(r == kBadBatch || (r & ~kWakeBit) <= 8);
    const int32_t n = q.pop_batch(out.data(), out.size(), out_lengths, kCap) & ~kWakeBit;
    for (int32_t k = 0; k < n; ++k) CHECK(out_lengths[k] <= kSlot);
  }
  stop.store(true);
  writer.join();
}

// A paced replay at 1e-6 frames per second: the first frame goes at once, the next is
// due in 11.6 days; close() ends the wait within a slice (kReplaySliceMs).
void test_replay_paced_close(uint32_t kind) {
  Buffer buf(kind, 8, 8);
  const uint8_t data[12] = {};
  const uint32_t lengths[3] = {4, 4, 4};
  ReplayFrames frames{data, sizeof data, lengths, 3};
  ReplayOptions options;
  options.rate_per_sec = 1e-6;
  ReplayResult result;
  std::thread t([&] { result = replay_frames(buf.bytes.get(), buf.size, frames, options); });
  QueueBase q;
  CHECK_EQ(q.attach(buf.bytes.get(), buf.size, 0), 0);
  for (int i = 0; i < 10000 && q.size() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK_EQ(q.size(), 1u);
  const auto closed_at = std::chrono::steady_clock::now();
  q.close();
  t.join();
  CHECK(std::chrono::steady_clock::now() - closed_at < std::chrono::seconds(2));
  CHECK_EQ(result.status, kClosed);
  CHECK_EQ(result.pushed, 1u);
}

}  // namespace

int main() {
  test_layout();
  test_single_thread<SpscQueue>(kKindSpsc);
  test_single_thread<MpmcQueue>(kKindMpmc);
  test_wraparound<SpscQueue>(kKindSpsc);
  test_wraparound<MpmcQueue>(kKindMpmc);
  run_threads<SpscQueue>(kKindSpsc, 1024, 1, 1, 2000000, false);
  run_threads<SpscQueue>(kKindSpsc, 256, 1, 1, 2000000, true);
  run_threads<MpmcQueue>(kKindMpmc, 1024, 2, 2, 500000, false);
  run_threads<MpmcQueue>(kKindMpmc, 256, 3, 3, 400000, true);
  run_sleepers<SpscQueue>(kKindSpsc, 16, 1, 1, 500000);
  run_sleepers<MpmcQueue>(kKindMpmc, 16, 2, 2, 250000);
  test_replay(kKindSpsc);
  test_replay(kKindMpmc);
  test_scribbled<SpscQueue>(kKindSpsc);
  test_scribbled<MpmcQueue>(kKindMpmc);
  test_batch_lengths_rewritten<SpscQueue>(kKindSpsc);
  test_batch_lengths_rewritten<MpmcQueue>(kKindMpmc);
  test_replay_paced_close(kKindSpsc);
  test_replay_paced_close(kKindMpmc);
  std::puts("queue_test: 19 groups passed (6 on hostile shared memory), 8.6M messages across threads (1M with futex sleeps)");
  return 0;
}
