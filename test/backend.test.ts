import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { BackendUnavailableError, backendInfo, gpu } from '../lib/index.js';
import {
  cudaAddon,
  cudaAddonCandidates,
  kMinComputeCapability,
  nvidiaDriverPresent,
  packageRoot,
  probeCudaAddon,
  usableDevices,
} from '../lib/backend.js';
import type { CudaDeviceRecord, CudaProbe } from '../lib/addon-types.js';
import { CUDA_ABI_VERSION } from '../lib/addon-types.js';

const mode = process.env.ULTRA_PERF_BACKEND;

describe('backendInfo()', () => {
  it('reports the backend this suite was asked for', () => {
    const info = backendInfo();
    expect(info.mode).toBe(mode);
    if (mode === 'native') {
      expect(info.native).toBe(true);
      expect(info.nativeError).toBeUndefined();
    } else {
      expect(info.native).toBe(false);
      expect(info.nativeError).toBe('disabled by ULTRA_PERF_BACKEND=ts');
      expect(info.cuda).toBe(false);
      expect(info.cudaError).toBe('disabled by ULTRA_PERF_BACKEND=ts');
    }
  });

  it('says why there is no GPU whenever there is none', () => {
    const info = backendInfo();
    if (info.cuda) {
      expect(info.devices.length).toBeGreaterThan(0);
    } else {
      expect(info.devices).toEqual([]);
      expect(info.cudaError).toMatch(/\w/);
    }
  });

  it('returns a copy the caller cannot use to change the library state', () => {
    const a = backendInfo();
    a.cpu.features.push('made-up');
    a.devices.push({ index: 9, name: 'x', totalMemory: 0, computeCapability: '0.0', multiprocessors: 0, pciBusId: '' });
    const b = backendInfo();
    expect(b.cpu.features).not.toContain('made-up');
    expect(b.devices.length).toBe(a.devices.length - 1);
  });
});

describe.runIf(!gpu.available())('gpu without a device', () => {
  it('answers queries and refuses work with the loader reason', () => {
    expect(gpu.available()).toBe(false);
    expect(gpu.devices()).toEqual([]);
    for (const call of [() => gpu.selectDevice(0), () => gpu.memoryInfo(), () => gpu.currentDevice(), () => gpu.selfTest()]) {
      expect(call).toThrow(BackendUnavailableError);
      expect(call).toThrow(/needs a CUDA device: /);
    }
  });
});

describe.runIf(gpu.available())('gpu with a device', () => {
  it('lists devices with name, memory and compute capability, and runs a kernel', () => {
    const [first] = gpu.devices();
    expect(first!.name.length).toBeGreaterThan(0);
    expect(first!.totalMemory).toBeGreaterThan(0);
    expect(first!.computeCapability).toMatch(/^\d+\.\d+$/);
    gpu.selectDevice(0);
    expect(gpu.currentDevice()).toBe(0);
    const mem = gpu.memoryInfo();
    expect(mem.free).toBeGreaterThan(0);
    expect(mem.total).toBeGreaterThanOrEqual(mem.free);
    gpu.selfTest(1 << 16);
    expect(() => gpu.selectDevice(gpu.devices().length)).toThrow(RangeError);
  });
});

