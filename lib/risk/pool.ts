/**
 * The idle policy of the CPU addon's risk thread pool (cpp/risk/parallel.hpp): after a
 * job, each worker polls for the next one for `spinUs` microseconds (a core kept busy),
 * then sleeps on a condition variable (the next job pays a futex wake-up). The trade-off
 * and its measured costs are in docs/risk.md, "The thread pool's idle policy".
 *
 * The TS backend has no pool: its kernels run on the calling thread. There the setting
 * acts on nothing; it is kept and read back, so code that sets it runs unchanged on
 * either backend, and `threads` reads 1.
 */
import { cpuAddon } from '../backend.js';
import { invalidRange, invalidType } from '../errors.js';
import { type OptionCheck, defineOptions, readOptions } from '../internal/options.js';

export interface RiskPoolPolicy {
  /**
   * How long an idle worker polls for the next job before it sleeps, in µs (default 100).
   * 0: sleep as soon as a job is done (no core busy between calls; every threaded call
   * pays the wake-up). Larger than the gap between your calls: the workers never sleep
   * (no wake-up; a core busy for up to spinUs after each call).
   */
  spinUs: number;
}

export interface RiskPoolInfo extends RiskPoolPolicy {
  /** Threads a threaded kernel uses: pool workers + the caller; 1 without the addon. */
  readonly threads: number;
  /** 'native' when the addon's pool exists; 'none' under the TS backend (the setting then acts on nothing). */
  readonly pool: 'native' | 'none';
}

/** The largest spin window accepted: one second. */
export const kMaxPoolSpinUs = 1_000_000;
const kDefaultSpinUs = 100;

/** Under the TS backend, the value set (nothing reads it). */
let tsSpinUs = kDefaultSpinUs;

const spinCheck: OptionCheck = (value, argument) => {
  if (typeof value !== 'number') throw invalidType(argument, 'a number of microseconds', value);
  if (!(value >= 0 && value <= kMaxPoolSpinUs)) throw invalidRange(argument, `a number of microseconds from 0 to ${kMaxPoolSpinUs}`, value);
  return value;
};

const kSetRiskPoolPolicy = defineOptions('setRiskPoolPolicy', { spinUs: { check: spinCheck } });

/**
 * The pool's policy in force, read-only (a frozen object of getters, read from the addon
 * each time). Change it with setRiskPoolPolicy().
 * @example
 * import { riskPoolPolicy } from 'ultra-performance';
 * console.log(riskPoolPolicy.spinUs, riskPoolPolicy.threads);
 */
export const riskPoolPolicy: Readonly<RiskPoolInfo> = Object.freeze(
  Object.defineProperties({} as RiskPoolInfo, {
    spinUs: { enumerable: true, get: () => (cpuAddon !== null ? cpuAddon.riskPoolSpinNs() / 1000 : tsSpinUs) },
    threads: { enumerable: true, get: () => cpuAddon?.riskThreads ?? 1 },
    pool: { enumerable: true, get: () => (cpuAddon !== null ? 'native' : 'none') },
  }),
);

/**
 * Sets the pool's idle policy for the whole process (every later threaded call, sync or
 * async). Keys left out keep their value; an unknown key is a TypeError
 * (ERR_ULTRA_PERF_UNKNOWN_OPTION) naming the nearest one; a `spinUs` that is not a number is a
 * TypeError (ERR_INVALID_ARG_TYPE), one outside 0 .. 1,000,000 (NaN included) a RangeError
 * (ERR_OUT_OF_RANGE), both naming `policy.spinUs`, and nothing changes then. Fractions of a microsecond are kept to the nanosecond.
 * @example
 * import { setRiskPoolPolicy } from 'ultra-performance';
 * // Calls arrive every ~500 µs and a core can be spared: keep the workers awake between them.
 * setRiskPoolPolicy({ spinUs: 1000 });
 */
export function setRiskPoolPolicy(next: Partial<RiskPoolPolicy>): void {
  const read = readOptions(kSetRiskPoolPolicy, next, { argument: 'policy', required: true, what: 'an object such as { spinUs: 100 }' });
  const spinUs = read['spinUs'] as number | undefined;
  if (spinUs === undefined) return;
  // Whole nanoseconds on both backends, so a value reads back the same wherever it ran (+0 for -0).
  const ns = Math.round(spinUs * 1000) + 0;
  if (cpuAddon !== null) cpuAddon.setRiskPoolSpinNs(ns);
  else tsSpinUs = ns / 1000;
}
