/**
 * The whole native surface in one place: every function the CPU addon (binding.gyp,
 * cpp/napi) and the GPU addon (CMakeLists.txt, cuda/napi) export, with primitive
 * signatures. lib/ validates before calling. The memory, queue and system bindings still
 * check every TypedArray argument's element type (and length where they write into it)
 * themselves, throwing a TypeError (code ERR_INVALID_ARG_TYPE) or RangeError
 * (ERR_OUT_OF_RANGE) that names the function and the argument (cpp/napi/typed_args.hpp).
 */

/** Bumped with cpp/napi/bindings.hpp kAbiVersion; a mismatched addon is refused. */
export const CPU_ABI_VERSION = 8;
/** Bumped with kAbiVersion in cuda/napi/addon.cc. */
export const CUDA_ABI_VERSION = 8;

/** Everything the CPU addon exports; one interface per capability, below. */
export interface CpuAddon extends SystemAddon, QueueAddon, MemoryAddon, OrderbookAddon, RiskAddon, ItchAddon, UdpReceiverAddon, NetStructAddon, MonitorAddon, CacheAddon {
  readonly abiVersion: number;
  /** Does nothing: the floor cost of crossing into native code. */
  noop(): void;
}

// ---- cpp/napi/cache.cc ----
/**
 * The L2 shared-memory cache (lib/cache/l2.ts, layout in lib/cache/l2-layout.ts). `cache` is a
 * Uint8Array over a whole cache SharedArrayBuffer; `key` holds the UTF-8 key in its first
 * `keyBytes` bytes. Results are L2Status codes (negative) or a count/length.
 */
export interface CacheAddon {
  /** Every offset and constant of cpp/cache/layout.hpp, checked at load (lib/backend.ts cpuLayoutChecks). */
  readonly cacheLayout: Readonly<Record<string, number>>;
  /** Writes a fresh cache header (zeroing the cache); 0 or L2Status.BadCache. */
  cacheInit(cache: Uint8Array, maxEntries: number, slotBytes: number): number;
  /** Value length with the bytes in out and meta = [expiresAt, staleUntil, version, missFlag, -, expired], or a negative status (Miss). */
  cacheGet(cache: Uint8Array, key: Uint8Array, keyBytes: number, now: number, out: Uint8Array, meta: Float64Array): number;
  /** meta = [expiresAt, staleUntil, version, flags (2: cached miss), now]; 0 stored, 1 stored after an eviction, or a negative status. */
  cacheSet(cache: Uint8Array, key: Uint8Array, keyBytes: number, value: Uint8Array, valueBytes: number, meta: Float64Array): number;
  /** 1 removed, 0 absent, or a negative status. */
  cacheDelete(cache: Uint8Array, key: Uint8Array, keyBytes: number): number;
  /** 0 or a negative status (Busy). */
  cacheClear(cache: Uint8Array): number;
}

// ---- cpp/napi/system.cc ----
export interface SystemAddon {
  cpuInfo(): { model: string; cores: number; features: string[] };
  readonly affinitySupported: boolean;
  /** 0, or -errno. */
  setThreadAffinity(cores: Int32Array): number;
  /** Number of allowed cores (may exceed out.length; at most out.length are written), or -errno. */
  getThreadAffinity(out: Int32Array): number;
  /** Core the calling thread runs on, or -errno. */
  currentCpu(): number;
}

// ---- cpp/napi/queue.cc ----
/**
 * `queue` is always a Uint8Array over a whole queue SharedArrayBuffer (lib/queue/layout.ts);
 * results are lib/queue Status codes: >= 0 a count or length, possibly with
 * Status.WakeBit set (sleepers found: the caller must Atomics.notify), < 0 an error.
 */
