#include "nvml.hpp"

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

namespace up::system {
namespace {

// The documented NVML types this file needs (nvml.h, NVML API Reference); nothing else.
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
using nvmlReturn_t = int;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
union nvmlValue_t {
  double dVal;
  unsigned int uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  signed long long sllVal;
  signed int siVal;
  unsigned short usVal;
};
struct nvmlSample_t {
  unsigned long long timeStamp;
  nvmlValue_t sampleValue;
};
constexpr int kTemperatureGpu = 0;  // NVML_TEMPERATURE_GPU
constexpr int kClockGraphics = 0;   // NVML_CLOCK_GRAPHICS, then SM, MEM, VIDEO
constexpr int kGpuUtilizationSamples = 1;  // NVML_GPU_UTILIZATION_SAMPLES
constexpr unsigned kNameBufferSize = 96;   // NVML_DEVICE_NAME_V2_BUFFER_SIZE

struct Api {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*shutdown)();
  const char* (*error_string)(nvmlReturn_t);
  nvmlReturn_t (*count)(unsigned int*);
  nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t*);
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int);
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*);
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned int*);
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*clock)(nvmlDevice_t, int, unsigned int*);
  // Optional: a driver without it still reports everything else.
  nvmlReturn_t (*samples)(nvmlDevice_t, int, unsigned long long, int*, unsigned int*, nvmlSample_t*);
};

struct State {
  std::mutex mutex;  // open/close and every call: close() must not dlclose under a reader
  void* library = nullptr;
  int users = 0;  // open() calls not yet closed: monitors on any thread (workers included) share one session
  std::string path;
  Api api{};
};

State& state() {
  static State s;
  return s;
}

#if !defined(_WIN32)
template <typename F>
bool resolve(void* library, const char* symbol, F* out) {
  *out = reinterpret_cast<F>(dlsym(library, symbol));
  return *out != nullptr;
}
#endif

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Unsupported or forbidden quantities read as NaN; any other failure is the call's status.
bool tolerated(nvmlReturn_t status) {
  return status == kNvmlErrorNotSupported || status == kNvmlErrorNoPermission;
}

double sample_value(int type, const nvmlValue_t& v) {
  switch (type) {
    case 0: return v.dVal;
    case 1: return static_cast<double>(v.uiVal);
    case 2: return static_cast<double>(v.ulVal);
    case 3: return static_cast<double>(v.ullVal);
    case 4: return static_cast<double>(v.sllVal);
    case 5: return static_cast<double>(v.siVal);
    case 6: return static_cast<double>(v.usVal);
    default: return kNaN;
  }
}

}  // namespace

Nvml& Nvml::instance() {
  static Nvml nvml;
  return nvml;
}

std::string Nvml::open(const std::string& path) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.library != nullptr) {
    if (s.path != path) return "NVML is already open from " + s.path + "; close it before opening " + path;
    ++s.users;
    return "";
  }
#if defined(_WIN32)
  return "NVML is read through dlopen, which this Windows build does not have (" + path + " not opened)";
#else
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    return path + " not found: " + (why != nullptr ? why : "dlopen failed");
  }
  Api api{};
  const char* missing = nullptr;
  if (!resolve(library, "nvmlInit_v2", &api.init)) missing = "nvmlInit_v2";
  else if (!resolve(library, "nvmlShutdown", &api.shutdown)) missing = "nvmlShutdown";
  else if (!resolve(library, "nvmlErrorString", &api.error_string)) missing = "nvmlErrorString";
  else if (!resolve(library, "nvmlDeviceGetCount_v2", &api.count)) missing = "nvmlDeviceGetCount_v2";
  else if (!resolve(library, "nvmlDeviceGetHandleByIndex_v2", &api.handle)) missing = "nvmlDeviceGetHandleByIndex_v2";
  else if (!resolve(library, "nvmlDeviceGetName", &api.name)) missing = "nvmlDeviceGetName";
  else if (!resolve(library, "nvmlDeviceGetUtilizationRates", &api.utilization)) missing = "nvmlDeviceGetUtilizationRates";
  else if (!resolve(library, "nvmlDeviceGetMemoryInfo", &api.memory)) missing = "nvmlDeviceGetMemoryInfo";
  else if (!resolve(library, "nvmlDeviceGetTemperature", &api.temperature)) missing = "nvmlDeviceGetTemperature";
  else if (!resolve(library, "nvmlDeviceGetPowerUsage", &api.power)) missing = "nvmlDeviceGetPowerUsage";
  else if (!resolve(library, "nvmlDeviceGetClockInfo", &api.clock)) missing = "nvmlDeviceGetClockInfo";
  if (missing != nullptr) {
    dlclose(library);
    return path + " has no " + missing + ": it is not a usable libnvidia-ml";
  }
  resolve(library, "nvmlDeviceGetSamples", &api.samples);
  const nvmlReturn_t status = api.init();
  if (status != kNvmlSuccess) {
    const char* text = api.error_string(status);
    std::string why = "nvmlInit_v2 failed: " + std::string(text != nullptr ? text : "unknown error") +
                      " (NVML error " + std::to_string(status) + ")";
    dlclose(library);
    return why;
  }
  s.library = library;
  s.users = 1;
  s.path = path;
  s.api = api;
  return "";
