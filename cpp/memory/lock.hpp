// The lock that guards buddy and ring state in shared buffers: one int32 word that JS
// (lib/memory/lock.ts) and C++ take with the same protocol.
//   0 free, 1 held, 2 held and a JS thread may be asleep in Atomics.wait on the word.
// JS releases with exchange(0) and Atomics.notify when it saw 2. C++ cannot reach V8's
// waiter list, so JS waiters sleep with a short timeout and C++ waiters spin and yield.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "layout.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace up::memory {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Every wait is bounded: a word left held (a thread died inside a call, or something
// wrote into the buffer) turns into lock_timeout after timeout_ms, and a value that is
// not 0, 1 or 2 into corrupt, so a caller never spins forever on a foreign buffer.
class WordLock {
 public:
  explicit WordLock(int32_t* word) noexcept : word_(*word) {}

  // ok, lock_timeout or corrupt; held only when ok.
  Status lock(uint32_t timeout_ms) noexcept {
    int32_t expected = 0;
    if (word_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return Status::ok;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (uint32_t spins = 0;; ++spins) {
      const int32_t seen = word_.load(std::memory_order_relaxed);
      if (seen < 0 || seen > 2) return Status::corrupt;
      expected = 0;
      if (seen == 0 &&
          word_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
        return Status::ok;
      }
      // Yield after a short spin: on few cores the holder may be waiting for our core.
      if (spins < 64) {
        cpu_relax();
      } else {
        std::this_thread::yield();
        if ((spins & 63) == 0 && std::chrono::steady_clock::now() >= deadline) return Status::lock_timeout;
      }
    }
  }

  void unlock() noexcept { word_.store(0, std::memory_order_release); }

 private:
  std::atomic_ref<int32_t> word_;
};

// Holds a WordLock for a scope when the allocator is shared; does nothing otherwise.
// Check status() before touching the state it guards.
class MaybeLocked {
 public:
  MaybeLocked(int32_t* word, bool shared, uint32_t timeout_ms) noexcept
      : lock_(word), status_(shared ? lock_.lock(timeout_ms) : Status::ok), held_(shared && status_ == Status::ok) {}
  ~MaybeLocked() {
    if (held_) lock_.unlock();
  }
  MaybeLocked(const MaybeLocked&) = delete;
  MaybeLocked& operator=(const MaybeLocked&) = delete;

  Status status() const noexcept { return status_; }

 private:
  WordLock lock_;
  Status status_;
  bool held_;
};

}  // namespace up::memory
