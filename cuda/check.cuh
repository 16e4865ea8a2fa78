// One way to call the CUDA runtime: every call goes through UP_CUDA_TRY, which turns a
// failure into a Status naming the error, its message and file:line, and clears the
// sticky error so the next call starts clean. Nothing here throws or aborts.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <string>

namespace up::cuda {

struct Status {
  int code = 0;  // cudaError_t value; 0 is success
  std::string message;
  bool ok() const noexcept { return code == 0; }
};

inline Status make_status(cudaError_t err, const char* expr, const char* file, int line) {
  cudaGetLastError();  // clear the error so it does not leak into the next call
  std::string msg = cudaGetErrorName(err);
  msg += ": ";
  msg += cudaGetErrorString(err);
  msg += " (";
  msg += expr;
  msg += " at ";
  msg += file;
  msg += ":";
  msg += std::to_string(line);
  msg += ")";
  return Status{static_cast<int>(err), std::move(msg)};
}

// Test hook (cudaAddon.failAllocation): when >= 0, the allocation that many calls from
// now fails with cudaErrorMemoryAllocation, so the device tests can walk every error
// path of a kernel and check that nothing leaks. -1 (the default) disables it.
inline std::atomic<long> fail_allocation_after{-1};

// cudaMalloc, through the test hook above. Every device allocation goes through here.
inline cudaError_t device_malloc(void** ptr, std::size_t bytes) {
  long left = fail_allocation_after.load(std::memory_order_relaxed);
  while (left >= 0) {
    if (fail_allocation_after.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
      if (left == 0) return cudaErrorMemoryAllocation;
      break;
    }
  }
  return cudaMalloc(ptr, bytes);
}

// Device memory released on every path out of a function, including early returns
// from UP_CUDA_TRY.
struct DeviceBuffer {
  void* ptr = nullptr;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr != nullptr) cudaFree(ptr);
  }
  template <class T>
  T* as() const noexcept {
    return static_cast<T*>(ptr);
  }
};

// A non-blocking stream, destroyed on every path out.
struct Stream {
  cudaStream_t handle = nullptr;
  Stream() = default;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    if (handle != nullptr) cudaStreamDestroy(handle);
  }
};

// A pair of events around device work: elapsed() is the device time between them.
struct EventPair {
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  EventPair() = default;
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  ~EventPair() {
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
  }
};

// Device time of the last GPU risk call on this host thread, from CUDA events.
struct Timing {
  float kernel_ms = 0;  // kernels only, first kernel launch to last kernel end
  float total_ms = 0;   // first copy in to last copy out
};

}  // namespace up::cuda

#define UP_CUDA_TRY(call)                                                              \
  do {                                                                                 \
    const cudaError_t up_cuda_err_ = (call);                                           \
    if (up_cuda_err_ != cudaSuccess)                                                   \
      return ::up::cuda::make_status(up_cuda_err_, #call, __FILE__, __LINE__);         \
  } while (0)

// Propagates a failed Status from a helper that already named its CUDA call.
#define UP_CUDA_RETURN_IF_ERROR(expr)                                                  \
  do {                                                                                 \
    ::up::cuda::Status up_cuda_status_ = (expr);                                       \
    if (!up_cuda_status_.ok()) return up_cuda_status_;                                 \
  } while (0)
