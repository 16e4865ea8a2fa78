/**
 * The GPU as the rest of the library sees it. Without a usable device every query
 * answers honestly (available() is false, devices() is empty) and every action throws
 * BackendUnavailableError with the loader's reason.
 */
import { type GpuDevice, backendInfo, cudaAddon } from '../backend.js';
import { BackendUnavailableError, invalidRange, invalidType } from '../errors.js';
import type { CudaStatus } from '../addon-types.js';

export interface GpuMemoryInfo {
  /** Bytes free on the selected device. */
  free: number;
  /** Bytes on the selected device. */
  total: number;
}

export interface GpuTiming {
  kernelMs: number;
  totalMs: number;
}

function requireAddon(what: string) {
  if (cudaAddon === null) {
    throw new BackendUnavailableError(`gpu.${what}() needs a CUDA device: ${backendInfo().cudaError ?? 'none found'}`);
  }
  return cudaAddon;
}

function check(status: CudaStatus, what: string): void {
  if (!status.ok) throw new BackendUnavailableError(`gpu.${what}() failed: ${status.message}`);
}

/**
 * @example
 * import { gpu } from 'ultra-performance';
 * if (gpu.available()) console.log(gpu.devices()[0].name);
 */
export const gpu = {
  /** True when the GPU addon is loaded and at least one device answered the probe. */
  available(): boolean {
    return cudaAddon !== null;
  },
  /** Devices found at load time: name, memory, compute capability. Empty without a GPU. */
  devices(): GpuDevice[] {
    return backendInfo().devices;
  },
  /** Makes device `index` current for this thread's later GPU work. */
  selectDevice(index: number): void {
    const addon = requireAddon('selectDevice');
    if (typeof index !== 'number' || !Number.isInteger(index)) throw invalidType('index', 'an integer device index', index);
    const count = backendInfo().devices.length;
    if (index < 0 || index >= count) throw invalidRange('index', `a device index in [0, ${count})`, index);
    check(addon.selectDevice(index), 'selectDevice');
  },
  /** The current device's index. */
  currentDevice(): number {
    const result = requireAddon('currentDevice').currentDevice();
    check(result, 'currentDevice');
    return result.index;
  },
  /** Free and total bytes on the current device (cudaMemGetInfo). */
  memoryInfo(): GpuMemoryInfo {
    const result = requireAddon('memoryInfo').memoryInfo();
    check(result, 'memoryInfo');
    return { free: result.free, total: result.total };
  },
  /**
   * Device time of the last GPU risk call in this process, from CUDA events: `kernelMs`
   * the kernels alone, `totalMs` from the first copy to the device to the last copy back.
   */
  lastTiming(): GpuTiming {
    return requireAddon('lastTiming').lastTiming();
  },
  /** Runs a small kernel and checks its output on the host; throws if the device cannot run our code. */
  selfTest(n = 1 << 20): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0 || n > 1 << 28) {
      throw invalidRange('n', 'an integer element count in [1, 2^28]', n);
    }
    check(requireAddon('selfTest').selfTest(n), 'selfTest');
  },
};
