/**
 * The latency/* routes (SEED.md "API Endpoints"; DESIGN.md "HTTP control API"): the latency
 * optimizer's status (timer calibration, latencyRegistry, CPU affinity), named-workload
 * benchmarks run as jobs, and order books created over HTTP, bounded in number
 * (limits.maxObjectsPerKind) and size (limits.maxBookLevels / maxBookOrders), with measured
 * update latency.
 */
import { availableParallelism } from 'node:os';

import {
  MatchingEngine,
  MicrosecondTimer,
  OrderBook,
  affinityBackend,
  backendInfo,
  currentCpu,
  getThreadAffinity,
  latencyRegistry,
  type ExecutionReport,
  type LatencyHistogram,
  type OrderRequest,
} from '../lib.js';
import { tooLarge, unprocessable } from '../http-errors.js';
import type { RegisteredObject } from '../registry.js';
import {
  BenchmarkBody,
  BenchmarkResultSchema,
  BenchmarkWorkloads,
  CreateOrderBookBody,
  DepthQuery,
  LatencyStatus,
  OrderBookDepthView,
  OrderBookList,
  OrderBookParams,
  OrderBookUpdatesBody,
  OrderBookUpdatesResult,
  OrderBookView as OrderBookViewSchema,
  type OrderBookView,
  listAllowedValues,
} from '../schemas/latency.js';
import { kApiPrefix, type ComponentReport, type RouteModule, type ServerContext } from '../types.js';
import {
  type BenchmarkInput,
  type BenchmarkResult,
  benchmarkCatalog,
  benchmarkIterationCap,
  benchmarkSupports,
  kBenchmarkNames,
  summarizeNs,
} from '../workloads/latency.js';
import { Type } from 'typebox';

const kKind = 'orderbook';
const kTag = ['latency'];
const kMaxListedFunctions = 64;
const kAffinityTtlMs = 1_000;
const kMonitoredTtlMs = 100;
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('ErrorResponse')]));

/** An order book created over HTTP, with what the routes track to bound it. */
interface HttpBook {
  readonly type: 'l2' | 'l3';
  readonly book: OrderBook | MatchingEngine;
  /** L2: the book's live levels per side, by tick index (the book is only changed through these routes). */
  readonly levels: [Set<number>, Set<number>];
  /**
   * A TS book or engine with the same grids, where a batch is validated (all or nothing)
   * before it is applied; left empty after each batch.
   */
  readonly scratch: OrderBook | MatchingEngine;
  /** L3: ids of the orders resting now. */
  readonly resting: Set<number>;
  readonly options: { symbol: string; tickSize: number; lotSize?: number; allowNegativePrices?: boolean };
  updates: number;
}

const nullable = (x: number): number | null => (Number.isNaN(x) ? null : x);

function describeBook(entry: Pick<RegisteredObject<HttpBook>, 'id' | 'createdAt' | 'object'>, ctx: ServerContext): OrderBookView {
  const { book, type } = entry.object;
  return {
    id: entry.id,
    type,
    symbol: book.symbol,
    tickSize: book.tickSize,
    lotSize: book.lotSize ?? null,
    backend: book.backend,
    createdAt: new Date(entry.createdAt).toISOString(),
    location: `${kApiPrefix}/latency/orderbooks/${entry.id}`,
    bidLevels: book.bidLevels,
    askLevels: book.askLevels,
    restingOrders: entry.object.resting.size,
    maxLevels: type === 'l2' ? ctx.limits.maxBookLevels : ctx.limits.maxBookOrders,
    bestBidPrice: nullable(book.bestBidPrice()),
    bestBidSize: nullable(book.bestBidSize()),
    bestAskPrice: nullable(book.bestAskPrice()),
    bestAskSize: nullable(book.bestAskSize()),
    spread: nullable(book.spread()),
    midPrice: nullable(book.midPrice()),
    crossed: book.isCrossed(),
    updates: entry.object.updates,
  };
}

