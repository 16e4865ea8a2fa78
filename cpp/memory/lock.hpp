// The lock that guards buddy and ring state in shared buffers: one int32 word that JS
// (lib/memory/lock.ts) and C++ take with the same protocol.
//   0 free, 1 held, 2 held and a JS thread may be asleep in Atomics.wait on the word.
// JS releases with exchange(0) and Atomics.notify when it saw 2. C++ cannot reach V8's
// waiter list, so JS waiters sleep with a short timeout and C++ waiters spin and yield.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

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

class WordLock {
 public:
  explicit WordLock(int32_t* word) noexcept : word_(*word) {}

  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      int32_t expected = 0;
      if (word_.load(std::memory_order_relaxed) == 0 &&
          word_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
        return;
      }
      // Yield after a short spin: on few cores the holder may be waiting for our core.
      if (spins < 64) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
  }

  void unlock() noexcept { word_.store(0, std::memory_order_release); }

 private:
  std::atomic_ref<int32_t> word_;
};

// Holds a WordLock for a scope when the allocator is shared; does nothing otherwise.
class MaybeLocked {
 public:
  MaybeLocked(int32_t* word, bool shared) noexcept : lock_(word), shared_(shared) {
    if (shared_) lock_.lock();
  }
  ~MaybeLocked() {
    if (shared_) lock_.unlock();
  }
  MaybeLocked(const MaybeLocked&) = delete;
  MaybeLocked& operator=(const MaybeLocked&) = delete;

 private:
  WordLock lock_;
  bool shared_;
};

}  // namespace up::memory
