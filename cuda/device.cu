#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
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

// The staging pool: at most kMaxSlots pinned buffers (two per Uploader), sizes rounded up
// to kStagingGrain so a slightly larger call reuses a buffer instead of growing it.
constexpr std::size_t kMaxSlots = 4;
constexpr std::size_t kStagingGrain = std::size_t{1} << 20;
// Host copies into a slot use this many threads from this size up: one core's memcpy
// (about 10-20 GB/s) is below a PCIe 5 x16 link (about 55 GB/s pinned).
constexpr unsigned kCopyThreads = 4;
constexpr std::size_t kParallelCopyMin = std::size_t{4} << 20;

struct PoolSlot {
  void* ptr;
  std::size_t bytes;
  bool busy;
};

std::mutex pool_mutex;
// Never destroyed: a static destructor at exit would run after the CUDA runtime's.
std::vector<PoolSlot>& pool() {
  static auto* slots = new std::vector<PoolSlot>();
  return *slots;
}

// A pinned buffer of at least `bytes`, or nullptr (then the caller copies from pageable memory).
void* take_pinned(std::size_t bytes) noexcept {
  if (test_hooks().pageable) {
    static std::atomic<bool> noted{false};
    if (!noted.exchange(true)) note_test_hook("pageable", "pinned staging", bytes);
    return nullptr;
  }
  bytes = (bytes + kStagingGrain - 1) / kStagingGrain * kStagingGrain;
  std::lock_guard<std::mutex> lock(pool_mutex);
  auto& slots = pool();
  PoolSlot* best = nullptr;
  std::size_t small = slots.size();
  for (std::size_t i = 0; i < slots.size(); ++i) {
    PoolSlot& s = slots[i];
    if (s.busy) continue;
    if (s.bytes >= bytes) {
      if (best == nullptr || s.bytes < best->bytes) best = &s;
    } else {
      small = i;
    }
  }
  if (best != nullptr) {
    best->busy = true;
    return best->ptr;
  }
  if (small < slots.size()) {  // grow: an idle buffer too small for this call is replaced
    cudaFreeHost(slots[small].ptr);
    cudaGetLastError();
    slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(small));
  }
  if (slots.size() >= kMaxSlots) return nullptr;
  void* p = nullptr;
  if (cudaHostAlloc(&p, bytes, cudaHostAllocPortable) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  slots.push_back(PoolSlot{p, bytes, true});
  return p;
}

// Back to the pool; a buffer whose last copy could not be waited for (a failed context) is
// dropped from the pool rather than reused, and not freed (the driver frees it at exit).
void give_pinned(void* p, bool reusable) noexcept {
  std::lock_guard<std::mutex> lock(pool_mutex);
  auto& slots = pool();
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].ptr != p) continue;
    if (reusable) {
      slots[i].busy = false;
    } else {
      slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(i));
    }
    return;
  }
}

// memcpy, split over kCopyThreads threads for large copies (the calling thread does one part).
void host_copy(void* dst, const void* src, std::size_t bytes) noexcept {
  if (bytes < kParallelCopyMin) {
    std::memcpy(dst, src, bytes);
    return;
  }
  const std::size_t part = ((bytes + kCopyThreads - 1) / kCopyThreads + 63) / 64 * 64;
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  std::thread helpers[kCopyThreads - 1];
  for (unsigned k = 1; k < kCopyThreads; ++k) {
    const std::size_t off = k * part;
    if (off >= bytes) break;
    const std::size_t len = std::min(part, bytes - off);
    try {
      helpers[k - 1] = std::thread([=] { std::memcpy(d + off, s + off, len); });
    } catch (...) {  // no thread to be had: copy this part here
      std::memcpy(d + off, s + off, len);
    }
  }
  std::memcpy(d, s, std::min(part, bytes));
  for (auto& t : helpers) {
    if (t.joinable()) t.join();
  }
}

}  // namespace

const TestHooks& test_hooks() noexcept {
  static const TestHooks hooks = [] {
    TestHooks h;
    const char* v = std::getenv("ULTRA_PERF_CUDA_TEST_HOOKS");
    if (v == nullptr) return h;
    std::string list(v);
    std::size_t at = 0;
    while (at <= list.size()) {
      std::size_t end = list.find(',', at);
      if (end == std::string::npos) end = list.size();
      const std::string name = list.substr(at, end - at);
      if (name == "select-miss") {
        h.select_miss = true;
      } else if (name == "select-overflow") {
        h.select_overflow = true;
      } else if (name == "pageable") {
        h.pageable = true;
      } else if (!name.empty()) {
        std::fprintf(stderr, "ultra-performance cuda test hook: unknown hook '%s' ignored\n", name.c_str());
      }
      at = end + 1;
    }
    return h;
  }();
  return hooks;
}