#endif
}

void Nvml::close() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.library == nullptr || --s.users > 0) return;
  s.api.shutdown();
#if !defined(_WIN32)
  dlclose(s.library);
#endif
  s.library = nullptr;
  s.path.clear();
  s.api = Api{};
}

bool Nvml::is_open() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.library != nullptr;
}

std::string Nvml::path() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.path;
}

int Nvml::device_count(unsigned* count) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.library == nullptr) return kNvmlNotOpen;
  return s.api.count(count);
}

int Nvml::device_name(unsigned index, std::string* name) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.library == nullptr) return kNvmlNotOpen;
  nvmlDevice_t device = nullptr;
  if (const nvmlReturn_t status = s.api.handle(index, &device); status != kNvmlSuccess) return status;
  char buffer[kNameBufferSize] = {};
  if (const nvmlReturn_t status = s.api.name(device, buffer, kNameBufferSize); status != kNvmlSuccess) return status;
  buffer[kNameBufferSize - 1] = '\0';  // a driver that fills the buffer must not run us off its end
  *name = buffer;
  return kNvmlSuccess;
}

int Nvml::read(unsigned index, double* out) {
  std::fill(out, out + kGpuFieldCount, kNaN);
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.library == nullptr) return kNvmlNotOpen;
  nvmlDevice_t device = nullptr;
  if (const nvmlReturn_t status = s.api.handle(index, &device); status != kNvmlSuccess) return status;
  nvmlReturn_t first_error = kNvmlSuccess;
  const auto note = [&](nvmlReturn_t status) {
    if (status != kNvmlSuccess && !tolerated(status) && first_error == kNvmlSuccess) first_error = status;
    return status == kNvmlSuccess;
  };
  nvmlUtilization_t utilization{};
  if (note(s.api.utilization(device, &utilization))) {
    out[kGpuUtilizationPercent] = utilization.gpu;
    out[kGpuMemoryUtilizationPercent] = utilization.memory;
  }
  nvmlMemory_t memory{};
  if (note(s.api.memory(device, &memory))) {
    out[kGpuMemoryTotalBytes] = static_cast<double>(memory.total);
    out[kGpuMemoryUsedBytes] = static_cast<double>(memory.used);
    out[kGpuMemoryFreeBytes] = static_cast<double>(memory.free);
  }
  unsigned int value = 0;
  if (note(s.api.temperature(device, kTemperatureGpu, &value))) out[kGpuTemperatureC] = value;
  if (note(s.api.power(device, &value))) out[kGpuPowerW] = value / 1000.0;  // NVML reports milliwatts
  for (int clock = 0; clock < 4; ++clock) {
    if (note(s.api.clock(device, kClockGraphics + clock, &value))) out[kGpuClockGraphicsMhz + clock] = value;
  }
  return first_error;
}

int Nvml::utilization_samples(unsigned index, unsigned long long last_seen_us, double* timestamps_us, double* values,
                              std::size_t capacity, std::size_t* written) {
  *written = 0;
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.library == nullptr) return kNvmlNotOpen;
  if (s.api.samples == nullptr) return kNvmlFunctionMissing;
  nvmlDevice_t device = nullptr;
  if (const nvmlReturn_t status = s.api.handle(index, &device); status != kNvmlSuccess) return status;
  int type = 0;
  unsigned int count = 0;
  nvmlReturn_t status = s.api.samples(device, kGpuUtilizationSamples, last_seen_us, &type, &count, nullptr);
  if (status == kNvmlErrorNotFound) return kNvmlSuccess;  // no sample newer than last_seen_us
  if (status != kNvmlSuccess) return status;
  std::vector<nvmlSample_t> samples(count);
  status = s.api.samples(device, kGpuUtilizationSamples, last_seen_us, &type, &count, samples.data());
  if (status == kNvmlErrorNotFound) return kNvmlSuccess;
  if (status != kNvmlSuccess) return status;
  samples.resize(std::min<std::size_t>(count, samples.size()));
  // The driver's buffer is circular: order by time, keep the newest `capacity`.
  std::sort(samples.begin(), samples.end(),
            [](const nvmlSample_t& a, const nvmlSample_t& b) { return a.timeStamp < b.timeStamp; });
  std::size_t first = 0;
  while (first < samples.size() && samples[first].timeStamp <= last_seen_us) ++first;
  if (samples.size() - first > capacity) first = samples.size() - capacity;
  for (std::size_t i = first; i < samples.size(); ++i) {
    timestamps_us[*written] = static_cast<double>(samples[i].timeStamp);
    values[*written] = sample_value(type, samples[i].sampleValue);
    ++*written;
  }
  return kNvmlSuccess;
}

std::string Nvml::error_string(int status) {
  if (status == kNvmlNotOpen) return "NVML is not open";
  if (status == kNvmlFunctionMissing) return "this libnvidia-ml has no nvmlDeviceGetSamples";
  State& s = state();
  std::lock_guard lock(s.mutex);
  const char* text = s.library != nullptr ? s.api.error_string(status) : nullptr;
  return std::string(text != nullptr ? text : "NVML error") + " (NVML error " + std::to_string(status) + ")";
}

}  // namespace up::system
