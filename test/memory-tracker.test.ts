import { describe, expect, it } from 'vitest';

import { MemoryTracker } from '../lib/monitor/index.js';
import { seeded } from './fixtures/seeded.js';

const kHour = 3_600_000;
const kMiB = 2 ** 20;

/** Readings every `stepMs` for `n` steps: base + slope (bytes/h) * t + uniform noise of ±noiseBytes. */
function series(n: number, stepMs: number, slopeBytesPerHour: number, noiseBytes: number, seed = 1): [number, number][] {
  const rand = seeded(seed);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const t = i * stepMs;
    out.push([t, 50 * kMiB + (slopeBytesPerHour * t) / kHour + (rand() * 2 - 1) * noiseBytes]);
  }
  return out;
}

function feed(tracker: MemoryTracker, points: [number, number][]): MemoryTracker {
  for (const [t, bytes] of points) tracker.addSample(bytes, t);
  return tracker;
}

/** memwatch's rule: a leak is five heap readings after GC in a row, each larger than the one before. */
function memwatchFlags(values: number[]): boolean {
  let run = 0;
  for (let i = 1; i < values.length; i++) {
    run = values[i]! > values[i - 1]! ? run + 1 : 0;
    if (run >= 5) return true;
  }
  return false;
}

describe('MemoryTracker verdicts on known series', () => {
  it('flags steady growth under noise and reports its rate in bytes per hour', () => {
    // 100 MiB/h, readings every 10 s for 10 minutes, noise ±2 MiB (a reading's own spread).
    const r = feed(new MemoryTracker(), series(60, 10_000, 100 * kMiB, 2 * kMiB)).report();
    expect(r.verdict).toBe('leak-suspected');
    expect(r.leakSuspected).toBe(true);
    expect(r.slopeBytesPerHour / (100 * kMiB)).toBeGreaterThan(0.9);
    expect(r.slopeBytesPerHour / (100 * kMiB)).toBeLessThan(1.1);
    expect(r.mannKendall!.p).toBeLessThan(0.01);
    expect(r.mannKendall!.s).toBeGreaterThan(0);
    expect(r).toMatchObject({ samples: 60, totalSamples: 60, spanMs: 590_000 });
  });

  it('does not flag a flat heap, over many seeds, at alpha 0.01', () => {
    let flagged = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = feed(new MemoryTracker({ minGrowthBytesPerHour: 0 }), series(60, 10_000, 0, 2 * kMiB, seed)).report();
      expect(r.verdict).not.toBe('insufficient-data');
      if (r.leakSuspected) flagged++;
    }
    // Two-sided p < 0.01 and a positive slope: about 0.5% of flat series by chance.
    expect(flagged).toBeLessThanOrEqual(4);
  });

  it('is not moved by a few huge readings (Theil–Sen is a median of slopes)', () => {
    const points = series(60, 10_000, 0, 64 * 1024, 3);
    for (const i of [50, 55, 58]) points[i]![1] += 200 * kMiB; // late bursts of garbage read with the heap
    const r = feed(new MemoryTracker(), points).report();
    expect(r.verdict).toBe('no-leak');
    expect(Math.abs(r.slopeBytesPerHour)).toBeLessThan(2 * kMiB);
  });

  it("flags a leak that memwatch's five-growths-in-a-row rule never sees", () => {
    // 20 MiB/h in steps of 10 s (~57 KB a step) under ±1 MiB of noise: the readings go up and
    // down nearly every other step, so five rises in a row are rare, yet the trend is plain.
    const points = series(180, 10_000, 20 * kMiB, kMiB, 7);
    const values = points.map(([, v]) => v);
    expect(memwatchFlags(values)).toBe(false);
    const r = feed(new MemoryTracker({ minGrowthBytesPerHour: 0 }), points).report();
    expect(r.verdict).toBe('leak-suspected');
    expect(r.slopeBytesPerHour / (20 * kMiB)).toBeGreaterThan(0.7);
  });

  it('reports growth below minGrowthBytesPerHour without flagging it', () => {
    const points = series(60, 10_000, 8 * kMiB, 1024, 4);
    const r = feed(new MemoryTracker({ minGrowthBytesPerHour: 32 * kMiB }), points).report();
    expect(r.mannKendall!.p).toBeLessThan(1e-6);
    expect(r.slopeBytesPerHour).toBeGreaterThan(7 * kMiB);
    expect(r.verdict).toBe('no-leak');
    expect(feed(new MemoryTracker({ minGrowthBytesPerHour: 0 }), points).report().verdict).toBe('leak-suspected');
  });

  it("says 'insufficient-data' below minSamples readings or minSpanMs of time", () => {
    const growing = series(40, 1000, 1000 * kMiB, 0);
    const few = feed(new MemoryTracker({ minSamples: 12 }), growing.slice(0, 11)).report();
    expect(few).toMatchObject({ verdict: 'insufficient-data', leakSuspected: false, samples: 11, mannKendall: null });
    expect(few.slopeBytesPerHour).toBeCloseTo(1000 * kMiB, -3);
    // 20 readings a second apart span 19 s < 30 s.
    const short = feed(new MemoryTracker({ minSpanMs: 30_000 }), growing.slice(0, 20)).report();
    expect(short.verdict).toBe('insufficient-data');
    expect(feed(new MemoryTracker({ minSpanMs: 30_000 }), growing).report().verdict).toBe('leak-suspected');
    const empty = new MemoryTracker().report();
    expect(empty).toMatchObject({ verdict: 'insufficient-data', samples: 0, spanMs: 0 });
    expect(empty.slopeBytesPerHour).toBeNaN();
  });

  it('keeps a bounded series and judges the latest readings', () => {
    const tracker = new MemoryTracker({ maxSamples: 30 });
    const grew = series(50, 1000, 1000 * kMiB, 0);
    feed(tracker, grew);
    expect(tracker.report().verdict).toBe('leak-suspected');
    // Then flat for longer than the window: the growth falls out of it.
    const top = grew[grew.length - 1]![1];
    for (let i = 0; i < 30; i++) tracker.addSample(top + (i % 2) * 1000, 50_000 + i * 1000);
    const r = tracker.report();
    expect(tracker.samples()).toHaveLength(30);
    expect(tracker.samples()[0]!.atMs).toBe(50_000);
    expect(r).toMatchObject({ samples: 30, totalSamples: 80, verdict: 'no-leak' });
    tracker.reset();
    expect(tracker.report()).toMatchObject({ samples: 0, totalSamples: 0 });
  });
});

