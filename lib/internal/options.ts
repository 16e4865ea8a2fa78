/**
 * The options kit: one way to read an options object, for every public function and
 * constructor (DESIGN.md "One vocabulary everywhere").
 *
 * - An options object is a plain object (its prototype Object.prototype or null), or
 *   undefined where the options are optional. Anything else is a TypeError
 *   (ERR_INVALID_ARG_TYPE).
 * - Each function declares its options once, in a schema: `defineOptions(fn, specs)`. The
 *   schema is the table of its keys and of the check each value gets (type and range);
 *   the checks throw errors that name `options.<key>` and the value received.
 * - A key the schema does not list is a TypeError (code ERR_ULTRA_PERF_UNKNOWN_OPTION)
 *   naming the key, the function and the nearest known key:
 *   "unknown option 'horizon' for calculateVaR; did you mean 'horizonDays'?".
 *
 * Every schema is kept in a registry (`optionSchemas()`), so a test can walk all of them
 * and a new option or a new options-taking function cannot miss its unknown-key test.
 */
import { invalidRange, invalidType, invalidValue, withCode } from '../errors.js';

/** Checks one option's value (never called with undefined) and returns it, or the form the function uses. */
export type OptionCheck = (value: unknown, argument: string) => unknown;

export interface OptionSpec {
  /**
   * Type and range check, run when the value is not undefined. null: the value is read
   * by code the schema names in `checkedBy` (a cross-option rule such as a geometry),
   * so its errors stay where the rule is.
   */
  readonly check: OptionCheck | null;
  /** Where a `check: null` option is validated, for readers of the table. */
  readonly checkedBy?: string;
  /** The value read() gives an absent (undefined) option. */
  readonly default?: unknown;
  /**
   * The check runs on undefined too: for a required option (its check says what was
   * expected) or a default only the check can work out (a backend, a random seed).
   */
  readonly always?: boolean;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface OptionsSchema {
  /** The public name of the function or constructor, as errors print it. */
  readonly fn: string;
  readonly specs: OptionSpecs;
  readonly keys: readonly string[];
}

const registry = new Map<string, OptionsSchema>();

/**
 * Declares the options of `fn` (registered once; declaring the same name twice is a bug).
 * @example
 * const kVaROptions = defineOptions('calculateVaR', { confidence: { check: confidenceCheck, default: 0.95 } });
 */
export function defineOptions(fn: string, specs: OptionSpecs): OptionsSchema {
  if (registry.has(fn)) throw new Error(`options of ${fn} declared twice`);
  // keys stays an unfrozen array: a frozen one measured 3x slower to scan in checkKnownKeys.
  const schema: OptionsSchema = Object.freeze({ fn, specs: Object.freeze({ ...specs }), keys: Object.keys(specs) });
  registry.set(fn, schema);
  return schema;
}

/** Every declared schema, by function name (for tests and docs). */
export function optionSchemas(): ReadonlyMap<string, OptionsSchema> {
  return registry;
}

/** True for `{}`-style objects: prototype Object.prototype or null (a class instance, array or function is not one). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * The options object as given, checked to be a plain object (undefined gives `{}` unless
 * `required`). `what` shapes the expected text ("an options object for SlabAllocator").
 */
export function optionsObject(value: unknown, argument: string, what: string, required: boolean): Record<string, unknown> {
  if (value === undefined && !required) return {};
  if (!isPlainObject(value)) throw invalidType(argument, what, value);
  return value;
}

/** Damerau-Levenshtein distance (optimal string alignment), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows = s.length + 1;
  const cols = t.length + 1;
  const d = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The known key closest to `key`, or undefined when none is close: a case-insensitive
 * match, a key that starts with it or that it starts with ('horizon' -> 'horizonDays'),
 * or an edit distance of at most a third of the longer name (and at least 1, 2 from 5 letters).
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const k of known) {
    const kl = k.toLowerCase();
    let score: number;
    if (kl === lower) score = 0;
    else if (lower.length >= 3 && (kl.startsWith(lower) || lower.startsWith(kl))) score = 0.5 + Math.abs(kl.length - lower.length) / 100;
    else {
      const dist = editDistance(lower, kl);
      const limit = Math.max(Math.max(lower.length, kl.length) >= 5 ? 2 : 1, Math.floor(Math.max(lower.length, kl.length) / 3));
      score = dist <= limit ? dist : Infinity;
    }
    if (score < bestScore) {
      bestScore = score;
      best = k;
    }
  }
  return best;
}

/** The TypeError an unknown key gets (code ERR_ULTRA_PERF_UNKNOWN_OPTION). */
export function unknownOptionError(key: string, fn: string, known: readonly string[]): TypeError & { code: string } {
  const near = nearestKey(key, known);
  const hint =
    near !== undefined
      ? `; did you mean '${near}'?`
      : known.length === 0
        ? '; it takes no options'
        : `; the options are ${known.map((k) => `'${k}'`).join(', ')}`;
  return withCode(new TypeError(`unknown option '${key}' for ${fn}${hint}`), 'ERR_ULTRA_PERF_UNKNOWN_OPTION');
}

/**
 * Throws for the first own enumerable string key of `options` the schema does not list.
 * It runs per call on MatchingEngine.submit(), so it allocates nothing and compares keys by
 * identity against the short key list (measured cheaper than a Set or an object lookup:
 * property names from for-in and string literals are both internalized).
 */
export function checkKnownKeys(options: object, schema: OptionsSchema): void {
  const keys = schema.keys;
  outer: for (const key in options) {
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) continue outer;
    if (!Object.hasOwn(options, key)) continue;
    throw unknownOptionError(key, schema.fn, keys);
  }
}

