#include "simd.hpp"

#include <atomic>

namespace up::risk {
namespace {

SimdLevel detect() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SimdLevel::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt")) {
    return SimdLevel::kAvx2;
  }
#endif
  return SimdLevel::kScalar;
}

std::atomic<int> g_cap{static_cast<int>(SimdLevel::kAvx512)};

}  // namespace

SimdLevel simd_level() {
  static const SimdLevel detected = detect();
  const int cap = g_cap.load(std::memory_order_relaxed);
  return static_cast<SimdLevel>(static_cast<int>(detected) < cap ? static_cast<int>(detected) : cap);
}

void cap_simd_level(SimdLevel cap) { g_cap.store(static_cast<int>(cap), std::memory_order_relaxed); }

}  // namespace up::risk
