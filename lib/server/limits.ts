/**
 * Caps on the work one request may ask for and on what the server holds. A request past a
 * size cap is answered 413 (body bytes, array lengths) or 422 (derived work such as
 * paths × steps), with the cap named in the message; a full job queue is 503 with
 * `Retry-After`; too many objects of a kind is 409... see `http-errors.ts`.
 *
 * The defaults, and why (docs/server.md "Jobs and limits" has the table):
 * - timeouts cut off slow and stalled clients (a request trickled byte by byte) without
 *   hurting an honest one on a slow link: 10 s for the headers (16 KiB at most), 30 s for
 *   the whole request (1 MiB at 35 KB/s);
 * - 1000 requests/s per token (per client address without a token) is far above what a
 *   dashboard (one stream and a poll a second) plus scripts send, and still stops a runaway
 *   loop; a load test raises it explicitly;
 * - load shedding (503 + Retry-After on the API, `/readyz` 503) starts when the event loop's
 *   mean delay over a sample passes 1 s or the V8 heap passes 90 % of its limit: signs the
 *   process cannot keep its latency promises, never reached by a busy but healthy server
 *   (heavy jobs run in worker threads; a saturating benchmark keeps the delay in ms).
 */
import { getHeapStatistics } from 'node:v8';

export interface ServerLimits {
  /** Largest request body in bytes (Fastify `bodyLimit`); past it 413. */
  maxBodyBytes: number;
  /** Longest returns series accepted by VaR routes. */
  maxReturns: number;
  /** Most assets in a correlation matrix (assets × observations also capped by maxMatrixCells). */
  maxAssets: number;
  /** Most cells (assets × observations) in one correlation request. */
  maxMatrixCells: number;
  /** Most paths × steps in one Monte Carlo request. */
  maxPathSteps: number;
  /** Most assets whose correlation matrix is answered inline (assets² numbers); past it ask output 'summary' (gpu routes). */
  maxInlineMatrixAssets: number;
  /**
   * Compute requests at most this big (returns × levels, paths × steps, assets² × observations)
   * run on the event loop instead of a worker thread: well under a millisecond of work, less
   * than the thread hop and the copy would cost. 0 sends every one to a worker.
   */
  inlineWorkUnits: number;
  /** Heavy jobs running at once (worker threads). */
  jobConcurrency: number;
  /** Heavy jobs waiting; past this the server answers 503 with Retry-After. */
  jobQueue: number;
  /** A request waits this long (ms) for its job before it gets 202 and a job resource to poll. */
  syncWaitMs: number;
  /** Finished jobs are kept this long (ms) for polling, and at most `maxJobsKept` of them. */
  jobTtlMs: number;
  maxJobsKept: number;
  /** Objects created over HTTP (order books, pools, connections): most per kind. */
  maxObjectsPerKind: number;
  /** Requests per second per bearer token (per client address when the server has no token); past it 429 + Retry-After. */
  rateLimitPerSec: number;
  /** A client must send all request headers within this many ms of connecting (or of its previous request); node `headersTimeout`. */
  headersTimeoutMs: number;
  /** A client must send the whole request (headers and body) within this many ms; node `requestTimeout`. */
  requestTimeoutMs: number;
  /** A socket with no traffic either way for this many ms is closed (Fastify `connectionTimeout`). */
  connectionTimeoutMs: number;
  /** An idle keep-alive connection is closed after this many ms (node `keepAliveTimeout`). */
  keepAliveTimeoutMs: number;
  /** A route that has not answered after this many ms answers 503 + Retry-After (Fastify `handlerTimeout`). */
  handlerTimeoutMs: number;
  /** Largest request head (request line + headers) in bytes (node `maxHeaderSize`); past it 431. */
  maxHeaderBytes: number;
  /** Load shedding: the event loop's mean delay over one sample (ms) past which the API answers 503; 0 = off. */
  maxEventLoopDelayMs: number;
  /** Load shedding: V8 heap used (bytes) past which the API answers 503; 0 = off. */
  maxHeapUsedBytes: number;
  /** Load shedding: event-loop utilisation over one sample (0..1) past which the API answers 503; 0 = off. */
  maxEventLoopUtilization: number;
  /** How often (ms) the load-shedding figures are sampled. */
  pressureSampleMs: number;
  /** Longest profiling session (profiling/start-session duration_ms), ms; past it 422. */
  maxProfileMs: number;
  /** latency/benchmark-function: most timed operations of a cost-1 workload (heavier ones get this / their cost). */
  maxBenchmarkIterations: number;
  /** latency/benchmark-function: a run stops timing after this long (ms) and reports what it did. */
  maxBenchmarkMs: number;
  /** Order books over HTTP: most price levels per side of an L2 book. */
  maxBookLevels: number;
  /** Order books over HTTP: most resting orders in an L3 (MatchingEngine) book. */
  maxBookOrders: number;
  /** Order books over HTTP: most updates (L2 levels or L3 orders) in one POST orderbooks/:id/updates. */
  maxBookUpdateBatch: number;
  /** Order books over HTTP: most levels per side GET orderbooks/:id returns. */
  maxBookDepth: number;
  /** Memory pools over HTTP: most bytes one pool or allocator may hold (object pools: objects x their size). */
  maxPoolBytes: number;
  /** Memory pools over HTTP: most bytes all of them together may hold. */
  maxPoolBytesTotal: number;
  /** Memory pools over HTTP: most acquire/release pairs in one POST memory/pools/:id/exercise (runs on the event loop). */
  maxPoolExerciseIterations: number;
  /** cache/warm-intelligent: most keys one warm loads (the seed's max_warming_keys, default 500, is capped here). */
  maxWarmKeys: number;
  /** cache/warm-intelligent: loader calls in flight at once. */
  warmConcurrency: number;
  /** cache/warm-intelligent: loads still running after this (ms) are abandoned and counted as timed out. */
  warmTimeoutMs: number;
  /** cache/access-patterns: most hot keys, successor rows and periodic keys returned (`limit`). */
  maxPatternKeys: number;
  /** network/measure-latency: most pings (round trips) one request sends. */
  maxPings: number;
  /** network/measure-latency: largest ping payload, bytes. */
  maxPingBytes: number;
  /** network/measure-latency: the pings of one request stop being sent past about this many ms. */
  measureBudgetMs: number;
  /** network/measure-latency: measurements running at once; past this the route answers 503. */
  maxLatencyMeasurements: number;
  /** network/measure-latency: largest message (JSON bytes) for the codec encode/decode timing. */
  maxCodecMessageBytes: number;
  /** network/measure-latency: most encode + decode iterations per codec. */
  maxCodecIterations: number;
  /** network/create-connection: the TCP connect and handshake must finish within this (ms). */
  connectTimeoutMs: number;
  /** network/create-connection: each connection's send queue and largest frame, bytes. */
  connectionBufferBytes: number;
  /** Dashboard event streams (`GET stream`) open at once; past this the server answers 503. */
  maxStreams: number;
}

