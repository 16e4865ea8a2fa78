// One entry per native function of lib/addon-types.ts: how to build a valid call (every
// TypedArray guarded, from ctx.arena), which source file owns it, and what else to try.
// run.mjs fails when the addon or addon-types.ts has a function this table lacks, or the
// table names one that no longer exists.
//
// valid(ctx) -> { args, this? }: a fresh call that should succeed. Extra fields:
//   thread: true   the function works on shared memory other threads use (race cases)
//   structure: i   argument i is a whole shared structure (scribbled cases)
//   slots          for the handles' zero-argument calls: the view's argument slots to fuzz

const QUEUE = { spsc: 1, mpmc: 2 };
const MEM = { slab: 1, buddy: 2, ring: 3, stack: 4 };

/** A formatted queue of `kind` in a guarded Uint8Array (shared when ctx.shared). */
export function makeQueue(ctx, kind = QUEUE.spsc, capacity = 8, slotBytes = 32) {
  const L = ctx.addon.queueLayout;
  const stride = 8 + Math.ceil(slotBytes / 8) * 8;
  const total = Math.ceil((L.dataOffset + capacity * stride) / 128) * 128;
  const q = ctx.arena.make(Uint8Array, total, { shared: ctx.shared });
  const s = ctx.addon.queueInit(q, kind, capacity, slotBytes);
  if (s !== 0) throw new Error(`fuzz: queueInit refused a valid queue (${s})`);
  return q;
}

/** A formatted allocator of `kind` in a guarded Uint8Array, with a few live allocations. */
export function makeMem(ctx, kind) {
  const [a, b] = { 1: [64, 16], 2: [4096, 64], 3: [1024, 0], 4: [1024, 0] }[kind];
  const g = new Int32Array(10);
  ctx.addon.memoryGeometry(kind, a, b, g);
  const m = ctx.arena.make(Uint8Array, g[0], { shared: ctx.shared });
  const s = ctx.addon.memoryFormat(m, kind, a, b, !!ctx.shared);
  if (s !== 0) throw new Error(`fuzz: memoryFormat refused a valid allocator (${s})`);
  const A = ctx.addon;
  ctx.live = [];
  for (let i = 0; i < 3; i++) {
    const off = kind === 1 ? A.slabAlloc(m) : kind === 2 ? A.buddyAlloc(m, 100) : kind === 3 ? A.ringAlloc(m, 40) : A.stackAlloc(m, 40);
    ctx.live.push(off);
  }
  return m;
}

/** A formatted L2 cache (4 entries, 64-byte slots: 896 bytes) in a guarded Uint8Array, holding the key "abc". */
export function makeCache(ctx) {
  const c = ctx.arena.make(Uint8Array, 896, { shared: ctx.shared });
  const s = ctx.addon.cacheInit(c, 4, 64);
  if (s !== 0) throw new Error(`fuzz: cacheInit refused a valid cache (${s})`);
  ctx.addon.cacheSet(c, cacheKey(ctx), 3, ctx.arena.make(Uint8Array, 16), 16, ctx.arena.copy(new Float64Array([Infinity, Infinity, 0, 0, 0])));
  return c;
}
const cacheKey = (ctx) => ctx.arena.copy(new Uint8Array([0x61, 0x62, 0x63]));

const pushed = (ctx, kind) => {
  const q = makeQueue(ctx, kind);
  const push = kind === QUEUE.spsc ? ctx.addon.spscTryPush : ctx.addon.mpmcTryPush;
  for (let i = 0; i < 3; i++) push(q, ctx.arena.make(Uint8Array, 16));
  return q;
};

const f64 = (ctx, n, fill = (i) => Math.sin(i + 1) / 100) => {
  const v = ctx.arena.make(Float64Array, n, { shared: ctx.shared });
  for (let i = 0; i < n; i++) v[i] = fill(i);
  return v;
};

/** The seven Quote columns of cpp/napi/net_struct.cc, n rows each. */
const quoteColumns = (ctx, n) => [Float64Array, Uint32Array, Uint32Array, Float64Array, Float64Array, Uint32Array, Uint32Array].map((C) => ctx.arena.make(C, n));

const identity = (ctx, n) => f64(ctx, n * n, (i) => (i % (n + 1) === 0 ? 1 : 0));

