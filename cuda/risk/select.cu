// Historical VaR/CVaR on the GPU by selection: a sampled threshold, one compaction pass, radix select.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_select.cuh>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cuda/device.cuh"
#include "cuda/risk/kernels.cuh"
#include "cuda/risk/reduce.cuh"

namespace up::cuda {
namespace {

using up::risk::kVarSampleMin;
using up::risk::kVarSamples;

// 32 MiB of doubles per chunk: big copies for PCIe, and the slack a sampled scan keeps;
// one chunk fills one pinned staging slot (device.cuh).
constexpr std::size_t kChunkElems = kStagingChunkBytes / sizeof(double);
constexpr unsigned kBlock = 256;
// 8 blocks of 256 per SM on a 132-SM H100: every thread resident, grid-stride over the rest.
constexpr unsigned kGrid = 1056;
// 8-bit digits: a 256-bin histogram fits one block and eight passes decide a 64-bit key.
constexpr unsigned kBins = 256;
constexpr unsigned kPasses = 8;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr unsigned long long kSignBit = 0x8000000000000000ull;
// "No index" and "no key": above every real index (n <= 2^33) and above every finite key.
constexpr unsigned long long kNone = ~0ull;

static_assert(kBlock == kBins, "the histogram and choose kernels give one bin to each thread");

// What the radix selection keeps on the device between kernels, read back once at the end.
struct SelectState {
  unsigned long long prefix;    // decided high bits of the rank-p key; the whole key after 8 passes
  unsigned long long mask;      // which bits of prefix are decided
  unsigned long long rank;      // rank still sought among the keys that match prefix
  unsigned long long count_le;  // candidates with key <= key of a
  unsigned long long min_gt;    // smallest key above a's (kNone when a is the largest)
  unsigned long long key_b;     // key of the next order statistic b
  unsigned long long key_t;     // the tail threshold: a's key, or b's when interpolating
  double t;                     // the loss of key_t: the tail's smallest loss
  double excess;                // sum of the excesses over t of the candidates with key > key_t
};

// Every small device object of one call in one allocation.
struct Scratch {
  SelectState state;
  unsigned long long hist[kBins];
  unsigned long long first_bad;
  unsigned long long num_selected;
  double sample[kVarSamples];
  double partials[2 * kSumGrid];
};

// The CPU's quantile position: a = rank lo, b = rank lo + 1, the tail starts at `start`.
struct Quantile {
  std::size_t lo;
  double frac;
  std::size_t start;
  std::size_t need;  // ranks lo..n-1 must all be candidates
};

Quantile quantile_of(std::size_t n, double confidence) {
  const double h = static_cast<double>(n - 1) * confidence;
  const double lo_d = std::floor(h);
  Quantile q;
  q.lo = static_cast<std::size_t>(lo_d);
  q.frac = h - lo_d;
  q.start = q.frac > 0 ? q.lo + 1 : q.lo;
  q.need = n - q.lo;
  return q;
}

// Order-preserving map of a double to an unsigned key; -0.0 folds onto +0.0 so equal losses share a key.
__device__ __forceinline__ unsigned long long order_key(double v) {
  unsigned long long bits = static_cast<unsigned long long>(__double_as_longlong(v));
  if (bits == kSignBit) bits = 0;
  return bits ^ ((bits & kSignBit) != 0 ? kNone : kSignBit);
}

double key_value(unsigned long long key) {
  const unsigned long long bits = (key & kSignBit) != 0 ? key ^ kSignBit : ~key;
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

__device__ __forceinline__ double key_value_device(unsigned long long key) {
  return __longlong_as_double(static_cast<long long>((key & kSignBit) != 0 ? key ^ kSignBit : ~key));
}

unsigned grid_for(std::size_t count) {
  return static_cast<unsigned>(std::min<std::size_t>(kGrid, (count + kBlock - 1) / kBlock));
}

// Losses of one copied chunk in place (sign applied, -0.0 made +0.0), and its first non-finite index.
__global__ void __launch_bounds__(kBlock) prepare_kernel(double* chunk, std::size_t len, double sign,
                                                         unsigned long long base, unsigned long long* first_bad) {
  unsigned long long bad = kNone;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kBlock;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kBlock + threadIdx.x; i < len; i += stride) {
    const double v = sign * chunk[i];
    if (bad == kNone && !isfinite(v)) bad = base + i;  // i only grows, so the first hit is this thread's minimum
    chunk[i] = v == 0.0 ? 0.0 : v;
  }
  if (bad != kNone) atomicMin(first_bad, bad);
}

// First non-finite index of losses already on the device (read only).
__global__ void __launch_bounds__(kBlock)
    first_non_finite_kernel(const double* x, std::size_t len, unsigned long long base, unsigned long long* first_bad) {
  unsigned long long bad = kNone;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kBlock;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kBlock + threadIdx.x; i < len; i += stride) {
    if (!isfinite(x[i])) {
      bad = base + i;
      break;  // later i of this thread are larger
    }
  }
  if (bad != kNone) atomicMin(first_bad, bad);
}

// The CPU's strided sample of device losses: value j * n / kVarSamples.
__global__ void sample_kernel(const double* losses, std::size_t n, double* out) {
  const unsigned j = threadIdx.x;
  if (j < kVarSamples) out[j] = losses[static_cast<unsigned long long>(j) * n / kVarSamples];
}

// The kept losses: at or above the threshold (NaN never passes; it is reported anyway).
struct AtLeast {
  double t;
  __host__ __device__ bool operator()(const double& v) const { return v >= t; }
};

__global__ void __launch_bounds__(kBins) select_init_kernel(SelectState* state, unsigned long long* hist,
                                                            unsigned long long rank) {
  hist[threadIdx.x] = 0;
  if (threadIdx.x == 0) {
    state->prefix = 0;
    state->mask = 0;
    state->rank = rank;
    state->count_le = 0;
    state->min_gt = kNone;
    state->key_b = 0;
    state->key_t = 0;
    state->t = 0.0;
    state->excess = 0.0;
  }
}

// Digit histogram of the keys that match the decided prefix. Lanes with the same bin are
// merged first (__match_any_sync) because tails cluster: most keys share their top digits.
__global__ void __launch_bounds__(kBlock) radix_histogram_kernel(const double* cand, std::size_t k,
                                                                 const SelectState* state, unsigned shift,
                                                                 unsigned long long* hist) {
  __shared__ unsigned counts[kBins];
  counts[threadIdx.x] = 0;
  __syncthreads();
  const unsigned long long prefix = state->prefix;
  const unsigned long long mask = state->mask;
  const unsigned lane = threadIdx.x & 31u;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kBlock;
  // base is the same for all lanes of a warp, so every lane runs every iteration (full-mask warp ops).
  for (std::size_t base = static_cast<std::size_t>(blockIdx.x) * kBlock + (threadIdx.x & ~31u); base < k;
       base += stride) {
    const std::size_t i = base + lane;
    unsigned bin = kBins;  // past the end or off the prefix: no bin
    if (i < k) {
      const unsigned long long key = order_key(cand[i]);
      if ((key & mask) == prefix) bin = static_cast<unsigned>(key >> shift) & (kBins - 1);
    }
    if (__ballot_sync(kFullMask, bin != kBins) != 0) {
      const unsigned peers = __match_any_sync(kFullMask, bin);
      if (bin != kBins && lane == static_cast<unsigned>(__ffs(static_cast<int>(peers)) - 1)) {
        atomicAdd(&counts[bin], static_cast<unsigned>(__popc(peers)));
      }
    }
  }
  __syncthreads();
  const unsigned c = counts[threadIdx.x];
  if (c != 0) atomicAdd(&hist[threadIdx.x], static_cast<unsigned long long>(c));
}

// One block: the bin holding the sought rank becomes the next digit of the prefix; the
// histogram is cleared for the next pass. Keeps the passes on the device, no host round trip.
__global__ void __launch_bounds__(kBins) radix_choose_kernel(unsigned long long* hist, SelectState* state,
                                                             unsigned shift) {
  using Scan = cub::BlockScan<unsigned long long, kBins>;
  __shared__ typename Scan::TempStorage scan;
  const unsigned bin = threadIdx.x;
  const unsigned long long count = hist[bin];
  hist[bin] = 0;
  const unsigned long long rank = state->rank;
  __syncthreads();  // every thread has read the rank before its owner rewrites it
  unsigned long long before = 0;
  Scan(scan).ExclusiveSum(count, before);
  if (count != 0 && before <= rank && rank - before < count) {
    state->prefix |= static_cast<unsigned long long>(bin) << shift;
    state->mask |= static_cast<unsigned long long>(kBins - 1) << shift;
    state->rank = rank - before;
  }
}

struct MinKey {
  __device__ unsigned long long operator()(unsigned long long x, unsigned long long y) const { return y < x ? y : x; }
};

// How many candidates are <= a, and the smallest key above a: together they give b.
__global__ void __launch_bounds__(kBlock) neighbour_kernel(const double* cand, std::size_t k, SelectState* state) {
  using Reduce = cub::BlockReduce<unsigned long long, kBlock>;
  __shared__ typename Reduce::TempStorage count_temp;
  __shared__ typename Reduce::TempStorage min_temp;
  const unsigned long long key_a = state->prefix;
  unsigned long long le = 0;
  unsigned long long above = kNone;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kBlock;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kBlock + threadIdx.x; i < k; i += stride) {
    const unsigned long long key = order_key(cand[i]);
    if (key <= key_a) {
      ++le;
    } else if (key < above) {
      above = key;
    }
  }
  le = Reduce(count_temp).Sum(le);
  above = Reduce(min_temp).Reduce(above, MinKey{});
  if (threadIdx.x == 0) {
    if (le != 0) atomicAdd(&state->count_le, le);
    if (above != kNone) atomicMin(&state->min_gt, above);
  }
}

