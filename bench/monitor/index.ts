/**
 * `npm run bench -- monitor` (issue 15): the cost of recording into our histogram beside
 * prom-client's `Histogram.observe` and hdr-histogram-js, the cost of a monitoring tick, how
 * change-point analysis grows with series length, and the detector's false-positive and
 * detection rates. Assembled from the `part-*.ts` files in this folder (bench/lib/parts.ts).
 */
import { type BenchPart, loadParts, suiteFromParts } from '../lib/parts.js';

/** What each `part-*.ts` here exports as `part`. */
export type MonitorBenchPart = BenchPart;

export default suiteFromParts(
  {
    name: 'monitor',
    description: 'histogram record vs prom-client and hdr-histogram-js, monitoring tick cost, change-point analysis time and accuracy',
    timeMs: 1000,
    warmupMs: 250,
  },
  await loadParts(import.meta.url),
);
