// Monte Carlo on the device: the counters of cpp/risk/montecarlo.hpp, the generator of
// cpp/risk/philox.hpp, every operation through detmath (never fused), so each path's
// result is bit-identical to the CPU's. Only per-path results (S(T) or a loss) are
// written, then summarised on the device. `summary` of simulate_gbm must not be null:
// its *status comes from the summary. Every index is 64-bit (std::size_t/uint64_t
// products before they index), and every grid is capped and walked with a stride, so
// no size the raw addon accepts can wrap an index or a grid dimension.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpp/risk/detmath.hpp"
#include "cpp/risk/philox.hpp"
#include "cuda/risk/kernels.cuh"
#include "cuda/risk/gbm_layout.cuh"
#include "cuda/risk/mc_layout.cuh"
#include "cuda/risk/reduce.cuh"

namespace up::cuda {
namespace {

namespace dm = up::risk::detmath;

constexpr unsigned kBlock = 128;
// Assets up to this count get a kernel with the factor in kernel parameters and the
// draws in registers; more assets get mc_large_kernel (mc_layout.cuh).
constexpr int kSmallAssets = 8;
// The widest portfolio the device code accepts: assets^2 doubles stay far from any
// overflow (the raw addon caps assets at risk_args.hpp kMaxAssets = 4096 already).
constexpr std::size_t kMaxDeviceAssets = std::size_t{1} << 20;
// The largest grid any launch here uses; kernels walk the rest with a grid stride.
constexpr std::uint64_t kMaxGrid = 1u << 20;
// GBM dispatch (issue 19 item 11). With fewer streams than kFewStreamsPerSm per SM the
// one-thread-per-path kernel leaves most of the device idle and each thread runs steps/2
// Philox + Box-Muller draws in series; then the draws are made step-parallel over the
// whole device (gbm_draw_kernel), and only the running sums x += a + b z (one add per
// step) stay serial per path (gbm_scan_kernel). Fewer than kMinScanSteps steps leave
// nothing worth the extra pass. Both paths perform the same operations on the same
// draws, so the choice never changes a bit of the result.
constexpr std::uint64_t kFewStreamsPerSm = 512;
constexpr std::uint64_t kMinScanSteps = 64;
// Draws staged per scan chunk: steps x streams doubles, at most this many (128 MiB).
constexpr std::uint64_t kScanChunkValues = std::uint64_t{1} << 24;
// Scratch of mc_large_kernel (assets doubles per path slot): up to this many bytes, and
// never fewer than two blocks per SM when the paths need them.
constexpr std::uint64_t kLargeScratchBytes = std::uint64_t{2} << 30;

__host__ __device__ constexpr std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

// Blocks for `work` items of kBlock threads each, at most kMaxGrid.
unsigned grid_for(std::uint64_t work) {
  return static_cast<unsigned>(std::min<std::uint64_t>(kMaxGrid, std::max<std::uint64_t>(1, ceil_div(work, kBlock))));
}

// The current device's SM count (1 when it cannot be read: the launch still covers the work by striding).
unsigned sm_count() {
  int device = 0;
  int sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms < 1) {
    cudaGetLastError();  // not sticky: clear it so the next checked call does not report it
    return 1;
  }
  return static_cast<unsigned>(sms);
}

using mc::normal_pair;

using gbm::GbmArgs;
using gbm::kKeepPitch;
using gbm::kKeepSteps;

// S(T) = spot exp(x) of path p and its loss spot - S(T).
__device__ __forceinline__ void finish_path(double spot, double x, std::uint64_t p, double* terminal, double* losses) {
  const double t = gbm::price(spot, x);
  terminal[p] = t;
  losses[p] = dm::sub(spot, t);
}

// One thread per stream s: path p = s (or, with antithetic variates, paths 2s and 2s+1
// from one set of draws), streams walked with a grid stride. Writes S(T) and the loss
// spot - S(T). A non-finite S(T) needs no flag here: the tail selection reports the first one.
__global__ void __launch_bounds__(kBlock) gbm_kernel(GbmArgs g, double* terminal, double* losses) {
  const std::uint64_t streams = gbm::streams_of(g);
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * kBlock;
  for (std::uint64_t s = static_cast<std::uint64_t>(blockIdx.x) * kBlock + threadIdx.x; s < streams; s += stride) {
    const std::uint64_t p = g.antithetic ? 2 * s : s;
    double x0 = 0.0;  // scalars, not an array indexed at run time: registers
    double x1 = 0.0;
    for (std::uint64_t i = 0; i < g.steps; i += 2) {
      double z0;
      double z1;
      normal_pair(g.seed, s, i >> 1, &z0, &z1);
      gbm::step(g, z0, &x0, &x1);
      if (i + 1 < g.steps) gbm::step(g, z1, &x0, &x1);
    }
    finish_path(g.spot, x0, p, terminal, losses);
    if (g.antithetic) finish_path(g.spot, x1, p + 1, terminal, losses);
  }
}

// The same with every S(t) kept (kept: paths x (steps + 1), row-major, S(0) = spot first),
// staged through shared memory (gbm_layout.cuh) so that consecutive threads store
// consecutive addresses (a thread per row would scatter every warp store over 32 rows).
// Blocks walk the streams with a grid stride; every thread of a block takes every barrier.
__global__ void __launch_bounds__(kBlock) gbm_keep_kernel(GbmArgs g, double* terminal, double* losses, double* kept) {
  __shared__ double tile[2 * kBlock * kKeepPitch];
  const std::uint64_t streams = gbm::streams_of(g);
  const std::uint64_t pitch = g.steps + 1;
  const unsigned per = g.antithetic ? 2u : 1u;
  for (std::uint64_t base = static_cast<std::uint64_t>(blockIdx.x) * kBlock; base < streams;
       base += static_cast<std::uint64_t>(gridDim.x) * kBlock) {
    const std::uint64_t s = base + threadIdx.x;
    const bool live = s < streams;
    const std::uint64_t p = g.antithetic ? 2 * s : s;
    const std::uint64_t p0 = g.antithetic ? 2 * base : base;  // the block's first path
    const unsigned rows = static_cast<unsigned>(std::min<std::uint64_t>(kBlock, streams - base)) * per;
    double* row0 = tile + per * threadIdx.x * kKeepPitch;
    double* row1 = g.antithetic ? row0 + kKeepPitch : nullptr;
    if (live) {
      kept[p * pitch] = g.spot;
      if (g.antithetic) kept[(p + 1) * pitch] = g.spot;
    }
    double x0 = 0.0;
    double x1 = 0.0;
    for (std::uint64_t c0 = 0; c0 < g.steps; c0 += kKeepSteps) {
      const unsigned width = static_cast<unsigned>(std::min<std::uint64_t>(kKeepSteps, g.steps - c0));
      if (live) gbm::keep_steps(g, s, c0, width, row0, row1, &x0, &x1);
      __syncthreads();
      gbm::keep_flush(tile, rows, width, threadIdx.x, kBlock, kept, p0, pitch, c0);
      __syncthreads();  // the next stage overwrites the tile
    }
    if (live) {
      finish_path(g.spot, x0, p, terminal, losses);
      if (g.antithetic) finish_path(g.spot, x1, p + 1, terminal, losses);
    }
  }
}

// Few streams, many steps (item 11): the draws of steps c0 .. c0+count-1 of every stream,
// step-major (z[j * streams + s]), one thread per Philox pair over the whole device.
__global__ void __launch_bounds__(kBlock) gbm_draw_kernel(std::uint64_t seed, std::uint64_t streams,
                                                          std::uint64_t c0, std::uint64_t count, double* z) {
  const std::uint64_t pairs = streams * ((count + 1) / 2);
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * kBlock;
  for (std::uint64_t t = static_cast<std::uint64_t>(blockIdx.x) * kBlock + threadIdx.x; t < pairs; t += stride) {
    gbm::draw_pair(seed, streams, c0, count, t, z);
  }
}

// The serial part, one thread per stream: x += a + b z in order over the chunk's draws.
// With kept paths the sums overwrite the draws (and fill xs1 for the antithetic partner).
__global__ void __launch_bounds__(kBlock) gbm_scan_kernel(GbmArgs g, std::uint64_t streams, std::uint64_t count,
                                                          double* __restrict__ z, double* __restrict__ state, bool xs,
                                                          double* __restrict__ xs1) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * kBlock;
  for (std::uint64_t s = static_cast<std::uint64_t>(blockIdx.x) * kBlock + threadIdx.x; s < streams; s += stride) {
    gbm::scan_stream(g, streams, count, s, z, state, xs, xs1);
  }
}