// b is a again when a repeats past rank p; the tail starts after b when interpolating.
__global__ void tail_key_kernel(SelectState* state, unsigned long long p, bool interpolate) {
  const unsigned long long a = state->prefix;
  const unsigned long long b = interpolate && state->count_le <= p + 1 ? state->min_gt : a;
  state->key_b = b;
  state->key_t = interpolate ? b : a;
  state->t = key_value_device(state->key_t);
}

// The tail sum term: candidates strictly above the threshold key, their excesses over
// the threshold's loss (each >= 0 after rounding: var.hpp tail_mean()) summed.
struct TailTerm {
  const double* cand;
  const SelectState* state;
  __device__ void operator()(std::size_t i, double (&acc)[1]) const {
    const double v = cand[i];
    if (order_key(v) > state->key_t) acc[0] += v - state->t;
  }
};

Status invalid(const char* message) { return Status{static_cast<int>(cudaErrorInvalidValue), message}; }

Status create_stream(Stream& s) {
  UP_CUDA_TRY(cudaStreamCreateWithFlags(&s.handle, cudaStreamNonBlocking));
  return {};
}

Status record(cudaEvent_t event, cudaStream_t stream) {
  if (event != nullptr) UP_CUDA_TRY(cudaEventRecord(event, stream));
  return {};
}