/**
 * Reads `options` against `schema`: a plain object (or undefined when `required` is false),
 * no unknown key, each present value checked by its spec and absent ones given their default.
 * Returns a new object holding the checked values; `prefix` names them in errors ('options.').
 */
export function readOptions(
  schema: OptionsSchema,
  options: unknown,
  { argument = 'options', required = false, what = 'an options object' }: { argument?: string; required?: boolean; what?: string } = {},
): Record<string, unknown> {
  const o = optionsObject(options, argument, what, required);
  checkKnownKeys(o, schema);
  const out: Record<string, unknown> = {};
  for (const key of schema.keys) {
    const spec = schema.specs[key]!;
    const value = o[key];
    if (spec.check === null) out[key] = value === undefined ? spec.default : value;
    else if (value === undefined && spec.always !== true) out[key] = spec.default;
    else out[key] = spec.check(value, `${argument}.${key}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Checks the schemas are built from. Each names the option and the value it received.

/** A boolean. */
export const booleanCheck: OptionCheck = (value, argument) => {
  if (typeof value !== 'boolean') throw invalidType(argument, 'a boolean', value);
  return value;
};

/** A function. */
export function functionCheck(what = 'a function'): OptionCheck {
  return (value, argument) => {
    if (typeof value !== 'function') throw invalidType(argument, what, value);
    return value;
  };
}

/** A non-empty string. */
export const nonEmptyStringCheck: OptionCheck = (value, argument) => {
  if (typeof value !== 'string' || value.length === 0) throw invalidType(argument, 'a non-empty string', value);
  return value;
};

/** One of `values` (strings), as a TypeError with code ERR_INVALID_ARG_VALUE otherwise. */
export function oneOfCheck(values: readonly string[]): OptionCheck {
  const expected = listOf(values);
  return (value, argument) => {
    if (typeof value !== 'string' || !values.includes(value)) throw invalidValue(argument, expected, value);
    return value;
  };
}

/** An integer in [min, max]: a TypeError for a non-number or non-integer, a RangeError outside. */
export function integerCheck(min: number, max: number, what = 'an integer'): OptionCheck {
  return (value, argument) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(argument, what, value);
    if (value < min || value > max) throw invalidRange(argument, `${what} in [${min}, ${max}]`, value);
    return value;
  };
}

/** "'a', 'b' or 'c'". */
export function listOf(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return quoted.length <= 1 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}
