// NVML (NVIDIA Management Library) opened at run time with dlopen: no link-time dependency
// and no NVML header; the few functions used are declared in nvml.cc with their documented
// signatures. Read-only: nothing here changes a device setting. No N-API here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace up::system {

// Slots of one device reading (NaN where the driver does not support the quantity).
enum GpuField : int {
  kGpuUtilizationPercent = 0,  // nvmlDeviceGetUtilizationRates .gpu
  kGpuMemoryUtilizationPercent,  // .memory (memory controller busy)
  kGpuMemoryTotalBytes,
  kGpuMemoryUsedBytes,
  kGpuMemoryFreeBytes,
  kGpuTemperatureC,
  kGpuPowerW,
  kGpuClockGraphicsMhz,
  kGpuClockSmMhz,
  kGpuClockMemoryMhz,
  kGpuClockVideoMhz,
  kGpuFieldCount,
};

// Statuses are NVML's nvmlReturn_t values (0 = NVML_SUCCESS, errors 1..999) and two of ours
// above them, so every failure is > 0 and a binding can return a count or -status.
inline constexpr int kNvmlNotOpen = 10001;
inline constexpr int kNvmlFunctionMissing = 10002;
inline constexpr int kNvmlSuccess = 0;
inline constexpr int kNvmlErrorNotSupported = 3;
inline constexpr int kNvmlErrorNoPermission = 4;
inline constexpr int kNvmlErrorNotFound = 6;

// One process-wide NVML session; every method may be called from any thread.
class Nvml {
 public:
  static Nvml& instance();

  // "" once NVML is loaded from `path` and initialized (at once when it already is, from
  // that path), counting one more user; else why not, e.g. "libnvidia-ml.so.1 not found:
  // <dlerror>". Each open() that returned "" is balanced by one close().
  std::string open(const std::string& path);
  // One user fewer; the last one shuts NVML down (nvmlShutdown, dlclose).
  void close();
  bool is_open();
  // The path NVML was opened from; "" when closed.
  std::string path();

  int device_count(unsigned* count);
  int device_name(unsigned index, std::string* name);
  // Fills out[0..kGpuFieldCount); a quantity the device does not report is NaN.
  int read(unsigned index, double* out);
  // NVML_GPU_UTILIZATION_SAMPLES newer than last_seen_us (NVML's CPU timestamps, µs): up to
  // capacity of them into timestamps_us/values (percent), oldest first; *written how many.
  int utilization_samples(unsigned index, unsigned long long last_seen_us, double* timestamps_us, double* values,
                          std::size_t capacity, std::size_t* written);
  // nvmlErrorString for NVML's statuses, ours for ours.
  std::string error_string(int status);

 private:
  Nvml() = default;
};

}  // namespace up::system
