/**
 * EventLoopMonitor: how late the event loop runs and how busy it is, from the two things
 * Node measures itself. perf_hooks.monitorEventLoopDelay() arms a libuv timer every
 * `resolutionMs` and records, in a native HdrHistogram, how much later than asked it fired
 * (the delay any callback queued then would have seen); performance.eventLoopUtilization()
 * says what share of the wall time the loop spent running callbacks rather than waiting in
 * the poll phase. Neither adds work on the JS thread between reads.
 */
import { type IntervalHistogram, type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { defineOptions, integerCheck, readOptions } from '../internal/options.js';
import { alreadyRunning, notRunning } from './running.js';

export interface EventLoopMonitorOptions {
  /** How often the delay is sampled, ms: an integer from 1 to 10,000. Default 10 (Node's). */
  resolutionMs?: number;
}

export interface EventLoopDelayStats {
  /** Delay samples taken. */
  count: number;
  minMs: number;
  meanMs: number;
  stddevMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface EventLoopStats {
  running: boolean;
  resolutionMs: number;
  /** Wall time covered, ms (start, or the last reset, to now or stop). */
  elapsedMs: number;
  /**
   * How late the sampling timer fired, ms: Node's histogram holds the time between firings,
   * and the resolution is subtracted here (0 everywhere before the first sample).
   */
  delay: EventLoopDelayStats;
  /** Share of elapsedMs the loop spent running callbacks, 0..1. */
  utilization: number;
  /** The same split in ms: active (running callbacks) and idle (waiting for I/O or timers). */
  activeMs: number;
  idleMs: number;
}

const kOptions = defineOptions('EventLoopMonitor', { resolutionMs: { check: integerCheck(1, 10_000), default: 10 } });

/**
 * Event loop delay percentiles and utilization while running.
 *
 * @example
 * import { EventLoopMonitor } from 'ultra-performance';
 * const loop = new EventLoopMonitor({ resolutionMs: 10 }).start();
 * setInterval(() => {
 *   const { delay, utilization } = loop.stats();
 *   console.log(`loop p99 ${delay.p99Ms.toFixed(2)} ms, busy ${(utilization * 100).toFixed(1)}%`);
 *   loop.reset();
 * }, 10_000).unref();
 */
export class EventLoopMonitor {
  readonly resolutionMs: number;
  private histogram_: IntervalHistogram | null = null;
  private eluStart_: EventLoopUtilization | null = null;
  private eluEnd_: EventLoopUtilization | null = null;
  private startedAt_ = 0;
  private stoppedAt_ = 0;
  /** The histogram after stop(), for stats() to read. */
  private final_: EventLoopDelayStats | null = null;

  constructor(options: EventLoopMonitorOptions = {}) {
    this.resolutionMs = readOptions(kOptions, options).resolutionMs as number;
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.histogram_ !== null;
  }

  /**
   * Starts measuring (from zero).
   * @throws UltraPerfError (code ERR_ULTRA_PERF_ALREADY_RUNNING) when already started.
   */
  start(): this {
    if (this.histogram_ !== null) throw alreadyRunning('EventLoopMonitor', 'call stop() before starting it again');
    this.histogram_ = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.histogram_.enable();
    this.final_ = null;
    this.eluEnd_ = null;
    this.eluStart_ = performance.eventLoopUtilization();
    this.startedAt_ = performance.now();
    return this;
  }

  /**
   * Stops and returns the stats over the whole run (kept for stats() until the next start()).
   * @throws UltraPerfError (code ERR_ULTRA_PERF_NOT_RUNNING) when not started.
   */
  stop(): EventLoopStats {
    if (this.histogram_ === null) throw notRunning('EventLoopMonitor', 'call start() first');
    this.histogram_.disable();
    this.final_ = delayStats(this.histogram_, this.histogram_.stddev, this.resolutionMs);
    this.histogram_ = null;
    this.eluEnd_ = performance.eventLoopUtilization();
    this.stoppedAt_ = performance.now();
    return this.stats();
  }

  /**
   * Stats since start() or the last reset() (or over the last run, once stopped).
   * @throws UltraPerfError (code ERR_ULTRA_PERF_NOT_RUNNING) before the first start().
   */
  stats(): EventLoopStats {
    if (this.eluStart_ === null) throw notRunning('EventLoopMonitor', 'call start() before stats()');
    const running = this.histogram_ !== null;
    const elu = performance.eventLoopUtilization(running ? performance.eventLoopUtilization() : this.eluEnd_!, this.eluStart_);
    return {
      running,
      resolutionMs: this.resolutionMs,
      elapsedMs: (running ? performance.now() : this.stoppedAt_) - this.startedAt_,
      delay: running ? delayStats(this.histogram_!, this.histogram_!.stddev, this.resolutionMs) : this.final_!,
      utilization: elu.utilization,
      activeMs: elu.active,
      idleMs: elu.idle,
    };
  }

  /** Starts the numbers over (a running monitor keeps running). */
  reset(): void {
    if (this.histogram_ === null) return;
    this.histogram_.reset();
    this.eluStart_ = performance.eventLoopUtilization();
    this.startedAt_ = performance.now();
  }
}

/** What delayStats reads: Node's IntervalHistogram and our LatencyHistogram both have it. */
export interface DelayHistogram {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  percentile(p: number): number;
}

/**
 * Delay stats in ms from a histogram of ns, less `subtractMs` (the timer's own period, where
 * the histogram holds the time between firings); `stddevNs` as the histogram names it.
 * @internal
 */
export function delayStats(h: DelayHistogram, stddevNs: number, subtractMs: number): EventLoopDelayStats {
  // Before its first sample Node's min is 9.2e18 and its mean NaN.
  const count = h.count;
  if (count === 0 || !Number.isFinite(h.mean)) {
    return { count: 0, minMs: 0, meanMs: 0, stddevMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  }
  const late = (ns: number) => Math.max(0, ns / 1e6 - subtractMs);
  return {
    count,
    minMs: late(h.min),
    meanMs: late(h.mean),
    stddevMs: stddevNs / 1e6,
    p50Ms: late(h.percentile(50)),
    p90Ms: late(h.percentile(90)),
    p99Ms: late(h.percentile(99)),
    p999Ms: late(h.percentile(99.9)),
    maxMs: late(h.max),
  };
}
