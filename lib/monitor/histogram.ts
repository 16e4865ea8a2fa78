/**
 * LatencyHistogram: HdrHistogram semantics (Gil Tene's layout: power-of-two buckets
 * split into 2 * 10^figures linear sub-buckets) in TypeScript over one Float64Array.
 *
 * Why our own and not a library. Measured with `npm run bench -- floor` (bench/results/
 * floor.json), Node 20.20.2, 2-core AMD EPYC VM, all four configured alike (1 ns .. 1 h,
 * 3 significant figures), recording integer ns values log-uniform over 100 ns .. 1 ms:
 *
 *   record(v)                          median ns/op  p99 ns/op*  heap bytes per record  construction
 *   LatencyHistogram (this file)            8.6         13.5       0 (10M records, 0 GC)  sync
 *   perf_hooks.createHistogram().record    13.9         22.7       0 (10M records, 0 GC)  sync
 *   hdr-histogram-js 3.0.1, WASM mode      16.8         22.9       0 (10M records, 0 GC)  after initWebAssembly()
 *   hdr-histogram-js 3.0.1, JS mode        45.8         55.7       0 (10M records, 0 GC)  sync
 *   (* p99 of means over batches of 256..1024 records; the loop and value fetch cost 0.9 ns)
 *
 * All four allocate nothing (v8.GCProfiler around 10M records), and all four report the same
 * p50/p99/p99.9 on the same data. The choice is on cost and on fit:
 * - perf_hooks.createHistogram() is native HdrHistogram_c behind a fast API call, but its
 *   record() refuses 0 and fractional values (validateInteger(val, 'val', 1)) and silently
 *   drops values above `highest` (counting them only in `exceeds`), so the worst outliers,
 *   the ones a trading monitor exists to show, vanish from its percentiles and max.
 * - hdr-histogram-js in WASM mode pays a JS -> wasm crossing and its wrapper per record,
 *   holds memory outside the JS heap that must be destroy()ed by hand, and needs its module
 *   compiled first: initWebAssembly() is async (an async factory or a "not ready" state in
 *   our API), initWebAssemblySync() blocks the thread that first uses it.
 * - hdr-histogram-js in JS mode computes each bucket with Math.log2 and Math.pow.
 * Here the bucket index is Math.clz32 and shifts, the counts are one Float64Array (exact to
 * 2^53 per bucket, never wraps), construction is synchronous, and the package ships no
 * extra dependency (hdr-histogram-js stays a devDependency, for the bench).
 *
 * Out-of-range values: above `highestTrackableValue` a value is counted at
 * highestTrackableValue (so count and the tail stay honest) and also in `overflowCount`;
 * `min`, `max` and `mean` are exact over the values as given. NaN, negative, infinite and
 * non-number values throw (RangeError, TypeError) and leave the histogram unchanged: one
 * typeof and one range comparison, both predicted, are the whole cost of the check.
 */
import { invalidRange, invalidType } from '../errors.js';
import { type OptionCheck, type OptionSpecs, defineOptions, readOptions } from '../internal/options.js';

export interface LatencyHistogramOptions {
  /**
   * Smallest value told apart from 0, an integer >= 1 (rounded down to a power of two,
   * as HdrHistogram does). Default 1 (1 ns).
   */
  lowestDiscernibleValue?: number;
  /**
   * Largest value tracked exactly, an integer >= 2 * lowestDiscernibleValue and
   * <= Number.MAX_SAFE_INTEGER. Larger values are counted here and in `overflowCount`.
   * Default 3_600_000_000_000 (one hour in ns).
   */
  highestTrackableValue?: number;
  /**
   * Decimal significant figures kept, an integer 1..5. Default 3 (0.1% precision). Memory
   * grows ~8x per figure: over 1 ns .. 1 h the counts take 5 kB (1), 37 kB (2), 270 kB (3),
   * 3.8 MB (4) or 27 MB (5); see `footprintBytes`.
   */
  significantFigures?: number;
}

