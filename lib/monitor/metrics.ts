/**
 * PerformanceMetrics (the seed's ultra_performance_metrics): one object that starts the
 * process's monitors together and answers with one report.
 *
 * What runs between reports:
 * - GcMonitor (PerformanceObserver 'gc') and MemoryTracker (a reading after each major GC):
 *   fed by Node, no JS per event beyond the observers' callbacks;
 * - one unref'd timer every `intervalMs` (a tick): how late it fired (the event loop delay,
 *   measured as monitorEventLoopDelay measures it with its own timer), CPU time, event loop
 *   utilization and heap used over the last interval, into fixed rings of `historySize`
 *   entries. A tick allocates the few small objects Node's own calls return, nothing that stays.
 *
 * The costs behind those choices (bench/monitor, 2-core VM under load 11-15): wake-ups are
 * most of the cost of monitoring an idle process. A bare 10 Hz timer cost ~0.9 ms of CPU per
 * second, monitorEventLoopDelay at its default 10 ms resolution ~3.1 ms/s (100 wake-ups a
 * second), the tick's own work 1.5 µs. So the delay comes from the tick timer, not from a
 * second timer; a stall shorter than the interval is caught in proportion to its length, as
 * with any sampling timer, and `eventLoopResolutionMs` adds the native monitor for a finer
 * sampling. RSS is read at report time only: process.memoryUsage() reads /proc (10 µs median
 * against 0.23 µs for v8.getHeapStatistics()).
 *
 * What runs at report time only: the latency registry's summaries, the memory verdict (cached
 * until the next major GC), and the sources added with addSource() (GPU, application figures):
 * each is read when a report is built, never on a tick.
 */
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

import { invalidRange, invalidType, invalidValue } from '../errors.js';
import { booleanCheck, defineOptions, functionCheck, integerCheck, readOptions, type OptionCheck } from '../internal/options.js';
import { GcMonitor, type GcStats } from '../memory/gc.js';
import { GpuMonitor, type GpuReport } from './gpu.js';
import { EventLoopMonitor, type EventLoopStats, delayStats } from './event-loop.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { LatencyRegistry, latencyRegistry } from './latency.js';
import { MemoryTracker, type MemoryTrackerOptions, type MemoryTrackerReport } from './memory.js';
import { alreadyRunning, notRunning } from './running.js';

export interface PerformanceMetricsOptions {
  /** The latency histograms to report. Default: the process-wide `latencyRegistry`. */
  registry?: LatencyRegistry;
  /** Options of the MemoryTracker it runs. */
  memory?: MemoryTrackerOptions;
  /**
   * Also run an EventLoopMonitor (monitorEventLoopDelay) at this resolution, ms (an integer
   * from 1 to 10,000), and report its delay instead of the tick's. Default: none (the delay
   * comes from the tick timer's lateness; the notes at the top of metrics.ts say why).
   */
  eventLoopResolutionMs?: number;
  /** Ticks kept for the interval figures, an integer from 1 to 1,000,000. Default 600 (a minute at 10 Hz). */
  historySize?: number;
  /** Report the GPUs through a GpuMonitor (NVML, opened at startMonitoring, closed at stopMonitoring). Default true. */
  gpu?: boolean;
}

export interface MonitoringOptions {
  /** Time between ticks, ms: a number from 1 to 3,600,000. Default 1000. */
  intervalMs?: number;
}

/** last, mean and max over the ticks kept. */
export interface IntervalFigure {
  last: number;
  mean: number;
  max: number;
}

export interface ComprehensiveReport {
  /** When the report was built (ISO 8601). */
  timestamp: string;
  monitoring: boolean;
  /** The tick interval of the current (or last) run, ms; null before the first start. */
  intervalMs: number | null;
  /** Time since startMonitoring (to stopMonitoring once stopped), ms. */
  uptimeMs: number;
  ticks: number;
  process: {
    pid: number;
    /** CPU this process used since startMonitoring, ms, and as a share of one core over uptimeMs (100 = one core busy). */
    cpu: { userMs: number; systemMs: number; percentOfOneCore: number };
    /** process.memoryUsage() now. */
    memory: NodeJS.MemoryUsage;
  };
  /** Per tick interval, over the last `historySize` ticks (all 0 before the first tick). */
  intervals: {
    count: number;
    cpuPercentOfOneCore: IntervalFigure;
    eventLoopUtilization: IntervalFigure;
    heapUsedBytes: IntervalFigure;
  };
  /**
   * null before the first startMonitoring(). `source` says where the delay comes from: 'tick'
   * (the tick timer's lateness; resolutionMs is intervalMs) or 'monitorEventLoopDelay'
   * (the EventLoopMonitor asked for with eventLoopResolutionMs).
   */
  eventLoop: (EventLoopStats & { source: 'tick' | 'monitorEventLoopDelay' }) | null;
  gc: GcStats;
  memory: MemoryTrackerReport;
  latency: Record<string, LatencySummary>;
  /**
   * The GPUs (GpuMonitor.report(): NVML readings, or `available: false` with the reason); null
   * when the `gpu` option is false or monitoring never started. Read while monitoring, and once
   * at stopMonitoring() (its report and later ones keep that last reading).
   */
  gpu: GpuReport | null;
  /** What each source added with addSource() returned, or { error } with what it threw. */
  sources: Record<string, unknown>;
}

