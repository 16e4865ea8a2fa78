/**
 * `GET /metrics`: Prometheus text exposition (format 0.0.4) from a prom-client `Registry` of
 * the plugin's own (two plugins in one process never collide, and the global registry is
 * left to the application). It holds lib/monitor's latency histograms (`registerPrometheus`,
 * plus GPU gauges when a route module put a GpuMonitor in `ctx.services`) and the server's
 * own series.
 *
 * The request path records only what a scrape cannot compute afterwards: one bucket count
 * per finished request (by route pattern, method and status) and the number in flight.
 * Everything else (jobs, objects, components, event loop, memory) is read when scraped.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';

import type { Labels, Sample, ScrapedMetric } from '../monitor/prometheus.js';
import { GpuMonitor, MICROSECOND_BUCKETS_SECONDS, latencyRegistry, registerPrometheus, scrapedMetric as metric } from './lib.js';
import type { TelemetrySnapshot } from './telemetry.js';
import type { ServerApp, ServerContext } from './types.js';

export const kMetricsPath = '/metrics';
/** Every metric name starts with this (the same prefix as lib/monitor's `registerPrometheus`). */
export const kMetricsPrefix = 'ultra_perf_';
/** Request duration bucket bounds in seconds: 1 µs .. 100 ms (lib/monitor), then up to 10 s. */
export const kHttpBucketsSeconds: readonly number[] = Object.freeze([...MICROSECOND_BUCKETS_SECONDS, 0.2, 0.5, 1, 2, 5, 10]);

const kBoundsMs = Float64Array.from(kHttpBucketsSeconds, (s) => s * 1e3);
const kBucketLabels: Labels[] = [...kHttpBucketsSeconds, '+Inf'].map((le) => ({ le }));
const kNoLabels: Labels = {};
/** The route label of a request no route matched (a 404 from the plugin's not-found handler). */
const kUnmatched = 'unmatched';

/** Finished requests of one (route, method, status): non-cumulative bucket counts, in ms. */
interface Series {
  readonly labels: Labels;
  readonly counts: Float64Array;
  count: number;
  sumMs: number;
}

/** Request counts and durations, recorded from the plugin's hooks. */
class HttpSeries {
  inFlight = 0;
  /** By route config object (one per route, stable), then `method status`. */
  readonly #byRoute = new Map<object | undefined, Map<string, Series>>();

  record(config: { url?: string } | undefined, method: string, status: number, elapsedMs: number): void {
    let byKey = this.#byRoute.get(config);
    if (byKey === undefined) this.#byRoute.set(config, (byKey = new Map()));
    const key = `${method} ${status}`;
    let s = byKey.get(key);
    if (s === undefined) {
      s = { labels: { method, route: config?.url ?? kUnmatched, status_code: status }, counts: new Float64Array(kBoundsMs.length + 1), count: 0, sumMs: 0 };
      byKey.set(key, s);
    }
    // first bound >= elapsed (le is inclusive); past the last one it lands in +Inf only
    let lo = 0;
    let hi = kBoundsMs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (kBoundsMs[mid]! < elapsedMs) lo = mid + 1;
      else hi = mid;
    }
    s.counts[lo]!++;
    s.count++;
    s.sumMs += elapsedMs;
  }

  *series(): Generator<Series> {
    for (const byKey of this.#byRoute.values()) yield* byKey.values();
  }
}

/** The samples of a counter or gauge per label set, from `read()` at scrape time. */
function simple(name: string, help: string, type: 'counter' | 'gauge', read: () => [Labels, number][]): ScrapedMetric {
  return metric(name, help, type, type === 'counter' ? 'sum' : 'max', () => read().map(([labels, value]) => ({ labels, value })));
}