// Kept rows of a scanned chunk (gbm_layout.cuh transpose_load/store): block (x, y) is the
// tile of steps x * kTr and streams y * kTr; blocks walk further stream tiles with a stride.
__global__ void __launch_bounds__(gbm::kTr * gbm::kTrRows)
    gbm_kept_kernel(GbmArgs g, std::uint64_t streams, std::uint64_t c0, std::uint64_t count,
                    const double* __restrict__ xs0, const double* __restrict__ xs1, double* __restrict__ kept) {
  __shared__ double tile[gbm::kTr * (gbm::kTr + 1)];
  const std::uint64_t j0 = static_cast<std::uint64_t>(blockIdx.x) * gbm::kTr;
  for (std::uint64_t s0 = static_cast<std::uint64_t>(blockIdx.y) * gbm::kTr; s0 < streams;
       s0 += static_cast<std::uint64_t>(gridDim.y) * gbm::kTr) {
    for (unsigned plane = 0; plane < (g.antithetic ? 2u : 1u); ++plane) {
      __syncthreads();  // the previous tile's readers are done
      gbm::transpose_load(plane == 0 ? xs0 : xs1, streams, count, j0, s0, threadIdx.x, threadIdx.y, tile);
      __syncthreads();
      gbm::transpose_store(g, tile, streams, c0, count, j0, s0, threadIdx.x, threadIdx.y, plane, kept);
    }
  }
}