const registryCheck: OptionCheck = (value, argument) => {
  if (!(value instanceof LatencyRegistry)) throw invalidType(argument, 'a LatencyRegistry', value);
  return value;
};
const objectCheck: OptionCheck = (value, argument) => {
  if (value === null || typeof value !== 'object') throw invalidType(argument, 'an options object for MemoryTracker', value);
  return value;
};
const intervalCheck: OptionCheck = (value, argument) => {
  if (typeof value !== 'number') throw invalidType(argument, 'a number of ms from 1 to 3600000', value);
  if (!(value >= 1 && value <= 3_600_000)) throw invalidRange(argument, 'a number of ms from 1 to 3600000', value);
  return value;
};

const kOptions = defineOptions('PerformanceMetrics', {
  registry: { check: registryCheck },
  memory: { check: objectCheck },
  eventLoopResolutionMs: { check: integerCheck(1, 10_000) },
  historySize: { check: integerCheck(1, 1_000_000), default: 600 },
  gpu: { check: booleanCheck, default: true },
});
const kStart = defineOptions('PerformanceMetrics.startMonitoring', { intervalMs: { check: intervalCheck, default: 1000 } });
const readCheck = functionCheck('a function that returns the source\'s figures');

// The ring's columns.
const kCpuPercent = 0;
const kElu = 1;
const kHeap = 2;
const kColumns = 3;

/**
 * Starts the event loop, GC and memory monitors together, ticks at an interval for CPU and
 * memory figures, and builds one report with the latency histograms and any added sources.
 *
 * @example
 * import { PerformanceMetrics, monitorLatency } from 'ultra-performance';
 * const metrics = new PerformanceMetrics().startMonitoring({ intervalMs: 100 });
 * metrics.addSource('orders', () => ({ open: book.size }));
 * const submit = monitorLatency('submit', submitOrder);
 * // ...
 * const report = metrics.getComprehensiveReport();
 * console.log(report.eventLoop?.delay.p99Ms, report.gc.byKind.major.count, report.memory.verdict, report.latency.submit?.p99);
 * metrics.stopMonitoring();
 */
export class PerformanceMetrics {
  /** The native event loop monitor, when eventLoopResolutionMs asked for one; null otherwise. */
  readonly eventLoop: EventLoopMonitor | null;
  readonly gc: GcMonitor;
  readonly memory: MemoryTracker;
  readonly historySize: number;
  private readonly registry_: LatencyRegistry;
  private readonly sources_ = new Map<string, () => unknown>();
  private readonly ring_: Float64Array;
  private timer_: NodeJS.Timeout | null = null;
  private intervalMs_: number | null = null;
  private ticks_ = 0;
  private startedAt_ = 0;
  private stoppedAt_ = 0;
  private cpuStart_: NodeJS.CpuUsage = { user: 0, system: 0 };
  private cpuEnd_: NodeJS.CpuUsage | null = null;
  // The previous tick's cumulative readings, kept as numbers (no object kept per tick).
  private lastAt_ = 0;
  private lastCpuUs_ = 0;
  private lastActiveMs_ = 0;
  private lastIdleMs_ = 0;
  private everStarted_ = false;
  /** How late each tick fired, ns (1 µs .. 1 h, 2 figures: 37 kB). */
  private readonly lateness_ = new LatencyHistogram({ lowestDiscernibleValue: 1000, highestTrackableValue: 3_600_000_000_000, significantFigures: 2 });
  private lastFireAt_ = 0;
  private eluStart_: EventLoopUtilization | null = null;
  private eluEnd_: EventLoopUtilization | null = null;
  private readonly gpuEnabled_: boolean;
  private gpu_: GpuMonitor | null = null;
  private lastGpu_: GpuReport | null = null;

