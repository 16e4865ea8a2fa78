/**
 * Request latency and throughput per route, event-loop delay and utilization, and process
 * memory: what the dashboard streams and `status/comprehensive` grades. The plugin calls
 * `recordRequest` from its onResponse hook, so recording stays cheap: two map lookups, four
 * histogram records (the route's pair and the all-routes pair) and a few adds into typed arrays.
 *
 * Windows (what a live view needs: recent numbers, not since start):
 * - Latency percentiles come from two overlapping LatencyHistograms per route that both
 *   record every request; every `windowS` seconds the older of the two is reset. The one
 *   reset longer ago is reported, so a percentile always covers the last `windowS` to
 *   `2 × windowS` seconds (`windowCoveredS` says how long exactly), and it always includes the
 *   requests of the last second. (LatencyHistogram has no merge, and this needs none.)
 * - Counts, errors and summed latency go into a ring of one-second slots per route
 *   (`historyS` slots, default 120): `ratePerSec` is the requests of the last `windowS`
 *   slots (the current, partial one included) over the time those slots span, measured
 *   with performance.now() at each slot's start (a late timer stretches the span, it does not
 *   inflate the rate). The same ring gives per-second mean latencies to regression/report.
 * - Event-loop delay: perf_hooks.monitorEventLoopDelay at `eventLoopResolutionMs` (20 ms by
 *   default: 50 wake-ups a second), reset every `windowS` seconds; the current window is
 *   reported once it is `windowS / 2` old, else the previous full window. Utilization (ELU)
 *   is taken over the same one-second slots as the rate.
 *
 * Bounded memory: a route is the route *pattern* Fastify matched (`/x/:id`, never the URL),
 * and every request without one (404s: a fuzzer's random URLs) folds into one '(unmatched)'
 * row, method '*'. Past `maxRoutes` rows, new patterns fold into '(unmatched)' too. Each row
 * holds two histograms of 1 µs .. 60 s at 2 significant figures (~20 kB each) and the ring.
 *
 * `snapshot()` is cached for `cacheMs` (default 200 ms): the dashboard reads it every second
 * and status/comprehensive on every request; every value in it was measured at most
 * `cacheMs` before `at`.
 */
import { type EventLoopUtilization, type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { LatencyHistogram } from '../monitor/histogram.js';

export interface RouteLatency {
  /** The route pattern (e.g. `/api/v1/ultra-performance/gpu/status`), or '(unmatched)'. */
  route: string;
  method: string;
  /** Requests since the server started. */
  count: number;
  /** Answers with status >= 400 since the server started (clientErrors + serverErrors). */
  errors: number;
  /** Requests per second over the last window. */
  ratePerSec: number;
  /** Percentiles over the recent window (windowCoveredS of the snapshot), µs; 0 when the window saw no request. */
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  /** 4xx answers since start. */
  clientErrors: number;
  /** 5xx answers since start. */
  serverErrors: number;
  /** Requests in the percentile window. */
  windowCount: number;
  /** Mean latency in the percentile window, µs (0 when empty). */
  meanUs: number;
}

export interface TelemetrySnapshot {
  /** ms since the epoch */
  at: number;
  uptimeS: number;
  requests: {
    total: number;
    ratePerSec: number;
    routes: RouteLatency[];
    /** Every route together: the same fields over all requests. */
    all: RouteLatency;
    /** 5xx answers / requests over the rate window (0 without requests). */
    serverErrorRate: number;
    /** 4xx answers / requests over the rate window. */
    clientErrorRate: number;
  };
  eventLoop: { p50Ms: number; p99Ms: number; maxMs: number; utilization: number; samples: number; windowS: number };
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  /** The windows: rate and ELU over `rateWindowS`, percentiles over `windowCoveredS` (between windowS and 2 × windowS). */
  window: { windowS: number; rateWindowS: number; windowCoveredS: number };
}

export interface ServerTelemetryOptions {
  /** Window for rates and the percentile rotation, s (integer 1..60). Default 10. */
  windowS?: number;
  /** One-second slots kept per route (integer >= windowS, <= 3600). Default 120. */
  historyS?: number;
  /** Most rows (method + route pattern, '(unmatched)' included: an integer 2..100,000); later patterns fold into '(unmatched)'. Default 512. */
  maxRoutes?: number;
  /** How long a snapshot is reused, ms (0..250). Default 200. */
  cacheMs?: number;
  /** monitorEventLoopDelay resolution, ms (integer 1..1000). Default 20. */
  eventLoopResolutionMs?: number;
}

/** One second of one route, in the ring: requests, summed latency (ns), 4xx, 5xx. */
const kCols = 4;
const kCount = 0;
const kSumNs = 1;
const k4xx = 2;
const k5xx = 3;

export const kUnmatchedRoute = '(unmatched)';

function histogram(): LatencyHistogram {
  return new LatencyHistogram({ lowestDiscernibleValue: 1000, highestTrackableValue: 60_000_000_000, significantFigures: 2 });
}

class RouteStats {
  count = 0;
  clientErrors = 0;
  serverErrors = 0;
  /** Two overlapping windows; `older` is the one reset longer ago. */
  a = histogram();
  b = histogram();
  older: LatencyHistogram = this.a;
  readonly ring: Float64Array;
  constructor(
    readonly method: string,
    readonly route: string,
    historyS: number,
  ) {
    this.ring = new Float64Array(historyS * kCols);
  }
}

function intOption(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`ServerTelemetry: ${name} must be an integer from ${min} to ${max}; got ${String(value)}`);
  }
  return value;
}

