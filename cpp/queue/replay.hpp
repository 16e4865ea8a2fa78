// The feed replayer: pushes recorded frames into a queue from a native thread, as fast
// as the consumers take them or paced at a rate. lib/queue/replay-loop.ts is the same
// algorithm for the TS backend (run in a worker_thread).
#pragma once

#include <atomic>
#include <cstdint>

#include "layout.hpp"

namespace up::queue {

struct ReplayFrames {
  const uint8_t* data = nullptr;
  std::size_t data_len = 0;
  // Frame i is lengths[i] bytes, right after frame i - 1.
  const uint32_t* lengths = nullptr;
  uint32_t count = 0;
};

struct ReplayOptions {
  // Frames per second; 0 means as fast as the queue takes them.
  double rate_per_sec = 0;
  // Set by the owner to stop early (env teardown); checked while waiting.
  const std::atomic<bool>* stop = nullptr;
  // Called after a push that found JS consumers asleep; must not block.
  void (*wake)(void* context) = nullptr;
  void* context = nullptr;
};

struct ReplayResult {
  uint64_t pushed = 0;
  double elapsed_ms = 0;
  // 0: every frame pushed; kClosed: the queue was closed; kBadQueue / kBadBatch: refused
  // before pushing; kStopped: stopped by options.stop. A paced wait notices close() and
  // stop within kReplaySliceMs.
  int32_t status = 0;
};

// Unpaced runs push up to this many frames per index store.
inline constexpr uint32_t kReplayBatch = 64;
// A paced replay sleeps at most this long before it looks at stop and closed again.
inline constexpr int kReplaySliceMs = 10;

// 0, kBadQueue when queue is not a queue, or kBadBatch when a frame is longer than a slot
// or the lengths run past the data.
int32_t check_replay(const uint8_t* queue, std::size_t queue_len, const ReplayFrames& frames) noexcept;

// Checks as check_replay does, reads the kind once and pushes every frame.
ReplayResult replay_frames(uint8_t* queue, std::size_t queue_len, const ReplayFrames& frames,
                           const ReplayOptions& options) noexcept;

}  // namespace up::queue
