/**
 * The risk addon's boundary (issue 12 kinds 1, 3, 5, 6): async kernels own their memory,
 * every size is checked, nothing hangs, every error has a class, a code and the argument's
 * name, the same in the sync and async forms. Whatever could crash runs in a child process
 * (test/fixtures/risk-boundary.ts, with --expose-gc): a crash is an exit status, a hang the
 * timeout. Needs the CPU addon; CI builds it.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import type { CudaAddon } from '../lib/addon-types.js';
import { cpuAddon } from '../lib/backend.js';
import { GpuError } from '../lib/errors.js';
import { cudaKernelsOf, defaultKernels, withCpuFallback } from '../lib/risk/kernels.js';

const fixture = fileURLToPath(new URL('./fixtures/risk-boundary.ts', import.meta.url));

function child(which: string): Record<string, any> {
  const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, which], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, ULTRA_PERF_BACKEND: 'native' },
  });
  expect(run.signal, `${which}: killed by ${run.signal}\n${run.stderr}`).toBeNull();
  expect(run.status, `${which}: exit ${run.status}\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

const detached = { class: 'Error', code: 'ERR_ULTRA_PERF_DETACHED' };

describe.runIf(cpuAddon !== null)('risk addon boundary', () => {
  it('refuses wrapped, negative, NaN and infinite sizes with a RangeError and a code, sync and async alike', () => {
    const out = child('sizes');
    for (const suffix of ['', 'Async']) {
      for (const n of [2 ** 32, -1, 2 ** 53, 'NaN', '-Infinity']) {
        expect(out[`cholesky${suffix}(n=${n})`], `cholesky${suffix}(n=${n})`).toMatchObject({ class: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      }
      expect(out[`cholesky${suffix}(n=-1)`].message).toBe(`cholesky${suffix}: expected an integer from 1 to 9007199254740991 for n (argument 2) but received -1`);
      expect(out[`cholesky${suffix}(n=NaN)`].message).toMatch(/for n \(argument 2\) but received NaN$/);
      expect(out[`cholesky${suffix}(n=4294967296)`].message).toBe(`cholesky${suffix}: n x n (4294967296 x 4294967296) is too large to address`);
      expect(out[`covariance${suffix}(2**62, 4)`]).toMatchObject({ class: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(out[`covariance${suffix}(2**62, 4)`].message).toMatch(/for observations \(argument 2\)/);
      for (const steps of [2 ** 62, 'NaN', '-Infinity']) {
        expect(out[`simulateGbm${suffix}(steps=${steps})`]).toMatchObject({ class: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
        expect(out[`simulateGbm${suffix}(steps=${steps})`].message).toMatch(/^simulateGbm(Async)?: expected an integer from 1 to 16777216 for steps \(argument 5\)/);
      }
      expect(out[`simulateGbm${suffix}(paths=2**40)`]).toMatchObject({ class: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(out[`portfolioLosses${suffix}(assets=2**32)`].message).toMatch(/for assets \(argument 4\) but received 4294967296$/);
      expect(out[`portfolioReturns${suffix}(2**33 x 2**33)`].message).toMatch(/observations x assets \(8589934592 x 8589934592\) is too large/);
      expect(out[`fillNormals${suffix}(seed=NaN)`]).toMatchObject({ class: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    }
  });

  it('lets an async kernel finish on its own copies when the caller transfers its arrays, then a GC', () => {
    const out = child('transfer');
    for (const [name, r] of Object.entries(out)) {
      // Inputs transferred right after the call: the sync answer, written into the outputs.
      expect(r.inputsTransferred.got, name).toEqual({ ok: r.status });
      expect(r.inputsTransferred.outputsEqual, name).toBe(true);
      // An output transferred: refused by name, and no other output written.
      expect(r.outputTransferred.got, name).toMatchObject(detached);
      expect(r.outputTransferred.got.message, name).toMatch(new RegExp(`^${name}Async: \\w+ \\(argument \\d+\\) was detached or shrunk while the kernel ran`));
      expect(r.outputTransferred.untouched, name).toBe(true);
      expect(r.allTransferred, name).toEqual(['ERR_ULTRA_PERF_DETACHED']);
    }
    expect(Object.keys(out)).toHaveLength(8);
  });

  it('copies a resizable input shrunk while the kernel runs, and refuses an output shrunk below the result', () => {
    const out = child('shrink');
    expect(out.input.got).toEqual({ ok: -1 });
    expect(out.input.out).toEqual(out.input.expected);
    expect(out.output.got).toMatchObject(detached);
    expect(out.output.got.message).toMatch(/^varHistoricalAsync: out \(argument 4\) was detached or shrunk .+ it now holds 1 of the 2 elements/);
    expect(out.output.left).toEqual([0]);
    expect(out.outOfBounds).toMatchObject(detached);
    expect(out.grown.got).toEqual({ ok: -1 });
    expect(out.grown.out).toEqual(out.input.expected);
  });

  it('answers every bad argument of every risk kernel with a coded error that names the function, sync and async', () => {
    const out = child('catalogue');
    expect(out.problems).toEqual([]);
    expect(out.calls).toBeGreaterThan(1500);
    expect(out.errors).toBeGreaterThan(1000);
    expect(out.codes).toEqual(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE']);
  });

  it('the public async API resolves with the right value when the caller transfers or shrinks its buffer right after the call', () => {
    const out = child('public');
    expect(out.backend).toBe('native');
    const [v, c, ev, ec] = out.historical;
    expect([v, c]).toEqual([ev, ec]);
    expect(v).toBeGreaterThan(0);
    expect(out.shrunk).toEqual([ev, ec]);
    const [pv, pc, epv, epc] = out.parametric;
    expect([pv, pc]).toEqual([epv, epc]);
    expect(out.covarianceEqual).toBe(true);
  });

  it.runIf(process.platform === 'linux')('turns an allocation failure into ERR_ULTRA_PERF_OUT_OF_MEMORY naming what was too large, sync and async', () => {
    // The address-space limit leaves 300 MB above what the process uses once the addon runs;
    // the GBM scratch asks for 512 MiB.
    const base = child('vmsize').kB as number;
    const run = spawnSync('bash', ['-c', `ulimit -v ${base + 300_000} && exec "$0" --expose-gc --import tsx "$1" oom`, process.execPath, fixture], {
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, ULTRA_PERF_BACKEND: 'native' },
    });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!);
    const oom = { class: 'Error', code: 'ERR_ULTRA_PERF_OUT_OF_MEMORY' };
    expect(out.sync).toEqual({ ...oom, message: 'simulateGbm: out of memory for a buffer of 16777216 normals per path and thread; use smaller sizes' });
    expect(out.async).toEqual({ ...oom, message: 'simulateGbmAsync: out of memory for a buffer of 16777216 normals per path and thread; use smaller sizes' });
  });
});

describe.runIf(cpuAddon !== null)('risk addon errors in this process', () => {
  const addon = cpuAddon!;
  it('keeps the class and code of an argument error in the sync form, as the async form throws it', () => {
    const catchSync = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err as Error & { code?: string };
      }
      throw new Error('did not throw');
    };
    const cases: [string, unknown[]][] = [
      ['cholesky', [new Float64Array(4), Number.NaN, new Float64Array(4), new Float64Array(3)]],
      ['varHistorical', [new Float64Array(10), -1, 'x', new Float64Array(2)]],
      ['covariance', [new Float32Array(4), 2, 2, 0, 0.94, 0, new Float64Array(4)]],
      ['lossMoments', [new Float64Array(10), -1, 2, new Float64Array(4)]],
      ['simulateGbm', [100, 0, 0.2, 0.01, 10, 10, 1, 'yes', new Float64Array(10), null]],
    ];
    const raw = addon as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const [name, args] of cases) {
      const sync = catchSync(() => raw[name]!(...args));
      const async = catchSync(() => raw[`${name}Async`]!(...args));
      expect(sync.constructor, name).toBe(async.constructor);
      expect(sync.constructor, name).not.toBe(Error);
      expect(sync.code, name).toBe(async.code);
      expect(sync.code, name).toMatch(/^ERR_(INVALID_ARG_TYPE|OUT_OF_RANGE)$/);
      expect(async.message, name).toBe(sync.message.replace(`${name}:`, `${name}Async:`));
    }
  });

  it('names the argument and the value in a wrong type or range', () => {
    expect(() => addon.varHistorical(new Float64Array(10), -1, 'x' as never, new Float64Array(2))).toThrow(
      'varHistorical: expected a number for confidence (argument 3)',
    );
    expect(() => addon.varHistorical(new Float64Array(10), 2, 0.95, new Float64Array(2))).toThrow(
      'varHistorical: expected -1 or 1 for sign (argument 2) but received 2',
    );
    expect(() => addon.covariance(new Float64Array(8), 4, 2, 1, 1.5, 0, new Float64Array(4))).toThrow(
      'covariance: expected a number in (0, 1) for lambda (argument 5) but received 1.5',
    );
    expect(() => addon.simulateGbm(100, 0, 0.2, 0.01, 10, 10, 1, 1 as never, new Float64Array(10), null)).toThrow(
      'simulateGbm: expected a boolean for antithetic (argument 8)',
    );
    expect(() => addon.portfolioLosses(new Float64Array(2), new Float64Array(2), new Float64Array(4), 5000, 10, 1, 1, new Float64Array(10))).toThrow(
      /^portfolioLosses: expected an integer from 1 to 4096 for assets \(argument 4\) but received 5000$/,
    );
  });
});

describe('GPU addon errors as the kernel sets see them', () => {
  /** A GPU addon stand-in whose historical kernels fail with `err`. */
  const failingWith = (err: Error) =>
    cudaKernelsOf(
      {
        varHistorical: () => {
          throw err;
        },
        varHistoricalAsync: () => Promise.reject(err),
      } as unknown as CudaAddon,
      defaultKernels,
    );
  const coded = (code: string | undefined, message: string, cls = Error) => Object.assign(new cls(message), code === undefined ? {} : { code });
  const values = Float64Array.from({ length: 100 }, (_, i) => Math.sin(i) / 100);

  it('turns a device failure (code ERR_ULTRA_PERF_GPU) into a GpuError, sync and async', async () => {
    const k = failingWith(coded('ERR_ULTRA_PERF_GPU', 'cudaErrorLaunchFailure: unspecified launch failure (kernel at select.cu:1)'));
    expect(() => k.historical(values, -1, 0.95, new Float64Array(2))).toThrow(GpuError);
    await expect(k.historicalAsync(values, -1, 0.95, new Float64Array(2))).rejects.toMatchObject({
      code: 'ERR_ULTRA_PERF_GPU',
      message: 'GPU kernel failed: cudaErrorLaunchFailure: unspecified launch failure (kernel at select.cu:1)',
    });
  });

  it('passes a detached output, a host out-of-memory and an argument error through unchanged, so auto does not redo them on the CPU', async () => {
    for (const err of [
      coded('ERR_ULTRA_PERF_DETACHED', 'varHistoricalAsync: out (argument 4) was detached or shrunk while the kernel ran'),
      coded('ERR_ULTRA_PERF_OUT_OF_MEMORY', 'varHistoricalAsync: out of memory for a copy of 100 losses; use smaller sizes'),
      coded('ERR_OUT_OF_RANGE', 'varHistorical: expected -1 or 1 for sign (argument 2) but received 2', RangeError),
    ]) {
      const k = withCpuFallback(failingWith(err), defaultKernels);
      expect(() => k.historical(values, -1, 0.95, new Float64Array(2))).toThrow(err);
      await expect(k.historicalAsync(values, -1, 0.95, new Float64Array(2))).rejects.toBe(err);
      expect(k.name).toBe('cuda');
    }
  });
});
