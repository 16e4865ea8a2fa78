/**
 * Request latency and throughput per route, event-loop delay and process memory: what the
 * dashboard streams and `status/comprehensive` grades. The plugin calls `recordRequest`
 * from its onResponse hook, so recording must stay cheap (one histogram record).
 */
export interface RouteLatency {
  /** The route pattern (e.g. `/api/v1/ultra-performance/gpu/status`). */
  route: string;
  method: string;
  count: number;
  errors: number;
  /** Requests per second over the last window. */
  ratePerSec: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export interface TelemetrySnapshot {
  /** ms since the epoch */
  at: number;
  uptimeS: number;
  requests: { total: number; ratePerSec: number; routes: RouteLatency[] };
  eventLoop: { p50Ms: number; p99Ms: number; maxMs: number; utilization: number };
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
}

export class ServerTelemetry {
  // skeleton: the monitoring work fills this in
  recordRequest(_method: string, _route: string, _statusCode: number, _elapsedNs: number): void {}

  snapshot(): TelemetrySnapshot {
    const m = process.memoryUsage();
    return {
      at: Date.now(),
      uptimeS: process.uptime(),
      requests: { total: 0, ratePerSec: 0, routes: [] },
      eventLoop: { p50Ms: 0, p99Ms: 0, maxMs: 0, utilization: 0 },
      memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers },
    };
  }

  close(): void {}
}
