/**
 * Chooses the implementation once, at import time (docs/architecture.md "Backends"):
 * 1. the CPU addon through node-gyp-build (prebuilds/ or build/Release);
 * 2. the GPU addon, only when present and a child-process probe finds a device;
 * 3. otherwise the pure-TS implementations.
 * Every load error is kept for backendInfo(), never thrown, unless
 * ULTRA_PERF_BACKEND=native (or its deprecated alias 'cpu') demands the addon.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CPU_ABI_VERSION, CUDA_ABI_VERSION, type CpuAddon, type CudaAddon, type CudaProbe } from './addon-types.js';
import { BackendUnavailableError, describe } from './errors.js';
import { backendName } from './internal/backend-names.js';
import { addonLayoutError, type LayoutCheck } from './internal/layout-check.js';
import { cacheLayout } from './cache/l2-layout.js';
import { layoutTable as memoryLayoutTable } from './memory/layout.js';
import { orderbookLayout } from './orderbook/layout.js';
import { queueLayout } from './queue/layout.js';
import { type CpuInfo, tsCpuInfo } from './system/cpu.js';

export type BackendMode = 'ts' | 'native' | 'auto';

/** A CUDA device as `backendInfo().devices` and `gpu.devices()` report it. */
export interface GpuDevice {
  index: number;
  name: string;
  /** Bytes of device memory. */
  totalMemory: number;
  /** "major.minor", e.g. "9.0" for an H100. */
  computeCapability: string;
  multiprocessors: number;
  pciBusId: string;
}

export interface BackendInfo {
  /** The CPU addon is loaded and used. */
  native: boolean;
  /** The GPU addon is loaded and at least one device was found. */
  cuda: boolean;
  /** Why the CPU addon is not used, when it is not. */
  nativeError?: string;
  /**
   * Why the GPU addon is not used, when it is not: not built, no driver, no device, a device
   * older than the oldest architecture the addon has code for, or a sticky device fault
   * (an illegal address, a launch failure) that ended GPU work in this process.
   */
  cudaError?: string;
  /** Devices the probe found but the GPU addon cannot run on (and why), when others can. */
  cudaWarning?: string;
  devices: GpuDevice[];
  cpu: CpuInfo;
  /** The value of ULTRA_PERF_BACKEND that was in force ('cpu' is reported as 'native'). */
  mode: BackendMode;
}

/** The package root: lib/ in a checkout and dist/ in the package are both one level down. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const requireFromHere = createRequire(join(packageRoot, 'package.json'));

const kModes: readonly BackendMode[] = ['auto', 'native', 'ts'];

/**
 * ULTRA_PERF_BACKEND in the one vocabulary (case and surrounding blanks ignored); 'cpu' reads
 * as 'native' with a DeprecationWarning. A bad value is backendName's TypeError, as for options.
 */
function readMode(): BackendMode {
  const raw = process.env.ULTRA_PERF_BACKEND;
  if (raw === undefined || raw === '') return 'auto';
  const mode = raw.trim().toLowerCase();
  if (mode === 'cpu' || (kModes as readonly string[]).includes(mode)) return backendName(mode, 'ULTRA_PERF_BACKEND', kModes) as BackendMode;
  return backendName(raw, 'ULTRA_PERF_BACKEND', kModes) as BackendMode;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** The shared layouts the CPU addon must agree on with this build, checked at load. */
export const cpuLayoutChecks: readonly LayoutCheck<CpuAddon>[] = [
  { name: 'queue', ts: queueLayout, native: (addon) => addon.queueLayout },
  { name: 'memory', ts: memoryLayoutTable(), native: (addon) => addon.memoryLayout() },
  { name: 'orderbook', ts: orderbookLayout, native: (addon) => addon.orderbookLayout },
  { name: 'cache', ts: cacheLayout, native: (addon) => addon.cacheLayout },
];

function loadCpuAddon(mode: BackendMode): { addon: CpuAddon | null; error?: string } {
  if (mode === 'ts') return { addon: null, error: 'disabled by ULTRA_PERF_BACKEND=ts' };
  try {
    const load = requireFromHere('node-gyp-build') as (dir: string) => unknown;
    const addon = load(packageRoot) as CpuAddon;
    if (addon.abiVersion !== CPU_ABI_VERSION) {
      return {
        addon: null,
        error: `the CPU addon has ABI version ${String(addon.abiVersion)} but this build of the library needs ${CPU_ABI_VERSION}; rebuild it with "npm run build:native"`,
      };
    }
    const mismatch = addonLayoutError(addon, cpuLayoutChecks);
    if (mismatch !== undefined) return { addon: null, error: mismatch };
    return { addon };
  } catch (err) {
    return { addon: null, error: `the CPU addon could not be loaded: ${errorText(err)}` };
  }
}

/** Where a built or prebuilt GPU addon may be, in order of preference. */
export function cudaAddonCandidates(root = packageRoot): string[] {
  return [
    join(root, 'build-cuda', 'Release', 'ultra_perf_cuda.node'),
    join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'cuda', 'ultra_perf_cuda.node'),
  ];
}