// S(T) and the losses from the scanned sums; with kept, S(0) = spot in column 0.
__global__ void __launch_bounds__(kBlock) gbm_finish_kernel(GbmArgs g, std::uint64_t streams,
                                                            const double* __restrict__ state, double* terminal,
                                                            double* losses, double* kept) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * kBlock;
  for (std::uint64_t p = static_cast<std::uint64_t>(blockIdx.x) * kBlock + threadIdx.x; p < g.paths; p += stride) {
    finish_path(g.spot, state[gbm::state_at(g, streams, p)], p, terminal, losses);
    if (kept != nullptr) kept[p * (g.steps + 1)] = g.spot;
  }
}

template <int N>
struct SmallPortfolio {
  double lower[N * N];
  double weights[N];
  double means[N];
};

// loss = -(sum_i w_i (m_i h + root (L z)_i)), each sum in the CPU's order.
template <int N>
__device__ __forceinline__ double portfolio_loss(const double (&z)[N], const SmallPortfolio<N>& pf, double horizon,
                                                 double root) {
  double r = 0.0;
#pragma unroll
  for (int i = 0; i < N; ++i) {
    double c = 0.0;
#pragma unroll
    for (int k = 0; k <= i; ++k) c = dm::add(c, dm::mul(pf.lower[i * N + k], z[k]));  // i, k < N <= 8: no overflow
    r = dm::add(r, dm::mul(pf.weights[i], dm::add(dm::mul(pf.means[i], horizon), dm::mul(root, c))));
  }
  return -r;
}

