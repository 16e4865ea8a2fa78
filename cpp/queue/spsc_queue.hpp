// Single-producer single-consumer queue over the bytes of a SharedArrayBuffer, in the
// manner of rigtorp's SPSCQueue.h: each side keeps a cached copy of the other side's
// index, so the common case reads and writes only lines that side owns. The layout is
// in layout.hpp; lib/queue/spsc.ts is the same algorithm with Atomics.
#pragma once

#include "queue_base.hpp"

namespace up::queue {

class SpscQueue : public QueueBase {
 public:
  int32_t attach(uint8_t* base, std::size_t bytes) noexcept { return QueueBase::attach(base, bytes, kKindSpsc); }

  // kPushed (| kWakeBit), kFull, kClosed or kTooBig.
  int32_t try_push(const uint8_t* data, uint32_t len) noexcept {
    if (len > g_.slot_bytes) return kTooBig;
    if (const int32_t c = field(h_->closed).load(std::memory_order_relaxed); c != 0) return closed_status(c);
    const uint32_t tail = field(h_->tail).load(std::memory_order_relaxed);
    if (free_slots(tail) == 0) return kFull;
    write_slot(slot(tail), data, len);
    field(h_->tail).store(tail + 1, std::memory_order_seq_cst);
    return kPushed | wake_consumers_if_waiting();
  }

  // Payload bytes (| kWakeBit), kEmpty, kOutTooSmall or kCorrupt.
  int32_t try_pop(uint8_t* out, std::size_t out_len) noexcept {
    if (out_len < g_.slot_bytes) return kOutTooSmall;
    const uint32_t head = field(h_->head).load(std::memory_order_relaxed);
    if (ready_slots(head) == 0) return kEmpty;
    uint8_t* s = slot(head);
    const uint32_t len = slot_length(s).load(std::memory_order_relaxed);
    if (len > g_.slot_bytes) return kCorrupt;
    std::memcpy(out, s + kSlotHeaderBytes, len);
    field(h_->head).store(head + 1, std::memory_order_seq_cst);
    return static_cast<int32_t>(len) | wake_producers_if_waiting();
  }

  // Pushes the longest prefix of the batch that fits, with one index store.
  // Count (| kWakeBit), kClosed or kBadBatch. lengths may be shared memory another thread
  // rewrites: each length is read once and checked again before its copy, and a length
  // that went bad after check_batch ends the batch there (kBadBatch if it was the first).
  int32_t push_batch(const uint8_t* data, std::size_t data_len, const uint32_t* lengths, uint32_t count) noexcept {
    if (const int32_t bad = check_batch(data_len, lengths, count); bad != 0) return bad;
    if (const int32_t c = field(h_->closed).load(std::memory_order_relaxed); c != 0) return closed_status(c);
    const uint32_t tail = field(h_->tail).load(std::memory_order_relaxed);
    uint32_t n = std::min(count, free_slots(tail, count));
    std::size_t offset = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t len = read_length(lengths + i);
      if (len > g_.slot_bytes || len > data_len - offset) {
        if (i == 0) return kBadBatch;
        n = i;
        break;
      }
      write_slot(slot(tail + i), data + offset, len);
      offset += len;
    }
    if (n == 0) return 0;
    field(h_->tail).store(tail + n, std::memory_order_seq_cst);
    return static_cast<int32_t>(n) | wake_consumers_if_waiting();
  }

  // Pops up to max messages packed back to back into out, while at least slot_bytes of
  // out are left. Count (| kWakeBit), kOutTooSmall or kCorrupt.
  int32_t pop_batch(uint8_t* out, std::size_t out_len, uint32_t* lengths, uint32_t max) noexcept {
    if (out_len < g_.slot_bytes) return kOutTooSmall;
    const uint32_t head = field(h_->head).load(std::memory_order_relaxed);
    const uint32_t ready = std::min(max, ready_slots(head, max));
    std::size_t offset = 0;
    uint32_t n = 0;
    for (; n < ready && out_len - offset >= g_.slot_bytes; ++n) {
      uint8_t* s = slot(head + n);
      const uint32_t len = slot_length(s).load(std::memory_order_relaxed);
      if (len > g_.slot_bytes) break;
      std::memcpy(out + offset, s + kSlotHeaderBytes, len);
      lengths[n] = len;
      offset += len;
    }
    if (n == 0) return ready == 0 ? 0 : kCorrupt;
    field(h_->head).store(head + n, std::memory_order_seq_cst);
    return static_cast<int32_t>(n) | wake_producers_if_waiting();
  }

 private:
  // Free slots seen by the producer; re-reads head only when the cache says fewer than want.
  uint32_t free_slots(uint32_t tail, uint32_t want = 1) noexcept {
    const uint32_t used = tail - field(h_->head_cache).load(std::memory_order_relaxed);
    if (used <= g_.capacity && g_.capacity - used >= want) return g_.capacity - used;
    const uint32_t head = field(h_->head).load(std::memory_order_acquire);
    field(h_->head_cache).store(head, std::memory_order_relaxed);
    const uint32_t now_used = tail - head;
    return now_used >= g_.capacity ? 0 : g_.capacity - now_used;
  }

  // Ready slots seen by the consumer; re-reads tail only when the cache says fewer than want.
  uint32_t ready_slots(uint32_t head, uint32_t want = 1) noexcept {
    uint32_t ready = field(h_->tail_cache).load(std::memory_order_relaxed) - head;
    if (ready >= want && ready <= g_.capacity) return ready;
    const uint32_t tail = field(h_->tail).load(std::memory_order_acquire);
    field(h_->tail_cache).store(tail, std::memory_order_relaxed);
    ready = tail - head;
    return ready > g_.capacity ? 0 : ready;
  }

  static void write_slot(uint8_t* s, const uint8_t* data, uint32_t len) noexcept {
    slot_length(s).store(len, std::memory_order_relaxed);
    if (len != 0) std::memcpy(s + kSlotHeaderBytes, data, len);
  }
};

}  // namespace up::queue