export interface QueueAddon {
  /** Every offset and constant of cpp/queue/layout.hpp, checked at load (lib/internal/layout-check.ts). */
  readonly queueLayout: Readonly<Record<string, number>>;
  /** Writes a fresh queue header; 0 or Status.BadQueue. kind: 1 SPSC, 2 MPMC. */
  queueInit(queue: Uint8Array, kind: number, capacity: number, slotBytes: number): number;
  /** Messages in the queue, or a negative status. */
  queueSize(queue: Uint8Array): number;
  /** Marks the queue closed and bumps both wait sequences; the caller notifies. */
  queueClose(queue: Uint8Array): number;
  spscTryPush(queue: Uint8Array, bytes: Uint8Array): number;
  spscTryPop(queue: Uint8Array, out: Uint8Array): number;
  spscPushBatch(queue: Uint8Array, data: Uint8Array, lengths: Uint32Array, count: number): number;
  spscPopBatch(queue: Uint8Array, out: Uint8Array, lengths: Uint32Array, max: number): number;
  mpmcTryPush(queue: Uint8Array, bytes: Uint8Array): number;
  mpmcTryPop(queue: Uint8Array, out: Uint8Array): number;
  mpmcPushBatch(queue: Uint8Array, data: Uint8Array, lengths: Uint32Array, count: number): number;
  mpmcPopBatch(queue: Uint8Array, out: Uint8Array, lengths: Uint32Array, max: number): number;
  /**
   * Starts a std::thread that pushes frame i (lengths[i] bytes, packed in data) into the
   * queue, paced at ratePerSec when > 0. `wake` is called on this thread when consumers
   * sleep. `queue` must view a SharedArrayBuffer (held until the promise settles); data
   * and lengths are held likewise when shared, else copied when the call starts (so the
   * thread never reads memory the caller can detach or shrink). Throws, naming the argument, when the
   * queue or the frames are refused (code ERR_ULTRA_PERF_QUEUE_REFUSED) or an argument
   * has the wrong type or range.
   */
  replayIntoQueue(
    queue: Uint8Array,
    data: Uint8Array,
    lengths: Uint32Array,
    ratePerSec: number,
    wake: () => void,
  ): Promise<{ pushed: number; elapsedMs: number; status: number }>;
}

// ---- cpp/napi/udp_receiver.cc ----
/**
 * A receiver made by udpReceiverOpen (a tagged object; the binding refuses any other): the
 * bound address and what the kernel granted. Option statuses: 0 on, 1 not asked, -errno
 * refused (busyPoll: EPERM without CAP_NET_ADMIN).
 */
export interface UdpReceiverHandle {
  readonly address: string;
  readonly family: number;
  readonly port: number;
  /** SO_RCVBUF as read back (Linux reports twice what was set). */
  readonly receiveBufferBytes: number;
  readonly busyPoll: number;
  readonly timestamps: number;
  readonly overflowCounter: number;
}

/**
 * The native UDP receiver (cpp/net/udp_receiver.hpp): a std::thread per receiver that
 * recvmmsg()s into an SPSC queue (lib/queue layout), each message a record header
 * (`udpRecordLayout`) then the datagram. `queue` must view a SharedArrayBuffer (held until
 * close). OS refusals throw with the errno's name as code (EADDRINUSE, EPERM, ...).
 */
export interface UdpReceiverAddon {
  /** Offsets of the record header and the stats vector's length (cpp/net/udp_receiver.hpp). */
  readonly udpRecordLayout: Readonly<Record<string, number>>;
  /** Creates, configures and binds the socket (host: a numeric address); the thread is not started. */
  udpReceiverOpen(
    queue: Uint8Array,
    host: string,
    port: number,
    receiveBufferBytes: number,
    busyPollUs: number,
    batch: number,
    timestamps: boolean,
  ): UdpReceiverHandle;
  /** Starts the thread, pinned to cpu (-1: not pinned); drain is called on this thread when the queue goes from empty to not empty while JS sleeps. 0, or throws. */
  udpReceiverStart(receiver: UdpReceiverHandle, cpu: number, drain: () => void): number;
  /** out (Float64Array(statsCount)): received, receivedBytes, queued, queueFull, truncated, kernelDropped, batches, sleeps, wakes, errors, lastErrno. */
  udpReceiverStats(receiver: UdpReceiverHandle, out: Float64Array): number;
  /** Stops and joins the thread, closes the socket, lets go of the queue; idempotent. */
  udpReceiverClose(receiver: UdpReceiverHandle): number;
  /**
   * A load generator (benches, tests): sends count (at most 2^22) datagrams of size bytes to
   * host:port with sendmmsg, batch per call, paced at ratePerSec (0: flat out, else 100..1e9); datagram i holds i (u32 at
   * burstSeqOffset) and its CLOCK_MONOTONIC send time (f64 at burstStampOffset). Blocks
   * until done; returns how many were sent.
   */
  udpSendBurst(host: string, port: number, size: number, count: number, ratePerSec: number, batch: number): number;
}