  constructor(options: PerformanceMetricsOptions = {}) {
    const o = readOptions(kOptions, options);
    this.registry_ = (o.registry as LatencyRegistry | undefined) ?? latencyRegistry;
    this.memory = new MemoryTracker((o.memory as MemoryTrackerOptions | undefined) ?? {});
    const resolutionMs = o.eventLoopResolutionMs as number | undefined;
    this.eventLoop = resolutionMs === undefined ? null : new EventLoopMonitor({ resolutionMs });
    this.gc = new GcMonitor();
    this.historySize = o.historySize as number;
    this.gpuEnabled_ = o.gpu as boolean;
    this.ring_ = new Float64Array(this.historySize * kColumns);
  }

  /** True between startMonitoring() and stopMonitoring(). */
  get monitoring(): boolean {
    return this.timer_ !== null;
  }

  /**
   * Starts the monitors and the tick timer (unref'd: it never keeps the process alive).
   * Figures of an earlier run are started over.
   * @throws RangeError naming options.intervalMs for a value outside 1..3,600,000 ms (NaN included);
   *   UltraPerfError (code ERR_ULTRA_PERF_ALREADY_RUNNING) when already monitoring.
   */
  startMonitoring(options: MonitoringOptions = {}): this {
    const intervalMs = readOptions(kStart, options).intervalMs as number;
    if (this.timer_ !== null) {
      throw alreadyRunning('PerformanceMetrics', `monitoring every ${this.intervalMs_} ms; call stopMonitoring() first`);
    }
    // The parts are public; one a caller already started is refused before any other starts.
    if (this.eventLoop?.running === true) throw alreadyRunning('PerformanceMetrics.eventLoop', 'stop it before startMonitoring()');
    if (this.memory.running) throw alreadyRunning('PerformanceMetrics.memory', 'stop it before startMonitoring()');
    this.eventLoop?.start();
    this.lateness_.reset();
    this.gc.reset();
    this.gc.start();
    this.memory.reset();
    this.memory.start();
    if (this.gpuEnabled_) this.gpu_ = new GpuMonitor();
    this.ticks_ = 0;
    this.ring_.fill(0);
    this.intervalMs_ = intervalMs;
    this.startedAt_ = performance.now();
    this.cpuStart_ = process.cpuUsage();
    this.cpuEnd_ = null;
    this.lastAt_ = this.startedAt_;
    this.lastCpuUs_ = this.cpuStart_.user + this.cpuStart_.system;
    const elu = performance.eventLoopUtilization();
    this.eluStart_ = elu;
    this.eluEnd_ = null;
    this.lastActiveMs_ = elu.active;
    this.lastIdleMs_ = elu.idle;
    this.everStarted_ = true;
    this.lastFireAt_ = this.startedAt_;
    this.timer_ = setInterval(() => this.onTimer(intervalMs), intervalMs);
    this.timer_.unref();
    return this;
  }

  /**
   * Stops the timer and the monitors and returns the final report (kept readable through
   * getComprehensiveReport() until the next start).
   * @throws UltraPerfError (code ERR_ULTRA_PERF_NOT_RUNNING) when not monitoring.
   */
  stopMonitoring(): ComprehensiveReport {
    if (this.timer_ === null) throw notRunning('PerformanceMetrics', 'call startMonitoring() first');
    clearInterval(this.timer_);
    this.timer_ = null;
    this.stoppedAt_ = performance.now();
    this.cpuEnd_ = process.cpuUsage();
    this.eluEnd_ = performance.eventLoopUtilization();
    this.eventLoop?.stop();
    this.gc.stop();
    this.memory.stop();
    const report = this.getComprehensiveReport();
    this.gpu_?.close();
    this.gpu_ = null;
    this.lastGpu_ = report.gpu;
    return report;
  }

  /**
   * One tick now: what the timer runs every intervalMs (CPU and event loop utilization since
   * the previous tick, heap used now, into the rings). Public so a caller with its own scheduler, or
   * a bench, can drive it.
   */
  sample(): void {
    const at = performance.now();
    const cpu = process.cpuUsage();
    const elu = performance.eventLoopUtilization();
    const heapUsed = getHeapStatistics().used_heap_size;
    const wallMs = at - this.lastAt_;
    const cpuUs = cpu.user + cpu.system;
    const activeMs = elu.active - this.lastActiveMs_;
    const busyAndIdle = activeMs + (elu.idle - this.lastIdleMs_);
    const row = (this.ticks_ % this.historySize) * kColumns;
    this.ring_[row + kCpuPercent] = wallMs > 0 ? (cpuUs - this.lastCpuUs_) / 10 / wallMs : 0;
    this.ring_[row + kElu] = busyAndIdle > 0 ? activeMs / busyAndIdle : 0;
    this.ring_[row + kHeap] = heapUsed;
    this.ticks_++;
    this.lastAt_ = at;
    this.lastCpuUs_ = cpuUs;
    this.lastActiveMs_ = elu.active;
    this.lastIdleMs_ = elu.idle;
  }

