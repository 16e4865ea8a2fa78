import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';

import {
  LatencyHistogram,
  LatencyRegistry,
  MicrosecondTimer,
  latencyRegistry,
  monitorLatency,
} from '../lib/monitor/index.js';
import { seeded } from './fixtures/seeded.js';
import { percentileRank } from '../lib/monitor/histogram.js';

/**
 * Nearest rank in exact rational arithmetic, HdrHistogram's rule: p moved down one ulp, then
 * the smallest rank r >= 1 with r >= p * n / 100 (no rounding anywhere).
 */
function referenceRank(p: number, n: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, p);
  const bits = view.getBigUint64(0) - 1n; // one ulp down (p > 0)
  const field = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = field === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (field === 0 ? 1 : field) - 1075;
  let num = mantissa * BigInt(n);
  let den = 100n;
  if (exponent >= 0) num <<= BigInt(exponent);
  else den <<= BigInt(-exponent);
  return Math.max(1, Number((num + den - 1n) / den));
}

/** Nearest-rank reference: the smallest value with at least p% of the values <= it. */
function referencePercentile(sorted: number[], p: number): number {
  if (p === 0) return sorted[0]!;
  if (p === 100) return sorted.at(-1)!;
  return sorted[referenceRank(p, sorted.length) - 1]!;
}

/**
 * HdrHistogram's promise: the reported value is >= the true one and within one bucket of
 * it, which is < 10^-figures relative, or < lowestDiscernibleValue in the first bucket.
 */
function expectWithinPrecision(actual: number, reference: number, figures: number, lowest = 1): void {
  expect(actual).toBeGreaterThanOrEqual(reference);
  expect(actual - reference).toBeLessThanOrEqual(Math.max(reference * 10 ** -figures, lowest - 1));
}

/** Seeded generator so a failure replays. */
const rng = seeded;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const kPercentiles = [0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100];

