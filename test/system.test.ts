import { cpus } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  affinityBackend,
  applyCorePlan,
  backendInfo,
  currentCpu,
  getThreadAffinity,
  setThreadAffinity,
} from '../lib/index.js';
import { tsCpuInfo } from '../lib/system/cpu.js';
import { firstMessage, tsWorker } from './helpers/ts-worker.js';

const expectedBackend = process.env.ULTRA_PERF_BACKEND === 'native' ? 'native' : 'ts';
const online = cpus().length;
const linux = process.platform === 'linux';

interface WorkerReport {
  backend: string;
  steps: { core: number; readBack: number[]; runningOn: number }[];
}

describe.runIf(linux)('thread affinity', () => {
  let original: number[];
  beforeAll(() => {
    original = getThreadAffinity();
  });
  afterAll(() => {
    setThreadAffinity(original);
  });

  it('uses the backend this suite runs under', () => {
    expect(affinityBackend).toBe(expectedBackend);
  });

  it('pins a worker thread to core 0, then core 1, and the thread runs there', async () => {
    const cores = online >= 2 ? [0, 1] : [0];
    const worker = tsWorker(new URL('./fixtures/affinity-worker.ts', import.meta.url), { workerData: { cores } });
    const report = await firstMessage<WorkerReport>(worker);
    await worker.terminate();
    expect(report.backend).toBe(expectedBackend);
    expect(report.steps.map((s) => s.core)).toEqual(cores);
    for (const step of report.steps) {
      expect(step.readBack).toEqual([step.core]);
      expect(step.runningOn).toBe(step.core);
    }
    // Pinning a worker is per thread: the main thread keeps what it had.
    expect(getThreadAffinity()).toEqual(original);
  });

  it('pins the main thread and reads it back', () => {
    const core = online - 1;
    setThreadAffinity([core]);
    expect(getThreadAffinity()).toEqual([core]);
    expect(currentCpu()).toBe(core);
    setThreadAffinity(original);
    expect(getThreadAffinity()).toEqual(original);
  });

  it('accepts an Int32Array and several cores', () => {
    const all = Int32Array.from({ length: online }, (_, i) => i);
    setThreadAffinity(all);
    expect(getThreadAffinity()).toEqual(Array.from(all));
  });

  it.each([
    [[], RangeError, /at least one core index for cores but received \[\]/],
    [[-1], RangeError, /a core index in \[0, 1024\) for cores\[0\] but received -1/],
    [[0, 1.5], TypeError, /an integer core index for cores\[1\] but received 1.5/],
    [[0, '1'], TypeError, /an integer core index for cores\[1\] but received "1"/],
    [[Number.NaN], TypeError, /for cores\[0\] but received NaN/],
    [[5000], RangeError, /for cores\[0\] but received 5000/],
    ['0', TypeError, /an array of core indices for cores but received "0"/],
    [null, TypeError, /for cores but received null/],
  ])('rejects %j with a clear error and leaves the affinity alone', (bad, kind, message) => {
    const before = getThreadAffinity();
    expect(() => setThreadAffinity(bad as number[])).toThrow(kind);
    expect(() => setThreadAffinity(bad as number[])).toThrow(message);
    expect(getThreadAffinity()).toEqual(before);
  });

  it('rejects cores that are not online, naming them', () => {
    const before = getThreadAffinity();
    expect(() => setThreadAffinity([online + 7])).toThrow(
      new RangeError(`Expected cores this thread may run on (online: 0-${online - 1}) for cores but received [${online + 7}]`),
    );
    expect(getThreadAffinity()).toEqual(before);
  });
});