template <int N>
__global__ void __launch_bounds__(kBlock) mc_small_kernel(SmallPortfolio<N> pf, std::uint64_t paths, double horizon,
                                                          double root, std::uint64_t seed, double* losses) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * kBlock;
  for (std::uint64_t p = static_cast<std::uint64_t>(blockIdx.x) * kBlock + threadIdx.x; p < paths; p += stride) {
    double z[N];
    mc::draw(seed, p * N, N, z, 1);
    losses[p] = portfolio_loss<N>(z, pf, horizon, root);
  }
}

// Any number of assets (mc_layout.cuh): a block takes kBlock paths at a time (grid
// stride), draws them into its slots of the assets-major scratch z (`slots` = every
// thread of the grid), then walks L in kMcRows-row tiles staged through shared memory.
// Every thread of the block takes every barrier; threads past the last path only stage.
__global__ void __launch_bounds__(kBlock) mc_large_kernel(const double* __restrict__ lower,
                                                          const double* __restrict__ weights,
                                                          const double* __restrict__ means, std::size_t assets,
                                                          std::uint64_t paths, double horizon, double root,
                                                          std::uint64_t seed, double* __restrict__ z,
                                                          double* __restrict__ losses) {
  __shared__ double ls[mc::kMcRows * mc::kMcChunk];
  const std::size_t slots = static_cast<std::size_t>(gridDim.x) * kBlock;
  const std::size_t slot = static_cast<std::size_t>(blockIdx.x) * kBlock + threadIdx.x;
  for (std::uint64_t base = static_cast<std::uint64_t>(blockIdx.x) * kBlock; base < paths; base += slots) {
    const std::uint64_t p = base + threadIdx.x;
    const bool live = p < paths;
    if (live) mc::draw(seed, p * assets, assets, z + slot, slots);
    double r = 0.0;
    for (std::size_t i0 = 0; i0 < assets; i0 += mc::kMcRows) {
      double c[mc::kMcRows];
#pragma unroll
      for (int q = 0; q < mc::kMcRows; ++q) c[q] = 0.0;
      const std::size_t kend = mc::tile_end(assets, i0);
      for (std::size_t k0 = 0; k0 < kend; k0 += mc::kMcChunk) {
        __syncthreads();  // the previous stage's readers are done
        mc::stage(lower, assets, i0, k0, ls, threadIdx.x, kBlock);
        __syncthreads();
        if (live) mc::accumulate(ls, z, slot, slots, i0, k0, mc::smaller(mc::kMcChunk, kend - k0), c);
      }
      if (live) r = mc::add_rows(weights, means, assets, i0, c, horizon, root, r);
    }
    if (live) losses[p] = -r;
  }
}

// Sums about the first value (v[0]): a constant series sums to exactly 0 and its standard
// error is exactly 0, as in lib/risk/kernels.ts (no rounded mean left behind).
struct Value {
  const double* v;
  __device__ void operator()(std::size_t i, double (&acc)[1]) const { acc[0] += v[i] - v[0]; }
};

// ((v[i] - v[0]) - sum/n)^2, with the sum read from the device after the first reduction.
struct SquaredDeviation {
  const double* v;
  const double* sum;
  double n;
  __device__ void operator()(std::size_t i, double (&acc)[1]) const {
    const double d = (v[i] - v[0]) - *sum / n;
    acc[0] += d * d;
  }
};

// GBM with antithetic variates: (pair average - mean)^2 per pair, about v[0] likewise.
struct PairDeviation {
  const double* v;
  const double* sum;
  double n;
  __device__ void operator()(std::size_t k, double (&acc)[1]) const {
    const double d = ((v[2 * k] + v[2 * k + 1]) / 2 - v[0]) - *sum / n;
    acc[0] += d * d;
  }
};