void note_test_hook(const char* name, const char* where, std::size_t n) noexcept {
  std::fprintf(stderr, "ultra-performance cuda test hook: %s forced in %s (n %zu)\n", name, where, n);
}

Uploader::~Uploader() {
  for (int i = 0; i < 2; ++i) {
    bool reusable = !unsure_[i];
    if (pending_[i] && cudaEventSynchronize(done_[i]) != cudaSuccess) {
      cudaGetLastError();
      reusable = false;
    }
    if (ptr_[i] != nullptr) give_pinned(ptr_[i], reusable);
    if (done_[i] != nullptr) cudaEventDestroy(done_[i]);
  }
}

Status Uploader::open(std::size_t total_bytes, std::size_t chunk_bytes) noexcept {
  const std::size_t bytes = std::min(total_bytes, chunk_bytes);
  if (bytes == 0) return {};
  ptr_[0] = take_pinned(bytes);
  ptr_[1] = ptr_[0] == nullptr ? nullptr : take_pinned(bytes);
  if (ptr_[1] == nullptr) {  // both or neither
    if (ptr_[0] != nullptr) give_pinned(ptr_[0], true);
    ptr_[0] = nullptr;
    return {};
  }
  UP_CUDA_TRY(cudaEventCreateWithFlags(&done_[0], cudaEventDisableTiming));
  UP_CUDA_TRY(cudaEventCreateWithFlags(&done_[1], cudaEventDisableTiming));
  slot_bytes_ = bytes;
  return {};
}

Status Uploader::take_slot(int* slot) noexcept {
  const int i = turn_;
  turn_ ^= 1;
  if (pending_[i]) {
    UP_CUDA_TRY(cudaEventSynchronize(done_[i]));
    pending_[i] = false;
  }
  *slot = i;
  return {};
}

Status Uploader::sent(int slot, cudaStream_t stream) noexcept {
  UP_CUDA_TRY(cudaEventRecord(done_[slot], stream));
  pending_[slot] = true;
  unsure_[slot] = false;
  return {};
}

Status Uploader::copy(void* dst, const void* src, std::size_t bytes, cudaStream_t stream) noexcept {
  if (!pinned()) {
    UP_CUDA_TRY(timed_copy(dst, src, bytes, cudaMemcpyHostToDevice, stream));
    return {};
  }
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (std::size_t off = 0; off < bytes; off += slot_bytes_) {
    const std::size_t len = std::min(slot_bytes_, bytes - off);
    int slot = 0;
    UP_CUDA_RETURN_IF_ERROR(take_slot(&slot));
    host_copy(ptr_[slot], s + off, len);
    unsure_[slot] = true;
    UP_CUDA_TRY(timed_copy(d + off, ptr_[slot], len, cudaMemcpyHostToDevice, stream));
    UP_CUDA_RETURN_IF_ERROR(sent(slot, stream));
  }
  return {};
}

Status Uploader::copy_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                           std::size_t rows, cudaStream_t stream) noexcept {
  if (width == dpitch && width == spitch) return copy(dst, src, width * rows, stream);
  if (!pinned() || width == 0 || width > slot_bytes_) {
    UP_CUDA_TRY(timed_copy_2d(dst, dpitch, src, spitch, width, rows, cudaMemcpyHostToDevice, stream));
    return {};
  }
  const std::size_t per_slot = slot_bytes_ / width;
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (std::size_t r = 0; r < rows; r += per_slot) {
    const std::size_t n = std::min(per_slot, rows - r);
    int slot = 0;
    UP_CUDA_RETURN_IF_ERROR(take_slot(&slot));
    auto* p = static_cast<unsigned char*>(ptr_[slot]);
    if (spitch == width) {
      host_copy(p, s + r * spitch, n * width);
    } else {
      for (std::size_t k = 0; k < n; ++k) std::memcpy(p + k * width, s + (r + k) * spitch, width);
    }
    unsure_[slot] = true;
    UP_CUDA_TRY(timed_copy_2d(d + r * dpitch, dpitch, p, width, width, n, cudaMemcpyHostToDevice, stream));
    UP_CUDA_RETURN_IF_ERROR(sent(slot, stream));
  }
  return {};
}

void release_staging() noexcept {
  std::lock_guard<std::mutex> lock(pool_mutex);
  auto& slots = pool();
  for (std::size_t i = slots.size(); i-- > 0;) {
    if (slots[i].busy) continue;
    cudaFreeHost(slots[i].ptr);
    cudaGetLastError();
    slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

std::size_t staging_bytes() noexcept {
  std::lock_guard<std::mutex> lock(pool_mutex);
  std::size_t total = 0;
  for (const PoolSlot& s : pool()) total += s.bytes;
  return total;
}

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
