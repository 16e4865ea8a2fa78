/**
 * `npx ultra-performance history <dir>`: change points per metric over the runs kept in a
 * history folder (`npm run bench` appends each run to bench/history/<suite>/), found with
 * changePoints (E-divisive means + t-test). Exit code 0, or 2 on a bad command line or
 * unreadable folder.
 */
import { numberFlag, MonitorUsageError, parseFlags } from './cli-compare.js';
import { formatHistory, historyChangePoints } from './history.js';

export const kHistoryUsage = `Usage: ultra-performance history <dir> [options]

  Change points per metric over the bench runs in <dir>: <dir>/<suite>/*.json as npm run
  bench keeps them in bench/history/, or suite JSON files directly in <dir>. One value per
  run (the metric's median), E-divisive means with a t-test (docs/monitor.md).

  --p-value <p>       significance of a change (default 0.001)
  --window <n>        points per sliding window (default 50)
  --min-size <n>      fewest runs on each side of a change (default 5)
  --json              print every metric's series and change points as JSON`;

/** Runs `history`; returns the exit code. */
export async function historyCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(kHistoryUsage);
    return 0;
  }
  try {
    const { values, bools, positional } = parseFlags(argv, ['p-value', 'window', 'min-size'], ['json']);
    if (positional.length !== 1) throw new MonitorUsageError(`history takes one folder, received ${positional.length}`);
    const options: { pValue?: number; window?: number; minSize?: number } = {};
    const p = numberFlag(values, 'p-value');
    const w = numberFlag(values, 'window');
    const m = numberFlag(values, 'min-size');
    if (p !== undefined) options.pValue = p;
    if (w !== undefined) options.window = w;
    if (m !== undefined) options.minSize = m;
    const histories = historyChangePoints(positional[0]!, options);
    console.log(bools.has('json') ? JSON.stringify(histories, null, 2) : formatHistory(histories));
    return 0;
  } catch (err) {
    const usage = err instanceof MonitorUsageError ? `\n\n${kHistoryUsage}` : '';
    console.error(`ultra-performance history: ${err instanceof Error ? err.message : String(err)}${usage}`);
    return 2;
  }
}
