// One way to call the CUDA runtime: every call goes through UP_CUDA_TRY, which turns a
// failure into a Status naming the error, its message and file:line, and resets the
// runtime's last error so that a recoverable failure (out of memory, a bad launch
// configuration) does not leak into the next call. A sticky fault (is_sticky: an illegal
// address, a launch failure...) cannot be cleared: the context is unusable and every later
// CUDA call in the process fails, so the first one is recorded (device_fault()) and the
// addon refuses later GPU work with it instead of failing each call. Nothing here throws
// or aborts.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace up::cuda {

struct Status {
  int code = 0;  // cudaError_t value; 0 is success
  std::string message;
  bool ok() const noexcept { return code == 0; }
};

// The errors after which "any further CUDA work will return the same error" and "the process
// must be terminated and relaunched" (driver_types.h): numbers, not names, because
// cudaErrorContained and cudaErrorTensorMemoryLeak are newer than some toolkits we build with.
constexpr bool is_sticky(int code) noexcept {
  switch (code) {
    case 214:  // cudaErrorECCUncorrectable
    case 226:  // cudaErrorContained
    case 700:  // cudaErrorIllegalAddress
    case 702:  // cudaErrorLaunchTimeout
    case 710:  // cudaErrorAssert
    case 714:  // cudaErrorHardwareStackError
    case 715:  // cudaErrorIllegalInstruction
    case 716:  // cudaErrorMisalignedAddress
    case 717:  // cudaErrorInvalidAddressSpace
    case 718:  // cudaErrorInvalidPc
    case 719:  // cudaErrorLaunchFailure
    case 721:  // cudaErrorTensorMemoryLeak
    case 810:  // cudaErrorMpsClientTerminated
    case 911:  // cudaErrorExternalDevice
      return true;
    default:
      return false;
  }
}

// The first sticky fault of the process (code 0: none yet).
struct FaultSlot {
  std::mutex mutex;
  Status status;
  std::atomic<bool> set{false};
};
inline FaultSlot fault_slot;

// Records `s` when it is the first sticky fault; later ones keep the first.
inline void note_fault(const Status& s) {
  if (!is_sticky(s.code) || fault_slot.set.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(fault_slot.mutex);
  if (fault_slot.set.load(std::memory_order_relaxed)) return;
  fault_slot.status = s;
  fault_slot.set.store(true, std::memory_order_release);
}

// The first sticky fault (ok() when there was none): GPU work must not be tried after one.
inline Status device_fault() {
  if (!fault_slot.set.load(std::memory_order_acquire)) return {};
  std::lock_guard<std::mutex> lock(fault_slot.mutex);
  return fault_slot.status;
}

inline Status make_status(cudaError_t err, const char* expr, const char* file, int line) {
  // Resets the last error after a recoverable failure; a sticky one stays (note_fault below).
  cudaGetLastError();
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
  Status s{static_cast<int>(err), std::move(msg)};
  note_fault(s);
  return s;
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

// The host<->device copies of one call, each between its own pair of events, so that
// their device time can be summed apart from the kernels and from host work between them.
struct CopyLog {
  std::vector<cudaEvent_t> events;  // start, stop, start, stop...
  CopyLog() = default;
  CopyLog(const CopyLog&) = delete;
  CopyLog& operator=(const CopyLog&) = delete;
  ~CopyLog() {
    for (cudaEvent_t e : events) cudaEventDestroy(e);
  }
  // The copies' device time; call once the work they were recorded on has completed.
  cudaError_t elapsed_ms(float* ms) const noexcept {
    *ms = 0;
    for (std::size_t i = 0; i + 1 < events.size(); i += 2) {
      float one = 0;
      if (const cudaError_t e = cudaEventElapsedTime(&one, events[i], events[i + 1]); e != cudaSuccess) return e;
      *ms += one;
    }
    return cudaSuccess;
  }
};

// The log the calling thread's current GPU call records its copies in (cuda/napi/addon.cc
// on_device sets it for one call; null: copies are not timed). A call runs on one thread.
inline thread_local CopyLog* current_copy_log = nullptr;

// Records a pair of events around `copy` on `stream` in the current log, when there is one.
template <class Copy>
cudaError_t timed(cudaStream_t stream, Copy copy) noexcept {
  CopyLog* log = current_copy_log;
  if (log == nullptr) return copy();
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  if (cudaError_t e = cudaEventCreate(&start); e != cudaSuccess) return e;
  if (cudaError_t e = cudaEventCreate(&stop); e != cudaSuccess) {
    cudaEventDestroy(start);
    return e;
  }
  try {
    log->events.push_back(start);
    log->events.push_back(stop);
  } catch (...) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return cudaErrorMemoryAllocation;
  }
  if (cudaError_t e = cudaEventRecord(start, stream); e != cudaSuccess) return e;
  if (cudaError_t e = copy(); e != cudaSuccess) return e;
  return cudaEventRecord(stop, stream);
}

// cudaMemcpyAsync and cudaMemcpy2DAsync, timed into the current call's CopyLog. Every
// host<->device copy of a risk kernel goes through one of these.
inline cudaError_t timed_copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                              cudaStream_t stream) noexcept {
  return timed(stream, [&] { return cudaMemcpyAsync(dst, src, bytes, kind, stream); });
}
inline cudaError_t timed_copy_2d(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                                 std::size_t height, cudaMemcpyKind kind, cudaStream_t stream) noexcept {
  return timed(stream, [&] { return cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, kind, stream); });
}

// Time of the last GPU risk call (lib/risk/gpu.ts GpuTiming): device time from CUDA events
// and the host's wall clock around the whole call.
struct Timing {
  float kernel_ms = 0;  // device: kernels only, first kernel launch to last kernel end
  float total_ms = 0;   // device: first copy in to last copy out, host work between them included
  float copy_ms = 0;    // device: the host<->device copies, summed (CopyLog)
  double wall_ms = 0;   // host: the whole call, allocation and synchronisation included
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
