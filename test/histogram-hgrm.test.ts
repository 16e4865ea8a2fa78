/**
 * LatencyHistogram's HdrHistogram text output (.hgrm), percentile curve and coordinated-omission
 * correction, checked against hdr-histogram-js (Gil Tene's Java HdrHistogram ported by its
 * maintainers) recording the same values.
 */
import fc from 'fast-check';
import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';

import { LatencyHistogram } from '../lib/monitor/index.js';
import { seeded } from './fixtures/seeded.js';

interface Config {
  lowest: number;
  highest: number;
  figures: 1 | 2 | 3 | 4 | 5;
}

function pair(c: Config): { ours: LatencyHistogram; theirs: hdr.Histogram } {
  const ours = new LatencyHistogram({ lowestDiscernibleValue: c.lowest, highestTrackableValue: c.highest, significantFigures: c.figures });
  const theirs = hdr.build({
    bitBucketSize: 64,
    lowestDiscernibleValue: c.lowest,
    highestTrackableValue: c.highest,
    numberOfSignificantValueDigits: c.figures,
    autoResize: false,
    useWebAssembly: false,
  });
  return { ours, theirs };
}

/** Log-uniform integer latencies, 100 ns .. 1 ms, with a few 5..50 ms stalls. */
function latencies(seed: number, n: number): number[] {
  const rnd = seeded(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const stall = rnd() < 0.002;
    out.push(Math.floor(stall ? 5e6 + rnd() * 45e6 : 100 * 10 ** (rnd() * 4)));
  }
  return out;
}

/** The table rows of a .hgrm text (no header, no footer) split into numbers. */
function rows(text: string): number[][] {
  return text
    .split('\n')
    .filter((l) => /^\s*\d/.test(l))
    .map((l) => l.trim().split(/\s+/).map(Number));
}

