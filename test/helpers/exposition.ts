/**
 * Reading a Prometheus text exposition (format 0.0.4) in tests: its sample lines, the values
 * of one series, and `promtool check metrics` (Debian's `prometheus` package; required under
 * CI=true, where .ci/run installs it).
 */
import { spawnSync } from 'node:child_process';

/** promtool is on the PATH. */
export const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
if (process.env.CI === 'true' && !hasPromtool) {
  throw new Error("promtool is required under CI=true (Debian's 'prometheus' package, installed by .ci/run)");
}

/** Runs `promtool check metrics` on the text; returns its complaints ('' when clean). */
export function promtoolCheck(text: string): string {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return r.status === 0 ? '' : `exit ${r.status}: ${r.stdout}${r.stderr}`;
}

export interface SampleLine {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The sample lines of an exposition, label values unescaped. */
export function parseExposition(text: string): SampleLine[] {
  const out: SampleLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Values of the samples named `name` whose labels include `labels`. */
export function pickSamples(lines: SampleLine[], name: string, labels: Record<string, string> = {}): number[] {
  return lines.filter((l) => l.name === name && Object.entries(labels).every(([k, v]) => l.labels[k] === v)).map((l) => l.value);
}
