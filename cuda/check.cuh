// One way to call the CUDA runtime: every call goes through UP_CUDA_TRY, which turns a
// failure into a Status naming the error, its message and file:line, and clears the
// sticky error so the next call starts clean. Nothing here throws or aborts.
#pragma once

#include <cuda_runtime_api.h>

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
};

}  // namespace up::cuda

#define UP_CUDA_TRY(call)                                                              \
  do {                                                                                 \
    const cudaError_t up_cuda_err_ = (call);                                           \
    if (up_cuda_err_ != cudaSuccess)                                                   \
      return ::up::cuda::make_status(up_cuda_err_, #call, __FILE__, __LINE__);         \
  } while (0)