export class ServerTelemetry {
  readonly windowS: number;
  readonly historyS: number;
  readonly maxRoutes: number;
  readonly cacheMs: number;
  readonly #byRoute = new Map<string, Map<string, RouteStats>>();
  #rows = 0;
  readonly #all: RouteStats;
  /** Index of the current one-second slot (ever increasing; ring index = tick % historyS). */
  #tick = 0;
  /** (tick % historyS) * kCols: where the current slot's columns start in every ring. */
  #slotAt = 0;
  /** performance.now() at each slot's start, and the ELU reading then. */
  readonly #slotStart: Float64Array;
  readonly #slotActive: Float64Array;
  readonly #slotIdle: Float64Array;
  #lastRotateTick = 0;
  /** When the `a` and `b` histograms (of every row, in step) were last reset. */
  #resetAtA: number;
  #resetAtB: number;
  readonly #startedAt = performance.now();
  #timer: NodeJS.Timeout | null;
  readonly #loop: IntervalHistogram;
  readonly #loopResolutionMs: number;
  #loopResetAt = performance.now();
  #loopPrevious: { p50Ms: number; p99Ms: number; maxMs: number; samples: number } | null = null;
  #cached: TelemetrySnapshot | null = null;
  #cachedAt = -Infinity;

  constructor(options: ServerTelemetryOptions = {}) {
    this.windowS = intOption(options.windowS, 'windowS', 1, 60, 10);
    this.historyS = intOption(options.historyS, 'historyS', this.windowS + 1, 3600, Math.max(120, this.windowS + 1));
    this.maxRoutes = intOption(options.maxRoutes, 'maxRoutes', 2, 100_000, 512);
    this.cacheMs = intOption(options.cacheMs, 'cacheMs', 0, 250, 200);
    this.#loopResolutionMs = intOption(options.eventLoopResolutionMs, 'eventLoopResolutionMs', 1, 1000, 20);
    this.#all = new RouteStats('*', '(all)', this.historyS);
    this.#slotStart = new Float64Array(this.historyS);
    this.#slotActive = new Float64Array(this.historyS);
    this.#slotIdle = new Float64Array(this.historyS);
    const elu = performance.eventLoopUtilization();
    this.#slotStart[0] = this.#startedAt;
    this.#slotActive[0] = elu.active;
    this.#slotIdle[0] = elu.idle;
    this.#resetAtA = this.#startedAt;
    this.#resetAtB = this.#startedAt;
    this.#loop = monitorEventLoopDelay({ resolution: this.#loopResolutionMs });
    this.#loop.enable();
    this.#timer = setInterval(() => this.advance(), 1000);
    this.#timer.unref();
  }

  /**
   * One answered request: `route` is the matched route pattern (undefined, or anything not
   * starting with '/', for a request no route matched),
   * `elapsedNs` the time from the request's arrival to the end of its answer.
   */
  recordRequest(method: string, route: string | undefined, statusCode: number, elapsedNs: number): void {
    let row: RouteStats;
    // A route pattern starts with '/'; anything else (undefined, '', a caller's 'unmatched') is no route.
    if (route === undefined || route.charCodeAt(0) !== 47) row = this.#unmatched();
    else {
      const methods = this.#byRoute.get(route);
      const found = methods?.get(method);
      row = found ?? this.#addRow(method, route);
    }
    const ns = elapsedNs >= 0 && elapsedNs < Infinity ? elapsedNs : 0;
    this.#add(row, statusCode, ns);
    this.#add(this.#all, statusCode, ns);
  }

