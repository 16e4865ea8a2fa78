/**
 * Schemas of the memory/* routes: process and V8 heap status with GC pauses, object pools and
 * allocators created over HTTP (bounded in bytes each and together), their exercise, and GC
 * optimization. Sizes are bytes (`...Bytes`), times ms (`...Ms`) or ns (`...Ns`).
 */
import { Type, type Static } from 'typebox';

export const kPoolKinds = ['object-pool', 'slab', 'buddy', 'ring', 'stack'] as const;
export type PoolKind = (typeof kPoolKinds)[number];
export const kObjectTypes = ['order', 'market-data', 'list', 'dictionary'] as const;
export type ObjectType = (typeof kObjectTypes)[number];

const GcPause = Type.Object(
  {
    count: Type.Integer(),
    totalMs: Type.Number(),
    maxMs: Type.Number(),
    meanMs: Type.Number(),
    p50Ms: Type.Number(),
    p90Ms: Type.Number(),
    p99Ms: Type.Number(),
    p999Ms: Type.Number(),
  },
  { additionalProperties: false },
);

const IdleGcReport = Type.Object(
  {
    enabled: Type.Boolean(),
    reason: Type.Optional(Type.String()),
    type: Type.Enum(['minor', 'major']),
    checks: Type.Integer(),
    runs: Type.Integer(),
    skippedBusy: Type.Integer(),
    skippedRecent: Type.Integer(),
    totalMs: Type.Number(),
    maxMs: Type.Number(),
  },
  { additionalProperties: false },
);

const Collection = Type.Object(
  {
    requested: Type.Enum(['auto', 'none', 'minor', 'major']),
    ran: Type.Boolean(),
    type: Type.Union([Type.Enum(['minor', 'major']), Type.Null()]),
    durationMs: Type.Number({ description: 'the pause global.gc() took; 0 when it did not run' }),
    heapUsedBeforeBytes: Type.Number(),
    heapUsedAfterBytes: Type.Number(),
    freedBytes: Type.Number({ description: 'before - after (negative when the heap grew meanwhile)' }),
    reason: Type.Optional(Type.String({ description: 'why it did not run' })),
    at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const PoolView = Type.Object(
  {
    id: Type.String(),
    kind: Type.Enum([...kPoolKinds]),
    objectType: Type.Union([Type.Enum([...kObjectTypes]), Type.Null()]),
    backend: Type.Enum(['native', 'ts']),
    shared: Type.Boolean({ description: 'backed by a SharedArrayBuffer (allocators)' }),
    createdAt: Type.String({ format: 'date-time' }),
    location: Type.String(),
    capacityBytes: Type.Number({
      description: 'bytes counted against limits.maxPoolBytes: the allocator\'s buffer, or for an object pool maxSize x bytesPerObject (an estimate of one object\'s V8 size)',
    }),
    bytesPerObject: Type.Union([Type.Number(), Type.Null()], { description: 'object pools: the estimate used for capacityBytes' }),
    hits: Type.Integer({ description: 'object pools: acquires served from the pool; allocators: allocs that succeeded (over every exercise)' }),
    misses: Type.Integer({ description: 'object pools: acquires that had to create; allocators: allocs refused (full)' }),
    hitRatio: Type.Number({ description: 'hits / (hits + misses); 0 before the first' }),
    exercises: Type.Integer(),
    stats: Type.Record(Type.String(), Type.Number(), { description: "the library's own stats() numbers for this pool or allocator" }),
  },
  { additionalProperties: false },
);
export type PoolView = Static<typeof PoolView>;

export const PoolList = Type.Object(
  {
    count: Type.Integer(),
    max: Type.Integer(),
    totalBytes: Type.Number(),
    maxTotalBytes: Type.Number(),
    maxBytesPerPool: Type.Number(),
    pools: Type.Array(PoolView),
  },
  { additionalProperties: false },
);

export const MemoryStatus = Type.Object(
  {
    timestamp: Type.String({ format: 'date-time' }),
    process: Type.Object(
      { rssBytes: Type.Number(), heapTotalBytes: Type.Number(), heapUsedBytes: Type.Number(), externalBytes: Type.Number(), arrayBuffersBytes: Type.Number() },
      { additionalProperties: false },
    ),
    heap: Type.Object(
      {
        totalHeapSizeBytes: Type.Number(),
        usedHeapSizeBytes: Type.Number(),
        heapSizeLimitBytes: Type.Number(),
        totalAvailableSizeBytes: Type.Number(),
        mallocedMemoryBytes: Type.Number(),
        externalMemoryBytes: Type.Number(),
        nativeContexts: Type.Integer(),
        detachedContexts: Type.Integer(),
      },
      { additionalProperties: false },
    ),
    heapSpaces: Type.Array(
      Type.Object(
        { name: Type.String(), sizeBytes: Type.Number(), usedBytes: Type.Number(), availableBytes: Type.Number(), physicalBytes: Type.Number() },
        { additionalProperties: false },
      ),
    ),
    gc: Type.Object(
      {
        monitoredMs: Type.Number({ description: 'how long GcMonitor has observed GC pauses (since the plugin started)' }),
        gcTimeRatio: Type.Number({ description: 'share of that time spent in GC pauses' }),
        total: GcPause,
        byKind: Type.Object({ minor: GcPause, major: GcPause, incremental: GcPause, weakcb: GcPause }, { additionalProperties: false }),
        exposeGc: Type.Boolean({ description: 'global.gc() is available (node --expose-gc)' }),
        appliedFlags: Type.Array(Type.String(), { description: 'V8 flags gcOptimizer.apply() has set in this process' }),
        idleGc: Type.Union([IdleGcReport, Type.Null()]),
        lastCollection: Type.Union([Collection, Type.Null()]),
      },
      { additionalProperties: false },
    ),
    pools: PoolList,
  },
  { additionalProperties: false },
);
export type MemoryStatus = Static<typeof MemoryStatus>;

export const CreatePoolBody = Type.Object(
  {
    kind: Type.Enum([...kPoolKinds], { description: 'object-pool (ObjectPool of JS objects) or an offset allocator over one buffer: slab, buddy, ring, stack' }),
    objectType: Type.Optional(Type.Enum([...kObjectTypes], { description: "object-pool: what it holds (default 'order')" })),
    maxSize: Type.Optional(Type.Integer({ description: 'object-pool (required): objects kept at most' })),
    initialSize: Type.Optional(Type.Integer({ description: 'object-pool: objects made up front (default 0)' })),
    slotBytes: Type.Optional(Type.Integer({ description: 'slab: bytes per slot' })),
    slots: Type.Optional(Type.Integer({ description: 'slab: number of slots' })),
    bytes: Type.Optional(Type.Integer({ description: 'buddy, ring, stack: bytes of the region' })),
    minBlock: Type.Optional(Type.Integer({ description: 'buddy: smallest block (a power of two)' })),
    shared: Type.Optional(Type.Boolean({ description: 'allocators: back it with a SharedArrayBuffer (default false)' })),
    backend: Type.Optional(Type.Enum(['auto', 'native', 'ts'], { description: "allocators: implementation ('auto': the library's pick)" })),
  },
  { additionalProperties: false },
);
export type CreatePoolBody = Static<typeof CreatePoolBody>;

export const PoolParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

export const ExerciseBody = Type.Object(
  {
    iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9, default: 1_000, description: 'acquire/release pairs; at most limits.maxPoolExerciseIterations' })),
    hold: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9, default: 1, description: 'objects or blocks held at once before they are all given back' })),
    allocBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 30, description: 'buddy, ring, stack: bytes per alloc (default: buddy minBlock, else 64)' })),
  },
  { additionalProperties: false },
);
export type ExerciseBody = Static<typeof ExerciseBody>;

