/**
 * monitoring/*, profiling/* and regression/* (SEED.md section 6 and "API Endpoints"):
 * - monitoring/status, start, stop: one PerformanceMetrics per plugin (the seed's
 *   ultra_performance_metrics): an unref'd tick timer every `interval_seconds` (0.01..60)
 *   reading CPU, event-loop utilization and heap, plus its GC observer, MemoryTracker and
 *   GpuMonitor (NVML, when a driver is there). Start and stop are idempotent; a start with
 *   another interval restarts the loop at that interval. Stopped when the server closes.
 * - monitoring/telemetry: the per-route request telemetry the dashboard streams.
 * - profiling/start-session: a V8 sampling CPU profile of this server process (lib/monitor
 *   Profiler, through node:inspector in-process) for duration_ms (<= limits.maxProfileMs), one
 *   at a time; sessions are registry objects ('profiling-session'), polled with
 *   GET profiling/sessions/:id (202 while running), listed and deleted. Nothing a client sends
 *   is run: the profile samples what the server does anyway.
 * - regression/report: RegressionDetector over the per-second mean latency of each route
 *   (the telemetry ring): the last `current_seconds` against the `baseline_seconds` before them.
 */
import { PerformanceMetrics } from '../../monitor/metrics.js';
import { Profiler, type ProfileReport } from '../../monitor/profiler.js';
import { RegressionDetector } from '../../monitor/regression.js';
import { HttpError, unprocessable } from '../http-errors.js';
import {
  MonitoringStatus,
  ProfilingSessionView,
  RegressionQuery,
  RegressionReportSchema,
  SessionParams,
  StartMonitoringBody,
  StartProfilingBody,
  TelemetrySnapshotSchema,
} from '../schemas/monitoring.js';
import { kApiPrefix, type RouteModule, type ServerContext } from '../types.js';

const kTags = ['monitoring'];
const kErr = { $ref: 'ErrorResponse' } as const;
const kSessionKind = 'profiling-session';

/** What the monitoring routes keep per plugin, in ctx.services under 'monitoring'. */
export interface MonitoringService {
  readonly metrics: PerformanceMetrics;
  readonly profiler: Profiler;
}

interface ProfilingSession {
  name: string;
  state: 'running' | 'done' | 'failed';
  durationMs: number;
  samplingIntervalUs: number;
  top: number;
  createdAt: number;
  timer: NodeJS.Timeout | null;
  result?: ProfileReport;
  error?: { code: string; message: string };
  /** Settles when the profile is stopped. */
  done: Promise<void>;
}

const nullable = (x: number): number | null => (Number.isFinite(x) ? x : null);

function statusView(service: MonitoringService, ctx: ServerContext, changed?: boolean): MonitoringStatus {
  const m = service.metrics;
  const r = m.getComprehensiveReport();
  const loop = r.eventLoop;
  const gpu = r.gpu;
  const snap = ctx.telemetry.snapshot();
  const pauses = r.gc.total;
  return {
    monitoring_active: r.monitoring,
    interval_seconds: r.intervalMs === null ? null : r.intervalMs / 1000,
    ticks: r.ticks,
    uptime_seconds: r.uptimeMs / 1000,
    ...(changed !== undefined && { changed }),
    samples: ['cpu', 'event_loop_utilization', 'heap_used', 'event_loop_delay', 'gc_pauses', 'memory_tracker', ...(gpu?.available === true ? ['gpu_nvml'] : [])],
    latest: {
      event_loop:
        loop === null
          ? null
          : { p50Ms: loop.delay.p50Ms, p99Ms: loop.delay.p99Ms, maxMs: loop.delay.maxMs, utilization: loop.utilization, source: loop.source },
      cpu_percent_of_one_core: r.intervals.cpuPercentOfOneCore.last,
      heap_used_bytes: r.intervals.heapUsedBytes.last,
      event_loop_utilization: r.intervals.eventLoopUtilization.last,
      memory: { verdict: r.memory.verdict, samples: r.memory.samples, slope_bytes_per_hour: nullable(r.memory.slopeBytesPerHour) },
      gc: { count: pauses.count, time_ratio: r.gc.gcTimeRatio, max_pause_ms: nullable(pauses.maxMs) },
      gpu:
        gpu === null
          ? null
          : {
              available: gpu.available,
              device_count: gpu.devices.length,
              ...(gpu.available ? {} : { reason: gpu.reason }),
              utilization_percent: gpu.devices.map((d) => d.utilizationPercent),
            },
    },
    latency_functions: Object.entries(r.latency).map(([name, s]) => ({
      name,
      count: s.count,
      p50Us: s.count === 0 ? null : s.p50 / 1000,
      p99Us: s.count === 0 ? null : s.p99 / 1000,
      maxUs: s.count === 0 ? null : s.max / 1000,
    })),
    requests: { total: snap.requests.total, rate_per_sec: snap.requests.ratePerSec, routes_tracked: snap.requests.routes.length },
  };
}

