/**
 * `npx ultra-performance compare <baseline.json> <current.json>`: two bench suite results
 * (bench/out/<suite>.json, bench/baseline/<suite>.json, a history entry) compared metric by
 * metric with the RegressionDetector, as a benchstat-style table. Exit code 1 when any
 * metric regressed (for CI), 2 on a bad command line, an unreadable file or two files with
 * no metric in common, 0 otherwise.
 */
import { UltraPerfError } from '../errors.js';
import { nearestKey } from '../internal/options.js';
import { compareSuites, formatComparison, readSuiteFile } from './history.js';

export const kCompareUsage = `Usage: ultra-performance compare <baseline.json> <current.json> [options]

  Compares two bench suite results (npm run bench writes bench/out/<suite>.json; the
  committed ones are bench/baseline/<suite>.json) metric by metric: medians with 95%
  intervals, change, Mann-Whitney U p-value with Holm-Bonferroni, verdict (docs/monitor.md).
  Exit code 1 when a metric regressed; 2 on bad input or when the files share no metric.

  --sensitivity <x>   smallest relative change that counts (default 0.1 = 10%)
  --alpha <a>         significance level over all metrics (default 0.05)
  --json              print the comparison as JSON`;

/** A bad command line: the message is for a person; exit code 2. */
export class MonitorUsageError extends UltraPerfError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_USAGE', message);
  }
}

/** `--name value` and `--flag` arguments and the positional ones; unknown flags throw MonitorUsageError. */
export function parseFlags(
  argv: readonly string[],
  valueFlags: readonly string[],
  boolFlags: readonly string[],
): { values: Map<string, string>; bools: Set<string>; positional: string[] } {
  const values = new Map<string, string>();
  const bools = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (boolFlags.includes(name) && eq < 0) bools.add(name);
    else if (valueFlags.includes(name)) {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new MonitorUsageError(`--${name} needs a value`);
      values.set(name, v);
    } else {
      const near = nearestKey(name, [...valueFlags, ...boolFlags]);
      throw new MonitorUsageError(`unknown option --${name}${near !== undefined ? `; did you mean --${near}?` : ''}`);
    }
  }
  return { values, bools, positional };
}

/** A number flag, checked to be finite; the option's own checks (range) run where it is used. */
export function numberFlag(values: Map<string, string>, name: string): number | undefined {
  const v = values.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new MonitorUsageError(`--${name} expects a number but received ${JSON.stringify(v)}`);
  return n;
}

/** Runs `compare`; returns the exit code. */
export async function compareCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(kCompareUsage);
    return 0;
  }
  try {
    const { values, bools, positional } = parseFlags(argv, ['sensitivity', 'alpha'], ['json']);
    if (positional.length !== 2) throw new MonitorUsageError(`compare takes two suite JSON files, received ${positional.length}`);
    const options: { sensitivity?: number; alpha?: number } = {};
    const sensitivity = numberFlag(values, 'sensitivity');
    const alpha = numberFlag(values, 'alpha');
    if (sensitivity !== undefined) options.sensitivity = sensitivity;
    if (alpha !== undefined) options.alpha = alpha;
    const [a, b] = positional as [string, string];
    const base = readSuiteFile(a);
    const now = readSuiteFile(b);
    const c = compareSuites(base, now, options);
    c.baseline.file = a;
    c.current.file = b;
    if (bools.has('json')) console.log(JSON.stringify(c, null, 2));
    else {
      if (base.suite !== now.suite) console.log(`note: comparing suite ${base.suite} with suite ${now.suite}`);
      console.log(`${now.suite}: ${a} (${base.date}) -> ${b} (${now.date})\n`);
      console.log(formatComparison(c));
    }
    if (c.report.metrics.length === 0) {
      // Nothing compared is not a pass: a CI job whose current file lost or renamed every metric must not go green.
      console.error(`ultra-performance compare: ${a} and ${b} have no metric in common (${c.onlyInBaseline.length} only in the first, ${c.onlyInCurrent.length} only in the second)`);
      return 2;
    }
    return c.report.hasRegression ? 1 : 0;
  } catch (err) {
    if (err instanceof MonitorUsageError) {
      console.error(`ultra-performance compare: ${err.message}\n\n${kCompareUsage}`);
      return 2;
    }
    console.error(`ultra-performance compare: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
}
