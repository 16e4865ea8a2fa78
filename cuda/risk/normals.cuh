// Philox normals on the device from the same header the CPU backends use
// (cpp/risk/philox.hpp): the seam the GPU risk kernels build on, and the check that
// normal i of (seed, stream) is the same double on the GPU as in C++ and TS.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/check.cuh"

namespace up::cuda {

// Normals first .. first+n-1 of (seed, stream) into host memory `out`.
Status philox_normals(double* out, std::size_t n, std::uint64_t seed, std::uint64_t stream, std::uint64_t first) noexcept;

}  // namespace up::cuda