function httpMetrics(prefix: string, http: HttpSeries): ScrapedMetric[] {
  const name = `${prefix}http_request_duration_seconds`;
  const bucket = `${name}_bucket`;
  const sum = `${name}_sum`;
  const count = `${name}_count`;
  return [
    metric(name, 'HTTP request duration from the request arriving to the response sent, by route pattern, method and status.', 'histogram', 'sum', () => {
      const out: Sample[] = [];
      for (const s of http.series()) {
        let cumulative = 0;
        for (let j = 0; j <= kBoundsMs.length; j++) {
          cumulative += s.counts[j]!;
          out.push({ metricName: bucket, labels: kBucketLabels[j]!, sharedLabels: s.labels, value: cumulative });
        }
        out.push({ metricName: sum, labels: kNoLabels, sharedLabels: s.labels, value: s.sumMs / 1e3 });
        out.push({ metricName: count, labels: kNoLabels, sharedLabels: s.labels, value: s.count });
      }
      return out;
    }),
    metric(`${prefix}http_requests_total`, 'HTTP requests answered, by route pattern, method and status.', 'counter', 'sum', () => {
      const out: Sample[] = [];
      for (const s of http.series()) out.push({ labels: kNoLabels, sharedLabels: s.labels, value: s.count });
      return out;
    }),
    simple(`${prefix}http_requests_in_flight`, 'HTTP requests received and not yet answered (or closed).', 'gauge', () => [[kNoLabels, http.inFlight]]),
  ];
}

function jobMetrics(prefix: string, ctx: ServerContext): ScrapedMetric[] {
  const stat = (pick: 'running' | 'queued' | 'completed' | 'failed' | 'cancelled' | 'rejected' | 'inline' | 'kept') => (): [Labels, number][] => [[kNoLabels, ctx.jobs.stats()[pick]]];
  const limit = (value: number) => (): [Labels, number][] => [[kNoLabels, value]];
  return [
    simple(`${prefix}jobs_running`, 'Heavy jobs running now (at most jobs_concurrency).', 'gauge', stat('running')),
    simple(`${prefix}jobs_queued`, 'Heavy jobs waiting to run (the queue depth; at most jobs_queue_capacity).', 'gauge', stat('queued')),
    simple(`${prefix}jobs_completed_total`, 'Heavy jobs that finished with a result.', 'counter', stat('completed')),
    simple(`${prefix}jobs_failed_total`, 'Heavy jobs that failed.', 'counter', stat('failed')),
    simple(`${prefix}jobs_cancelled_total`, 'Heavy jobs cancelled before they finished.', 'counter', stat('cancelled')),
    simple(`${prefix}jobs_rejected_total`, 'Heavy jobs refused with 503 because the queue was full or the runner closing.', 'counter', stat('rejected')),
    simple(`${prefix}jobs_inline_total`, 'Compute requests small enough to run on the event loop instead of a job (limits.inlineWorkUnits).', 'counter', stat('inline')),
    simple(`${prefix}jobs_kept`, 'Finished jobs kept for polling (GET jobs/:id).', 'gauge', stat('kept')),
    simple(`${prefix}jobs_concurrency`, 'Configured number of heavy jobs that run at once (limits.jobConcurrency).', 'gauge', limit(ctx.limits.jobConcurrency)),
    simple(`${prefix}jobs_queue_capacity`, 'Configured number of heavy jobs that may wait (limits.jobQueue).', 'gauge', limit(ctx.limits.jobQueue)),
  ];
}

const kHealth = ['ok', 'degraded', 'unavailable', 'idle'] as const;