/** count, mean and the usual percentiles, in the histogram's unit (ns for latencies). */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Options of `LatencyHistogram.outputPercentileDistribution` (HdrHistogram's arguments, by name). */
export interface PercentileDistributionOptions {
  /**
   * Rows per half distance to 100 %: 5 gives rows at 0, 10, 20 .. 50, 55 .. 75, 77.5 .. %
   * (HdrHistogram's default). An integer from 1 to 1000.
   */
  percentileTicksPerHalfDistance?: number;
  /**
   * Recorded values are divided by this before printing: 1000 prints ns recorded as µs (the
   * default, as latency .hgrm files usually are); 1 prints them as recorded. A finite number > 0.
   */
  outputValueUnitScalingRatio?: number;
}

const kTwoPow32 = 4294967296;
const kDefaultHighest = 3_600_000_000_000;

/** An integer in [min, max]: a TypeError for a non-number, a RangeError for anything else out of rule. */
function integerCheck(min: number, max: number): OptionCheck {
  return (value, argument) => {
    if (typeof value !== 'number') throw invalidType(argument, 'an integer', value);
    if (!Number.isInteger(value) || value < min || value > max) throw invalidRange(argument, `an integer from ${min} to ${max}`, value);
    return value;
  };
}

/** A finite number > 0. */
const positiveFiniteCheck: OptionCheck = (value, argument) => {
  if (typeof value !== 'number') throw invalidType(argument, 'a finite number > 0', value);
  if (!(value > 0 && value < Infinity)) throw invalidRange(argument, 'a finite number > 0', value);
  return value;
};

/** The histogram options: the one table of their checks (highestTrackableValue's default and floor depend on lowest). */
const kHistogramSpecs: OptionSpecs = {
  lowestDiscernibleValue: { check: integerCheck(1, Number.MAX_SAFE_INTEGER), default: 1 },
  highestTrackableValue: { check: integerCheck(1, Number.MAX_SAFE_INTEGER) },
  significantFigures: { check: integerCheck(1, 5), default: 3 },
};
const kHistogramSchemas = {
  LatencyHistogram: defineOptions('LatencyHistogram', kHistogramSpecs),
  LatencyRegistry: defineOptions('LatencyRegistry', kHistogramSpecs),
  outputPercentileDistribution: defineOptions('outputPercentileDistribution', {
    percentileTicksPerHalfDistance: { check: integerCheck(1, 1000), default: 5 },
    outputValueUnitScalingRatio: { check: positiveFiniteCheck, default: 1000 },
  }),
};

/** The ticks argument of percentileCurve (the options object's check, for a positional argument). */
function checkTicks(ticks: unknown): number {
  return integerCheck(1, 1000)(ticks, 'percentileTicksPerHalfDistance') as number;
}

/** Validates histogram options and fills in the defaults; throws naming the bad option. `fn` names the caller in errors. */
export function resolveHistogramOptions(
  options: unknown,
  fn: 'LatencyHistogram' | 'LatencyRegistry' = 'LatencyHistogram',
): Required<LatencyHistogramOptions> {
  const o = readOptions(kHistogramSchemas[fn], options, { required: true, what: 'an object' });
  const lowest = o.lowestDiscernibleValue as number;
  const highest = (o.highestTrackableValue as number | undefined) ?? Math.max(kDefaultHighest, 2 * lowest);
  if (highest < 2 * lowest) {
    throw invalidRange('options.highestTrackableValue', `an integer >= 2 * lowestDiscernibleValue (${2 * lowest})`, highest);
  }
  return { lowestDiscernibleValue: lowest, highestTrackableValue: highest, significantFigures: o.significantFigures as number };
}

function throwBadValue(value: unknown): never {
  if (typeof value !== 'number') throw invalidType('value', 'a number of ns', value);
  throw invalidRange('value', 'a finite number >= 0', value);
}

/**
 * A latency histogram with HdrHistogram semantics: values are kept to
 * `significantFigures` decimal digits across the whole range, `record()` costs a few
 * nanoseconds and allocates nothing, and percentiles are read from the buckets.
 * Values are plain numbers in whatever unit you record (the library records ns).
 *
 * @example
 * import { LatencyHistogram } from 'ultra-performance';
 * const h = new LatencyHistogram({ highestTrackableValue: 60e9, significantFigures: 3 });
 * for (const ns of [1200, 1350, 980, 15000]) h.record(ns);
 * console.log(h.count, h.percentile(50), h.percentile(99), h.max); // 4 1200 15000 15000
 */
export class LatencyHistogram {
  /** The lowest discernible value as given. */
  readonly lowestDiscernibleValue: number;
  /** The highest trackable value as given. */
  readonly highestTrackableValue: number;
  readonly significantFigures: number;

  private readonly unitMagnitude_: number;
  /** 2^-unitMagnitude: values are scaled by it (exactly) before indexing. */
  private readonly unitScale_: number;
  private readonly subBucketHalfCountMagnitude_: number;
  private readonly subBucketHalfCount_: number;
  private readonly subBucketMask_: number;
  private readonly counts_: Float64Array;
  private count_ = 0;
  private overflow_ = 0;
  private sum_ = 0;
  private min_ = Infinity;
  private max_ = -Infinity;

  constructor(options: LatencyHistogramOptions = {}) {
    const { lowestDiscernibleValue: lowest, highestTrackableValue: highest, significantFigures: figures } =
      resolveHistogramOptions(options);
    this.lowestDiscernibleValue = lowest;
    this.highestTrackableValue = highest;
    this.significantFigures = figures;

    this.unitMagnitude_ = Math.floor(Math.log2(lowest));
    this.unitScale_ = 2 ** -this.unitMagnitude_;
    const largestSingleUnit = 2 * 10 ** figures;
    const subBucketCountMagnitude = Math.ceil(Math.log2(largestSingleUnit));
    this.subBucketHalfCountMagnitude_ = Math.max(subBucketCountMagnitude, 1) - 1;
    const subBucketCount = 2 ** (this.subBucketHalfCountMagnitude_ + 1);
    this.subBucketHalfCount_ = subBucketCount / 2;
    this.subBucketMask_ = subBucketCount - 1;

    let smallestUntrackable = subBucketCount * 2 ** this.unitMagnitude_;
    let buckets = 1;
    while (smallestUntrackable <= highest) {
      smallestUntrackable *= 2;
      buckets++;
    }
    this.counts_ = new Float64Array((buckets + 1) * this.subBucketHalfCount_);
  }

  /**
   * Records one value. Allocation-free; throws RangeError for NaN, negative or infinite
   * values and TypeError for non-numbers, without touching the histogram. Fractional
   * values are binned by their integer part; values above highestTrackableValue are
   * counted at it and in `overflowCount`.
   * @example
   * const h = new LatencyHistogram();
   * const timer = new MicrosecondTimer();
   * timer.start();
   * doWork();
   * h.record(timer.stopNs());
   */
  record(value: number): void {
    if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) throwBadValue(value);
    let v = value;
    if (v > this.highestTrackableValue) {
      v = this.highestTrackableValue;
      this.overflow_++;
    }
    const index = this.indexOf_(v);
    this.counts_[index]! += 1;
    this.count_++;
    this.sum_ += value;
    if (value < this.min_) this.min_ = value;
    if (value > this.max_) this.max_ = value;
  }

  /**
   * Records `count` occurrences of one value (for example a value read from a batch).
   * @example
   * const h = new LatencyHistogram();
   * h.recordWithCount(1500, 10);
   * h.count; // 10
   */
  recordWithCount(value: number, count: number): void {
    if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) throwBadValue(value);
    if (typeof count !== 'number') throw invalidType('count', 'an integer >= 0', count);
    if (!Number.isSafeInteger(count) || count < 0) throw invalidRange('count', 'an integer >= 0', count);
    if (count === 0) return;
    let v = value;
    if (v > this.highestTrackableValue) {
      v = this.highestTrackableValue;
      this.overflow_ += count;
    }
    const index = this.indexOf_(v);
    this.counts_[index]! += count;
    this.count_ += count;
    this.sum_ += value * count;
    if (value < this.min_) this.min_ = value;
    if (value > this.max_) this.max_ = value;
  }

  /**
   * Records `value` and, as HdrHistogram's `recordValueWithExpectedInterval` does, the samples
   * a stalled measurement loop did not take (coordinated omission): when `value` exceeds
   * `expectedInterval`, also value - expectedInterval, value - 2 * expectedInterval, ... down
   * to the last one >= expectedInterval. Both in the recorded unit (ns). An expectedInterval
   * of 0 records `value` alone. Costs one step per bucket slot the missing samples span (not
   * one per sample), so a 1 s stall at a 1 µs interval is no slower than a few thousand records.
   * Throws (and records nothing) when value or expectedInterval is negative, NaN or infinite.
   * @example
   * const h = new LatencyHistogram();
   * // one event every 1000 ns was intended; this one took 4500 ns, so 3500, 2500, 1500 are added
   * h.recordCorrected(4500, 1000);
   * h.count; // 4
   */
  recordCorrected(value: number, expectedInterval: number): void {
    if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) throwBadValue(value);
    if (typeof expectedInterval !== 'number') throw invalidType('expectedInterval', 'a number of ns', expectedInterval);
    if (!(expectedInterval >= 0 && expectedInterval < Infinity)) throw invalidRange('expectedInterval', 'a finite number >= 0', expectedInterval);
    this.record(value);
    if (expectedInterval === 0 || value < 2 * expectedInterval) return;
    // The missing samples are m_k = value - k * expectedInterval for k = 1 .. K.
    const last = Math.floor(value / expectedInterval) - 1;
    const highest = this.highestTrackableValue;
    let k = 1;
    while (k <= last) {
      const m = value - k * expectedInterval;
      let end: number;
      let index: number;
      if (m > highest) {
        // Every sample above highestTrackableValue is counted at it, as record() does.
        end = Math.min(last, Math.max(k, Math.ceil((value - highest) / expectedInterval) - 1));
        index = this.indexOf_(highest);
        this.overflow_ += end - k + 1;
      } else {
        index = this.indexOf_(m);
        // m_j falls in this slot while m_j >= its lowest value (slots hold integer parts).
        end = Math.min(last, Math.max(k, Math.floor((value - this.lowestEquivalent_(index)) / expectedInterval)));
      }
      this.counts_[index]! += end - k + 1;
      k = end + 1;
    }
    this.count_ += last;
    this.sum_ += last * value - (expectedInterval * last * (last + 1)) / 2;
    const smallest = value - last * expectedInterval;
    if (smallest < this.min_) this.min_ = smallest;
  }

  /** Number of values recorded. */
  get count(): number {
    return this.count_;
  }

  /** Number of values that were above highestTrackableValue (counted at it). */
  get overflowCount(): number {
    return this.overflow_;
  }

  /** Exact smallest value recorded; NaN when empty. */
  get min(): number {
    return this.count_ === 0 ? NaN : this.min_;
  }

  /** Exact largest value recorded; NaN when empty. */
  get max(): number {
    return this.count_ === 0 ? NaN : this.max_;
  }

  /** Exact arithmetic mean of the values recorded; NaN when empty. */
  get mean(): number {
    return this.count_ === 0 ? NaN : this.sum_ / this.count_;
  }

  /**
   * Population standard deviation, from the buckets (each value taken at the middle of
   * its bucket, as HdrHistogram does) around the exact mean; NaN when empty.
   */
  get stdev(): number {
    if (this.count_ === 0) return NaN;
    const mean = this.mean;
    let acc = 0;
    const counts = this.counts_;
    for (let i = 0, last = this.lastIndex_(); i <= last; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      const d = Math.min(this.max_, Math.max(this.min_, this.medianEquivalent_(i))) - mean;
      acc += d * d * c;
    }
    return Math.sqrt(acc / this.count_);
  }

  /** Bytes held by the counts array. */
  get footprintBytes(): number {
    return this.counts_.byteLength;
  }

  /**
   * The value at percentile `p` (0..100): the smallest recorded value such that at least
   * p% of the values are <= it (nearest rank), reported as the highest value equivalent to
   * it within the histogram's precision (so at most 10^-significantFigures above it), then
   * clamped to [min, max]. As in HdrHistogram (Java), p is first taken one ulp lower, so a p
   * that rounding put a hair above a rank keeps that rank, and 50.0000000000001 of [1, 2] is 2.
   * p = 0 gives min, p = 100 gives max. Values that overflowed sit at highestTrackableValue
   * for this purpose. NaN when empty.
   * @example
   * const h = new LatencyHistogram();
   * for (let i = 1; i <= 1000; i++) h.record(i * 1000);
   * h.percentile(99); // 990000 (within 0.1%)
   */
  percentile(p: number): number {
    if (typeof p !== 'number') throw invalidType('p', 'a percentile from 0 to 100', p);
    if (!(p >= 0 && p <= 100)) throw invalidRange('p', 'a percentile from 0 to 100', p);
    if (this.count_ === 0) return NaN;
    if (p === 0) return this.min_;
    if (p === 100) return this.max_;
    const rank = percentileRank(p, this.count_);
    const counts = this.counts_;
    let seen = 0;
    for (let i = 0, last = this.lastIndex_(); i <= last; i++) {
      seen += counts[i]!;
      if (seen >= rank) return Math.min(this.max_, Math.max(this.min_, this.highestEquivalent_(i)));
    }
    return this.max_;
  }

  /**
   * Cumulative counts at ascending bounds, as Prometheus histogram buckets (`le`) hold them:
   * out[j] = values recorded at or below bounds[j] (in the recorded unit), where a value that
   * shares its bucket slot with the bound counts as at or below it (so a count may include
   * values up to 10^-significantFigures above its bound). One walk over the filled slots;
   * allocates nothing.
   * @example
   * const h = new LatencyHistogram();
   * for (const ns of [800, 1500, 40_000]) h.record(ns);
   * const out = new Float64Array(2);
   * h.cumulativeCountsAt([1000, 10_000], out); // out = [1, 2]
   */
  cumulativeCountsAt(bounds: ArrayLike<number>, out: Float64Array): void {
    if (bounds === null || typeof bounds !== 'object' || typeof bounds.length !== 'number') {
      throw invalidType('bounds', 'an array of ascending numbers >= 0', bounds);
    }
    if (!(out instanceof Float64Array)) throw invalidType('out', 'a Float64Array', out);
    if (out.length < bounds.length) throw invalidRange('out', `a Float64Array of at least ${bounds.length} elements`, out);
    let previous = 0;
    for (let j = 0; j < bounds.length; j++) {
      const b = bounds[j];
      if (typeof b !== 'number' || !(b >= previous)) throw invalidRange(`bounds[${j}]`, 'a number >= 0 and >= the bound before it', b);
      previous = b;
    }
    const counts = this.counts_;
    const last = this.lastIndex_();
    let acc = 0;
    let i = 0;
    for (let j = 0; j < bounds.length; j++) {
      const b = bounds[j]!;
      const limit = b >= this.highestTrackableValue ? last : Math.min(last, this.indexOf_(Math.floor(b)));
      for (; i <= limit; i++) acc += counts[i]!;
      out[j] = acc;
    }
  }

  /**
   * count, mean, p50, p99, p99.9 and max in one object (in the recorded unit).
   * @example
   * const h = new LatencyHistogram();
   * h.record(1000);
   * h.summary(); // { count: 1, mean: 1000, p50: 1000, p99: 1000, p999: 1000, max: 1000 }
   */
  summary(): LatencySummary {
    return {
      count: this.count_,
      mean: this.mean,
      p50: this.percentile(50),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.max,
    };
  }

  /**
   * HdrHistogram's percentile walk as `[percentile (0..100), value]` pairs, the curve a
   * percentile plot draws: the same rows as `outputPercentileDistribution` (percentile levels
   * that step closer to 100 % by halves, `percentileTicksPerHalfDistance` rows per half,
   * then 100 % at the last value), values in the recorded unit (ns), each the highest value
   * equivalent to its bucket (as HdrHistogram reports them). Empty when nothing was recorded.
   * @example
   * const h = new LatencyHistogram();
   * for (let i = 1; i <= 1000; i++) h.record(i * 1000);
   * h.percentileCurve(); // [[0, 1000], [10, 100031], ..., [100, 1000447]]
   */
  percentileCurve(percentileTicksPerHalfDistance = 5): [number, number][] {
    const ticks = checkTicks(percentileTicksPerHalfDistance);
    const curve: [number, number][] = [];
    this.walkPercentiles_(ticks, (value, level) => {
      curve.push([level, value]);
    });
    return curve;
  }

  /**
   * The histogram as HdrHistogram's `outputPercentileDistribution` text (the `.hgrm` file its
   * plotter, HistogramLogAnalyzer and hdr-histogram-js read): a `Value Percentile TotalCount
   * 1/(1-Percentile)` table walking the percentiles as `percentileCurve` does, values divided
   * by `outputValueUnitScalingRatio` (default 1000: ns recorded, µs printed) with
   * significantFigures decimals, then the `#[Mean ..]`, `#[Max ..]`, `#[Buckets ..]` footer.
   * Numbers are rounded half up from their shortest decimal form, as Java's `%f` and
   * hdr-histogram-js do. Mean and Max are exact (HdrHistogram's Mean is taken from bucket
   * midpoints and Java's Max is the top of the max's bucket: both within the precision);
   * StdDeviation is `stdev`. An empty histogram gives the header and
   * a footer of zeros, as HdrHistogram does.
   * @example
   * const h = new LatencyHistogram();
   * for (let i = 1; i <= 1000; i++) h.record(i * 1000);
   * fs.writeFileSync('latency.hgrm', h.outputPercentileDistribution());
   * //        Value     Percentile TotalCount 1/(1-Percentile)
   * //
   * //        1.000 0.000000000000          1           1.00
   * //      100.031 0.100000000000        100           1.11   ...
   */
  outputPercentileDistribution(options: PercentileDistributionOptions = {}): string {
    const o = readOptions(kHistogramSchemas.outputPercentileDistribution, options, { what: 'an object' });
    const ticks = o.percentileTicksPerHalfDistance as number;
    const scale = o.outputValueUnitScalingRatio as number;
    const valueFormat = fixed(this.significantFigures);
    const value = (v: number, width: number): string => valueFormat.format(v / scale).padStart(width);
    let text = '       Value     Percentile TotalCount 1/(1-Percentile)\n\n';
    this.walkPercentiles_(ticks, (v, level, total) => {
      const row = `${value(v, 12)} ${fixed(12).format(level / 100)} ${String(total).padStart(10)}`;
      text += level < 100 ? `${row} ${fixed(2).format(1 / (1 - level / 100)).padStart(14)}\n` : `${row}\n`;
    });
    const empty = this.count_ === 0;
    const max = empty ? 0 : this.max_;
    const subBucketCount = 2 * this.subBucketHalfCount_;
    const buckets = this.counts_.length / this.subBucketHalfCount_ - 1;
    text += `#[Mean    = ${value(empty ? 0 : this.mean, 12)}, StdDeviation   = ${value(empty ? 0 : this.stdev, 12)}]\n`;
    text += `#[Max     = ${value(max, 12)}, Total count    = ${String(this.count_).padStart(12)}]\n`;
    text += `#[Buckets = ${String(buckets).padStart(12)}, SubBuckets     = ${String(subBucketCount).padStart(12)}]\n`;
    return text;
  }

  /**
   * HdrHistogram's PercentileIterator over the counts: the level starts at 0 % and grows by
   * 100 / (ticks * 2^(floor(log2(100 / (100 - level))) + 1)); a slot emits a row for every
   * level its cumulative percentile reaches; after the slot that holds the last value, one
   * more row at 100 %. `emit(value, level, totalCountToThisValue)`.
   */
  private walkPercentiles_(ticks: number, emit: (value: number, level: number, total: number) => void): void {
    const total = this.count_;
    if (total === 0) return;
    const counts = this.counts_;
    let level = 0;
    let seen = 0;
    for (let i = 0, last = this.lastIndex_(); i <= last; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      seen += c;
      const reached = (100 * seen) / total;
      while (reached >= level) {
        const value = this.highestEquivalent_(i);
        emit(value, level, seen);
        if (seen >= total) {
          emit(value, 100, seen);
          return;
        }
        level += 100 / (ticks * 2 ** (Math.floor(Math.log2(100 / (100 - level))) + 1));
      }
    }
  }

  /**
   * Forgets every value; the memory is kept.
   * @example
   * const h = new LatencyHistogram();
   * h.record(5);
   * h.reset();
   * h.count; // 0
   */
  reset(): void {
    this.counts_.fill(0);
    this.count_ = 0;
    this.overflow_ = 0;
    this.sum_ = 0;
    this.min_ = Infinity;
    this.max_ = -Infinity;
  }

  /** Index of the counts slot for 0 <= v <= highestTrackableValue (HdrHistogram countsArrayIndex). */
  private indexOf_(v: number): number {
    const scaled = v * this.unitScale_;
    const half = this.subBucketHalfCountMagnitude_;
    let bucket: number;
    let sub: number;
    if (scaled < kTwoPow32) {
      const w = scaled >>> 0;
      // OR with the mask keeps every value below subBucketCount in bucket 0.
      bucket = 31 - Math.clz32(w | this.subBucketMask_) - half;
      sub = w >>> bucket;
    } else {
      bucket = 63 - Math.clz32((scaled / kTwoPow32) >>> 0) - half;
      sub = Math.floor(scaled / 2 ** bucket);
    }
    return ((bucket + 1) << half) + sub - this.subBucketHalfCount_;
  }

  /** Index of the highest non-empty slot (the one max was counted in); -1 when empty. */
  private lastIndex_(): number {
    return this.count_ === 0 ? -1 : this.indexOf_(Math.min(this.max_, this.highestTrackableValue));
  }

  private lowestEquivalent_(index: number): number {
    let bucket = (index >> this.subBucketHalfCountMagnitude_) - 1;
    let sub = (index & (this.subBucketHalfCount_ - 1)) + this.subBucketHalfCount_;
    if (bucket < 0) {
      sub -= this.subBucketHalfCount_;
      bucket = 0;
    }
    return sub * 2 ** (bucket + this.unitMagnitude_);
  }

  private rangeSize_(index: number): number {
    const bucket = Math.max((index >> this.subBucketHalfCountMagnitude_) - 1, 0);
    return 2 ** (bucket + this.unitMagnitude_);
  }

  private highestEquivalent_(index: number): number {
    return this.lowestEquivalent_(index) + this.rangeSize_(index) - 1;
  }

  private medianEquivalent_(index: number): number {
    return this.lowestEquivalent_(index) + Math.floor(this.rangeSize_(index) / 2);
  }
}

const kFixed = new Map<number, Intl.NumberFormat>();
/** A formatter with exactly `digits` decimals and no grouping (rounds the shortest decimal form half up). */
function fixed(digits: number): Intl.NumberFormat {
  let f = kFixed.get(digits);
  if (f === undefined) {
    f = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false });
    kFixed.set(digits, f);
  }
  return f;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Index of the low 32 bits of f64[0] in u32 (0 on little-endian hosts). */
const kLow = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

/** The largest double below a positive finite x (Java's Math.nextDown). */
function nextDown(x: number): number {
  f64[0] = x;
  if (u32[kLow] === 0) u32[1 - kLow]!--;
  u32[kLow]!--;
  return f64[0];
}

/**
 * Nearest rank for percentile p (0 < p < 100) of n values: ceil(p/100 * n), at least 1,
 * computed as HdrHistogram's Java `getValueAtPercentile` does: p is first moved down by one
 * ulp, so a product that rounding lifted a hair above an integer (7% of 100) keeps its rank,
 * while a percentile asked for above a rank (50.0000000000001 of 2 values) gets the next one.
 */
export function percentileRank(p: number, n: number): number {
  return Math.max(1, Math.ceil((nextDown(p) * n) / 100));
}
