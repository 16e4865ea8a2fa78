// GPU risk kernels: the contracts of cpp/risk (var.hpp, matrix.hpp, montecarlo.hpp)
// computed on the current device. Host pointers in and out; device memory is owned by
// each call and released on every path. The returned Status says whether the device
// did its part (an error names the CUDA call, its message and file:line); *status is
// the domain result exactly as the CPU function returns it (-1 ok, >= 0 the first
// non-finite input index, matrix.hpp's kZeroVariance - k). No N-API here.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "cpp/risk/matrix.hpp"
#include "cpp/risk/montecarlo.hpp"
#include "cpp/risk/var.hpp"
#include "cuda/check.cuh"

namespace up::cuda {

// var.hpp historical_tail(). The values are copied in chunks on two streams, each chunk
// scanned while the next one copies; only the losses at or above a threshold taken from
// a strided sample (the tail and a margin) stay on the device, and radix selection over
// them finds the quantile (never a sort). Agrees with the CPU to rounding of the CVaR sum,
// which is var.hpp's tail_mean() too, so CVaR >= VaR on the device as well.
Status historical_tail(const double* values, std::size_t n, double sign, double confidence,
                       up::risk::TailResult* out, std::int64_t* status, Timing* timing) noexcept;

// The same over n losses already on the device (sign applied), enqueued on `stream`;
// returns once *out is on the host. d_losses is not modified.
Status tail_on_device(const double* d_losses, std::size_t n, double confidence, up::risk::TailResult* out,
                      std::int64_t* status, cudaStream_t stream) noexcept;

// var.hpp loss_moments(): two passes over the values on the device; ddof as there.
Status loss_moments(const double* values, std::size_t n, double sign, int ddof, up::risk::Moments* out,
                    std::int64_t* status, Timing* timing) noexcept;

// var.hpp portfolio_returns(): one row per thread, assets summed in order.
Status portfolio_returns(const double* returns, std::size_t observations, std::size_t assets, const double* weights,
                         double* out, std::int64_t* status, Timing* timing) noexcept;

// matrix.hpp covariance(): centring (or EWMA weighting) on the device, then a tiled
// shared-memory SYRK in float64 over the upper triangle of tiles, mirrored. Up to 32
// assets the data is padded to the next power of two only (not to the 128-wide tile)
// and a narrow SYRK reduces over the observations (narrow_syrk.cuh).
Status covariance(const double* data, std::size_t observations, std::size_t assets, up::risk::CovMethod method,
                  double lambda, bool correlation, double* out, std::int64_t* status, Timing* timing) noexcept;

// What a Monte Carlo call reduces to on the device.
struct McSummary {
  double var = 0;
  double cvar = 0;
  double mean = 0;       // GBM: mean S(T); portfolio: mean return w.x (= -mean loss)
  double std_error = 0;  // of `mean` (GBM with antithetic: from pair averages)
};

// montecarlo.hpp simulate_gbm(): one thread per path (per pair with antithetic variates),
// draws in registers; kept rows are staged in shared memory and written coalesced. With
// few paths (fewer than 512 streams per SM) and at least 64 steps, the draws are made
// step-parallel and only the running sums stay serial per path (same bits either way).
// terminal (paths) comes back; kept (paths x (steps + 1)) only when not null. The loss
// spot - S(T) is summarised at `confidence` on the device.
// *status: -1, or the index of the first path whose S(T) is not finite.
Status simulate_gbm(const up::risk::GbmParams& params, double confidence, double* terminal, double* kept,
                    McSummary* summary, std::int64_t* status, Timing* timing) noexcept;

// montecarlo.hpp portfolio_mc_losses(): one thread per path; up to 8 assets the factor is
// a kernel parameter and the draws stay in registers, wider portfolios keep the draws
// assets-major in device scratch and stage the factor through shared memory
// (mc_layout.cuh), on a grid sized from the SM count and the occupancy API. losses
// (paths) come back only when not null; summary (when not null) is computed on the device.
Status portfolio_mc(const double* weights, const double* means, const double* lower, std::size_t assets,
                    std::uint64_t paths, double horizon, std::uint64_t seed, double confidence, double* losses,
                    McSummary* summary, std::int64_t* status, Timing* timing) noexcept;

}  // namespace up::cuda
