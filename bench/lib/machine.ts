/** What a result file says about where it was measured. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import { dirname, join } from 'node:path';

import { backendInfo, packageRoot } from '../../lib/backend.js';

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
  tinybench: string;
}

export function machineInfo(): MachineInfo {
  const info = backendInfo();
  const require = createRequire(`${packageRoot}/package.json`);
  // tinybench exports only ".", so find its package.json next to its entry point.
  const entry = require.resolve('tinybench');
  const manifest = join(dirname(dirname(entry)), 'package.json');
  const tinybench = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
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
    tinybench,
  };
  if (info.nativeError !== undefined) machine.nativeError = info.nativeError;
  return machine;
}
