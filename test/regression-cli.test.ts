/**
 * `ultra-performance compare` and `ultra-performance history`: the commands CI and people run
 * on bench results, in-process on small fixture suite files (test/fixtures/regression-*.json)
 * and on a history folder written here.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it, vi } from 'vitest';

import { defineSuite, runSuite } from '../bench/lib/suite.js';
import { compareCommand } from '../lib/monitor/cli-compare.js';
import { historyCommand } from '../lib/monitor/cli-history.js';
import { appendHistory, compareSuites, historyChangePoints, readHistory, readSuiteFile, type SuiteFile } from '../lib/monitor/history.js';
import { seeded } from './fixtures/seeded.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const base = join(fixtures, 'regression-base.json');
const same = join(fixtures, 'regression-same.json');
const slower = join(fixtures, 'regression-slower.json');
const dir = mkdtempSync(join(tmpdir(), 'up-regression-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(command: (argv: string[]) => Promise<number>, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (out += `${a.join(' ')}\n`));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (err += `${a.join(' ')}\n`));
  try {
    return { code: await command(args), out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('ultra-performance compare', () => {
  it('prints the benchstat-style table and exits 1 on a regression', async () => {
    const r = await run(compareCommand, [base, slower]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/push · SpscQueue\.tryPush\s+39\.98ns ± 2%\s+51\.83ns ± 2%\s+\+29\.65% \(p=0\.00055 n=10\+10\)\s+REGRESSION/);
    expect(r.out).toMatch(/pop · SpscQueue\.tryPop .* ~ \(p=0\.47 n=10\+10\)/);
    expect(r.out).toMatch(/batch · pushBatch .* -21\.74% .* improvement/);
    // the extras figure has one value per file: not judged
    expect(r.out).toMatch(/cross-thread · throughput\s+20\.00M msg\/s ± ∞\s+16\.00M msg\/s ± ∞ .*insufficient data/);
    expect(r.out).toContain('only in the current run: batch · newTask');
    expect(r.out).toContain('1 regression: push · SpscQueue.tryPush');
  });

  it('exits 0 when nothing changed, and --json gives the report', async () => {
    expect((await run(compareCommand, [base, same])).code).toBe(0);
    const r = await run(compareCommand, [base, slower, '--json', '--sensitivity', '0.5']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as ReturnType<typeof compareSuites>;
    expect(json.report.sensitivity).toBe(0.5);
    expect(json.report.metrics.map((m) => m.verdict)).toEqual(['no-change', 'no-change', 'no-change', 'insufficient-data']);
    expect(json.baseline.file).toBe(base);
  });

  it('agrees with compareSuites on the files', () => {
    const c = compareSuites(readSuiteFile(base), readSuiteFile(slower));
    expect(c.report.regressions).toEqual(['push · SpscQueue.tryPush']);
    expect(c.report.improvements).toEqual(['batch · pushBatch']);
    expect(c.units['cross-thread · throughput']).toBe('msg/s');
    expect(c.report.metrics.find((m) => m.name === 'cross-thread · throughput')!.higherIsBetter).toBe(true);
  });

  it('exits 2 when the two files share no metric (nothing compared is not a pass)', async () => {
    const other = join(dir, 'other-suite.json');
    writeFileSync(other, JSON.stringify({ ...(JSON.parse(readFileSync(base, 'utf8')) as SuiteFile), suite: 'other', extras: {}, tasks: [{ group: 'g', name: 'renamed', medianNsPerOp: 1, roundMediansNsPerOp: [1, 1, 1, 1, 1, 1] }] }));
    const r = await run(compareCommand, [base, other]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('have no metric in common');
  });

  it('exits 2 naming the problem: arguments, flags, missing or malformed files', async () => {
    const one = await run(compareCommand, [base]);
    expect(one.code).toBe(2);
    expect(one.err).toContain('compare takes two suite JSON files, received 1');
    const flag = await run(compareCommand, [base, same, '--sensitivty', '0.2']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain('did you mean --sensitivity?');
    const num = await run(compareCommand, [base, same, '--alpha', 'x']);
    expect(num.err).toContain('--alpha expects a number but received "x"');
    const range = await run(compareCommand, [base, same, '--alpha', '2']);
    expect(range.code).toBe(2);
    expect(range.err).toContain('options.alpha');
    const missing = await run(compareCommand, [base, join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('nope.json');
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{\n  "suite": "q",\n  oops\n}\n');
    const bad = await run(compareCommand, [base, notJson]);
    expect(bad.err).toContain('bad.json, line 3: not JSON');
    const notSuite = join(dir, 'other.json');
    writeFileSync(notSuite, JSON.stringify({ suite: 'q', date: '2026-01-01', tasks: [{ group: 'g' }] }));
    const other = await run(compareCommand, [base, notSuite]);
    expect(other.err).toContain('other.json, tasks[0]: not a bench suite result');
    // an extras figure's samples that are not an array of numbers: named, not a TypeError from deep inside
    const badSamples = join(dir, 'bad-samples.json');
    writeFileSync(badSamples, JSON.stringify({ suite: 'q', date: '2026-01-01', tasks: [], extras: { figures: [{ group: 'g', name: 'n', unit: 'msg/s', median: 5, samples: 'abc' }] } }));
    const samples = await run(compareCommand, [base, badSamples]);
    expect(samples.code).toBe(2);
    expect(samples.err).toContain('bad-samples.json, extras.figures[0].samples: not a bench suite result');
    // a metric twice in one file: compare added the baseline's samples once per copy (n doubled, p too small)
    const twice = join(dir, 'twice.json');
    const task = { group: 'g', name: 'n', medianNsPerOp: 102, roundMediansNsPerOp: [100, 101, 102, 103, 104] };
    writeFileSync(twice, JSON.stringify({ suite: 'q', date: '2026-01-01', tasks: [task, task] }));
    const dup = await run(compareCommand, [base, twice]);
    expect(dup.code).toBe(2);
    expect(dup.err).toContain('twice.json, tasks[1]: not a bench suite result (npm run bench writes them): metric "g · n" twice (also tasks[0])');
  });
});

describe('ultra-performance history', () => {
  // 24 nightly runs of the fixture suite; tryPush gets 15% slower from run 13 on.
  const history = join(dir, 'history');
  const template = JSON.parse(readFileSync(base, 'utf8')) as SuiteFile;
  const u = seeded(42);
  for (let run = 0; run < 24; run++) {
    const r = structuredClone(template);
    r.date = new Date(Date.UTC(2026, 10, 1 + run, 2)).toISOString();
    for (const t of r.tasks) {
      const step = t.name === 'SpscQueue.tryPush' && run >= 12 ? 1.15 : 1;
      t.medianNsPerOp = t.medianNsPerOp * step * (1 + 0.02 * (u() - 0.5) * 3.46);
    }
    appendHistory(history, r);
  }

  it('finds the step in the one metric that moved, dated', async () => {
    const h = historyChangePoints(history, { pValue: 0.01 });
    expect(h.map((m) => m.metric)).toEqual(['push · SpscQueue.tryPush', 'pop · SpscQueue.tryPop', 'batch · pushBatch', 'cross-thread · throughput']);
    const push = h[0]!;
    expect(push.values).toHaveLength(24);
    expect(push.changePoints.map((c) => c.index)).toEqual([12]);
    expect(push.changePoints[0]!.date).toBe('2026-11-13T02:00:00.000Z');
    expect(push.changePoints[0]!.changePercent).toBeGreaterThan(10);
    expect(h.slice(1).every((m) => m.changePoints.length === 0)).toBe(true);

    const r = await run(historyCommand, [history, '--p-value', '0.01']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('4 metrics over up to 24 runs; 1 change point');
    expect(r.out).toMatch(/queue \((?:ts|native)\) · push · SpscQueue\.tryPush\s+run 13 of 24 \(2026-11-13T02:00:00\.000Z\).*\+1\d\.\d\d%.*worse/);
  });

  it('--json, and exit 2 on a bad folder or flag', async () => {
    const r = await run(historyCommand, [history, '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as unknown[]).length).toBe(4);
    expect((await run(historyCommand, [join(dir, 'absent')])).code).toBe(2);
    const w = await run(historyCommand, [history, '--window', '1']);
    expect(w.code).toBe(2);
    expect(w.err).toContain('options.window');
    const none = await run(historyCommand, []);
    expect(none.err).toContain('history takes one folder, received 0');
  });

  it('appendHistory refuses something that is not a suite result', () => {
    expect(() => appendHistory(dir, { suite: 'x' } as never)).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_SOURCE_FORMAT', message: expect.stringContaining('field date') }));
    expect(() => appendHistory('', template)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('dir') }));
    // The suite name becomes a folder: one that would climb out of the history is refused.
    expect(() => appendHistory(dir, { ...template, suite: '../../x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('result.suite') }));
  });

  it('keeps runs of one suite on different backends as separate series (a backend switch is no change point)', () => {
    const h = mkdtempSync(join(tmpdir(), 'up-history-backends-'));
    appendHistory(h, { ...template, date: '2026-11-01T00:00:00.000Z', machine: { backend: 'native' } });
    appendHistory(h, { ...template, date: '2026-11-02T00:00:00.000Z', machine: { backend: 'ts' } });
    appendHistory(h, { ...template, date: '2026-11-03T00:00:00.000Z', machine: { backend: 'native' } });
    const series = readHistory(h);
    expect(series.map((x) => [x.suite, x.runs.length])).toEqual([[`${template.suite} (native)`, 2], [`${template.suite} (ts)`, 1]]);
    rmSync(h, { recursive: true, force: true });
  });
});

describe('bench suite files carry the per-round medians the detector compares', () => {
  it('runSuite writes one median per round, and two runs compare with n = rounds', async () => {
    let sink = 0;
    const spec = defineSuite({
      name: 'detector-fixture',
      description: 'two tiny tasks',
      rounds: 6,
      timeMs: 60,
      warmupMs: 10,
      groups: [{ name: 'g', description: 'sums', tasks: [{ name: 'sum10', fn: () => (sink += [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].reduce((a, b) => a + b)) }] }],
    });
    const a = await runSuite(spec, { print: false, resultsDir: join(dir, 'suite-a') });
    const b = await runSuite(spec, { print: false, resultsDir: join(dir, 'suite-b') });
    expect(sink).toBeGreaterThan(0);
    const rounds = a.tasks[0]!.roundMediansNsPerOp!;
    expect(rounds).toHaveLength(6);
    expect(rounds.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    const c = compareSuites(readSuiteFile(join(dir, 'suite-a', 'detector-fixture.json')), b);
    expect(c.report.metrics[0]).toMatchObject({ name: 'g · sum10', baseline: { samples: 6 }, current: { samples: 6 } });
    expect(c.report.metrics[0]!.verdict).not.toBe('insufficient-data');
  });
});
