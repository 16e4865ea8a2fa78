/**
 * The whole native surface in one place: every function the CPU addon (binding.gyp,
 * cpp/napi) and the GPU addon (CMakeLists.txt, cuda/napi) export, with primitive
 * signatures. lib/ validates before calling; these functions trust their arguments.
 */

/** Bumped with cpp/napi/bindings.hpp kAbiVersion; a mismatched addon is refused. */
export const CPU_ABI_VERSION = 1;
/** Bumped with kAbiVersion in cuda/napi/addon.cc. */
export const CUDA_ABI_VERSION = 1;

/** Everything the CPU addon exports; one interface per capability, below. */
export interface CpuAddon extends SystemAddon, QueueAddon, MemoryAddon, OrderbookAddon, RiskAddon {
  readonly abiVersion: number;
  /** Does nothing: the floor cost of crossing into native code. */
  noop(): void;
}

// ---- cpp/napi/system.cc ----
export interface SystemAddon {
  cpuInfo(): { model: string; cores: number; features: string[] };
  readonly affinitySupported: boolean;
  /** 0, or -errno. */
  setThreadAffinity(cores: Int32Array): number;
  /** Number of allowed cores (may exceed out.length), or -errno. */
  getThreadAffinity(out: Int32Array): number;
  /** Core the calling thread runs on, or -errno. */
  currentCpu(): number;
}

// ---- cpp/napi/queue.cc ----
export interface QueueAddon {}

// ---- cpp/napi/memory.cc ----
export interface MemoryAddon {}

// ---- cpp/napi/orderbook.cc ----
export interface OrderbookAddon {}

// ---- cpp/napi/risk.cc ----
export interface RiskAddon {}

export interface CudaStatus {
  ok: boolean;
  /** cudaError_t value; 0 on success. */
  code: number;
  /** "cudaErrorName: message (call at file:line)". */
  message: string;
}

export interface CudaDeviceRecord {
  index: number;
  name: string;
  totalMemory: number;
  computeCapability: string;
  multiprocessors: number;
  memoryBusWidth: number;
  pciBusId: string;
}

export interface CudaProbe {
  abiVersion: number;
  runtimeVersion: number;
  driverVersion: number;
  status: CudaStatus;
  devices: CudaDeviceRecord[];
}

export interface CudaAddon {
  readonly abiVersion: number;
  probe(): CudaProbe;
  selectDevice(index: number): CudaStatus;
  currentDevice(): CudaStatus & { index: number };
  memoryInfo(): CudaStatus & { free: number; total: number };
  selfTest(n: number): CudaStatus;
}
