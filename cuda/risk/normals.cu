#include <cuda_runtime.h>

#include "cpp/risk/philox.hpp"
#include "cuda/risk/normals.cuh"

namespace up::cuda {
namespace {

// One thread per normal: simple and exactly the CPU's indexing. The Monte Carlo kernels
// will draw in registers instead of writing normals to memory.
__global__ void normals_kernel(double* out, std::size_t n, std::uint64_t seed, std::uint64_t stream,
                               std::uint64_t first) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j < n) out[j] = up::risk::philox_normal(seed, stream, first + j);
}


}  // namespace

Status philox_normals(double* out, std::size_t n, std::uint64_t seed, std::uint64_t stream, std::uint64_t first) noexcept {
  if (n == 0) return {};
  DeviceBuffer buf;
  UP_CUDA_TRY(device_malloc(&buf.ptr, sizeof(double) * n));
  const unsigned block = 256;
  const auto grid = static_cast<unsigned>((n + block - 1) / block);
  normals_kernel<<<grid, block>>>(static_cast<double*>(buf.ptr), n, seed, stream, first);
  UP_CUDA_TRY(cudaGetLastError());
  UP_CUDA_TRY(cudaMemcpy(out, buf.ptr, sizeof(double) * n, cudaMemcpyDeviceToHost));
  return {};
}

}  // namespace up::cuda
