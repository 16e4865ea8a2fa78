// The bench harness's spaced calls and ratio targets (bench/lib/suite.ts): a spaced task says
// so in its record and its table label, a back-to-back peer in the same group is labelled as
// such, a ratio target is judged on the two medians the file records (no timing is asserted),
// and a suite that asks for something the harness cannot do is refused when it is declared.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { defineSuite, modeText, runSuite, type TaskSpec } from '../bench/lib/suite.js';

const dir = mkdtempSync(join(tmpdir(), 'up-bench-harness-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let sink = 0;
const small = () => (sink += [1, 2, 3].reduce((a, b) => a + b));
const suiteOf = (tasks: TaskSpec[]) => ({ name: 'harness-fixture', description: 'fixture', rounds: 2, timeMs: 20, warmupMs: 2, groups: [{ name: 'g', description: 'g', tasks }] });

describe('bench harness: spaced calls and ratio targets', () => {
  it('records the gap, labels spaced and back-to-back calls, and judges a ratio target on the recorded medians', async () => {
    const spec = defineSuite(
      suiteOf([
        { name: 'spaced', fn: small, batch: 1, gapUs: 200, target: { fasterThan: { peer: 'peer', factor: 1.5 } } },
        { name: 'peer', fn: small, batch: 1, gapUs: 200 },
        { name: 'back', fn: small, batch: 1 },
        { name: 'external', external: (_b, min, gapUs) => Promise.resolve(Array.from({ length: min }, () => 1000 + gapUs)), gapUs: 300 },
      ]),
    );
    const r = await runSuite(spec, { print: false, resultsDir: dir });
    expect(sink).toBeGreaterThan(0);
    const byName = Object.fromEntries(r.tasks.map((t) => [t.name, t]));
    expect(byName['spaced']!.gapUs).toBe(200);
    expect(byName['back']!.gapUs).toBeUndefined();
    // The external sampler was handed the task's gap.
    expect(byName['external']!.medianNsPerOp).toBe(1300);
    expect(modeText(byName['spaced']!, true)).toBe('1 call, 200 µs apart');
    expect(modeText(byName['back']!, true)).toBe('1 call, back-to-back');
    expect(modeText(byName['back']!, false)).toBe('batch×1');
    expect(modeText(byName['external']!, true)).toBe('external, 300 µs apart');
    const t = byName['spaced']!.target!;
    const measured = byName['peer']!.medianNsPerOp / byName['spaced']!.medianNsPerOp;
    expect(t.fasterThan).toEqual({ peer: 'peer', factor: 1.5, measured });
    expect(t.met).toBe(measured >= 1.5);
  });

  it('a ratio target whose peer is skipped is not met and says why', async () => {
    const spec = defineSuite(
      suiteOf([
        { name: 'ours', fn: small, target: { fasterThan: { peer: 'absent peer', factor: 1 } } },
        { name: 'absent peer', external: () => Promise.resolve([]), skip: 'not installed' },
      ]),
    );
    const r = await runSuite(spec, { print: false, resultsDir: dir });
    expect(r.tasks[0]!.target).toMatchObject({ met: false, unjudged: 'absent peer was not measured', fasterThan: { peer: 'absent peer', factor: 1 } });
    expect(r.tasks[0]!.target!.fasterThan!.measured).toBeUndefined();
  });

  it('refuses a gap with batched calls, a bad gap, and a ratio target on a task outside the group', () => {
    expect(() => defineSuite(suiteOf([{ name: 'a', fn: small, gapUs: 100 }]))).toThrow(
      /task "a" has gapUs but batch auto; spaced calls need one call per sample \(batch: 1\)/,
    );
    expect(() => defineSuite(suiteOf([{ name: 'a', fn: small, batch: 4, gapUs: 100 }]))).toThrow(/has gapUs but batch 4/);
    expect(() => defineSuite(suiteOf([{ name: 'a', fn: small, batch: 1, gapUs: 0 }]))).toThrow(/has gapUs 0; expected a number of µs in \(0, 1e6\]/);
    expect(() => defineSuite(suiteOf([{ name: 'a', fn: small, target: { fasterThan: { peer: 'nobody', factor: 2 } } }]))).toThrow(
      /task "a" has a target faster than "nobody", which is not another task of group g/,
    );
    expect(() =>
      defineSuite(suiteOf([{ name: 'a', fn: small, target: { fasterThan: { peer: 'b', factor: 0 } } }, { name: 'b', fn: small }])),
    ).toThrow(/fasterThan factor 0; expected a number > 0/);
  });
});
