/**
 * Schemas of the monitoring/*, profiling/* and regression/* routes (and the telemetry
 * snapshot the dashboard and status/comprehensive reuse). Units are in the field names or
 * descriptions: Us = µs, Ms = ms, S = seconds, bytes as bytes. Inlined where used (no $id):
 * each appears in one response only.
 */
import { Type, type Static } from 'typebox';

const Num = (description: string) => Type.Number({ description });
const NullableNum = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });

export const RouteLatencySchema = Type.Object(
  {
    route: Type.String({ description: "route pattern, or '(unmatched)' for every URL no route matched" }),
    method: Type.String(),
    count: Type.Integer({ description: 'requests since start' }),
    errors: Type.Integer({ description: 'answers with status >= 400 since start' }),
    ratePerSec: Num('requests per second over the rate window'),
    p50Us: Num('µs, over the percentile window'),
    p90Us: Num('µs'),
    p99Us: Num('µs'),
    p999Us: Num('µs'),
    maxUs: Num('µs'),
    clientErrors: Type.Integer({ description: '4xx answers since start' }),
    serverErrors: Type.Integer({ description: '5xx answers since start' }),
    windowCount: Type.Integer({ description: 'requests in the percentile window' }),
    meanUs: Num('mean latency over the percentile window, µs'),
  },
  { additionalProperties: false },
);

export const TelemetrySnapshotSchema = Type.Object(
  {
    at: Num('when measured, ms since the epoch'),
    uptimeS: Num('seconds since the telemetry started'),
    requests: Type.Object(
      {
        total: Type.Integer(),
        ratePerSec: Num('requests per second over the rate window, all routes'),
        routes: Type.Array(RouteLatencySchema, { maxItems: 100_001 }),
        all: RouteLatencySchema,
        serverErrorRate: Num('5xx answers / requests over the rate window, 0..1'),
        clientErrorRate: Num('4xx answers / requests over the rate window, 0..1'),
      },
      { additionalProperties: false },
    ),
    eventLoop: Type.Object(
      {
        p50Ms: Num('event-loop delay, ms'),
        p99Ms: Num('ms'),
        maxMs: Num('ms'),
        utilization: Num('event-loop utilization over the rate window, 0..1'),
        samples: Type.Integer({ description: 'monitorEventLoopDelay samples behind the percentiles' }),
        windowS: Num('seconds the delay percentiles cover'),
      },
      { additionalProperties: false },
    ),
    memory: Type.Object(
      { rss: Num('bytes'), heapUsed: Num('bytes'), heapTotal: Num('bytes'), external: Num('bytes'), arrayBuffers: Num('bytes') },
      { additionalProperties: false },
    ),
    window: Type.Object(
      {
        windowS: Num('configured window, s'),
        rateWindowS: Num('seconds the rates and utilization cover'),
        windowCoveredS: Num('seconds the latency percentiles cover (windowS..2 × windowS)'),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const LatencyFunction = Type.Object(
  {
    name: Type.String(),
    count: Type.Integer(),
    p50Us: NullableNum('µs; null before the first call'),
    p99Us: NullableNum('µs'),
    maxUs: NullableNum('µs'),
  },
  { additionalProperties: false },
);

export const MonitoringStatus = Type.Object(
  {
    monitoring_active: Type.Boolean(),
    interval_seconds: NullableNum('tick interval of the current (or last) run, s; null before the first start'),
    ticks: Type.Integer({ description: 'ticks since the last start' }),
    uptime_seconds: Num('time since the last start (to the stop, once stopped), s'),
    changed: Type.Optional(Type.Boolean({ description: 'start/stop: whether this call changed anything (false: already in that state)' })),
    samples: Type.Array(Type.String(), { maxItems: 16, description: 'what the sampling loop reads' }),
    latest: Type.Object(
      {
        event_loop: Type.Union(
          [
            Type.Object(
              { p50Ms: Num('ms'), p99Ms: Num('ms'), maxMs: Num('ms'), utilization: Num('0..1 since start'), source: Type.String() },
              { additionalProperties: false },
            ),
            Type.Null(),
          ],
          { description: 'null before the first start' },
        ),
        cpu_percent_of_one_core: Num('last tick interval, 100 = one core busy'),
        heap_used_bytes: Num('at the last tick'),
        event_loop_utilization: Num('last tick interval, 0..1'),
        memory: Type.Object(
          {
            verdict: Type.String({ description: "MemoryTracker: 'leak-suspected' | 'no-leak' | 'insufficient-data'" }),
            samples: Type.Integer(),
            slope_bytes_per_hour: NullableNum('Theil–Sen slope of heap used after major GCs'),
          },
          { additionalProperties: false },
        ),
        gc: Type.Object(
          { count: Type.Integer(), time_ratio: Num('fraction of the time in GC pauses'), max_pause_ms: NullableNum('ms') },
          { additionalProperties: false },
        ),
        gpu: Type.Union(
          [
            Type.Object(
              { available: Type.Boolean(), device_count: Type.Integer(), reason: Type.Optional(Type.String()), utilization_percent: Type.Array(NullableNum('%'), { maxItems: 64 }) },
              { additionalProperties: false },
            ),
            Type.Null(),
          ],
          { description: 'NVML readings while monitoring; null when never started' },
        ),
      },
      { additionalProperties: false },
    ),
    latency_functions: Type.Array(LatencyFunction, { maxItems: 10_000, description: 'the latencyRegistry functions (monitorLatency) and their figures' }),
    requests: Type.Object(
      { total: Type.Integer(), rate_per_sec: Num('all routes, rate window'), routes_tracked: Type.Integer() },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type MonitoringStatus = Static<typeof MonitoringStatus>;

export const StartMonitoringBody = Type.Object(
  {
    interval_seconds: Type.Optional(
      Type.Number({ minimum: 0.01, maximum: 60, description: 'seconds between ticks, 0.01..60 (the seed uses 0.1). Default 1' }),
    ),
  },
  { additionalProperties: false },
);

export const StartProfilingBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$', description: 'a label for the session' })),
    duration_ms: Type.Integer({ minimum: 1, maximum: 3_600_000, description: 'how long to sample the server process, ms (capped by limits.maxProfileMs)' }),
    sampling_interval_us: Type.Optional(Type.Integer({ minimum: 10, maximum: 100_000, description: 'µs between samples. Default 1000' })),
    top: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'functions kept in each top list. Default 20' })),
  },
  { additionalProperties: false },
);

const FunctionTimeSchema = Type.Object(
  {
    functionName: Type.String(),
    url: Type.String(),
    line: Type.Integer(),
    column: Type.Integer(),
    selfMs: Num('ms'),
    totalMs: Num('ms'),
    selfPercent: Num('0..100'),
    totalPercent: Num('0..100'),
  },
  { additionalProperties: false },
);

export const ProfilingSessionView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
    duration_ms: Type.Integer({ description: 'requested duration, ms' }),
    sampling_interval_us: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
    location: Type.String({ description: 'where to poll this session' }),
    result: Type.Optional(
      Type.Object(
        {
          durationMs: Num('wall time sampled, ms'),
          sampledMs: Num('time covered by the samples, ms'),
          samples: Type.Integer(),
          topBySelf: Type.Array(FunctionTimeSchema, { maxItems: 100 }),
          topByTotal: Type.Array(FunctionTimeSchema, { maxItems: 100 }),
        },
        { additionalProperties: false },
      ),
    ),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type ProfilingSessionView = Static<typeof ProfilingSessionView>;

export const SessionParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

export const RegressionQuery = Type.Object(
  {
    metric: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "keep the metrics whose name ('GET /route') contains this" })),
    baseline_seconds: Type.Optional(Type.Integer({ minimum: 4, maximum: 3600, description: 'seconds of per-second means in the baseline. Default 60' })),
    current_seconds: Type.Optional(Type.Integer({ minimum: 4, maximum: 3600, description: 'most recent seconds compared with the baseline. Default 10' })),
    sensitivity: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: 'smallest relative change of the median that counts. Default 0.1' })),
    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'family-wise significance level. Default 0.05' })),
  },
  { additionalProperties: false },
);

