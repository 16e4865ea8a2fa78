// The native Cholesky (cpp/risk/cholesky.cc: blocked, SIMD, threaded from n of about 200) against
// the TS loop (lib/risk/kernels-ts.ts), bit for bit: the factor, the status and the failure
// triple, on SPD, PSD and refused matrices whose sizes cross the native panel (32),
// register-block (8 x 4) and vector (4) boundaries. Bytes are compared, so -0 and +0 differ.
import { describe, expect, it } from 'vitest';

import { choleskySync } from '../lib/index.js';
import { cpuAddon } from '../lib/backend.js';
import { tsKernels } from '../lib/risk/kernels.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native';

/** Uniform in [-0.5, 0.5) from a 32-bit LCG: the same matrices on every run. */
function uniforms(count: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** B·Bᵀ (+ n·I when spd), B n x rank; the rows in zero are zero assets. */
function gram(n: number, rank: number, seed: number, spd: boolean, zero: readonly number[] = []): Float64Array {
  const b = uniforms(n * rank, seed).map((v) => (spd ? v : v * 0.02));
  for (const i of zero) if (i < n) b.fill(0, i * rank, (i + 1) * rank);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = spd && i === j ? n : 0;
      for (let k = 0; k < rank; k++) s += b[i * rank + k]! * b[j * rank + k]!;
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

const bytes = (v: Float64Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Both kernels on a; returns the TS status after checking the native one matches to the bit. */
function sameBits(a: Float64Array, n: number): number {
  const lc = new Float64Array(n * n).fill(7);
  const lt = new Float64Array(n * n).fill(-7);
  const fc = new Float64Array([1, 2, 3]);
  const ft = new Float64Array([1, 2, 3]);
  const sc = cpuAddon!.cholesky(a, n, lc, fc);
  const st = tsKernels.cholesky(a, n, lt, ft);
  expect(sc, `status, n = ${n}`).toBe(st);
  if (!bytes(lc).equals(bytes(lt))) {
    const at = lc.findIndex((v, i) => !Object.is(v, lt[i]));
    expect.fail(`n = ${n}: native L[${Math.floor(at / n)}][${at % n}] = ${lc[at]}, TS ${lt[at]}`);
  }
  if (st >= 0) expect(Array.from(fc), `failure, n = ${n}`).toEqual(Array.from(ft));
  return st;
}

describe.runIf(native)('native Cholesky is bit-identical to the TS loop', () => {
  it('SPD matrices of sizes across the block boundaries, up to the threaded n = 500', () => {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 100, 257, 500]) {
      expect(sameBits(gram(n, n, 7 + n, true), n)).toBe(-1);
    }
    const a = gram(100, 100, 3, true);
    expect(bytes(choleskySync(a, 100, { backend: 'native' }).lower).equals(bytes(choleskySync(a, 100, { backend: 'ts' }).lower))).toBe(true);
  });

  it('PSD matrices: rank-deficient, zero-variance assets at panel edges, duplicated assets', () => {
    for (const n of [3, 9, 33, 40, 65, 100]) {
      for (const rank of [1, Math.floor(n / 3) + 1, n - 1]) {
        if (rank < 1) continue;
        sameBits(gram(n, rank, 100 + n + rank, false), n);
        sameBits(gram(n, rank, 200 + n + rank, false, [0, 31, 32, 33, n >> 1, n - 1]), n);
      }
    }
    for (const n of [34, 70]) {
      const a = gram(n, n, 300 + n, true);
      for (const dup of [31, 33, n - 1]) {
        const src = dup - 2;
        for (let k = 0; k < n; k++) {
          a[dup * n + k] = 2 * a[src * n + k]!;
          a[k * n + dup] = 2 * a[k * n + src]!;
        }
        a[dup * n + dup] = 4 * a[src * n + src]!;
      }
      expect(sameBits(a, n)).toBe(-1);
    }
  });

  it('refusals name the same pivot, row and value, and leave the same partial factor', () => {
    const neg = gram(70, 70, 400, true);
    neg[45 * 70 + 45] = -1;
    expect(sameBits(neg, 70)).toBe(45);
    for (const z of [32, 40, 64, 69]) {
      const b = gram(70, 20, 500 + z, false, [z]);
      const other = z + 1 < 70 ? z + 1 : 3;
      b[other * 70 + z] = 1e-3;
      b[z * 70 + other] = 1e-3;
      // A zero pivot whose row below is 1e-3 (refused there), or for the last asset a 2 x 2 minor
      // below -1e-6 (refused at the pivot that exposes it).
      const status = sameBits(b, 70);
      if (z < 69) expect(status).toBe(z);
      else expect(status).toBeGreaterThanOrEqual(0);
    }
    const c = gram(50, 30, 600, false);
    for (let i = 0; i < 50; i++) c[i * 50 + i] = c[i * 50 + i]! - 1e-9;
    expect(sameBits(c, 50)).toBeGreaterThanOrEqual(30);
  });
});
