// Issue 19 item 3: the raw GPU addon bounds its sizes itself, so a direct caller (not the
// library, which caps them earlier) can never reach the kernels' index math out of range:
// assets >= 46,341 would overflow a 32-bit i * assets, and steps beyond 2^24 are refused
// as on the CPU addon. The argument checks run before any device call (cuda/napi/addon.cc
// parses every argument before on_device selects a device), so this holds, and is tested,
// on a machine with no GPU and no driver. It runs wherever the GPU addon is built
// (build-cuda/, as CI does with ULTRA_PERF_BUILD_CUDA=1); the library's own loader never
// loads the addon without a device, so the addon is loaded in a child process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { cudaAddonCandidates } from '../lib/backend.js';

const built = cudaAddonCandidates().find((p) => existsSync(p));

interface Outcome {
  call: string;
  outcome: 'returned' | 'threw' | 'rejected';
  name?: string;
  code?: string;
  message?: string;
}

// Each call sync and async; an async call may throw at once (argument checks) or reject.
const kScript = `
  const a = require(process.argv[1]);
  const f = (n) => new Float64Array(n);
  const calls = {
    'portfolioMc assets 46341': (fn) => a[fn](f(1), f(1), f(1), 46341, 2, 1, 1, 0.99, f(2), f(4)),
    'portfolioMc assets 4097': (fn) => a[fn](f(1), f(1), f(1), 4097, 2, 1, 1, 0.99, f(2), f(4)),
    'portfolioMc assets 2^32': (fn) => a[fn](f(1), f(1), f(1), 2 ** 32, 2, 1, 1, 0.99, null, f(4)),
    'simulateGbm steps 2^25': (fn) => a[fn](100, 0.05, 0.2, 1 / 252, 2 ** 25, 2, 1, false, 0.95, f(2), null, f(4)),
    'simulateGbm steps 2^25 kept': (fn) => a[fn](100, 0.05, 0.2, 1 / 252, 2 ** 25, 2, 1, true, 0.95, f(2), f(4), f(4)),
  };
  const out = [];
  const record = (call, outcome, e) => out.push(e === undefined ? { call, outcome } : { call, outcome, name: e.name, code: e.code, message: e.message });
  (async () => {
    for (const [name, call] of Object.entries(calls)) {
      const fn = name.split(' ')[0];
      try { call(fn); record(name, 'returned'); } catch (e) { record(name, 'threw', e); }
      let promise;
      try { promise = call(fn + 'Async'); } catch (e) { record(name + ' async', 'threw', e); continue; }
      await promise.then(() => record(name + ' async', 'returned'), (e) => record(name + ' async', 'rejected', e));
    }
    process.stdout.write(JSON.stringify(out));
  })();`;

describe('the raw GPU addon refuses out-of-range sizes before any device call', () => {
  it.runIf(built !== undefined)('assets >= 46,341 (portfolioMc) and steps 2^25 (simulateGbm): ERR_OUT_OF_RANGE, no crash', () => {
    const child = spawnSync(process.execPath, ['-e', kScript, built!], {
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    const outcomes = JSON.parse(child.stdout) as Outcome[];
    expect(outcomes).toHaveLength(10);
    for (const o of outcomes) {
      // A refused argument never reaches a device, sync or async: a thrown RangeError.
      expect(o.outcome, `${o.call}: ${o.message ?? ''}`).toBe('threw');
      expect(o.name, o.call).toBe('RangeError');
      expect(o.code, o.call).toBe('ERR_OUT_OF_RANGE');
      const [fn, arg, value] = o.call.split(' ');
      const [position, shown] = arg === 'assets' ? ['4', value === '2^32' ? '4294967296' : value] : ['5', '33554432'];
      expect(o.message, o.call).toMatch(new RegExp(`^${fn}(Async)?: .*${arg} \\(argument ${position}\\).* received ${shown}$`));
    }
  });
});