// A copy of the package with lib/ sources and no built addon: what a user gets when
// the prebuild is missing or broken. Run with tsx in a child so the loader runs fresh.
describe('fallback when the CPU addon is missing or broken', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function packageCopy(): string {
    const dir = mkdtempSync(join(tmpdir(), 'up-fallback-'));
    dirs.push(dir);
    cpSync(join(packageRoot, 'lib'), join(dir, 'lib'), { recursive: true });
    cpSync(join(packageRoot, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(packageRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(
      join(dir, 'probe.mts'),
      "const m = await import('./lib/index.js');\nprocess.stdout.write(JSON.stringify(m.backendInfo()));\n",
    );
    return dir;
  }

  function load(dir: string, backend: string) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'probe.mts'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ULTRA_PERF_BACKEND: backend },
    });
    return { status: child.status, stdout: child.stdout, stderr: child.stderr };
  }

  it('uses TS and reports why when no addon was built', () => {
    const out = load(packageCopy(), 'auto');
    expect(out.status).toBe(0);
    const info = JSON.parse(out.stdout);
    expect(info.native).toBe(false);
    expect(info.nativeError).toMatch(/^the CPU addon could not be loaded: No native build was found/);
  });

  it('uses TS and reports the loader error when the addon binary is corrupt', () => {
    const dir = packageCopy();
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    writeFileSync(join(dir, 'build', 'Release', 'ultra_performance.node'), 'this is not an ELF file');
    const out = load(dir, 'auto');
    expect(out.status).toBe(0);
    const info = JSON.parse(out.stdout);
    expect(info.native).toBe(false);
    expect(info.nativeError).toMatch(/^the CPU addon could not be loaded: .*(invalid ELF header|file too short)/);
  });

  it('refuses to start with ULTRA_PERF_BACKEND=native when the addon is missing', () => {
    const out = load(packageCopy(), 'native');
    expect(out.status).not.toBe(0);
    expect(out.stderr).toMatch(/BackendUnavailableError: ULTRA_PERF_BACKEND=native but the CPU addon could not be loaded/);
  });

  it('names ULTRA_PERF_BACKEND when its value is not a mode', () => {
    const out = load(packageCopy(), 'gpu-please');
    expect(out.status).not.toBe(0);
    // The one wording every backend value gets (lib/internal/backend-names.ts); a TypeError, as for options.backend.
    expect(out.stderr).toMatch(/TypeError: Expected 'auto', 'native' or 'ts' for ULTRA_PERF_BACKEND but received "gpu-please"/);
  });

  it("reads ULTRA_PERF_BACKEND=cpu as 'native', with a DeprecationWarning", () => {
    const dir = packageCopy();
    const built = join(packageRoot, 'build', 'Release', 'ultra_performance.node');
    if (existsSync(built)) {
      mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
      cpSync(built, join(dir, 'build', 'Release', 'ultra_performance.node'));
    }
    const out = load(dir, ' CPU ');
    if (existsSync(built)) {
      // The warning is emitted on the next tick, so only a process that survives its import prints it.
      expect(out.stderr).toMatch(/\[ULTRA_PERF_DEP_BACKEND_CPU\] DeprecationWarning: ULTRA_PERF_BACKEND 'cpu' is deprecated; use 'native'/);
      expect(out.status).toBe(0);
      const info = JSON.parse(out.stdout);
      expect(info.mode).toBe('native');
      expect(info.native).toBe(true);
    } else {
      // 'cpu' demands the addon exactly as 'native' does.
      expect(out.stderr).toMatch(/BackendUnavailableError: ULTRA_PERF_BACKEND=native but/);
    }
  });
});

