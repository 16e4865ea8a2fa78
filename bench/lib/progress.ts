/**
 * Progress lines: `[risk 3/9] corr-100x1000: 3 peers, 10 rounds`. Each suite prints one when
 * it starts a group (i/n counts groups, then the extras) and suites print more for long
 * steps. bench/run.ts reads them from the child's output: when a suite stays silent for
 * 10 s (a long synchronous call blocks the child's own timers), the parent repeats the
 * last one with the time spent on it, so a run is never silent for longer than that.
 */

/** Matches a progress line; bench/run.ts uses it to know what a silent child is doing. */
export const kProgressPattern = /^\[(\S+) (\d+)\/(\d+)\] (.*)$/;

const state = { suite: '', i: 0, n: 0, label: '' };

/** Starts counting steps for a suite. */
export function beginProgress(suite: string, steps: number): void {
  state.suite = suite;
  state.i = 0;
  state.n = steps;
}

/** The next step: prints `[suite i/n] label: detail`. */
export function progressStep(label: string, detail?: string): void {
  state.i = Math.min(state.i + 1, state.n);
  state.label = label;
  console.log(`[${state.suite} ${state.i}/${state.n}] ${label}${detail !== undefined ? `: ${detail}` : ''}`);
}

/** A line within the current step: `[suite i/n] label · detail`. */
export function progressDetail(detail: string): void {
  console.log(`[${state.suite} ${state.i}/${state.n}] ${state.label} · ${detail}`);
}