function sessionView(id: string, s: ProfilingSession): ProfilingSessionView {
  return {
    id,
    name: s.name,
    state: s.state,
    duration_ms: s.durationMs,
    sampling_interval_us: s.samplingIntervalUs,
    created_at: new Date(s.createdAt).toISOString(),
    location: `${kApiPrefix}/profiling/sessions/${id}`,
    ...(s.result !== undefined && {
      result: {
        durationMs: s.result.durationMs,
        sampledMs: s.result.sampledMs,
        samples: s.result.samples,
        topBySelf: s.result.topBySelf,
        topByTotal: s.result.topByTotal,
      },
    }),
    ...(s.error !== undefined && { error: s.error }),
  };
}

export const monitoringRoutes: RouteModule = (app, ctx) => {
  const service: MonitoringService = { metrics: new PerformanceMetrics({ gpu: true }), profiler: new Profiler() };
  ctx.services.set('monitoring', service);

  // Unmatched URLs under the prefix: plugin.ts's not-found handler answers them inside the
  // plugin, so the onResponse hook records them (telemetry's '(unmatched)' row).

  app.get(
    '/monitoring/status',
    {
      schema: {
        tags: kTags,
        operationId: 'getMonitoringStatus',
        summary: 'Monitoring status',
        description:
          'Whether the sampling loop runs, its interval (s), what it samples, the latest readings (CPU %, event-loop delay in ms and utilization, heap bytes, GC, memory-leak verdict, GPU) and the latencyRegistry functions with their percentiles (µs).',
        response: { 200: MonitoringStatus },
      },
    },
    () => statusView(service, ctx),
  );

  app.post(
    '/monitoring/start',
    {
      schema: {
        tags: kTags,
        operationId: 'startMonitoring',
        summary: 'Start monitoring',
        description:
          'Starts the sampling loop every interval_seconds (0.01..60 s, default 1; the seed uses 0.1). Idempotent: already running at that interval answers changed=false; another interval restarts the loop at it.',
        body: StartMonitoringBody,
        response: { 200: MonitoringStatus, 400: kErr, 422: kErr },
      },
    },
    (request) => {
      const intervalMs = Math.round((request.body?.interval_seconds ?? 1) * 1000);
      const m = service.metrics;
      if (m.monitoring) {
        if (m.getComprehensiveReport().intervalMs === intervalMs) return statusView(service, ctx, false);
        m.stopMonitoring();
      }
      m.startMonitoring({ intervalMs });
      return statusView(service, ctx, true);
    },
  );

  app.post(
    '/monitoring/stop',
    {
      schema: {
        tags: kTags,
        operationId: 'stopMonitoring',
        summary: 'Stop monitoring',
        description: 'Stops the sampling loop (idempotent: changed=false when it was not running); the last readings stay readable.',
        response: { 200: MonitoringStatus },
      },
    },
    () => {
      if (!service.metrics.monitoring) return statusView(service, ctx, false);
      service.metrics.stopMonitoring();
      return statusView(service, ctx, true);
    },
  );

  app.get(
    '/monitoring/telemetry',
    {
      schema: {
        tags: kTags,
        operationId: 'getTelemetry',
        summary: 'Request telemetry',
        description:
          'Per-route request counts, errors, rate (req/s over the last windowS seconds) and latency percentiles (µs over the last windowS..2×windowS seconds), event-loop delay (ms) and utilization, process memory (bytes). Cached up to 200 ms.',
        response: { 200: TelemetrySnapshotSchema },
      },
    },
    () => ctx.telemetry.snapshot(),
  );

  app.post(
    '/profiling/start-session',
    {
      schema: {
        tags: kTags,
        operationId: 'startProfilingSession',
        summary: 'Start a profiling session',
        description:
          "Samples this server process with V8's CPU profiler for duration_ms (1..limits.maxProfileMs ms) and keeps the functions that took the time. One session runs at a time (409 while one runs); answers 202 with the session to poll.",
        body: StartProfilingBody,
        response: { 202: ProfilingSessionView, 400: kErr, 409: kErr, 422: kErr },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const cap = ctx.limits.maxProfileMs;
      if (body.duration_ms > cap) throw unprocessable('duration_ms', `${body.duration_ms} ms is past the cap of ${cap} ms (limits.maxProfileMs)`);
      if (service.profiler.session !== null) {
        throw new HttpError(409, 'ERR_ULTRA_PERF_HTTP_PROFILING_BUSY', `profiling session ${JSON.stringify(service.profiler.session)} is running; one runs at a time`);
      }
      let settle!: () => void;
      const session: ProfilingSession = {
        name: body.name ?? 'session',
        state: 'running',
        durationMs: body.duration_ms,
        samplingIntervalUs: body.sampling_interval_us ?? 1000,
        top: body.top ?? 20,
        createdAt: Date.now(),
        timer: null,
        done: new Promise<void>((resolve) => (settle = resolve)),
      };
      const stop = async (): Promise<void> => {
        if (session.state !== 'running') return;
        if (session.timer !== null) clearTimeout(session.timer);
        session.timer = null;
        try {
          session.result = await service.profiler.stopSession({ top: session.top });
          session.state = 'done';
        } catch (err) {
          session.state = 'failed';
          session.error = { code: (err as { code?: string }).code ?? 'ERR_ULTRA_PERF_HTTP_PROFILING_FAILED', message: (err as Error).message };
        }
        settle();
      };
      const entry = ctx.registry.add<ProfilingSession>(kSessionKind, () => ({
        object: session,
        describe: () => ({ name: session.name, state: session.state }),
        dispose: stop,
      }));
      try {
        await service.profiler.startSession(`${entry.id}:${session.name}`, { samplingIntervalUs: session.samplingIntervalUs });
      } catch (err) {
        await ctx.registry.delete(kSessionKind, entry.id).catch(() => undefined);
        throw err;
      }
      session.timer = setTimeout(() => void stop(), session.durationMs);
      session.timer.unref();
      const view = sessionView(entry.id, session);
      return reply.code(202).header('location', view.location).send(view);
    },
  );

  app.get(
    '/profiling/sessions',
    {
      schema: {
        tags: kTags,
        operationId: 'listProfilingSessions',
        summary: 'Profiling sessions',
        description: 'Every profiling session kept (at most limits.maxObjectsPerKind), without their results.',
        response: { 200: { type: 'object', properties: { sessions: { type: 'array', maxItems: 100_000, items: ProfilingSessionView } }, required: ['sessions'], additionalProperties: false } },
      },
    },
    () => ({
      sessions: ctx.registry.list(kSessionKind).map((e) => {
        const { result: _r, ...view } = sessionView(e.id, e.object as ProfilingSession);
        return view;
      }),
    }),
  );

  app.get(
    '/profiling/sessions/:id',
    {
      schema: {
        tags: kTags,
        operationId: 'getProfilingSession',
        summary: 'One profiling session',
        description: 'The session: 202 while it samples, 200 with its result (top functions by self and total time, ms) once done.',
        params: SessionParams,
        response: { 200: ProfilingSessionView, 202: ProfilingSessionView, 404: kErr },
      },
    },
    (request, reply) => {
      const entry = ctx.registry.get<ProfilingSession>(kSessionKind, request.params.id);
      const view = sessionView(entry.id, entry.object);
      return reply.code(entry.object.state === 'running' ? 202 : 200).send(view);
    },
  );

  app.delete(
    '/profiling/sessions/:id',
    {
      schema: {
        tags: kTags,
        operationId: 'deleteProfilingSession',
        summary: 'Delete a profiling session',
        description: 'Stops the session if it still samples and forgets it.',
        params: SessionParams,
        response: { 204: { type: 'null' }, 404: kErr },
      },
    },
    async (request, reply) => {
      await ctx.registry.delete(kSessionKind, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/regression/report',
    {
      schema: {
        tags: kTags,
        operationId: 'getRegressionReport',
        summary: 'Latency regression report',
        description:
          "RegressionDetector (Mann–Whitney U, Holm–Bonferroni, benchstat rules) per route over per-second mean latencies (µs): the last current_seconds (default 10) against the baseline_seconds (default 60) before them; both windows together fit in the telemetry's history (120 s by default).",
        querystring: RegressionQuery,
        response: { 200: RegressionReportSchema, 400: kErr, 422: kErr },
      },
    },
    (request) => {
      const q = request.query;
      const baseline = q.baseline_seconds ?? 60;
      const current = q.current_seconds ?? 10;
      const held = ctx.telemetry.historyS - 1;
      if (baseline + current > held) {
        throw unprocessable('baseline_seconds + current_seconds', `${baseline + current} s is past the ${held} s of history the telemetry keeps`);
      }
      const detector = new RegressionDetector({ sensitivity: q.sensitivity ?? 0.1, alpha: q.alpha ?? 0.05 });
      const recent = ctx.telemetry.perSecondMeans(current);
      const before = ctx.telemetry.perSecondMeans(baseline, current);
      for (let i = 0; i < recent.length; i++) {
        const name = `${recent[i]!.method} ${recent[i]!.route}`;
        if (q.metric !== undefined && !name.includes(q.metric)) continue;
        const b = before[i]!.meansUs;
        const c = recent[i]!.meansUs;
        if (b.length === 0 && c.length === 0) continue;
        if (b.length > 0) detector.addBaselineMetric(name, b);
        if (c.length > 0) detector.addCurrentMetric(name, c);
      }
      const report = detector.getRegressionReport();
      return {
        source: 'per-second mean request latency per route (µs), from the server telemetry',
        baseline_seconds: baseline,
        current_seconds: current,
        history_seconds: ctx.telemetry.completeSeconds,
        sensitivity: report.sensitivity,
        alpha: report.alpha,
        metrics: report.metrics.map((m) => ({
          ...m,
          baseline: { ...m.baseline, median: nullable(m.baseline.median) },
          current: { ...m.current, median: nullable(m.current.median) },
          changePercent: nullable(m.changePercent),
          pValue: nullable(m.pValue),
          adjustedPValue: nullable(m.adjustedPValue),
        })),
        regressions: report.regressions,
        improvements: report.improvements,
        hasRegression: report.hasRegression,
      };
    },
  );

  ctx.components.set('performance_monitoring', () => {
    const m = service.metrics;
    return {
      health: m.monitoring ? 'ok' : 'idle',
      monitoring_active: m.monitoring,
      profiling_active: service.profiler.session !== null,
      profiling_sessions: ctx.registry.count(kSessionKind),
      telemetry_routes: ctx.telemetry.routeCount,
      requests_total: ctx.telemetry.totalRequests,
    };
  });

  app.addHook('onClose', async () => {
    if (service.metrics.monitoring) service.metrics.stopMonitoring();
  });
};

/** The monitoring service of a plugin's context (for status/comprehensive), if registered. */
export function monitoringService(ctx: ServerContext): MonitoringService | undefined {
  return ctx.services.get('monitoring') as MonitoringService | undefined;
}


