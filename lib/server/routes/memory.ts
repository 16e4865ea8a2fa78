/**
 * The memory/* routes (SEED.md "API Endpoints"; DESIGN.md "HTTP control API"): process and
 * V8 heap status with GC pauses (GcMonitor), object pools and allocators created over HTTP
 * (bounded in number, in bytes each and in bytes together), a measured acquire/release
 * exercise per pool (the seed's Get Time / Return Time / Hit Ratio), and GC optimization
 * through gcOptimizer: what it can apply at run time, a measured manual collection when
 * global.gc is exposed, and the startup flags it can only suggest.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

import { BuddyAllocator, GcMonitor, gcOptimizer, MicrosecondTimer, ObjectPool, RingAllocator, SlabAllocator, StackAllocator, type IdleGc } from '../lib.js';
import { HttpError, tooLarge, unprocessable } from '../http-errors.js';
import type { RegisteredObject } from '../registry.js';
import { listAllowedValues } from '../schemas/latency.js';
import {
  CreatePoolBody,
  ExerciseBody,
  ExerciseResult,
  GcOptimizeBody,
  GcOptimizeResult,
  MemoryStatus,
  PoolList,
  PoolParams,
  PoolView,
  type ObjectType,
  type PoolKind,
} from '../schemas/memory.js';
import { kApiPrefix, type ComponentReport, type RouteModule } from '../types.js';
import { summarizeNs } from '../workloads/latency.js';
import { Type, type Static } from 'typebox';

const kKind = 'pool';
const kTag = ['memory'];
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('ErrorResponse')]));

type Pooled = Record<string, unknown> | unknown[] | Map<string, unknown>;

/** What each object type is, how it is reset, and what an exercise writes into it. */
const kObjectTypeSpecs: Record<ObjectType, { create: () => Pooled; reset: (o: Pooled) => void; touch: (o: Pooled, i: number) => void }> = {
  order: {
    create: () => ({ id: 0, side: 0, price: 0, quantity: 0, timestamp: 0 }),
    reset: (o) => Object.assign(o, { id: 0, side: 0, price: 0, quantity: 0, timestamp: 0 }),
    touch: (o, i) => Object.assign(o, { id: i, side: i & 1, price: 100 + (i % 100) / 100, quantity: 1 + (i % 10) }),
  },
  'market-data': {
    create: () => ({ symbol: '', bid: 0, ask: 0, bidSize: 0, askSize: 0, timestamp: 0 }),
    reset: (o) => Object.assign(o, { symbol: '', bid: 0, ask: 0, bidSize: 0, askSize: 0, timestamp: 0 }),
    touch: (o, i) => Object.assign(o, { symbol: 'AAPL', bid: 150.25, ask: 150.35, bidSize: i, askSize: i + 1 }),
  },
  list: {
    create: () => [],
    reset: (o) => {
      (o as unknown[]).length = 0;
    },
    touch: (o, i) => {
      for (let k = 0; k < 8; k++) (o as number[]).push(i + k);
    },
  },
  dictionary: {
    create: () => new Map<string, unknown>(),
    reset: (o) => (o as Map<string, unknown>).clear(),
    touch: (o, i) => {
      const m = o as Map<string, unknown>;
      m.set('price', 100 + i);
      m.set('quantity', i);
      m.set('side', i & 1);
    },
  },
};

/**
 * One object of `type` in V8's heap, measured: the heap grows by this much per object made
 * (1,024 objects a round, the median of the rounds no scavenge fell into).
 */
function measureObjectBytes(type: ObjectType): number {
  const { create, touch } = kObjectTypeSpecs[type];
  const perObject: number[] = [];
  const keep: Pooled[] = new Array(1024);
  for (let round = 0; round < 9 && perObject.length < 5; round++) {
    const before = getHeapStatistics().used_heap_size;
    for (let i = 0; i < keep.length; i++) {
      keep[i] = create();
      touch(keep[i]!, i);
    }
    const grew = getHeapStatistics().used_heap_size - before;
    if (grew > 0) perObject.push(grew / keep.length);
  }
  perObject.sort((a, b) => a - b);
  return Math.ceil(perObject[perObject.length >> 1] ?? 256);
}

