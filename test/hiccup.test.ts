import { describe, expect, it } from 'vitest';

import { measureHiccups } from '../lib/monitor/index.js';

describe('measureHiccups', () => {
  it('spins for the duration and summarises the stalls it saw', () => {
    const h = measureHiccups(20, 10_000);
    expect(h.seconds).toBeGreaterThanOrEqual(0.02);
    expect(h.thresholdNs).toBe(10_000);
    expect(h.lostFraction).toBeGreaterThanOrEqual(0);
    expect(h.lostFraction).toBeLessThanOrEqual(1);
    expect(h.stallsPerSecond).toBeGreaterThanOrEqual(0);
    if (h.stallsPerSecond === 0) expect([h.medianStallNs, h.maxStallNs]).toEqual([0, 0]);
    else {
      expect(h.medianStallNs).toBeGreaterThan(10_000 * 0.99);
      expect(h.maxStallNs).toBeGreaterThanOrEqual(h.medianStallNs * 0.99);
    }
  });

  it('refuses a bad duration or threshold, naming it', () => {
    for (const bad of [0, -1, NaN, Infinity, 60_001, '5']) {
      expect(() => measureHiccups(bad as number)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('durationMs') }));
    }
    for (const bad of [99, NaN, Infinity, -5]) {
      expect(() => measureHiccups(10, bad)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('thresholdNs') }));
    }
  });
});
