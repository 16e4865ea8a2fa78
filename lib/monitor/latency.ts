/**
 * Named latency histograms and the function wrapper that fills them. Every duration is
 * recorded in whole nanoseconds (clock.ts), the calibrated timer overhead
 * (MicrosecondTimer.overheadNs) already subtracted.
 */
import { invalidRange, invalidType } from '../errors.js';
import { nowNs } from './clock.js';
import { LatencyHistogram, type LatencyHistogramOptions, type LatencySummary, resolveHistogramOptions } from './histogram.js';
import { timerOverheadNs } from './timer.js';

/** Any function; `never` parameters and `this` accept every signature without `any`. */
export type AnyFunction = (this: never, ...args: never[]) => unknown;

type Callable = (this: unknown, ...args: unknown[]) => unknown;

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw invalidType('name', 'a non-empty string', name);
  if (name.length === 0) throw invalidRange('name', 'a non-empty string', name);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Chains onto a promise (or adopts another thenable) and records when it settles, passing
 * the value or the rejection through. Kept out of the wrapper so the wrapper's sync path
 * has no closure over its locals.
 */
function recordWhenSettled(result: PromiseLike<unknown>, t0: number, recordNs: (ns: number) => void): Promise<unknown> {
  const settled = result instanceof Promise ? (result as Promise<unknown>) : Promise.resolve(result);
  return settled.then(
    (value) => {
      recordNs(nowNs() - t0 - timerOverheadNs());
      return value;
    },
    (err: unknown) => {
      recordNs(nowNs() - t0 - timerOverheadNs());
      throw err;
    },
  );
}

/**
 * Latency histograms by name. `latencyRegistry` is the process-wide one that
 * monitorLatency() records into; make your own to keep a component's numbers apart.
 * All values are nanoseconds.
 *
 * @example
 * import { LatencyRegistry } from 'ultra-performance';
 * const registry = new LatencyRegistry({ significantFigures: 2 });
 * registry.histogram('decode').record(850);
 * registry.report(); // { decode: { count: 1, mean: 850, p50: 850, p99: 850, p999: 850, max: 850 } }
 */
export class LatencyRegistry {
  private readonly histograms_ = new Map<string, LatencyHistogram>();
  private readonly options_: LatencyHistogramOptions;
  /** Bumped by delete(): wrappers made by monitor() look their histogram up again when it moves. */
  private generation_ = 0;

  /**
   * @param options - options for every histogram this registry creates without options of its own
   */
  constructor(options: LatencyHistogramOptions = {}) {
    // Fail here, not at the first histogram(), on bad defaults.
    this.options_ = resolveHistogramOptions(options, 'LatencyRegistry');
  }

  /**
   * The histogram for `name`, created (with `options`, else the registry's) on first use.
   * @example
   * const h = latencyRegistry.histogram('order-submit');
   * h.record(1800);
   */
  histogram(name: string, options?: LatencyHistogramOptions): LatencyHistogram {
    checkName(name);
    let h = this.histograms_.get(name);
    if (h === undefined) {
      h = new LatencyHistogram(options ?? this.options_);
      this.histograms_.set(name, h);
    }
    return h;
  }

  /**
   * The histogram for `name` if there is one (never creates).
   * @example
   * latencyRegistry.get('order-submit')?.percentile(99);
   */
  get(name: string): LatencyHistogram | undefined {
    checkName(name);
    return this.histograms_.get(name);
  }

  /**
   * Whether `name` has a histogram.
   * @example
   * if (latencyRegistry.has('risk-check')) console.log(latencyRegistry.get('risk-check')!.count);
   */
  has(name: string): boolean {
    checkName(name);
    return this.histograms_.has(name);
  }

  /**
   * Names with a histogram, in creation order.
   * @example
   * for (const name of latencyRegistry.names()) console.log(name);
   */
  names(): string[] {
    return [...this.histograms_.keys()];
  }

