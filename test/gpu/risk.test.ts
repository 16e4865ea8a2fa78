import { describe, expect, it } from 'vitest';

import { cudaAddon } from '../../lib/backend.js';
import { philoxNormals } from '../../lib/index.js';

// The GPU draws from cpp/risk/philox.hpp, the header the CPU addon uses; detmath maps
// every operation to __dmul_rn/__dadd_rn so nothing is fused. Same seed, same doubles.
describe('Philox normals on the device (needs an NVIDIA GPU)', () => {
  it.each([
    { seed: 42, stream: 0, first: 0, n: 1_000_000 },
    { seed: 2 ** 53 - 1, stream: 7, first: 12_345, n: 100_001 },
  ])('are bit-identical to the CPU backend for %o', ({ seed, stream, first, n }) => {
    expect(cudaAddon, 'the GPU addon is not loaded').not.toBeNull();
    const gpu = new Float64Array(n);
    const status = cudaAddon!.philoxNormals(gpu, seed, stream, first);
    expect(status.message).toBe('');
    expect(status.ok).toBe(true);
    const cpu = new Float64Array(n);
    expect(philoxNormals(cpu, { seed, stream, first, backend: 'cpu' })).toBe('native');
    const a = new BigUint64Array(gpu.buffer);
    const b = new BigUint64Array(cpu.buffer);
    let differing = 0;
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) differing++;
    expect(differing).toBe(0);
  });
});
