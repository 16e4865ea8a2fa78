/**
 * GpuMonitor (issue 15 item 7). This machine has no GPU: the real libnvidia-ml is absent, so
 * the load-failure path is checked as is, and the reading path runs against a fake
 * libnvidia-ml built from test/fixtures/fake-nvml.c with fixed values. The device check on a
 * real GPU is test/gpu/gpu-monitor.test.mjs (`npm run test:gpu`).
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

import { BackendUnavailableError, GpuError } from '../lib/errors.js';
import { GpuMonitor } from '../lib/index.js';
import { fakeNvmlPath } from './helpers/fake-nvml.js';
import { firstMessage, tsWorker } from './helpers/ts-worker.js';
import { thrown } from './helpers/thrown.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native';
const noDriver = !existsSync('/dev/nvidiactl') && !existsSync('/proc/driver/nvidia/version');

const monitors: GpuMonitor[] = [];
function monitor(options?: ConstructorParameters<typeof GpuMonitor>[0]): GpuMonitor {
  const m = new GpuMonitor(options);
  monitors.push(m);
  return m;
}
afterEach(() => {
  for (const m of monitors.splice(0)) m.close();
  delete process.env.FAKE_NVML_INIT_STATUS;
});

describe('GpuMonitor without NVML', () => {
  it('is unavailable with the reason, and never throws until a reading is asked for', () => {
    const m = monitor({ libraryPath: '/nonexistent/libnvidia-ml.so.1' });
    expect(m.available).toBe(false);
    expect(m.reason).toMatch(native ? /^\/nonexistent\/libnvidia-ml\.so\.1 not found: .*No such file/ : /CPU addon/);
    expect(m.deviceCount).toBe(0);
    expect(m.report()).toEqual({ available: false, libraryPath: '/nonexistent/libnvidia-ml.so.1', reason: m.reason, devices: [] });
    const err = thrown(() => m.read(0));
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toContain(m.reason);
    expect(thrown(() => m.readAll())).toBeInstanceOf(BackendUnavailableError);
    expect(thrown(() => m.utilization(0))).toBeInstanceOf(BackendUnavailableError);
  });

  it.runIf(noDriver)("opens libnvidia-ml.so.1 by default and says it is not there", () => {
    const previous = process.env.ULTRA_PERF_NVML_PATH;
    delete process.env.ULTRA_PERF_NVML_PATH;
    try {
      const m = monitor();
      expect(m.libraryPath).toBe('libnvidia-ml.so.1');
      expect(m.available).toBe(false);
      if (native) expect(m.reason).toMatch(/^libnvidia-ml\.so\.1 not found: /);
    } finally {
      if (previous !== undefined) process.env.ULTRA_PERF_NVML_PATH = previous;
    }
  });

  it.runIf(native)('refuses a library that is not libnvidia-ml, naming the missing function', () => {
    const m = monitor({ libraryPath: 'libc.so.6' });
    expect(m.available).toBe(false);
    expect(m.reason).toBe('libc.so.6 has no nvmlInit_v2: it is not a usable libnvidia-ml');
  });

  it('rejects bad arguments, naming each', () => {
    const m = monitor({ libraryPath: '/nonexistent/libnvidia-ml.so.1' });
    const cases: [() => unknown, string, string, string][] = [
      [() => new GpuMonitor({ libraryPath: 5 as never }), 'TypeError', 'ERR_INVALID_ARG_TYPE', 'options.libraryPath'],
      [() => new GpuMonitor({ libraryPath: '' }), 'RangeError', 'ERR_OUT_OF_RANGE', 'options.libraryPath'],
      [() => new GpuMonitor({ libaryPath: 'x' } as never), 'TypeError', 'ERR_ULTRA_PERF_UNKNOWN_OPTION', "'libaryPath'"],
      [() => m.read(-1), 'RangeError', 'ERR_OUT_OF_RANGE', 'index but received -1'],
      [() => m.read(1.5), 'RangeError', 'ERR_OUT_OF_RANGE', 'index but received 1.5'],
      [() => m.read('0' as never), 'TypeError', 'ERR_INVALID_ARG_TYPE', 'index'],
      [() => m.utilization(0, { periodMs: -1 }), 'RangeError', 'ERR_OUT_OF_RANGE', 'options.periodMs but received -1'],
      [() => m.utilization(0, { periodMs: NaN }), 'RangeError', 'ERR_OUT_OF_RANGE', 'options.periodMs but received NaN'],
      [() => m.utilization(0, { periodMs: '5' as never }), 'TypeError', 'ERR_INVALID_ARG_TYPE', 'options.periodMs'],
      [() => m.utilizationSamples(0, { sinceUs: -5 }), 'RangeError', 'ERR_OUT_OF_RANGE', 'options.sinceUs but received -5'],
      [() => m.utilizationSamples(0, { sinceUs: 0.5 }), 'RangeError', 'ERR_OUT_OF_RANGE', 'options.sinceUs but received 0.5'],
      [() => m.utilizationSamples(-2), 'RangeError', 'ERR_OUT_OF_RANGE', 'index but received -2'],
    ];
    for (const [fn, name, code, text] of cases) {
      const err = thrown(fn);
      expect(err.name, text).toBe(name);
      expect(err.code, text).toBe(code);
      expect(err.message).toContain(text);
    }
  });
});

describe.runIf(native)('GpuMonitor over a fake libnvidia-ml', () => {
  it('reads every quantity, in the units its names say', () => {
    const m = monitor({ libraryPath: fakeNvmlPath() });
    expect(m.reason).toBeUndefined();
    expect(m.available).toBe(true);
    expect(m.deviceCount).toBe(2);
    expect(m.read(0)).toEqual({
      index: 0,
      name: 'Fake H200',
      utilizationPercent: 37,
      memoryUtilizationPercent: 12,
      memoryTotalBytes: 150754820096,
      memoryUsedBytes: 1073741824,
      memoryFreeBytes: 150754820096 - 1073741824,
      temperatureC: 41,
      powerW: 123.456,
      clocksMhz: { graphics: 1755, sm: 1755, memory: 3201, video: 1500 },
    });
  });

  it('gives null for what a device does not support or forbids, and reads the rest', () => {
    const m = monitor({ libraryPath: fakeNvmlPath() });
    const r = m.read(1);
    expect(r.name).toBe('Fake T4');
    expect(r.powerW).toBeNull();
    expect(r.temperatureC).toBeNull();
    expect(r.clocksMhz).toEqual({ graphics: 1255, sm: 1255, memory: 2701, video: null });
    expect(r.memoryTotalBytes).toBe(16106127360);
    expect(m.readAll().map((d) => d.name)).toEqual(['Fake H200', 'Fake T4']);
    const report = m.report();
    expect(report.available).toBe(true);
    expect(report.devices).toHaveLength(2);
  });

  it('rejects a device index past the count, naming it', () => {
    const m = monitor({ libraryPath: fakeNvmlPath() });
    const err = thrown(() => m.read(2));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_OUT_OF_RANGE');
    expect(err.message).toBe('Expected a device index from 0 to 1 for index but received 2');
    expect(thrown(() => m.utilization(7)).message).toContain('for index but received 7');
  });

  it('returns the sampled utilization in time order, newer than sinceUs', () => {
    const m = monitor({ libraryPath: fakeNvmlPath() });
    const all = m.utilizationSamples(0);
    expect(all).toEqual({
      timestampsUs: [1000100, 1000200, 1000300, 1000400, 1000500],
      percent: [10, 20, 30, 40, 50],
      lastSeenUs: 1000500,
    });
    expect(m.utilizationSamples(0, { sinceUs: 1000300 })).toEqual({ timestampsUs: [1000400, 1000500], percent: [40, 50], lastSeenUs: 1000500 });
    expect(m.utilizationSamples(0, { sinceUs: all.lastSeenUs })).toEqual({ timestampsUs: [], percent: [], lastSeenUs: 1000500 });
  });

  it('averages the samples of a sub-second period ending at the newest', () => {
    const m = monitor({ libraryPath: fakeNvmlPath() });
    expect(m.utilization(0, { periodMs: 0.25 })).toEqual({ index: 0, periodMs: 0.25, samples: 3, meanPercent: 40, minPercent: 30, maxPercent: 50 });
    expect(m.utilization(0, { periodMs: 0 })).toMatchObject({ samples: 1, meanPercent: 50 });
    expect(m.utilization(0)).toMatchObject({ periodMs: 1000, samples: 5, meanPercent: 30, minPercent: 10, maxPercent: 50 });
    const err = thrown(() => m.utilization(1));
    expect(err).toBeInstanceOf(GpuError);
    expect(err.message).toBe('GpuMonitor.utilizationSamples(1): NVML failed: Not Supported (NVML error 3)');
  });

  it('shares one NVML session: another library is refused while it is open, and the last close shuts it', () => {
    const a = monitor({ libraryPath: fakeNvmlPath() });
    const b = monitor({ libraryPath: fakeNvmlPath() });
    expect(b.available).toBe(true);
    const c = monitor({ libraryPath: 'libc.so.6' });
    expect(c.available).toBe(false);
    expect(c.reason).toBe(`NVML is already open from ${fakeNvmlPath()}; close it before opening libc.so.6`);
    a.close();
    expect(b.read(0).name).toBe('Fake H200');
    b.close();
    b.close();
    expect(thrown(() => b.read(0)).message).toBe('GpuMonitor.read: the monitor is closed');
    expect(b.report()).toMatchObject({ available: false, reason: 'the monitor is closed' });
    const d = monitor({ libraryPath: 'libc.so.6' });
    expect(d.reason).toBe('libc.so.6 has no nvmlInit_v2: it is not a usable libnvidia-ml');
  });

  it('shares the session with worker threads: a worker closing its monitor leaves ours open', async () => {
    const m = monitor({ libraryPath: fakeNvmlPath() });
    const worker = tsWorker(new URL('./fixtures/gpu-monitor-worker.ts', import.meta.url), { workerData: { path: fakeNvmlPath() } });
    expect(await firstMessage(worker)).toEqual({ available: true, reason: null, name: 'Fake H200' });
    await worker.terminate();
    expect(m.read(1).name).toBe('Fake T4');
    const other = tsWorker(new URL('./fixtures/gpu-monitor-worker.ts', import.meta.url), { workerData: { path: 'libc.so.6' } });
    expect(await firstMessage(other)).toEqual({
      available: false,
      reason: `NVML is already open from ${fakeNvmlPath()}; close it before opening libc.so.6`,
      name: null,
    });
    await other.terminate();
  });

  it("reports nvmlInit_v2's failure with NVML's words", () => {
    process.env.FAKE_NVML_INIT_STATUS = '9';
    const m = monitor({ libraryPath: fakeNvmlPath() });
    expect(m.available).toBe(false);
    expect(m.reason).toBe('nvmlInit_v2 failed: Driver Not Loaded (NVML error 9)');
  });

  it('takes ULTRA_PERF_NVML_PATH when no libraryPath is given', () => {
    process.env.ULTRA_PERF_NVML_PATH = fakeNvmlPath();
    try {
      const m = monitor();
      expect(m.libraryPath).toBe(fakeNvmlPath());
      expect(m.deviceCount).toBe(2);
    } finally {
      delete process.env.ULTRA_PERF_NVML_PATH;
    }
  });
});