// Frees a buffer before its scope ends (a fallback needs the room).
Status release(DeviceBuffer& buffer) {
  void* p = buffer.ptr;
  buffer.ptr = nullptr;
  if (p != nullptr) UP_CUDA_TRY(cudaFree(p));
  return {};
}

Status read_first_bad(const Scratch* scr, cudaStream_t stream, unsigned long long* bad) {
  UP_CUDA_TRY(timed_copy(bad, &scr->first_bad, sizeof *bad, cudaMemcpyDeviceToHost, stream));
  UP_CUDA_TRY(cudaStreamSynchronize(stream));
  return {};
}

// How many of the kVarSamples samples the CPU keeps above its threshold, or 0 where it does not sample.
std::size_t sample_tail(std::size_t n, double confidence) {
  if (n < kVarSampleMin) return 0;
  const double tail = (1.0 - confidence) + 5.0 * std::sqrt(confidence * (1.0 - confidence) / 256.0) + 2.0 / 256.0;
  const auto m = static_cast<std::size_t>(std::ceil(tail * 256.0));
  return m < kVarSamples ? m : 0;
}

// The CPU's threshold: the (kVarSamples - m)-th smallest sample; false on a non-finite sample.
// *kept counts the samples >= t, ties with t included, since ties are kept too.
bool threshold_of(double* sample, std::size_t m, double* t, std::size_t* kept) {
  for (std::size_t j = 0; j < kVarSamples; ++j) {
    if (!std::isfinite(sample[j])) return false;
  }
  std::nth_element(sample, sample + (kVarSamples - m), sample + kVarSamples);
  *t = sample[kVarSamples - m];
  *kept = 0;
  for (std::size_t j = 0; j < kVarSamples; ++j) *kept += sample[j] >= *t ? 1 : 0;
  return true;
}