const OpTiming = Type.Object(
  { meanNs: Type.Number(), p50Ns: Type.Number(), p99Ns: Type.Number(), maxNs: Type.Number() },
  { additionalProperties: false },
);

export const ExerciseResult = Type.Object(
  {
    id: Type.String(),
    kind: Type.Enum([...kPoolKinds]),
    unit: Type.Literal('ns'),
    iterations: Type.Integer(),
    hold: Type.Integer(),
    get: OpTiming,
    return: OpTiming,
    hits: Type.Integer(),
    misses: Type.Integer(),
    hitRatio: Type.Number({ description: 'of this exercise' }),
    pool: PoolView,
  },
  { additionalProperties: false, description: "the seed's Get Time / Return Time / Hit Ratio, measured: each acquire (alloc) and release (free) timed on its own with MicrosecondTimer, overhead subtracted" },
);

export const GcOptimizeBody = Type.Object(
  {
    collect: Type.Optional(
      Type.Enum(['auto', 'none', 'minor', 'major'], {
        default: 'auto',
        description: "run global.gc() now: 'auto' runs a major one when global.gc is exposed and says why not otherwise; 'minor'/'major' without it are 409",
      }),
    ),
    applyRuntimeFlags: Type.Optional(Type.Boolean({ default: false, description: "apply gcOptimizer's runtime flags (v8.setFlagsFromString: --no-flush-bytecode); startup flags are only reported" })),
    idleGc: Type.Optional(Type.Enum(['start', 'stop'], { description: 'start or stop collections in idle windows (gcOptimizer.startIdleGc, minor); needs --expose-gc (409 without)' })),
    semiSpaceMb: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'young-generation size the suggestion names (default 64)' })),
  },
  { additionalProperties: false },
);
export type GcOptimizeBody = Static<typeof GcOptimizeBody>;

const FlagAdvice = Type.Object(
  { flag: Type.String(), when: Type.Enum(['runtime', 'startup']), why: Type.String(), reason: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export const GcOptimizeResult = Type.Object(
  {
    exposeGc: Type.Boolean(),
    collection: Collection,
    suggested: Type.Array(FlagAdvice),
    nodeOptions: Type.String({ description: 'the startup flags as one NODE_OPTIONS value' }),
    applied: Type.Array(FlagAdvice, { description: 'runtime flags set by this request' }),
    notApplied: Type.Array(FlagAdvice, { description: 'flags this request did not set, each with the reason' }),
    appliedFlags: Type.Array(Type.String(), { description: 'every runtime flag this process has applied' }),
    caveat: Type.String(),
    idleGc: Type.Union([IdleGcReport, Type.Null()]),
    gcOptimized: Type.Boolean({ description: 'a runtime flag is applied or idle collection runs' }),
  },
  { additionalProperties: false },
);
