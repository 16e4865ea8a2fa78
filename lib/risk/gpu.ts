/**
 * The GPU as the rest of the library sees it. Without a usable device every query
 * answers honestly (available() is false, devices() is empty) and every action throws
 * BackendUnavailableError with the loader's reason.
 */
import { type GpuDevice, backendInfo, cudaAddon, cudaFault } from '../backend.js';
import { BackendUnavailableError, invalidRange, invalidType } from '../errors.js';
import type { CudaStatus } from '../addon-types.js';

export interface GpuMemoryInfo {
  /** Bytes free on the selected device. */
  free: number;
  /** Bytes on the selected device. */
  total: number;
}

/**
 * Time of the last GPU risk call, split so a slow call says where its time went. Device
 * times come from CUDA events, host times from the host's clock around the whole call.
 */
export interface GpuTiming {
  /** Device time of the kernels, first kernel launch to last kernel end. */
  kernelMs: number;
  /** Device time of the host<->device copies, each timed by its own events and summed. */
  copyMs: number;
  /**
   * Host overhead: wallMs less kernelMs and copyMs (device allocation, launches, host round
   * trips, synchronisation). Copies that overlap kernels count in both, so it is at least 0.
   */
  hostMs: number;
  /** Host wall time of the whole call on the thread that ran it. */
  wallMs: number;
  /**
   * Device time from the first copy in to the last copy out. It includes whatever the host
   * did in between (allocation, round trips): prefer kernelMs, copyMs and hostMs.
   */
  totalMs: number;
}

function requireAddon(what: string) {
  const fault = cudaFault();
  if (fault !== undefined) throw new BackendUnavailableError(`gpu.${what}() needs a usable CUDA device: ${fault}`);
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
  /**
   * True when the GPU addon is loaded, at least one device it can run on answered the
   * probe, and no sticky device fault has ended GPU work in this process.
   */
  available(): boolean {
    return cudaAddon !== null && cudaFault() === undefined;
  },
  /** Devices found at load time: name, memory, compute capability. Empty without a GPU. */
  devices(): GpuDevice[] {
    return backendInfo().devices;
  },
  /** Makes device `index` current for this thread's later GPU work. */
  selectDevice(index: number): void {
    const addon = requireAddon('selectDevice');
    if (typeof index !== 'number' || !Number.isInteger(index)) throw invalidType('index', 'an integer device index', index);
    // Devices keep their CUDA index; one older than the addon's oldest architecture is not listed.
    const indices = backendInfo().devices.map((d) => d.index);
    if (!indices.includes(index)) throw invalidRange('index', `a listed device index (${indices.join(', ')})`, index);
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
   * Time of the last GPU risk call in this process: `kernelMs` the kernels and `copyMs` the
   * copies (device time, CUDA events), `hostMs` the rest of the call's wall time `wallMs`
   * (allocation, launches, round trips), and `totalMs` the device span from the first copy
   * in to the last copy out (host work in between included).
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
