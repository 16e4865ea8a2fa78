/**
 * The pipeline's loop allocates nothing per record (lib/pipeline/run.ts). In a file of its
 * own: V8 inlines on the types a call site has seen, and a process running one configuration
 * (one clock, one gate, one strategy) is what this checks, not the mix the other suites feed it.
 */
import { GCProfiler } from 'node:v8';

import { describe, expect, it } from 'vitest';

import { runPipeline } from '../lib/pipeline/index.js';
import { StandInBook, SyntheticSource } from './fixtures/pipeline-synthetic.js';

const backend = process.env.ULTRA_PERF_BACKEND === 'native' ? 'native' : 'ts';
const makeBook = () => new StandInBook();

describe('runPipeline allocation', () => {
  it('allocates nothing per record (GC profiler: a longer run allocates no more than a shorter one)', () => {
    const source = new SyntheticSource('AAA', 60_000, 4);
    const bytes = (records: number) => {
      const profiler = new GCProfiler();
      const before = process.memoryUsage().heapUsed;
      profiler.start();
      runPipeline({ sources: [source], backend, makeBook, records, sampleEvery: 8 });
      const after = process.memoryUsage().heapUsed;
      const { statistics } = profiler.stop();
      let total = 0;
      let last = before;
      for (const gc of statistics) {
        total += gc.beforeGC.heapStatistics.usedHeapSize - last;
        last = gc.afterGC.heapStatistics.usedHeapSize;
      }
      return total + after - last;
    };
    // Warm up (JIT) first, then compare a short and a long run: setup allocates the same. The
    // best of three pairs: on a busy machine the optimised code can arrive late (V8 compiles
    // it on a background thread), and a run that started in unoptimised code boxes numbers.
    for (let i = 0; i < 4; i++) bytes(60_000);
    let perRecord = Infinity;
    for (let i = 0; i < 3; i++) perRecord = Math.min(perRecord, (bytes(60_000) - bytes(10_000)) / 50_000);
    // The stages are the same JS on both backends. On 'ts' the MatchingEngine's TS core
    // allocates (its order-id Map's tables as ids churn, boxed values in its top refresh:
    // ~30 bytes per record here, seen with the sampling heap profiler); the native core
    // allocates nothing, so the native run is the bound on the pipeline's own stages.
    expect(perRecord).toBeLessThan(backend === 'native' ? 1 : 64);
  });
});
