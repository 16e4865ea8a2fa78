#!/usr/bin/env node
// Builds the CPU addon (node-gyp) and, where nvcc and an NVIDIA driver exist (or when
// ULTRA_PERF_BUILD_CUDA=1 asks), the GPU addon (cmake-js). Each step says what it builds and
// how long it took; ULTRA_PERF_SKIP_NATIVE=1 / ULTRA_PERF_SKIP_CUDA=1 skip them.
// A failed native build prints one warning and exits 0: the pure-TS backend still works.
// A consumer with a prebuild for this platform builds nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const force = process.argv.includes('--force');
const isCheckout = existsSync(join(root, 'lib')) || existsSync(join(root, '.git'));
const verbose = process.env.ULTRA_PERF_BUILD_VERBOSE === '1';

function warn(what, detail) {
  const tail = detail.trim().split('\n').slice(-15).join('\n');
  console.warn(
    `ultra-performance: ${what}; the pure-TypeScript backend will be used instead.\n` +
      `  Run "npm run build:native" in the package to see the full log. Last lines:\n` +
      tail.replace(/^/gm, '    '),
  );
}

function run(cmd, args, what) {
  const started = Date.now();
  console.log(`ultra-performance: building the ${what}${verbose || force ? '' : ' (ULTRA_PERF_BUILD_VERBOSE=1 shows the log)'}`);
  const res = spawnSync(cmd, args, {
    cwd: root,
    encoding: 'utf8',
    stdio: verbose || force ? 'inherit' : 'pipe',
    maxBuffer: 64 << 20,
  });
  if (res.status === 0) {
    console.log(`ultra-performance: built ${what} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return true;
  }
  const detail = res.error ? String(res.error) : `${res.stdout ?? ''}\n${res.stderr ?? ''}`;
  warn(`the ${what} failed to build (exit ${res.status ?? res.signal})`, detail);
  return false;
}

function hasPrebuild() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.node'));
}

function resolveBin(pkg, bin) {
  try {
    return join(dirname(require.resolve(`${pkg}/package.json`)), bin);
  } catch {
    return null;
  }
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

if (process.env.ULTRA_PERF_SKIP_NATIVE === '1') {
  console.log('ultra-performance: ULTRA_PERF_SKIP_NATIVE=1, native build skipped');
  process.exit(0);
}

if (!force && !isCheckout && hasPrebuild()) {
  console.log('ultra-performance: using the prebuilt addon for this platform');
  process.exit(0);
}

const nodeGyp = resolveBin('node-gyp', 'bin/node-gyp.js');
if (nodeGyp === null) {
  warn('node-gyp is not installed, so the CPU addon was not built', '');
} else {
  run(process.execPath, [nodeGyp, 'rebuild', '--jobs=max'], 'CPU addon (node-gyp)');
}

// The same test lib/backend.ts makes before it probes the GPU addon: without a driver the
// addon could never load, so building it (a minute of nvcc) is only worth it when asked.
// /dev/dxg is WSL2's GPU node (no /proc/driver/nvidia there).
const hasDriver =
  process.platform !== 'linux' || ['/proc/driver/nvidia/version', '/dev/nvidiactl', '/dev/dxg'].some((p) => existsSync(p));
const nvcc = process.env.CUDACXX || which('nvcc') || (existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
if (process.env.ULTRA_PERF_SKIP_CUDA === '1') {
  console.log('ultra-performance: ULTRA_PERF_SKIP_CUDA=1, GPU addon skipped');
} else if (!hasDriver && process.env.ULTRA_PERF_BUILD_CUDA !== '1') {
  console.log(
    'ultra-performance: no NVIDIA driver on this machine, GPU addon not built ' +
      '(ULTRA_PERF_BUILD_CUDA=1 builds it anyway, e.g. to check the kernels compile)',
  );
} else if (nvcc === null) {
  console.log('ultra-performance: nvcc not found, GPU addon skipped (CPU and TS backends unaffected)');
} else {
  const cmakeJs = resolveBin('cmake-js', 'bin/cmake-js');
  if (cmakeJs === null) warn('cmake-js is not installed, so the GPU addon was not built', '');
  else if (which('cmake') === null) warn('cmake is not on PATH, so the GPU addon was not built', '');
  else {
    process.env.CUDACXX = nvcc;
    run(process.execPath, [cmakeJs, 'compile', '--out', 'build-cuda'], 'GPU addon (cmake-js, nvcc)');
  }
}
