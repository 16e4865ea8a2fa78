/**
 * The generator itself: Philox4x32-10 normals, identical on every backend. Normal i of
 * stream s under seed k is a pure function of (k, s, i), so a simulation can be split
 * over threads, processes or machines and still draw exactly the same numbers.
 */
import { invalidRange } from '../errors.js';
import { backendOption, kBackendPolicies } from '../internal/backend.js';
import { defineOptions, readOptions } from '../internal/options.js';
import { type RiskBackend, type RiskBackendChoice, type RiskBackendOption, kernelsFor } from './kernels.js';
import { checkInteger, kMaxElements, riskChecks } from './validate.js';

export interface NormalsOptions {
  /** Integer in [0, 2^53). */
  seed: number;
  /** Integer in [0, 2^53); default 0. */
  stream?: number;
  /** Index of the first normal to write; default 0. */
  first?: number;
  backend?: RiskBackendOption;
}

/** philoxNormals' options: the one table of their checks and defaults. */
const kPhiloxNormals = defineOptions('philoxNormals', {
  seed: { check: riskChecks.integer(0, Number.MAX_SAFE_INTEGER), always: true },
  stream: { check: riskChecks.integer(0, Number.MAX_SAFE_INTEGER), default: 0 },
  first: { check: null, checkedBy: 'philoxNormals (first + out.length <= 2^53 - 1)' },
  backend: backendOption(kBackendPolicies.risk, 'philoxNormals'),
});

/**
 * Fills `out` with standard normals first .. first + out.length - 1 of (seed, stream)
 * and returns the backend that drew them.
 * @example
 * import { philoxNormals } from 'ultra-performance';
 * const z = new Float64Array(1_000_000);
 * philoxNormals(z, { seed: 42 });            // the same numbers on every backend
 * philoxNormals(z.subarray(0, 10), { seed: 42, first: 5 }); // z[5..14] again
 */
export function philoxNormals(out: Float64Array, options: NormalsOptions): RiskBackend {
  if (!(out instanceof Float64Array)) throw invalidRange('out', 'a Float64Array', out);
  if (out.length > kMaxElements) throw invalidRange('out', `at most ${kMaxElements} elements`, out);
  const o = readOptions(kPhiloxNormals, options);
  const first = o.first === undefined ? 0 : checkInteger('options.first', o.first, 0, Number.MAX_SAFE_INTEGER - out.length);
  const kernels = kernelsFor(o.backend as RiskBackendChoice, 'monteCarloDraws', out.length);
  const seed = o.seed as number;
  const stream = o.stream as number;
  kernels.fillNormals(out, seed, stream, first);
  return kernels.name;
}