const file = {
  system: 'cpp/napi/system.cc',
  addon: 'cpp/napi/addon.cc',
  queue: 'cpp/napi/queue.cc',
  memory: 'cpp/napi/memory.cc',
  book: 'cpp/napi/orderbook.cc',
  risk: 'cpp/napi/risk.cc',
  itch: 'cpp/napi/itch.cc',
  netStruct: 'cpp/napi/net_struct.cc',
  monitor: 'cpp/napi/monitor.cc',
  cuda: 'cuda/napi/addon.cc',
  udp: 'cpp/napi/udp_receiver.cc',
  cache: 'cpp/napi/cache.cc',
};

/** A bound native UDP receiver over a shared SPSC queue (loopback, port 0), not started. */
const udpReceiver = (ctx) => ctx.addon.udpReceiverOpen(makeQueue({ ...ctx, shared: true }, QUEUE.spsc, 8, 128), '127.0.0.1', 0, 0, 0, 32, true);

const memEntry = (kind, build) => ({ file: file.memory, thread: true, structure: 0, valid: (ctx) => build(ctx, makeMem(ctx, kind)) });

const queueEntries = {};
for (const [prefix, kind] of Object.entries(QUEUE)) {
  Object.assign(queueEntries, {
    [`${prefix}TryPush`]: { file: file.queue, thread: true, structure: 0, valid: (ctx) => ({ args: [makeQueue(ctx, kind), ctx.arena.make(Uint8Array, 16)] }) },
    [`${prefix}TryPop`]: { file: file.queue, thread: true, structure: 0, valid: (ctx) => ({ args: [pushed(ctx, kind), ctx.arena.make(Uint8Array, 32)] }) },
    [`${prefix}PushBatch`]: {
      file: file.queue, thread: true, structure: 0,
      valid: (ctx) => {
        const lengths = ctx.arena.make(Uint32Array, 3, { shared: ctx.shared });
        lengths.set([8, 16, 4]);
        return { args: [makeQueue(ctx, kind), ctx.arena.make(Uint8Array, 28, { shared: ctx.shared }), lengths, 3] };
      },
    },
    [`${prefix}PopBatch`]: {
      file: file.queue, thread: true, structure: 0,
      valid: (ctx) => ({ args: [pushed(ctx, kind), ctx.arena.make(Uint8Array, 96), ctx.arena.make(Uint32Array, 3, { shared: ctx.shared }), 3] }),
    },
  });
}