const SampleSummarySchema = Type.Object(
  { samples: Type.Integer(), median: NullableNum('µs'), low: NullableNum('µs'), high: NullableNum('µs') },
  { additionalProperties: false },
);

export const RegressionReportSchema = Type.Object(
  {
    source: Type.String({ description: 'what was compared' }),
    baseline_seconds: Type.Integer(),
    current_seconds: Type.Integer(),
    history_seconds: Type.Integer({ description: 'complete seconds held' }),
    sensitivity: Num('relative change that counts'),
    alpha: Num('significance level'),
    metrics: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          higherIsBetter: Type.Boolean(),
          baseline: SampleSummarySchema,
          current: SampleSummarySchema,
          changePercent: NullableNum('median change, %; null when a side is empty'),
          pValue: NullableNum('two-sided Mann–Whitney U p; null when not tested'),
          adjustedPValue: NullableNum('after Holm–Bonferroni'),
          test: Type.String(),
          verdict: Type.Union([Type.Literal('regression'), Type.Literal('improvement'), Type.Literal('no-change'), Type.Literal('insufficient-data')]),
          reason: Type.String(),
        },
        { additionalProperties: false },
      ),
      { maxItems: 100_001 },
    ),
    regressions: Type.Array(Type.String(), { maxItems: 100_001 }),
    improvements: Type.Array(Type.String(), { maxItems: 100_001 }),
    hasRegression: Type.Boolean(),
  },
  { additionalProperties: false },
);