describe('LatencyHistogram', () => {
  it('matches a sorted-array reference on 100k log-uniform values (1 ns .. 100 s)', () => {
    const random = rng(42);
    const h = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const v = Math.floor(10 ** (random() * 11));
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of kPercentiles) expectWithinPrecision(h.percentile(p), referencePercentile(values, p), 3);
    expect(h.count).toBe(values.length);
    expect(h.min).toBe(values[0]);
    expect(h.max).toBe(values.at(-1));
    expect(h.percentile(0)).toBe(values[0]);
    expect(h.percentile(100)).toBe(values.at(-1));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(h.mean).toBeCloseTo(mean, 3);
  });

  it('keeps its precision for every significantFigures and lowestDiscernibleValue (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.double({ min: 0, max: 1e6, noNaN: true })), {
          minLength: 1,
          maxLength: 500,
        }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(1, 2, 7, 1000),
        fc.constantFrom(...kPercentiles),
        (values, figures, lowest, p) => {
          const h = new LatencyHistogram({ significantFigures: figures, lowestDiscernibleValue: lowest, highestTrackableValue: 2 ** 41 });
          for (const v of values) h.record(v);
          const sorted = [...values].sort((a, b) => a - b);
          const reference = referencePercentile(sorted, p);
          // Fractional values are binned by their integer part: allow that one unit too.
          const unit = 2 ** Math.floor(Math.log2(lowest));
          const actual = h.percentile(p);
          expect(actual).toBeGreaterThanOrEqual(Math.min(reference, Math.floor(reference)));
          expect(actual - reference).toBeLessThanOrEqual(Math.max(reference * 10 ** -figures, unit - 1, 1));
          expect(actual).toBeGreaterThanOrEqual(sorted[0]!);
          expect(actual).toBeLessThanOrEqual(sorted.at(-1)!);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('integer values with lowestDiscernibleValue 1 stay within precision with no slack', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 45 }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 5 }), (values, figures) => {
        const h = new LatencyHistogram({ significantFigures: figures, highestTrackableValue: 2 ** 46 });
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        for (const p of kPercentiles) expectWithinPrecision(h.percentile(p), referencePercentile(sorted, p), figures);
      }),
      { numRuns: 200 },
    );
  });

  it('has an exact count, min, max and mean, and a stdev within the precision', () => {
    const random = rng(7);
    const h = new LatencyHistogram();
    const values = Array.from({ length: 20_000 }, () => 1000 + Math.floor(random() * 1_000_000));
    for (const v of values) h.record(v);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
    expect(h.count).toBe(values.length);
    expect(h.min).toBe(Math.min(...values));
    expect(h.max).toBe(Math.max(...values));
    expect(h.mean).toBeCloseTo(mean, 6);
    expect(Math.abs(h.stdev - sd)).toBeLessThanOrEqual(h.max * 1e-3);
  });

  it('recordWithCount is the same as recording the value that many times', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (const [v, n] of [[10, 3], [5000, 7], [123_456_789, 2], [0, 1]] as const) {
      a.recordWithCount(v, n);
      for (let i = 0; i < n; i++) b.record(v);
    }
    a.recordWithCount(42, 0);
    expect(a.summary()).toEqual(b.summary());
    expect(a.stdev).toBe(b.stdev);
    for (const p of kPercentiles) expect(a.percentile(p)).toBe(b.percentile(p));
  });

  it('reports NaN, not 0, when empty', () => {
    const h = new LatencyHistogram();
    expect(h.count).toBe(0);
    for (const v of [h.min, h.max, h.mean, h.stdev, h.percentile(50)]) expect(v).toBeNaN();
    expect(h.summary()).toEqual({ count: 0, mean: NaN, p50: NaN, p99: NaN, p999: NaN, max: NaN });
  });

  it('reset() forgets everything and keeps working', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) h.record(i * 1000);
    h.record(1e20);
    h.reset();
    expect(h.count).toBe(0);
    expect(h.overflowCount).toBe(0);
    expect(h.max).toBeNaN();
    h.record(777);
    expect(h.summary()).toEqual({ count: 1, mean: 777, p50: 777, p99: 777, p999: 777, max: 777 });
  });

  it('counts values above highestTrackableValue at it, in overflowCount, with an exact max', () => {
    const h = new LatencyHistogram({ highestTrackableValue: 1_000_000 });
    for (let i = 0; i < 98; i++) h.record(1000);
    h.record(5_000_000);
    h.record(9_000_000);
    expect(h.count).toBe(100);
    expect(h.overflowCount).toBe(2);
    expect(h.max).toBe(9_000_000);
    expect(h.mean).toBe((98 * 1000 + 14_000_000) / 100);
    expect(h.percentile(50)).toBe(1000);
    // p99 falls on an overflowed value: at least highestTrackableValue, never above max.
    expect(h.percentile(99)).toBeGreaterThanOrEqual(1_000_000);
    expect(h.percentile(99)).toBeLessThanOrEqual(9_000_000);
    expect(h.percentile(100)).toBe(9_000_000);
  });

  it('bins fractional values by their integer part', () => {
    const h = new LatencyHistogram();
    h.record(10.75);
    h.record(10.25);
    h.record(2000.5);
    expect(h.min).toBe(10.25);
    expect(h.max).toBe(2000.5);
    expect(h.mean).toBeCloseTo((10.75 + 10.25 + 2000.5) / 3, 12);
    expect(h.percentile(50)).toBe(10.25);
  });

  it('rejects NaN, negative, infinite and non-number values without changing anything', () => {
    const h = new LatencyHistogram();
    h.record(100);
    for (const bad of [NaN, -1, -0.5, Infinity, -Infinity]) {
      expect(() => h.record(bad)).toThrow(RangeError);
      expect(() => h.record(bad)).toThrow(/Expected a finite number >= 0 for value but received/);
    }
    for (const bad of ['5', null, undefined, 5n, {}, true]) {
      expect(() => h.record(bad as unknown as number)).toThrow(TypeError);
      expect(() => h.record(bad as unknown as number)).toThrow(/for value but received/);
    }
    expect(() => h.recordWithCount(NaN, 1)).toThrow(RangeError);
    expect(() => h.recordWithCount(1, -1)).toThrow(/for count but received -1/);
    expect(() => h.recordWithCount(1, 1.5)).toThrow(RangeError);
    expect(() => h.recordWithCount(1, '2' as unknown as number)).toThrow(TypeError);
    expect(h.summary()).toEqual({ count: 1, mean: 100, p50: 100, p99: 100, p999: 100, max: 100 });
    expect(h.overflowCount).toBe(0);
  });

  it('reports the value at a percentile a hair above a rank as the next value (HdrHistogram Java test)', () => {
    const h = new LatencyHistogram();
    h.record(1);
    h.record(2);
    expect(h.percentile(50)).toBe(1);
    expect(h.percentile(50.0000000000001)).toBe(2);
    expect(h.percentile(49.9999999999999)).toBe(1);
    const hundred = new LatencyHistogram();
    for (let v = 1; v <= 100; v++) hundred.record(v);
    // 7% of 100 rounds to 7.000000000000001 in doubles; the rank is still 7. One ulp above 7
    // counts as 7 (the ulp HdrHistogram takes off), two ulps above is the next rank.
    expect(hundred.percentile(7)).toBe(7);
    expect(hundred.percentile(7.000000000000001)).toBe(7);
    expect(hundred.percentile(7.000000000000002)).toBe(8);
  });

  it('gives the exact nearest rank for any percentile and count', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 100, noNaN: true, minExcluded: true, maxExcluded: true }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (p, n) => {
          expect(percentileRank(p, n)).toBe(referenceRank(p, n));
        },
      ),
      { numRuns: 5000 },
    );
    for (const n of [1, 2, 3, 7, 100, 1000, 12345]) {
      for (let k = 0; k <= n && k <= 200; k++) {
        const p = (100 * k) / n;
        if (p > 0 && p < 100) expect(percentileRank(p, n)).toBe(referenceRank(p, n));
      }
    }
  });

  it('validates percentile arguments', () => {
    const h = new LatencyHistogram();
    h.record(1);
    for (const bad of [-1, 100.5, NaN, Infinity]) {
      expect(() => h.percentile(bad)).toThrow(RangeError);
      expect(() => h.percentile(bad)).toThrow(/Expected a percentile from 0 to 100 for p but received/);
    }
    expect(() => h.percentile('50' as unknown as number)).toThrow(TypeError);
  });

  it('validates its options, naming the option', () => {
    const cases: [unknown, ErrorConstructor, RegExp][] = [
      [null, TypeError, /for options but received null/],
      [5, TypeError, /for options but received 5/],
      [{ lowestDiscernibleValue: 0 }, RangeError, /for options\.lowestDiscernibleValue but received 0/],
      [{ lowestDiscernibleValue: 1.5 }, RangeError, /for options\.lowestDiscernibleValue but received 1\.5/],
      [{ lowestDiscernibleValue: '1' }, TypeError, /for options\.lowestDiscernibleValue but received "1"/],
      [{ highestTrackableValue: 2 ** 60 }, RangeError, /for options\.highestTrackableValue/],
      [{ lowestDiscernibleValue: 1000, highestTrackableValue: 1999 }, RangeError, /2 \* lowestDiscernibleValue \(2000\) for options\.highestTrackableValue but received 1999/],
      [{ significantFigures: 0 }, RangeError, /from 1 to 5 for options\.significantFigures but received 0/],
      [{ significantFigures: 6 }, RangeError, /for options\.significantFigures but received 6/],
      [{ significantFigures: NaN }, RangeError, /for options\.significantFigures but received NaN/],
    ];
    for (const [options, type, message] of cases) {
      expect(() => new LatencyHistogram(options as never)).toThrow(type);
      expect(() => new LatencyHistogram(options as never)).toThrow(message);
    }
  });

  it('reports its configuration and footprint', () => {
    const h = new LatencyHistogram({ lowestDiscernibleValue: 10, highestTrackableValue: 1e9, significantFigures: 2 });
    expect(h.lowestDiscernibleValue).toBe(10);
    expect(h.highestTrackableValue).toBe(1e9);
    expect(h.significantFigures).toBe(2);
    expect(h.footprintBytes).toBeGreaterThan(0);
    expect(h.footprintBytes).toBeLessThan(new LatencyHistogram({ highestTrackableValue: 1e9, significantFigures: 3 }).footprintBytes);
  });
});