// ---- cpp/napi/memory.cc ----
// `mem` is a Uint8Array over the whole allocator buffer (ArrayBuffer or
// SharedArrayBuffer). Allocation calls return a byte offset (>= 0) or a negative
// status (lib/memory/layout.ts Status); free-like calls return 0 or a status. The
// native side reads and checks the header once per call and uses only that copy;
// corrupt (-5) and lockTimeout (-10) report a scribbled structure or a held lock word.
// lib/ allocates through none of these: the allocators have no native backend from JS
// (docs/memory-layout.md); the alloc/free bindings are the conformance hooks the tests drive
// the C++ allocators through (lib/memory/common.ts kCrossCheckNative).
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
  /**
   * Writes up to n levels best first: units 0 as (price, size) pairs, units 1 as
   * (ticks, size, 0) triples (the engine's layout); returns the levels written.
   */
  levels(side: number, n: number, out: Float64Array, units: number): number;
}

/**
 * A matching engine (cpp/orderbook/matching_engine.hpp). After submit/modify/query the
 * results are in `view` (lib/orderbook/layout.ts View) as values (prices and quantities,
 * correctly rounded from exact ticks and lots). The per-order calls take their arguments
 * from the view's argument slots (View.args + i); lots go in as a double plus the
 * correction it could not hold (exact to 2^63 - 1).
 */
export interface EngineNative {
  readonly view: ArrayBuffer;
  /** args: side 0 buy / 1 sell, market 0/1, ticks, lots, tif 0 GTC / 1 IOC / 2 FOK, postOnly 0/1, owner (0 none), clientId, lots correction. */
  submit(): void;
  /** args: orderId. */
  cancel(): boolean;
  /** args: orderId, ticks or NaN (keep), lots or NaN (keep), lots correction. */
  modify(): void;
  /** args: orderId. Fills the query fields of the view; false when the id is not resting. */
  query(): boolean;
  /**
   * Writes up to n levels best first: units 0 as (price, quantity) pairs, units 1 as
   * (ticks, lots, correction) triples with lots + correction exact; returns the levels written.
   */
  levels(side: number, n: number, out: Float64Array, units: number): number;
  /** Copies every fill of the last submit/modify as (makerId, price, quantity); returns the count written. */
  copyFills(out: Float64Array): number;
  /** Validates every command first: count, or -(index + 1) of the first bad one (nothing run). */
  batch(commands: Float64Array, count: number, fillsOut: Float64Array | null): number;
}

/**
 * A market-by-order book (cpp/orderbook/mbo_book.hpp) over lib/pipeline/events.ts events
 * (integer ticks and lots). `view` is lib/orderbook/layout.ts Mbo: the top of book as values,
 * counters, the last refused event's reason, order() results and one event slot.
 */
export interface MboNative {
  readonly view: ArrayBuffer;
  /**
   * Applies events [from, to) of `events` (kEventStride doubles each), one by one, each
   * validated before it changes anything: `to`, or -(i + 1) for the first bad event i
   * (events before it stay applied; the reason is in view[Mbo.errorReason]).
   */
  apply(events: Float64Array, from: number, to: number): number;
  /** The event in the view's event slot: 1, or -1 with the reason in the view. */
  applyOne(): number;
  /** The order whose id is in the event slot's orderId: false when unknown, else side, ticks, lots in the view. */
  query(): boolean;
  clear(): void;
  /** Writes up to n levels best first: units 0 (price, size) value pairs, units 1 (ticks, lots, 0) triples. */
  levels(side: number, n: number, out: Float64Array, units: number): number;
  /**
   * The LOBSTER replay check (lib/pipeline/sources/lobster.ts replayLobster) on a book seeded
   * from row 0: for k = 1..count-1 applies events[k], compares the best `depth` levels per side
   * with rows[k] (cols doubles: ask price, ask size, bid price, bid size per level), takes
   * refills from the row, resets a mismatching side from it, trims to depth. Returns the events
   * it added (message k's from extraStart[k], count + 1 entries); summary (Float64Array of
   * layout.ts kReplaySummary): status (count, or -(k + 1) for a refused message k, its reason
   * in the view), mismatches, refills, kept, then kept x (row, side, level, ours ticks, ours
   * lots, theirs ticks, theirs lots), NaN for no level.
   */
  replayLobster(events: Float64Array, rows: Float64Array, count: number, cols: number, depth: number, extraStart: Uint32Array, summary: Float64Array): Float64Array;
}