/**
 * The oldest compute capability the GPU addon has code for: the lowest entry of
 * CMAKE_CUDA_ARCHITECTURES in CMakeLists.txt (75-real, Turing). test/backend.test.ts reads
 * CMakeLists.txt and fails when the two disagree.
 */
export const kMinComputeCapability = '7.5';

/** "major.minor" as one comparable number (7.5 -> 75, 10.0 -> 100); NaN when it is not that shape. */
function capabilityNumber(cc: string): number {
  const m = /^(\d+)\.(\d+)$/.exec(cc);
  return m === null ? Number.NaN : Number(m[1]) * 10 + Number(m[2]);
}

/**
 * Which probed devices the GPU addon can run on: those at or above kMinComputeCapability.
 * With none, `error` says why (each device and its capability); with some left out,
 * `warning` names them. Devices keep their CUDA index.
 */
export function usableDevices(probe: CudaProbe): { devices: GpuDevice[]; error?: string; warning?: string } {
  if (!probe.status.ok || probe.devices.length === 0) {
    return { devices: [], error: `no usable CUDA device: ${probe.status.ok ? 'cudaGetDeviceCount() returned 0' : probe.status.message}` };
  }
  const min = capabilityNumber(kMinComputeCapability);
  const devices: GpuDevice[] = [];
  const refused: string[] = [];
  for (const { memoryBusWidth: _bus, ...d } of probe.devices) {
    if (capabilityNumber(d.computeCapability) >= min) devices.push(d);
    else refused.push(`device ${d.index} (${d.name}, compute capability ${d.computeCapability})`);
  }
  if (refused.length === 0) return { devices };
  const why = `${refused.join(', ')} ${refused.length === 1 ? 'is' : 'are'} older than compute capability ${kMinComputeCapability} (sm_${kMinComputeCapability.replace('.', '')}), the oldest architecture the GPU addon is built for`;
  if (devices.length === 0) return { devices, error: `no usable CUDA device: ${why}` };
  return { devices, warning: `${why}; not used` };
}

/** How long a probe child may run before it counts as hung. */
const kProbeTimeoutMs = 20_000;

const kProbeScript =
  'const a = require(process.argv[1]);' +
  'process.stdout.write(JSON.stringify(typeof a.probe === "function" ? a.probe() : { notAddon: true }));';

export type ProbeResult = { ok: true; probe: CudaProbe } | { ok: false; error: string };

/**
 * Loads the GPU addon in a child process and asks it for devices. A broken driver or
 * binary can crash or hang the child; the caller only ever sees an error string.
 */