interface Allocator {
  readonly backend: 'ts' | 'native';
  readonly shared: boolean;
  stats(): object;
}

/** A pool or allocator created over HTTP, with its running counters. */
interface HttpPool {
  readonly kind: PoolKind;
  readonly objectType: ObjectType | null;
  readonly target: ObjectPool<Pooled> | SlabAllocator | BuddyAllocator | RingAllocator | StackAllocator;
  readonly capacityBytes: number;
  readonly bytesPerObject: number | null;
  /** Allocators: allocs that succeeded / were refused over every exercise. Object pools read the pool's own. */
  allocHits: number;
  allocMisses: number;
  exercises: number;
}

function numbers(stats: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stats)) if (typeof v === 'number') out[k] = v;
  return out;
}

function opTiming(ns: Float64Array, count: number) {
  const { meanNs, p50Ns, p99Ns, maxNs } = summarizeNs(ns, count);
  return { meanNs, p50Ns, p99Ns, maxNs };
}

const kKindFields: Record<PoolKind, readonly string[]> = {
  'object-pool': ['objectType', 'maxSize', 'initialSize'],
  slab: ['slotBytes', 'slots', 'shared', 'backend'],
  buddy: ['bytes', 'minBlock', 'shared', 'backend'],
  ring: ['bytes', 'shared', 'backend'],
  stack: ['bytes', 'shared', 'backend'],
};

