// Device discovery and selection for the GPU addon. No N-API here.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <vector>

#include "check.cuh"

namespace up::cuda {

struct DeviceProps {
  int index = 0;
  std::string name;
  std::size_t total_memory = 0;
  int major = 0;
  int minor = 0;
  int multiprocessors = 0;
  int memory_bus_width = 0;
  std::string pci_bus_id;
};

struct Versions {
  int runtime = 0;  // 1000*major + 10*minor
  int driver = 0;   // 0 when no driver is installed
};

Versions versions() noexcept;
Status device_count(int& count) noexcept;
Status device_properties(int index, DeviceProps& out) noexcept;
Status list_devices(std::vector<DeviceProps>& out) noexcept;
// Makes `index` current on this thread and on every thread that later calls
// use_selected_device() (each GPU kernel call does, on whichever thread runs it).
Status select_device(int index) noexcept;
Status use_selected_device() noexcept;
Status current_device(int& index) noexcept;
Status memory_info(std::size_t& free_bytes, std::size_t& total_bytes) noexcept;

// Launches a small kernel and checks its output: proves the fat binary has code this
// device can run. `n` elements, result verified on the host.
Status self_test(int n) noexcept;

// ---------------------------------------------------------------------------------------
// Test hooks for the device checks (test/gpu, docs/gpu-tests.md), never for production:
// ULTRA_PERF_CUDA_TEST_HOOKS, a comma-separated list read once per process, forces paths
// that real data reaches too rarely to test:
//   select-miss      the sampled VaR threshold is +inf, so the scan keeps no candidate and
//                    the call redoes the selection over every loss (select.cu)
//   select-overflow  the sampled scan overflows its candidate room at its second chunk,
//                    with the next chunk's copy in flight, and redoes it (select.cu)
//   pageable         no pinned staging: copies come straight from pageable memory
// Each forced event writes one line "ultra-performance cuda test hook: <name> ..." to stderr.
struct TestHooks {
  bool select_miss = false;
  bool select_overflow = false;
  bool pageable = false;
};
const TestHooks& test_hooks() noexcept;
void note_test_hook(const char* name, const char* where, std::size_t n) noexcept;

// ---------------------------------------------------------------------------------------
// Pinned (page-locked) staging for host-to-device copies. A small process-wide pool of
// cudaHostAlloc'd buffers (portable: valid on every device), reused across calls, grown
// on demand, freed by release_staging() (the addon's environment cleanup hook). A copy
// from pageable JS memory is first copied by the host (a few threads) into a pinned
// slot, then sent by cudaMemcpyAsync, which returns at once: the DMA of one chunk overlaps
// the host copy of the next and the kernels of the previous.
//
// An Uploader holds two slots for one call. Without them (the pool is full, pinned memory
// is refused, or the `pageable` test hook) its copies are plain cudaMemcpyAsync from the
// source, so a caller never needs a second code path.
inline constexpr std::size_t kStagingChunkBytes = std::size_t{32} << 20;  // one slot at most

class Uploader {
 public:
  Uploader() = default;
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;
  // Waits for the copies still reading the slots, then gives the slots back.
  ~Uploader();

  // Two slots of min(total_bytes, chunk_bytes) each. A failure to get pinned memory is
  // not an error (the copies fall back); only a failed event creation is.
  Status open(std::size_t total_bytes, std::size_t chunk_bytes) noexcept;
  bool pinned() const noexcept { return slot_bytes_ != 0; }

  // bytes of src to dst, enqueued on stream; src may be reused once this returns.
  Status copy(void* dst, const void* src, std::size_t bytes, cudaStream_t stream) noexcept;
  // rows rows of width bytes, host pitch spitch, device pitch dpitch (cudaMemcpy2DAsync).
  Status copy_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                   std::size_t rows, cudaStream_t stream) noexcept;

 private:
  Status take_slot(int* slot) noexcept;  // the next slot, once its last copy has finished
  Status sent(int slot, cudaStream_t stream) noexcept;

  void* ptr_[2] = {nullptr, nullptr};
  std::size_t slot_bytes_ = 0;
  cudaEvent_t done_[2] = {nullptr, nullptr};
  bool pending_[2] = {false, false};
  // A copy from the slot was queued but its completion event never recorded (an error in
  // between): nothing says when the transfer stops reading it, so it is never reused.
  bool unsure_[2] = {false, false};
  int turn_ = 0;
};

// Frees the pool's idle pinned buffers (later calls allocate again).
void release_staging() noexcept;
// Bytes of pinned staging the pool holds now (idle and in use).
std::size_t staging_bytes() noexcept;

}  // namespace up::cuda
