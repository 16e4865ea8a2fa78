// The L2 cache's operations in C++ on the bytes of layout.hpp: the twin of lib/cache/l2.ts.
// Readers are lock-free (per-entry seqlock, bounded retries); writers serialise on the
// header's write lock, and inside it make an entry's seq odd while they rewrite it. Every
// shared word is accessed through std::atomic_ref, so the seqlock is race-free in the C++
// memory model and ThreadSanitizer sees every access. No standalone fences (TSan does not
// model them): the writer makes seq odd with an acquire RMW (later stores stay after it) and
// publishes with a release store; the reader's loads are acquire loads (later loads, the
// second seq load among them, stay after them; on x86 they are plain moves).
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

#include "layout.hpp"

namespace up::cache {

// What get reports besides the value bytes.
struct EntryMeta {
  double expires_at = 0;
  double stale_until = 0;
  double version = 0;
  uint32_t flags = 0;
  bool expired = false;  // the key was there but past stale_until
};

// A writer that sees no write complete for this long while it waits returns kBusy (a thread may have died holding the lock).
inline constexpr auto kLockTimeout = std::chrono::milliseconds(1000);

class SharedCache {
 public:
  // 0, or kBadCache when base does not hold a consistent cache of at most `bytes`.
  int32_t attach(uint8_t* base, std::size_t bytes) noexcept {
    base_ = base;
    return g_.read(base, bytes);
  }

  // Value length (>= 0) with its bytes in out and meta filled, or kMiss / kOutTooSmall / kBadArgument.
  int32_t get(const uint8_t* key, uint32_t n, double now, uint8_t* out, std::size_t out_len, EntryMeta* meta) noexcept {
    if (n == 0 || n > kMaxKeyBytes) return kBadArgument;
    meta->expired = false;
    const uint32_t h = fnv1a(key, n);
    const uint32_t mask = g_.index_capacity - 1;
    uint32_t b = h & mask;
    for (uint32_t probes = 0; probes < g_.index_capacity; ++probes, b = (b + 1) & mask) {
      const uint32_t ref = load(bucket(b) + 1, std::memory_order_acquire);
      if (ref == 0) return kMiss;
      if (load(bucket(b), std::memory_order_acquire) != h || ref > g_.max_entries) continue;
      const int32_t r = read_entry(ref - 1, h, key, n, now, out, out_len, meta);
      if (r != kNotThisKey) return r;
    }
    return kMiss;
  }

  // 0 stored, 1 stored after evicting, or kTooBig / kBusy / kBadCache / kBadArgument.
  int32_t set(const uint8_t* key, uint32_t n, const uint8_t* value, uint32_t len, uint32_t flags, double expires_at,
              double stale_until, double version, double now) noexcept {
    if (n == 0 || n > kMaxKeyBytes) return kBadArgument;
    if (uint64_t{round_up8(n)} + len > g_.slot_bytes) return kTooBig;
    if (!lock()) return kBusy;
    const uint32_t h = fnv1a(key, n);
    const int64_t found = find_bucket(h, key, n);
    uint32_t e = 0;
    int32_t evicted = 0;
    const bool fresh = found < 0;
    if (!fresh) {
      e = load(bucket(static_cast<uint32_t>(found)) + 1) - 1;
    } else {
      const uint32_t free = load(&header()->free_head);
      const uint32_t used = load(&header()->used);
      if (free >= 1 && free <= g_.max_entries) {
        e = free - 1;
        const uint32_t next = load(&entry(e)->next);
        store(&header()->free_head, next <= g_.max_entries ? next : 0);
      } else if (used < g_.max_entries) {
        e = used;
        store(&header()->used, used + 1);
      } else {
        const int64_t victim = evict(now);
        if (victim < 0) {
          unlock();
          return kBadCache;
        }
        e = static_cast<uint32_t>(victim);
        evicted = 1;
      }
    }
    const uint32_t stamp = load(&header()->stamp) + 1;
    store(&header()->stamp, stamp);
    Entry* en = entry(e);
    const uint32_t s = begin_write(en);
    store(&en->flags, kFlagLive | (flags & kFlagMiss));
    store(&en->hash, h);
    store(&en->key_bytes, n);
    store(&en->value_bytes, len);
    store(&en->freq, 0);
    store(&en->stamp, stamp);
    store(&en->next, 0);
    store_f64(&en->expires_at, expires_at);
    store_f64(&en->stale_until, stale_until);
    store_f64(&en->version, version);
    uint8_t* d = data(e);
    copy_in(d, key, n);
    if (len > 0) copy_in(d + round_up8(n), value, len);
    std::atomic_ref<uint32_t>(en->seq).store(s + 1, std::memory_order_release);
    if (fresh) {
      insert_bucket(h, e + 1);
      store(&header()->live, load(&header()->live) + 1);
    }
    unlock();
    return evicted;
  }

