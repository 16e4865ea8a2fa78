/**
 * The floor: what the cheapest things cost on this machine, so every other number has a
 * yardstick. (a) crossing into the CPU addon vs an empty JS call; (b) the clocks a latency
 * measurement can use; (c) recording one latency into each histogram we considered
 * (lib/monitor/histogram.ts says which won and why); (d) what monitorLatency() adds.
 */
import { createHistogram } from 'node:perf_hooks';

import hdr from 'hdr-histogram-js';

import { cpuAddon, backendInfo } from '../../lib/backend.js';
import { LatencyHistogram, MicrosecondTimer, latencyRegistry, monitorLatency } from '../../lib/monitor/index.js';
import { defineSuite, formatNs, formatRatio, table } from '../lib/index.js';

const kHighest = 3_600_000_000_000;
const kFigures = 3;

/** 4096 latencies, log-uniform over 100 ns .. 1 ms, from a fixed LCG so every run records the same values. */
const values = new Int32Array(4096);
{
  let s = 0x2545f491;
  for (let i = 0; i < values.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = Math.round(100 * 10_000 ** (s / 2 ** 32));
  }
}

hdr.initWebAssemblySync();
const ours = new LatencyHistogram({ highestTrackableValue: kHighest, significantFigures: kFigures });
const node = createHistogram({ lowest: 1, highest: kHighest, figures: kFigures });
const hdrWasm = hdr.build({ useWebAssembly: true, autoResize: false, highestTrackableValue: kHighest, numberOfSignificantValueDigits: kFigures });
const hdrJs = hdr.build({ useWebAssembly: false, autoResize: false, highestTrackableValue: kHighest, numberOfSignificantValueDigits: kFigures });

// Each recorder walks the same values with its own cursor.
const cursor = { ours: 0, node: 0, wasm: 0, js: 0, base: 0, arg: 0 };

const noNative = cpuAddon === null ? `the CPU addon is not loaded (${backendInfo().nativeError ?? 'unknown reason'})` : undefined;
const addon = cpuAddon;
const emptyJs = (): void => {};

const timer = new MicrosecondTimer();
const plain = (x: number): number => x + 1;
const monitored = monitorLatency('floor.monitored', plain);

