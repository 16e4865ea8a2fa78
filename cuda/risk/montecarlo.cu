// Monte Carlo on the device: the counters of cpp/risk/montecarlo.hpp, the generator of
// cpp/risk/philox.hpp, every operation through detmath (never fused), so each path's
// result is bit-identical to the CPU's. Draws live in registers; only per-path results
// (S(T) or a loss) are written, then summarised on the device. `summary` of
// simulate_gbm must not be null: its *status comes from the summary.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpp/risk/detmath.hpp"
#include "cpp/risk/philox.hpp"
#include "cuda/risk/kernels.cuh"
#include "cuda/risk/reduce.cuh"

namespace up::cuda {
namespace {

namespace dm = up::risk::detmath;

constexpr unsigned kBlock = 128;
// Assets up to this count get a kernel with the factor in kernel parameters and the
// draws in registers; more assets read the factor from global memory.
constexpr int kSmallAssets = 8;

// Normals 2b and 2b+1 of `stream`.
__device__ __forceinline__ void normal_pair(std::uint64_t seed, std::uint64_t stream, std::uint64_t b, double* z0,
                                            double* z1) {
  const up::risk::PhiloxBlock blk = up::risk::philox4x32_10(
      static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), static_cast<std::uint32_t>(stream),
      static_cast<std::uint32_t>(stream >> 32), static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  up::risk::box_muller(blk.x[0], blk.x[1], blk.x[2], blk.x[3], z0, z1);
}

struct GbmArgs {
  double spot;
  double a;  // (mu - sigma^2/2) dt, computed on the host exactly as the CPU does
  double b;  // sigma sqrt(dt)
  std::uint64_t steps;
  std::uint64_t paths;
  std::uint64_t seed;
  bool antithetic;
};

// One thread per stream: path p (or, with antithetic variates, paths 2s and 2s+1 from
// one set of draws). Writes S(T) and the loss spot - S(T); `kept` rows when not null.
// A non-finite S(T) needs no flag here: the tail selection reports the first one.
__global__ void __launch_bounds__(kBlock) gbm_kernel(GbmArgs g, double* terminal, double* losses, double* kept) {
  const std::uint64_t streams = g.antithetic ? g.paths / 2 : g.paths;
  const std::uint64_t s = static_cast<std::uint64_t>(blockIdx.x) * kBlock + threadIdx.x;
  if (s >= streams) return;
  const std::uint64_t p = g.antithetic ? 2 * s : s;
  double* row0 = kept == nullptr ? nullptr : kept + p * (g.steps + 1);
  double* row1 = kept == nullptr || !g.antithetic ? nullptr : row0 + (g.steps + 1);
  if (row0 != nullptr) row0[0] = g.spot;
  if (row1 != nullptr) row1[0] = g.spot;
  double x0 = 0.0;
  double x1 = 0.0;
  // Scalars, not an array indexed at run time: keeps the draws in registers.
  const auto step = [&](std::uint64_t i, double z) {
    x0 = dm::add(x0, dm::add(g.a, dm::mul(g.b, z)));
    if (g.antithetic) x1 = dm::add(x1, dm::add(g.a, dm::mul(g.b, -z)));
    if (row0 != nullptr) row0[i + 1] = dm::mul(g.spot, dm::exp_d(x0));
    if (row1 != nullptr) row1[i + 1] = dm::mul(g.spot, dm::exp_d(x1));
  };
  for (std::uint64_t i = 0; i < g.steps; i += 2) {
    double z0;
    double z1;
    normal_pair(g.seed, s, i >> 1, &z0, &z1);
    step(i, z0);
    if (i + 1 < g.steps) step(i + 1, z1);
  }
  const double t0 = dm::mul(g.spot, dm::exp_d(x0));
  terminal[p] = t0;
  losses[p] = dm::sub(g.spot, t0);
  if (g.antithetic) {
    const double t1 = dm::mul(g.spot, dm::exp_d(x1));
    terminal[p + 1] = t1;
    losses[p + 1] = dm::sub(g.spot, t1);
  }
}

template <int N>
struct SmallPortfolio {
  double lower[N * N];
  double weights[N];
  double means[N];
};

// loss = -(sum_i w_i (m_i h + root (L z)_i)), each sum in the CPU's order.
template <class Lower, class Weights, class Means>
__device__ __forceinline__ double portfolio_loss(const double* z, int assets, const Lower& lower, const Weights& w,
                                                 const Means& m, double horizon, double root) {
  double r = 0.0;
  for (int i = 0; i < assets; ++i) {
    double c = 0.0;
    for (int k = 0; k <= i; ++k) c = dm::add(c, dm::mul(lower[i * assets + k], z[k]));
    r = dm::add(r, dm::mul(w[i], dm::add(dm::mul(m[i], horizon), dm::mul(root, c))));
  }
  return -r;
}

// Normals first..first+count-1 of stream 0 into z, one Philox block per two.
__device__ __forceinline__ void draw(std::uint64_t seed, std::uint64_t first, int count, double* z) {
  double z0 = 0.0;
  double z1 = 0.0;
  std::uint64_t held = ~0ull;
  for (int k = 0; k < count; ++k) {
    const std::uint64_t idx = first + static_cast<std::uint64_t>(k);
    if ((idx >> 1) != held) {
      held = idx >> 1;
      normal_pair(seed, 0, held, &z0, &z1);
    }
    z[k] = (idx & 1) ? z1 : z0;
  }
}

template <int N>
__global__ void __launch_bounds__(kBlock) mc_small_kernel(SmallPortfolio<N> pf, std::uint64_t paths, double horizon,
                                                          double root, std::uint64_t seed, double* losses) {
  const std::uint64_t p = static_cast<std::uint64_t>(blockIdx.x) * kBlock + threadIdx.x;
  if (p >= paths) return;
  double z[N];
  draw(seed, p * N, N, z);
  losses[p] = portfolio_loss(z, N, pf.lower, pf.weights, pf.means, horizon, root);
}

// Any number of assets: each thread keeps its draws in `scratch` (assets doubles per
// thread, cached in L1) and walks paths with a grid stride.
__global__ void __launch_bounds__(kBlock) mc_large_kernel(const double* lower, const double* weights,
                                                          const double* means, int assets, std::uint64_t paths,
                                                          double horizon, double root, std::uint64_t seed,
                                                          double* scratch, double* losses) {
  const std::uint64_t thread = static_cast<std::uint64_t>(blockIdx.x) * kBlock + threadIdx.x;
  const std::uint64_t threads = static_cast<std::uint64_t>(gridDim.x) * kBlock;
  double* z = scratch + thread * static_cast<std::uint64_t>(assets);
  for (std::uint64_t p = thread; p < paths; p += threads) {
    draw(seed, p * static_cast<std::uint64_t>(assets), assets, z);
    losses[p] = portfolio_loss(z, assets, lower, weights, means, horizon, root);
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
  UP_CUDA_TRY(cudaEventRecord(call.kernel_events.start, stream));
  gbm_kernel<<<static_cast<unsigned>((streams + kBlock - 1) / kBlock), kBlock, 0, stream>>>(
      args, d_terminal.as<double>(), d_losses.as<double>(), d_kept.as<double>());
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
  UP_CUDA_TRY(cudaMemcpyAsync(host_sums, d_sums, sizeof(host_sums), cudaMemcpyDeviceToHost, stream));
  UP_CUDA_TRY(cudaMemcpyAsync(terminal, d_terminal.ptr, n * sizeof(double), cudaMemcpyDeviceToHost, stream));
  if (kept != nullptr) {
    UP_CUDA_TRY(cudaMemcpyAsync(kept, d_kept.ptr, n * (g.steps + 1) * sizeof(double), cudaMemcpyDeviceToHost,
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
  const double root = std::sqrt(horizon);
  CallContext call;
  UP_CUDA_RETURN_IF_ERROR(call.open());
  const cudaStream_t stream = call.stream.handle;
  DeviceBuffer d_losses;
  DeviceBuffer d_factor;   // large portfolios: lower, weights, means
  DeviceBuffer d_scratch;  // large portfolios: draws per thread
  SummaryScratch sums;
  UP_CUDA_TRY(device_malloc(&d_losses.ptr, paths * sizeof(double)));
  UP_CUDA_RETURN_IF_ERROR(sums.allocate());
  const unsigned grid = static_cast<unsigned>((paths + kBlock - 1) / kBlock);
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
      UP_CUDA_TRY(cudaMemcpyAsync(f, lower, a * a * sizeof(double), cudaMemcpyHostToDevice, stream));
      UP_CUDA_TRY(cudaMemcpyAsync(f + a * a, weights, a * sizeof(double), cudaMemcpyHostToDevice, stream));
      UP_CUDA_TRY(cudaMemcpyAsync(f + a * a + a, means, a * sizeof(double), cudaMemcpyHostToDevice, stream));
      // Draw scratch capped at 256 MiB: fewer threads for wider portfolios, whose paths
      // cost O(assets^2) each and keep every thread busy anyway.
      const std::uint64_t cap = (std::uint64_t{256} << 20) / (a * sizeof(double));
      const std::uint64_t threads = std::max<std::uint64_t>(kBlock, std::min<std::uint64_t>(paths, cap) / kBlock * kBlock);
      UP_CUDA_TRY(device_malloc(&d_scratch.ptr, threads * a * sizeof(double)));
      UP_CUDA_TRY(cudaEventRecord(call.kernel_events.start, stream));
      mc_large_kernel<<<static_cast<unsigned>(threads / kBlock), kBlock, 0, stream>>>(
          f, f + a * a, f + a * a + a, static_cast<int>(a), paths, horizon, root, seed, d_scratch.as<double>(),
          d_losses.as<double>());
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
    UP_CUDA_TRY(cudaMemcpyAsync(host_sums, d_sums, sizeof(host_sums), cudaMemcpyDeviceToHost, stream));
    UP_CUDA_TRY(cudaMemcpyAsync(&first, l, sizeof(double), cudaMemcpyDeviceToHost, stream));
  }
  if (losses != nullptr) {
    UP_CUDA_TRY(cudaMemcpyAsync(losses, l, paths * sizeof(double), cudaMemcpyDeviceToHost, stream));
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
