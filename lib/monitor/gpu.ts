/**
 * GpuMonitor: NVIDIA GPU utilization, memory, temperature, power and clocks through NVML,
 * which the CPU addon opens at run time (dlopen of libnvidia-ml.so.1, cpp/system/nvml.cc): no
 * link-time dependency, nothing to install where there is no GPU. Without the library, a
 * driver or the CPU addon, `available` is false and `reason` says why; nothing throws until a
 * reading is asked for. Every NVML call used is a read: no device setting is ever changed.
 */
import { cpuAddon, backendInfo } from '../backend.js';
import { BackendUnavailableError, GpuError, invalidRange, invalidType } from '../errors.js';
import { type OptionCheck, defineOptions, readOptions } from '../internal/options.js';

/** The library dlopen()ed when neither `libraryPath` nor ULTRA_PERF_NVML_PATH says otherwise. */
export const DEFAULT_NVML_LIBRARY = 'libnvidia-ml.so.1';

/** Slots of the native reading (cpp/system/nvml.hpp GpuField; the addon's nvmlFieldCount agrees). */
const kField = {
  utilization: 0,
  memoryUtilization: 1,
  memoryTotal: 2,
  memoryUsed: 3,
  memoryFree: 4,
  temperature: 5,
  power: 6,
  clockGraphics: 7,
  clockSm: 8,
  clockMemory: 9,
  clockVideo: 10,
} as const;
const kFieldCount = 11;
/** Samples read per utilizationSamples() call at most (NVML's own buffer holds fewer). */
const kSampleCapacity = 1024;

export interface GpuMonitorOptions {
  /**
   * The NVML library to open: a file name the dynamic loader searches for, or a path.
   * Default: ULTRA_PERF_NVML_PATH if set, else 'libnvidia-ml.so.1'.
   */
  libraryPath?: string;
}

/** One device's state at the time of reading; null where the device or driver does not report it. */
export interface GpuReading {
  index: number;
  name: string;
  /** Percent of the last sample period (1/6 s to 1 s, by product) during which a kernel ran. */
  utilizationPercent: number | null;
  /** Percent of that period during which device memory was read or written. */
  memoryUtilizationPercent: number | null;
  memoryTotalBytes: number | null;
  memoryUsedBytes: number | null;
  memoryFreeBytes: number | null;
  temperatureC: number | null;
  powerW: number | null;
  clocksMhz: { graphics: number | null; sm: number | null; memory: number | null; video: number | null };
}

/** NVML's sampled GPU utilization (NVML_GPU_UTILIZATION_SAMPLES), oldest first. */
export interface GpuUtilizationSamples {
  /** NVML's CPU timestamps of the samples, in µs. */
  timestampsUs: number[];
  percent: number[];
  /** Pass as `sinceUs` next time to get only newer samples (the input `sinceUs` when none came). */
  lastSeenUs: number;
}

/** Sampled utilization over a recent period (the sub-second view the 1 s `utilizationPercent` cannot give). */
export interface GpuUtilization {
  index: number;
  /** The period asked for, ending at the newest sample. */
  periodMs: number;
  /** Samples in the period; 0 when the driver had none (the means are null then). */
  samples: number;
  meanPercent: number | null;
  minPercent: number | null;
  maxPercent: number | null;
}

/** What `GpuMonitor.report()` gives: the readings, or why there are none. Never throws. */
export type GpuReport =
  | { available: true; libraryPath: string; devices: GpuReading[] }
  | { available: false; libraryPath: string; reason: string; devices: [] };

const nonEmptyString: OptionCheck = (value, argument) => {
  if (typeof value !== 'string') throw invalidType(argument, 'a non-empty string', value);
  if (value.length === 0 || value.includes('\0')) throw invalidRange(argument, 'a non-empty string without NUL characters', value);
  return value;
};

/** A finite number >= 0 (0 allowed: the newest sample alone, or all samples). */
function nonNegative(what: string): OptionCheck {
  return (value, argument) => {
    if (typeof value !== 'number') throw invalidType(argument, what, value);
    if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER)) throw invalidRange(argument, what, value);
    return value;
  };
}

const kSchemas = {
  GpuMonitor: defineOptions('GpuMonitor', { libraryPath: { check: nonEmptyString } }),
  utilization: defineOptions('GpuMonitor.utilization', {
    periodMs: { check: nonNegative('a number of ms from 0 to 2^53 - 1'), default: 1000 },
  }),
  utilizationSamples: defineOptions('GpuMonitor.utilizationSamples', {
    sinceUs: { check: nonNegative('an integer number of µs >= 0'), default: 0 },
  }),
};