// Candidate slots: the m / kVarSamples expected plus four sample standard deviations and
// four samples, plus one chunk so that a chunk's select started in room never writes past it.
// m counts tied samples, so data with few distinct values goes straight to the full load.
std::size_t candidate_room(std::size_t n, std::size_t m) {
  const double md = static_cast<double>(m);
  const double fraction = (md + 4.0 * std::sqrt(md) + 4.0) / static_cast<double>(kVarSamples);
  const double want = std::ceil(fraction * static_cast<double>(n));
  const std::size_t cap = want >= static_cast<double>(n) ? n : static_cast<std::size_t>(want);
  return cap + std::min(n, kChunkElems);
}

// CUB's temporary storage for a select over at most `items` doubles.
Status select_temp(DeviceBuffer& temp, std::size_t* bytes, std::size_t items, Scratch* scr, double t,
                   cudaStream_t stream) {
  *bytes = 0;
  UP_CUDA_TRY(cub::DeviceSelect::If(nullptr, *bytes, static_cast<const double*>(nullptr), static_cast<double*>(nullptr),
                                    &scr->num_selected, static_cast<std::int64_t>(items), AtLeast{t}, stream));
  UP_CUDA_TRY(device_malloc(&temp.ptr, std::max<std::size_t>(*bytes, 1)));
  return {};
}

// Losses >= t of the host values compacted, in input order, into cand[0, *k). Chunk i is
// copied on stream i % 2 while chunk i - 1 is scanned on the other; a chunk buffer is only
// overwritten by a copy on the stream whose kernels last read it, so stream order guards it.
// The copies go through two pinned staging slots (Uploader): the host copies chunk i + 1
// into a slot while chunk i's kernels run, and its DMA overlaps them too.
// *overflow when a chunk could write past `room` (then *k is meaningless); the
// select-overflow test hook forces it at the second chunk, with that chunk's copy in flight.
Status scan_host(const double* values, std::size_t n, double sign, double t, double* cand, std::size_t room,
                 Scratch* scr, cudaStream_t s0, cudaStream_t s1, cudaEvent_t kernel_start, bool* overflow,
                 std::size_t* k) {
  const cudaStream_t streams[2] = {s0, s1};
  const std::size_t chunk = std::min(n, kChunkElems);
  const std::size_t chunks = (n + chunk - 1) / chunk;
  auto len_of = [&](std::size_t i) { return std::min(chunk, n - i * chunk); };
  DeviceBuffer bufs[2];
  UP_CUDA_TRY(device_malloc(&bufs[0].ptr, chunk * sizeof(double)));
  UP_CUDA_TRY(device_malloc(&bufs[1].ptr, chunk * sizeof(double)));
  DeviceBuffer temp;
  std::size_t temp_bytes = 0;
  UP_CUDA_RETURN_IF_ERROR(select_temp(temp, &temp_bytes, chunk, scr, t, s0));
  // Declared after the buffers it fills: on every way out it waits for its copies first.
  Uploader uploader;
  UP_CUDA_RETURN_IF_ERROR(uploader.open(n * sizeof(double), chunk * sizeof(double)));

  *overflow = false;
  std::size_t offset = 0;
  UP_CUDA_RETURN_IF_ERROR(uploader.copy(bufs[0].ptr, values, len_of(0) * sizeof(double), s0));
  for (std::size_t i = 0; i < chunks; ++i) {
    const cudaStream_t s = streams[i & 1];
    double* buf = bufs[i & 1].as<double>();
    const std::size_t len = len_of(i);
    const bool forced = test_hooks().select_overflow && i == 1;
    if (offset + len > room || forced) {
      if (forced) note_test_hook("select-overflow", "historical_tail", n);
      *overflow = true;
      break;
    }
    if (i == 0) UP_CUDA_RETURN_IF_ERROR(record(kernel_start, s));
    prepare_kernel<<<grid_for(len), kBlock, 0, s>>>(buf, len, sign, i * chunk, &scr->first_bad);
    UP_CUDA_TRY(cudaGetLastError());
    std::size_t bytes = temp_bytes;
    UP_CUDA_TRY(cub::DeviceSelect::If(temp.ptr, bytes, static_cast<const double*>(buf), cand + offset,
                                      &scr->num_selected, static_cast<std::int64_t>(len), AtLeast{t}, s));
    if (i + 1 < chunks) {
      const std::size_t next = i + 1;
      UP_CUDA_RETURN_IF_ERROR(uploader.copy(bufs[next & 1].ptr, values + next * chunk, len_of(next) * sizeof(double),
                                            streams[next & 1]));
    }
    // The next select writes at the running count, and CUB takes its output as a pointer,
    // so the host must know this chunk's count: wait for it, after the next copy is issued
    // so that copy still overlaps these kernels. The wait also frees the shared CUB temp
    // storage and num_selected for the other stream.
    unsigned long long selected = 0;
    UP_CUDA_TRY(timed_copy(&selected, &scr->num_selected, sizeof selected, cudaMemcpyDeviceToHost, s));
    UP_CUDA_TRY(cudaStreamSynchronize(s));
    offset += static_cast<std::size_t>(selected);
  }
  // After an overflow a copy may still be in flight into a chunk buffer about to be freed.
  UP_CUDA_TRY(cudaStreamSynchronize(s0));
  UP_CUDA_TRY(cudaStreamSynchronize(s1));
  *k = offset;
  return {};
}