  // 1 removed, 0 absent, or kBusy / kBadArgument.
  int32_t erase(const uint8_t* key, uint32_t n) noexcept {
    if (n == 0 || n > kMaxKeyBytes) return kBadArgument;
    if (!lock()) return kBusy;
    const uint32_t h = fnv1a(key, n);
    const int64_t found = find_bucket(h, key, n);
    if (found < 0) {
      unlock();
      return 0;
    }
    const uint32_t e = load(bucket(static_cast<uint32_t>(found)) + 1) - 1;
    remove_bucket(static_cast<uint32_t>(found));
    Entry* en = entry(e);
    const uint32_t s = begin_write(en);
    store(&en->flags, 0);
    store(&en->next, load(&header()->free_head));
    std::atomic_ref<uint32_t>(en->seq).store(s + 1, std::memory_order_release);
    store(&header()->free_head, e + 1);
    store(&header()->live, load(&header()->live) - 1);
    store(&header()->stamp, load(&header()->stamp) + 1);
    unlock();
    return 1;
  }

  // 0 or kBusy.
  int32_t clear() noexcept {
    if (!lock()) return kBusy;
    for (uint32_t b = 0; b < g_.index_capacity; ++b) {
      store(bucket(b) + 1, 0);
      store(bucket(b), 0);
    }
    const uint32_t used = std::min(load(&header()->used), g_.max_entries);
    for (uint32_t e = 0; e < used; ++e) {
      Entry* en = entry(e);
      const uint32_t s = begin_write(en);
      store(&en->flags, 0);
      std::atomic_ref<uint32_t>(en->seq).store(s + 1, std::memory_order_release);
    }
    store(&header()->used, 0);
    store(&header()->free_head, 0);
    store(&header()->live, 0);
    store(&header()->stamp, load(&header()->stamp) + 1);
    unlock();
    return 0;
  }

  uint32_t size() const noexcept {
    return std::min(std::atomic_ref<uint32_t>(header()->live).load(std::memory_order_relaxed), g_.max_entries);
  }
  const Geometry& geometry() const noexcept { return g_; }

 private:
  static constexpr int32_t kNotThisKey = -100;

