// Layouts and ABI versions agree by test, not by hand (issue 11 item 5): every shared
// layout's TS table against the one the CPU addon exports, the loader's refusal of an
// addon that disagrees, and one ABI version across TS, the CPU addon and the GPU addon.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { CPU_ABI_VERSION, CUDA_ABI_VERSION, type CpuAddon } from '../lib/addon-types.js';
import { cpuAddon, cpuLayoutChecks, cudaAddon, packageRoot } from '../lib/backend.js';
import { addonLayoutError, layoutDifferences, prefixed } from '../lib/internal/layout-check.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native';

/**
 * The built CPU addon loaded directly, whatever ULTRA_PERF_BACKEND says and without the
 * loader's checks, so a disagreement shows here as a list of differences.
 */
function loadRawAddon(): CpuAddon | null {
  try {
    const load = createRequire(join(packageRoot, 'package.json'))('node-gyp-build') as (dir: string) => CpuAddon;
    return load(packageRoot);
  } catch {
    return null;
  }
}
const raw = loadRawAddon();

describe('layout tables', () => {
  it('covers queue, memory, order book and the L2 cache, each a table of finite numbers', () => {
    expect(cpuLayoutChecks.map((c) => c.name)).toEqual(['queue', 'memory', 'orderbook', 'cache']);
    for (const { name, ts } of cpuLayoutChecks) {
      expect(Object.keys(ts).length, name).toBeGreaterThan(10);
      for (const [key, value] of Object.entries(ts)) expect([name, key, Number.isFinite(value)]).toEqual([name, key, true]);
    }
  });

  it('has the built addon whenever the native backend is in use', () => {
    if (native) expect(raw).not.toBeNull();
    expect(cpuAddon === null || raw !== null).toBe(true);
  });

  describe.runIf(raw !== null)('against the built CPU addon', () => {
    it.each(cpuLayoutChecks.map((c) => [c.name, c] as const))('%s: every offset, size and constant agrees', (_name, check) => {
      expect(layoutDifferences(check.ts, check.native(raw!))).toEqual([]);
    });

    it('the loader finds nothing to refuse', () => {
      expect(addonLayoutError(raw!, cpuLayoutChecks)).toBeUndefined();
    });
  });
});

describe('layoutDifferences / addonLayoutError', () => {
  const ts = Object.freeze({ a: 0, b: 4, c: 8 });

  it('names a changed value, a missing key and an extra key, sorted by key', () => {
    expect(layoutDifferences(ts, { a: 0, b: 5, d: 1 })).toEqual([
      'b is 5 in the addon but 4 here',
      'c is 8 here but missing from the addon',
      'd is 1 in the addon but unknown here',
    ]);
    expect(layoutDifferences(ts, { ...ts })).toEqual([]);
  });

  it('says so when the addon exports no table', () => {
    expect(layoutDifferences(ts, undefined)).toEqual(['the addon exports no table (received undefined)']);
    expect(layoutDifferences(ts, null)).toEqual(['the addon exports no table (received null)']);
  });

  it('flattens sub-tables under prefixed names', () => {
    expect(prefixed('top', { bidPrice: 0, askPrice: 2 })).toEqual([
      ['top.bidPrice', 0],
      ['top.askPrice', 2],
    ]);
  });

  it('refuses an addon naming the layout, the key, both values and the way out', () => {
    type Fake = { q?: unknown; m: () => unknown };
    const checks = [
      { name: 'queue', ts, native: (a: Fake) => a.q },
      { name: 'memory', ts, native: (a: Fake) => a.m() },
    ];
    expect(addonLayoutError({ q: { ...ts }, m: () => ({ ...ts }) }, checks)).toBeUndefined();
    const message = addonLayoutError({ q: { ...ts, b: 12 }, m: () => ({ ...ts }) }, checks);
    expect(message).toBe(
      "the CPU addon's shared-memory layouts differ from this build of the library (queue: b is 12 in the addon but 4 here); " +
        'it was built from other sources: rebuild it with "npm run build:native"',
    );
    const throwing = addonLayoutError(
      {
        m: () => {
          throw new TypeError('memoryLayout is not a function');
        },
      },
      checks,
    );
    expect(throwing).toMatch(/\(queue: the addon exports no table \(received undefined\) \| memory: reading its table threw memoryLayout is not a function\)/);
  });

  it('lists five differences of one layout and counts the rest', () => {
    const many = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, i]));
    const message = addonLayoutError({}, [{ name: 'queue', ts: many, native: () => ({}) }]);
    expect(message).toMatch(/k4 is 4 here but missing from the addon, and 3 more\)/);
    expect(message).not.toMatch(/k5/);
  });
});

