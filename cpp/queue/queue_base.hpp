// What SpscQueue and MpmcQueue share: attaching to a buffer, close(), size() and the
// waiter handshake with JS threads sleeping in Atomics.wait.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "layout.hpp"

namespace up::queue {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spin, then yield, then sleep a little longer each time: a native thread waiting on a
// JS one cannot be woken by Atomics.notify, so it polls, politely.
class Backoff {
 public:
  void pause() noexcept {
    if (step_ < 6) {
      for (int i = 0; i < (1 << step_); ++i) cpu_relax();
    } else if (step_ < 12) {
      std::this_thread::yield();
    } else {
      const int shift = std::min(step_ - 12, 5);
      std::this_thread::sleep_for(std::chrono::microseconds(10 << shift));
    }
    if (step_ < 20) ++step_;
  }
  void reset() noexcept { step_ = 0; }

 private:
  int step_ = 0;
};

class QueueBase {
 public:
  // Reads and checks the header; 0, or kBadQueue when the bytes are not a queue of kind.
  int32_t attach(uint8_t* base, std::size_t bytes, uint32_t kind) noexcept {
    const int32_t status = g_.read(base, bytes, kind);
    if (status != 0) {
      h_ = nullptr;
      return status;
    }
    h_ = reinterpret_cast<QueueHeader*>(base);
    slots_ = base + g_.data_offset;
    return 0;
  }

  uint32_t capacity() const noexcept { return g_.capacity; }
  uint32_t slot_bytes() const noexcept { return g_.slot_bytes; }
  bool closed() const noexcept { return field(h_->closed).load(std::memory_order_seq_cst) != 0; }

  // Approximate under concurrency, exact when the queue is quiet.
  uint32_t size() const noexcept {
    const uint32_t head = field(h_->head).load(std::memory_order_seq_cst);
    const uint32_t tail = field(h_->tail).load(std::memory_order_seq_cst);
    const auto diff = static_cast<int32_t>(tail - head);
    return diff <= 0 ? 0u : std::min(static_cast<uint32_t>(diff), g_.capacity);
  }
  bool empty() const noexcept { return size() == 0; }

  // Producers fail from now on; consumers drain what is left. JS notifies the sleepers.
  void close() noexcept {
    field(h_->closed).store(1, std::memory_order_seq_cst);
    field(h_->not_empty_seq).fetch_add(1, std::memory_order_seq_cst);
    field(h_->not_full_seq).fetch_add(1, std::memory_order_seq_cst);
  }

  // A native producer running: JS consumers then cap their sleeps, since only a JS
  // thread can deliver Atomics.notify and the one that would may be busy.
  void add_native_producer(int32_t delta) noexcept {
    field(h_->native_producers).fetch_add(delta, std::memory_order_seq_cst);
  }

 protected:
  // What a non-zero closed word means: kClosed for 1 (what close() writes), kCorrupt for
  // anything else (a scribble). Read only when the word is not 0, off the hot path.
  static int32_t closed_status(int32_t word) noexcept { return word == 1 ? kClosed : kCorrupt; }

  static std::atomic_ref<uint32_t> field(uint32_t& v) noexcept { return std::atomic_ref<uint32_t>(v); }
  static std::atomic_ref<int32_t> field(int32_t& v) noexcept { return std::atomic_ref<int32_t>(v); }

  uint8_t* slot(uint32_t index) const noexcept {
    return slots_ + std::size_t{index & g_.mask} * g_.slot_stride;
  }
  static std::atomic_ref<uint32_t> slot_seq(uint8_t* s) noexcept {
    return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(s + kSlotSeqOffset));
  }
  static std::atomic_ref<uint32_t> slot_length(uint8_t* s) noexcept {
    return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(s + kSlotLengthOffset));
  }

  // After a seq_cst publish: the Dekker half that pairs with a sleeper's "read seq, set
  // the asleep flag, try again, wait on seq". The flag is consumed with one exchange, so
  // one publish per sleep episode pays for the wake-up, not every publish until the
  // sleeper has woken; bumping seq makes a sleeper that has not parked yet skip its wait.
  // The caller must wake every sleeper (one flag serves all of them).
  int32_t wake_consumers_if_waiting() noexcept {
    auto asleep = field(h_->consumers_asleep);
    if (asleep.load(std::memory_order_seq_cst) == 0 || asleep.exchange(0, std::memory_order_seq_cst) == 0) return 0;
    field(h_->not_empty_seq).fetch_add(1, std::memory_order_seq_cst);
    return kWakeBit;
  }
  int32_t wake_producers_if_waiting() noexcept {
    auto asleep = field(h_->producers_asleep);
    if (asleep.load(std::memory_order_seq_cst) == 0 || asleep.exchange(0, std::memory_order_seq_cst) == 0) return 0;
    field(h_->not_full_seq).fetch_add(1, std::memory_order_seq_cst);
    return kWakeBit;
  }

  // A caller's length, which may live in a SharedArrayBuffer another thread writes: read
  // once (a relaxed atomic, so the compiler cannot read it twice) into a local.
  static uint32_t read_length(const uint32_t* p) noexcept {
    return std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(p)).load(std::memory_order_relaxed);
  }

  // A whole batch is checked before any of it is pushed, so a bad length never leaves
  // half a batch behind (unless another thread rewrites lengths meanwhile: push_batch
  // checks each length again as it copies).
  int32_t check_batch(std::size_t data_len, const uint32_t* lengths, uint32_t count) const noexcept {
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t len = read_length(lengths + i);
      if (len > g_.slot_bytes) return kBadBatch;
      total += len;
    }
    return total <= data_len ? 0 : kBadBatch;
  }

  QueueHeader* h_ = nullptr;
  uint8_t* slots_ = nullptr;
  Geometry g_;
};

}  // namespace up::queue
