/**
 * Issue 19.4: a sticky device fault (cudaErrorIllegalAddress, a launch failure...) leaves the
 * CUDA context unusable, so every later CUDA call would fail. The GPU kernel set asks the addon
 * (deviceFault()) after a device failure, records the fault once, and never touches the device
 * again: 'auto' computes on the CPU with the reason, without a failed GPU call each time.
 * A stand-in GPU addon plays the device; the process's real backendInfo() is not affected.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { CudaAddon, CudaStatus } from '../lib/addon-types.js';
import { backendInfo, cudaFault } from '../lib/backend.js';
import { GpuError } from '../lib/errors.js';
import { cudaKernelsOf, defaultKernels, withCpuFallback } from '../lib/risk/kernels.js';

const kIllegal = 'cudaErrorIllegalAddress: an illegal memory access was encountered (cudaStreamSynchronize(stream) at cuda/risk/select.cu:470)';
const kOom = 'cudaErrorMemoryAllocation: out of memory (device_malloc(&cand.ptr, n * sizeof(double)) at cuda/risk/select.cu:540)';

function coded(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_ULTRA_PERF_GPU' });
}

/** A GPU addon whose next call fails with `failure` (sticky or not); it counts the calls that reach it. */
function fakeDevice(failure: { message: string; sticky: boolean }) {
  const state = { calls: 0, fault: { ok: true, code: 0, message: '' } as CudaStatus, failNext: true };
  const fail = (): never => {
    state.failNext = false;
    if (failure.sticky) state.fault = { ok: false, code: 700, message: failure.message };
    throw coded(failure.message);
  };
  const enter = (): void => {
    state.calls += 1;
    if (!state.fault.ok) throw coded(state.fault.message); // what a real context does after a sticky fault
    if (state.failNext) fail();
  };
  const addon = {
    deviceFault: () => ({ ...state.fault }),
    varHistorical: (...a: Parameters<typeof defaultKernels.historical>) => {
      enter();
      return defaultKernels.historical(...a);
    },
    varHistoricalAsync: async (...a: Parameters<typeof defaultKernels.historical>) => {
      enter();
      return defaultKernels.historical(...a);
    },
    lossMoments: (...a: Parameters<typeof defaultKernels.moments>) => {
      enter();
      return defaultKernels.moments(...a);
    },
    philoxNormals: (out: Float64Array, seed: number, stream: number, first: number): CudaStatus => {
      try {
        enter();
      } catch (err) {
        return { ok: false, code: 700, message: (err as Error).message };
      }
      defaultKernels.fillNormals(out, seed, stream, first);
      return { ok: true, code: 0, message: '' };
    },
  } as unknown as CudaAddon;
  return { addon, state };
}

function losses(n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(i * 12.9898) * 0.02;
  return out;
}