export const kDefaultLimits: Readonly<ServerLimits> = Object.freeze({
  maxBodyBytes: 1 << 20,
  maxReturns: 100_000,
  maxAssets: 500,
  maxMatrixCells: 2_000_000,
  maxPathSteps: 10_000_000,
  maxInlineMatrixAssets: 200,
  inlineWorkUnits: 20_000,
  jobConcurrency: 2,
  jobQueue: 16,
  syncWaitMs: 2_000,
  jobTtlMs: 10 * 60_000,
  maxJobsKept: 256,
  maxObjectsPerKind: 64,
  rateLimitPerSec: 1000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  // Every route answers well within 10 s: heavy work answers 202 after syncWaitMs.
  handlerTimeoutMs: 10_000,
  maxHeaderBytes: 16 * 1024,
  maxEventLoopDelayMs: 1_000,
  maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
  // Off: a saturated but healthy server runs near 1.0 (a benchmark does); delay is the harm.
  maxEventLoopUtilization: 0,
  pressureSampleMs: 1_000,
  maxProfileMs: 60_000,
  maxBenchmarkIterations: 1_000_000,
  maxBenchmarkMs: 5_000,
  maxBookLevels: 10_000,
  maxBookOrders: 50_000,
  maxBookUpdateBatch: 1_000,
  maxBookDepth: 100,
  maxPoolBytes: 64 << 20,
  maxPoolBytesTotal: 256 << 20,
  maxPoolExerciseIterations: 20_000,
  maxWarmKeys: 10_000,
  warmConcurrency: 8,
  warmTimeoutMs: 5_000,
  maxPatternKeys: 1_000,
  maxPings: 10_000,
  maxPingBytes: 65_536,
  measureBudgetMs: 2_000,
  maxLatencyMeasurements: 2,
  maxCodecMessageBytes: 4_096,
  maxCodecIterations: 10_000,
  connectTimeoutMs: 2_000,
  connectionBufferBytes: 1 << 20,
  maxStreams: 16,
});