function footer(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/(Mean|StdDeviation|Max|Total count|Buckets|SubBuckets)\s*=\s*([\d.]+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

describe('LatencyHistogram.outputPercentileDistribution (.hgrm)', () => {
  it.each<[string, Config, number]>([
    ['1 ns .. 1 h, 3 figures', { lowest: 1, highest: 3_600_000_000_000, figures: 3 }, 1],
    ['1 ns .. 60 s, 2 figures', { lowest: 1, highest: 60_000_000_000, figures: 2 }, 2],
    ['1 ns .. 10 s, 4 figures', { lowest: 1, highest: 10_000_000_000, figures: 4 }, 3],
  ])('%s: the same table as hdr-histogram-js, byte for byte, and the same footer', (_name, config, seed) => {
    const { ours, theirs } = pair(config);
    for (const v of latencies(seed, 20_000)) {
      ours.record(v);
      theirs.recordValue(v);
    }
    const text = ours.outputPercentileDistribution();
    const reference = theirs.outputPercentileDistribution(5, 1000);
    const [ourHead, ...ourRest] = text.split('#[');
    const [theirHead] = reference.split('#[');
    expect(ourHead).toBe(theirHead);
    expect(ourRest).toHaveLength(3);
    expect(rows(text).length).toBeGreaterThan(50);

    const a = footer(text);
    const b = footer(reference);
    const precision = 10 ** -config.figures;
    expect(a['Total count']).toBe(b['Total count']);
    expect(a.Buckets).toBe(b.Buckets);
    expect(a.SubBuckets).toBe(b.SubBuckets);
    expect(a.Max).toBe(b.Max);
    // Ours: the exact mean; theirs: from bucket midpoints. Both within the precision.
    expect(Math.abs(a.Mean! - b.Mean!)).toBeLessThanOrEqual(b.Mean! * precision + 0.001);
    expect(Math.abs(a.StdDeviation! - b.StdDeviation!)).toBeLessThanOrEqual(b.StdDeviation! * precision * 2 + 0.001);
  });

  it('other ticks per half distance and a scaling ratio of 1 give the same rows as hdr-histogram-js', () => {
    const config: Config = { lowest: 1, highest: 3_600_000_000_000, figures: 3 };
    for (const ticks of [1, 2, 10]) {
      const { ours, theirs } = pair(config);
      for (const v of latencies(10 + ticks, 5_000)) {
        ours.record(v);
        theirs.recordValue(v);
      }
      const text = ours.outputPercentileDistribution({ percentileTicksPerHalfDistance: ticks, outputValueUnitScalingRatio: 1 });
      expect(text.split('#[')[0]).toBe(theirs.outputPercentileDistribution(ticks, 1).split('#[')[0]);
    }
  });

  it('any values, any lowestDiscernibleValue: the rows match hdr-histogram-js within the precision', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1e9 }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(1, 2, 16, 1000),
        fc.constantFrom<1 | 2 | 3>(1, 2, 3),
        (values, lowest, figures) => {
          const { ours, theirs } = pair({ lowest, highest: 3_600_000_000_000, figures });
          for (const v of values) {
            ours.record(v);
            theirs.recordValue(v);
          }
          const a = rows(ours.outputPercentileDistribution({ outputValueUnitScalingRatio: 1 }));
          const b = rows(theirs.outputPercentileDistribution(5, 1));
          expect(a.length).toBe(b.length);
          for (let i = 0; i < a.length; i++) {
            const [va, pa, ca] = a[i]!;
            const [vb, pb, cb] = b[i]!;
            expect(pa).toBe(pb);
            expect(ca).toBe(cb);
            expect(Math.abs(va! - vb!)).toBeLessThanOrEqual(vb! * 10 ** -figures + lowest);
          }
        },
      ),
      { numRuns: 150, seed: 1313 },
    );
  });

  it('an empty histogram gives the header and a footer of zeros, as hdr-histogram-js does', () => {
    const { ours, theirs } = pair({ lowest: 1, highest: 3_600_000_000_000, figures: 3 });
    expect(ours.outputPercentileDistribution()).toBe(theirs.outputPercentileDistribution(5, 1000));
    expect(ours.percentileCurve()).toEqual([]);
  });

  it('refuses bad options, naming them', () => {
    const h = new LatencyHistogram();
    expect(() => h.outputPercentileDistribution({ percentileTicksPerHalfDistance: 0 })).toThrow(
      'Expected an integer from 1 to 1000 for options.percentileTicksPerHalfDistance but received 0',
    );
    expect(() => h.outputPercentileDistribution({ outputValueUnitScalingRatio: -1 })).toThrow(
      'Expected a finite number > 0 for options.outputValueUnitScalingRatio but received -1',
    );
    expect(() => h.outputPercentileDistribution({ ticks: 5 } as never)).toThrow(TypeError);
    expect(() => h.percentileCurve(2.5)).toThrow(RangeError);
  });
});

describe('LatencyHistogram.percentileCurve', () => {
  it('walks the same rows as the .hgrm, in ns, ending at 100 %', () => {
    const h = new LatencyHistogram();
    for (const v of latencies(7, 10_000)) h.record(v);
    const curve = h.percentileCurve();
    const table = rows(h.outputPercentileDistribution({ outputValueUnitScalingRatio: 1 }));
    expect(curve).toHaveLength(table.length);
    for (let i = 0; i < curve.length; i++) {
      expect(curve[i]![1]).toBe(table[i]![0]);
      expect(curve[i]![0] / 100).toBeCloseTo(table[i]![1]!, 11);
    }
    expect(curve[0]![0]).toBe(0);
    expect(curve.at(-1)![0]).toBe(100);
    // Levels rise, values never fall.
    for (let i = 1; i < curve.length; i++) {
      expect(curve[i]![0]).toBeGreaterThanOrEqual(curve[i - 1]![0]);
      expect(curve[i]![1]).toBeGreaterThanOrEqual(curve[i - 1]![1]);
    }
    // Within precision of the percentiles read directly.
    const p99 = curve.find(([p]) => p >= 99)!;
    expect(Math.abs(p99[1] - h.percentile(p99[0]))).toBeLessThanOrEqual(h.percentile(p99[0]) * 1e-3);
  });
});

