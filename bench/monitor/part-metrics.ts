/**
 * The monitoring part of `npm run bench -- monitor` (issue 15 items 6 and the histogram row):
 * - one `record` into our LatencyHistogram beside prom-client's `Histogram.observe` and
 *   hdr-histogram-js's `recordValue` (WASM and JS), on the same values;
 * - one monitoring tick (`PerformanceMetrics.sample()`) and the Node calls it is made of;
 * - the process CPU time PerformanceMetrics costs at 10 Hz (its tick timer, GC and memory
 *   observers) while the process is otherwise idle, beside a bare 10 Hz timer, the native
 *   event loop monitor alone and PerformanceMetrics with it added: the same wall time for
 *   each, alternated in rounds, each minus a round of nothing in the same round.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';

import * as hdr from 'hdr-histogram-js';
import { Histogram as PromHistogram, Registry as PromRegistry, exponentialBuckets } from 'prom-client';

import { EventLoopMonitor, LatencyHistogram, PerformanceMetrics } from '../../lib/monitor/index.js';
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

/** CPU (user + system, all threads) this process uses while its main thread sleeps `ms`, in ns per wall second. */
async function cpuOver(ms: number): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await sleep(ms);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / ((performance.now() - t0) / 1000);
}

/** What runs during a round, started before and stopped after it. */
const kConditions: { name: string; start: () => () => void }[] = [
  { name: 'nothing', start: () => () => undefined },
  {
    name: 'an empty setInterval at 10 Hz',
    start: () => {
      const t = setInterval(() => undefined, 100);
      return () => clearInterval(t);
    },
  },
  {
    name: 'EventLoopMonitor alone (10 ms resolution)',
    start: () => {
      const loop = new EventLoopMonitor().start();
      return () => void loop.stop();
    },
  },
  {
    name: 'PerformanceMetrics at 10 Hz + eventLoopResolutionMs 10',
    start: () => {
      const metrics = new PerformanceMetrics({ eventLoopResolutionMs: 10 }).startMonitoring({ intervalMs: 100 });
      return () => void metrics.stopMonitoring();
    },
  },
  // Last: the figure judged against the target.
  {
    name: 'PerformanceMetrics at 10 Hz',
    start: () => {
      const metrics = new PerformanceMetrics().startMonitoring({ intervalMs: 100 });
      return () => void metrics.stopMonitoring();
    },
  },
];

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
    const rounds = quick ? 2 : 5;
    const roundMs = quick ? 500 : 2000;
    // Conditions alternated within each round, so load from other processes falls on all alike.
    const cpu: number[][] = kConditions.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (let c = 0; c < kConditions.length; c++) {
        progressDetail(`monitoring overhead, round ${r + 1}/${rounds}: ${roundMs} ms idle with ${kConditions[c]!.name}`);
        const stop = kConditions[c]!.start();
        cpu[c]!.push(await cpuOver(roundMs));
        stop();
      }
    }
    const base = cpu[0]!;
    const extra = cpu.map((xs) => median(xs.map((x, r) => x - base[r]!)));
    const full = extra[kConditions.length - 1]!;
    const percentOfOneCore = full / 1e7;
    const group = 'monitoring overhead';
    console.log(`\n-- ${group}: process CPU (all threads) while idle for ${roundMs} ms, by what runs; median over ${rounds} rounds of the extra over 'nothing' in the same round`);
    console.log(
      table(
        ['running', 'CPU per wall second', 'extra over nothing', 'share of one core'],
        kConditions.map((k, c) => [k.name, formatNs(median(cpu[c]!)), formatNs(extra[c]!), `${(extra[c]! / 1e7).toFixed(4)} %`]),
      ),
    );
    console.log(`  PerformanceMetrics at 10 Hz: ${formatNs(full)} of CPU per second = ${percentOfOneCore.toFixed(4)} % of one core (target <= 0.1 %)`);
    const figures: Figure[] = [{ group, name: 'PerformanceMetrics at 10 Hz, extra CPU per wall second', unit: 'ns', median: full }];
    return {
      figures,
      overhead: {
        method: `process.cpuUsage() over ${roundMs} ms of idle wall time per condition, conditions alternated in each of ${rounds} rounds; extra = condition minus 'nothing' in the same round, median over rounds; the figure is the last condition (defaults: event loop delay from the tick)`,
        conditions: kConditions.map((k, c) => ({ name: k.name, cpuNsPerWallSecond: cpu[c], medianExtraNsPerWallSecond: extra[c] })),
        medianPercentOfOneCore: percentOfOneCore,
        targetPercentOfOneCore: 0.1,
        met: percentOfOneCore <= 0.1,
      },
    };
  },
};