const kFractions = new Set<keyof ServerLimits>(['maxEventLoopUtilization']);
// Below 50 ms a load-shedding sample may hold no event-loop reading, which under-pressure counts as an infinite delay.
const kMinimums: Partial<Record<keyof ServerLimits, number>> = { pressureSampleMs: 50 };
// 0 switches these off; every other field must be above 0.
const kZeroMeansOff = new Set<keyof ServerLimits>(['maxEventLoopDelayMs', 'maxHeapUsedBytes', 'maxEventLoopUtilization', 'inlineWorkUnits']);

/**
 * `kDefaultLimits` with `overrides` applied, each checked: a bad value throws
 * ERR_ULTRA_PERF_HTTP_BAD_LIMIT naming `limits.<field>` and the value, before anything listens.
 */
/** Largest share of limits.handlerTimeoutMs each in-handler wait gets by default. */
const kHandlerShares: ReadonlyArray<readonly [keyof ServerLimits, number]> = [
  ['syncWaitMs', 0.5],
  ['warmTimeoutMs', 0.5],
  ['connectTimeoutMs', 0.5],
  ['measureBudgetMs', 0.25],
];

export function resolveLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  if (typeof overrides !== 'object' || overrides === null) throw badLimit('limits', overrides, 'an object');
  const limits: ServerLimits = { ...kDefaultLimits };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(kDefaultLimits, key)) {
      throw badLimit(`limits.${key}`, value, `one of the known fields (${Object.keys(kDefaultLimits).join(', ')})`);
    }
    const field = key as keyof ServerLimits;
    const fraction = kFractions.has(field);
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (fraction || Number.isInteger(value)) &&
      (kZeroMeansOff.has(field) ? value >= 0 : value > 0) &&
      (!fraction || value <= 1);
    const min = kMinimums[field];
    if (!ok || (min !== undefined && (value as number) < min)) {
      throw badLimit(`limits.${key}`, value, fraction ? 'a number in [0, 1]' : kZeroMeansOff.has(field) ? 'an integer >= 0 (0 = off)' : min !== undefined ? `an integer >= ${min}` : 'an integer > 0');
    }
    limits[field] = value;
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw badLimit('limits.headersTimeoutMs', limits.headersTimeoutMs, `at most limits.requestTimeoutMs (${limits.requestTimeoutMs})`);
  }
  // Waits inside a handler (a job before its 202, a warm, a connect, a measurement) must end
  // before limits.handlerTimeoutMs cuts the route off with a 503. A default that would not is
  // scaled down with a lowered handlerTimeoutMs; a value the caller set is refused.
  for (const [field, share] of kHandlerShares) {
    if (overrides[field] === undefined) limits[field] = Math.min(limits[field], Math.max(1, Math.floor(limits.handlerTimeoutMs * share)));
  }
  // A measurement's pings, then up to syncWaitMs for its codec job: the budget gives way to a raised syncWaitMs.
  if (overrides.measureBudgetMs === undefined) {
    limits.measureBudgetMs = Math.max(1, Math.min(limits.measureBudgetMs, limits.handlerTimeoutMs - limits.syncWaitMs - 1));
  }
  for (const [field, waitMs] of [
    ['syncWaitMs', limits.syncWaitMs],
    ['warmTimeoutMs', limits.warmTimeoutMs],
    ['connectTimeoutMs', limits.connectTimeoutMs],
    ['measureBudgetMs', limits.measureBudgetMs + limits.syncWaitMs],
  ] as const) {
    if (waitMs >= limits.handlerTimeoutMs) {
      const what = field === 'measureBudgetMs' ? ' (plus limits.syncWaitMs)' : '';
      throw badLimit(`limits.${field}`, limits[field], `a value that${what} stays below limits.handlerTimeoutMs (${limits.handlerTimeoutMs})`);
    }
  }
  return limits;
}

function badLimit(argument: string, value: unknown, expected: string): Error {
  const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' && value !== null ? 'an object' : String(value);
  return Object.assign(new RangeError(`Expected ${expected} for ${argument} but received ${shown}`), { code: 'ERR_ULTRA_PERF_HTTP_BAD_LIMIT' });
}
