/**
 * Garbage-collector visibility and control.
 *
 * GcMonitor reads PerformanceObserver('gc'): every pause V8 reports, by kind (minor =
 * scavenge, major = mark-compact, incremental = an incremental-marking step, weakcb =
 * weak-callback processing), with count, total, max and percentiles. Node delivers
 * GC entries from a setImmediate after the pause, so a pause shows up once the event
 * loop has turned.
 *
 * gcOptimizer applies the V8 flags that can still take effect after startup, tells
 * which ones only work on the command line, and runs global.gc() in idle windows when
 * node runs with --expose-gc. Every call returns a report of what it did and did not
 * do; nothing it cannot do passes silently.
 */
import { type EventLoopUtilization, type PerformanceEntry, PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';

import { invalidRange, invalidType } from '../errors.js';
import { percentileRank } from '../monitor/histogram.js';
import { requireOptions } from './common.js';

export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb';
const kKinds: readonly GcKind[] = ['minor', 'major', 'incremental', 'weakcb'];

export interface GcPauseStats {
  count: number;
  totalMs: number;
  maxMs: number;
  meanMs: number;
  /** Percentiles over the most recent `maxSamples` pauses (nearest rank); 0 with no pause. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export interface GcStats {
  /** Time the monitor has been running (up to stop()). */
  elapsedMs: number;
  /** Fraction of elapsedMs spent in GC pauses. */
  gcTimeRatio: number;
  total: GcPauseStats;
  byKind: Record<GcKind, GcPauseStats>;
}

export interface GcMonitorOptions {
  /** Pauses kept per kind for percentiles (count, total and max cover all). Default 4096. */
  maxSamples?: number;
}

/** Pauses of one kind: count, total, max over all, percentiles over the last `maxSamples`. @internal */
export class PauseSeries {
  count = 0;
  totalMs = 0;
  maxMs = 0;
  private readonly samples: Float64Array;

  constructor(maxSamples: number) {
    this.samples = new Float64Array(maxSamples);
  }

  add(ms: number): void {
    this.samples[this.count % this.samples.length] = ms;
    this.count++;
    this.totalMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  stats(): GcPauseStats {
    const kept = this.samples.slice(0, Math.min(this.count, this.samples.length)).sort();
    // Nearest rank by the histogram's rule: 0.999 * 1000 is 999.0000000000001 in doubles.
    const at = (p: number) => (kept.length === 0 ? 0 : kept[percentileRank(p, kept.length) - 1]!);
    return {
      count: this.count,
      totalMs: this.totalMs,
      maxMs: this.maxMs,
      meanMs: this.count === 0 ? 0 : this.totalMs / this.count,
      p50Ms: at(50),
      p90Ms: at(90),
      p99Ms: at(99),
      p999Ms: at(99.9),
    };
  }
}

function kindOf(detailKind: number | undefined): GcKind | null {
  switch (detailKind) {
    case constants.NODE_PERFORMANCE_GC_MINOR:
      return 'minor';
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return 'major';
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return 'incremental';
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return 'weakcb';
    default:
      return null;
  }
}

/**
 * Records GC pauses while running.
 *
 * @example
 * import { GcMonitor } from 'ultra-performance';
 * const gc = new GcMonitor().start();
 * runTradingSession();
 * await new Promise((r) => setImmediate(r)); // let Node deliver the last entries
 * const { byKind } = gc.stop();
 * console.log(byKind.minor.count, byKind.minor.p99Ms, byKind.major.maxMs);
 */
export class GcMonitor {
  private readonly maxSamples: number;
  private observer: PerformanceObserver | null = null;
  private series = new Map<GcKind | 'all', PauseSeries>();
  private startedAt = 0;
  private stoppedAt = 0;

  constructor(options: GcMonitorOptions = {}) {
    requireOptions(options, 'GcMonitor');
    const maxSamples = options.maxSamples ?? 4096;
    if (typeof maxSamples !== 'number' || !Number.isInteger(maxSamples)) {
      throw invalidType('options.maxSamples', 'an integer from 1 to 1048576', maxSamples);
    }
    if (maxSamples < 1 || maxSamples > 1 << 20) throw invalidRange('options.maxSamples', 'an integer from 1 to 1048576', maxSamples);
    this.maxSamples = maxSamples;
    this.reset();
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.observer !== null;
  }

  /** Starts observing (again); earlier pauses are kept until reset(). */
  start(): this {
    if (this.observer !== null) return this;
    this.observer = new PerformanceObserver((list) => this.record(list.getEntries()));
    this.observer.observe({ entryTypes: ['gc'] });
    this.startedAt = performance.now() - (this.stoppedAt - this.startedAt);
    this.stoppedAt = 0;
    return this;
  }

  /** Stops observing and returns the stats (entries Node has already delivered included). */
  stop(): GcStats {
    if (this.observer !== null) {
      this.record(this.observer.takeRecords());
      this.observer.disconnect();
      this.observer = null;
      this.stoppedAt = performance.now();
    }
    return this.stats();
  }

  /** Pause stats so far. */
  stats(): GcStats {
    if (this.observer !== null) this.record(this.observer.takeRecords());
    const elapsedMs = (this.observer !== null ? performance.now() : this.stoppedAt) - this.startedAt;
    const total = this.series.get('all')!.stats();
    const byKind = {} as Record<GcKind, GcPauseStats>;
    for (const kind of kKinds) byKind[kind] = this.series.get(kind)!.stats();
    return { elapsedMs: Math.max(0, elapsedMs), gcTimeRatio: elapsedMs > 0 ? total.totalMs / elapsedMs : 0, total, byKind };
  }

  /** Forgets every recorded pause and restarts the clock. */
  reset(): void {
    this.series = new Map();
    this.series.set('all', new PauseSeries(this.maxSamples));
    for (const kind of kKinds) this.series.set(kind, new PauseSeries(this.maxSamples));
    this.startedAt = performance.now();
    this.stoppedAt = this.observer !== null ? 0 : this.startedAt;
  }

  private record(entries: readonly PerformanceEntry[]): void {
    for (const entry of entries) {
      const kind = kindOf((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind);
      if (kind === null) continue;
      this.series.get(kind)!.add(entry.duration);
      this.series.get('all')!.add(entry.duration);
    }
  }
}

// ---------------------------------------------------------------------------------
// gcOptimizer

/** One V8 flag gcOptimizer knows, and when V8 reads it. */
export interface GcFlagAdvice {
  flag: string;
  /**
   * 'runtime': V8 reads it at each collection, so v8.setFlagsFromString() takes effect
   * from the next GC on. 'startup': read when the heap is set up; only the command
   * line or NODE_OPTIONS can set it (worker_threads: the resourceLimits option).
   */
  when: 'runtime' | 'startup';
  why: string;
}

export interface GcOptimizerOptions {
  /** Young-generation semi-space size suggested, in MB. Default 64. */
  semiSpaceMb?: number;
  /** Also turn on --trace-gc (one line per GC on stdout). Default false. */
  traceGc?: boolean;
}

export interface GcSuggestion {
  flags: GcFlagAdvice[];
  /** The startup flags as one NODE_OPTIONS value. */
  nodeOptions: string;
  /** Whether global.gc() is available now (node --expose-gc). */
  exposeGc: boolean;
}

export interface GcApplyReport {
  /** Runtime flags passed to v8.setFlagsFromString() now. */
  applied: GcFlagAdvice[];
  /** Flags not applied, each with the reason. */
  notApplied: (GcFlagAdvice & { reason: string })[];
  nodeOptions: string;
  exposeGc: boolean;
  /** What this report cannot promise. */
  caveat: string;
}

export interface GcCollectResult {
  ran: boolean;
  type: 'minor' | 'major';
  /** Time the call took (the pause), when it ran. */
  ms: number;
  reason?: string;
}

export interface IdleGcOptions {
  /** How often to look for an idle window. Default 250 ms. */
  intervalMs?: number;
  /** The event loop counts as idle when its utilization over the last interval is at most this. Default 0.05. */
  maxUtilization?: number;
  /** Least time between two collections. Default 2000 ms. */
  minGapMs?: number;
  /** 'minor' (scavenge, sub-millisecond) or 'major' (full mark-compact). Default 'minor'. */
  type?: 'minor' | 'major';
}

export interface IdleGcReport {
  /** False when global.gc is not exposed; `reason` says why and nothing was scheduled. */
  enabled: boolean;
  reason?: string;
  type: 'minor' | 'major';
  checks: number;
  runs: number;
  skippedBusy: number;
  skippedRecent: number;
  totalMs: number;
  maxMs: number;
}

export interface IdleGc {
  readonly enabled: boolean;
  /** What it has done so far. */
  report(): IdleGcReport;
  /** Stops looking for idle windows and returns the final report. */
  stop(): IdleGcReport;
}

const kNoExposeGc = 'global.gc is not exposed: start node with --expose-gc (or NODE_OPTIONS=--expose-gc)';
const kCaveat =
  'V8 gives no way to read a flag back, and Node documents changing flags after startup as unsupported; ' +
  'runtime flags here are ones V8 reads at each collection, so they apply from the next GC on.';

type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;

// Node 20's V8 runs a full collection for gc() and a scavenge for any truthy argument
// (it reads gc({ type: 'major' }) as minor too), so the major one passes nothing.
function runGc(gc: GcFunction, type: 'minor' | 'major'): void {
  if (type === 'major') gc();
  else gc({ type: 'minor' });
}

function exposedGc(): GcFunction | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as GcFunction) : null;
}

function positiveOption(options: Record<string, unknown>, name: string, fallback: number, max: number): number {
  const value = options[name] ?? fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(`options.${name}`, `a number from 0 to ${max}`, value);
  if (value < 0 || value > max) throw invalidRange(`options.${name}`, `a number from 0 to ${max}`, value);
  return value;
}

function flagsFor(options: GcOptimizerOptions): GcFlagAdvice[] {
  requireOptions(options, 'gcOptimizer.suggest');
  const mb = options.semiSpaceMb ?? 64;
  if (typeof mb !== 'number' || !Number.isInteger(mb)) throw invalidType('options.semiSpaceMb', 'an integer from 1 to 1024', mb);
  if (mb < 1 || mb > 1024) throw invalidRange('options.semiSpaceMb', 'an integer from 1 to 1024', mb);
  if (options.traceGc !== undefined && typeof options.traceGc !== 'boolean') {
    throw invalidType('options.traceGc', 'a boolean', options.traceGc);
  }
  const flags: GcFlagAdvice[] = [
    {
      flag: `--max-semi-space-size=${mb}`,
      when: 'startup',
      why: 'a bigger young generation means fewer scavenges under allocation churn; a scavenge costs about the live young objects, not the space size',
    },
    {
      flag: `--min-semi-space-size=${Math.min(16, mb)}`,
      when: 'startup',
      why: 'start with a young generation that does not have to grow through extra scavenges first',
    },
    {
      flag: '--no-flush-bytecode',
      when: 'runtime',
      why: 'keep the bytecode of functions idle for a while (used once a session, on rare paths) so they do not recompile when finally called',
    },
    {
      flag: '--expose-gc',
      when: 'startup',
      why: 'lets gcOptimizer.startIdleGc()/collect() run global.gc() in idle windows',
    },
  ];
  if (options.traceGc === true) {
    flags.push({ flag: '--trace-gc', when: 'runtime', why: 'prints one line per collection to stdout (diagnostics)' });
  }
  return flags;
}

const appliedFlags = new Set<string>();

/**
 * Suggests and applies V8 GC flags, and runs collections in idle windows.
 *
 * @example
 * import { gcOptimizer } from 'ultra-performance';
 * const report = gcOptimizer.apply();
 * console.log(report.applied.map((f) => f.flag), report.nodeOptions);
 * const idle = gcOptimizer.startIdleGc({ type: 'minor' });
 * if (!idle.enabled) console.warn(idle.report().reason);
 */
export const gcOptimizer = {
  /** The flags for a latency-sensitive process, and which can be applied now. Changes nothing. */
  suggest(options: GcOptimizerOptions = {}): GcSuggestion {
    const flags = flagsFor(options);
    return {
      flags,
      nodeOptions: flags.filter((f) => f.when === 'startup').map((f) => f.flag).join(' '),
      exposeGc: exposedGc() !== null,
    };
  },

  /**
   * Applies the runtime flags with v8.setFlagsFromString() and reports the startup
   * ones as not applied, with the NODE_OPTIONS that would set them.
   */
  apply(options: GcOptimizerOptions = {}): GcApplyReport {
    requireOptions(options, 'gcOptimizer.apply');
    const { flags, nodeOptions, exposeGc } = gcOptimizer.suggest(options);
    const applied: GcFlagAdvice[] = [];
    const notApplied: (GcFlagAdvice & { reason: string })[] = [];
    for (const f of flags) {
      if (f.when === 'startup') {
        const reason =
          f.flag === '--expose-gc'
            ? exposeGc
              ? 'already on: node was started with it'
              : 'only takes effect at startup; set NODE_OPTIONS=--expose-gc'
            : `read when the heap is set up; start node with ${f.flag} (NODE_OPTIONS), or pass worker_threads resourceLimits`;
        notApplied.push({ ...f, reason });
        continue;
      }
      setFlagsFromString(f.flag);
      appliedFlags.add(f.flag);
      applied.push(f);
    }
    return { applied, notApplied, nodeOptions, exposeGc, caveat: kCaveat };
  },

  /** Runtime flags this process has applied through apply(). */
  appliedFlags(): string[] {
    return [...appliedFlags];
  },

  /** Whether global.gc() is available (node --expose-gc). */
  canCollect(): boolean {
    return exposedGc() !== null;
  },

  /** Runs one collection now when global.gc is exposed; says why not otherwise. */
  collect(type: 'minor' | 'major' = 'major'): GcCollectResult {
    if (type !== 'minor' && type !== 'major') throw invalidRange('type', "'minor' or 'major'", type);
    const gc = exposedGc();
    if (gc === null) return { ran: false, type, ms: 0, reason: kNoExposeGc };
    const t0 = performance.now();
    runGc(gc, type);
    return { ran: true, type, ms: performance.now() - t0 };
  },

  /**
   * Every `intervalMs`, when the event loop was idle over the last interval and the
   * last collection is `minGapMs` old, runs global.gc({ type }). Without --expose-gc
   * it schedules nothing and its report says so. The timer is unref'd.
   */
  startIdleGc(options: IdleGcOptions = {}): IdleGc {
    const o = requireOptions(options, 'gcOptimizer.startIdleGc');
    const intervalMs = positiveOption(o, 'intervalMs', 250, 3_600_000);
    const maxUtilization = positiveOption(o, 'maxUtilization', 0.05, 1);
    const minGapMs = positiveOption(o, 'minGapMs', 2000, 86_400_000);
    const type = options.type ?? 'minor';
    if (type !== 'minor' && type !== 'major') throw invalidRange('options.type', "'minor' or 'major'", type);
    if (intervalMs < 1) throw invalidRange('options.intervalMs', 'a number from 1 to 3600000', intervalMs);
    const gc = exposedGc();
    const report: IdleGcReport = { enabled: gc !== null, type, checks: 0, runs: 0, skippedBusy: 0, skippedRecent: 0, totalMs: 0, maxMs: 0 };
    if (gc === null) {
      report.reason = kNoExposeGc;
      const snapshot = () => ({ ...report });
      return { enabled: false, report: snapshot, stop: snapshot };
    }
    let last: EventLoopUtilization = performance.eventLoopUtilization();
    let lastRun = Number.NEGATIVE_INFINITY;
    const timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      const window = performance.eventLoopUtilization(now, last);
      last = now;
      report.checks++;
      if (window.utilization > maxUtilization) {
        report.skippedBusy++;
        return;
      }
      const t0 = performance.now();
      if (t0 - lastRun < minGapMs) {
        report.skippedRecent++;
        return;
      }
      runGc(gc, type);
      const ms = performance.now() - t0;
      lastRun = performance.now();
      report.runs++;
      report.totalMs += ms;
      if (ms > report.maxMs) report.maxMs = ms;
    }, intervalMs);
    timer.unref();
    let stopped = false;
    return {
      enabled: true,
      report: () => ({ ...report }),
      stop: () => {
        if (!stopped) clearInterval(timer);
        stopped = true;
        return { ...report };
      },
    };
  },
};