  #add(row: RouteStats, statusCode: number, ns: number): void {
    row.count++;
    row.a.record(ns);
    row.b.record(ns);
    const at = this.#slotAt;
    const ring = row.ring;
    ring[at + kCount]! += 1;
    ring[at + kSumNs]! += ns;
    if (statusCode >= 400) {
      if (statusCode >= 500) {
        row.serverErrors++;
        ring[at + k5xx]! += 1;
      } else {
        row.clientErrors++;
        ring[at + k4xx]! += 1;
      }
    }
  }

  #unmatched(): RouteStats {
    let methods = this.#byRoute.get(kUnmatchedRoute);
    if (methods === undefined) this.#byRoute.set(kUnmatchedRoute, (methods = new Map()));
    let row = methods.get('*');
    if (row === undefined) {
      methods.set('*', (row = this.#fresh('*', kUnmatchedRoute)));
      this.#rows++;
    }
    return row;
  }

  #addRow(method: string, route: string): RouteStats {
    // One row stays for '(unmatched)', so the table never holds more than maxRoutes rows.
    if (this.#rows >= this.maxRoutes - (this.#byRoute.has(kUnmatchedRoute) ? 0 : 1)) return this.#unmatched();
    let methods = this.#byRoute.get(route);
    if (methods === undefined) this.#byRoute.set(route, (methods = new Map()));
    const row = this.#fresh(method, route);
    methods.set(method, row);
    this.#rows++;
    return row;
  }

  /** A new row whose histograms rotate in step with the others. */
  #fresh(method: string, route: string): RouteStats {
    const row = new RouteStats(method, route, this.historyS);
    row.older = this.#all.older === this.#all.a ? row.a : row.b;
    return row;
  }

  /**
   * Starts the next one-second slot (the timer calls it every second; public for tests and
   * benches that drive the clock). Every `windowS` slots the older histogram of each row is
   * reset and becomes the newer one, and the event-loop window restarts.
   */
  advance(): void {
    const now = performance.now();
    const elu = performance.eventLoopUtilization();
    this.#tick++;
    const slot = this.#tick % this.historyS;
    this.#slotStart[slot] = now;
    this.#slotActive[slot] = elu.active;
    this.#slotIdle[slot] = elu.idle;
    const at = slot * kCols;
    this.#slotAt = at;
    const clear = (row: RouteStats): void => {
      row.ring.fill(0, at, at + kCols);
    };
    clear(this.#all);
    for (const methods of this.#byRoute.values()) for (const row of methods.values()) clear(row);
    if (this.#tick - this.#lastRotateTick >= this.windowS) {
      this.#lastRotateTick = this.#tick;
      const rotate = (row: RouteStats): void => {
        row.older.reset();
        row.older = row.older === row.a ? row.b : row.a;
      };
      rotate(this.#all);
      for (const methods of this.#byRoute.values()) for (const row of methods.values()) rotate(row);
      if (this.#all.older === this.#all.a) this.#resetAtB = now;
      else this.#resetAtA = now;
      this.#loopPrevious = this.#loopFigures();
      this.#loop.reset();
      this.#loopResetAt = now;
    }
    this.#cached = null;
  }

  #loopFigures(): { p50Ms: number; p99Ms: number; maxMs: number; samples: number } {
    const h = this.#loop;
    const count = h.count;
    if (count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0, samples: 0 };
    // The histogram holds the time between wake-ups: the delay is what exceeds the resolution.
    const delay = (ns: number): number => Math.max(0, ns / 1e6 - this.#loopResolutionMs);
    return { p50Ms: delay(h.percentile(50)), p99Ms: delay(h.percentile(99)), maxMs: delay(h.max), samples: count };
  }

  /** Requests, errors and summed ns over the last `slots` one-second slots (current one included). */
  #windowSums(row: RouteStats, slots: number): { count: number; sumNs: number; e4: number; e5: number } {
    let count = 0;
    let sumNs = 0;
    let e4 = 0;
    let e5 = 0;
    const n = Math.min(slots, this.#tick + 1);
    for (let k = 0; k < n; k++) {
      const at = ((this.#tick - k) % this.historyS) * kCols;
      count += row.ring[at + kCount]!;
      sumNs += row.ring[at + kSumNs]!;
      e4 += row.ring[at + k4xx]!;
      e5 += row.ring[at + k5xx]!;
    }
    return { count, sumNs, e4, e5 };
  }

  /** The oldest slot of the rate window. */
  #rateStartSlot(): number {
    const n = Math.min(this.windowS, this.#tick + 1);
    return (this.#tick - n + 1) % this.historyS;
  }

  #routeView(row: RouteStats, rateSpanS: number): RouteLatency {
    const h = row.older;
    const w = this.#windowSums(row, this.windowS);
    const us = (ns: number): number => ns / 1000;
    const empty = h.count === 0;
    return {
      route: row.route,
      method: row.method,
      count: row.count,
      errors: row.clientErrors + row.serverErrors,
      ratePerSec: rateSpanS > 0 ? w.count / rateSpanS : 0,
      p50Us: empty ? 0 : us(h.percentile(50)),
      p90Us: empty ? 0 : us(h.percentile(90)),
      p99Us: empty ? 0 : us(h.percentile(99)),
      p999Us: empty ? 0 : us(h.percentile(99.9)),
      maxUs: empty ? 0 : us(h.max),
      clientErrors: row.clientErrors,
      serverErrors: row.serverErrors,
      windowCount: h.count,
      meanUs: empty ? 0 : us(h.mean),
    };
  }

  /** Everything now, reused for `cacheMs` (measured at most that long before `at`). */
  snapshot(): TelemetrySnapshot {
    const now = performance.now();
    if (this.#cached !== null && now - this.#cachedAt < this.cacheMs) return this.#cached;
    const startSlot = this.#rateStartSlot();
    const rateSpanS = (now - this.#slotStart[startSlot]!) / 1000;
    const routes: RouteLatency[] = [];
    for (const methods of this.#byRoute.values()) for (const row of methods.values()) routes.push(this.#routeView(row, rateSpanS));
    const all = this.#routeView(this.#all, rateSpanS);
    const w = this.#windowSums(this.#all, this.windowS);
    const elu: EventLoopUtilization = performance.eventLoopUtilization();
    const active = elu.active - this.#slotActive[startSlot]!;
    const idle = elu.idle - this.#slotIdle[startSlot]!;
    const loopAgeS = (now - this.#loopResetAt) / 1000;
    const loop = loopAgeS >= this.windowS / 2 || this.#loopPrevious === null ? this.#loopFigures() : this.#loopPrevious;
    const m = process.memoryUsage();
    const snapshot: TelemetrySnapshot = {
      at: performance.timeOrigin + now,
      uptimeS: (now - this.#startedAt) / 1000,
      requests: {
        total: this.#all.count,
        ratePerSec: all.ratePerSec,
        routes,
        all,
        serverErrorRate: w.count > 0 ? w.e5 / w.count : 0,
        clientErrorRate: w.count > 0 ? w.e4 / w.count : 0,
      },
      eventLoop: {
        ...loop,
        utilization: active + idle > 0 ? active / (active + idle) : 0,
        windowS: loop === this.#loopPrevious ? this.windowS : loopAgeS,
      },
      memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers },
      window: { windowS: this.windowS, rateWindowS: rateSpanS, windowCoveredS: (now - (this.#all.older === this.#all.a ? this.#resetAtA : this.#resetAtB)) / 1000 },
    };
    this.#cached = snapshot;
    this.#cachedAt = now;
    return snapshot;
  }

  /**
   * Per-second mean latency (µs) of each row over the last `seconds` complete slots, oldest
   * first; seconds without requests are left out. For regression/report.
   */
  perSecondMeans(seconds: number, skip = 0): { method: string; route: string; meansUs: number[] }[] {
    const out: { method: string; route: string; meansUs: number[] }[] = [];
    const last = this.#tick - 1 - Math.max(0, skip);
    const first = Math.max(0, last - seconds + 1, this.#tick - this.historyS + 1);
    const rows: RouteStats[] = [this.#all];
    for (const methods of this.#byRoute.values()) for (const row of methods.values()) rows.push(row);
    for (const row of rows) {
      const meansUs: number[] = [];
      for (let t = first; t <= last; t++) {
        const at = (t % this.historyS) * kCols;
        const c = row.ring[at + kCount]!;
        if (c > 0) meansUs.push(row.ring[at + kSumNs]! / c / 1000);
      }
      out.push({ method: row.method, route: row.route, meansUs });
    }
    return out;
  }

  /** Complete one-second slots held (for the regression windows). */
  get completeSeconds(): number {
    return Math.min(this.#tick, this.historyS - 1);
  }

  /** Requests recorded since start (cheap: no snapshot). */
  get totalRequests(): number {
    return this.#all.count;
  }

  /** Rows held (method + route pattern, '(unmatched)' included). */
  get routeCount(): number {
    return this.#rows;
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#loop.disable();
  }
}