  /**
   * Adds a source of figures to every report: `read()` is called when a report is built and
   * what it returns lands under `report.sources[name]` (what it throws, as { error }).
   * @throws TypeError naming `name` when it is empty or taken, naming `read` when it is not a function.
   * @example
   * metrics.addSource('gpu', () => gpuMonitor.sample());
   */
  addSource(name: string, read: () => unknown): this {
    if (typeof name !== 'string' || name.length === 0) throw invalidType('name', 'a non-empty string', name);
    if (this.sources_.has(name)) throw invalidValue('name', `a source name not yet added (taken: ${[...this.sources_.keys()].join(', ')})`, name);
    readCheck(read, 'read');
    this.sources_.set(name, read);
    return this;
  }

  /**
   * Removes a source added with addSource().
   * @throws TypeError naming `name` when no source has that name.
   */
  removeSource(name: string): void {
    if (!this.sources_.delete(name)) {
      const known = [...this.sources_.keys()];
      throw invalidValue('name', known.length === 0 ? 'the name of an added source (none added)' : `one of the added sources (${known.join(', ')})`, name);
    }
  }

  /** The names of the sources added, in the order added. */
  sourceNames(): string[] {
    return [...this.sources_.keys()];
  }

  /** Everything, now. Usable at any time; the parts not started yet say so (eventLoop null, zero counts). */
  getComprehensiveReport(): ComprehensiveReport {
    const monitoring = this.timer_ !== null;
    const end = monitoring ? performance.now() : this.stoppedAt_;
    const uptimeMs = this.everStarted_ ? end - this.startedAt_ : 0;
    const cpuNow = monitoring || this.cpuEnd_ === null ? process.cpuUsage() : this.cpuEnd_;
    const userMs = this.everStarted_ ? (cpuNow.user - this.cpuStart_.user) / 1000 : 0;
    const systemMs = this.everStarted_ ? (cpuNow.system - this.cpuStart_.system) / 1000 : 0;
    const sources: Record<string, unknown> = {};
    for (const [name, read] of this.sources_) {
      try {
        sources[name] = read();
      } catch (err) {
        sources[name] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return {
      timestamp: new Date().toISOString(),
      monitoring,
      intervalMs: this.intervalMs_,
      uptimeMs,
      ticks: this.ticks_,
      process: {
        pid: process.pid,
        cpu: { userMs, systemMs, percentOfOneCore: uptimeMs > 0 ? (100 * (userMs + systemMs)) / uptimeMs : 0 },
        memory: process.memoryUsage(),
      },
      intervals: {
        count: Math.min(this.ticks_, this.historySize),
        cpuPercentOfOneCore: this.column(kCpuPercent),
        eventLoopUtilization: this.column(kElu),
        heapUsedBytes: this.column(kHeap),
      },
      eventLoop: this.eventLoopReport(),
      gc: this.gc.stats(),
      memory: this.memory.report(),
      latency: this.registry_.report(),
      gpu: this.gpu_ !== null ? this.gpu_.report() : this.lastGpu_,
      sources,
    };
  }

  private onTimer(intervalMs: number): void {
    // Node restarts an interval from when its callback ran, so each gap past intervalMs is lateness.
    const now = performance.now();
    const lateMs = now - this.lastFireAt_ - intervalMs;
    this.lastFireAt_ = now;
    this.lateness_.record(lateMs > 0 ? Math.round(lateMs * 1e6) : 0);
    this.sample();
  }

  private eventLoopReport(): ComprehensiveReport['eventLoop'] {
    if (!this.everStarted_) return null;
    if (this.eventLoop !== null) return { ...this.eventLoop.stats(), source: 'monitorEventLoopDelay' };
    const running = this.timer_ !== null;
    const elu = performance.eventLoopUtilization(this.eluEnd_ ?? performance.eventLoopUtilization(), this.eluStart_!);
    return {
      running,
      resolutionMs: this.intervalMs_!,
      elapsedMs: (running ? performance.now() : this.stoppedAt_) - this.startedAt_,
      delay: delayStats(this.lateness_, this.lateness_.stdev, 0),
      utilization: elu.utilization,
      activeMs: elu.active,
      idleMs: elu.idle,
      source: 'tick',
    };
  }

  private column(c: number): IntervalFigure {
    const n = Math.min(this.ticks_, this.historySize);
    if (n === 0) return { last: 0, mean: 0, max: 0 };
    let sum = 0;
    let max = -Infinity;
    for (let k = 0; k < n; k++) {
      const v = this.ring_[k * kColumns + c]!;
      sum += v;
      if (v > max) max = v;
    }
    return { last: this.ring_[((this.ticks_ - 1) % this.historySize) * kColumns + c]!, mean: sum / n, max };
  }
}
