/**
 * MemoryTracker (the seed's MemoryAllocationTracker): a leak detector that looks at the heap
 * only where it means something, right after a major (mark-sweep-compact) collection, when
 * everything still in it is reachable. Between majors heapUsed is mostly garbage waiting for
 * the collector, and its saw-tooth says nothing about leaks.
 *
 * Where the reading comes from. A PerformanceObserver on 'gc' entries; for each batch that
 * holds a major collection (detail.kind NODE_PERFORMANCE_GC_MAJOR), one reading of
 * v8.getHeapStatistics().used_heap_size (the figure process.memoryUsage().heapUsed reports,
 * without process.memoryUsage()'s read of /proc for the RSS). Node delivers 'gc' entries from
 * a setImmediate after the pause, so the reading lags the collection by at most one turn of
 * the event loop and includes what that turn allocated: noise on top of the live set, with no
 * trend of its own in a steady process, which the Theil–Sen median shrugs off.
 * v8.GCProfiler would give the exact after-GC figure, but it keeps a record of every GC
 * (scavenges included) off the heap until stop(), which then builds and parses JSON: in a
 * process that scavenges 100 times a second that is a growing buffer and a parse per harvest.
 *
 * The verdict (statistics from stats.ts). Over the last `maxSamples` readings: the Theil–Sen slope (median of pairwise
 * slopes, bytes per ms, reported per hour) and the Mann–Kendall trend test. A leak is suspected
 * when the slope is positive (above `minGrowthBytesPerHour`) and Mann–Kendall's two-sided p is
 * below `alpha` (0.01). With fewer than `minSamples` readings, or readings spanning less than
 * `minSpanMs`, the verdict is 'insufficient-data'.
 * Both statistics are O(n^2); the report is computed when asked for and kept until the next
 * reading, so a monitor that asks at every tick pays once per major GC.
 */