// Every loss on the device: chunk i is copied (through a pinned slot) straight to its place
// in cand on stream i % 2 and prepared there while the next chunk copies on the other stream.
Status load_host(const double* values, std::size_t n, double sign, double* cand, Scratch* scr, cudaStream_t s0,
                 cudaStream_t s1, cudaEvent_t kernel_start) {
  const cudaStream_t streams[2] = {s0, s1};
  const std::size_t chunks = (n + kChunkElems - 1) / kChunkElems;
  Uploader uploader;
  UP_CUDA_RETURN_IF_ERROR(uploader.open(n * sizeof(double), kChunkElems * sizeof(double)));
  for (std::size_t i = 0; i < chunks; ++i) {
    const cudaStream_t s = streams[i & 1];
    const std::size_t base = i * kChunkElems;
    const std::size_t len = std::min(kChunkElems, n - base);
    UP_CUDA_RETURN_IF_ERROR(uploader.copy(cand + base, values + base, len * sizeof(double), s));
    if (i == 0) UP_CUDA_RETURN_IF_ERROR(record(kernel_start, s));
    prepare_kernel<<<grid_for(len), kBlock, 0, s>>>(cand + base, len, sign, base, &scr->first_bad);
    UP_CUDA_TRY(cudaGetLastError());
  }
  UP_CUDA_TRY(cudaStreamSynchronize(s0));
  UP_CUDA_TRY(cudaStreamSynchronize(s1));
  return {};
}

// Losses >= t of device losses compacted, in input order, into cand[0, *k), chunk by chunk
// on one stream (the same bounded-room rule and select-overflow hook as scan_host); each
// chunk is checked for non-finite values just before its select, so the select mostly
// reads it from L2.
Status scan_device(const double* losses, std::size_t n, double t, double* cand, std::size_t room, Scratch* scr,
                   cudaStream_t stream, bool* overflow, std::size_t* k) {
  const std::size_t chunk = std::min(n, kChunkElems);
  const std::size_t chunks = (n + chunk - 1) / chunk;
  DeviceBuffer temp;
  std::size_t temp_bytes = 0;
  UP_CUDA_RETURN_IF_ERROR(select_temp(temp, &temp_bytes, chunk, scr, t, stream));
  *overflow = false;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < chunks; ++i) {
    const std::size_t base = i * chunk;
    const std::size_t len = std::min(chunk, n - base);
    const bool forced = test_hooks().select_overflow && i == 1;
    if (offset + len > room || forced) {
      if (forced) note_test_hook("select-overflow", "tail_on_device", n);
      *overflow = true;
      break;
    }
    first_non_finite_kernel<<<grid_for(len), kBlock, 0, stream>>>(losses + base, len, base, &scr->first_bad);
    UP_CUDA_TRY(cudaGetLastError());
    std::size_t bytes = temp_bytes;
    UP_CUDA_TRY(cub::DeviceSelect::If(temp.ptr, bytes, losses + base, cand + offset, &scr->num_selected,
                                      static_cast<std::int64_t>(len), AtLeast{t}, stream));
    // The next select's output pointer needs this count on the host (see scan_host).
    unsigned long long selected = 0;
    UP_CUDA_TRY(timed_copy(&selected, &scr->num_selected, sizeof selected, cudaMemcpyDeviceToHost, stream));
    UP_CUDA_TRY(cudaStreamSynchronize(stream));
    offset += static_cast<std::size_t>(selected);
  }
  *k = offset;
  return {};
}