describe('MicrosecondTimer', () => {
  it('calibrates its overhead once, to a finite number of ns >= 0', () => {
    new MicrosecondTimer();
    const overhead = MicrosecondTimer.overheadNs;
    expect(Number.isFinite(overhead)).toBe(true);
    expect(overhead).toBeGreaterThanOrEqual(0);
    new MicrosecondTimer();
    expect(MicrosecondTimer.overheadNs).toBe(overhead);
  });

  it('never reads below 0 after subtracting the overhead, and subtracts exactly it', () => {
    const timer = new MicrosecondTimer();
    for (let i = 0; i < 10_000; i++) {
      timer.start();
      const ns = timer.stopNs();
      expect(ns).toBeGreaterThanOrEqual(0);
      expect(ns).toBe(Math.max(0, timer.rawElapsedNs() - MicrosecondTimer.overheadNs));
      expect(timer.elapsedNs()).toBe(ns);
    }
    timer.start();
    const us = timer.stop();
    expect(us).toBeGreaterThanOrEqual(0);
    expect(us).toBe(timer.elapsedNs() / 1000);
  });

  it('reads whole nanoseconds', () => {
    const timer = new MicrosecondTimer();
    timer.start();
    sleepSync(1);
    expect(Number.isInteger(timer.stopNs())).toBe(true);
    expect(Number.isInteger(timer.rawElapsedNs())).toBe(true);
  });

  it('measures a 20 ms blocking sleep as at least ~20 ms', () => {
    const timer = new MicrosecondTimer();
    timer.start();
    sleepSync(20);
    const us = timer.stop();
    expect(us).toBeGreaterThanOrEqual(19_000);
    expect(timer.elapsedNs()).toBe(us * 1000);
  });

  it('reads 0 before start(), refuses stop() before start(), runs while started, and stop() is idempotent', () => {
    const timer = new MicrosecondTimer();
    expect(timer.running).toBe(false);
    expect(timer.elapsedNs()).toBe(0);
    expect(timer.rawElapsedNs()).toBe(0);
    expect(() => timer.stop()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_TIMER_NOT_STARTED' }));
    expect(() => timer.stopNs()).toThrow(/MicrosecondTimer.stop\(\) was called before start\(\)/);
    timer.start();
    expect(timer.running).toBe(true);
    sleepSync(2);
    const during = timer.rawElapsedNs();
    expect(during).toBeGreaterThanOrEqual(1_900_000);
    const first = timer.stopNs();
    expect(timer.running).toBe(false);
    sleepSync(2);
    expect(timer.stopNs()).toBe(first);
    expect(timer.elapsedNs()).toBe(first);
    timer.start();
    expect(timer.running).toBe(true);
    expect(timer.stopNs()).toBeGreaterThanOrEqual(0);
  });

  it('recalibrates on demand and validates pairs', () => {
    const overhead = MicrosecondTimer.calibrate(1000);
    expect(overhead).toBeGreaterThanOrEqual(0);
    expect(MicrosecondTimer.overheadNs).toBe(overhead);
    expect(() => MicrosecondTimer.calibrate(10)).toThrow(RangeError);
    expect(() => MicrosecondTimer.calibrate(10)).toThrow(/for pairs but received 10/);
    expect(() => MicrosecondTimer.calibrate(1000.5)).toThrow(RangeError);
    expect(() => MicrosecondTimer.calibrate('1000' as unknown as number)).toThrow(TypeError);
  });
});

describe('monitorLatency and latencyRegistry', () => {
  beforeEach(() => {
    for (const name of latencyRegistry.names()) latencyRegistry.delete(name);
  });

  it('passes arguments, this and the return value through, and records each call', () => {
    const counter = {
      base: 10,
      add(this: { base: number }, a: number, b: number): number {
        return this.base + a + b;
      },
    };
    counter.add = monitorLatency('add', counter.add);
    expect(counter.add(1, 2)).toBe(13);
    expect(counter.add(5, 5)).toBe(20);
    const h = latencyRegistry.get('add')!;
    expect(h.count).toBe(2);
    expect(h.min).toBeGreaterThanOrEqual(0);
    expect(Number.isInteger(h.max)).toBe(true);
  });

  it('keeps the name and length of the function it wraps', () => {
    function placeOrder(_side: string, _qty: number, _price: number): void {}
    const wrapped = monitorLatency('place', placeOrder);
    expect(wrapped.name).toBe('placeOrder');
    expect(wrapped.length).toBe(3);
  });

  it('records the duration of a slow synchronous call', () => {
    const slow = monitorLatency('slow', () => sleepSync(20));
    slow();
    expect(latencyRegistry.get('slow')!.min).toBeGreaterThanOrEqual(19e6);
  });

  it('records a call that throws, then rethrows the same error', () => {
    const boom = new Error('boom');
    const failing = monitorLatency('failing', () => {
      throw boom;
    });
    expect(() => failing()).toThrow(boom);
    expect(latencyRegistry.get('failing')!.count).toBe(1);
  });

  it('times an async function until its promise settles and resolves to the same value', async () => {
    const wait = monitorLatency('wait', async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms * 2;
    });
    const pending = wait(20);
    expect(pending).toBeInstanceOf(Promise);
    expect(latencyRegistry.get('wait')!.count).toBe(0);
    await expect(pending).resolves.toBe(40);
    const h = latencyRegistry.get('wait')!;
    expect(h.count).toBe(1);
    // Timers may fire a fraction of a millisecond early on the monotonic clock.
    expect(h.min).toBeGreaterThanOrEqual(18e6);
  });

  it('records a rejected promise and rejects with the same reason', async () => {
    const reason = new Error('no liquidity');
    const reject = monitorLatency('reject', async () => {
      await Promise.resolve();
      throw reason;
    });
    await expect(reject()).rejects.toBe(reason);
    expect(latencyRegistry.get('reject')!.count).toBe(1);
  });

  it('handles thenables that are not promises', async () => {
    const thenable = { then: (resolve: (v: string) => void) => resolve('ok') };
    const f = monitorLatency('thenable', () => thenable as unknown as Promise<string>);
    await expect(f()).resolves.toBe('ok');
    expect(latencyRegistry.get('thenable')!.count).toBe(1);
  });

  it('report() gives count, mean, p50, p99, p999 and max in ns per name', () => {
    const f = monitorLatency('f', (x: number) => x + 1);
    const g = monitorLatency('g', (x: number) => x * 2);
    for (let i = 0; i < 1000; i++) f(i);
    g(1);
    latencyRegistry.histogram('manual').record(2500);
    const report = latencyRegistry.report();
    expect(Object.keys(report)).toEqual(['f', 'g', 'manual']);
    for (const summary of Object.values(report)) {
      expect(Object.keys(summary).sort()).toEqual(['count', 'max', 'mean', 'p50', 'p99', 'p999']);
      for (const v of Object.values(summary)) expect(typeof v).toBe('number');
      expect(summary.p50).toBeLessThanOrEqual(summary.p99);
      expect(summary.p99).toBeLessThanOrEqual(summary.p999);
      expect(summary.p999).toBeLessThanOrEqual(summary.max);
    }
    expect(report.f!.count).toBe(1000);
    expect(report.g!.count).toBe(1);
    expect(report.manual).toEqual({ count: 1, mean: 2500, p50: 2500, p99: 2500, p999: 2500, max: 2500 });
    expect(report.f).toEqual(latencyRegistry.get('f')!.summary());
  });

  it('histogram() creates once, get() never creates', () => {
    expect(latencyRegistry.get('x')).toBeUndefined();
    expect(latencyRegistry.has('x')).toBe(false);
    const h = latencyRegistry.histogram('x');
    expect(latencyRegistry.histogram('x')).toBe(h);
    expect(latencyRegistry.get('x')).toBe(h);
    expect(latencyRegistry.has('x')).toBe(true);
    expect(latencyRegistry.names()).toEqual(['x']);
  });

  it('reset() empties the histograms and wrappers keep recording into them', () => {
    const f = monitorLatency('kept', () => 1);
    f();
    const h = latencyRegistry.get('kept')!;
    latencyRegistry.reset();
    expect(h.count).toBe(0);
    expect(latencyRegistry.names()).toEqual(['kept']);
    f();
    expect(latencyRegistry.get('kept')).toBe(h);
    expect(h.count).toBe(1);
  });

  it('delete() removes a name; its wrappers start a fresh histogram at the next call', () => {
    const f = monitorLatency('gone', () => 1);
    f();
    const old = latencyRegistry.get('gone')!;
    expect(latencyRegistry.delete('gone')).toBe(true);
    expect(latencyRegistry.delete('gone')).toBe(false);
    expect(latencyRegistry.get('gone')).toBeUndefined();
    f();
    const fresh = latencyRegistry.get('gone')!;
    expect(fresh).not.toBe(old);
    expect(fresh.count).toBe(1);
    expect(old.count).toBe(1);
  });

  it('a registry of your own is separate and uses its options', () => {
    const registry = new LatencyRegistry({ significantFigures: 2, highestTrackableValue: 1e9 });
    const f = registry.monitor('own', () => 1);
    f();
    expect(registry.get('own')!.count).toBe(1);
    expect(registry.get('own')!.significantFigures).toBe(2);
    expect(latencyRegistry.get('own')).toBeUndefined();
    expect(registry.histogram('custom', { significantFigures: 4 }).significantFigures).toBe(4);
    expect(() => new LatencyRegistry({ significantFigures: 9 })).toThrow(/for options\.significantFigures but received 9/);
  });

  it('validates name and fn', () => {
    expect(() => monitorLatency('', () => 1)).toThrow(RangeError);
    expect(() => monitorLatency('', () => 1)).toThrow(/Expected a non-empty string for name but received ""/);
    expect(() => monitorLatency(5 as unknown as string, () => 1)).toThrow(TypeError);
    expect(() => monitorLatency(5 as unknown as string, () => 1)).toThrow(/for name but received 5/);
    expect(() => monitorLatency('x', 'f' as unknown as () => void)).toThrow(TypeError);
    expect(() => monitorLatency('x', 'f' as unknown as () => void)).toThrow(/Expected a function for fn but received "f"/);
    expect(() => latencyRegistry.histogram(null as unknown as string)).toThrow(/for name but received null/);
    expect(() => latencyRegistry.get('')).toThrow(RangeError);
    expect(() => latencyRegistry.delete(1 as unknown as string)).toThrow(TypeError);
    expect(latencyRegistry.names()).toEqual([]);
  });
});
