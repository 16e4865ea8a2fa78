/**
 * Every public async risk function owns its array inputs from the call (issue 12 kind 1,
 * "the public API survives the same catalogue"): transferring, shrinking or overwriting an
 * input right after the call leaves the result equal to the sync function's on the
 * original input, on every backend. The TS kernels copy in their async adapters
 * (lib/risk/kernels.ts tsKernels); the native ones copy in cpp/napi.
 */
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import {
  calculateVaR,
  calculateVaRSync,
  cholesky,
  choleskySync,
  correlationMatrix,
  correlationMatrixSync,
  covarianceMatrix,
  covarianceMatrixSync,
  monteCarloVaR,
  monteCarloVaRSync,
  portfolioVaR,
  portfolioVaRSync,
  simulateGBM,
  simulateGBMSync,
} from '../lib/index.js';

/** ES2024's resizable ArrayBuffer (Node 20 has it; the project's lib target does not declare it). */
interface Resizable extends ArrayBuffer {
  readonly maxByteLength: number;
  resize(bytes: number): void;
}
const ResizableBuffer = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => Resizable;

const backends: Array<'ts' | 'native'> = cpuAddon === null ? ['ts'] : ['ts', 'native'];

/** A deterministic series of returns around 0, in a resizable buffer so that it can shrink. */
function series(n: number, salt = 0): Float64Array {
  const a = new Float64Array(new ResizableBuffer(n * 8, { maxByteLength: n * 8 }));
  let s = 12345 + salt;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[i] = (s / 2147483648 - 0.5) * 0.04 + (i % 7) * 1e-4;
  }
  return a;
}

/** An exact copy in a resizable buffer. */
function resizable(values: ArrayLike<number>): Float64Array {
  const a = new Float64Array(new ResizableBuffer(values.length * 8, { maxByteLength: values.length * 8 }));
  a.set(values);
  return a;
}

type Change = (a: Float64Array) => void;
const changes: Record<string, Change> = {
  transferred: (a) => {
    structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  },
  shrunk: (a) => (a.buffer as Resizable).resize(0),
  'shrunk, regrown and overwritten': (a) => {
    const b = a.buffer as Resizable;
    b.resize(8);
    b.resize(b.maxByteLength);
    new Float64Array(b).fill(1e6);
  },
  overwritten: (a) => a.fill(5),
};

const strip = <T extends { computeTimeMs: number }>(r: T): Omit<T, 'computeTimeMs'> => {
  const { computeTimeMs: _, ...rest } = r;
  return rest;
};

describe.each(backends)('async risk functions own their inputs (backend %s)', (backend) => {
  describe.each(Object.keys(changes))('input %s right after the call', (how) => {
    const change = changes[how]!;

    it('calculateVaR (historical and parametric)', async () => {
      for (const method of ['historical', 'cornish-fisher'] as const) {
        const want = calculateVaRSync(series(20_000), { backend, method });
        const r = series(20_000);
        const p = calculateVaR(r, { backend, method });
        change(r);
        expect(strip(await p)).toEqual(strip(want));
      }
    });

    it('portfolioVaR (returns and weights)', async () => {
      const opts = () => ({ returns: series(3 * 5_000, 1), assets: 3, weights: resizable([0.5, 0.3, 0.2]), backend });
      const want = portfolioVaRSync(opts());
      const o = opts();
      const p = portfolioVaR(o);
      change(o.returns);
      change(o.weights);
      expect(strip(await p)).toEqual(strip(want));
    });

    it('covarianceMatrix and correlationMatrix', async () => {
      const options = { observations: 4_000, assets: 5, backend, method: 'ewma' as const, lambda: 0.97 };
      for (const [fn, sync] of [
        [covarianceMatrix, covarianceMatrixSync],
        [correlationMatrix, correlationMatrixSync],
      ] as const) {
        const want = sync(series(20_000, 2), options);
        const d = series(20_000, 2);
        const p = fn(d, options);
        change(d);
        const got = await p;
        expect(Array.from(got.matrix)).toEqual(Array.from(want.matrix));
        expect(got.backend).toBe(backend);
      }
    });

    it('cholesky', async () => {
      const m = [4, 2, 0.4, 2, 3, 0.5, 0.4, 0.5, 2];
      const want = choleskySync(resizable(m), 3, { backend });
      const a = resizable(m);
      const p = cholesky(a, 3, { backend });
      change(a);
      const got = await p;
      expect(Array.from(got.lower)).toEqual(Array.from(want.lower));
    });

    it('monteCarloVaR (weights, means and covariance)', async () => {
      const opts = () => ({
        weights: resizable([0.5, 0.5]),
        means: resizable([0.0001, 0.0002]),
        covariance: resizable([0.0004, 0.0001, 0.0001, 0.0009]),
        paths: 300_000,
        seed: 7,
        backend,
      });
      const want = monteCarloVaRSync(opts());
      const o = opts();
      const p = monteCarloVaR(o);
      change(o.weights);
      change(o.means);
      change(o.covariance);
      expect(strip(await p)).toEqual(strip(want));
    });
  });

  it('simulateGBM reads its options at the call (later edits of the object are not seen)', async () => {
    const opts = () => ({ spot: 100, drift: 0.05, volatility: 0.2, steps: 50, paths: 20_000, seed: 3, backend });
    const want = simulateGBMSync(opts());
    const o = opts();
    const p = simulateGBM(o);
    o.spot = 1;
    o.paths = 2;
    o.volatility = 5;
    expect(strip(await p)).toEqual(strip(want));
  });
});