export interface OrderbookAddon {
  /** lotDen 0: sizes are free values. allowNegativePrices (default true) false: ticks < 0 are refused. */
  orderbookL2Create(tickNum: number, tickDen: number, lotNum: number, lotDen: number, allowNegativePrices?: boolean): L2Native;
  /** stp: 0 none, 1 cancel-taker, 2 cancel-maker, 3 cancel-both. allowNegativePrices as orderbookL2Create. */
  orderbookEngineCreate(
    tickNum: number,
    tickDen: number,
    lotNum: number,
    lotDen: number,
    stp: number,
    allowNegativePrices?: boolean,
  ): EngineNative;
  /** allowNegativePrices as orderbookL2Create; expectedOrders (1 to 2^22) sizes the order pool and map (they grow past it). */
  orderbookMboCreate(tickNum: number, tickDen: number, lotNum: number, lotDen: number, allowNegativePrices: boolean, expectedOrders: number): MboNative;
  /** Every view offset and code of lib/orderbook/layout.ts `orderbookLayout`, checked at load. */
  readonly orderbookLayout: Readonly<Record<string, number>>;
}

// ---- cpp/napi/net_struct.cc ----
/**
 * Quote frames (lib/net/struct-schemas.ts `quoteSchema`, 48 bytes each) to and from
 * struct-of-arrays columns (lib/net/struct-batch.ts). Every argument is checked natively:
 * a short column or buffer, an offset past the end, a detached view throw with a code.
 */
export interface NetStructAddon {
  /** Writes `count` frames at out[offset]; bytes written, or -1 - row of the first 64-bit value that is not a safe integer. */
  structQuoteEncodeBatch(
    out: Uint8Array, offset: number, count: number,
    timestamp: Float64Array, instrumentId: Uint32Array, sequence: Uint32Array,
    bidPrice: Float64Array, askPrice: Float64Array, bidSize: Uint32Array, askSize: Uint32Array,
  ): number;
  /**
   * Decodes frames from bytes[offset, offset + length) into rows [0, max) until either runs
   * out; returns the frames decoded. result: [bytes consumed, FrameStatus (0 ok), offending
   * byte from bytes[0]].
   */
  structQuoteDecodeBatch(
    bytes: Uint8Array, offset: number, length: number, max: number,
    timestamp: Float64Array, instrumentId: Uint32Array, sequence: Uint32Array,
    bidPrice: Float64Array, askPrice: Float64Array, bidSize: Uint32Array, askSize: Uint32Array,
    result: Float64Array,
  ): number;
}

// ---- cpp/napi/monitor.cc (cpp/system/nvml) ----
/**
 * NVML opened at run time (dlopen). Statuses are NVML's nvmlReturn_t (0 success, errors
 * 1..999) plus 10001 (not open) and 10002 (no nvmlDeviceGetSamples); a count comes back as
 * `-status` on failure. Read-only: no binding changes a device setting.
 */
export interface MonitorAddon {
  /** Slots nvmlRead fills (lib/monitor/gpu.ts kField agrees). */
  readonly nvmlFieldCount: number;
  /** "" once NVML is loaded from `path` and initialized (at once if it already is), one more user; else why not. */
  nvmlOpen(path: string): string;
  /** One user fewer; the last one shuts NVML down (nvmlShutdown, dlclose). */
  nvmlClose(): void;
  /** Device count, or -status. */
  nvmlDeviceCount(): number;
  /** The device's name, or a status. */
  nvmlDeviceName(index: number): string | number;
  /** Fills out[0 .. nvmlFieldCount) (NaN where unsupported); returns a status. */
  nvmlRead(index: number, out: Float64Array): number;
  /** GPU-utilization samples newer than lastSeenUs, oldest first, into the arrays; count written, or -status. */
  nvmlUtilizationSamples(index: number, lastSeenUs: number, timestampsUs: Float64Array, values: Float64Array): number;
  /** NVML's text for a status. */
  nvmlErrorString(status: number): string;
}

