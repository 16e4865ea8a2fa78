#include "affinity.hpp"

#include <cerrno>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace up::system {

#if defined(__linux__)

bool affinity_supported() noexcept { return true; }

int set_thread_affinity(const int* cores, std::size_t count) noexcept {
  if (cores == nullptr || count == 0) return -EINVAL;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (std::size_t i = 0; i < count; ++i) {
    if (cores[i] < 0 || cores[i] >= kMaxCores) return -EINVAL;
    CPU_SET(static_cast<unsigned>(cores[i]), &set);
  }
  // pthread_* return the error instead of setting errno.
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  return rc == 0 ? 0 : -rc;
}

int get_thread_affinity(int* out, std::size_t capacity) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  const int rc = pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc != 0) return -rc;
  int n = 0;
  for (int core = 0; core < kMaxCores; ++core) {
    if (!CPU_ISSET(static_cast<unsigned>(core), &set)) continue;
    if (out != nullptr && static_cast<std::size_t>(n) < capacity) out[n] = core;
    ++n;
  }
  return n;
}

int current_cpu() noexcept {
  const int cpu = sched_getcpu();
  return cpu >= 0 ? cpu : -errno;
}

#else

bool affinity_supported() noexcept { return false; }
int set_thread_affinity(const int*, std::size_t) noexcept { return kUnsupported; }
int get_thread_affinity(int*, std::size_t) noexcept { return kUnsupported; }
int current_cpu() noexcept { return kUnsupported; }

#endif

}  // namespace up::system