  static uint32_t load(uint32_t* p, std::memory_order o = std::memory_order_acquire) noexcept {
    return std::atomic_ref<uint32_t>(*p).load(o);
  }
  static void store(uint32_t* p, uint32_t v, std::memory_order o = std::memory_order_relaxed) noexcept {
    std::atomic_ref<uint32_t>(*p).store(v, o);
  }
  static double load_f64(double* p) noexcept {
    return std::bit_cast<double>(std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(p)).load(std::memory_order_acquire));
  }
  static void store_f64(double* p, double v) noexcept {
    std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(p)).store(std::bit_cast<uint64_t>(v), std::memory_order_relaxed);
  }
  static uint64_t load_word(const uint8_t* p) noexcept {
    return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(const_cast<uint8_t*>(p))).load(std::memory_order_acquire);
  }

  // Copies n bytes into 8-aligned shared memory, 8 bytes per relaxed atomic store.
  static void copy_in(uint8_t* dst, const uint8_t* src, uint32_t n) noexcept {
    for (uint32_t i = 0; i < n; i += 8) {
      uint64_t w = 0;
      std::memcpy(&w, src + i, std::min<uint32_t>(8, n - i));
      std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(dst + i)).store(w, std::memory_order_relaxed);
    }
  }

  CacheHeader* header() const noexcept { return reinterpret_cast<CacheHeader*>(base_); }
  uint32_t* bucket(uint32_t b) const noexcept { return reinterpret_cast<uint32_t*>(base_ + kIndexOffset + uint64_t{b} * kBucketBytes); }
  Entry* entry(uint32_t e) const noexcept {
    return reinterpret_cast<Entry*>(base_ + g_.entries_offset + uint64_t{e} * g_.entry_stride);
  }
  uint8_t* data(uint32_t e) const noexcept { return reinterpret_cast<uint8_t*>(entry(e)) + kEntryHeaderBytes; }

  bool key_equals(const uint8_t* d, const uint8_t* key, uint32_t n) const noexcept {
    for (uint32_t i = 0; i < n; i += 8) {
      const uint32_t m = std::min<uint32_t>(8, n - i);
      uint64_t want = 0;
      std::memcpy(&want, key + i, m);
      uint64_t have = load_word(d + i);
      if (m < 8) have &= (uint64_t{1} << (8 * m)) - 1;
      if (have != want) return false;
    }
    return true;
  }

  int32_t read_entry(uint32_t e, uint32_t h, const uint8_t* key, uint32_t n, double now, uint8_t* out, std::size_t out_len,
                     EntryMeta* meta) noexcept {
    Entry* en = entry(e);
    std::atomic_ref<uint32_t> seq(en->seq);
    for (uint32_t tries = 0; tries < kReadRetries; ++tries) {
      const uint32_t s1 = seq.load(std::memory_order_acquire);
      if ((s1 & 1) != 0) continue;
      int32_t r = kNotThisKey;
      bool expired = false;
      const uint32_t flags = load(&en->flags);
      const uint32_t kb = load(&en->key_bytes);
      const uint32_t vb = load(&en->value_bytes);
      const uint32_t v_off = round_up8(std::min(kb, kMaxSlotBytes));
      if ((flags & kFlagLive) != 0 && load(&en->hash) == h && kb == n && uint64_t{v_off} + vb <= g_.slot_bytes &&
          key_equals(data(e), key, n)) {
        const double stale_until = load_f64(&en->stale_until);
        if (!(now < stale_until)) {
          expired = true;
          r = kMiss;
        } else if (vb > out_len) {
          r = kOutTooSmall;
        } else {
          meta->expires_at = load_f64(&en->expires_at);
          meta->stale_until = stale_until;
          meta->version = load_f64(&en->version);
          meta->flags = flags & kFlagMiss;
          const uint8_t* src = data(e) + v_off;
          for (uint32_t i = 0; i < vb; i += 8) {
            const uint64_t w = load_word(src + i);
            std::memcpy(out + i, &w, std::min<uint32_t>(8, vb - i));
          }
          r = static_cast<int32_t>(vb);
        }
      }
      if (seq.load(std::memory_order_acquire) == s1) {
        if (r >= 0) {
          std::atomic_ref<uint32_t> freq(en->freq);
          if (freq.load(std::memory_order_relaxed) < 255) freq.fetch_add(1, std::memory_order_relaxed);
        }
        meta->expired = expired;
        return r;
      }
    }
    return kMiss;
  }

  // Spins, then yields; gives up only after kLockTimeout without progress (the header's stamp,
  // bumped by every write, unchanged): a busy lock is waited for, a dead holder is not.
  bool lock() noexcept {
    std::atomic_ref<uint32_t> l(header()->write_lock);
    const auto try_take = [&] {
      uint32_t expected = 0;
      return l.load(std::memory_order_relaxed) == 0 && l.compare_exchange_strong(expected, token(), std::memory_order_acquire);
    };
    for (int i = 0; i < 2000; ++i) {
      if (try_take()) return true;
    }
    uint32_t seen = load(&header()->stamp);
    auto deadline = std::chrono::steady_clock::now() + kLockTimeout;
    for (;;) {
      if (try_take()) return true;
      const auto now = std::chrono::steady_clock::now();
      const uint32_t stamp = load(&header()->stamp);
      if (stamp != seen) {
        seen = stamp;
        deadline = now + kLockTimeout;
      } else if (now > deadline) {
        return false;
      }
      std::this_thread::yield();
    }
  }
  void unlock() noexcept { std::atomic_ref<uint32_t>(header()->write_lock).store(0, std::memory_order_release); }

  static uint32_t token() noexcept {
    static std::atomic<uint32_t> next{0x40000000u};
    thread_local uint32_t t = next.fetch_add(1, std::memory_order_relaxed);
    return t;
  }

  // Makes the entry's seq odd; acquire keeps the data stores after it (seqlock writer).
  static uint32_t begin_write(Entry* en) noexcept {
    return std::atomic_ref<uint32_t>(en->seq).fetch_or(1u, std::memory_order_acq_rel) | 1u;
  }

  int64_t find_bucket(uint32_t h, const uint8_t* key, uint32_t n) const noexcept {
    const uint32_t mask = g_.index_capacity - 1;
    uint32_t b = h & mask;
    for (uint32_t probes = 0; probes < g_.index_capacity; ++probes, b = (b + 1) & mask) {
      const uint32_t ref = load(bucket(b) + 1);
      if (ref == 0) return -1;
      if (load(bucket(b)) != h || ref > g_.max_entries) continue;
      Entry* en = entry(ref - 1);
      if ((load(&en->flags) & kFlagLive) != 0 && load(&en->hash) == h && load(&en->key_bytes) == n &&
          key_equals(data(ref - 1), key, n)) {
        return b;
      }
    }
    return -1;
  }

  // Backward-shift deletion (Knuth 6.4, Algorithm R): no tombstones.
  void remove_bucket(uint32_t b) noexcept {
    const uint32_t mask = g_.index_capacity - 1;
    uint32_t i = b, j = b;
    for (uint32_t steps = 0; steps < g_.index_capacity; ++steps) {
      j = (j + 1) & mask;
      const uint32_t ref = load(bucket(j) + 1);
      if (ref == 0) break;
      const uint32_t k = load(bucket(j)) & mask;
      const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (stays) continue;
      store(bucket(i), load(bucket(j)), std::memory_order_release);
      store(bucket(i) + 1, ref, std::memory_order_release);
      i = j;
    }
    store(bucket(i) + 1, 0, std::memory_order_release);
    store(bucket(i), 0, std::memory_order_release);
  }

  void insert_bucket(uint32_t h, uint32_t ref) noexcept {
    const uint32_t mask = g_.index_capacity - 1;
    uint32_t b = h & mask;
    for (uint32_t probes = 0; probes < g_.index_capacity; ++probes, b = (b + 1) & mask) {
      if (load(bucket(b) + 1) == 0) {
        store(bucket(b), h, std::memory_order_release);
        store(bucket(b) + 1, ref, std::memory_order_release);
        return;
      }
    }
  }

  uint32_t next_random() noexcept {
    thread_local uint32_t x = 0x9e3779b9u ^ token();
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  }

  // Samples kEvictionSample entries: expired first, then least read, then oldest; halves the
  // sampled counters (aging). Unlinks the victim from the index and returns it, or -1.
  int64_t evict(double now) noexcept {
    const uint32_t stamp = load(&header()->stamp);
    int64_t best = -1;
    bool best_expired = false;
    uint32_t best_freq = 0, best_age = 0;
    for (uint32_t k = 0; k < kEvictionSample; ++k) {
      const uint32_t e = next_random() % g_.max_entries;
      Entry* en = entry(e);
      if ((load(&en->flags) & kFlagLive) == 0) continue;
      const bool expired = !(now < load_f64(&en->stale_until));
      const uint32_t freq = load(&en->freq);
      const uint32_t age = stamp - load(&en->stamp);
      if (best < 0 || (expired && !best_expired) ||
          (expired == best_expired && (freq < best_freq || (freq == best_freq && age > best_age)))) {
        best = e;
        best_expired = expired;
        best_freq = freq;
        best_age = age;
      }
      store(&en->freq, freq >> 1);
    }
    if (best < 0) {
      for (uint32_t e = 0; e < g_.max_entries && best < 0; ++e) {
        if ((load(&entry(e)->flags) & kFlagLive) != 0) best = e;
      }
      if (best < 0) return -1;
    }
    const uint32_t h = load(&entry(static_cast<uint32_t>(best))->hash);
    const uint32_t mask = g_.index_capacity - 1;
    uint32_t b = h & mask;
    for (uint32_t probes = 0; probes < g_.index_capacity; ++probes, b = (b + 1) & mask) {
      const uint32_t ref = load(bucket(b) + 1);
      if (ref == 0) break;
      if (ref == best + 1) {
        remove_bucket(b);
        break;
      }
    }
    store(&header()->evictions, load(&header()->evictions) + 1);
    store(&header()->live, load(&header()->live) - 1);
    return best;
  }

  uint8_t* base_ = nullptr;
  Geometry g_;
};

}  // namespace up::cache