  /**
   * Per name: count, mean, p50, p99, p99.9 and max, all in nanoseconds (NaN where the
   * histogram is empty; JSON.stringify writes those as null).
   * @example
   * console.table(latencyRegistry.report());
   */
  report(): Record<string, LatencySummary> {
    return Object.fromEntries([...this.histograms_].map(([name, h]) => [name, h.summary()]));
  }

  /**
   * Empties every histogram; names and wrappers stay attached.
   * @example
   * setInterval(() => { publish(latencyRegistry.report()); latencyRegistry.reset(); }, 10_000);
   */
  reset(): void {
    for (const h of this.histograms_.values()) h.reset();
  }

  /**
   * Removes `name`; returns whether it existed. Wrappers recording under it start a new,
   * empty histogram at their next call.
   * @example
   * latencyRegistry.delete('warmup');
   */
  delete(name: string): boolean {
    checkName(name);
    const existed = this.histograms_.delete(name);
    if (existed) this.generation_++;
    return existed;
  }

  /**
   * Wraps `fn` so that each call's duration is recorded under `name` in this registry.
   * See monitorLatency().
   * @example
   * const registry = new LatencyRegistry();
   * const parse = registry.monitor('parse', (text: string) => JSON.parse(text));
   */
  monitor<F extends AnyFunction>(name: string, fn: F): F {
    checkName(name);
    if (typeof fn !== 'function') throw invalidType('fn', 'a function', fn);
    const registry = this;
    let histogram = this.histogram(name);
    let generation = this.generation_;
    const target = fn as unknown as Callable;
    // Calibrate the clock now (~25 ms, once per process), not inside the first timed call.
    timerOverheadNs();

    const recordNs = (ns: number): void => {
      if (registry.generation_ !== generation) {
        histogram = registry.histogram(name);
        generation = registry.generation_;
      }
      histogram.record(ns > 0 ? ns : 0);
    };

    // The sync path keeps t0 in a local that no closure captures, and hands record only a
    // small whole number of ns: nothing is boxed or allocated per call.
    const monitored = function (this: unknown): unknown {
      const t0 = nowNs();
      let result: unknown;
      try {
        // Reflect.apply on `arguments` is forwarded by V8 without building an array.
        result = Reflect.apply(target, this, arguments);
      } catch (err) {
        recordNs(nowNs() - t0 - timerOverheadNs());
        throw err;
      }
      if (isThenable(result)) return recordWhenSettled(result, t0, recordNs);
      recordNs(nowNs() - t0 - timerOverheadNs());
      return result;
    };
    Object.defineProperty(monitored, 'name', { value: fn.name, configurable: true });
    Object.defineProperty(monitored, 'length', { value: fn.length, configurable: true });
    return monitored as unknown as F;
  }
}

/**
 * The process-wide registry that monitorLatency() records into. Values in nanoseconds.
 * @example
 * import { latencyRegistry } from 'ultra-performance';
 * const { p99 } = latencyRegistry.report()['risk-check'] ?? {};
 */
export const latencyRegistry = new LatencyRegistry();

/**
 * Returns a function with `fn`'s signature that records each call's duration (ns, timer
 * overhead subtracted) into `latencyRegistry` under `name`. `this`, the arguments and the
 * return value pass through. A call that throws is recorded, then rethrows. When `fn`
 * returns a promise (or any thenable), the duration runs until it settles, and the wrapper
 * returns a promise chained onto it that settles the same way (the same value or the same
 * rejection; an unhandled rejection stays unhandled). A thenable that is not a Promise comes
 * back as a native Promise. Constructors (`new`) are not supported.
 *
 * @example
 * import { monitorLatency, latencyRegistry } from 'ultra-performance';
 * const checkRisk = monitorLatency('risk-check', (qty: number, price: number) => qty * price < 1e6);
 * const fetchQuote = monitorLatency('quote', async (symbol: string) => (await fetch(url(symbol))).json());
 * checkRisk(10, 101.5);
 * await fetchQuote('AAPL');
 * console.log(latencyRegistry.report()); // { 'risk-check': { count: 1, ... }, quote: { count: 1, ... } }
 */
export function monitorLatency<F extends AnyFunction>(name: string, fn: F): F {
  return latencyRegistry.monitor(name, fn);
}