function nullable(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

/**
 * NVIDIA GPU telemetry through NVML, read-only. One NVML session serves the process; each
 * monitor holds it open until `close()`.
 *
 * @example
 * import { GpuMonitor } from 'ultra-performance';
 * const gpu = new GpuMonitor();
 * if (!gpu.available) console.log('no GPU telemetry:', gpu.reason);
 * else {
 *   const r = gpu.read(0);
 *   console.log(r.name, r.utilizationPercent, r.memoryUsedBytes, r.powerW);
 *   console.log(gpu.utilization(0, { periodMs: 200 }).meanPercent); // sampled, sub-second
 * }
 * gpu.close();
 */
export class GpuMonitor {
  /** Whether NVML is open and devices can be read. */
  readonly available: boolean;
  /** Why `available` is false ("libnvidia-ml.so.1 not found: ..."); undefined when it is true. */
  readonly reason: string | undefined;
  /** The library asked for. */
  readonly libraryPath: string;
  private closed_ = false;
  private readonly reading_ = new Float64Array(kFieldCount);
  private readonly sampleTimes_ = new Float64Array(kSampleCapacity);
  private readonly sampleValues_ = new Float64Array(kSampleCapacity);

  constructor(options: GpuMonitorOptions = {}) {
    const o = readOptions(kSchemas.GpuMonitor, options, { what: 'an options object for GpuMonitor' });
    const fromEnv = process.env.ULTRA_PERF_NVML_PATH;
    this.libraryPath = (o.libraryPath as string | undefined) ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_NVML_LIBRARY);
    const reason = GpuMonitor.open_(this.libraryPath);
    this.available = reason === undefined;
    this.reason = reason;
  }

  private static open_(path: string): string | undefined {
    if (cpuAddon === null) {
      const why = backendInfo().nativeError ?? 'not loaded';
      return `NVML is read through the CPU addon, which is not in use (${why})`;
    }
    if (cpuAddon.nvmlFieldCount !== kFieldCount) {
      return `the CPU addon reports ${cpuAddon.nvmlFieldCount} GPU fields but this build expects ${kFieldCount}; rebuild it`;
    }
    const why = cpuAddon.nvmlOpen(path);
    return why === '' ? undefined : why;
  }

  /**
   * Number of NVIDIA devices NVML sees (0 when unavailable).
   * @example
   * for (let i = 0; i < gpu.deviceCount; i++) console.log(gpu.read(i).name);
   */
  get deviceCount(): number {
    if (!this.available || this.closed_) return 0;
    const n = cpuAddon!.nvmlDeviceCount();
    if (n < 0) throw this.failure_('deviceCount', -n);
    return n;
  }

  /**
   * The current reading of device `index` (default 0).
   * Throws BackendUnavailableError when NVML is unavailable, a RangeError naming `index` when
   * there is no such device, GpuError when NVML fails (the GPU fell off the bus, ...).
   * @example
   * const { memoryUsedBytes, memoryTotalBytes } = gpu.read(0);
   */
  read(index = 0): GpuReading {
    this.checkIndex_('read', index);
    const name = this.name_('read', index);
    const f = this.reading_;
    const status = cpuAddon!.nvmlRead(index, f);
    if (status !== 0) throw this.failure_(`read(${index})`, status);
    return {
      index,
      name,
      utilizationPercent: nullable(f[kField.utilization]!),
      memoryUtilizationPercent: nullable(f[kField.memoryUtilization]!),
      memoryTotalBytes: nullable(f[kField.memoryTotal]!),
      memoryUsedBytes: nullable(f[kField.memoryUsed]!),
      memoryFreeBytes: nullable(f[kField.memoryFree]!),
      temperatureC: nullable(f[kField.temperature]!),
      powerW: nullable(f[kField.power]!),
      clocksMhz: {
        graphics: nullable(f[kField.clockGraphics]!),
        sm: nullable(f[kField.clockSm]!),
        memory: nullable(f[kField.clockMemory]!),
        video: nullable(f[kField.clockVideo]!),
      },
    };
  }

  /**
   * Every device's reading.
   * @example
   * console.table(gpu.readAll());
   */
  readAll(): GpuReading[] {
    this.checkAvailable_('readAll');
    const out: GpuReading[] = [];
    for (let i = 0, n = this.deviceCount; i < n; i++) out.push(this.read(i));
    return out;
  }

  /**
   * NVML's GPU-utilization samples (nvmlDeviceGetSamples, NVML_GPU_UTILIZATION_SAMPLES) newer
   * than `sinceUs` (NVML's CPU timestamp in µs; 0 for all the driver holds), oldest first.
   * @example
   * let since = 0;
   * setInterval(() => {
   *   const s = gpu.utilizationSamples(0, { sinceUs: since });
   *   since = s.lastSeenUs;
   *   for (const p of s.percent) utilizationHistogram.record(p);
   * }, 100);
   */
  utilizationSamples(index = 0, options: { sinceUs?: number } = {}): GpuUtilizationSamples {
    const o = readOptions(kSchemas.utilizationSamples, options);
    const sinceUs = o.sinceUs as number;
    if (!Number.isInteger(sinceUs)) throw invalidRange('options.sinceUs', 'an integer number of µs >= 0', sinceUs);
    this.checkIndex_('utilizationSamples', index);
    const n = cpuAddon!.nvmlUtilizationSamples(index, sinceUs, this.sampleTimes_, this.sampleValues_);
    if (n < 0) throw this.failure_(`utilizationSamples(${index})`, -n);
    const timestampsUs = Array.from(this.sampleTimes_.subarray(0, n));
    return { timestampsUs, percent: Array.from(this.sampleValues_.subarray(0, n)), lastSeenUs: n > 0 ? timestampsUs[n - 1]! : sinceUs };
  }

  /**
   * Mean, min and max sampled utilization over the `periodMs` (default 1000) ending at the
   * newest sample: the view for periods shorter than the driver's 1 s `utilizationPercent`.
   * @example
   * const { meanPercent, maxPercent } = gpu.utilization(0, { periodMs: 250 });
   */
  utilization(index = 0, options: { periodMs?: number } = {}): GpuUtilization {
    const o = readOptions(kSchemas.utilization, options);
    const periodMs = o.periodMs as number;
    const { timestampsUs, percent } = this.utilizationSamples(index);
    const out: GpuUtilization = { index, periodMs, samples: 0, meanPercent: null, minPercent: null, maxPercent: null };
    if (timestampsUs.length === 0) return out;
    const from = timestampsUs[timestampsUs.length - 1]! - periodMs * 1000;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = timestampsUs.length - 1; i >= 0 && timestampsUs[i]! >= from; i--) {
      const p = percent[i]!;
      sum += p;
      if (p < min) min = p;
      if (p > max) max = p;
      out.samples++;
    }
    out.meanPercent = sum / out.samples;
    out.minPercent = min;
    out.maxPercent = max;
    return out;
  }

  /**
   * Every device's reading, or why there is none; never throws (for periodic reports).
   * @example
   * metrics.addSource('gpu', () => gpu.report());
   */
  report(): GpuReport {
    if (!this.available || this.closed_) {
      return { available: false, libraryPath: this.libraryPath, reason: this.closed_ ? 'the monitor is closed' : this.reason!, devices: [] };
    }
    try {
      return { available: true, libraryPath: this.libraryPath, devices: this.readAll() };
    } catch (err) {
      return { available: false, libraryPath: this.libraryPath, reason: err instanceof Error ? err.message : String(err), devices: [] };
    }
  }

  /**
   * Lets go of NVML; the last open monitor in the process (worker threads included: the
   * count is kept by the addon) shuts it down (nvmlShutdown, dlclose). Idempotent.
   * @example
   * process.on('exit', () => gpu.close());
   */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    if (this.available) cpuAddon!.nvmlClose();
  }

  private checkAvailable_(fn: string): void {
    if (this.closed_) throw new BackendUnavailableError(`GpuMonitor.${fn}: the monitor is closed`);
    if (!this.available) throw new BackendUnavailableError(`GpuMonitor.${fn}: NVML is not available: ${this.reason}`);
  }

  private checkIndex_(fn: string, index: unknown): asserts index is number {
    if (typeof index !== 'number') throw invalidType('index', 'a device index (an integer >= 0)', index);
    if (!Number.isInteger(index) || index < 0) throw invalidRange('index', 'a device index (an integer >= 0)', index);
    this.checkAvailable_(fn);
    const count = this.deviceCount;
    if (index >= count) {
      throw invalidRange('index', count === 0 ? 'a device index, but NVML sees no device' : `a device index from 0 to ${count - 1}`, index);
    }
  }

  private name_(fn: string, index: number): string {
    const name = cpuAddon!.nvmlDeviceName(index);
    if (typeof name === 'number') throw this.failure_(`${fn}(${index})`, name);
    return name;
  }

  private failure_(what: string, status: number): GpuError {
    return new GpuError(`GpuMonitor.${what}: NVML failed: ${cpuAddon!.nvmlErrorString(status)}`);
  }
}