function stateMetrics(prefix: string, ctx: ServerContext): ScrapedMetric[] {
  // One telemetry snapshot serves the event-loop and memory gauges of a scrape.
  let snapshotAt = -Infinity;
  let snapshot: TelemetrySnapshot | undefined;
  const current = (): TelemetrySnapshot => {
    const now = performance.now();
    if (snapshot === undefined || now - snapshotAt > 50) {
      snapshot = ctx.telemetry.snapshot();
      snapshotAt = now;
    }
    return snapshot;
  };
  const loop = (pick: (s: TelemetrySnapshot['eventLoop']) => number, scale: number) => (): [Labels, number][] => [[kNoLabels, pick(current().eventLoop) * scale]];
  const areas: (keyof TelemetrySnapshot['memory'])[] = ['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers'];
  const memoryLabels = areas.map((area) => [area, { area: area.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) }] as const);
  return [
    simple(`${prefix}objects`, 'Objects created over HTTP (order books, pools, connections...) held now, by kind.', 'gauge', () =>
      ctx.registry.kinds().map((kind) => [{ kind }, ctx.registry.count(kind)])),
    simple(`${prefix}objects_capacity`, 'Most objects of one kind the server holds (limits.maxObjectsPerKind).', 'gauge', () => [[kNoLabels, ctx.limits.maxObjectsPerKind]]),
    simple(`${prefix}component_health`, "1 for each component's current health (ok, degraded, unavailable, idle), 0 for the others.", 'gauge', () => {
      const out: [Labels, number][] = [];
      for (const [component, report] of ctx.components) {
        let health: string;
        try {
          health = report().health;
        } catch {
          health = 'unavailable';
        }
        for (const h of kHealth) out.push([{ component, health: h }, h === health ? 1 : 0]);
      }
      return out;
    }),
    simple(`${prefix}event_loop_delay_p50_seconds`, 'Event-loop delay, median over the telemetry window.', 'gauge', loop((e) => e.p50Ms, 1e-3)),
    simple(`${prefix}event_loop_delay_p99_seconds`, 'Event-loop delay, 99th percentile over the telemetry window.', 'gauge', loop((e) => e.p99Ms, 1e-3)),
    simple(`${prefix}event_loop_delay_max_seconds`, 'Event-loop delay, largest over the telemetry window.', 'gauge', loop((e) => e.maxMs, 1e-3)),
    simple(`${prefix}event_loop_utilization_ratio`, 'Fraction of the telemetry window the event loop was busy.', 'gauge', loop((e) => e.utilization, 1)),
    simple(`${prefix}process_memory_bytes`, 'Process memory by area (process.memoryUsage()).', 'gauge', () => {
      const m = current().memory;
      return memoryLabels.map(([key, labels]) => [labels, m[key]]);
    }),
    simple(`${prefix}uptime_seconds`, 'Seconds since the plugin was registered.', 'gauge', () => [[kNoLabels, (performance.now() - ctx.startedAt) / 1e3]]),
  ];
}

/**
 * Registers `GET /metrics` and the hooks that count requests. Called by plugin.ts after the
 * route modules (hooks added now still apply to every route of the plugin's instance).
 */
export async function registerMetrics(app: ServerApp, ctx: ServerContext): Promise<void> {
  const registry = new Registry();
  const http = new HttpSeries();
  const gpu = [...ctx.services.values()].find((service): service is GpuMonitor => service instanceof GpuMonitor) ?? null;
  registerPrometheus({ registry, prefix: kMetricsPrefix, latency: latencyRegistry, gpu });
  for (const m of [...httpMetrics(kMetricsPrefix, http), ...jobMetrics(kMetricsPrefix, ctx), ...stateMetrics(kMetricsPrefix, ctx)]) {
    registry.registerMetric(m as never);
  }

  // 'close' fires once per response whether it was sent or the client went away first;
  // onResponse runs only for the former, so it cannot be what ends "in flight".
  const closed = (): void => {
    http.inFlight--;
  };
  app.addHook('onRequest', (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    http.inFlight++;
    reply.raw.on('close', closed);
    done();
  });
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    http.record(request.routeOptions.config as { url?: string } | undefined, request.method, reply.statusCode, reply.elapsedTime);
    done();
  });

  app.get(
    kMetricsPath,
    {
      schema: {
        operationId: 'getMetrics',
        tags: ['metrics'],
        summary: 'Prometheus metrics',
        description:
          'Prometheus text exposition (format 0.0.4): HTTP request durations (seconds, buckets from 1 µs to 10 s) and counts by ' +
          'route, method and status, requests in flight, heavy jobs (running, queued, completed, failed, rejected), objects ' +
          "held by kind, components' health, event-loop delay, process memory, lib/monitor latency histograms and, with a GPU " +
          'monitor, GPU gauges. Computed at scrape time.',
        response: {
          200: {
            description: 'The exposition text',
            content: { 'text/plain': { schema: { type: 'string', description: 'Prometheus text format 0.0.4' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );
}
