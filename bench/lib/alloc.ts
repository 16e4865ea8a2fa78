/**
 * Allocation check: runs an operation N times in a compiled loop (after two warm-up runs, so
 * the loop is optimised) under v8.GCProfiler, and reports the bytes the heap grew by plus the bytes
 * every GC in between freed. A loop that allocates nothing reports ~0 bytes/op and no GC; one
 * boxed double per call (16 bytes) shows as ~16 bytes/op and a scavenge every ~1M calls.
 */
import { GCProfiler, getHeapStatistics } from 'node:v8';

import { compileLoop } from './loop.js';

export interface AllocationResult {
  iterations: number;
  /** Estimated heap bytes allocated per call of the operation. */
  bytesPerOp: number;
  /** Garbage collections that ran during the measured loop. */
  gcCount: number;
  /** Estimated heap bytes allocated over the whole loop. */
  bytesTotal: number;
}

export function measureAllocation(op: () => unknown, iterations: number): AllocationResult {
  const state = { k: Math.max(200_000, Math.floor(iterations / 10)), sink: undefined as unknown };
  const loop = compileLoop(op, state);
  // Twice: the first run triggers optimisation (compiled on a background thread), the
  // second runs the optimised code, so the measured run is not paying for tier-up.
  loop();
  loop();
  state.k = iterations;
  const profiler = new GCProfiler();
  const before = getHeapStatistics().used_heap_size;
  profiler.start();
  loop();
  const after = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let bytes = 0;
  let last = before;
  for (const gc of statistics) {
    bytes += gc.beforeGC.heapStatistics.usedHeapSize - last;
    last = gc.afterGC.heapStatistics.usedHeapSize;
  }
  bytes += after - last;
  bytes = Math.max(0, bytes);
  return { iterations, bytesPerOp: bytes / iterations, gcCount: statistics.length, bytesTotal: bytes };
}
