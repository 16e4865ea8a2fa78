/**
 * Builds test/fixtures/fake-nvml.c into a shared library (once per process) for the GpuMonitor
 * and Prometheus tests: NVML's load, init and parsing paths, run for real without a GPU.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let built: string | undefined;

/** Path of the fake libnvidia-ml; throws with the compiler's message when it cannot be built. */
export function fakeNvmlPath(): string {
  if (built !== undefined) return built;
  const out = join(mkdtempSync(join(tmpdir(), 'fake-nvml-')), 'libfake-nvml.so');
  const source = fileURLToPath(new URL('../fixtures/fake-nvml.c', import.meta.url));
  execFileSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-O1', '-Wall', '-o', out, source], { stdio: 'pipe' });
  built = out;
  return out;
}