/** Smallest non-zero step between back-to-back reads of the clock MicrosecondTimer uses. */
function clockResolutionNs(): number {
  let best = Infinity;
  for (let i = 0; i < 1_000; i++) {
    const a = process.hrtime.bigint();
    let b = process.hrtime.bigint();
    while (b === a) b = process.hrtime.bigint();
    const step = Number(b - a);
    if (step < best) best = step;
  }
  return best;
}

export const latencyRoutes: RouteModule = (app, ctx) => {
  const { limits, registry } = ctx;
  // Measured once per plugin: MicrosecondTimer calibrates once per process (~25 ms).
  const calibrationStart = performance.now();
  const overheadNs = MicrosecondTimer.overheadNs;
  const resolutionNs = clockResolutionNs();
  const calibrationMs = performance.now() - calibrationStart;
  const calibratedAt = new Date().toISOString();
  const info = backendInfo();
  const defaultBackend = new OrderBook({ symbol: 'probe', tickSize: 1 }).backend;
  const timer = new MicrosecondTimer();
  const updateHistogram: LatencyHistogram = latencyRegistry.histogram('server.orderbook.update');
  const submitHistogram: LatencyHistogram = latencyRegistry.histogram('server.orderbook.submit');
  const workloads = [...kBenchmarkNames];

  let affinityAt = -Infinity;
  let affinity: LatencyStatus['affinity'] = { supported: false, backend: affinityBackend, onlineCores: availableParallelism() };
  const readAffinity = (): LatencyStatus['affinity'] => {
    const now = performance.now();
    if (now - affinityAt < kAffinityTtlMs) return affinity;
    affinityAt = now;
    try {
      affinity = { supported: true, backend: affinityBackend, onlineCores: availableParallelism(), cores: getThreadAffinity(), currentCpu: currentCpu() };
    } catch (err) {
      affinity = { supported: false, backend: affinityBackend, onlineCores: availableParallelism(), reason: (err as Error).message };
    }
    return affinity;
  };

  const books = () => registry.list(kKind) as RegisteredObject<HttpBook>[];

  // Percentile walks cost a few µs per histogram: summarised at most every kMonitoredTtlMs.
  let monitoredAt = -Infinity;
  let monitored: LatencyStatus['monitoredFunctions'] = { total: 0, functions: [] };
  const readMonitored = (): LatencyStatus['monitoredFunctions'] => {
    const now = performance.now();
    if (now - monitoredAt < kMonitoredTtlMs) return monitored;
    monitoredAt = now;
    const names = latencyRegistry.names();
    const functions: LatencyStatus['monitoredFunctions']['functions'] = [];
    for (const name of names.slice(0, kMaxListedFunctions)) {
      const s = latencyRegistry.get(name)!.summary();
      functions.push({ name, count: s.count, meanNs: nullable(s.mean), p50Ns: nullable(s.p50), p99Ns: nullable(s.p99), p999Ns: nullable(s.p999), maxNs: nullable(s.max) });
    }
    monitored = { total: names.length, functions };
    return monitored;
  };

  ctx.components.set('ultra_low_latency', (): ComponentReport => {
    let levels = 0;
    for (const entry of books()) levels += entry.object.book.bidLevels + entry.object.book.askLevels;
    return {
      health: 'ok',
      timer_overhead_ns: overheadNs,
      timer_resolution_ns: resolutionNs,
      monitored_functions: latencyRegistry.names().length,
      order_books: registry.count(kKind),
      order_book_levels: levels,
      backend: defaultBackend,
    };
  });

  app.get(
    '/latency/status',
    {
      schema: {
        tags: kTag,
        operationId: 'getLatencyStatus',
        summary: 'Latency optimizer status',
        description:
          "MicrosecondTimer's calibrated overhead and the clock's resolution (ns, measured at startup), p50/p99/p99.9/max (ns) of every function in latencyRegistry (the first 64; summarised at most every 100 ms), the main thread's CPU affinity (re-read at most once a second), the backend and the order books held.",
        response: { 200: LatencyStatus, ...errors(400) },
      },
    },
    (): LatencyStatus => {
      const monitored = readMonitored();
      let levels = 0;
      let resting = 0;
      for (const entry of books()) {
        levels += entry.object.book.bidLevels + entry.object.book.askLevels;
        resting += entry.object.resting.size;
      }
      return {
        timestamp: new Date().toISOString(),
        backend: { default: defaultBackend, native: info.native, ...(info.nativeError !== undefined && { nativeError: info.nativeError }) },
        timer: { overheadNs, resolutionNs, calibratedAt, calibrationMs },
        monitoredFunctions: monitored,
        affinity: readAffinity(),
        orderBooks: { count: registry.count(kKind), max: limits.maxObjectsPerKind, levels, restingOrders: resting },
        workloads,
      };
    },
  );

  app.get(
    '/latency/workloads',
    {
      schema: {
        tags: kTag,
        operationId: 'listBenchmarkWorkloads',
        summary: 'Workloads latency/benchmark-function can run',
        description: 'Each built-in workload with what it times and its iteration cap (limits.maxBenchmarkIterations divided by its cost).',
        response: { 200: BenchmarkWorkloads },
      },
    },
    () => ({ workloads: benchmarkCatalog(limits.maxBenchmarkIterations) }),
  );

  app.post(
    '/latency/benchmark-function',
    {
      schemaErrorFormatter: listAllowedValues,
      schema: {
        tags: kTag,
        operationId: 'benchmarkFunction',
        summary: 'Time a named built-in workload',
        description:
          'Runs one named workload (order-book update, matching, historical VaR, GBM, queue round trip, pool, slab, L1 cache get; never user code) as a job: `iterations` timed operations after `warmup` untimed ones, `batchSize` per clock reading. Answers min/mean/p50/p90/p99/p99.9/max in ns per operation, ops/s, the backend that ran and the timer overhead subtracted; 202 with a job to poll when it takes longer than limits.syncWaitMs. Iterations past the workload\'s cap are 422.',
        body: BenchmarkBody,
        response: { 200: BenchmarkResultSchema, 202: Type.Ref('JobView'), ...errors(400, 422, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const workload = body.workload;
      const cap = benchmarkIterationCap(workload, limits.maxBenchmarkIterations);
      const iterations = body.iterations ?? Math.min(10_000, cap);
      if (iterations > cap) {
        throw unprocessable('iterations', `${iterations} iterations of ${workload}; the cap is ${cap} (limits.maxBenchmarkIterations ${limits.maxBenchmarkIterations} / the workload's cost)`);
      }
      const warmup = body.warmup ?? Math.min(iterations, 1_000);
      if (warmup > cap) throw unprocessable('warmup', `${warmup} warm-up iterations of ${workload}; the cap is ${cap}`);
      const backend = body.backend ?? 'auto';
      if (!benchmarkSupports(workload, backend)) throw unprocessable('backend', `${workload} has only a TypeScript implementation; ask for 'ts' or 'auto'`);
      if (backend === 'native' && !info.native) throw unprocessable('backend', `'native' needs the CPU addon, which is not loaded${info.nativeError !== undefined ? `: ${info.nativeError}` : ''}`);
      const input: BenchmarkInput = { workload, iterations, warmup, batchSize: body.batchSize ?? 1, backend, maxMs: limits.maxBenchmarkMs };
      const job = ctx.jobs.submit('benchmark-function', input);
      const result = await ctx.jobs.wait<BenchmarkResult>(job, reply);
      return result === undefined ? reply : result;
    },
  );

  app.post(
    '/latency/create-orderbook',
    {
      schemaErrorFormatter: listAllowedValues,
      schema: {
        tags: kTag,
        operationId: 'createOrderBook',
        summary: 'Create an order book',
        description:
          "Creates an L2 OrderBook (market by price) or an L3 MatchingEngine (price-time priority). The library checks symbol, tickSize and lotSize (422 with its message). At most limits.maxObjectsPerKind books (409); each holds at most limits.maxBookLevels levels a side (L2) or limits.maxBookOrders resting orders (L3).",
        body: CreateOrderBookBody,
        response: { 201: OrderBookViewSchema, ...errors(400, 409, 422) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const type = body.type ?? 'l2';
      if (body.backend === 'native' && !info.native) throw unprocessable('backend', `'native' needs the CPU addon, which is not loaded${info.nativeError !== undefined ? `: ${info.nativeError}` : ''}`);
      const options = {
        symbol: body.symbol,
        tickSize: body.tickSize,
        ...(body.lotSize !== undefined && { lotSize: body.lotSize }),
        ...(body.allowNegativePrices !== undefined && { allowNegativePrices: body.allowNegativePrices }),
      };
      const backend = body.backend ?? 'auto';
      const entry = registry.add<HttpBook>(kKind, () => {
        const book = type === 'l2' ? new OrderBook({ ...options, backend }) : new MatchingEngine({ ...options, backend });
        const object: HttpBook = {
          type,
          book,
          levels: [new Set(), new Set()],
          scratch: type === 'l2' ? new OrderBook({ ...options, backend: 'ts' }) : new MatchingEngine({ ...options, backend: 'ts' }),
          resting: new Set(),
          options,
          updates: 0,
        };
        return {
          object,
          describe: () => ({ ...object.options, type }),
          dispose: () => {
            if (book instanceof OrderBook) book.clear();
            object.resting.clear();
          },
        };
      });
      return reply.code(201).header('location', `${kApiPrefix}/latency/orderbooks/${entry.id}`).send(describeBook(entry, ctx));
    },
  );

  app.get(
    '/latency/orderbooks',
    {
      schema: {
        tags: kTag,
        operationId: 'listOrderBooks',
        summary: 'Order books created over HTTP',
        description: 'Every book with its measured level counts, best bid/ask (null for an empty side), spread and resting orders.',
        response: { 200: OrderBookList },
      },
    },
    () => ({ count: registry.count(kKind), max: limits.maxObjectsPerKind, orderBooks: books().map((entry) => describeBook(entry, ctx)) }),
  );

  app.get(
    '/latency/orderbooks/:id',
    {
      schema: {
        tags: kTag,
        operationId: 'getOrderBook',
        summary: 'One order book with its top levels',
        description: 'The book and its best `levels` price levels a side (price, size; best first), at most limits.maxBookDepth (413 past it).',
        params: OrderBookParams,
        querystring: DepthQuery,
        response: { 200: OrderBookDepthView, ...errors(400, 404, 413) },
      },
    },
    (request) => {
      const entry = registry.get<HttpBook>(kKind, request.params.id);
      const levels = request.query.levels ?? Math.min(10, limits.maxBookDepth);
      if (levels > limits.maxBookDepth) throw tooLarge('levels', limits.maxBookDepth, levels, 'levels');
      const depth = entry.object.book.depth(levels);
      const pairs = (a: Float64Array) => {
        const out: { price: number; size: number }[] = [];
        for (let i = 0; i < a.length; i += 2) out.push({ price: a[i]!, size: a[i + 1]! });
        return out;
      };
      return { ...describeBook(entry, ctx), depth: { levels, bids: pairs(depth.bids), asks: pairs(depth.asks) } };
    },
  );

  app.post(
    '/latency/orderbooks/:id/updates',
    {
      schemaErrorFormatter: listAllowedValues,
      schema: {
        tags: kTag,
        operationId: 'updateOrderBook',
        summary: 'Apply a batch of updates to an order book',
        description:
          'L2 books take `updates` (side, price, size; size 0 removes the level), validated all together by the library before any is applied; L3 books take `orders` to submit and `cancels` (order ids). Each update or submit is timed on its own (ns, MicrosecondTimer, overhead subtracted) and recorded in latencyRegistry (server.orderbook.update / server.orderbook.submit). At most limits.maxBookUpdateBatch items (413); a batch that would leave more than limits.maxBookLevels levels a side, or limits.maxBookOrders resting orders, is refused whole (422).',
        params: OrderBookParams,
        body: OrderBookUpdatesBody,
        response: { 200: OrderBookUpdatesResult, ...errors(400, 404, 413, 422) },
      },
    },
    (request) => {
      const entry = registry.get<HttpBook>(kKind, request.params.id);
      const { updates, orders, cancels } = request.body;
      const held = entry.object;
      const count = (updates?.length ?? 0) + (orders?.length ?? 0) + (cancels?.length ?? 0);
      if (count > limits.maxBookUpdateBatch) throw tooLarge(updates !== undefined ? 'updates' : 'orders + cancels', limits.maxBookUpdateBatch, count);
      if (held.type === 'l2') {
        if (orders !== undefined || cancels !== undefined) throw unprocessable(orders !== undefined ? 'orders' : 'cancels', `${entry.id} is an L2 book: send level updates in 'updates'`);
        return applyLevelUpdates(entry, updates ?? []);
      }
      if (updates !== undefined) throw unprocessable('updates', `${entry.id} is an L3 book (MatchingEngine): send 'orders' and 'cancels'`);
      return applyOrders(entry, orders ?? [], cancels ?? []);
    },
  );

  app.delete(
    '/latency/orderbooks/:id',
    {
      schema: {
        tags: kTag,
        operationId: 'deleteOrderBook',
        summary: 'Delete an order book',
        description: 'Drops the book and everything in it.',
        params: OrderBookParams,
        response: { 204: Type.Null({ description: 'deleted' }), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      await registry.delete(kKind, request.params.id);
      return reply.code(204).send(null);
    },
  );

  type LevelUpdate = NonNullable<OrderBookUpdatesBody['updates']>[number];
  type OrderInput = NonNullable<OrderBookUpdatesBody['orders']>[number];

  function applyLevelUpdates(entry: RegisteredObject<HttpBook>, updates: LevelUpdate[]) {
    const held = entry.object;
    const book = held.book as OrderBook;
    const n = updates.length;
    const deltas = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) {
      const u = updates[i]!;
      deltas[3 * i] = u.side === 'bid' ? 0 : 1;
      deltas[3 * i + 1] = u.price;
      deltas[3 * i + 2] = u.size;
    }
    // All or nothing: the library validates the whole batch on a scratch book with the same grids.
    try {
      (held.scratch as OrderBook).applyDeltas(deltas);
    } catch (err) {
      const message = (err as Error).message.replace(/deltas\[(\d+)\]/g, (_, k: string) => `updates[${Math.floor(Number(k) / 3)}].${['side', 'price', 'size'][Number(k) % 3]}`);
      throw unprocessable('updates', message);
    } finally {
      (held.scratch as OrderBook).clear();
    }
    const tick = book.tickSize;
    const levelCounts = [held.levels[0].size, held.levels[1].size];
    const seen = [new Map<number, boolean>(), new Map<number, boolean>()];
    for (const u of updates) {
      const side = u.side === 'bid' ? 0 : 1;
      const key = Math.round(u.price / tick);
      const live = seen[side]!.get(key) ?? held.levels[side]!.has(key);
      if (u.size > 0 && !live) levelCounts[side]!++;
      else if (u.size === 0 && live) levelCounts[side]!--;
      seen[side]!.set(key, u.size > 0);
    }
    for (const side of [0, 1]) {
      if (levelCounts[side]! > limits.maxBookLevels) {
        throw unprocessable('updates', `this batch would leave ${levelCounts[side]} ${side === 0 ? 'bid' : 'ask'} levels; the cap is ${limits.maxBookLevels} levels a side (limits.maxBookLevels)`);
      }
    }
    const ns = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = updates[i]!;
      if (u.side === 'bid') {
        timer.start();
        book.updateBid(u.price, u.size);
        ns[i] = timer.stopNs();
      } else {
        timer.start();
        book.updateAsk(u.price, u.size);
        ns[i] = timer.stopNs();
      }
      updateHistogram.record(ns[i]!);
      const set = held.levels[u.side === 'bid' ? 0 : 1];
      const key = Math.round(u.price / tick);
      if (u.size > 0) set.add(key);
      else set.delete(key);
    }
    held.updates += n;
    return { applied: n, cancelled: 0, timing: { unit: 'ns' as const, count: ns.length, ...summarizeNs(ns) }, reports: [], book: describeBook(entry, ctx) };
  }

  function toRequest(o: OrderInput): OrderRequest {
    return {
      side: o.side,
      quantity: o.quantity,
      ...(o.type !== undefined && { type: o.type }),
      ...(o.price !== undefined && { price: o.price }),
      ...(o.timeInForce !== undefined && { timeInForce: o.timeInForce }),
      ...(o.postOnly !== undefined && { postOnly: o.postOnly }),
    };
  }

  function applyOrders(entry: RegisteredObject<HttpBook>, orders: OrderInput[], cancels: number[]) {
    const held = entry.object;
    const engine = held.book as MatchingEngine;
    const requests = orders.map(toRequest);
    // All or nothing: every order goes through the library's checks on the scratch engine
    // first; what rests there is cancelled again, so it stays empty.
    const scratch = held.scratch as MatchingEngine;
    const resting: number[] = [];
    try {
      for (let i = 0; i < requests.length; i++) {
        try {
          const report = scratch.submit(requests[i]!);
          if (report.remainingQuantity > 0) resting.push(report.orderId);
        } catch (err) {
          throw unprocessable(`orders[${i}]`, (err as Error).message);
        }
      }
    } finally {
      for (const id of resting) scratch.cancel(id);
    }
    const mayRest = requests.filter((r) => (r.type ?? 'limit') === 'limit' && (r.timeInForce ?? 'GTC') === 'GTC').length;
    if (held.resting.size + mayRest > limits.maxBookOrders) {
      throw unprocessable(
        'orders',
        `${held.resting.size} orders rest in ${entry.id} and this batch could add ${mayRest}; the cap is ${limits.maxBookOrders} resting orders (limits.maxBookOrders)`,
      );
    }
    const ns = new Float64Array(requests.length);
    const reports: ReturnType<typeof reportView>[] = [];
    for (let i = 0; i < requests.length; i++) {
      timer.start();
      const report = engine.submit(requests[i]!);
      ns[i] = timer.stopNs();
      submitHistogram.record(ns[i]!);
      if (report.remainingQuantity > 0) held.resting.add(report.orderId);
      for (const fill of report.fills) if (engine.getOrder(fill.makerOrderId) === undefined) held.resting.delete(fill.makerOrderId);
      reports.push(reportView(report));
    }
    let cancelled = 0;
    for (const id of cancels) {
      if (engine.cancel(id)) {
        held.resting.delete(id);
        cancelled++;
      }
    }
    held.updates += requests.length + cancels.length;
    return { applied: requests.length, cancelled, timing: { unit: 'ns' as const, count: ns.length, ...summarizeNs(ns) }, reports, book: describeBook(entry, ctx) };
  }

  function reportView(r: ExecutionReport) {
    return {
      orderId: r.orderId,
      status: r.status,
      filledQuantity: r.filledQuantity,
      remainingQuantity: r.remainingQuantity,
      averagePrice: nullable(r.averagePrice),
      fills: r.fills.length,
      ...(r.rejectReason !== undefined && { rejectReason: r.rejectReason }),
      ...(r.cancelReason !== undefined && { cancelReason: r.cancelReason }),
    };
  }
};
