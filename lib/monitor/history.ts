/**
 * Bench results over time: reading suite JSON files (the ones `npm run bench` writes, see
 * bench/lib/suite.ts), comparing two of them with the RegressionDetector in a benchstat-style
 * table, keeping a history folder of runs, and finding change points per task over it.
 *
 * A suite file's metrics: each task's per-round medians (`roundMediansNsPerOp`: the repeats
 * the rank test compares; files from before they were recorded give only `medianNsPerOp`,
 * one sample, which the detector calls insufficient data), and each extras figure (`unit`
 * 'ns' is lower-is-better, a rate unit such as 'msg/s' higher-is-better).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { invalidType, invalidValue, SourceFormatError } from '../errors.js';
import { type ChangePoint, type ChangePointOptions, ChangePointDetector } from './change-points.js';
import { type MetricComparison, RegressionDetector, type RegressionDetectorOptions, type RegressionReport } from './regression.js';

/** The part of a bench suite JSON (bench/lib/suite.ts SuiteResult) these functions read. */
export interface SuiteFile {
  suite: string;
  date: string;
  machine?: { cpu?: { model?: string; cores?: number }; backend?: string; loadAverage?: number[] };
  tasks: { group: string; name: string; medianNsPerOp: number; roundMediansNsPerOp?: number[] }[];
  extras?: { figures?: { group: string; name: string; unit: string; median: number; samples?: number[] }[] };
}

