#include <cuda_runtime.h>

#include <atomic>
#include <vector>

#include "device.cuh"

namespace up::cuda {
namespace {

__global__ void iota_squared(int n, double* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = static_cast<double>(i) * static_cast<double>(i);
}


// The device selectDevice() chose, for every host thread: cudaSetDevice is per thread
// and async work runs on libuv's pool threads.
std::atomic<int> selected_device{0};

}  // namespace

Versions versions() noexcept {
  Versions v;
  cudaRuntimeGetVersion(&v.runtime);
  if (cudaDriverGetVersion(&v.driver) != cudaSuccess) v.driver = 0;
  cudaGetLastError();
  return v;
}

Status device_count(int& count) noexcept {
  count = 0;
  UP_CUDA_TRY(cudaGetDeviceCount(&count));
  return {};
}

Status device_properties(int index, DeviceProps& out) noexcept {
  cudaDeviceProp prop{};
  UP_CUDA_TRY(cudaGetDeviceProperties(&prop, index));
  out.index = index;
  out.name = prop.name;
  out.total_memory = prop.totalGlobalMem;
  out.major = prop.major;
  out.minor = prop.minor;
  out.multiprocessors = prop.multiProcessorCount;
  out.memory_bus_width = prop.memoryBusWidth;
  char bus[32] = {};
  if (cudaDeviceGetPCIBusId(bus, sizeof(bus), index) == cudaSuccess) out.pci_bus_id = bus;
  cudaGetLastError();
  return {};
}

Status list_devices(std::vector<DeviceProps>& out) noexcept {
  out.clear();
  int count = 0;
  if (Status s = device_count(count); !s.ok()) return s;
  for (int i = 0; i < count; ++i) {
    DeviceProps p;
    if (Status s = device_properties(i, p); !s.ok()) return s;
    out.push_back(std::move(p));
  }
  return {};
}

Status select_device(int index) noexcept {
  UP_CUDA_TRY(cudaSetDevice(index));
  selected_device.store(index, std::memory_order_relaxed);
  return {};
}

Status use_selected_device() noexcept {
  UP_CUDA_TRY(cudaSetDevice(selected_device.load(std::memory_order_relaxed)));
  return {};
}

Status current_device(int& index) noexcept {
  UP_CUDA_TRY(cudaGetDevice(&index));
  return {};
}

Status memory_info(std::size_t& free_bytes, std::size_t& total_bytes) noexcept {
  UP_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {};
}

Status self_test(int n) noexcept {
  if (n <= 0) return Status{static_cast<int>(cudaErrorInvalidValue), "self_test: n must be positive"};
  DeviceBuffer buf;
  UP_CUDA_TRY(device_malloc(&buf.ptr, sizeof(double) * static_cast<std::size_t>(n)));
  const int block = 256;
  iota_squared<<<(n + block - 1) / block, block>>>(n, static_cast<double*>(buf.ptr));
  UP_CUDA_TRY(cudaGetLastError());
  std::vector<double> host(static_cast<std::size_t>(n));
  UP_CUDA_TRY(cudaMemcpy(host.data(), buf.ptr, sizeof(double) * host.size(), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    if (host[static_cast<std::size_t>(i)] != static_cast<double>(i) * static_cast<double>(i)) {
      return Status{-1, "self_test: kernel output mismatch at index " + std::to_string(i)};
    }
  }
  return {};
}

}  // namespace up::cuda