// ---- cpp/napi/risk.cc ----
/**
 * cpp/risk kernels. Every kernel has a synchronous form and an `...Async` form that runs
 * it on the libuv pool on memory the work owns (cpp/napi/kernel_binding.hpp): inputs are
 * copied when the call is made, outputs are written back when the kernel has finished,
 * and an output transferred or shrunk meanwhile rejects with ERR_ULTRA_PERF_DETACHED.
 * Arguments are checked as every binding's are (typed_args.hpp: TypeError / RangeError,
 * codes ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE, naming the function and the argument);
 * a kernel out of memory throws ERR_ULTRA_PERF_OUT_OF_MEMORY. Statuses: -1 ok, >= 0 the index of the first non-finite input;
 * covariance also returns -2 - k when asset k has zero variance (correlation only: all its
 * values equal, or under EWMA all its weighted values zero).
 */
export interface RiskAddon {
  /** Threads the risk kernels use (pool workers + the caller). */
  readonly riskThreads: number;
  /** How long an idle pool worker polls for the next job before it sleeps, in ns (cpp/risk/parallel.hpp). */
  riskPoolSpinNs(): number;
  /** Sets that window: an integer 0 .. 1e9 ns (RangeError ERR_OUT_OF_RANGE otherwise); 0 sleeps at once. */
  setRiskPoolSpinNs(spinNs: number): void;
  /** Normals first.. of `stream` under `seed` into out (philox.hpp). */
  fillNormals(out: Float64Array, seed: number, stream: number, first: number): number;
  fillNormalsAsync(out: Float64Array, seed: number, stream: number, first: number): Promise<number>;
  /** out = [var, cvar] of the losses sign * values. */
  varHistorical(values: Float64Array, sign: number, confidence: number, out: Float64Array): number;
  varHistoricalAsync(values: Float64Array, sign: number, confidence: number, out: Float64Array): Promise<number>;
  /** out = [mean, std, skew, excess kurtosis] of the losses sign * values; ddof 0 population, 1 sample moments (cpp/risk/var.hpp). */
  lossMoments(values: Float64Array, sign: number, ddof: number, out: Float64Array): number;
  lossMomentsAsync(values: Float64Array, sign: number, ddof: number, out: Float64Array): Promise<number>;
  portfolioReturns(returns: Float64Array, observations: number, assets: number, weights: Float64Array, out: Float64Array): number;
  portfolioReturnsAsync(returns: Float64Array, observations: number, assets: number, weights: Float64Array, out: Float64Array): Promise<number>;
  /** method 0 Pearson, 1 EWMA; correlation 0|1. */
  covariance(data: Float64Array, observations: number, assets: number, method: 0 | 1, lambda: number, correlation: number, out: Float64Array): number;
  covarianceAsync(data: Float64Array, observations: number, assets: number, method: 0 | 1, lambda: number, correlation: number, out: Float64Array): Promise<number>;
  /**
   * PSD Cholesky (cpp/risk/matrix.hpp): -1, or the index j of the pivot that proves the
   * matrix indefinite, with failure = [pivot, -1, Rayleigh quotient] or [pivot, row i, entry s_i].
   */
  cholesky(matrix: Float64Array, n: number, lower: Float64Array, failure: Float64Array): number;
  choleskyAsync(matrix: Float64Array, n: number, lower: Float64Array, failure: Float64Array): Promise<number>;
  simulateGbm(spot: number, drift: number, volatility: number, dt: number, steps: number, paths: number, seed: number, antithetic: boolean, terminal: Float64Array, kept: Float64Array | null): number;
  simulateGbmAsync(spot: number, drift: number, volatility: number, dt: number, steps: number, paths: number, seed: number, antithetic: boolean, terminal: Float64Array, kept: Float64Array | null): Promise<number>;
  portfolioLosses(weights: Float64Array, means: Float64Array, lower: Float64Array, assets: number, paths: number, horizon: number, seed: number, losses: Float64Array): number;
  portfolioLossesAsync(weights: Float64Array, means: Float64Array, lower: Float64Array, assets: number, paths: number, horizon: number, seed: number, losses: Float64Array): Promise<number>;
}