describe.runIf(linux)('applyCorePlan', () => {
  const plan = { trading: [online - 1], network: [0], background: [0], isolated: [] as number[] };

  it('pins the calling thread to the role and returns the cores', () => {
    const before = getThreadAffinity();
    expect(applyCorePlan(plan, 'trading')).toEqual([online - 1]);
    expect(getThreadAffinity()).toEqual([online - 1]);
    expect(applyCorePlan(plan, 'network')).toEqual([0]);
    expect(getThreadAffinity()).toEqual([0]);
    setThreadAffinity(before);
  });

  it('refuses a plan that lets another role onto an isolated core', () => {
    const before = getThreadAffinity();
    const bad = { trading: [0], network: [0], background: [0], isolated: [0] };
    expect(() => applyCorePlan(bad, 'isolated')).toThrow(/no core that plan.isolated reserves \(\[0\]\) for plan.trading but received \[0\]/);
    expect(getThreadAffinity()).toEqual(before);
  });

  it('names a bad role, an empty role list and a bad plan', () => {
    expect(() => applyCorePlan(plan, 'gpu' as 'trading')).toThrow(
      /Expected one of 'trading', 'network', 'background', 'isolated' for role but received "gpu"/,
    );
    expect(() => applyCorePlan(plan, 'isolated')).toThrow(/at least one core index for the role being applied for plan.isolated/);
    expect(() => applyCorePlan(null as never, 'trading')).toThrow(TypeError);
    expect(() => applyCorePlan({ ...plan, network: [-3] }, 'trading')).toThrow(/for plan.network\[0\] but received -3/);
  });

  it('refuses a plan naming a core this machine does not have, whichever role is applied', () => {
    const before = getThreadAffinity();
    const bad = { ...plan, background: [0, online + 5] };
    expect(() => applyCorePlan(bad, 'trading')).toThrow(RangeError);
    expect(() => applyCorePlan(bad, 'trading')).toThrow(
      new RegExp(`Expected a core this machine has \\(.+\\) for plan.background\\[1\\] but received ${online + 5}`),
    );
    expect(getThreadAffinity()).toEqual(before);
  });
});

describe('CPU identification', () => {
  it('reports model, cores and features', () => {
    const { cpu } = backendInfo();
    expect(cpu.model.length).toBeGreaterThan(0);
    expect(cpu.cores).toBe(online);
    expect(Array.isArray(cpu.features)).toBe(true);
  });

  it.runIf(linux)('agrees with /proc/cpuinfo whichever backend produced it', () => {
    const ts = tsCpuInfo();
    const { cpu } = backendInfo();
    expect(cpu.features).toEqual(ts.features);
    expect(cpu.cores).toBe(ts.cores);
  });
});

// Issue 12, kind 4: the raw addon checks every TypedArray argument's element type and
// length itself (a caller may skip lib/system), and names the argument.
describe.runIf(expectedBackend === 'native')('raw affinity bindings refuse wrong array types', () => {
  it('getThreadAffinity(new Uint8Array(1)) throws instead of writing 3 bytes past the view', async () => {
    const { cpuAddon } = await import('../lib/backend.js');
    const raw = cpuAddon as unknown as Record<string, (...args: unknown[]) => number>;
    const buffer = new ArrayBuffer(64);
    const view = new Uint8Array(buffer, 0, 1);
    const after = new Uint8Array(buffer, 1, 63).fill(0xa5);
    expect(() => raw.getThreadAffinity!(view)).toThrow(
      /getThreadAffinity: expected an Int32Array for out \(argument 1\) but received a Uint8Array/,
    );
    expect(after.every((b) => b === 0xa5)).toBe(true);
    expect(() => raw.getThreadAffinity!(new Float64Array(4))).toThrow(TypeError);
    expect(() => raw.getThreadAffinity!([0, 1])).toThrow(/received a value that is not a TypedArray/);
    expect(() => raw.getThreadAffinity!()).toThrow(TypeError);
    expect(raw.getThreadAffinity!(new Int32Array(0))).toBeGreaterThan(0); // counts, writes nothing
    expect(() => raw.setThreadAffinity!(new Uint8Array([0, 0, 0, 0]))).toThrow(
      /setThreadAffinity: expected an Int32Array for cores \(argument 1\) but received a Uint8Array/,
    );
    expect(() => raw.setThreadAffinity!(new Int32Array(0))).toThrow(RangeError);
    try {
      raw.getThreadAffinity!(view);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });
});
