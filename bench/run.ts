/**
 * `npm run bench [-- <suite>...] [--quick] [--list] [--save-baseline]`
 *
 * Runs every suite (each folder bench/<suite>/ with an index.ts that default-exports
 * defineSuite(...)) in its own child process, one after another, so suites share no JIT
 * state or heap. Each child prints progress lines and tables and writes bench/out/<suite>.json
 * (ignored by git: a run never dirties a clone). ULTRA_PERF_BACKEND passes through.
 * When a child stays silent for 10 s (a long synchronous call), this process repeats its
 * last progress line with the time spent. Each run is also appended to bench/history/<suite>/
 * (ignored by git; `npx ultra-performance history bench/history` finds change points over it).
 * At the end: where the files are, the command that reproduces each suite, and a
 * benchstat-style table of each suite against the committed run in bench/baseline/, judged by
 * the RegressionDetector (lib/monitor/history.ts: per-round medians, Mann-Whitney U, Holm).
 * --quick: short budgets, a smoke run whose numbers are rough.
 * --save-baseline: also copy each suite's file to bench/baseline/ (what the README quotes), and a
 * suite's report folder (bench/out/pipeline/) to bench/results/ (the committed pipeline.html).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';

import { appendHistory, compareSuites, formatComparison, readSuiteFile } from '../lib/monitor/history.js';
import { formatNs, table } from './lib/format.mjs';
import { kProgressPattern } from './lib/progress.js';
import { baselineDir, benchRoot, outDir, suiteCommand } from './lib/suite.js';

const kNotSuites = new Set(['lib', 'out', 'baseline', 'results', 'node_modules', 'peers', 'gpu', 'history']);
/** Every run's suite JSON, kept (ignored by git) for `ultra-performance history`. */
const historyDir = join(benchRoot, 'history');
const kSilenceMs = 10_000;

function listSuites(): string[] {
  return readdirSync(benchRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !kNotSuites.has(d.name) && existsSync(join(benchRoot, d.name, 'index.ts')))
    .map((d) => d.name)
    .sort();
}

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const wanted = args.filter((a) => !a.startsWith('--'));
const suites = listSuites();
const quick = flags.includes('--quick');
const saveBaseline = flags.includes('--save-baseline');
const known = new Set(['--quick', '--list', '--save-baseline']);

if (flags.includes('--list')) {
  console.log(suites.join('\n'));
  process.exit(0);
}
const unknown = [...wanted.filter((w) => !suites.includes(w)), ...flags.filter((f) => !known.has(f))];
if (unknown.length > 0) {
  console.error(`unknown suite(s) or flag(s): ${unknown.join(', ')}; suites: ${suites.join(', ')}; flags: ${[...known].join(', ')}`);
  process.exit(2);
}
if (saveBaseline && quick) {
  console.error('--save-baseline with --quick would commit rough numbers; run without --quick');
  process.exit(2);
}

const root = join(benchRoot, '..');
const resultsDir = join(benchRoot, 'results');
const chosen = wanted.length > 0 ? wanted : suites;
const cores = availableParallelism();
console.log(
  `bench: ${chosen.join(', ')} · ${cores} cores · load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')} (1 / 5 / 15 min)` +
    `${loadavg()[0]! > cores - 1 ? '  WARNING: load > cores - 1; cross-thread and threaded figures will be slow and noisy' : ''}`,
);

/** Runs one suite's child, echoing its output; repeats its last progress line when it goes silent. */
function runChild(suite: string): Promise<{ ok: boolean; how: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', relative(root, join(benchRoot, 'lib', 'child.ts')), suite, ...(quick ? ['--quick'] : [])],
      { cwd: root, stdio: ['inherit', 'pipe', 'pipe'], env: process.env },
    );
    let last = `[${suite}] starting`;
    let lastAt = performance.now();
    let since = performance.now();
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      lastAt = performance.now();
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (kProgressPattern.test(line)) {
          last = line;
          since = lastAt;
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      lastAt = performance.now();
    });
    const watchdog = setInterval(() => {
      const now = performance.now();
      if (now - lastAt >= kSilenceMs) {
        console.log(`${last} … still running (${((now - since) / 1000).toFixed(0)} s on this step, load ${loadavg()[0]!.toFixed(2)})`);
        lastAt = now;
      }
    }, 1000);
    child.on('close', (code, signal) => {
      clearInterval(watchdog);
      resolve({ ok: code === 0, how: signal ?? `exit ${String(code)}` });
    });
  });
}

const summary: { suite: string; ok: boolean; seconds: number }[] = [];
for (const suite of chosen) {
  const started = performance.now();
  const { ok, how } = await runChild(suite);
  summary.push({ suite, ok, seconds: (performance.now() - started) / 1000 });
  if (!ok) console.error(`\nsuite ${suite} failed (${how})`);
  else if (!quick) {
    // A --quick run is a smoke test with rough numbers: kept out of the history it would skew.
    try {
      appendHistory(historyDir, readSuiteFile(join(outDir, `${suite}.json`)));
    } catch (err) {
      console.error(`could not add ${suite} to ${relative(root, historyDir)}/: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (ok && saveBaseline) {
    mkdirSync(baselineDir, { recursive: true });
    copyFileSync(join(outDir, `${suite}.json`), join(baselineDir, `${suite}.json`));
    // A suite's report folder (bench/out/pipeline/: pipeline.html, .json, .hgrm) is what bench/results/ keeps for the README.
    const reportDir = join(outDir, suite);
    if (existsSync(reportDir)) {
      mkdirSync(resultsDir, { recursive: true });
      for (const f of readdirSync(reportDir)) copyFileSync(join(reportDir, f), join(resultsDir, f));
    }
  }
}

console.log('\n== summary');
console.log(
  table(
    ['suite', 'result', 'time', 'file', 'reproduce with'],
    summary.map((s) => [
      s.suite,
      s.ok ? 'ok' : 'FAILED',
      formatNs(s.seconds * 1e9),
      relative(root, join(saveBaseline && s.ok ? baselineDir : outDir, `${s.suite}.json`)),
      suiteCommand(s.suite, quick),
    ]),
    ['l', 'l', 'r', 'l', 'l'],
  ),
);
console.log('  every suite at once: ULTRA_PERF_BACKEND=native npm run bench (add -- --save-baseline to refresh bench/baseline/, which the README quotes)');

// ---- beside the baseline -----------------------------------------------------------------

if (!saveBaseline) {
  for (const s of summary.filter((x) => x.ok)) {
    const nowFile = join(outDir, `${s.suite}.json`);
    const baseFile = join(baselineDir, `${s.suite}.json`);
    if (!existsSync(baseFile)) {
      console.log(`\n-- ${s.suite} vs baseline: none in ${relative(root, baselineDir)}/`);
      continue;
    }
    try {
      const base = readSuiteFile(baseFile);
      const m = base.machine;
      console.log(
        `\n-- ${s.suite} vs baseline (${relative(root, baseFile)}: ${base.date.slice(0, 10)}, ${m?.cpu?.model ?? '?'}, ` +
          `${m?.cpu?.cores ?? '?'} cores, load ${m?.loadAverage?.[0]?.toFixed(2) ?? '?'}, backend ${m?.backend ?? '?'})`,
      );
      console.log(formatComparison(compareSuites(base, readSuiteFile(nowFile))));
    } catch (err) {
      console.log(`  cannot compare: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

process.exit(summary.every((s) => s.ok) ? 0 : 1);