// Device buffers of a Monte Carlo summary: two sums and the reduction scratch.
struct SummaryScratch {
  DeviceBuffer sums;     // [sum, squared deviations]
  DeviceBuffer partial;  // kSumGrid doubles
  Status allocate() noexcept {
    UP_CUDA_TRY(device_malloc(&sums.ptr, 2 * sizeof(double)));
    UP_CUDA_TRY(device_malloc(&partial.ptr, kSumGrid * sizeof(double)));
    return {};
  }
};

// One call's stream and its two event pairs, the total's start already recorded.
struct CallContext {
  Stream stream;
  EventPair kernel_events;
  EventPair total_events;
  Status open() noexcept {
    UP_CUDA_TRY(cudaStreamCreateWithFlags(&stream.handle, cudaStreamNonBlocking));
    UP_CUDA_TRY(cudaEventCreate(&kernel_events.start));
    UP_CUDA_TRY(cudaEventCreate(&kernel_events.stop));
    UP_CUDA_TRY(cudaEventCreate(&total_events.start));
    UP_CUDA_TRY(cudaEventCreate(&total_events.stop));
    UP_CUDA_TRY(cudaEventRecord(total_events.start, stream.handle));
    return {};
  }
  // Fills *timing (when asked) once both stop events have been recorded and reached.
  Status read_timing(Timing* timing) const noexcept {
    if (timing == nullptr) return {};
    UP_CUDA_TRY(cudaEventElapsedTime(&timing->kernel_ms, kernel_events.start, kernel_events.stop));
    UP_CUDA_TRY(cudaEventElapsedTime(&timing->total_ms, total_events.start, total_events.stop));
    return {};
  }
};


}  // namespace

