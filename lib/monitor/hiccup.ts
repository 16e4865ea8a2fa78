/**
 * The machine's own hiccups, as jHiccup (Gil Tene) measures them: a thread that does nothing
 * but read the clock should see consecutive reads a few tens of ns apart; every longer gap is
 * time the thread could not run (a descheduling, a hypervisor's steal, an interrupt, a GC
 * pause). Any work on that thread would have waited the same, so the gaps are a floor under
 * every latency measured on it: if stalls above 10 µs cover 5% of the time, a record arriving
 * at a random moment meets one 5% of the time, and no p99 ≤ 10 µs is possible at any rate.
 */
import { nowNs } from './clock.js';
import { invalidRange } from '../errors.js';
import { LatencyHistogram } from './histogram.js';

export interface HiccupSummary {
  /** Time spun, seconds. */
  seconds: number;
  /** The gap that counts as a stall, ns. */
  thresholdNs: number;
  /** Stalls per second of spinning. */
  stallsPerSecond: number;
  /** Share of the time lost in stalls (0..1): the chance that a random moment falls inside one. */
  lostFraction: number;
  /** Median and largest stall, ns (0 when none). */
  medianStallNs: number;
  maxStallNs: number;
}

/**
 * Spins on one thread for `durationMs`, reading the clock back to back, and summarises the
 * gaps longer than `thresholdNs` (default 10 µs). Blocks the calling thread for the duration.
 * @throws RangeError for a duration outside 1..60,000 ms or a threshold < 100 ns.
 * @example
 * const h = measureHiccups(1000); // h.lostFraction 0.12: 12% of the time this thread could not run
 */
export function measureHiccups(durationMs = 1000, thresholdNs = 10_000): HiccupSummary {
  if (typeof durationMs !== 'number' || !(durationMs >= 1 && durationMs <= 60_000)) throw invalidRange('durationMs', 'a number of ms from 1 to 60000', durationMs);
  if (typeof thresholdNs !== 'number' || !(thresholdNs >= 100 && Number.isFinite(thresholdNs))) throw invalidRange('thresholdNs', 'a finite number of ns >= 100', thresholdNs);
  const stalls = new LatencyHistogram({ highestTrackableValue: 60e9, significantFigures: 2 });
  let lost = 0;
  const start = nowNs();
  const end = start + durationMs * 1e6;
  let last = start;
  for (;;) {
    const t = nowNs();
    const gap = t - last;
    if (gap > thresholdNs) {
      stalls.record(gap);
      lost += gap;
    }
    last = t;
    if (t >= end) break;
  }
  const seconds = (last - start) / 1e9;
  return {
    seconds,
    thresholdNs,
    stallsPerSecond: stalls.count / seconds,
    lostFraction: lost / (last - start),
    medianStallNs: stalls.count === 0 ? 0 : stalls.percentile(50),
    maxStallNs: stalls.count === 0 ? 0 : stalls.max,
  };
}
