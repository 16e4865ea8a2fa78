/**
 * The monitoring part of `npm run bench -- monitor` (issue 15 items 6 and the histogram row):
 * - one `record` into our LatencyHistogram beside prom-client's `Histogram.observe` and
 *   hdr-histogram-js's `recordValue` (WASM and JS), on the same values;
 * - one monitoring tick (`PerformanceMetrics.sample()`) and the Node calls it is made of;
 * - the process CPU time PerformanceMetrics costs at 10 Hz (its event loop monitor, GC and
 *   memory observers and its tick timer, all running): rounds of the same wall time with and
 *   without it, alternated, the difference per wall second.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';

import * as hdr from 'hdr-histogram-js';
import { Histogram as PromHistogram, Registry as PromRegistry, exponentialBuckets } from 'prom-client';

import { LatencyHistogram, PerformanceMetrics } from '../../lib/monitor/index.js';
import { formatNs, table } from '../lib/format.mjs';
import { progressDetail } from '../lib/progress.js';
import type { Figure } from '../lib/suite.js';
import type { MonitorBenchPart } from './index.js';

const quick = process.argv.includes('--quick');

// The same 4096 values for every histogram: integer ns, log-uniform over 100 ns .. 1 ms
// (a fixed LCG, so every run records the same ones); prom-client gets them in seconds, as
// its users observe, converted here and not in the timed call.
const kValues = 4096;
const valuesNs = new Float64Array(kValues);
const valuesSeconds = new Float64Array(kValues);
let lcg = 12345;
for (let i = 0; i < kValues; i++) {
  lcg = (Math.imul(lcg, 1103515245) + 12345) >>> 0;
  valuesNs[i] = Math.round(100 * 10 ** ((4 * lcg) / 2 ** 32));
  valuesSeconds[i] = valuesNs[i]! / 1e9;
}

const ours = new LatencyHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, significantFigures: 3 });
// Microsecond-scale buckets (100 ns .. ~1.7 s, doubling): prom-client's defaults start at 5 ms.
const prom = new PromHistogram({
  name: 'bench_record_seconds',
  help: 'bench: one observe',
  buckets: exponentialBuckets(1e-7, 2, 24),
  registers: [new PromRegistry()],
});
await hdr.initWebAssembly();
const hdrOptions = { lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3 as const };
const hdrWasm = hdr.build({ ...hdrOptions, useWebAssembly: true });
const hdrJs = hdr.build({ ...hdrOptions, useWebAssembly: false });

let iOurs = 0;
let iProm = 0;
let iWasm = 0;
let iJs = 0;

// A monitor that never ticks on its own (interval 1 h): the bench calls sample() itself.
const ticking = new PerformanceMetrics();

interface CpuRound {
  withMs: number;
  withoutMs: number;
  wallMs: number;
}

/** CPU (user + system) this process uses while sleeping `ms`, µs. */
async function cpuOver(ms: number): Promise<{ cpuUs: number; wallMs: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await sleep(ms);
  const c = process.cpuUsage(c0);
  return { cpuUs: c.user + c.system, wallMs: performance.now() - t0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const part: MonitorBenchPart = {
  name: 'metrics',
  groups: [
    {
      name: 'histogram record',
      description: 'one record of a latency (log-uniform 100 ns .. 1 ms, the same 4096 values; prom-client observes them in seconds, 24 buckets from 100 ns)',
      tasks: [
        {
          name: 'LatencyHistogram.record',
          fn: () => {
            ours.record(valuesNs[(iOurs = (iOurs + 1) & (kValues - 1))]!);
            return iOurs;
          },
        },
        {
          name: 'prom-client Histogram.observe',
          fn: () => {
            prom.observe(valuesSeconds[(iProm = (iProm + 1) & (kValues - 1))]!);
            return iProm;
          },
        },
        {
          name: 'hdr-histogram-js recordValue (WASM)',
          fn: () => {
            hdrWasm.recordValue(valuesNs[(iWasm = (iWasm + 1) & (kValues - 1))]!);
            return iWasm;
          },
        },
        {
          name: 'hdr-histogram-js recordValue (JS)',
          fn: () => {
            hdrJs.recordValue(valuesNs[(iJs = (iJs + 1) & (kValues - 1))]!);
            return iJs;
          },
        },
      ],
    },
    {
      name: 'monitoring tick',
      description: 'one PerformanceMetrics tick (CPU, event loop utilization, heap used into its rings), the Node calls it is made of, and process.memoryUsage() (left out of the tick)',
      tasks: [
        { name: 'PerformanceMetrics.sample()', fn: () => ticking.sample(), beforeAll: () => void ticking.startMonitoring({ intervalMs: 3_600_000 }) },
        { name: 'process.cpuUsage()', fn: () => process.cpuUsage() },
        { name: 'performance.eventLoopUtilization()', fn: () => performance.eventLoopUtilization() },
        { name: 'v8.getHeapStatistics()', fn: () => getHeapStatistics() },
        { name: 'process.memoryUsage()', fn: () => process.memoryUsage() },
      ],
    },
  ],
  extras: async () => {
    if (ticking.monitoring) ticking.stopMonitoring();
    const rounds = quick ? 2 : 6;
    const roundMs = quick ? 500 : 2000;
    const results: CpuRound[] = [];
    for (let r = 0; r < rounds; r++) {
      progressDetail(`monitoring overhead, round ${r + 1}/${rounds}: ${roundMs} ms idle without, then with PerformanceMetrics at 10 Hz`);
      const without = await cpuOver(roundMs);
      const metrics = new PerformanceMetrics().startMonitoring({ intervalMs: 100 });
      const withIt = await cpuOver(roundMs);
      const ticks = metrics.stopMonitoring().ticks;
      if (ticks < (roundMs / 100) * 0.8) throw new Error(`monitoring ticked ${ticks} times in ${roundMs} ms at 10 Hz`);
      results.push({ withMs: withIt.cpuUs / 1000, withoutMs: without.cpuUs / 1000, wallMs: (without.wallMs + withIt.wallMs) / 2 });
    }
    // Extra CPU per wall second, ns, per round; its median is the figure.
    const overheadNsPerSecond = results.map((r) => ((r.withMs - r.withoutMs) * 1e6) / (r.wallMs / 1000));
    const medianOverhead = median(overheadNsPerSecond);
    const percentOfOneCore = medianOverhead / 1e7;
    const group = 'monitoring overhead';
    console.log(`\n-- ${group}: process CPU over ${roundMs} ms of idle wall time, without and with PerformanceMetrics at 10 Hz, ${rounds} rounds alternated`);
    console.log(
      table(
        ['round', 'CPU without', 'CPU with', 'extra CPU per wall second', 'share of one core'],
        results.map((r, i) => [
          String(i + 1),
          formatNs(r.withoutMs * 1e6),
          formatNs(r.withMs * 1e6),
          formatNs(overheadNsPerSecond[i]!),
          `${(overheadNsPerSecond[i]! / 1e7).toFixed(4)} %`,
        ]),
      ),
    );
    console.log(`  median: ${formatNs(medianOverhead)} of CPU per second = ${percentOfOneCore.toFixed(4)} % of one core (target <= 0.1 %)`);
    const figures: Figure[] = [{ group, name: 'extra CPU per wall second at 10 Hz', unit: 'ns', median: medianOverhead }];
    return {
      figures,
      overhead: {
        method: `process.cpuUsage() over ${roundMs} ms idle rounds, alternately without and with new PerformanceMetrics().startMonitoring({ intervalMs: 100 }) (event loop monitor at 10 ms resolution, GC and memory observers, tick timer)`,
        rounds: results,
        extraCpuNsPerWallSecond: overheadNsPerSecond,
        medianExtraCpuNsPerWallSecond: medianOverhead,
        medianPercentOfOneCore: percentOfOneCore,
        targetPercentOfOneCore: 0.1,
        met: percentOfOneCore <= 0.1,
      },
    };
  },
};