describe('GPU addon probe in a child process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'up-probe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const built = cudaAddonCandidates().find((p) => existsSync(p));

  it.runIf(built !== undefined)('loads the real GPU addon and reports devices or the CUDA error', () => {
    const result = probeCudaAddon(built!);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.probe.runtimeVersion).toBeGreaterThanOrEqual(12000);
    if (result.probe.status.ok) {
      expect(result.probe.devices.length).toBeGreaterThan(0);
    } else {
      expect(result.probe.devices).toEqual([]);
      // One macro reports every CUDA failure: name, message, call and file:line.
      expect(result.probe.status.message).toMatch(/^cudaError\w+: .+ \(cudaGetDeviceCount\(&count\) at .+device\.cu:\d+\)$/);
    }
  });

  it.runIf(built !== undefined && !existsSync('/proc/driver/nvidia/version'))(
    'the real GPU addon\'s risk kernels fail with the CUDA error, sync and async, and never crash without a driver',
    () => {
      // In a child, as the loader would: this process never loads the GPU addon without a device.
      const script = `
        const a = require(process.argv[1]);
        const out = [];
        const f = (n) => new Float64Array(n);
        for (const call of [
          () => a.varHistorical(f(100), -1, 0.95, f(2)),
          () => a.covariance(f(20), 10, 2, 0, 0.94, 1, f(4)),
          () => a.simulateGbm(100, 0, 0.2, 0.01, 10, 100, 1, false, 0.95, f(100), null, f(4)),
          () => a.portfolioMc(f(1), f(1), f(1), 1, 10, 1, 1, 0.9, null, f(4)),
        ]) {
          try { call(); out.push('returned'); } catch (e) { out.push(e.message); }
        }
        a.lossMomentsAsync(f(100), -1, 1, f(4)).then(() => out.push('resolved'), (e) => out.push(e.message))
          .then(() => process.stdout.write(JSON.stringify(out)));`;
      const child = spawnSync(process.execPath, ['-e', script, built!], { encoding: 'utf8', timeout: 20_000 });
      expect(child.status, child.stderr).toBe(0);
      const messages = JSON.parse(child.stdout) as string[];
      expect(messages).toHaveLength(5);
      for (const m of messages) expect(m).toMatch(/^cudaError\w+: .+ \(cudaSetDevice\(.+\) at .+device\.cu:\d+\)$/);
    },
  );

  it('survives a binary that is not a shared object', () => {
    const path = join(dir, 'garbage.node');
    writeFileSync(path, 'not an ELF file');
    const result = probeCudaAddon(path);
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/^the GPU addon could not be loaded \(exit 1\): /) });
  });

  it('survives an addon that aborts the process', () => {
    const path = join(dir, 'aborts.cjs');
    writeFileSync(path, 'process.abort();');
    expect(probeCudaAddon(path)).toEqual({ ok: false, error: expect.stringMatching(/probe died with SIGABRT/) });
  });

  it('survives an addon that hangs', () => {
    const path = join(dir, 'hangs.cjs');
    writeFileSync(path, 'for (;;) {}');
    expect(probeCudaAddon(path, 1_000)).toEqual({ ok: false, error: expect.stringMatching(/probe hung for 1000 ms and was killed/) });
  });

  it('kills a hung child that ignores SIGTERM (SIGKILL), so the import cannot hang', () => {
    // spawnSync waits for the child to die after its timeout: with SIGTERM this child would
    // run forever and the test would time out instead of reaching the assertion.
    const path = join(dir, 'hangs-stubborn.cjs');
    writeFileSync(path, "process.on('SIGTERM', () => {}); for (;;) {}");
    expect(probeCudaAddon(path, 1_000)).toEqual({ ok: false, error: expect.stringMatching(/probe hung for 1000 ms and was killed/) });
  }, 20_000);

  it('passes a fake addon\'s probe through, devices and all', () => {
    const path = join(dir, 'fake-old-device.cjs');
    const probe: CudaProbe = {
      abiVersion: CUDA_ABI_VERSION,
      runtimeVersion: 12040,
      driverVersion: 12040,
      status: { ok: true, code: 0, message: '' },
      devices: [device(0, 'Tesla P100-PCIE-16GB', '6.0')],
    };
    writeFileSync(path, `module.exports = { probe: () => (${JSON.stringify(probe)}) };`);
    const result = probeCudaAddon(path);
    expect(result).toEqual({ ok: true, probe });
    if (result.ok) {
      expect(usableDevices(result.probe)).toEqual({
        devices: [],
        error:
          'no usable CUDA device: device 0 (Tesla P100-PCIE-16GB, compute capability 6.0) is older than compute capability 7.5 (sm_75), the oldest architecture the GPU addon is built for',
      });
    }
  });

  it('refuses a module that is not our addon', () => {
    const path = join(dir, 'other.cjs');
    writeFileSync(path, 'module.exports = { hello: 1 };');
    expect(probeCudaAddon(path)).toEqual({ ok: false, error: `${path} is not the ultra-performance GPU addon` });
  });

  it('keeps the GPU addon out of this process unless a device was found', () => {
    expect(cudaAddon === null).toBe(!backendInfo().cuda);
  });
});

