/**
 * Schemas of the latency/* routes: optimizer status, named-workload benchmarks and the order
 * books created over HTTP. Every latency is in nanoseconds (`...Ns`), every price and size in
 * the book's own units.
 */
import { Type, type Static } from 'typebox';
import type { FastifySchemaValidationError } from 'fastify';

import { kBenchmarkNames } from '../workloads/latency.js';

const Backend = Type.Enum(['auto', 'native', 'ts'], { description: "implementation: 'auto' is what the library picks (native when the CPU addon is loaded)" });
const UsedBackend = Type.Enum(['native', 'ts']);
/**
 * A number the library reports as NaN (an empty side, an empty histogram) is null here. A type
 * array rather than anyOf: fast-json-stringify serialises it with a typeof test instead of
 * running a validator per field.
 */
export const MaybeNumber = Type.Unsafe<number | null>({ type: ['number', 'null'] });

export const MonitoredFunction = Type.Object(
  {
    name: Type.String(),
    count: Type.Integer(),
    meanNs: MaybeNumber,
    p50Ns: MaybeNumber,
    p99Ns: MaybeNumber,
    p999Ns: MaybeNumber,
    maxNs: MaybeNumber,
  },
  { additionalProperties: false },
);

export const LatencyStatus = Type.Object(
  {
    timestamp: Type.String({ format: 'date-time' }),
    backend: Type.Object(
      {
        default: UsedBackend,
        native: Type.Boolean({ description: 'the CPU addon is loaded' }),
        nativeError: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    timer: Type.Object(
      {
        overheadNs: Type.Number({ description: "MicrosecondTimer's calibrated cost of an empty start()/stop() pair, subtracted from every reading" }),
        resolutionNs: Type.Number({ description: 'smallest non-zero step between two back-to-back clock reads, measured at startup' }),
        calibratedAt: Type.String({ format: 'date-time' }),
        calibrationMs: Type.Number({ description: 'time the startup calibration took' }),
      },
      { additionalProperties: false },
    ),
    monitoredFunctions: Type.Object(
      {
        total: Type.Integer({ description: 'names in latencyRegistry' }),
        functions: Type.Array(MonitoredFunction, { description: 'the first 64 names, in creation order' }),
      },
      { additionalProperties: false },
    ),
    affinity: Type.Object(
      {
        supported: Type.Boolean(),
        backend: UsedBackend,
        onlineCores: Type.Integer(),
        cores: Type.Optional(Type.Array(Type.Integer(), { description: 'cores the main thread may run on' })),
        currentCpu: Type.Optional(Type.Integer()),
        reason: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    orderBooks: Type.Object(
      {
        count: Type.Integer(),
        max: Type.Integer(),
        levels: Type.Integer({ description: 'price levels across every book, both sides' }),
        restingOrders: Type.Integer({ description: 'resting orders across every L3 book' }),
      },
      { additionalProperties: false },
    ),
    workloads: Type.Array(Type.String(), { description: 'what POST latency/benchmark-function can run' }),
  },
  { additionalProperties: false },
);
export type LatencyStatus = Static<typeof LatencyStatus>;

export const BenchmarkWorkloads = Type.Object(
  {
    workloads: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          description: Type.String(),
          maxIterations: Type.Integer({ description: 'this workload\'s cap: limits.maxBenchmarkIterations / its cost' }),
          native: Type.Boolean({ description: 'it has a native implementation' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const BenchmarkBody = Type.Object(
  {
    workload: Type.Enum([...kBenchmarkNames], { description: 'a named built-in workload (GET latency/workloads lists them); never code' }),
    iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9, default: 10_000, description: "timed operations; capped per workload (limits.maxBenchmarkIterations / the workload's cost)" })),
    warmup: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e9, description: 'untimed operations first; default min(iterations, 1000), at most the cap' })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, default: 1, description: 'operations per clock reading (each sample is batch time / batchSize)' })),
    backend: Type.Optional(Backend),
  },
  { additionalProperties: false },
);
export type BenchmarkBody = Static<typeof BenchmarkBody>;

const LatencyNs = Type.Object(
  { min: Type.Number(), mean: Type.Number(), p50: Type.Number(), p90: Type.Number(), p99: Type.Number(), p999: Type.Number(), max: Type.Number() },
  { additionalProperties: false, description: 'per operation, nanoseconds, timer overhead subtracted' },
);

export const BenchmarkResultSchema = Type.Object(
  {
    workload: Type.String(),
    description: Type.String(),
    unit: Type.Literal('ns'),
    iterations: Type.Integer(),
    requestedIterations: Type.Integer(),
    warmup: Type.Integer(),
    batchSize: Type.Integer(),
    samples: Type.Integer({ description: 'clock readings' }),
    truncated: Type.Boolean({ description: 'stopped at limits.maxBenchmarkMs before every iteration ran' }),
    backend: UsedBackend,
    timerOverheadNs: Type.Number(),
    latencyNs: LatencyNs,
    opsPerSec: Type.Number({ description: 'operations per second of timed time' }),
    totalMs: Type.Number({ description: 'the job\'s wall time, setup and warm-up included' }),
  },
  { additionalProperties: false },
);

export const CreateOrderBookBody = Type.Object(
  {
    type: Type.Optional(Type.Enum(['l2', 'l3'], { default: 'l2', description: "'l2': OrderBook (market by price); 'l3': MatchingEngine (orders, price-time priority)" })),
    symbol: Type.String({ maxLength: 64, description: 'the instrument (the library refuses an empty one)' }),
    tickSize: Type.Number({ description: 'price step (the library checks it: > 0, finite)' }),
    lotSize: Type.Optional(Type.Number({ description: 'size step (L3 default 1e-8)' })),
    allowNegativePrices: Type.Optional(Type.Boolean()),
    backend: Type.Optional(Backend),
  },
  { additionalProperties: false },
);
export type CreateOrderBookBody = Static<typeof CreateOrderBookBody>;