/** One comparable metric of a suite file. */
export interface SuiteMetric {
  /** `group · name`. */
  key: string;
  unit: string;
  higherIsBetter: boolean;
  /** Per-round medians, or the one median. */
  samples: number[];
  median: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks that `value` (parsed from `file`) is a bench suite result; SourceFormatError naming
 * the field otherwise.
 * @example parseSuiteFile('run.json', JSON.parse(text)).tasks.length
 */
export function parseSuiteFile(file: string, value: unknown): SuiteFile {
  const bad = (where: string, what: string): never => {
    throw new SourceFormatError(file, where, `not a bench suite result (npm run bench writes them): ${what}`);
  };
  if (!isRecord(value)) return bad('top level', 'expected a JSON object');
  if (typeof value.suite !== 'string') bad('field suite', 'expected a string');
  if (typeof value.date !== 'string') bad('field date', 'expected an ISO date string');
  if (!Array.isArray(value.tasks)) return bad('field tasks', 'expected an array');
  value.tasks.forEach((t: unknown, i) => {
    if (!isRecord(t) || typeof t.group !== 'string' || typeof t.name !== 'string' || typeof t.medianNsPerOp !== 'number') {
      bad(`tasks[${i}]`, 'expected { group, name, medianNsPerOp }');
    }
    const r = (t as Record<string, unknown>).roundMediansNsPerOp;
    if (r !== undefined && (!Array.isArray(r) || r.some((x) => typeof x !== 'number' || !Number.isFinite(x)))) {
      bad(`tasks[${i}].roundMediansNsPerOp`, 'expected an array of finite numbers');
    }
  });
  // suiteMetrics keys metrics by `group · name`: a second copy would be compared (and charted) as the same metric
  const seen = new Map<string, string>();
  const unique = (where: string, m: { group: string; name: string }): void => {
    const key = `${m.group} · ${m.name}`;
    const first = seen.get(key);
    if (first !== undefined) bad(where, `metric ${JSON.stringify(key)} twice (also ${first})`);
    seen.set(key, where);
  };
  value.tasks.forEach((t: { group: string; name: string }, i) => unique(`tasks[${i}]`, t));
  const figures = isRecord(value.extras) ? value.extras.figures : undefined;
  if (figures !== undefined) {
    if (!Array.isArray(figures)) return bad('field extras.figures', 'expected an array');
    figures.forEach((f: unknown, i) => {
      if (!isRecord(f) || typeof f.group !== 'string' || typeof f.name !== 'string' || typeof f.unit !== 'string' || typeof f.median !== 'number') {
        bad(`extras.figures[${i}]`, 'expected { group, name, unit, median }');
      }
      const samples = (f as Record<string, unknown>).samples;
      if (samples !== undefined && (!Array.isArray(samples) || samples.some((x) => typeof x !== 'number' || !Number.isFinite(x)))) {
        bad(`extras.figures[${i}].samples`, 'expected an array of finite numbers');
      }
      unique(`extras.figures[${i}]`, f as { group: string; name: string });
    });
  }
  return value as unknown as SuiteFile;
}

/** Reads and checks one suite JSON file. @example readSuiteFile('bench/baseline/queue.json').date */
export function readSuiteFile(file: string): SuiteFile {
  if (typeof file !== 'string' || file.length === 0) throw invalidType('file', 'a path to a bench suite JSON file', file);
  const text = readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec(String(err));
    const line = m !== null ? text.slice(0, Number(m[1])).split('\n').length : 1;
    throw new SourceFormatError(file, `line ${line}`, `not JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseSuiteFile(file, value);
}

/** Every comparable metric of a suite file, in file order. @example suiteMetrics(readSuiteFile('bench/out/queue.json'))[0].samples */
export function suiteMetrics(s: SuiteFile): SuiteMetric[] {
  const out: SuiteMetric[] = s.tasks.map((t) => {
    const rounds = t.roundMediansNsPerOp ?? [];
    return {
      key: `${t.group} · ${t.name}`,
      unit: 'ns',
      higherIsBetter: false,
      samples: rounds.length > 0 ? rounds.slice() : [t.medianNsPerOp],
      median: t.medianNsPerOp,
    };
  });
  for (const f of s.extras?.figures ?? []) {
    out.push({
      key: `${f.group} · ${f.name}`,
      unit: f.unit,
      higherIsBetter: f.unit !== 'ns',
      samples: f.samples !== undefined && f.samples.length > 0 ? f.samples.slice() : [f.median],
      median: f.median,
    });
  }
  return out.filter((m) => m.samples.every((v) => Number.isFinite(v)));
}

/** Two suite files compared: the detector's report plus what only one side has. */
export interface SuiteComparison {
  suite: string;
  baseline: { date: string; file?: string };
  current: { date: string; file?: string };
  report: RegressionReport;
  units: Record<string, string>;
  onlyInBaseline: string[];
  onlyInCurrent: string[];
}

/**
 * Compares two runs of a suite, metric by metric, with the RegressionDetector (Holm over all
 * metrics in common).
 * @example compareSuites(readSuiteFile('bench/baseline/queue.json'), readSuiteFile('bench/out/queue.json')).report.regressions
 */
export function compareSuites(baseline: SuiteFile, current: SuiteFile, options?: RegressionDetectorOptions): SuiteComparison {
  const detector = new RegressionDetector(options);
  const base = new Map(suiteMetrics(baseline).map((m) => [m.key, m]));
  const now = suiteMetrics(current);
  const units: Record<string, string> = {};
  const onlyInCurrent: string[] = [];
  for (const m of now) {
    const b = base.get(m.key);
    if (b === undefined || b.unit !== m.unit) {
      onlyInCurrent.push(m.key);
      continue;
    }
    units[m.key] = m.unit;
    detector.addBaselineMetric(m.key, b.samples, { higherIsBetter: m.higherIsBetter });
    detector.addCurrentMetric(m.key, m.samples);
  }
  return {
    suite: current.suite,
    baseline: { date: baseline.date },
    current: { date: current.date },
    report: detector.getRegressionReport(),
    units,
    onlyInBaseline: [...base.keys()].filter((k) => units[k] === undefined),
    onlyInCurrent,
  };
}

function formatValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '-';
  if (unit === 'ns') {
    if (v >= 1e9) return `${(v / 1e9).toPrecision(4)}s`;
    if (v >= 1e6) return `${(v / 1e6).toPrecision(4)}ms`;
    if (v >= 1e3) return `${(v / 1e3).toPrecision(4)}µs`;
    return `${v.toPrecision(4)}ns`;
  }
  const a = Math.abs(v);
  const scaled = a >= 1e9 ? `${(v / 1e9).toPrecision(4)}G` : a >= 1e6 ? `${(v / 1e6).toPrecision(4)}M` : a >= 1e3 ? `${(v / 1e3).toPrecision(4)}k` : v.toPrecision(4);
  return `${scaled} ${unit}`;
}

/** "812.0ns ± 2%" (the interval's wider side, relative to the median) or "± ∞" below 6 samples, as benchstat. */
function withInterval(s: MetricComparison['baseline'], unit: string): string {
  const v = formatValue(s.median, unit);
  if (s.low === null || s.high === null || s.median === 0) return `${v} ± ∞`;
  const rel = (Math.max(s.high - s.median, s.median - s.low) / Math.abs(s.median)) * 100;
  return `${v} ± ${rel < 1 ? rel.toFixed(1) : rel.toFixed(0)}%`;
}

/** Left-aligned first column, right-aligned others. */
function plainTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * The benchstat-style table of a comparison: each metric's baseline and current median with
 * the spread of its 95% interval, the change (or `~` when not significant), the p-value and
 * sample counts, and the verdict; then footnotes.
 * @example console.log(formatComparison(compareSuites(base, current)))
 */
export function formatComparison(c: SuiteComparison): string {
  const r = c.report;
  const rows = r.metrics.map((m) => {
    const unit = c.units[m.name] ?? 'ns';
    const n = `n=${m.baseline.samples}+${m.current.samples}`;
    const delta =
      m.verdict === 'insufficient-data'
        ? `${Number.isFinite(m.changePercent) ? `${m.changePercent >= 0 ? '+' : ''}${m.changePercent.toFixed(2)}%` : '?'} (${n}) ²`
        : m.verdict === 'no-change'
          ? `~ (p=${m.adjustedPValue.toPrecision(2)} ${n})`
          : `${m.changePercent >= 0 ? '+' : ''}${m.changePercent.toFixed(2)}% (p=${m.adjustedPValue.toPrecision(2)} ${n})`;
    const verdict = m.verdict === 'regression' ? 'REGRESSION' : m.verdict === 'improvement' ? 'improvement' : m.verdict === 'insufficient-data' ? 'insufficient data' : '';
    return [m.name, withInterval(m.baseline, unit), withInterval(m.current, unit), delta, verdict];
  });
  const out = [
    plainTable(['metric', 'baseline', 'current', 'vs base', ''], rows),
    '  ± : the 95% interval of the median from order statistics, its wider side; ∞ below 6 samples',
    `  p : two-sided Mann–Whitney U, Holm–Bonferroni over ${r.metrics.filter((m) => m.test !== 'none').length} metrics; ~ = not significant at α ${r.alpha} or within ±${r.sensitivity * 100}%`,
  ];
  if (r.metrics.some((m) => m.verdict === 'insufficient-data')) {
    out.push(`  ² : too few samples to judge (4 per side reach p < 0.05); a suite file without per-round medians has 1`);
  }
  if (c.onlyInBaseline.length > 0) out.push(`  only in the baseline: ${c.onlyInBaseline.join(', ')}`);
  if (c.onlyInCurrent.length > 0) out.push(`  only in the current run: ${c.onlyInCurrent.join(', ')}`);
  out.push(
    r.hasRegression
      ? `  ${r.regressions.length} regression${r.regressions.length === 1 ? '' : 's'}: ${r.regressions.join(', ')}`
      : `  no regression${r.improvements.length > 0 ? `; ${r.improvements.length} improvement${r.improvements.length === 1 ? '' : 's'}` : ''}`,
  );
  return out.join('\n');
}

// ---- history -----------------------------------------------------------------------------

/** A file name for a run: its date with ':' and '.' made safe for every file system. */
function historyName(date: string): string {
  return `${date.replace(/[:.]/g, '-')}.json`;
}

/**
 * Appends a run to a history folder: `<dir>/<suite>/<date>.json`. Returns the path.
 * @example appendHistory('bench/history', result)
 */
export function appendHistory(dir: string, result: SuiteFile): string {
  if (typeof dir !== 'string' || dir.length === 0) throw invalidType('dir', 'a folder path', dir);
  parseSuiteFile('result', result);
  // The suite name becomes a folder name: nothing that could climb out of `dir`.
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(result.suite)) {
    throw invalidValue('result.suite', 'a suite name of letters, digits, _, . and - (not starting with .)', result.suite);
  }
  const folder = join(dir, result.suite);
  mkdirSync(folder, { recursive: true });
  const file = join(folder, historyName(result.date));
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** Runs of one suite in a history, oldest first. */
export interface SuiteHistory {
  suite: string;
  runs: { file: string; result: SuiteFile }[];
}

/**
 * Reads a history folder: either `<dir>/<suite>/*.json` (as appendHistory writes) or the
 * JSON files of `dir` itself. Runs are ordered by their `date`.
 * @example readHistory('bench/history').map((h) => [h.suite, h.runs.length])
 */
export function readHistory(dir: string): SuiteHistory[] {
  if (typeof dir !== 'string' || dir.length === 0) throw invalidType('dir', 'a folder path', dir);
  const bySuite = new Map<string, { file: string; result: SuiteFile }[]>();
  // Runs on different backends are different series (a switch between them is not a change
  // point): a run that names its backend is kept under `suite (backend)`.
  const add = (file: string): void => {
    const result = readSuiteFile(file);
    const key = result.machine?.backend === undefined ? result.suite : `${result.suite} (${result.machine.backend})`;
    const list = bySuite.get(key) ?? [];
    list.push({ file, result });
    bySuite.set(key, list);
  };
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      for (const f of readdirSync(path).sort()) if (f.endsWith('.json')) add(join(path, f));
    } else if (entry.endsWith('.json')) add(path);
  }
  return [...bySuite.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([suite, runs]) => ({ suite, runs: runs.sort((a, b) => a.result.date.localeCompare(b.result.date) || basename(a.file).localeCompare(basename(b.file))) }));
}

/** The change points of one metric over a suite's runs. */
export interface MetricHistory {
  suite: string;
  metric: string;
  unit: string;
  /** The metric's median in each run that has it, oldest first. */
  values: number[];
  dates: string[];
  changePoints: (ChangePoint & { date: string })[];
}

/**
 * Change points of every metric over the runs in a history folder (one value per run: the
 * metric's median), with changePoints' options.
 * @example historyChangePoints('bench/history', { pValue: 0.01 }).filter((m) => m.changePoints.length > 0)
 */
export function historyChangePoints(dir: string, options?: ChangePointOptions): MetricHistory[] {
  const out: MetricHistory[] = [];
  for (const h of readHistory(dir)) {
    const series = new Map<string, { unit: string; values: number[]; dates: string[] }>();
    for (const { result } of h.runs) {
      for (const m of suiteMetrics(result)) {
        const s = series.get(m.key) ?? { unit: m.unit, values: [], dates: [] };
        if (s.unit !== m.unit) continue;
        s.values.push(m.median);
        s.dates.push(result.date);
        series.set(m.key, s);
      }
    }
    for (const [metric, s] of series) {
      const cps = new ChangePointDetector(options).append(s.values);
      out.push({ suite: h.suite, metric, unit: s.unit, values: s.values, dates: s.dates, changePoints: cps.map((c) => ({ ...c, date: s.dates[c.index]! })) });
    }
  }
  return out;
}

/** A table of the change points found over a history (every metric, with and without changes counted). @example console.log(formatHistory(historyChangePoints('bench/history'))) */
export function formatHistory(histories: readonly MetricHistory[]): string {
  const rows: string[][] = [];
  for (const h of histories) {
    for (const c of h.changePoints) {
      const worse = h.unit === 'ns' ? c.changePercent > 0 : c.changePercent < 0;
      rows.push([
        `${h.suite} · ${h.metric}`,
        `run ${c.index + 1} of ${h.values.length} (${c.date})`,
        formatValue(c.meanBefore, h.unit),
        formatValue(c.meanAfter, h.unit),
        `${c.changePercent >= 0 ? '+' : ''}${c.changePercent.toFixed(2)}%`,
        c.pValue.toPrecision(2),
        worse ? 'worse' : 'better',
      ]);
    }
  }
  const runs = Math.max(0, ...histories.map((h) => h.values.length));
  const lines = [`${histories.length} metrics over up to ${runs} runs; ${rows.length} change point${rows.length === 1 ? '' : 's'}`];
  if (rows.length > 0) lines.push(plainTable(['metric', 'from', 'mean before', 'mean after', 'change', 'p', ''], rows));
  const short = histories.filter((h) => h.values.length < 10).length;
  if (short > 0) lines.push(`  ${short} metric${short === 1 ? ' has' : 's have'} fewer than 10 runs: a change needs minSize runs on each side`);
  return lines.join('\n');
}
