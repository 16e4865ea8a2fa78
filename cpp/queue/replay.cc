#include "replay.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "mpmc_queue.hpp"
#include "spsc_queue.hpp"

namespace up::queue {
namespace {

using Clock = std::chrono::steady_clock;

bool stopped(const ReplayOptions& o) noexcept {
  return o.stop != nullptr && o.stop->load(std::memory_order_relaxed);
}

void wake(const ReplayOptions& o, int32_t result) noexcept {
  if ((result & kWakeBit) != 0 && o.wake != nullptr) o.wake(o.context);
}

// Sleeps while the deadline is far, spins politely when it is near. A long wait (a slow
// rate) sleeps in slices of at most kReplaySliceMs and looks at stop and at the queue's
// closed word after each, so close() ends a paced replay within a slice.
// 0 when due, kStopped or kClosed.
template <class Queue>
int32_t wait_until(Clock::time_point due, const Queue& q, const ReplayOptions& o) noexcept {
  for (;;) {
    if (stopped(o)) return kStopped;
    if (q.closed()) return kClosed;
    const auto now = Clock::now();
    if (now >= due) return 0;
    const auto left = due - now;
    if (left > std::chrono::microseconds(200)) {
      std::this_thread::sleep_for(std::min<Clock::duration>(left - std::chrono::microseconds(100),
                                                            std::chrono::milliseconds(kReplaySliceMs)));
    } else if (left > std::chrono::microseconds(20)) {
      std::this_thread::yield();
    } else {
      cpu_relax();
    }
  }
}

template <class Queue>
ReplayResult run(Queue& q, const ReplayFrames& f, const ReplayOptions& o) noexcept {
  ReplayResult r;
  const auto start = Clock::now();
  const bool paced = o.rate_per_sec > 0;
  const double ns_per_frame = paced ? 1e9 / o.rate_per_sec : 0;
  // Far enough (~292 years) to be never, near enough that the conversion cannot overflow.
  constexpr double kNeverNs = 9.2e18;
  // This batch's lengths, read once: frames.lengths may be shared memory.
  uint32_t batch[kReplayBatch];
  std::size_t offset = 0;
  uint32_t i = 0;
  Backoff backoff;
  q.add_native_producer(1);
  while (i < f.count) {
    if (paced) {
      const double at = std::min(ns_per_frame * i, kNeverNs);
      const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(at));
      if (const int32_t waited = wait_until(due, q, o); waited != 0) {
        r.status = waited;
        break;
      }
    }
    const uint32_t want = paced ? 1 : std::min(kReplayBatch, f.count - i);
    for (uint32_t k = 0; k < want; ++k) {
      batch[k] = std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(f.lengths + i + k)).load(std::memory_order_relaxed);
    }
    const int32_t res = q.push_batch(f.data + offset, f.data_len - offset, batch, want);
    if (res < 0) {
      r.status = res;
      break;
    }
    const uint32_t n = static_cast<uint32_t>(res & ~kWakeBit);
    wake(o, res);
    if (n == 0) {
      if (stopped(o)) {
        r.status = kStopped;
        break;
      }
      backoff.pause();
      continue;
    }
    backoff.reset();
    for (uint32_t k = 0; k < n; ++k) offset += batch[k];
    i += n;
    r.pushed += n;
  }
  q.add_native_producer(-1);
  r.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return r;
}

}  // namespace

int32_t check_replay(const uint8_t* queue, std::size_t queue_len, const ReplayFrames& frames) noexcept {
  Geometry g;
  if (g.read(queue, queue_len, 0) != 0) return kBadQueue;
  if (frames.count != 0 && frames.lengths == nullptr) return kBadBatch;
  uint64_t total = 0;
  for (uint32_t i = 0; i < frames.count; ++i) {
    if (frames.lengths[i] > g.slot_bytes) return kBadBatch;
    total += frames.lengths[i];
  }
  return total <= frames.data_len ? 0 : kBadBatch;
}

ReplayResult replay_frames(uint8_t* queue, std::size_t queue_len, const ReplayFrames& frames,
                           const ReplayOptions& options) noexcept {
  if (const int32_t bad = check_replay(queue, queue_len, frames); bad != 0) return ReplayResult{0, 0, bad};
  if (SpscQueue q; q.attach(queue, queue_len) == 0) return run(q, frames, options);
  if (MpmcQueue q; q.attach(queue, queue_len) == 0) return run(q, frames, options);
  return ReplayResult{0, 0, kBadQueue};
}

}  // namespace up::queue