Status simulate_gbm(const up::risk::GbmParams& g, double confidence, double* terminal, double* kept,
                    McSummary* summary, std::int64_t* status, Timing* timing) noexcept {
  *status = -1;
  const std::uint64_t n = g.paths;
  const GbmArgs args{g.spot, (g.drift - 0.5 * g.volatility * g.volatility) * g.dt, g.volatility * std::sqrt(g.dt),
                     g.steps, g.paths, g.seed, g.antithetic};
  CallContext call;
  UP_CUDA_RETURN_IF_ERROR(call.open());
  const cudaStream_t stream = call.stream.handle;
  DeviceBuffer d_terminal;
  DeviceBuffer d_losses;
  DeviceBuffer d_kept;
  SummaryScratch sums;
  UP_CUDA_TRY(device_malloc(&d_terminal.ptr, n * sizeof(double)));
  UP_CUDA_TRY(device_malloc(&d_losses.ptr, n * sizeof(double)));
  if (kept != nullptr) UP_CUDA_TRY(device_malloc(&d_kept.ptr, n * (g.steps + 1) * sizeof(double)));
  UP_CUDA_RETURN_IF_ERROR(sums.allocate());

  const std::uint64_t streams = g.antithetic ? n / 2 : n;
  const unsigned sms = sm_count();
  // Few streams and many steps: step-parallel draws and a serial scan (see kFewStreamsPerSm).
  const bool scan = streams < kFewStreamsPerSm * sms && g.steps >= kMinScanSteps;
  DeviceBuffer d_z;      // scan: one chunk of draws, step-major (with kept: then the sums)
  DeviceBuffer d_xs1;    // scan with kept and antithetic variates: the partners' sums
  DeviceBuffer d_state;  // scan: the running sums x per path
  std::uint64_t chunk = 0;
  if (scan) {
    chunk = std::max<std::uint64_t>(2, kScanChunkValues / streams) & ~std::uint64_t{1};
    chunk = std::min<std::uint64_t>(chunk, (g.steps + 1) & ~std::uint64_t{1});
    UP_CUDA_TRY(device_malloc(&d_z.ptr, chunk * streams * sizeof(double)));
    if (kept != nullptr && g.antithetic) UP_CUDA_TRY(device_malloc(&d_xs1.ptr, chunk * streams * sizeof(double)));
    UP_CUDA_TRY(device_malloc(&d_state.ptr, n * sizeof(double)));
    UP_CUDA_TRY(cudaMemsetAsync(d_state.ptr, 0, n * sizeof(double), stream));  // all-zero bits: x = +0.0
  }
  UP_CUDA_TRY(cudaEventRecord(call.kernel_events.start, stream));
  if (scan) {
    double* z = d_z.as<double>();
    double* state = d_state.as<double>();
    const bool xs = kept != nullptr;
    const auto tile_rows = static_cast<unsigned>(std::min<std::uint64_t>(65535, ceil_div(streams, gbm::kTr)));
    for (std::uint64_t c0 = 0; c0 < g.steps; c0 += chunk) {
      const std::uint64_t count = std::min<std::uint64_t>(chunk, g.steps - c0);
      gbm_draw_kernel<<<grid_for(streams * ((count + 1) / 2)), kBlock, 0, stream>>>(g.seed, streams, c0, count, z);
      UP_CUDA_TRY(cudaGetLastError());
      gbm_scan_kernel<<<grid_for(streams), kBlock, 0, stream>>>(args, streams, count, z, state, xs, d_xs1.as<double>());
      UP_CUDA_TRY(cudaGetLastError());
      if (xs) {
        // count <= chunk <= kScanChunkValues: the step tiles fit grid.x.
        const dim3 tiles(static_cast<unsigned>(ceil_div(count, gbm::kTr)), tile_rows);
        gbm_kept_kernel<<<tiles, dim3(gbm::kTr, gbm::kTrRows), 0, stream>>>(args, streams, c0, count, z,
                                                                            d_xs1.as<double>(), d_kept.as<double>());
        UP_CUDA_TRY(cudaGetLastError());
      }
    }
    gbm_finish_kernel<<<grid_for(n), kBlock, 0, stream>>>(args, streams, state, d_terminal.as<double>(),
                                                          d_losses.as<double>(), d_kept.as<double>());
  } else if (kept != nullptr) {
    gbm_keep_kernel<<<grid_for(streams), kBlock, 0, stream>>>(args, d_terminal.as<double>(), d_losses.as<double>(),
                                                              d_kept.as<double>());
  } else {
    gbm_kernel<<<grid_for(streams), kBlock, 0, stream>>>(args, d_terminal.as<double>(), d_losses.as<double>());
  }
  UP_CUDA_TRY(cudaGetLastError());
  double* d_sums = sums.sums.as<double>();
  double* d_partial = sums.partial.as<double>();
  const double* t = d_terminal.as<double>();
  UP_CUDA_RETURN_IF_ERROR(device_sums<1>(n, Value{t}, d_partial, d_sums, stream));
  if (g.antithetic) {
    UP_CUDA_RETURN_IF_ERROR(device_sums<1>(n / 2, PairDeviation{t, d_sums, static_cast<double>(n)}, d_partial, d_sums + 1,
                                           stream));
  } else {
    UP_CUDA_RETURN_IF_ERROR(device_sums<1>(n, SquaredDeviation{t, d_sums, static_cast<double>(n)}, d_partial,
                                           d_sums + 1, stream));
  }
  // Waits for the stream: everything above has run when it returns.
  up::risk::TailResult tail{};
  UP_CUDA_RETURN_IF_ERROR(tail_on_device(d_losses.as<double>(), n, confidence, &tail, status, stream));
  UP_CUDA_TRY(cudaEventRecord(call.kernel_events.stop, stream));
  double host_sums[2] = {0, 0};
  UP_CUDA_TRY(timed_copy(host_sums, d_sums, sizeof(host_sums), cudaMemcpyDeviceToHost, stream));
  UP_CUDA_TRY(timed_copy(terminal, d_terminal.ptr, n * sizeof(double), cudaMemcpyDeviceToHost, stream));
  if (kept != nullptr) {
    UP_CUDA_TRY(timed_copy(kept, d_kept.ptr, n * (g.steps + 1) * sizeof(double), cudaMemcpyDeviceToHost,
                                stream));
  }
  UP_CUDA_TRY(cudaEventRecord(call.total_events.stop, stream));
  UP_CUDA_TRY(cudaStreamSynchronize(stream));
  if (*status >= 0) return call.read_timing(timing);
  const double nd = static_cast<double>(n);
  summary->var = tail.var;
  summary->cvar = tail.cvar;
  summary->mean = terminal[0] + host_sums[0] / nd;
  if (g.antithetic) {
    const double pairs = nd / 2;
    summary->std_error =
        pairs < 2 ? std::numeric_limits<double>::quiet_NaN() : std::sqrt(host_sums[1] / (pairs - 1) / pairs);
  } else {
    summary->std_error = std::sqrt(host_sums[1] / (nd - 1) / nd);
  }
  return call.read_timing(timing);
}

