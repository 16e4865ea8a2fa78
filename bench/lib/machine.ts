/** What a result file says about where it was measured. */
import { availableParallelism, loadavg, totalmem } from 'node:os';

import { backendInfo } from '../../lib/backend.js';

export interface MachineInfo {
  cpu: { model: string; cores: number; features: string[] };
  node: string;
  v8: string;
  platform: string;
  arch: string;
  totalMemoryBytes: number;
  /** The backend the suite ran on: 'native' (CPU addon loaded) or 'ts'. */
  backend: 'native' | 'ts';
  /** ULTRA_PERF_BACKEND in force. */
  backendMode: string;
  nativeError?: string;
  cuda: boolean;
  gpus: string[];
  /** os.loadavg() (1, 5, 15 min) when the suite started: other work competes for the cores. */
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const info = backendInfo();
  const machine: MachineInfo = {
    cpu: info.cpu,
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    totalMemoryBytes: totalmem(),
    backend: info.native ? 'native' : 'ts',
    backendMode: info.mode,
    cuda: info.cuda,
    gpus: info.devices.map((d) => d.name),
    loadAverage: loadavg(),
  };
  if (info.nativeError !== undefined) machine.nativeError = info.nativeError;
  return machine;
}

export interface Load {
  /** 1-minute load average now. */
  load1: number;
  cores: number;
  /** True when the load leaves less than one idle core (load > cores - 1). */
  busy: boolean;
}

export function currentLoad(): Load {
  const cores = availableParallelism();
  const load1 = loadavg()[0]!;
  return { load1, cores, busy: load1 > cores - 1 };
}

/**
 * `load 0.42 (1 min) on 2 cores`, with a warning when another core is not idle: for results
 * that need idle cores (cross-thread round trips, threaded kernels).
 */
export function loadNote(load: Load = currentLoad()): string {
  const base = `load ${load.load1.toFixed(2)} (1 min) on ${load.cores} cores`;
  return load.busy ? `${base}  WARNING: load > cores - 1, so these threads share cores with other work; expect slower, noisier figures` : base;
}
