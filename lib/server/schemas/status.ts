/** Schemas of the status/* routes (SEED.md "Monitoring and Alerting": status/comprehensive). */
import { Type, type Static } from 'typebox';

const Num = (description: string) => Type.Number({ description });

const Level = Type.Union([Type.Literal('optimal'), Type.Literal('degraded'), Type.Literal('critical')]);

/** One measured input of the health and the grade. */
const Assessment = Type.Object(
  {
    value: Num('the measured value, in `unit`'),
    unit: Type.String(),
    level: Level,
    penalty: Num('points taken off the score of 100 (see docs/server.md, status/comprehensive)'),
    degraded_above: Num('the value past which it counts as degraded'),
    critical_above: Num('the value past which it counts as critical'),
  },
  { additionalProperties: false },
);

export const ComprehensiveStatus = Type.Object(
  {
    timestamp: Num('seconds since the epoch (float), when the figures were measured'),
    health_status: Level,
    performance_grade: Type.Union([Type.Literal('A+'), Type.Literal('A'), Type.Literal('B'), Type.Literal('C'), Type.Literal('D'), Type.Literal('F')], { description: 'A+ >= 95, A >= 90, B >= 80, C >= 70, D >= 60, F below (score)' }),
    score: Num('0..100: 100 minus the penalties of the measured inputs'),
    optimization_level: Type.Union([Type.Literal('ultra_performance'), Type.Literal('standard'), Type.Literal('fallback')], {
      description: "ultra_performance: native addon and (GPU addon or pinned thread affinity); standard: native addon only; fallback: pure-TS backend",
    }),
    optimization: Type.Object(
      {
        native_backend: Type.Boolean(),
        gpu_backend: Type.Boolean(),
        affinity_pinned: Type.Boolean({ description: 'the main thread may run on fewer cores than the machine has' }),
        backend_mode: Type.String({ description: 'ULTRA_PERF_BACKEND in force' }),
      },
      { additionalProperties: false },
    ),
    assessments: Type.Object(
      {
        request_p99: Assessment,
        event_loop_p99: Assessment,
        server_error_rate: Assessment,
        job_queue_saturation: Assessment,
        memory_growth: Assessment,
      },
      { additionalProperties: false },
    ),
    system_info: Type.Record(Type.String(), Type.Object({ health: Type.String() }, { additionalProperties: true }), {
      description: 'one entry per component (gpu_acceleration, ultra_low_latency, ...): its measured report, or {health: "unavailable", error}',
    }),
    telemetry: Type.Object(
      {
        requests_total: Type.Integer(),
        rate_per_sec: Num('all routes, over the rate window'),
        p50_us: Num('all routes, µs, recent window'),
        p99_us: Num('µs'),
        max_us: Num('µs'),
        server_error_rate: Num('0..1'),
        client_error_rate: Num('0..1'),
        event_loop_p99_ms: Num('ms'),
        event_loop_utilization: Num('0..1'),
        rss_bytes: Num('bytes'),
        heap_used_bytes: Num('bytes'),
        window_s: Num('seconds the percentiles cover'),
      },
      { additionalProperties: false },
    ),
    jobs: Type.Object(
      {
        running: Type.Integer(),
        queued: Type.Integer(),
        completed: Type.Integer(),
        failed: Type.Integer(),
        cancelled: Type.Integer(),
        rejected: Type.Integer({ description: 'submissions refused with 503 (queue full or closing)' }),
        inline: Type.Integer({ description: 'compute requests small enough to run on the event loop (limits.inlineWorkUnits), not jobs' }),
        kept: Type.Integer({ description: 'finished jobs kept for polling' }),
        meanRunMs: Num('mean run time of the last (up to 32) completed jobs, ms; 0 before the first'),
        queue_capacity: Type.Integer(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ComprehensiveStatus = Static<typeof ComprehensiveStatus>;