describe('a sticky device fault', () => {
  let warnings: { message: string; code?: unknown }[];
  beforeEach(() => {
    warnings = [];
    vi.spyOn(process, 'emitWarning').mockImplementation((warning, options) => {
      const message = typeof warning === 'string' ? warning : warning.message;
      warnings.push({ message, code: typeof options === 'object' && options !== null ? (options as { code?: unknown }).code : undefined });
    });
  });
  afterEach(() => vi.restoreAllMocks());

  const values = losses(2000);
  const expected = new Float64Array(2);
  defaultKernels.historical(values, -1, 0.99, expected);

  it("is reported once, and later 'auto' calls run on the CPU without reaching the device", async () => {
    const { addon, state } = fakeDevice({ message: kIllegal, sticky: true });
    const gpuSet = cudaKernelsOf(addon, defaultKernels);

    // The call that hits the fault is redone on the CPU.
    const first = withCpuFallback(gpuSet, defaultKernels);
    const out = new Float64Array(2);
    expect(first.historical(values, -1, 0.99, out)).toBe(-1);
    expect(out).toEqual(expected);
    expect(first.name).toBe(defaultKernels.name);
    expect(state.calls).toBe(1);
    expect(cudaFault(addon)).toBe(`the GPU hit a sticky fault and cannot be used until the process restarts: ${kIllegal}`);
    const faultWarnings = warnings.filter((w) => w.code === 'ULTRA_PERF_GPU_FAULT');
    expect(faultWarnings).toHaveLength(1);
    expect(faultWarnings[0]!.message).toContain(kIllegal);
    expect(faultWarnings[0]!.message).toMatch(/GPU work now runs on the CPU$/);

    // Later calls, sync and async, never reach the device and still answer, on the CPU.
    for (let i = 0; i < 3; i++) {
      const k = withCpuFallback(gpuSet, defaultKernels);
      const o = new Float64Array(2);
      expect(k.historical(values, -1, 0.99, o)).toBe(-1);
      expect(o).toEqual(expected);
      expect(k.name).toBe(defaultKernels.name);
      const a = withCpuFallback(gpuSet, defaultKernels);
      const o2 = new Float64Array(2);
      expect(await a.historicalAsync(values, -1, 0.99, o2)).toBe(-1);
      expect(o2).toEqual(expected);
      expect(a.name).toBe(defaultKernels.name);
    }
    const normals = new Float64Array(16);
    withCpuFallback(gpuSet, defaultKernels).fillNormals(normals, 7, 0, 0);
    const cpuNormals = new Float64Array(16);
    defaultKernels.fillNormals(cpuNormals, 7, 0, 0);
    expect(normals).toEqual(cpuNormals);
    expect(state.calls).toBe(1);
    // Reported once: no second fault warning however many calls follow.
    expect(warnings.filter((w) => w.code === 'ULTRA_PERF_GPU_FAULT')).toHaveLength(1);
  });

  it("fails a 'cuda' call at once with a GpuError naming the fault", async () => {
    const { addon, state } = fakeDevice({ message: kIllegal, sticky: true });
    const k = cudaKernelsOf(addon, defaultKernels);
    expect(() => k.historical(values, -1, 0.99, new Float64Array(2))).toThrow(GpuError);
    expect(state.calls).toBe(1);
    const refused = /^GPU kernel not run: the GPU hit a sticky fault and cannot be used until the process restarts: cudaErrorIllegalAddress: /;
    expect(() => k.historical(values, -1, 0.99, new Float64Array(2))).toThrow(refused);
    await expect(k.historicalAsync(values, -1, 0.99, new Float64Array(2))).rejects.toThrow(refused);
    await expect(k.historicalAsync(values, -1, 0.99, new Float64Array(2))).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_GPU' });
    expect(() => k.fillNormals(new Float64Array(4), 1, 0, 0)).toThrow(refused);
    expect(state.calls).toBe(1);
  });

  it('is recorded from a status-returning call (philoxNormals) too', () => {
    const { addon, state } = fakeDevice({ message: kIllegal, sticky: true });
    const k = cudaKernelsOf(addon, defaultKernels);
    expect(() => k.fillNormals(new Float64Array(4), 1, 0, 0)).toThrow(/^GPU kernel failed: cudaErrorIllegalAddress: /);
    expect(cudaFault(addon)).toMatch(/sticky fault .+cudaErrorIllegalAddress/);
    expect(() => k.moments(values, -1, 1, new Float64Array(4))).toThrow(/^GPU kernel not run: /);
    expect(state.calls).toBe(1);
  });

  it('a recoverable failure (out of memory) is not a fault: the next call tries the GPU again', () => {
    const { addon, state } = fakeDevice({ message: kOom, sticky: false });
    const k = withCpuFallback(cudaKernelsOf(addon, defaultKernels), defaultKernels);
    const out = new Float64Array(2);
    expect(k.historical(values, -1, 0.99, out)).toBe(-1);
    expect(out).toEqual(expected);
    expect(cudaFault(addon)).toBeUndefined();
    const again = withCpuFallback(cudaKernelsOf(addon, defaultKernels), defaultKernels);
    again.historical(values, -1, 0.99, out);
    expect(again.name).toBe('cuda');
    expect(state.calls).toBe(2);
    expect(warnings.filter((w) => w.code === 'ULTRA_PERF_GPU_FAULT')).toEqual([]);
  });

  it("a stand-in's fault stays with the stand-in: the process's backendInfo() is unchanged", () => {
    const { addon } = fakeDevice({ message: kIllegal, sticky: true });
    expect(() => cudaKernelsOf(addon, defaultKernels).historical(values, -1, 0.99, new Float64Array(2))).toThrow(GpuError);
    expect(cudaFault(addon)).toBeDefined();
    expect(cudaFault()).toBeUndefined();
    expect(backendInfo().cudaError).not.toMatch(/sticky/);
  });
});
