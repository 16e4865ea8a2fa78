#include "cpu_info.hpp"

#include <unistd.h>

#include <cstring>
#include <fstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace up::system {
namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t");
  const auto last = s.find_last_not_of(" \t\n");
  return first == std::string::npos ? std::string{} : s.substr(first, last - first + 1);
}

std::string model_from_proc() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    // x86 says "model name", arm64 kernels say "Hardware" or nothing useful.
    if (line.rfind("model name", 0) == 0 || line.rfind("Hardware", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return trim(line.substr(colon + 1));
    }
  }
  return {};
}

#if defined(__x86_64__) || defined(__i386__)
std::string model_from_cpuid() {
  unsigned int max_ext = __get_cpuid_max(0x80000000, nullptr);
  if (max_ext < 0x80000004) return {};
  char brand[49] = {};
  for (unsigned int leaf = 0; leaf < 3; ++leaf) {
    unsigned int regs[4];
    __get_cpuid(0x80000002 + leaf, &regs[0], &regs[1], &regs[2], &regs[3]);
    std::memcpy(brand + leaf * 16, regs, sizeof(regs));
  }
  return trim(brand);
}
#endif

}  // namespace

CpuInfo cpu_info() {
  CpuInfo info;
#if defined(__x86_64__) || defined(__i386__)
  info.model = model_from_cpuid();
  __builtin_cpu_init();
  // Same order as kFeatureNames in lib/system/cpu.ts so both backends report identically.
  if (__builtin_cpu_supports("sse2")) info.features.emplace_back("sse2");
  if (__builtin_cpu_supports("sse4.2")) info.features.emplace_back("sse4.2");
  if (__builtin_cpu_supports("popcnt")) info.features.emplace_back("popcnt");
  if (__builtin_cpu_supports("avx")) info.features.emplace_back("avx");
  if (__builtin_cpu_supports("avx2")) info.features.emplace_back("avx2");
  if (__builtin_cpu_supports("fma")) info.features.emplace_back("fma");
  if (__builtin_cpu_supports("bmi2")) info.features.emplace_back("bmi2");
  if (__builtin_cpu_supports("avx512f")) info.features.emplace_back("avx512f");
  if (__builtin_cpu_supports("avx512dq")) info.features.emplace_back("avx512dq");
  if (__builtin_cpu_supports("avx512bw")) info.features.emplace_back("avx512bw");
  if (__builtin_cpu_supports("avx512vl")) info.features.emplace_back("avx512vl");
#elif defined(__aarch64__)
  info.features.emplace_back("neon");
#endif
  if (info.model.empty()) info.model = model_from_proc();
  if (info.model.empty()) info.model = "unknown";
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  info.cores = online > 0 ? static_cast<int>(online) : 1;
  return info;
}

}  // namespace up::system
