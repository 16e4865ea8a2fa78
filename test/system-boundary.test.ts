// Issue 12 kinds 4 and 6 for the affinity bindings: wrong arrays never written past, and an OS
// refusal is an error naming the call, the argument and the errno text, with a code.
import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { getThreadAffinity, setThreadAffinity } from '../lib/index.js';
import { thrown } from './helpers/thrown.js';

const linux = process.platform === 'linux';
const online = cpus().length;
const raw = cpuAddon as unknown as Record<string, (...args: unknown[]) => number> | null;

describe.runIf(linux && raw !== null)('raw affinity bindings', () => {
  it('getThreadAffinity(new Uint8Array(1)) throws and writes nothing past the view', () => {
    const buffer = new ArrayBuffer(64);
    const view = new Uint8Array(buffer, 0, 1);
    const canary = new Uint8Array(buffer).fill(0xa5);
    const err = thrown(() => raw!.getThreadAffinity!(view));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(canary.every((b) => b === 0xa5)).toBe(true);
    // A short Int32Array gets the first cores that fit; the ints after it stay as they were.
    const ints = new Int32Array(8).fill(-1);
    expect(raw!.getThreadAffinity!(ints.subarray(0, 1))).toBe(getThreadAffinity().length);
    expect(Array.from(ints.subarray(1))).toEqual(Array(7).fill(-1));
  });

  it('refuses a detached array', () => {
    const a = new Int32Array(4);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    const err = thrown(() => raw!.getThreadAffinity!(a));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/getThreadAffinity: .*out \(argument 1\).*detached/);
    expect(() => raw!.setThreadAffinity!(a)).toThrow(/setThreadAffinity: .*cores \(argument 1\).*detached/);
  });

  it('names a core index out of [0, 1024) itself, as a RangeError with a code', () => {
    const before = getThreadAffinity();
    const err = thrown(() => raw!.setThreadAffinity!(new Int32Array([0, 5000])));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_OUT_OF_RANGE');
    expect(err.message).toBe('setThreadAffinity: expected a core index from 0 to 1023 for cores[1] (argument 1) but received 5000');
    expect(() => raw!.setThreadAffinity!(new Int32Array([-1]))).toThrow(/for cores\[0\] \(argument 1\) but received -1/);
    expect(getThreadAffinity()).toEqual(before);
  });

  it("turns the OS's refusal into an error naming the call, the argument and the errno text (was 'Invalid argument' or a bare -22)", () => {
    const before = getThreadAffinity();
    const missing = online + 7; // a core this machine does not have
    const err = thrown(() => raw!.setThreadAffinity!(new Int32Array([missing])));
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('EINVAL');
    expect(err.errno).toBe(-22);
    expect(err.syscall).toBe('pthread_setaffinity_np');
    expect(err.message).toBe(`setThreadAffinity: pthread_setaffinity_np refused cores (argument 1) [${missing}]: Invalid argument (EINVAL)`);
    expect(getThreadAffinity()).toEqual(before);
  });
});

describe.runIf(linux)('public affinity API turns EINVAL into a RangeError naming cores', () => {
  it('a core this machine lacks is a RangeError naming cores, whichever backend', () => {
    const before = getThreadAffinity();
    const err = thrown(() => setThreadAffinity([online + 7]));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe(`Expected cores this thread may run on (online: 0-${online - 1}) for cores but received [${online + 7}]`);
    expect(getThreadAffinity()).toEqual(before);
  });
});
