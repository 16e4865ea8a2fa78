import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/backend.js';

// The install script on a copy of the sources: a native build that cannot succeed
// must print one warning and exit 0, so `npm install` never fails because of it.
describe('install script (scripts/build-native.mjs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'up-install-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['package.json', 'binding.gyp', 'cpp', 'scripts']) cpSync(join(packageRoot, p), join(dir, p), { recursive: true });
  symlinkSync(join(packageRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');

  function install(env: Record<string, string>) {
    return spawnSync(process.execPath, ['scripts/build-native.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ULTRA_PERF_SKIP_CUDA: '1', ...env },
    });
  }

  it('warns once and exits 0 when the compiler fails', () => {
    const r = install({ CXX: 'false', CC: 'false' });
    expect(r.status).toBe(0);
    const warnings = r.stderr.match(/ultra-performance: the CPU addon \(node-gyp\) failed to build/g) ?? [];
    expect(warnings).toHaveLength(1);
    expect(r.stderr).toMatch(/the pure-TypeScript backend will be used instead/);
    expect(existsSync(join(dir, 'build', 'Release', 'ultra_performance.node'))).toBe(false);
  });

  const hasDriver = existsSync('/proc/driver/nvidia/version') || existsSync('/dev/nvidiactl');
  it.runIf(process.platform === 'linux' && !hasDriver)('does not spend minutes on a GPU addon no driver could load, unless asked', () => {
    const r = install({ CXX: 'false', CC: 'false', ULTRA_PERF_SKIP_CUDA: '', ULTRA_PERF_BUILD_CUDA: '' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/building the CPU addon \(node-gyp\)/);
    expect(r.stdout).toMatch(/no NVIDIA driver on this machine, GPU addon not built \(ULTRA_PERF_BUILD_CUDA=1 builds it anyway/);
  });

  it('builds nothing and says so with ULTRA_PERF_SKIP_NATIVE=1', () => {
    const r = install({ ULTRA_PERF_SKIP_NATIVE: '1' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/native build skipped/);
  });
});
