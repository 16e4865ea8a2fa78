// Bounded multi-producer multi-consumer queue over the bytes of a SharedArrayBuffer:
// Dmitry Vyukov's bounded MPMC queue. Each slot carries a sequence number: seq == pos
// means free for the producer claiming pos, seq == pos + 1 means full for the consumer
// claiming pos, and the consumer hands it back as pos + capacity. Positions are claimed
// with a CAS on tail (enqueue_pos) or head (dequeue_pos). lib/queue/mpmc.ts is the
// same algorithm with Atomics.
#pragma once

#include "queue_base.hpp"

namespace up::queue {

class MpmcQueue : public QueueBase {
 public:
  int32_t attach(uint8_t* base, std::size_t bytes) noexcept { return QueueBase::attach(base, bytes, kKindMpmc); }

  // kPushed (| kWakeBit), kFull, kClosed or kTooBig.
  int32_t try_push(const uint8_t* data, uint32_t len) noexcept {
    if (len > g_.slot_bytes) return kTooBig;
    if (const int32_t c = field(h_->closed).load(std::memory_order_relaxed); c != 0) return closed_status(c);
    const int32_t pushed = push_one(data, len);
    if (pushed != kPushed) return pushed;
    return kPushed | wake_consumers_if_waiting();
  }

  // Payload bytes (| kWakeBit), kEmpty, kOutTooSmall or kCorrupt.
  int32_t try_pop(uint8_t* out, std::size_t out_len) noexcept {
    if (out_len < g_.slot_bytes) return kOutTooSmall;
    const int64_t len = pop_one(out);
    if (len < 0) return static_cast<int32_t>(len);
    return static_cast<int32_t>(len) | wake_producers_if_waiting();
  }

  // Pushes the longest prefix of the batch that fits. Count (| kWakeBit), kClosed,
  // kBadBatch or kCorrupt. Each length is read once and checked before its copy (lengths
  // may be shared memory another thread rewrites after check_batch).
  int32_t push_batch(const uint8_t* data, std::size_t data_len, const uint32_t* lengths, uint32_t count) noexcept {
    if (const int32_t bad = check_batch(data_len, lengths, count); bad != 0) return bad;
    if (const int32_t c = field(h_->closed).load(std::memory_order_relaxed); c != 0) return closed_status(c);
    std::size_t offset = 0;
    uint32_t n = 0;
    int32_t last = kPushed;
    for (; n < count; ++n) {
      const uint32_t len = read_length(lengths + n);
      if (len > g_.slot_bytes || len > data_len - offset) {
        last = kBadBatch;
        break;
      }
      last = push_one(data + offset, len);
      if (last != kPushed) break;
      offset += len;
    }
    if (n == 0) return last < 0 ? last : 0;
    return static_cast<int32_t>(n) | wake_consumers_if_waiting();
  }

  // Pops up to max messages packed back to back into out, while at least slot_bytes of
  // out are left. Count (| kWakeBit), kOutTooSmall or kCorrupt.
  int32_t pop_batch(uint8_t* out, std::size_t out_len, uint32_t* lengths, uint32_t max) noexcept {
    if (out_len < g_.slot_bytes) return kOutTooSmall;
    std::size_t offset = 0;
    uint32_t n = 0;
    bool corrupt = false;
    for (; n < max && out_len - offset >= g_.slot_bytes; ++n) {
      const int64_t len = pop_one(out + offset);
      if (len < 0) {
        corrupt = len == kCorrupt;
        break;
      }
      lengths[n] = static_cast<uint32_t>(len);
      offset += static_cast<std::size_t>(len);
    }
    if (n == 0) return corrupt ? kCorrupt : 0;
    return static_cast<int32_t>(n) | wake_producers_if_waiting();
  }

 private:
  // A slot whose seq is ahead of pos was claimed at pos, so tail has moved past pos by
  // the time its seq is seen (the claim's CAS happens before the seq store we acquired):
  // reading the same pos again means the words were scribbled on, and the loop stops.
  // kPushed, kFull or kCorrupt.
  int32_t push_one(const uint8_t* data, uint32_t len) noexcept {
    auto enqueue_pos = field(h_->tail);
    uint32_t pos = enqueue_pos.load(std::memory_order_relaxed);
    uint8_t* s;
    for (;;) {
      s = slot(pos);
      const uint32_t seq = slot_seq(s).load(std::memory_order_acquire);
      const auto dif = static_cast<int32_t>(seq - pos);
      if (dif == 0) {
        if (enqueue_pos.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (dif < 0) {
        return kFull;
      } else {
        const uint32_t again = enqueue_pos.load(std::memory_order_relaxed);
        if (again == pos) return kCorrupt;
        pos = again;
      }
    }
    slot_length(s).store(len, std::memory_order_relaxed);
    if (len != 0) std::memcpy(s + kSlotHeaderBytes, data, len);
    slot_seq(s).store(pos + 1, std::memory_order_seq_cst);
    return kPushed;
  }

  // Bytes, kEmpty, or kCorrupt (the slot is still handed back, so the queue keeps moving).
  int64_t pop_one(uint8_t* out) noexcept {
    auto dequeue_pos = field(h_->head);
    uint32_t pos = dequeue_pos.load(std::memory_order_relaxed);
    uint8_t* s;
    for (;;) {
      s = slot(pos);
      const uint32_t seq = slot_seq(s).load(std::memory_order_acquire);
      const auto dif = static_cast<int32_t>(seq - (pos + 1));
      if (dif == 0) {
        if (dequeue_pos.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (dif < 0) {
        return kEmpty;
      } else {
        // As in push_one: the same pos again means a scribbled seq or head.
        const uint32_t again = dequeue_pos.load(std::memory_order_relaxed);
        if (again == pos) return kCorrupt;
        pos = again;
      }
    }
    const uint32_t len = slot_length(s).load(std::memory_order_relaxed);
    const bool ok = len <= g_.slot_bytes;
    if (ok && len != 0) std::memcpy(out, s + kSlotHeaderBytes, len);
    slot_seq(s).store(pos + g_.capacity, std::memory_order_seq_cst);
    return ok ? int64_t{len} : int64_t{kCorrupt};
  }
};

}  // namespace up::queue