// Radix selection of a (rank p among the k candidates, which are the k largest losses),
// b, and the tail sum, all on `stream` with one copy back at the end; var and cvar then
// follow the CPU's formulas on the host.
Status select_tail(const double* cand, std::size_t k, std::size_t n, const Quantile& q, Scratch* scr,
                   cudaStream_t stream, cudaEvent_t kernel_stop, cudaEvent_t total_stop, up::risk::TailResult* out) {
  const unsigned long long p = q.lo - (n - k);
  const bool interpolate = q.frac > 0;
  const unsigned grid = grid_for(k);
  select_init_kernel<<<1, kBins, 0, stream>>>(&scr->state, scr->hist, p);
  UP_CUDA_TRY(cudaGetLastError());
  for (unsigned pass = 0; pass < kPasses; ++pass) {
    const unsigned shift = 56 - 8 * pass;
    radix_histogram_kernel<<<grid, kBlock, 0, stream>>>(cand, k, &scr->state, shift, scr->hist);
    UP_CUDA_TRY(cudaGetLastError());
    radix_choose_kernel<<<1, kBins, 0, stream>>>(scr->hist, &scr->state, shift);
    UP_CUDA_TRY(cudaGetLastError());
  }
  if (interpolate) {
    neighbour_kernel<<<grid, kBlock, 0, stream>>>(cand, k, &scr->state);
    UP_CUDA_TRY(cudaGetLastError());
  }
  tail_key_kernel<<<1, 1, 0, stream>>>(&scr->state, p, interpolate);
  UP_CUDA_TRY(cudaGetLastError());
  UP_CUDA_RETURN_IF_ERROR(device_sums<1>(k, TailTerm{cand, &scr->state}, scr->partials, &scr->state.excess, stream));
  UP_CUDA_RETURN_IF_ERROR(record(kernel_stop, stream));
  SelectState state;
  UP_CUDA_TRY(timed_copy(&state, &scr->state, sizeof state, cudaMemcpyDeviceToHost, stream));
  UP_CUDA_RETURN_IF_ERROR(record(total_stop, stream));
  UP_CUDA_TRY(cudaStreamSynchronize(stream));

  const double a = key_value(state.prefix);
  const double var = interpolate ? up::risk::quantile_lerp(a, key_value(state.key_b), q.frac) : a;
  // The tail (ranks start..n-1) is every loss above t plus copies of t, whose excess is 0.
  out->var = var;
  out->cvar = up::risk::tail_mean(state.t, state.excess, n - q.start);
  return {};
}

struct Events {
  EventPair total;
  EventPair kernels;
};

Status create_events(Events& e) {
  UP_CUDA_TRY(cudaEventCreate(&e.total.start));
  UP_CUDA_TRY(cudaEventCreate(&e.total.stop));
  UP_CUDA_TRY(cudaEventCreate(&e.kernels.start));
  UP_CUDA_TRY(cudaEventCreate(&e.kernels.stop));
  return {};
}

Status elapsed(const Events& e, Timing* timing) {
  UP_CUDA_TRY(cudaEventSynchronize(e.total.stop));
  UP_CUDA_TRY(cudaEventElapsedTime(&timing->kernel_ms, e.kernels.start, e.kernels.stop));
  UP_CUDA_TRY(cudaEventElapsedTime(&timing->total_ms, e.total.start, e.total.stop));
  return {};
}

}  // namespace