export const memoryRoutes: RouteModule = (app, ctx) => {
  const { limits, registry } = ctx;
  const gcMonitor = new GcMonitor({ maxSamples: 1024 }).start();
  // Measured at the first pool of each type, not at startup (the plugin's start-up blocks the event loop).
  const objectBytes = new Map<ObjectType, number>();
  const bytesOf = (type: ObjectType): number => {
    let bytes = objectBytes.get(type);
    if (bytes === undefined) objectBytes.set(type, (bytes = measureObjectBytes(type)));
    return bytes;
  };
  const timer = new MicrosecondTimer();
  let idleGc: IdleGc | null = null;
  let lastCollection: Static<typeof GcOptimizeResult>['collection'] | null = null;
  app.addHook('onClose', async () => {
    gcMonitor.stop();
    idleGc?.stop();
  });

  const pools = () => registry.list(kKind) as RegisteredObject<HttpPool>[];
  // GcMonitor.stats() sorts its samples per kind: read at most every 100 ms.
  let gcStatsAt = -Infinity;
  let gcStats = gcMonitor.stats();
  const readGcStats = () => {
    const now = performance.now();
    if (now - gcStatsAt >= 100) {
      gcStatsAt = now;
      gcStats = gcMonitor.stats();
    }
    return gcStats;
  };
  const totalBytes = () => pools().reduce((sum, entry) => sum + entry.object.capacityBytes, 0);
  const gcOptimized = () => gcOptimizer.appliedFlags().length > 0 || (idleGc?.enabled ?? false);

  function describePool(entry: Pick<RegisteredObject<HttpPool>, 'id' | 'createdAt' | 'object'>): PoolView {
    const p = entry.object;
    const stats = p.target.stats();
    let hits = p.allocHits;
    let misses = p.allocMisses;
    if (p.target instanceof ObjectPool) ({ hits, misses } = p.target.stats());
    const allocator = p.target instanceof ObjectPool ? null : (p.target as Allocator);
    return {
      id: entry.id,
      kind: p.kind,
      objectType: p.objectType,
      backend: allocator?.backend ?? 'ts',
      shared: allocator?.shared ?? false,
      createdAt: new Date(entry.createdAt).toISOString(),
      location: `${kApiPrefix}/memory/pools/${entry.id}`,
      capacityBytes: p.capacityBytes,
      bytesPerObject: p.bytesPerObject,
      hits,
      misses,
      hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      exercises: p.exercises,
      stats: numbers(stats),
    };
  }

  const poolList = () => ({
    count: registry.count(kKind),
    max: limits.maxObjectsPerKind,
    totalBytes: totalBytes(),
    maxTotalBytes: limits.maxPoolBytesTotal,
    maxBytesPerPool: limits.maxPoolBytes,
    pools: pools().map(describePool),
  });

  ctx.components.set('memory_optimization', (): ComponentReport => {
    const heap = getHeapStatistics();
    let bytes = 0;
    let count = 0;
    for (const entry of pools()) {
      bytes += entry.object.capacityBytes;
      count++;
    }
    return {
      health: heap.used_heap_size > 0.9 * heap.heap_size_limit ? 'degraded' : 'ok',
      gc_optimized: gcOptimized(),
      expose_gc: gcOptimizer.canCollect(),
      idle_gc_running: idleGc?.enabled ?? false,
      heap_used_bytes: heap.used_heap_size,
      heap_limit_bytes: heap.heap_size_limit,
      pools: count,
      pool_bytes: bytes,
    };
  });

  app.get(
    '/memory/status',
    {
      schema: {
        tags: kTag,
        operationId: 'getMemoryStatus',
        summary: 'Memory pool status',
        description:
          'process.memoryUsage() and V8 heap statistics and spaces (bytes), GC pauses since the plugin started by kind (GcMonitor: count, total, max, percentiles in ms; read at most every 100 ms), what gcOptimizer has applied, and every pool or allocator created over HTTP with its hit ratio and stats.',
        response: { 200: MemoryStatus },
      },
    },
    (): MemoryStatus => {
      const m = process.memoryUsage();
      const h = getHeapStatistics();
      const gc = readGcStats();
      return {
        timestamp: new Date().toISOString(),
        process: { rssBytes: m.rss, heapTotalBytes: m.heapTotal, heapUsedBytes: m.heapUsed, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers },
        heap: {
          totalHeapSizeBytes: h.total_heap_size,
          usedHeapSizeBytes: h.used_heap_size,
          heapSizeLimitBytes: h.heap_size_limit,
          totalAvailableSizeBytes: h.total_available_size,
          mallocedMemoryBytes: h.malloced_memory,
          externalMemoryBytes: h.external_memory,
          nativeContexts: h.number_of_native_contexts,
          detachedContexts: h.number_of_detached_contexts,
        },
        heapSpaces: getHeapSpaceStatistics().map((s) => ({
          name: s.space_name,
          sizeBytes: s.space_size,
          usedBytes: s.space_used_size,
          availableBytes: s.space_available_size,
          physicalBytes: s.physical_space_size,
        })),
        gc: {
          monitoredMs: gc.elapsedMs,
          gcTimeRatio: gc.gcTimeRatio,
          total: gc.total,
          byKind: gc.byKind,
          exposeGc: gcOptimizer.canCollect(),
          appliedFlags: gcOptimizer.appliedFlags(),
          idleGc: idleGc?.report() ?? null,
          lastCollection,
        },
        pools: poolList(),
      };
    },
  );

  app.post(
    '/memory/create-pool',
    {
      schemaErrorFormatter: listAllowedValues,
      schema: {
        tags: kTag,
        operationId: 'createPool',
        summary: 'Create an object pool or allocator',
        description:
          "kind 'object-pool' makes an ObjectPool of `objectType` objects (maxSize required); 'slab' (slotBytes, slots), 'buddy' (bytes, minBlock), 'ring' (bytes) and 'stack' (bytes) make offset allocators over one buffer. The library checks the geometry (422). A pool past limits.maxPoolBytes, or one that would take all pools past limits.maxPoolBytesTotal, is 413; past limits.maxObjectsPerKind pools, 409.",
        body: CreatePoolBody,
        response: { 201: PoolView, ...errors(400, 409, 413, 422) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const kind = body.kind;
      for (const field of Object.keys(body)) {
        if (field !== 'kind' && !kKindFields[kind].includes(field)) {
          throw unprocessable(field, `not an option of a ${kind}; it takes ${kKindFields[kind].join(', ')}`);
        }
      }
      const allocatorOptions = { ...(body.shared !== undefined && { shared: body.shared }), ...(body.backend !== undefined && { backend: body.backend as 'auto' | 'ts' }) }; // an allocator refuses 'native' itself (a TypeError, answered 422)
      let make: () => HttpPool['target'];
      let capacityBytes: number;
      let bytesPerObject: number | null = null;
      const objectType = kind === 'object-pool' ? (body.objectType ?? 'order') : null;
      switch (kind) {
        case 'object-pool': {
          if (body.maxSize === undefined) throw unprocessable('maxSize', 'required for an object pool: it bounds the pool\'s memory');
          bytesPerObject = bytesOf(objectType!);
          capacityBytes = Math.max(0, body.maxSize) * bytesPerObject;
          const spec = kObjectTypeSpecs[objectType!];
          const options = { create: spec.create, reset: spec.reset, maxSize: body.maxSize, ...(body.initialSize !== undefined && { initialSize: body.initialSize }) };
          make = () => new ObjectPool<Pooled>(options);
          break;
        }
        case 'slab': {
          const geometry = { slotBytes: body.slotBytes, slots: body.slots } as { slotBytes: number; slots: number };
          capacityBytes = SlabAllocator.requiredBytes(geometry);
          make = () => new SlabAllocator({ ...geometry, ...allocatorOptions });
          break;
        }
        case 'buddy': {
          const geometry = { bytes: body.bytes, minBlock: body.minBlock } as { bytes: number; minBlock: number };
          capacityBytes = BuddyAllocator.requiredBytes(geometry);
          make = () => new BuddyAllocator({ ...geometry, ...allocatorOptions });
          break;
        }
        case 'ring': {
          const geometry = { bytes: body.bytes } as { bytes: number };
          capacityBytes = RingAllocator.requiredBytes(geometry);
          make = () => new RingAllocator({ ...geometry, ...allocatorOptions });
          break;
        }
        case 'stack': {
          const geometry = { bytes: body.bytes } as { bytes: number };
          capacityBytes = StackAllocator.requiredBytes(geometry);
          make = () => new StackAllocator({ ...geometry, ...allocatorOptions });
          break;
        }
      }
      if (capacityBytes > limits.maxPoolBytes) throw tooLarge('pool', limits.maxPoolBytes, capacityBytes, 'bytes (limits.maxPoolBytes)');
      const total = totalBytes();
      if (total + capacityBytes > limits.maxPoolBytesTotal) {
        throw new HttpError(
          413,
          'ERR_ULTRA_PERF_HTTP_TOO_LARGE',
          `pools hold ${total} bytes and this one needs ${capacityBytes}; the cap on all pools together is ${limits.maxPoolBytesTotal} bytes (limits.maxPoolBytesTotal)`,
        );
      }
      const entry = registry.add<HttpPool>(kKind, () => {
        const object: HttpPool = { kind, objectType, target: make(), capacityBytes, bytesPerObject, allocHits: 0, allocMisses: 0, exercises: 0 };
        return {
          object,
          describe: () => ({ kind, capacityBytes }),
          dispose: () => {
            if (object.target instanceof ObjectPool) object.target.clear();
          },
        };
      });
      return reply.code(201).header('location', `${kApiPrefix}/memory/pools/${entry.id}`).send(describePool(entry));
    },
  );

  app.get(
    '/memory/pools',
    {
      schema: {
        tags: kTag,
        operationId: 'listPools',
        summary: 'Pools and allocators created over HTTP',
        description: 'Every pool with its bytes, hit ratio and the library\'s stats, and the byte caps.',
        response: { 200: PoolList },
      },
    },
    () => poolList(),
  );

  app.get(
    '/memory/pools/:id',
    {
      schema: {
        tags: kTag,
        operationId: 'getPool',
        summary: 'One pool or allocator',
        description: 'Its bytes, hits, misses, hit ratio and the library\'s stats() numbers.',
        params: PoolParams,
        response: { 200: PoolView, ...errors(400, 404) },
      },
    },
    (request) => describePool(registry.get<HttpPool>(kKind, request.params.id)),
  );

  app.post(
    '/memory/pools/:id/exercise',
    {
      schema: {
        tags: kTag,
        operationId: 'exercisePool',
        summary: 'Measure a pool: get time, return time, hit ratio',
        description:
          'Runs `iterations` acquire/release pairs (alloc/free for allocators; stack: alloc, then reset to the mark), `hold` at a time, each call timed on its own (ns, MicrosecondTimer, overhead subtracted). Runs on the event loop, so it is capped at limits.maxPoolExerciseIterations (422 past it). Everything acquired is given back before it answers.',
        params: PoolParams,
        body: ExerciseBody,
        response: { 200: ExerciseResult, ...errors(400, 404, 422) },
      },
    },
    (request) => {
      const entry = registry.get<HttpPool>(kKind, request.params.id);
      const iterations = request.body.iterations ?? 1_000;
      if (iterations > limits.maxPoolExerciseIterations) {
        throw unprocessable('iterations', `${iterations} acquire/release pairs; the cap is ${limits.maxPoolExerciseIterations} (limits.maxPoolExerciseIterations: the exercise runs on the event loop)`);
      }
      const hold = Math.min(request.body.hold ?? 1, iterations);
      return exercise(entry, iterations, hold, request.body.allocBytes);
    },
  );

  app.delete(
    '/memory/pools/:id',
    {
      schema: {
        tags: kTag,
        operationId: 'deletePool',
        summary: 'Delete a pool or allocator',
        description: 'Drops it and its memory; its bytes no longer count against limits.maxPoolBytesTotal.',
        params: PoolParams,
        response: { 204: Type.Null({ description: 'deleted' }), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      await registry.delete(kKind, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/memory/gc-optimize',
    {
      schemaErrorFormatter: listAllowedValues,
      schema: {
        tags: kTag,
        operationId: 'optimizeGc',
        summary: 'GC optimization',
        description:
          "What gcOptimizer can do for this process, done and measured: a manual collection (global.gc, needs node --expose-gc; its pause in ms and the heap used before and after in bytes), the runtime V8 flags it applies when applyRuntimeFlags is true, collection in idle windows, and the startup flags it can only suggest (as NODE_OPTIONS). Asking for a collection or idle GC without --expose-gc is 409 with the reason; nothing is faked.",
        body: GcOptimizeBody,
        response: { 200: GcOptimizeResult, ...errors(400, 409) },
      },
    },
    (request) => {
      const body = request.body;
      const requested = body.collect ?? 'auto';
      const exposeGc = gcOptimizer.canCollect();
      if (!exposeGc && (requested === 'minor' || requested === 'major' || body.idleGc === 'start')) {
        const what = body.idleGc === 'start' && requested !== 'minor' && requested !== 'major' ? 'idle collection' : `a ${requested} collection`;
        throw new HttpError(409, 'ERR_ULTRA_PERF_HTTP_GC_NOT_EXPOSED', `${what} needs global.gc, which this process does not expose: start node with --expose-gc (or NODE_OPTIONS=--expose-gc)`);
      }
      const suggestion = gcOptimizer.suggest(body.semiSpaceMb !== undefined ? { semiSpaceMb: body.semiSpaceMb } : {});
      let applied: Static<typeof GcOptimizeResult>['applied'] = [];
      let notApplied: Static<typeof GcOptimizeResult>['notApplied'];
      let caveat = 'nothing was applied: set applyRuntimeFlags to apply the runtime flags; startup flags only take effect through NODE_OPTIONS';
      if (body.applyRuntimeFlags === true) {
        const report = gcOptimizer.apply(body.semiSpaceMb !== undefined ? { semiSpaceMb: body.semiSpaceMb } : {});
        applied = report.applied;
        notApplied = report.notApplied;
        caveat = report.caveat;
      } else {
        notApplied = suggestion.flags.map((f) => ({ ...f, reason: f.when === 'runtime' ? 'applyRuntimeFlags was not set' : `read when the heap is set up; start node with ${f.flag} (NODE_OPTIONS)` }));
      }
      if (body.idleGc === 'start' && idleGc === null) idleGc = gcOptimizer.startIdleGc({ type: 'minor' });
      let idleReport = idleGc?.report() ?? null;
      if (body.idleGc === 'stop' && idleGc !== null) {
        idleReport = idleGc.stop();
        idleGc = null;
      }
      const type: 'minor' | 'major' = requested === 'minor' ? 'minor' : 'major';
      const before = getHeapStatistics().used_heap_size;
      const run = requested === 'none' ? { ran: false, ms: 0, reason: "collect was 'none'" } : gcOptimizer.collect(type);
      const after = getHeapStatistics().used_heap_size;
      const collection: Static<typeof GcOptimizeResult>['collection'] = {
        requested,
        ran: run.ran,
        type: run.ran ? type : null,
        durationMs: run.ms,
        heapUsedBeforeBytes: before,
        heapUsedAfterBytes: after,
        freedBytes: before - after,
        ...(run.reason !== undefined && { reason: run.reason }),
        at: new Date().toISOString(),
      };
      if (run.ran) lastCollection = collection;
      return {
        exposeGc,
        collection,
        suggested: suggestion.flags,
        nodeOptions: suggestion.nodeOptions,
        applied,
        notApplied,
        appliedFlags: gcOptimizer.appliedFlags(),
        caveat,
        idleGc: idleReport,
        gcOptimized: gcOptimized(),
      };
    },
  );

  /** Acquire `hold`, give them all back, until `iterations` pairs; every call timed. */
  function exercise(entry: RegisteredObject<HttpPool>, iterations: number, hold: number, allocBytes: number | undefined): Static<typeof ExerciseResult> {
    const p = entry.object;
    const getNs = new Float64Array(iterations);
    const returnNs = new Float64Array(iterations);
    let gets = 0;
    let returns = 0;
    let hits = 0;
    let misses = 0;
    const target = p.target;
    if (target instanceof ObjectPool) {
      const before = target.stats();
      const touch = kObjectTypeSpecs[p.objectType!].touch;
      const held: Pooled[] = [];
      while (gets < iterations) {
        const n = Math.min(hold, iterations - gets);
        for (let i = 0; i < n; i++) {
          timer.start();
          const o = target.acquire();
          getNs[gets++] = timer.stopNs();
          touch(o, gets);
          held.push(o);
        }
        for (const o of held) {
          timer.start();
          target.release(o);
          returnNs[returns++] = timer.stopNs();
        }
        held.length = 0;
      }
      const after = target.stats();
      hits = after.hits - before.hits;
      misses = after.misses - before.misses;
    } else {
      const size = allocBytes ?? (target instanceof BuddyAllocator ? target.minBlock : 64);
      if (target instanceof SlabAllocator && allocBytes !== undefined) throw unprocessable('allocBytes', `a slab hands out ${target.slotBytes}-byte slots; leave allocBytes out`);
      const alloc: () => number = target instanceof SlabAllocator ? () => target.alloc() : () => (target as BuddyAllocator).alloc(size);
      const offsets = new Float64Array(hold);
      while (gets < iterations) {
        const n = Math.min(hold, iterations - gets);
        const mark = target instanceof StackAllocator ? target.mark() : 0;
        let live = 0;
        for (let i = 0; i < n; i++) {
          timer.start();
          const offset = alloc();
          getNs[gets++] = timer.stopNs();
          if (offset < 0) misses++;
          else {
            hits++;
            offsets[live++] = offset;
          }
        }
        if (target instanceof StackAllocator) {
          timer.start();
          target.reset(mark);
          returnNs[returns++] = timer.stopNs();
        } else if (target instanceof RingAllocator) {
          for (let i = 0; i < live; i++) {
            timer.start();
            target.release();
            returnNs[returns++] = timer.stopNs();
          }
        } else {
          const free = target as SlabAllocator | BuddyAllocator;
          for (let i = 0; i < live; i++) {
            timer.start();
            free.free(offsets[i]!);
            returnNs[returns++] = timer.stopNs();
          }
        }
      }
      p.allocHits += hits;
      p.allocMisses += misses;
    }
    p.exercises++;
    return {
      id: entry.id,
      kind: p.kind,
      unit: 'ns',
      iterations: gets,
      hold,
      get: opTiming(getNs, gets),
      return: opTiming(returnNs, returns),
      hits,
      misses,
      hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      pool: describePool(entry),
    };
  }
};