// ---- cpp/napi/itch.cc ----
export interface ItchAddon {
  /**
   * Decodes framed ITCH 5.0 messages from bytes[start] into the 11 columns of ItchColumns
   * (lib/net/itch.ts, in that order; each at least `capacity` long), as decodeItchBatch does.
   * result (Float64Array(4)): count, end, errorAt, field. Returns 0, or a status for bad bytes
   * (1 bad frame at the length prefix errorAt, 2 an 8-byte field >= 2^53 at errorAt, field
   * naming which, 3 a bad buy/sell indicator at errorAt); lib/net/itch.ts turns it into the
   * SourceFormatError the TS decoder throws. Bad arguments (types, short or detached arrays,
   * start past the end) throw TypeError/RangeError naming the argument.
   */
  itchDecodeBatch(
    bytes: Uint8Array,
    start: number,
    capacity: number,
    type: Uint8Array,
    stockLocate: Uint16Array,
    trackingNumber: Uint16Array,
    timestamp: Float64Array,
    orderRef: Float64Array,
    newOrderRef: Float64Array,
    side: Int8Array,
    shares: Float64Array,
    price: Float64Array,
    matchNumber: Float64Array,
    offset: Float64Array,
    result: Float64Array,
  ): number;
}

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
  /** Normals first..first+out.length-1 of (seed, stream), drawn on the device (cpp/risk/philox.hpp). */
  philoxNormals(out: Float64Array, seed: number, stream: number, first: number): CudaStatus;
  /** Time of the last risk kernel call: lib/risk/gpu.ts GpuTiming. */
  lastTiming(): { kernelMs: number; copyMs: number; hostMs: number; wallMs: number; totalMs: number };
  /**
   * The first sticky device fault of the process (cuda/check.cuh is_sticky), or { ok: true }.
   * After one every CUDA call fails, and the addon refuses GPU work with this status.
   */
  deviceFault(): CudaStatus;
  /** Test hook for test/gpu: the device allocation `n` calls from now fails; -1 turns it off. */
  failAllocation(n: number): void;
  // The risk kernels (cuda/risk/kernels.cuh): the CPU addon's signatures and statuses.
  // A device failure (out of memory, launch error) throws an Error with code
  // ERR_ULTRA_PERF_GPU naming the CUDA call; arguments are checked as the CPU addon's.
  varHistorical: RiskAddon['varHistorical'];
  varHistoricalAsync: RiskAddon['varHistoricalAsync'];
  lossMoments: RiskAddon['lossMoments'];
  lossMomentsAsync: RiskAddon['lossMomentsAsync'];
  portfolioReturns: RiskAddon['portfolioReturns'];
  portfolioReturnsAsync: RiskAddon['portfolioReturnsAsync'];
  covariance: RiskAddon['covariance'];
  covarianceAsync: RiskAddon['covarianceAsync'];
  /** summary = [var, cvar, mean, stdError] of the loss spot - S(T); -1 or the first path whose S(T) is not finite. */
  simulateGbm(spot: number, drift: number, volatility: number, dt: number, steps: number, paths: number, seed: number, antithetic: boolean, confidence: number, terminal: Float64Array, kept: Float64Array | null, summary: Float64Array): number;
  simulateGbmAsync(spot: number, drift: number, volatility: number, dt: number, steps: number, paths: number, seed: number, antithetic: boolean, confidence: number, terminal: Float64Array, kept: Float64Array | null, summary: Float64Array): Promise<number>;
  /** losses and/or summary = [var, cvar, mean return, stdError]; -1 or the first non-finite loss (with a summary). */
  portfolioMc(weights: Float64Array, means: Float64Array, lower: Float64Array, assets: number, paths: number, horizon: number, seed: number, confidence: number, losses: Float64Array | null, summary: Float64Array | null): number;
  portfolioMcAsync(weights: Float64Array, means: Float64Array, lower: Float64Array, assets: number, paths: number, horizon: number, seed: number, confidence: number, losses: Float64Array | null, summary: Float64Array | null): Promise<number>;
}