Status historical_tail(const double* values, std::size_t n, double sign, double confidence, up::risk::TailResult* out,
                       std::int64_t* status, Timing* timing) noexcept {
  if (values == nullptr || out == nullptr || status == nullptr || n < 2 || !(confidence >= 0.0 && confidence <= 1.0)) {
    return invalid("historical_tail: needs values, out, status, n >= 2 and confidence in [0, 1]");
  }
  const Quantile q = quantile_of(n, confidence);

  // The CPU's sample and threshold, on the host copy of the values.
  double t = -std::numeric_limits<double>::infinity();
  std::size_t room = n;
  bool sampled = false;
  if (const std::size_t m = sample_tail(n, confidence); m != 0) {
    double sample[kVarSamples];
    for (std::size_t j = 0; j < kVarSamples; ++j) {
      sample[j] = sign * values[static_cast<std::uint64_t>(j) * n / kVarSamples];
    }
    if (std::size_t kept = 0; threshold_of(sample, m, &t, &kept)) {
      room = candidate_room(n, kept);
      sampled = room < n;  // otherwise every loss is a candidate anyway and the full load is cheaper
    }
    if (sampled && test_hooks().select_miss) {  // test hook: no candidate, so k < need
      note_test_hook("select-miss", "historical_tail", n);
      t = std::numeric_limits<double>::infinity();
    }
  }

  Stream s0;
  Stream s1;
  UP_CUDA_RETURN_IF_ERROR(create_stream(s0));
  UP_CUDA_RETURN_IF_ERROR(create_stream(s1));
  Events events;
  if (timing != nullptr) UP_CUDA_RETURN_IF_ERROR(create_events(events));
  DeviceBuffer scratch;
  UP_CUDA_TRY(device_malloc(&scratch.ptr, sizeof(Scratch)));
  Scratch* scr = scratch.as<Scratch>();
  // Synchronised so that kernels on either stream see the reset.
  UP_CUDA_TRY(cudaMemsetAsync(&scr->first_bad, 0xFF, sizeof(unsigned long long), s0.handle));
  UP_CUDA_TRY(cudaStreamSynchronize(s0.handle));
  UP_CUDA_RETURN_IF_ERROR(record(events.total.start, s0.handle));

  unsigned long long bad = kNone;
  DeviceBuffer cand;
  std::size_t k = 0;
  bool found = false;
  if (sampled) {
    UP_CUDA_TRY(device_malloc(&cand.ptr, room * sizeof(double)));
    bool overflow = false;
    UP_CUDA_RETURN_IF_ERROR(scan_host(values, n, sign, t, cand.as<double>(), room, scr, s0.handle, s1.handle,
                                      events.kernels.start, &overflow, &k));
    // After an overflow only the chunks before it were checked, but their first bad index is still the first overall.
    UP_CUDA_RETURN_IF_ERROR(read_first_bad(scr, s0.handle, &bad));
    // Redo over everything when the candidates do not fit or the sample missed (k < need).
    // How often: the CPU's margin is five sample standard deviations plus two samples, so on
    // shuffled data the sample misses about 3 calls in 10^7, and the room (four deviations
    // plus a whole chunk) overflows more rarely still; a pattern with the sample's period
    // can force a redo every time, which is why correctness never rests on the sample.
    found = bad == kNone && !overflow && k >= q.need;
    if (bad == kNone && !found) UP_CUDA_RETURN_IF_ERROR(release(cand));
  }
  if (bad == kNone && !found) {
    UP_CUDA_TRY(device_malloc(&cand.ptr, n * sizeof(double)));
    // The kernel start was already recorded when a sampled scan ran first.
    UP_CUDA_RETURN_IF_ERROR(load_host(values, n, sign, cand.as<double>(), scr, s0.handle, s1.handle,
                                      sampled ? nullptr : events.kernels.start));
    UP_CUDA_RETURN_IF_ERROR(read_first_bad(scr, s0.handle, &bad));
    k = n;
  }
  if (bad != kNone) {
    UP_CUDA_RETURN_IF_ERROR(record(events.kernels.stop, s0.handle));
    UP_CUDA_RETURN_IF_ERROR(record(events.total.stop, s0.handle));
    if (timing != nullptr) UP_CUDA_RETURN_IF_ERROR(elapsed(events, timing));
    *status = static_cast<std::int64_t>(bad);
    return {};
  }
  up::risk::TailResult result;
  UP_CUDA_RETURN_IF_ERROR(select_tail(cand.as<double>(), k, n, q, scr, s0.handle, events.kernels.stop,
                                      events.total.stop, &result));
  if (timing != nullptr) UP_CUDA_RETURN_IF_ERROR(elapsed(events, timing));
  *out = result;
  *status = -1;
  return {};
}

