/** Argument checks shared by the risk API: every error names the argument and the value. */
import { describe, invalidRange, invalidType, withCode } from '../errors.js';
import { chooseBackend, kBackendPolicies } from '../internal/backend.js';
import type { OptionCheck } from '../internal/options.js';
import type { RiskBackendChoice } from './kernels.js';

/** Largest series, matrix or path buffer the risk API accepts, in float64 elements (2 GiB). */
export const kMaxElements = 2 ** 28;
/** keepPaths: the largest paths x (steps + 1) matrix simulateGBM will keep (256 MiB). */
export const kMaxKeptValues = 2 ** 25;
/** simulateGBM / monteCarloVaR: the most paths (each path needs 8 bytes of output). */
export const kMaxPaths = 2 ** 27;
/** simulateGBM: the most steps per path. */
export const kMaxSteps = 2 ** 24;
/** monteCarloVaR / covariance: the most assets. */
export const kMaxAssets = 4096;

/** A Float64Array is used as is (no copy); a number[] is copied. Element finiteness is checked by the kernels' single pass. */
export function toFloat64(name: string, value: unknown, minLength: number, what = 'numbers'): Float64Array {
  let arr: Float64Array;
  if (value instanceof Float64Array) {
    arr = value;
  } else if (Array.isArray(value)) {
    arr = new Float64Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v !== 'number') throw invalidType(`${name}[${i}]`, 'a finite number', v);
      arr[i] = v;
    }
  } else {
    throw invalidType(name, `a Float64Array or an array of ${what}`, value);
  }
  if (arr.length < minLength) throw invalidRange(name, `at least ${minLength} ${what}`, value);
  if (arr.length > kMaxElements) throw invalidRange(name, `at most ${kMaxElements} ${what}`, value);
  return arr;
}

/** Throws the error for a kernel status that names a non-finite element. */
export function nonFiniteError(name: string, arr: Float64Array, index: number): TypeError {
  return invalidType(`${name}[${index}]`, 'a finite number', arr[index]);
}

/** Checks every element is finite (small arrays: weights, means, matrices). */
export function checkFiniteArray(name: string, arr: Float64Array): void {
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i]!;
    if (v - v !== 0) throw nonFiniteError(name, arr, i);
  }
}

export function checkFinite(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidType(name, 'a finite number', value);
  if (!Number.isFinite(value)) throw invalidRange(name, 'a finite number', value);
  return value;
}

export function checkPositive(name: string, value: unknown): number {
  const v = checkFinite(name, value);
  if (!(v > 0)) throw invalidRange(name, 'a positive finite number', value);
  return v;
}

export function checkNonNegative(name: string, value: unknown): number {
  const v = checkFinite(name, value);
  if (!(v >= 0)) throw invalidRange(name, 'a finite number >= 0', value);
  return v;
}

export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(name, 'an integer', value);
  if (value < min || value > max) throw invalidRange(name, `an integer in [${min}, ${max}]`, value);
  return value;
}

/** Confidence is the probability kept: 0.95 means 95% VaR. */
export function checkConfidence(name: string, value: unknown): number {
  if (value === undefined) return 0.95;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(name, 'a confidence level in (0.5, 1)', value);
  if (value > 0 && value < 0.5) {
    const meant = Number((1 - value).toPrecision(12));
    throw withCode(
      new RangeError(
        `Expected a confidence level in (0.5, 1) for ${name} but received ${describe(value)}: confidence is the probability ` +
          `kept (0.95 means 95% VaR), not the tail probability; did you mean ${describe(meant)}?`,
      ),
      'ERR_OUT_OF_RANGE',
    );
  }
  if (!(value > 0.5 && value < 1)) throw invalidRange(name, 'a confidence level in (0.5, 1)', value);
  return value;
}

/**
 * Moment convention: 0 population (1/n, as PerformanceAnalytics), 1 sample (n - 1, G1, G2);
 * absent: 1. Anything else is refused, never rounded.
 */
export function checkDdof(name: string, value: unknown): 0 | 1 {
  if (value === undefined) return 1;
  if (value !== 0 && value !== 1) {
    throw invalidRange(name, '0 (population moments, as PerformanceAnalytics) or 1 (sample moments, the default)', value);
  }
  return value;
}

/** The risk `backend` option through the kit (kBackendPolicies.risk): 'auto' stays 'auto', decided per call by size. */
export function checkBackend(name: string, value: unknown, fn: string): RiskBackendChoice {
  return chooseBackend(value, { argument: name, policy: kBackendPolicies.risk, fn });
}

/**
 * The risk checks in the options kit's shape, `(value, argument) => checked value`, for the
 * schema tables of var.ts, matrix.ts, montecarlo.ts and normals.ts.
 */
export const riskChecks = {
  confidence: ((v, a) => checkConfidence(a, v)) as OptionCheck,
  ddof: ((v, a) => checkDdof(a, v)) as OptionCheck,
  finite: ((v, a) => checkFinite(a, v)) as OptionCheck,
  positive: ((v, a) => checkPositive(a, v)) as OptionCheck,
  nonNegative: ((v, a) => checkNonNegative(a, v)) as OptionCheck,
  seed: ((v, a) => checkSeed(a, v)) as OptionCheck,
  integer: (min: number, max: number): OptionCheck => (v, a) => checkInteger(a, v, min, max),
  /** A boolean, refused with a RangeError as the risk API always has. */
  flag: ((v, a) => {
    if (typeof v !== 'boolean') throw invalidRange(a, 'a boolean', v);
    return v;
  }) as OptionCheck,
} as const;

/** A seed: an integer in [0, 2^53). Absent: a fresh random seed (reported in the result). */
export function checkSeed(name: string, value: unknown): number {
  if (value === undefined) return Math.floor(Math.random() * 2 ** 32) * 2 ** 21 + Math.floor(Math.random() * 2 ** 21);
  return checkInteger(name, value, 0, Number.MAX_SAFE_INTEGER);
}

/** Captures the caller's stack before async work, so a rejection points at user code (sharp's is.nativeError). */
export async function withCallerStack<T>(work: () => Promise<T>): Promise<T> {
  const caller = new Error();
  try {
    return await work();
  } catch (err) {
    if (err instanceof Error && caller.stack !== undefined) {
      err.stack = `${err.name}: ${err.message}\n${caller.stack.split('\n').slice(1).join('\n')}`;
    }
    throw err;
  }
}