export const entries = {
  noop: { file: file.addon, valid: () => ({ args: [] }) },
  cpuInfo: { file: file.system, valid: () => ({ args: [] }) },
  currentCpu: { file: file.system, valid: () => ({ args: [] }) },
  getThreadAffinity: { file: file.system, valid: (ctx) => ({ args: [ctx.arena.make(Int32Array, 4)] }) },
  // Restores nothing: each batch runs in a child process of its own.
  setThreadAffinity: { file: file.system, valid: (ctx) => ({ args: [ctx.arena.copy(new Int32Array([0]))] }) },

  cacheInit: { file: file.cache, valid: (ctx) => ({ args: [ctx.arena.make(Uint8Array, 896, { shared: ctx.shared }), 4, 64] }) },
  cacheGet: {
    file: file.cache, thread: true, structure: 0,
    valid: (ctx) => ({ args: [makeCache(ctx), cacheKey(ctx), 3, 0, ctx.arena.make(Uint8Array, 64), ctx.arena.make(Float64Array, 6)] }),
  },
  cacheSet: {
    file: file.cache, thread: true, structure: 0,
    valid: (ctx) => ({ args: [makeCache(ctx), cacheKey(ctx), 3, ctx.arena.make(Uint8Array, 24), 24, ctx.arena.copy(new Float64Array([Infinity, Infinity, 1, 0, 0]))] }),
  },
  cacheDelete: { file: file.cache, thread: true, structure: 0, valid: (ctx) => ({ args: [makeCache(ctx), cacheKey(ctx), 3] }) },
  cacheClear: { file: file.cache, thread: true, structure: 0, valid: (ctx) => ({ args: [makeCache(ctx)] }) },

  // NVML stays closed here (no driver on CI): each call must still unpack its arguments and answer a status.
  nvmlOpen: { file: file.monitor, valid: () => ({ args: ['/nonexistent/libnvidia-ml.so.1'] }) },
  nvmlClose: { file: file.monitor, valid: () => ({ args: [] }) },
  nvmlDeviceCount: { file: file.monitor, valid: () => ({ args: [] }) },
  nvmlDeviceName: { file: file.monitor, valid: () => ({ args: [0] }) },
  nvmlRead: { file: file.monitor, valid: (ctx) => ({ args: [0, ctx.arena.make(Float64Array, ctx.addon.nvmlFieldCount)] }) },
  nvmlUtilizationSamples: {
    file: file.monitor,
    valid: (ctx) => ({ args: [0, 0, ctx.arena.make(Float64Array, 16), ctx.arena.make(Float64Array, 16)] }),
  },
  nvmlErrorString: { file: file.monitor, valid: () => ({ args: [3] }) },

  queueInit: { file: file.queue, valid: (ctx) => ({ args: [ctx.arena.make(Uint8Array, 1280, { shared: ctx.shared }), 1, 8, 32] }) },
  queueSize: { file: file.queue, thread: true, structure: 0, valid: (ctx) => ({ args: [pushed(ctx, QUEUE.mpmc)] }) },
  queueClose: { file: file.queue, thread: true, structure: 0, valid: (ctx) => ({ args: [makeQueue(ctx, QUEUE.spsc)] }) },
  ...queueEntries,
  replayIntoQueue: {
    // Thread-facing through its own thread: "detach/shrink after call" race it.
    file: file.queue, async: true, structure: 0,
    valid: (ctx) => {
      const lengths = ctx.arena.make(Uint32Array, 4);
      lengths.set([8, 8, 8, 8]);
      const data = ctx.arena.make(Uint8Array, 32);
      // Capacity 64: the replay never waits for a consumer.
      return { args: [makeQueue(ctx, QUEUE.spsc, 64), data, lengths, 0, () => {}] };
    },
  },

  // The receiver thread writes only into the queue, which must be shared: the binding refuses any other.
  udpReceiverOpen: {
    file: file.udp, structure: 0,
    valid: (ctx) => ({ args: [makeQueue({ ...ctx, shared: true }, QUEUE.spsc, 8, 128), '127.0.0.1', 0, 0, 0, 32, true] }),
  },
  udpReceiverStart: { file: file.udp, valid: (ctx) => ({ args: [udpReceiver(ctx), -1, () => {}] }) },
  udpReceiverStats: { file: file.udp, valid: (ctx) => ({ args: [udpReceiver(ctx), ctx.arena.make(Float64Array, 11)] }) },
  udpReceiverClose: { file: file.udp, valid: (ctx) => ({ args: [udpReceiver(ctx)] }) },
  // Sends to a bound receiver (nobody listening would be ECONNREFUSED): four datagrams.
  udpSendBurst: { file: file.udp, valid: (ctx) => ({ args: ['127.0.0.1', udpReceiver(ctx).port, 64, 4, 0, 2] }) },

  memoryLayout: { file: file.memory, valid: () => ({ args: [] }) },
  memoryGeometry: { file: file.memory, valid: (ctx) => ({ args: [MEM.buddy, 4096, 64, ctx.arena.make(Int32Array, 10)] }) },
  memoryFormat: {
    file: file.memory,
    valid: (ctx) => ({ args: [ctx.arena.make(Uint8Array, 4992, { shared: ctx.shared }), MEM.buddy, 4096, 64, false] }),
  },
  memoryValidate: { file: file.memory, structure: 0, valid: (ctx) => ({ args: [makeMem(ctx, MEM.buddy), MEM.buddy] }) },
  slabAlloc: memEntry(MEM.slab, (ctx, m) => ({ args: [m] })),
  slabFree: memEntry(MEM.slab, (ctx, m) => ({ args: [m, ctx.live[1]] })),
  slabStats: memEntry(MEM.slab, (ctx, m) => ({ args: [m, ctx.arena.make(Int32Array, 2)] })),
  buddyAlloc: memEntry(MEM.buddy, (ctx, m) => ({ args: [m, 200] })),
  buddyFree: memEntry(MEM.buddy, (ctx, m) => ({ args: [m, ctx.live[1]] })),
  buddyBlockSize: memEntry(MEM.buddy, (ctx, m) => ({ args: [m, ctx.live[0]] })),
  buddyStats: memEntry(MEM.buddy, (ctx, m) => ({ args: [m, ctx.arena.make(Float64Array, 6)] })),
  ringAlloc: memEntry(MEM.ring, (ctx, m) => ({ args: [m, 64] })),
  ringRelease: memEntry(MEM.ring, (ctx, m) => ({ args: [m] })),
  ringFree: memEntry(MEM.ring, (ctx, m) => ({ args: [m, ctx.live[0]] })),
  ringOldest: memEntry(MEM.ring, (ctx, m) => ({ args: [m] })),
  ringSizeOf: memEntry(MEM.ring, (ctx, m) => ({ args: [m, ctx.live[1]] })),
  ringStats: memEntry(MEM.ring, (ctx, m) => ({ args: [m, ctx.arena.make(Int32Array, 4)] })),
  stackAlloc: memEntry(MEM.stack, (ctx, m) => ({ args: [m, 64] })),
  stackMark: memEntry(MEM.stack, (ctx, m) => ({ args: [m] })),
  stackReset: memEntry(MEM.stack, (ctx, m) => ({ args: [m, ctx.addon.stackMark(m)] })),
  stackStats: memEntry(MEM.stack, (ctx, m) => ({ args: [m, ctx.arena.make(Int32Array, 4)] })),

  orderbookL2Create: { file: file.book, valid: () => ({ args: [1, 100, 1, 1] }) },
  orderbookEngineCreate: { file: file.book, valid: () => ({ args: [1, 100, 1, 1, 0] }) },
  'L2Native.setBid': { file: file.book, slots: [8, 9], valid: (ctx) => l2(ctx, [], (v) => v.set([100, 5], 8)) },
  'L2Native.setAsk': { file: file.book, slots: [8, 9], valid: (ctx) => l2(ctx, [], (v) => v.set([101, 5], 8)) },
  'L2Native.applyDeltas': { file: file.book, valid: (ctx) => l2(ctx, [ctx.arena.copy(new Float64Array([0, 100, 5, 1, 101, 5])), 2]) },
  'L2Native.clear': { file: file.book, valid: (ctx) => l2(ctx, []) },
  'L2Native.levels': { file: file.book, valid: (ctx) => l2(ctx, [0, 4, ctx.arena.make(Float64Array, 12), 0]) },
  'EngineNative.submit': {
    file: file.book, slots: [793, 794, 795, 796, 797, 798, 799, 800, 801],
    valid: (ctx) => engine(ctx, [], (v) => v.set([0, 0, 100, 5, 0, 0, 0, 0, 0], 793)),
  },
  'EngineNative.cancel': { file: file.book, slots: [793], valid: (ctx) => engine(ctx, [], (v) => v.set([1], 793)) },
  'EngineNative.modify': { file: file.book, slots: [793, 794, 795, 796], valid: (ctx) => engine(ctx, [], (v) => v.set([1, 99, 3, 0], 793)) },
  'EngineNative.query': { file: file.book, slots: [793], valid: (ctx) => engine(ctx, [], (v) => v.set([1], 793)) },
  'EngineNative.levels': { file: file.book, valid: (ctx) => engine(ctx, [0, 4, ctx.arena.make(Float64Array, 12), 1]) },
  'EngineNative.copyFills': { file: file.book, valid: (ctx) => engine(ctx, [ctx.arena.make(Float64Array, 12)]) },
  orderbookMboCreate: { file: file.book, valid: () => ({ args: [1, 10000, 1, 1, false, 16] }) },
  'MboNative.apply': {
    file: file.book,
    valid: (ctx) => mbo(ctx, [ctx.arena.copy(new Float64Array([1, 0, 3, 0, 99, 4, 0, 0, 4, 0, 1, 0, 100, 2, 0, 0])), 0, 2]),
  },
  'MboNative.applyOne': { file: file.book, slots: [16, 17, 18, 19, 20, 21, 22, 23], valid: (ctx) => mbo(ctx, [], (v) => v.set([2, 0, 1, 0, 100, 1, 0, 0], 16)) },
  'MboNative.query': { file: file.book, slots: [18], valid: (ctx) => mbo(ctx, [], (v) => v.set([1], 18)) },
  'MboNative.clear': { file: file.book, valid: (ctx) => mbo(ctx, []) },
  'MboNative.levels': { file: file.book, valid: (ctx) => mbo(ctx, [1, 4, ctx.arena.make(Float64Array, 12), 1]) },
  'MboNative.replayLobster': {
    file: file.book,
    // two messages and their rows (ask price, ask size, bid price, bid size): an add then its delete
    valid: (ctx) => mbo(ctx, [
      ctx.arena.copy(new Float64Array([1, 0, 7, 0, 100, 5, 0, 1, 3, 0, 7, 0, 100, 5, 0, 2])),
      ctx.arena.copy(new Float64Array([101, 5, 100, 10, 101, 5, 100, 5])),
      2, 4, 1, ctx.arena.make(Uint32Array, 3), ctx.arena.make(Float64Array, 74),
    ]),
  },
  'EngineNative.batch': {
    file: file.book,
    valid: (ctx) => engine(ctx, [ctx.arena.copy(new Float64Array([0, 1, 0, 101, 2, 0, 0, 0, 0, 100, 1, 0])), 2, ctx.arena.make(Float64Array, 48)]),
  },

  structQuoteEncodeBatch: { file: file.netStruct, valid: (ctx) => ({ args: [ctx.arena.make(Uint8Array, 96), 0, 2, ...quoteColumns(ctx, 2)] }) },
  structQuoteDecodeBatch: {
    file: file.netStruct,
    valid: (ctx) => {
      const bytes = ctx.arena.make(Uint8Array, 96);
      ctx.addon.structQuoteEncodeBatch(bytes, 0, 2, ...quoteColumns(ctx, 2));
      return { args: [bytes, 0, 96, 2, ...quoteColumns(ctx, 2), ctx.arena.make(Float64Array, 3)] };
    },
  },

  riskPoolSpinNs: { file: file.risk, valid: () => ({ args: [] }) },
  // Restores nothing: each batch runs in a child process of its own.
  setRiskPoolSpinNs: { file: file.risk, valid: () => ({ args: [100_000] }) },
  fillNormals: { file: file.risk, valid: (ctx) => ({ args: [ctx.arena.make(Float64Array, 64), 1, 0, 0] }) },
  fillNormalsAsync: { file: file.risk, async: true, valid: (ctx) => ({ args: [ctx.arena.make(Float64Array, 64), 1, 0, 0] }) },
  varHistorical: { file: file.risk, valid: (ctx) => ({ args: [f64(ctx, 100), 1, 0.95, ctx.arena.make(Float64Array, 2)] }) },
  varHistoricalAsync: { file: file.risk, async: true, valid: (ctx) => ({ args: [f64(ctx, 100), 1, 0.95, ctx.arena.make(Float64Array, 2)] }) },
  lossMoments: { file: file.risk, valid: (ctx) => ({ args: [f64(ctx, 100), 1, 1, ctx.arena.make(Float64Array, 4)] }) },
  lossMomentsAsync: { file: file.risk, async: true, valid: (ctx) => ({ args: [f64(ctx, 100), 1, 1, ctx.arena.make(Float64Array, 4)] }) },
  portfolioReturns: { file: file.risk, valid: (ctx) => ({ args: [f64(ctx, 30), 10, 3, f64(ctx, 3), ctx.arena.make(Float64Array, 10)] }) },
  portfolioReturnsAsync: { file: file.risk, async: true, valid: (ctx) => ({ args: [f64(ctx, 30), 10, 3, f64(ctx, 3), ctx.arena.make(Float64Array, 10)] }) },
  covariance: { file: file.risk, valid: (ctx) => ({ args: [f64(ctx, 30), 10, 3, 0, 0.94, 0, ctx.arena.make(Float64Array, 9)] }) },
  covarianceAsync: { file: file.risk, async: true, valid: (ctx) => ({ args: [f64(ctx, 30), 10, 3, 0, 0.94, 0, ctx.arena.make(Float64Array, 9)] }) },
  cholesky: { file: file.risk, valid: (ctx) => ({ args: [identity(ctx, 3), 3, ctx.arena.make(Float64Array, 9), ctx.arena.make(Float64Array, 3)] }) },
  choleskyAsync: { file: file.risk, async: true, valid: (ctx) => ({ args: [identity(ctx, 3), 3, ctx.arena.make(Float64Array, 9), ctx.arena.make(Float64Array, 3)] }) },
  simulateGbm: { file: file.risk, valid: (ctx) => ({ args: [100, 0.05, 0.2, 1 / 252, 4, 8, 1, false, ctx.arena.make(Float64Array, 8), ctx.arena.make(Float64Array, 8 * 5)] }) },
  simulateGbmAsync: {
    file: file.risk, async: true,
    valid: (ctx) => ({ args: [100, 0.05, 0.2, 1 / 252, 4, 8, 1, false, ctx.arena.make(Float64Array, 8), ctx.arena.make(Float64Array, 8 * 5)] }),
  },
  portfolioLosses: { file: file.risk, valid: (ctx) => ({ args: [f64(ctx, 2, () => 0.5), f64(ctx, 2, () => 0), identity(ctx, 2), 2, 8, 1, 1, ctx.arena.make(Float64Array, 8)] }) },
  portfolioLossesAsync: {
    file: file.risk, async: true,
    valid: (ctx) => ({ args: [f64(ctx, 2, () => 0.5), f64(ctx, 2, () => 0), identity(ctx, 2), 2, 8, 1, 1, ctx.arena.make(Float64Array, 8)] }),
  },
};