Status tail_on_device(const double* d_losses, std::size_t n, double confidence, up::risk::TailResult* out,
                      std::int64_t* status, cudaStream_t stream) noexcept {
  if (d_losses == nullptr || out == nullptr || status == nullptr || n < 2 ||
      !(confidence >= 0.0 && confidence <= 1.0)) {
    return invalid("tail_on_device: needs losses, out, status, n >= 2 and confidence in [0, 1]");
  }
  const Quantile q = quantile_of(n, confidence);
  DeviceBuffer scratch;
  UP_CUDA_TRY(device_malloc(&scratch.ptr, sizeof(Scratch)));
  Scratch* scr = scratch.as<Scratch>();
  UP_CUDA_TRY(cudaMemsetAsync(&scr->first_bad, 0xFF, sizeof(unsigned long long), stream));

  // The same sample as the CPU, gathered on the device; the threshold is picked on the host.
  double t = 0;
  std::size_t room = n;
  bool sampled = false;
  if (const std::size_t m = sample_tail(n, confidence); m != 0) {
    double sample[kVarSamples];
    sample_kernel<<<1, kVarSamples, 0, stream>>>(d_losses, n, scr->sample);
    UP_CUDA_TRY(cudaGetLastError());
    UP_CUDA_TRY(timed_copy(sample, scr->sample, sizeof sample, cudaMemcpyDeviceToHost, stream));
    UP_CUDA_TRY(cudaStreamSynchronize(stream));
    if (std::size_t kept = 0; threshold_of(sample, m, &t, &kept)) {
      room = candidate_room(n, kept);
      sampled = room < n;
    }
    if (sampled && test_hooks().select_miss) {  // test hook: no candidate, so k < need
      note_test_hook("select-miss", "tail_on_device", n);
      t = std::numeric_limits<double>::infinity();
    }
  }

  unsigned long long bad = kNone;
  DeviceBuffer cand;
  const double* selected = d_losses;
  std::size_t k = n;
  bool found = false;
  if (sampled) {
    UP_CUDA_TRY(device_malloc(&cand.ptr, room * sizeof(double)));
    bool overflow = false;
    std::size_t kept = 0;
    UP_CUDA_RETURN_IF_ERROR(scan_device(d_losses, n, t, cand.as<double>(), room, scr, stream, &overflow, &kept));
    UP_CUDA_RETURN_IF_ERROR(read_first_bad(scr, stream, &bad));
    // Same redo rule and frequency as historical_tail; here the redo just selects over d_losses itself.
    found = bad == kNone && !overflow && kept >= q.need;
    if (found) {
      selected = cand.as<double>();
      k = kept;
    } else if (bad == kNone) {
      UP_CUDA_RETURN_IF_ERROR(release(cand));
    }
  }
  if (bad == kNone && !found) {
    first_non_finite_kernel<<<grid_for(n), kBlock, 0, stream>>>(d_losses, n, 0, &scr->first_bad);
    UP_CUDA_TRY(cudaGetLastError());
    UP_CUDA_RETURN_IF_ERROR(read_first_bad(scr, stream, &bad));
  }
  if (bad != kNone) {
    *status = static_cast<std::int64_t>(bad);
    return {};
  }
  up::risk::TailResult result;
  UP_CUDA_RETURN_IF_ERROR(select_tail(selected, k, n, q, scr, stream, nullptr, nullptr, &result));
  *out = result;
  *status = -1;
  return {};
}

}  // namespace up::cuda
