// Thread CPU affinity for the calling thread. Every function is noexcept and reports
// failure as a negative errno, so bindings can turn it into a JS error without aborting.
#pragma once

#include <cstddef>

namespace up::system {

// Largest core index accepted; matches CPU_SETSIZE on glibc and kMaxCore in lib/system/affinity.ts.
inline constexpr int kMaxCores = 1024;

// Status codes beyond errno values.
inline constexpr int kUnsupported = -100000;

bool affinity_supported() noexcept;

// Pins the calling thread to `cores` (indices < kMaxCores). Returns 0 or -errno.
int set_thread_affinity(const int* cores, std::size_t count) noexcept;

// Writes the calling thread's allowed cores, ascending, into out[0..capacity).
// Returns the number of allowed cores (may exceed capacity) or -errno.
int get_thread_affinity(int* out, std::size_t capacity) noexcept;

// The core the calling thread is running on right now, or -errno.
int current_cpu() noexcept;

}  // namespace up::system