// The loader itself, fresh in a child: node-gyp-build is wrapped so the real addon comes
// back with one queue offset moved, as an addon built from other sources would be.
describe.runIf(raw !== null)('the loader and a mismatching addon', () => {
  const dir = mkdtempSync(join(tmpdir(), 'up-layout-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'tamper.cjs'),
    `const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  const real = load.call(this, request, ...rest);
  if (request !== 'node-gyp-build') return real;
  return (where) => {
    const addon = real(where);
    return { ...addon, queueLayout: { ...addon.queueLayout, tailOffset: addon.queueLayout.tailOffset + 4 } };
  };
};
`,
  );
  const index = pathToFileURL(join(packageRoot, 'lib', 'index.js')).href;
  writeFileSync(
    join(dir, 'probe.mts'),
    `const m = await import(${JSON.stringify(index)});\nprocess.stdout.write(JSON.stringify(m.backendInfo()));\n`,
  );
  const run = (backend: string) =>
    spawnSync(process.execPath, ['--require', join(dir, 'tamper.cjs'), '--import', 'tsx', join(dir, 'probe.mts')], {
      cwd: packageRoot,
      encoding: 'utf8',
      env: { ...process.env, ULTRA_PERF_BACKEND: backend },
      timeout: 60_000,
    });
  const expected =
    "the CPU addon's shared-memory layouts differ from this build of the library (queue: tailOffset is 132 in the addon but 128 here); " +
    'it was built from other sources: rebuild it with "npm run build:native"';

  it("falls back to TS under 'auto' and says why", () => {
    const child = run('auto');
    expect(child.status, child.stderr).toBe(0);
    const info = JSON.parse(child.stdout);
    expect(info.native).toBe(false);
    expect(info.nativeError).toBe(expected);
  });

  it("refuses to start under 'native'", () => {
    const child = run('native');
    expect(child.status).not.toBe(0);
    expect(child.stderr).toContain(`BackendUnavailableError: ULTRA_PERF_BACKEND=native but ${expected}`);
  });
});

describe('ABI versions', () => {
  /** The one `kAbiVersion = N` in a source file (read, not built: the GPU addon is not built everywhere). */
  const sourceVersion = (path: string): number => {
    const matches = [...readFileSync(join(packageRoot, path), 'utf8').matchAll(/\bkAbiVersion\s*=\s*(\d+)\s*;/g)];
    expect(matches.length, path).toBe(1);
    return Number(matches[0]![1]);
  };

  it('are one number in TS, the CPU addon (source and binary) and the GPU addon (source and, when loaded, binary)', () => {
    const versions: Record<string, number> = {
      'lib/addon-types.ts CPU_ABI_VERSION': CPU_ABI_VERSION,
      'lib/addon-types.ts CUDA_ABI_VERSION': CUDA_ABI_VERSION,
      'cpp/napi/bindings.hpp kAbiVersion': sourceVersion('cpp/napi/bindings.hpp'),
      'cuda/napi/addon.cc kAbiVersion': sourceVersion('cuda/napi/addon.cc'),
    };
    if (raw !== null) versions['built CPU addon abiVersion'] = raw.abiVersion;
    if (cudaAddon !== null) versions['loaded GPU addon abiVersion'] = cudaAddon.abiVersion;
    const expected = Object.fromEntries(Object.keys(versions).map((k) => [k, CPU_ABI_VERSION]));
    expect(versions).toEqual(expected);
  });
});