describe('MemoryTracker start/stop and bad input', () => {
  it('refuses to start twice and to stop when not started', () => {
    const tracker = new MemoryTracker();
    expect(() => tracker.stop()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_NOT_RUNNING' }));
    tracker.start();
    try {
      expect(tracker.running).toBe(true);
      expect(() => tracker.start()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_ALREADY_RUNNING', message: expect.stringContaining('MemoryTracker') }));
    } finally {
      tracker.stop();
    }
    expect(tracker.running).toBe(false);
  });

  it('names the argument and the value for bad readings', () => {
    const tracker = new MemoryTracker();
    expect(() => tracker.addSample(Number.NaN, 1)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/heapUsedBytes but received NaN/) }));
    expect(() => tracker.addSample(-1, 1)).toThrow(/heapUsedBytes but received -1/);
    expect(() => tracker.addSample('1' as never, 1)).toThrow(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/heapUsedBytes but received "1"/) }));
    expect(() => tracker.addSample(1, Number.NaN)).toThrow(/atMs but received NaN/);
    tracker.addSample(1, 100);
    expect(() => tracker.addSample(1, 99)).toThrow(/atMs but received 99/);
    expect(tracker.report().totalSamples).toBe(1);
  });

  it('names the option for bad options', () => {
    expect(() => new MemoryTracker({ maxSamples: -1 })).toThrow(/options\.maxSamples but received -1/);
    expect(() => new MemoryTracker({ maxSamples: 15.5 })).toThrow(/options\.maxSamples but received 15\.5/);
    expect(() => new MemoryTracker({ alpha: Number.NaN })).toThrow(/options\.alpha but received NaN/);
    expect(() => new MemoryTracker({ alpha: 0.7 })).toThrow(/options\.alpha but received 0\.7/);
    expect(() => new MemoryTracker({ minGrowthBytesPerHour: -5 })).toThrow(/options\.minGrowthBytesPerHour but received -5/);
    expect(() => new MemoryTracker({ minSpanMs: Number.POSITIVE_INFINITY })).toThrow(/options\.minSpanMs but received Infinity/);
    expect(() => new MemoryTracker({ maxSamples: 20, minSamples: 21 })).toThrow(/options\.minSamples but received 21/);
    // Theil–Sen keeps every pairwise slope (n²/2 doubles): 100,000 readings made report() throw
    // a bare 'Invalid typed array length: 4999950000'; 4096 readings already take ~1 s to judge
    expect(() => new MemoryTracker({ maxSamples: 100_000 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/options\.maxSamples but received 100000/) }));
    expect(() => new MemoryTracker({ maxSamples: 4097 })).toThrow(/options\.maxSamples but received 4097/);
    expect(new MemoryTracker({ maxSamples: 4096, minSamples: 4096 }).maxSamples).toBe(4096);
    expect(() => new MemoryTracker({ maxSample: 20 } as never)).toThrow(/unknown option 'maxSample' for MemoryTracker; did you mean 'maxSamples'\?/);
  });
});