import { performance, PerformanceObserver, type PerformanceEntry, constants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

import { invalidRange, invalidType } from '../errors.js';
import { defineOptions, integerCheck, readOptions, type OptionCheck } from '../internal/options.js';
import { mannKendall, theilSen } from './stats.js';
import { alreadyRunning, notRunning } from './running.js';

export interface MemoryTrackerOptions {
  /** Readings kept (the oldest is dropped past it), an integer from 16 to 4096 (the verdict is O(n²)). Default 512. */
  maxSamples?: number;
  /** Fewest readings judged, an integer from 8 to maxSamples. Default 12. */
  minSamples?: number;
  /** Mann–Kendall significance level, a probability in (0, 0.5]. Default 0.01. */
  alpha?: number;
  /**
   * Growth that counts, bytes per hour (>= 0): a slower trend is reported, never flagged.
   * Default 32 MiB/h (33,554,432). A process that only warms up grows too, and the trend test
   * alone calls that significant: test/fixtures/leak-child.ts without its leak, judging every
   * 100 ms, grows ~10 MB/h over its first 30 s (the JIT's code space +44 KB and old space
   * +44 KB in 20 s, as report() gets compiled and optimised); a 1 MB/s leak is 3.4 GB/h.
   * 0 flags any significant growth.
   */
  minGrowthBytesPerHour?: number;
  /**
   * Shortest time the readings judged must span, ms (>= 0): a slope over a few seconds of
   * start-up is not extrapolated to an hour. Default 10,000.
   */
  minSpanMs?: number;
}

/** One heap reading: when (performance.now() ms) and the heap used then, bytes. */
export interface MemorySample {
  atMs: number;
  heapUsedBytes: number;
}

export type LeakVerdict = 'leak-suspected' | 'no-leak' | 'insufficient-data';

export interface MemoryTrackerReport {
  verdict: LeakVerdict;
  /** verdict === 'leak-suspected'. */
  leakSuspected: boolean;
  /** Readings judged (at most maxSamples), and how many were taken in all. */
  samples: number;
  totalSamples: number;
  /** Time from the first to the last reading judged, ms. */
  spanMs: number;
  /** Theil–Sen slope, bytes per hour (NaN until two readings at different times). */
  slopeBytesPerHour: number;
  /** Mann–Kendall S, z and two-sided p (null below minSamples or minSpanMs). */
  mannKendall: { s: number; z: number; p: number } | null;
  firstHeapUsedBytes: number;
  lastHeapUsedBytes: number;
  alpha: number;
  minSamples: number;
  minGrowthBytesPerHour: number;
  minSpanMs: number;
}

const kMsPerHour = 3_600_000;

function probabilityCheck(max: number): OptionCheck {
  return (value, argument) => {
    if (typeof value !== 'number') throw invalidType(argument, `a probability in (0, ${max}]`, value);
    if (!(value > 0 && value <= max)) throw invalidRange(argument, `a probability in (0, ${max}]`, value);
    return value;
  };
}

const nonNegativeCheck: OptionCheck = (value, argument) => {
  if (typeof value !== 'number') throw invalidType(argument, 'a finite number >= 0', value);
  if (!(value >= 0 && value < Infinity)) throw invalidRange(argument, 'a finite number >= 0', value);
  return value;
};

const kOptions = defineOptions('MemoryTracker', {
  // Theil–Sen holds every pairwise slope: n²/2 doubles (4096 readings: 67 MB, ~1 s to judge;
  // 100,000 would need 40 GB and threw a bare RangeError from report()).
  maxSamples: { check: integerCheck(16, 4096), default: 512 },
  minSamples: { check: integerCheck(8, 4096), default: 12 },
  alpha: { check: probabilityCheck(0.5), default: 0.01 },
  minGrowthBytesPerHour: { check: nonNegativeCheck, default: 32 * 2 ** 20 },
  minSpanMs: { check: nonNegativeCheck, default: 10_000 },
});

/**
 * Watches the heap after each major GC and says whether it trends up.
 *
 * @example
 * import { MemoryTracker } from 'ultra-performance';
 * const tracker = new MemoryTracker().start();
 * setInterval(() => {
 *   const r = tracker.report();
 *   if (r.leakSuspected) console.warn(`heap grows ${(r.slopeBytesPerHour / 2 ** 20).toFixed(1)} MiB/h (p ${r.mannKendall!.p})`);
 * }, 60_000).unref();
 */
export class MemoryTracker {
  readonly maxSamples: number;
  readonly minSamples: number;
  readonly alpha: number;
  readonly minGrowthBytesPerHour: number;
  readonly minSpanMs: number;

  private readonly atMs_: Float64Array;
  private readonly heap_: Float64Array;
  private total_ = 0;
  private observer_: PerformanceObserver | null = null;
  private cached_: MemoryTrackerReport | null = null;

  constructor(options: MemoryTrackerOptions = {}) {
    const o = readOptions(kOptions, options);
    this.maxSamples = o.maxSamples as number;
    this.minSamples = o.minSamples as number;
    if (this.minSamples > this.maxSamples) {
      throw invalidRange('options.minSamples', `an integer from 8 to maxSamples (${this.maxSamples})`, this.minSamples);
    }
    this.alpha = o.alpha as number;
    this.minGrowthBytesPerHour = o.minGrowthBytesPerHour as number;
    this.minSpanMs = o.minSpanMs as number;
    this.atMs_ = new Float64Array(this.maxSamples);
    this.heap_ = new Float64Array(this.maxSamples);
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.observer_ !== null;
  }

  /**
   * Starts taking a reading after each major GC.
   * @throws UltraPerfError (code ERR_ULTRA_PERF_ALREADY_RUNNING) when already started.
   */
  start(): this {
    if (this.observer_ !== null) throw alreadyRunning('MemoryTracker', 'call stop() before starting it again');
    this.observer_ = new PerformanceObserver((list) => this.onEntries(list.getEntries()));
    this.observer_.observe({ entryTypes: ['gc'] });
    return this;
  }

  /**
   * Stops watching and returns the report (readings are kept until reset()).
   * @throws UltraPerfError (code ERR_ULTRA_PERF_NOT_RUNNING) when not started.
   */
  stop(): MemoryTrackerReport {
    if (this.observer_ === null) throw notRunning('MemoryTracker', 'call start() first');
    this.onEntries(this.observer_.takeRecords());
    this.observer_.disconnect();
    this.observer_ = null;
    return this.report();
  }

  /**
   * Adds one reading by hand (from a heap figure taken elsewhere, or a replayed series).
   * `atMs` defaults to performance.now() and must not go back in time.
   * @example
   * tracker.addSample(process.memoryUsage().heapUsed);
   */
  addSample(heapUsedBytes: number, atMs: number = performance.now()): void {
    if (typeof heapUsedBytes !== 'number') throw invalidType('heapUsedBytes', 'a finite number of bytes >= 0', heapUsedBytes);
    if (!(heapUsedBytes >= 0 && heapUsedBytes < Infinity)) throw invalidRange('heapUsedBytes', 'a finite number of bytes >= 0', heapUsedBytes);
    if (typeof atMs !== 'number') throw invalidType('atMs', 'a finite number of ms', atMs);
    const last = this.total_ === 0 ? -Infinity : this.atMs_[(this.total_ - 1) % this.maxSamples]!;
    if (!Number.isFinite(atMs) || atMs < last) throw invalidRange('atMs', `a finite number of ms >= the last reading's (${last})`, atMs);
    const i = this.total_ % this.maxSamples;
    this.atMs_[i] = atMs;
    this.heap_[i] = heapUsedBytes;
    this.total_++;
    this.cached_ = null;
  }

  /** The readings judged, oldest first. */
  samples(): MemorySample[] {
    const n = Math.min(this.total_, this.maxSamples);
    const first = this.total_ - n;
    const out: MemorySample[] = [];
    for (let k = first; k < this.total_; k++) {
      const i = k % this.maxSamples;
      out.push({ atMs: this.atMs_[i]!, heapUsedBytes: this.heap_[i]! });
    }
    return out;
  }

  /** The verdict over the readings kept (computed once per new reading). */
  report(): MemoryTrackerReport {
    if (this.cached_ !== null) return this.cached_;
    const samples = this.samples();
    const n = samples.length;
    const xs = samples.map((s) => s.atMs);
    const ys = samples.map((s) => s.heapUsedBytes);
    const spanMs = n >= 2 ? xs[n - 1]! - xs[0]! : 0;
    // Theil–Sen needs two distinct times (readings can share one when a batch held several majors).
    const slopeBytesPerHour = spanMs > 0 ? theilSen(xs, ys).slope * kMsPerHour : NaN;
    const mk = n >= this.minSamples && spanMs >= this.minSpanMs ? mannKendall(ys) : null;
    let verdict: LeakVerdict = 'insufficient-data';
    if (mk !== null) {
      const trend = slopeBytesPerHour > 0 && slopeBytesPerHour > this.minGrowthBytesPerHour && mk.s > 0 && mk.p < this.alpha;
      verdict = trend ? 'leak-suspected' : 'no-leak';
    }
    this.cached_ = {
      verdict,
      leakSuspected: verdict === 'leak-suspected',
      samples: n,
      totalSamples: this.total_,
      spanMs,
      slopeBytesPerHour,
      mannKendall: mk,
      firstHeapUsedBytes: n > 0 ? ys[0]! : NaN,
      lastHeapUsedBytes: n > 0 ? ys[n - 1]! : NaN,
      alpha: this.alpha,
      minSamples: this.minSamples,
      minGrowthBytesPerHour: this.minGrowthBytesPerHour,
      minSpanMs: this.minSpanMs,
    };
    return this.cached_;
  }

  /** Forgets every reading (a running tracker keeps running). */
  reset(): void {
    this.total_ = 0;
    this.cached_ = null;
  }

  private onEntries(entries: readonly PerformanceEntry[]): void {
    let at = -1;
    for (const entry of entries) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      at = Math.max(at, entry.startTime + entry.duration);
    }
    if (at < 0) return;
    // One reading per batch: the heap now is what every major in the batch left, plus this turn's garbage.
    const last = this.total_ === 0 ? -Infinity : this.atMs_[(this.total_ - 1) % this.maxSamples]!;
    this.addSample(getHeapStatistics().used_heap_size, Math.max(at, last));
  }
}