function device(index: number, name: string, computeCapability: string): CudaDeviceRecord {
  return { index, name, totalMemory: 16e9, computeCapability, multiprocessors: 56, memoryBusWidth: 4096, pciBusId: `0000:0${index}:00.0` };
}

function probeOf(devices: CudaDeviceRecord[], status = { ok: true, code: 0, message: '' }): CudaProbe {
  return { abiVersion: CUDA_ABI_VERSION, runtimeVersion: 12040, driverVersion: 12040, status, devices };
}

describe('which devices the GPU addon can use (issue 19.2)', () => {
  it('keeps the lowest architecture CMakeLists.txt builds for in step with kMinComputeCapability', () => {
    const cmake = readFileSync(join(packageRoot, 'CMakeLists.txt'), 'utf8');
    const list = /set\(CMAKE_CUDA_ARCHITECTURES ([^)]+)\)/.exec(cmake);
    expect(list, 'CMAKE_CUDA_ARCHITECTURES in CMakeLists.txt').not.toBeNull();
    const archs = list![1]!.trim().split(/\s+/).map((a) => Number.parseInt(a, 10));
    expect(archs.every(Number.isInteger)).toBe(true);
    expect(`${Math.floor(Math.min(...archs) / 10)}.${Math.min(...archs) % 10}`).toBe(kMinComputeCapability);
  });

  it('keeps devices at or above compute capability 7.5, with their CUDA index, and names the ones it leaves out', () => {
    const probe = probeOf([device(0, 'Quadro P4000', '6.1'), device(1, 'Tesla T4', '7.5'), device(2, 'H100', '9.0'), device(3, 'B200', '10.0')]);
    const { memoryBusWidth: _a, ...t4 } = probe.devices[1]!;
    const { memoryBusWidth: _b, ...h100 } = probe.devices[2]!;
    const { memoryBusWidth: _c, ...b200 } = probe.devices[3]!;
    expect(usableDevices(probe)).toEqual({
      devices: [t4, h100, b200],
      warning:
        'device 0 (Quadro P4000, compute capability 6.1) is older than compute capability 7.5 (sm_75), the oldest architecture the GPU addon is built for; not used',
    });
    const { memoryBusWidth: _d, ...a100 } = device(0, 'A100', '8.0');
    expect(usableDevices(probeOf([device(0, 'A100', '8.0')]))).toEqual({ devices: [a100] });
  });

  it('refuses when every device is too old, naming each, and when there is none', () => {
    expect(usableDevices(probeOf([device(0, 'GTX 1080', '6.1'), device(1, 'Titan V', '7.0')]))).toEqual({
      devices: [],
      error:
        'no usable CUDA device: device 0 (GTX 1080, compute capability 6.1), device 1 (Titan V, compute capability 7.0) are older than compute capability 7.5 (sm_75), the oldest architecture the GPU addon is built for',
    });
    expect(usableDevices(probeOf([]))).toEqual({ devices: [], error: 'no usable CUDA device: cudaGetDeviceCount() returned 0' });
    const noDriver = { ok: false, code: 35, message: 'cudaErrorInsufficientDriver: CUDA driver version is insufficient (cudaGetDeviceCount(&count) at device.cu:33)' };
    expect(usableDevices(probeOf([], noDriver))).toEqual({ devices: [], error: `no usable CUDA device: ${noDriver.message}` });
  });

  it("accepts WSL2's /dev/dxg as a driver, and probes anywhere off Linux", () => {
    const only = (path: string) => (p: string) => p === path;
    expect(nvidiaDriverPresent(only('/dev/dxg'), 'linux')).toBe(true);
    expect(nvidiaDriverPresent(only('/proc/driver/nvidia/version'), 'linux')).toBe(true);
    expect(nvidiaDriverPresent(only('/dev/nvidiactl'), 'linux')).toBe(true);
    expect(nvidiaDriverPresent(() => false, 'linux')).toBe(false);
    expect(nvidiaDriverPresent(() => false, 'win32')).toBe(true);
  });
});
