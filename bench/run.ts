/**
 * `npm run bench [-- <suite>...] [--quick] [--list]`
 *
 * Runs every suite (each folder bench/<suite>/ with an index.ts that default-exports
 * defineSuite(...)) in its own child process, one after another, so suites share no JIT
 * state, heap or tinybench calibration. Each child prints its table and writes
 * bench/results/<suite>.json. ULTRA_PERF_BACKEND passes through (native/ts/auto).
 * --quick: short budgets, a smoke run whose numbers are rough.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

import { benchRoot } from './lib/suite.js';

const kNotSuites = new Set(['lib', 'results', 'node_modules']);

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

if (flags.includes('--list')) {
  console.log(suites.join('\n'));
  process.exit(0);
}
const unknown = wanted.filter((w) => !suites.includes(w));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; suites: ${suites.join(', ')}`);
  process.exit(2);
}

const root = join(benchRoot, '..');
const summary: { suite: string; ok: boolean; seconds: number }[] = [];
for (const suite of wanted.length > 0 ? wanted : suites) {
  const started = performance.now();
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', relative(root, join(benchRoot, 'lib', 'child.ts')), suite, ...flags],
    { cwd: root, stdio: 'inherit', env: process.env },
  );
  const ok = child.status === 0;
  summary.push({ suite, ok, seconds: (performance.now() - started) / 1000 });
  if (!ok) console.error(`\nsuite ${suite} failed (${child.signal ?? `exit ${String(child.status)}`})`);
}

console.log('\n== summary');
for (const s of summary) {
  console.log(`  ${s.suite.padEnd(16)} ${s.ok ? 'ok    ' : 'FAILED'} ${s.seconds.toFixed(1)} s  bench/results/${s.suite}.json`);
}
process.exit(summary.every((s) => s.ok) ? 0 : 1);
