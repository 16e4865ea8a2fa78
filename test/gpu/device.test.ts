import { describe, expect, it } from 'vitest';

import { backendInfo, gpu } from '../../lib/index.js';

describe('GPU device (needs an NVIDIA GPU)', () => {
  it('is found by the loader', () => {
    const info = backendInfo();
    expect(info.cudaError, 'the loader found no usable device').toBeUndefined();
    expect(info.cuda).toBe(true);
  });

  it('lists devices with name, memory and compute capability >= 7.5', () => {
    expect(gpu.devices().length).toBeGreaterThan(0);
    for (const d of gpu.devices()) {
      expect(d.name).toMatch(/\w/);
      expect(d.totalMemory).toBeGreaterThan(1 << 30);
      expect(Number(d.computeCapability)).toBeGreaterThanOrEqual(7.5);
    }
  });

  it('runs a kernel from the fat binary and reads the result back', () => {
    gpu.selectDevice(0);
    gpu.selfTest(1 << 20);
  });

  it('releases device memory: a long loop of kernels leaves free memory where it was', () => {
    gpu.selfTest(1 << 20);
    const before = gpu.memoryInfo().free;
    for (let i = 0; i < 200; i++) gpu.selfTest(1 << 22);
    expect(gpu.memoryInfo().free).toBe(before);
  });
});