export const OrderBookView = Type.Object(
  {
    id: Type.String(),
    type: Type.Enum(['l2', 'l3']),
    symbol: Type.String(),
    tickSize: Type.Number(),
    lotSize: MaybeNumber,
    backend: UsedBackend,
    createdAt: Type.String({ format: 'date-time' }),
    location: Type.String(),
    bidLevels: Type.Integer(),
    askLevels: Type.Integer(),
    restingOrders: Type.Integer({ description: 'L3: orders resting now; L2: 0' }),
    maxLevels: Type.Integer({ description: 'L2: cap on levels per side (limits.maxBookLevels); L3: cap on resting orders (limits.maxBookOrders)' }),
    bestBidPrice: MaybeNumber,
    bestBidSize: MaybeNumber,
    bestAskPrice: MaybeNumber,
    bestAskSize: MaybeNumber,
    spread: MaybeNumber,
    midPrice: MaybeNumber,
    crossed: Type.Boolean(),
    updates: Type.Integer({ description: 'updates (L2) or orders and cancels (L3) applied over HTTP' }),
  },
  { additionalProperties: false },
);
export type OrderBookView = Static<typeof OrderBookView>;

const Level = Type.Object({ price: Type.Number(), size: Type.Number() }, { additionalProperties: false });

export const OrderBookDepthView = Type.Object(
  {
    ...OrderBookView.properties,
    depth: Type.Object({ levels: Type.Integer(), bids: Type.Array(Level), asks: Type.Array(Level) }, { additionalProperties: false, description: 'best first' }),
  },
  { additionalProperties: false },
);

export const OrderBookList = Type.Object(
  { count: Type.Integer(), max: Type.Integer(), orderBooks: Type.Array(OrderBookView) },
  { additionalProperties: false },
);

export const OrderBookParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
export const DepthQuery = Type.Object(
  { levels: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'levels per side (default 10, or limits.maxBookDepth when lower); at most limits.maxBookDepth' })) },
  { additionalProperties: false },
);

/** Absolute ceiling of an updates array; the configured cap is limits.maxBookUpdateBatch (413 past it). */
export const kMaxUpdateItems = 100_000;

export const OrderBookUpdatesBody = Type.Object(
  {
    updates: Type.Optional(
      Type.Array(
        Type.Object(
          {
            side: Type.Enum(['bid', 'ask']),
            price: Type.Number({ description: 'on the tick grid' }),
            size: Type.Number({ description: 'the level\'s new total, >= 0; 0 removes the level' }),
          },
          { additionalProperties: false },
        ),
        { maxItems: kMaxUpdateItems, description: 'L2 books: level updates, applied in order (at most limits.maxBookUpdateBatch)' },
      ),
    ),
    orders: Type.Optional(
      Type.Array(
        Type.Object(
          {
            side: Type.Enum(['buy', 'sell']),
            type: Type.Optional(Type.Enum(['limit', 'market'])),
            price: Type.Optional(Type.Number()),
            quantity: Type.Number(),
            timeInForce: Type.Optional(Type.Enum(['GTC', 'IOC', 'FOK'])),
            postOnly: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        { maxItems: kMaxUpdateItems, description: 'L3 books: orders to submit, in order (at most limits.maxBookUpdateBatch with cancels)' },
      ),
    ),
    cancels: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), { maxItems: kMaxUpdateItems, description: 'L3 books: order ids to cancel, after the orders' })),
  },
  { additionalProperties: false },
);
export type OrderBookUpdatesBody = Static<typeof OrderBookUpdatesBody>;

const Timing = Type.Object(
  {
    unit: Type.Literal('ns'),
    count: Type.Integer(),
    meanNs: Type.Number(),
    p50Ns: Type.Number(),
    p99Ns: Type.Number(),
    maxNs: Type.Number(),
    totalNs: Type.Number(),
  },
  { additionalProperties: false, description: 'each update or submit timed on its own with MicrosecondTimer (overhead subtracted)' },
);

export const OrderBookUpdatesResult = Type.Object(
  {
    applied: Type.Integer(),
    cancelled: Type.Integer({ description: 'L3: cancels that found a resting order' }),
    timing: Timing,
    reports: Type.Array(
      Type.Object(
        {
          orderId: Type.Integer(),
          status: Type.String(),
          filledQuantity: Type.Number(),
          remainingQuantity: Type.Number(),
          averagePrice: MaybeNumber,
          fills: Type.Integer(),
          rejectReason: Type.Optional(Type.String()),
          cancelReason: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
      { description: 'L3: one per order, in order' },
    ),
    book: OrderBookView,
  },
  { additionalProperties: false },
);

/**
 * Validation errors that name the allowed values: an enum error becomes
 * `body/workload must be one of: noop, orderbook-update, ... (received "x")`.
 */
export const listAllowedValues = (errors: FastifySchemaValidationError[], dataVar: string): Error => {
  const first = errors[0];
  const path = `${dataVar}${first?.instancePath ?? ''}`;
  const allowed = (first?.params as { allowedValues?: unknown } | undefined)?.allowedValues;
  if (first?.keyword === 'enum' && Array.isArray(allowed)) return new Error(`${path} must be one of: ${allowed.join(', ')}`);
  return new Error(`${path} ${first?.message ?? 'is invalid'}`);
};