describe('LatencyHistogram.recordCorrected (coordinated omission)', () => {
  it.each<[string, number, number]>([
    ['no stall', 800, 1000],
    ['exactly two intervals', 2000, 1000],
    ['a 50 µs stall at 1 µs', 50_000, 1000],
    ['a 20 ms stall at 1 µs', 20_000_000, 1000],
    ['interval 0: the value alone', 123_456, 0],
    ['an odd interval', 1_000_003, 7919],
  ])('%s: the same histogram as hdr-histogram-js recordValueWithExpectedInterval', (_name, value, interval) => {
    const { ours, theirs } = pair({ lowest: 1, highest: 3_600_000_000_000, figures: 3 });
    ours.recordCorrected(value, interval);
    theirs.recordValueWithExpectedInterval(value, interval);
    expect(ours.count).toBe(theirs.totalCount);
    expect(ours.outputPercentileDistribution().split('#[')[0]).toBe(theirs.outputPercentileDistribution(5, 1000).split('#[')[0]);
    expect(ours.min).toBe(theirs.minNonZeroValue === Number.MAX_SAFE_INTEGER ? value : Math.min(theirs.minNonZeroValue, value));
  });

  it('a seeded series with stalls: the same distribution and the exact mean of the corrected samples', () => {
    const { ours, theirs } = pair({ lowest: 1, highest: 3_600_000_000_000, figures: 3 });
    const interval = 10_000;
    let sum = 0;
    let n = 0;
    for (const v of latencies(99, 5_000)) {
      ours.recordCorrected(v, interval);
      theirs.recordValueWithExpectedInterval(v, interval);
      sum += v;
      n++;
      for (let m = v - interval; m >= interval; m -= interval) {
        sum += m;
        n++;
      }
    }
    expect(ours.count).toBe(theirs.totalCount);
    expect(ours.count).toBe(n);
    expect(ours.mean).toBeCloseTo(sum / n, 6);
    expect(ours.outputPercentileDistribution().split('#[')[0]).toBe(theirs.outputPercentileDistribution(5, 1000).split('#[')[0]);
  });

  it('values above highestTrackableValue are counted at it and in overflowCount, as record() does', () => {
    const h = new LatencyHistogram({ highestTrackableValue: 10_000 });
    h.recordCorrected(25_000, 1000); // 25000, 24000 .. 1000: 25 values, 15 above 10000
    expect(h.count).toBe(25);
    expect(h.overflowCount).toBe(15);
    expect(h.max).toBe(25_000);
    expect(h.min).toBe(1000);
    expect(h.percentile(50)).toBe(h.percentile(99));
  });

  it('a one-second stall at a 1 ns interval: a billion samples, counted per bucket slot, with the exact count, sum and min', () => {
    const h = new LatencyHistogram();
    h.recordCorrected(1e9, 1);
    // 1e9 itself, then 1e9 - 1 down to 1.
    expect(h.count).toBe(1e9);
    expect(h.min).toBe(1);
    expect(h.max).toBe(1e9);
    expect(h.mean).toBeCloseTo((1e9 + 1) / 2, 3);
    expect(Math.abs(h.percentile(50) - 5e8)).toBeLessThanOrEqual(5e8 * 1e-3);
    expect(Math.abs(h.percentile(99) - 9.9e8)).toBeLessThanOrEqual(9.9e8 * 1e-3);
  });

  it('refuses bad arguments and records nothing', () => {
    const h = new LatencyHistogram();
    expect(() => h.recordCorrected(100, -1)).toThrow('Expected a finite number >= 0 for expectedInterval but received -1');
    expect(() => h.recordCorrected(100, Number.NaN)).toThrow(RangeError);
    expect(() => h.recordCorrected(100, '5' as never)).toThrow(TypeError);
    expect(() => h.recordCorrected(-5, 10)).toThrow(RangeError);
    expect(h.count).toBe(0);
  });
});