export function probeCudaAddon(path: string, timeoutMs = kProbeTimeoutMs): ProbeResult {
  const child = spawnSync(process.execPath, ['-e', kProbeScript, path], {
    encoding: 'utf8',
    timeout: timeoutMs,
    // A child stuck in the driver may not die of SIGTERM, and spawnSync waits for it to die.
    killSignal: 'SIGKILL',
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 1 << 20,
  });
  const timedOut = (child.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  if (timedOut) return { ok: false, error: `the GPU addon probe hung for ${timeoutMs} ms and was killed (${path})` };
  if (child.error) return { ok: false, error: `the GPU addon probe did not run: ${errorText(child.error)}` };
  if (child.signal) return { ok: false, error: `the GPU addon probe died with ${child.signal} (${path})` };
  if (child.status !== 0) {
    const line = child.stderr.split('\n').find((l) => /Error|error:/.test(l)) ?? child.stderr.trim().split('\n').pop();
    return { ok: false, error: `the GPU addon could not be loaded (exit ${child.status}): ${line ?? 'no output'}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(child.stdout);
  } catch {
    return { ok: false, error: `the GPU addon probe printed something that is not JSON: ${describe(child.stdout)}` };
  }
  const probe = parsed as Partial<CudaProbe> & { notAddon?: boolean };
  if (probe.notAddon || probe.status === undefined || !Array.isArray(probe.devices)) {
    return { ok: false, error: `${path} is not the ultra-performance GPU addon` };
  }
  if (probe.abiVersion !== CUDA_ABI_VERSION) {
    return { ok: false, error: `the GPU addon has ABI version ${String(probe.abiVersion)} but this build needs ${CUDA_ABI_VERSION}` };
  }
  return { ok: true, probe: probe as CudaProbe };
}

/**
 * Whether an NVIDIA driver can be there: always off Linux; on Linux its /proc entry or
 * device node, or WSL2's GPU paravirtualisation node /dev/dxg (no /proc/driver/nvidia there).
 */
export function nvidiaDriverPresent(exists: (path: string) => boolean = existsSync, platform: string = process.platform): boolean {
  return platform !== 'linux' || ['/proc/driver/nvidia/version', '/dev/nvidiactl', '/dev/dxg'].some((p) => exists(p));
}

function loadCudaAddon(mode: BackendMode): { addon: CudaAddon | null; devices: GpuDevice[]; error?: string; warning?: string } {
  if (mode === 'ts') return { addon: null, devices: [], error: 'disabled by ULTRA_PERF_BACKEND=ts' };
  const path = cudaAddonCandidates().find((p) => existsSync(p));
  if (path === undefined) {
    return { addon: null, devices: [], error: 'the GPU addon is not built (nvcc was not found at install time, or no prebuild ships one)' };
  }
  // Spawning a probe costs tens of milliseconds; with no NVIDIA driver it can only fail.
  if (!nvidiaDriverPresent()) {
    return {
      addon: null,
      devices: [],
      error: 'no NVIDIA driver on this machine (no /proc/driver/nvidia/version, /dev/nvidiactl or /dev/dxg); the GPU addon was not probed',
    };
  }
  const result = probeCudaAddon(path);
  if (!result.ok) return { addon: null, devices: [], error: result.error };
  const { devices, error, warning } = usableDevices(result.probe);
  if (error !== undefined) return { addon: null, devices: [], error };
  try {
    const addon = requireFromHere(path) as CudaAddon;
    // Device 0 is every thread's default; when it is one the addon cannot run on, start on the first usable one.
    if (devices[0]!.index !== 0) {
      const selected = addon.selectDevice(devices[0]!.index);
      if (!selected.ok) return { addon: null, devices: [], error: `could not select device ${devices[0]!.index}: ${selected.message}` };
    }
    return warning === undefined ? { addon, devices } : { addon, devices, warning };
  } catch (err) {
    return { addon: null, devices: [], error: `the GPU addon passed its probe but failed to load: ${errorText(err)}` };
  }
}

const mode = readMode();
const cpu = loadCpuAddon(mode);
if (mode === 'native' && cpu.addon === null) {
  throw new BackendUnavailableError(`ULTRA_PERF_BACKEND=native but ${cpu.error ?? 'the CPU addon is missing'}`);
}
const cuda = loadCudaAddon(mode);

/** The loaded CPU addon, or null when the TS backend is in use. Chosen once. */
export const cpuAddon: CpuAddon | null = cpu.addon;
/** The loaded GPU addon, or null when no device can be used. Chosen once. */
export const cudaAddon: CudaAddon | null = cuda.addon;
/** The mode in force (ULTRA_PERF_BACKEND). */
export const backendMode: BackendMode = mode;

let cpuInfoCache: CpuInfo | undefined;

/** Sticky device faults per GPU addon (the real one, or a test's stand-in): the first one's reason. */
const cudaFaults = new WeakMap<object, string>();

/**
 * Records that `addon`'s device hit a sticky fault (cuda/check.cuh is_sticky: an illegal
 * address, a launch failure...): the CUDA context is unusable until the process restarts.
 * The first reason is kept and reported once (process warning ULTRA_PERF_GPU_FAULT); from
 * then on backendInfo() says cuda: false with that reason and 'auto' risk work runs on the CPU.
 */
export function noteCudaFault(addon: object, reason: string): void {
  if (cudaFaults.has(addon)) return;
  const text = `the GPU hit a sticky fault and cannot be used until the process restarts: ${reason}`;
  cudaFaults.set(addon, text);
  process.emitWarning(`${text}; GPU work now runs on the CPU`, { code: 'ULTRA_PERF_GPU_FAULT' });
}

/** The sticky fault recorded for `addon` (the loaded GPU addon by default), or undefined. */
export function cudaFault(addon: object | null = cudaAddon): string | undefined {
  return addon === null ? undefined : cudaFaults.get(addon);
}

/**
 * Which backends this process uses and why.
 * @example
 * import { backendInfo } from 'ultra-performance';
 * const info = backendInfo();
 * if (!info.native) console.warn('pure-TS fallback:', info.nativeError);
 */
export function backendInfo(): BackendInfo {
  cpuInfoCache ??= cpuAddon !== null ? cpuAddon.cpuInfo() : tsCpuInfo();
  const fault = cudaFault();
  const info: BackendInfo = {
    native: cpuAddon !== null,
    cuda: cudaAddon !== null && fault === undefined,
    devices: cuda.devices.map((d) => ({ ...d })),
    cpu: { ...cpuInfoCache, features: [...cpuInfoCache.features] },
    mode,
  };
  if (cpu.error !== undefined) info.nativeError = cpu.error;
  if (cuda.error !== undefined) info.cudaError = cuda.error;
  if (fault !== undefined) info.cudaError = fault;
  if (cuda.warning !== undefined) info.cudaWarning = cuda.warning;
  return info;
}
