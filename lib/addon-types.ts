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
// `mem` is a Uint8Array over the whole allocator buffer (ArrayBuffer or
// SharedArrayBuffer). Allocation calls return a byte offset (>= 0) or a negative
// status (lib/memory/layout.ts Status); free-like calls return 0 or a status. The
// native side re-reads and re-checks the header on every call.
export interface MemoryAddon {
  /** Every layout constant of cpp/memory/layout.hpp by name ("slab.head", ...). */
  memoryLayout(): Record<string, number>;
  /** Fills out (Int32Array(10)): totalBytes, dataOffset, dataBytes, g0..g3, array0..array2; returns a status. */
  memoryGeometry(kind: number, a: number, b: number, out: Int32Array): number;
  memoryFormat(mem: Uint8Array, kind: number, a: number, b: number, shared: boolean): number;
  memoryValidate(mem: Uint8Array, kind: number): number;
  slabAlloc(mem: Uint8Array): number;
  slabFree(mem: Uint8Array, offset: number): number;
  /** out (Int32Array(2)): used, free. */
  slabStats(mem: Uint8Array, out: Int32Array): number;
  buddyAlloc(mem: Uint8Array, size: number): number;
  buddyFree(mem: Uint8Array, offset: number): number;
  /** The live block's size, or a negative status. */
  buddyBlockSize(mem: Uint8Array, offset: number): number;
  /** out (Float64Array(6)): bytes, used, free, largestFreeBlock, liveBlocks, fragmentation. */
  buddyStats(mem: Uint8Array, out: Float64Array): number;
  ringAlloc(mem: Uint8Array, size: number): number;
  /** Releases the oldest allocation: its offset, or -1 when empty. */
  ringRelease(mem: Uint8Array): number;
  ringFree(mem: Uint8Array, offset: number): number;
  ringOldest(mem: Uint8Array): number;
  ringSizeOf(mem: Uint8Array, offset: number): number;
  /** out (Int32Array(4)): bytes, used, free, live. */
  ringStats(mem: Uint8Array, out: Int32Array): number;
  stackAlloc(mem: Uint8Array, size: number): number;
  stackMark(mem: Uint8Array): number;
  stackReset(mem: Uint8Array, mark: number): number;
  /** out (Int32Array(4)): bytes, used, free, highWater. */
  stackStats(mem: Uint8Array, out: Int32Array): number;
}

// ---- cpp/napi/orderbook.cc ----
/**
 * An L2 book (cpp/orderbook/l2_book.hpp). `view` is the core's top-of-book doubles then two
 * argument slots (lib/orderbook/layout.ts Top); sides are 0 bid / 1 ask; prices are ticks.
 * The hot calls take no JS arguments: write them into the argument slots first.
 */
export interface L2Native {
  readonly view: ArrayBuffer;
  /** Sets the bid level (ticks, size) written at Top.argTicks / Top.argSize; size 0 removes it. */
  setBid(): void;
  setAsk(): void;
  /** Validates all `count` triples first: count, or -(index + 1) of the first bad one (nothing applied). */
  applyDeltas(deltas: Float64Array, count: number): number;
  clear(): void;
  /** Writes up to n (price, size) pairs best first; returns the pairs written. */
  levels(side: number, n: number, out: Float64Array): number;
}

/**
 * A matching engine (cpp/orderbook/matching_engine.hpp). After submit/modify/query the
 * results are in `view` (lib/orderbook/layout.ts View). Quantities are integer lots. The
 * per-order calls take their arguments from the view's argument slots (View.args + i).
 */
export interface EngineNative {
  readonly view: ArrayBuffer;
  /** args: side 0 buy / 1 sell, market 0/1, ticks, lots, tif 0 GTC / 1 IOC / 2 FOK, postOnly 0/1, owner (0 none), clientId. */
  submit(): void;
  /** args: orderId. */
  cancel(): boolean;
  /** args: orderId, ticks or NaN (keep), lots or NaN (keep). */
  modify(): void;
  /** args: orderId. Fills the query fields of the view; false when the id is not resting. */
  query(): boolean;
  levels(side: number, n: number, out: Float64Array): number;
  /** Copies every fill of the last submit/modify as (makerId, ticks, lots); returns the count written. */
  copyFills(out: Float64Array): number;
  /** Validates every command first: count, or -(index + 1) of the first bad one (nothing run). */
  batch(commands: Float64Array, count: number, fillsOut: Float64Array | null): number;
}

export interface OrderbookAddon {
  /** lotDen 0: sizes are free values. */
  orderbookL2Create(tickNum: number, tickDen: number, lotNum: number, lotDen: number): L2Native;
  /** stp: 0 none, 1 cancel-taker, 2 cancel-maker, 3 cancel-both. */
  orderbookEngineCreate(tickNum: number, tickDen: number, lotNum: number, lotDen: number, stp: number): EngineNative;
  readonly orderbookLayout: {
    topFields: number;
    l2ViewDoubles: number;
    viewArgs: number;
    viewDoubles: number;
    viewFills: number;
    viewFillCapacity: number;
    commandStride: number;
    fillStride: number;
    orderBytes: number;
  };
}

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