export default defineSuite({
  name: 'floor',
  description: 'native call floor, clocks, histogram record, monitorLatency overhead',
  timeMs: 1500,
  warmupMs: 250,
  groups: [
    {
      name: 'native-call',
      description: 'an empty call into the CPU addon vs an empty JS function (inlined by the JIT)',
      tasks: [
        { name: 'empty JS function', fn: emptyJs },
        { name: 'cpuAddon.noop()', fn: () => addon!.noop(), ...(noNative ? { skip: noNative } : {}) },
      ],
    },
    {
      name: 'native-call-tail',
      description: 'the same calls timed one by one (per-call mode; clock jitter dominates below ~100 ns)',
      tasks: [
        { name: 'empty JS function, per call', fn: emptyJs, mode: 'per-call' },
        { name: 'cpuAddon.noop(), per call', fn: () => addon!.noop(), mode: 'per-call', ...(noNative ? { skip: noNative } : {}) },
      ],
    },
    {
      name: 'clock',
      description: 'one timing = two clock reads: MicrosecondTimer pairs (raw cost, nothing subtracted) vs the clocks',
      tasks: [
        {
          name: 'MicrosecondTimer start()+stopNs()',
          fn: () => {
            timer.start();
            return timer.stopNs();
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'MicrosecondTimer start()+stop()',
          fn: () => {
            timer.start();
            return timer.stop();
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'performance.now() x2',
          fn: () => {
            const t0 = performance.now();
            return performance.now() - t0;
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'process.hrtime.bigint() x2',
          fn: () => {
            const t0 = process.hrtime.bigint();
            return Number(process.hrtime.bigint() - t0);
          },
          allocationCheck: 2_000_000,
        },
      ],
    },
    {
      name: 'histogram-record',
      description: `record one latency (ns, 1..${kHighest}, ${kFigures} significant figures)`,
      tasks: [
        { name: 'LatencyHistogram.record', fn: () => ours.record(values[cursor.ours++ & 4095]!), allocationCheck: 10_000_000 },
        { name: 'perf_hooks histogram.record', fn: () => node.record(values[cursor.node++ & 4095]!), allocationCheck: 10_000_000 },
        { name: 'hdr-histogram-js wasm recordValue', fn: () => hdrWasm.recordValue(values[cursor.wasm++ & 4095]!), allocationCheck: 10_000_000 },
        { name: 'hdr-histogram-js js recordValue', fn: () => hdrJs.recordValue(values[cursor.js++ & 4095]!), allocationCheck: 10_000_000 },
        // What every row above pays for the loop and for fetching its value.
        { name: 'harness only (fetch the value)', fn: () => values[cursor.base++ & 4095] },
      ],
    },
    {
      name: 'monitor-latency',
      description: 'a small function called plainly vs through monitorLatency() (two clock reads + record)',
      tasks: [
        { name: 'plain call', fn: () => plain(cursor.arg++ & 1023), allocationCheck: 2_000_000 },
        { name: 'monitorLatency wrapper', fn: () => monitored(cursor.arg++ & 1023), allocationCheck: 2_000_000 },
      ],
    },
  ],
  extras: () => {
    // What an empty start()/stop() pair reads, before and after the overhead is subtracted.
    const raw = new LatencyHistogram();
    let zeros = 0;
    const t = new MicrosecondTimer();
    for (let i = 0; i < 1_000_000; i++) {
      t.start();
      t.stopNs();
      raw.record(t.rawElapsedNs());
      if (t.elapsedNs() === 0) zeros++;
    }
    // The four histograms fed the same 100 * 4096 values agree within their precision.
    const agree = {
      ours: new LatencyHistogram({ highestTrackableValue: kHighest, significantFigures: kFigures }),
      node: createHistogram({ lowest: 1, highest: kHighest, figures: kFigures }),
      wasm: hdr.build({ useWebAssembly: true, autoResize: false, highestTrackableValue: kHighest, numberOfSignificantValueDigits: kFigures }),
      js: hdr.build({ useWebAssembly: false, autoResize: false, highestTrackableValue: kHighest, numberOfSignificantValueDigits: kFigures }),
    };
    for (let r = 0; r < 100; r++) {
      for (const v of values) {
        agree.ours.record(v);
        agree.node.record(v);
        agree.wasm.recordValue(v);
        agree.js.recordValue(v);
      }
    }
    const pick = (f: (p: number) => number): Record<string, number> => ({ p50: f(50), p99: f(99), p999: f(99.9) });
    const result = {
      timerOverheadNs: MicrosecondTimer.overheadNs,
      emptyStartStopRawNs: { p50: raw.percentile(50), p99: raw.percentile(99), p999: raw.percentile(99.9), max: raw.max },
      emptyStartStopZeroAfterSubtraction: zeros / 1_000_000,
      percentileAgreement: {
        LatencyHistogram: pick((p) => agree.ours.percentile(p)),
        perf_hooks: pick((p) => agree.node.percentile(p)),
        'hdr-histogram-js wasm': pick((p) => agree.wasm.getValueAtPercentile(p)),
        'hdr-histogram-js js': pick((p) => agree.js.getValueAtPercentile(p)),
      },
      monitorLatencyRecorded: latencyRegistry.get('floor.monitored')?.count ?? 0,
    };
    agree.wasm.destroy();
    hdrWasm.destroy();
    const e = result.emptyStartStopRawNs;
    console.log('\n-- an empty MicrosecondTimer start()/stopNs() pair, 1,000,000 times (raw, nothing subtracted)');
    console.log(
      table(
        ['calibrated overhead', 'p50', 'p99', 'p99.9', 'max', 'reads 0 after subtracting'],
        [[formatNs(result.timerOverheadNs), formatNs(e.p50), formatNs(e.p99), formatNs(e.p999), formatNs(e.max), `${(result.emptyStartStopZeroAfterSubtraction * 100).toFixed(1)}%`]],
        ['r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    console.log('\n-- the four histograms fed the same 409,600 values agree within their precision');
    const ref = result.percentileAgreement.LatencyHistogram;
    console.log(
      table(
        ['histogram', 'p50', 'p99', 'p99.9', 'p99.9 vs ours'],
        Object.entries(result.percentileAgreement).map(([name, v]) => [name, formatNs(v.p50!), formatNs(v.p99!), formatNs(v.p999!), formatRatio(v.p999! / ref.p999!)]),
      ),
    );
    console.log(`  monitorLatency recorded ${result.monitorLatencyRecorded.toLocaleString('en-US')} calls of floor.monitored`);
    return result;
  },
});