Status portfolio_mc(const double* weights, const double* means, const double* lower, std::size_t assets,
                    std::uint64_t paths, double horizon, std::uint64_t seed, double confidence, double* losses,
                    McSummary* summary, std::int64_t* status, Timing* timing) noexcept {
  *status = -1;
  if (assets > kMaxDeviceAssets) {  // the raw addon caps assets far below; keeps assets^2 in range regardless
    return Status{static_cast<int>(cudaErrorInvalidValue),
                  "cudaErrorInvalidValue: portfolio_mc supports at most 1048576 assets on the device"};
  }
  const double root = std::sqrt(horizon);
  CallContext call;
  UP_CUDA_RETURN_IF_ERROR(call.open());
  const cudaStream_t stream = call.stream.handle;
  DeviceBuffer d_losses;
  DeviceBuffer d_factor;   // large portfolios: lower, weights, means
  DeviceBuffer d_scratch;  // large portfolios: the draws of the paths in flight, assets-major
  SummaryScratch sums;
  UP_CUDA_TRY(device_malloc(&d_losses.ptr, paths * sizeof(double)));
  UP_CUDA_RETURN_IF_ERROR(sums.allocate());
  const unsigned grid = grid_for(paths);
  auto small = [&](auto n_const) -> Status {
    constexpr int N = decltype(n_const)::value;
    SmallPortfolio<N> pf{};
    for (int i = 0; i < N * N; ++i) pf.lower[i] = lower[i];
    for (int i = 0; i < N; ++i) {
      pf.weights[i] = weights[i];
      pf.means[i] = means[i];
    }
    UP_CUDA_TRY(cudaEventRecord(call.kernel_events.start, stream));
    mc_small_kernel<N><<<grid, kBlock, 0, stream>>>(pf, paths, horizon, root, seed, d_losses.as<double>());
    UP_CUDA_TRY(cudaGetLastError());
    return {};
  };
  switch (assets) {
    case 1: UP_CUDA_RETURN_IF_ERROR(small(std::integral_constant<int, 1>{})); break;
    case 2: UP_CUDA_RETURN_IF_ERROR(small(std::integral_constant<int, 2>{})); break;
    case 3: UP_CUDA_RETURN_IF_ERROR(small(std::integral_constant<int, 3>{})); break;
    case 4: UP_CUDA_RETURN_IF_ERROR(small(std::integral_constant<int, 4>{})); break;
    case 5: UP_CUDA_RETURN_IF_ERROR(small(std::integral_constant<int, 5>{})); break;
    case 6: UP_CUDA_RETURN_IF_ERROR(small(std::integral_constant<int, 6>{})); break;
    case 7: UP_CUDA_RETURN_IF_ERROR(small(std::integral_constant<int, 7>{})); break;
    case kSmallAssets: UP_CUDA_RETURN_IF_ERROR(small(std::integral_constant<int, kSmallAssets>{})); break;
    default: {
      const std::size_t a = assets;
      UP_CUDA_TRY(device_malloc(&d_factor.ptr, (a * a + 2 * a) * sizeof(double)));
      double* f = d_factor.as<double>();
      UP_CUDA_TRY(timed_copy(f, lower, a * a * sizeof(double), cudaMemcpyHostToDevice, stream));
      UP_CUDA_TRY(timed_copy(f + a * a, weights, a * sizeof(double), cudaMemcpyHostToDevice, stream));
      UP_CUDA_TRY(timed_copy(f + a * a + a, means, a * sizeof(double), cudaMemcpyHostToDevice, stream));
      // Enough blocks to fill every SM (the occupancy API's blocks per SM), no more than
      // the paths need, and the assets-major draw scratch (kBlock x assets doubles a
      // block) within kLargeScratchBytes, yet never fewer than two blocks per SM.
      const unsigned sms = sm_count();
      int per_sm = 0;
      if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, mc_large_kernel, kBlock, 0) != cudaSuccess ||
          per_sm < 1) {
        cudaGetLastError();
        per_sm = 2;
      }
      const std::uint64_t block_bytes = std::uint64_t{kBlock} * a * sizeof(double);
      const std::uint64_t by_memory = std::max<std::uint64_t>(2ull * sms, kLargeScratchBytes / block_bytes);
      const std::uint64_t blocks = std::max<std::uint64_t>(
          1, std::min({ceil_div(paths, kBlock), std::uint64_t{sms} * static_cast<unsigned>(per_sm), by_memory, kMaxGrid}));
      UP_CUDA_TRY(device_malloc(&d_scratch.ptr, blocks * block_bytes));
      UP_CUDA_TRY(cudaEventRecord(call.kernel_events.start, stream));
      mc_large_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, stream>>>(
          f, f + a * a, f + a * a + a, a, paths, horizon, root, seed, d_scratch.as<double>(), d_losses.as<double>());
      UP_CUDA_TRY(cudaGetLastError());
    }
  }
  double* d_sums = sums.sums.as<double>();
  double* d_partial = sums.partial.as<double>();
  const double* l = d_losses.as<double>();
  up::risk::TailResult tail{};
  if (summary != nullptr) {
    UP_CUDA_RETURN_IF_ERROR(device_sums<1>(paths, Value{l}, d_partial, d_sums, stream));
    UP_CUDA_RETURN_IF_ERROR(device_sums<1>(paths, SquaredDeviation{l, d_sums, static_cast<double>(paths)}, d_partial,
                                           d_sums + 1, stream));
    // Waits for the stream: everything above has run when it returns.
    UP_CUDA_RETURN_IF_ERROR(tail_on_device(l, paths, confidence, &tail, status, stream));
  }
  UP_CUDA_TRY(cudaEventRecord(call.kernel_events.stop, stream));
  double host_sums[2] = {0, 0};
  double first = 0;
  if (summary != nullptr) {
    UP_CUDA_TRY(timed_copy(host_sums, d_sums, sizeof(host_sums), cudaMemcpyDeviceToHost, stream));
    UP_CUDA_TRY(timed_copy(&first, l, sizeof(double), cudaMemcpyDeviceToHost, stream));
  }
  if (losses != nullptr) {
    UP_CUDA_TRY(timed_copy(losses, l, paths * sizeof(double), cudaMemcpyDeviceToHost, stream));
  }
  UP_CUDA_TRY(cudaEventRecord(call.total_events.stop, stream));
  UP_CUDA_TRY(cudaStreamSynchronize(stream));
  if (summary != nullptr && *status < 0) {
    const double nd = static_cast<double>(paths);
    summary->var = tail.var;
    summary->cvar = tail.cvar;
    summary->mean = -(first + host_sums[0] / nd);
    summary->std_error = std::sqrt(host_sums[1] / (nd - 1) / nd);
  }
  return call.read_timing(timing);
}

}  // namespace up::cuda
