// The risk thread pool's idle policy (lib/risk/pool.ts, cpp/risk/parallel.hpp): the
// setting reads back, bad values are refused naming the argument and change nothing, and
// the threaded kernels give the same bits whether the workers spin, sleep at once, or wake
// late into a job the caller has already finished (spaced calls with spinUs 0).
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { correlationMatrix, correlationMatrixSync, philoxNormals, riskPoolPolicy, setRiskPoolPolicy } from '../lib/index.js';

const native = cpuAddon !== null;

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs fn with the pool's spin window set to spinUs, then puts back the one before. */
function withSpin<T>(spinUs: number, fn: () => T): T {
  const before = riskPoolPolicy.spinUs;
  setRiskPoolPolicy({ spinUs });
  try {
    return fn();
  } finally {
    setRiskPoolPolicy({ spinUs: before });
  }
}

function catchError(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('riskPoolPolicy / setRiskPoolPolicy', () => {
  it('starts at 100 µs, reads back what was set (to the nanosecond) and says which pool it acts on', () => {
    expect(riskPoolPolicy.spinUs).toBe(100);
    expect(riskPoolPolicy.pool).toBe(native ? 'native' : 'none');
    expect(riskPoolPolicy.threads).toBe(cpuAddon?.riskThreads ?? 1);
    withSpin(0, () => expect(riskPoolPolicy.spinUs).toBe(0));
    withSpin(12.345, () => expect(riskPoolPolicy.spinUs).toBe(12.345));
    // Kept to the nanosecond on every backend: the same value reads back under ts and native.
    withSpin(-0, () => expect(Object.is(riskPoolPolicy.spinUs, 0)).toBe(true));
    withSpin(0.0004, () => expect(riskPoolPolicy.spinUs).toBe(0));
    withSpin(1.23456789, () => expect(riskPoolPolicy.spinUs).toBe(1.235));
    withSpin(1_000_000, () => expect(riskPoolPolicy.spinUs).toBe(1_000_000));
    // Leaving the key out changes nothing.
    setRiskPoolPolicy({});
    expect(riskPoolPolicy.spinUs).toBe(100);
    expect(Object.isFrozen(riskPoolPolicy)).toBe(true);
    expect({ ...riskPoolPolicy }).toEqual({ spinUs: 100, threads: riskPoolPolicy.threads, pool: riskPoolPolicy.pool });
  });

  it('refuses a bad spinUs or key, naming it, and keeps the value in force', () => {
    withSpin(40, () => {
      for (const bad of [-1, 1_000_001, Number.NaN, Infinity]) {
        const e = catchError(() => setRiskPoolPolicy({ spinUs: bad }));
        expect(e).toBeInstanceOf(RangeError);
        expect(e.code).toBe('ERR_OUT_OF_RANGE');
        expect(e.message).toMatch(/^Expected a number of microseconds from 0 to 1000000 for policy\.spinUs but received /);
      }
      const t = catchError(() => setRiskPoolPolicy({ spinUs: '5' as never }));
      expect(t).toBeInstanceOf(TypeError);
      expect(t.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(t.message).toMatch(/for policy\.spinUs but received/);
      const u = catchError(() => setRiskPoolPolicy({ spinMs: 5 } as never));
      expect(u).toBeInstanceOf(TypeError);
      expect(u.code).toBe('ERR_ULTRA_PERF_UNKNOWN_OPTION');
      expect(u.message).toMatch(/^unknown option 'spinMs' for setRiskPoolPolicy; did you mean 'spinUs'\?/);
      expect(() => setRiskPoolPolicy(null as never)).toThrow(/for policy but received null/);
      expect(riskPoolPolicy.spinUs).toBe(40);
    });
  });

  it.runIf(native)('the raw binding checks its argument too', () => {
    const raw = cpuAddon!;
    for (const bad of [-1, 1.5, 1e9 + 1, Number.NaN]) {
      const e = catchError(() => raw.setRiskPoolSpinNs(bad));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.code).toBe('ERR_OUT_OF_RANGE');
      expect(e.message).toMatch(/^setRiskPoolSpinNs: expected an integer from 0 to 1000000000 for spinNs \(argument 1\)/);
    }
    expect(catchError(() => raw.setRiskPoolSpinNs('1' as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(raw.riskPoolSpinNs()).toBe(100_000);
  });

  it('threaded kernels give the same bits under every policy, calls spaced or back to back', async () => {
    const n = 1 << 18; // two tasks of the generator's 65,536 normals at least: threaded
    const data = new Float64Array(64 * 600);
    philoxNormals(data, { seed: 3 });
    const reference = { z: new Float64Array(n), corr: correlationMatrixSync(data, { observations: 600, assets: 64 }).matrix };
    philoxNormals(reference.z, { seed: 11 });
    for (const spinUs of [0, 100, 5000]) {
      withSpin(spinUs, () => {
        for (let call = 0; call < 6; call++) {
          // Odd calls come after a pause longer than the window (the workers sleep, then wake late).
          if (call % 2 === 1) sleepMs(spinUs / 1000 + 2);
          const z = new Float64Array(n);
          philoxNormals(z, { seed: 11 });
          expect(Buffer.from(z.buffer).equals(Buffer.from(reference.z.buffer))).toBe(true);
          const c = correlationMatrixSync(data, { observations: 600, assets: 64 }).matrix;
          expect(Buffer.from(c.buffer).equals(Buffer.from(reference.corr.buffer))).toBe(true);
        }
      });
    }
    // Async calls at once: one gets the pool, the others run their tasks inline.
    setRiskPoolPolicy({ spinUs: 0 });
    try {
      const results = await Promise.all([1, 2, 3, 4].map(() => correlationMatrix(data, { observations: 600, assets: 64 })));
      for (const r of results) expect(Buffer.from(r.matrix.buffer).equals(Buffer.from(reference.corr.buffer))).toBe(true);
    } finally {
      setRiskPoolPolicy({ spinUs: 100 });
    }
  });
});
