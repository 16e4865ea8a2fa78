/** The named built-in workloads `latency/benchmark-function` may time (never user code). */
import type { Workload } from './index.js';

export const latencyWorkloads: Record<string, Workload> = {};
