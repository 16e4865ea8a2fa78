/**
 * The regression detector's part of `npm run bench -- monitor`: how long change-point analysis
 * takes as the series grows (100 … 100,000 points, one whole analysis per sample), what
 * appending one point to a 1,000-point history costs against re-analysing it, and the
 * false-positive and detection rates of changePoints on seeded synthetic series (5% CV
 * normal noise), with Otava's uncorrected t-test beside ours. The rates are deterministic;
 * a --quick run uses 200 series per rate instead of 1,000.
 */
import { ChangePointDetector, changePoints } from '../../lib/monitor/change-points.js';
import { nowNs } from '../../lib/monitor/clock.js';
import { seeded } from '../../test/fixtures/seeded.js';
import { formatNs, table } from '../lib/format.mjs';
import type { Figure } from '../lib/suite.js';
import type { MonitorBenchPart } from './index.js';

const quick = process.argv.includes('--quick');

/** n points around 100 with 5% CV; from `at` on the mean is 100 · (1 + step). */
function series(seed: number, n: number, step = 0, at = n): Float64Array {
  const u = seeded(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    out[i] = (i >= at ? 100 * (1 + step) : 100) * (1 + 0.05 * z);
  }
  return out;
}

const kLengths = [100, 1_000, 10_000, 100_000];
const inputs = new Map(kLengths.map((n) => [n, series(7, n, 0.1, n >> 1)]));

interface Rate {
  what: string;
  length: number;
  pValue: number;
  correction: 'bonferroni' | 'none';
  series: number;
  hits: number;
  percent: number;
}

function falsePositives(length: number, pValue: number, correction: 'bonferroni' | 'none', count: number): Rate {
  let hits = 0;
  const options = correction === 'none' ? { pValue, correction, minSize: 1 } : { pValue };
  for (let seed = 0; seed < count; seed++) if (changePoints(series(seed, length), options).length > 0) hits++;
  return { what: 'no change: series with any change point', length, pValue, correction, series: count, hits, percent: (100 * hits) / count };
}

function detections(length: number, pValue: number, count: number): Rate {
  let hits = 0;
  const at = length >> 1;
  for (let seed = 0; seed < count; seed++) {
    if (changePoints(series(10_000 + seed, length, 0.1, at), { pValue }).some((c) => Math.abs(c.index - at) <= 10)) hits++;
  }
  return { what: '10% step at 5% CV: found within 10 points', length, pValue, correction: 'bonferroni', series: count, hits, percent: (100 * hits) / count };
}

function medianOf(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export const part: MonitorBenchPart = {
  name: 'detector',
  groups: [
    {
      name: 'change points vs length',
      description: 'changePoints(series, { pValue: 0.01 }) on a 10% step at 5% CV, whole analysis per sample',
      tasks: kLengths.map((n) => ({
        name: `changePoints ${n.toLocaleString('en-US')} points`,
        mode: 'per-call' as const,
        minSamples: n >= 100_000 ? 5 : 10,
        fn: () => changePoints(inputs.get(n)!, { pValue: 0.01 }),
      })),
    },
  ],
  extras: async () => {
    const count = quick ? 200 : 1000;
    // appending one point to a 1,000-point history vs analysing the 1,001 points again
    const base = series(11, 1200, 0.1, 600);
    const appendNs: number[] = [];
    const wholeNs: number[] = [];
    for (let k = 0; k < (quick ? 50 : 200); k++) {
      const d = new ChangePointDetector({ pValue: 0.01 });
      d.append(base.subarray(0, 1000 + (k % 100)));
      const t0 = nowNs();
      d.append(base[1000 + (k % 100)]!);
      appendNs.push(nowNs() - t0);
      const t1 = nowNs();
      changePoints(base.subarray(0, 1001 + (k % 100)), { pValue: 0.01 });
      wholeNs.push(nowNs() - t1);
    }
    const rates: Rate[] = [
      falsePositives(100, 0.01, 'bonferroni', count),
      falsePositives(500, 0.01, 'bonferroni', count),
      falsePositives(100, 0.001, 'bonferroni', count),
      falsePositives(100, 0.01, 'none', count),
      detections(100, 0.01, count),
      detections(100, 0.001, count),
      detections(500, 0.01, count),
    ];
    console.log('\n-- detector: change-point accuracy on seeded synthetic series (normal noise, 5% CV)');
    console.log(
      table(
        ['series', 'points', 'p', 'test', 'series hit', 'rate'],
        rates.map((r) => [r.what, String(r.length), String(r.pValue), r.correction === 'none' ? "Otava's raw t-test" : 'Bonferroni over splits', `${r.hits} / ${r.series}`, `${r.percent.toFixed(1)}%`]),
        ['l', 'r', 'r', 'l', 'r', 'r'],
      ),
    );
    const append = medianOf(appendNs);
    const whole = medianOf(wholeNs);
    console.log(`  incremental: append(1 point) to ~1,000 points ${formatNs(append)} (median of ${appendNs.length}) vs whole re-analysis ${formatNs(whole)}`);
    const figures: Figure[] = [
      { group: 'detector', name: 'ChangePointDetector.append 1 point to ~1,000', unit: 'ns', median: append },
      { group: 'detector', name: 'changePoints ~1,000 points (whole)', unit: 'ns', median: whole },
    ];
    return { figures, rates, appendNs: append, wholeNs: whole };
  },
};