// ITCH batch decode: two framed messages (an Order Delete and an Add Order) into columns of capacity 4.
entries.itchDecodeBatch = {
  file: file.itch,
  valid: (ctx) => {
    const d = [0, 19, 0x44, 0, 13, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
    const a = [0, 36, 0x41, 0, 13, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0x42, 0, 0, 0, 100, 0x41, 0x41, 0x50, 0x4c, 0x20, 0x20, 0x20, 0x20, 0, 0, 0x27, 0x10];
    const n = 4;
    const cols = [Uint8Array, Uint16Array, Uint16Array, Float64Array, Float64Array, Float64Array, Int8Array, Float64Array, Float64Array, Float64Array, Float64Array];
    return { args: [ctx.arena.copy(new Uint8Array([...d, ...a])), 0, n, ...cols.map((C) => ctx.arena.make(C, n)), ctx.arena.make(Float64Array, 4)] };
  },
};

function l2(ctx, args, prepare) {
  const h = ctx.addon.orderbookL2Create(1, 100, 1, 1);
  const v = new Float64Array(h.view);
  v.set([100, 5], 8);
  h.setBid();
  v.set([101, 5], 8);
  h.setAsk();
  if (prepare) prepare(v);
  return { args, this: h, view: v };
}

function mbo(ctx, args, prepare) {
  const h = ctx.addon.orderbookMboCreate(1, 10000, 1, 1, false, 16);
  const v = new Float64Array(h.view);
  v.set([1, 0, 1, 0, 100, 5, 0, 0], 16);
  h.applyOne(); // order 1: 5 lots bid at 100 ticks
  v.set([1, 0, 2, 1, 101, 5, 0, 0], 16);
  h.applyOne(); // order 2: 5 lots ask at 101
  if (prepare) prepare(v);
  return { args, this: h, view: v };
}

function engine(ctx, args, prepare) {
  const h = ctx.addon.orderbookEngineCreate(1, 100, 1, 1, 0);
  const v = new Float64Array(h.view);
  v.set([1, 0, 101, 5, 0, 0, 0, 0, 0], 793);
  h.submit(); // order 1 rests on the ask
  if (prepare) prepare(v);
  return { args, this: h, view: v };
}

// The GPU addon: enumerated from CudaAddon, called only where it loads with a device.
for (const name of [
  'probe', 'selectDevice', 'currentDevice', 'memoryInfo', 'selfTest', 'philoxNormals', 'lastTiming', 'failAllocation', 'deviceFault',
  'varHistorical', 'varHistoricalAsync', 'lossMoments', 'lossMomentsAsync', 'portfolioReturns', 'portfolioReturnsAsync',
  'covariance', 'covarianceAsync', 'simulateGbm', 'simulateGbmAsync', 'portfolioMc', 'portfolioMcAsync',
]) {
  entries[`cuda.${name}`] = { file: file.cuda, gpu: true };
}

/** Another function's handle and another structure's bytes, for "foreign" cases. */
export function foreignFor(ctx, key) {
  if (ctx.raw) ctx = { ...ctx, addon: ctx.raw };
  return {
    handle: () => (key.startsWith('L2Native') ? ctx.addon.orderbookEngineCreate(1, 100, 1, 1, 0) : ctx.addon.orderbookL2Create(1, 100, 1, 1)),
    view: (Ctor, len) => {
      // A queue where an allocator is expected and an allocator elsewhere, seen as Ctor.
      const bytes = key.startsWith('queue') || /^(spsc|mpmc|replay)/.test(key) ? makeMem(ctx, MEM.buddy) : makeQueue(ctx, QUEUE.mpmc);
      const n = Math.min(len || 1, Math.floor(bytes.byteLength / Ctor.BYTES_PER_ELEMENT));
      return new Ctor(bytes.buffer, bytes.byteOffset, n);
    },
  };
}
