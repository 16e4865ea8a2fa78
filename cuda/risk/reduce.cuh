// Deterministic float64 sums on the device. The grid is fixed (kSumGrid blocks of
// kSumBlock threads, grid-stride), each block reduces in a fixed tree and the block
// partials are added in block order by one block: the same input gives the same bits on
// every run and every GPU, whatever the scheduling. No atomics on doubles anywhere.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/check.cuh"

namespace up::cuda {

inline constexpr unsigned kSumBlock = 256;
inline constexpr unsigned kSumGrid = 528;  // 4 blocks per SM on a 132-SM H100: one wave

// K running sums; a Term adds element i's contributions: term(i, acc).
template <int K>
struct Sums {
  double v[K];
};

template <int K>
__device__ __forceinline__ void block_reduce(double (&acc)[K], double* shared /* K * kSumBlock */) {
  const unsigned t = threadIdx.x;
  for (int k = 0; k < K; ++k) shared[k * kSumBlock + t] = acc[k];
  __syncthreads();
  for (unsigned width = kSumBlock / 2; width > 0; width >>= 1) {
    if (t < width) {
      for (int k = 0; k < K; ++k) shared[k * kSumBlock + t] += shared[k * kSumBlock + t + width];
    }
    __syncthreads();
  }
  for (int k = 0; k < K; ++k) acc[k] = shared[k * kSumBlock];
}

template <int K, class Term>
__global__ void __launch_bounds__(kSumBlock) partial_sums_kernel(std::size_t n, Term term, double* partials) {
  __shared__ double shared[K * kSumBlock];
  double acc[K];
  for (int k = 0; k < K; ++k) acc[k] = 0.0;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kSumBlock;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kSumBlock + threadIdx.x; i < n; i += stride) term(i, acc);
  block_reduce<K>(acc, shared);
  if (threadIdx.x == 0) {
    for (int k = 0; k < K; ++k) partials[k * gridDim.x + blockIdx.x] = acc[k];
  }
}

template <int K>
__global__ void __launch_bounds__(kSumBlock) final_sums_kernel(const double* partials, unsigned count, double* out) {
  __shared__ double shared[K * kSumBlock];
  double acc[K];
  for (int k = 0; k < K; ++k) acc[k] = 0.0;
  for (unsigned i = threadIdx.x; i < count; i += kSumBlock) {
    for (int k = 0; k < K; ++k) acc[k] += partials[k * count + i];
  }
  block_reduce<K>(acc, shared);
  if (threadIdx.x == 0) {
    for (int k = 0; k < K; ++k) out[k] = acc[k];
  }
}

// Sums of term over i in [0, n) into device memory `d_out` (K doubles). `d_scratch`
// holds K * kSumGrid doubles. Enqueued on `stream`; nothing waits.
template <int K, class Term>
Status device_sums(std::size_t n, Term term, double* d_scratch, double* d_out, cudaStream_t stream) noexcept {
  partial_sums_kernel<K><<<kSumGrid, kSumBlock, 0, stream>>>(n, term, d_scratch);
  UP_CUDA_TRY(cudaGetLastError());
  final_sums_kernel<K><<<1, kSumBlock, 0, stream>>>(d_scratch, kSumGrid, d_out);
  UP_CUDA_TRY(cudaGetLastError());
  return {};
}

}  // namespace up::cuda
