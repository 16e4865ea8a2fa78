/**
 * The generator itself: Philox4x32-10 normals, identical on every backend. Normal i of
 * stream s under seed k is a pure function of (k, s, i), so a simulation can be split
 * over threads, processes or machines and still draw exactly the same numbers.
 */
import { invalidRange } from '../errors.js';
import { type RiskBackend, type RiskBackendOption, kernelsFor } from './kernels.js';
import { checkBackend, checkInteger, checkOptionalObject, kMaxElements } from './validate.js';

export interface NormalsOptions {
  /** Integer in [0, 2^53). */
  seed: number;
  /** Integer in [0, 2^53); default 0. */
  stream?: number;
  /** Index of the first normal to write; default 0. */
  first?: number;
  backend?: RiskBackendOption;
}

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
  const o = checkOptionalObject('options', options);
  const seed = checkInteger('options.seed', o.seed, 0, Number.MAX_SAFE_INTEGER);
  const stream = o.stream === undefined ? 0 : checkInteger('options.stream', o.stream, 0, Number.MAX_SAFE_INTEGER);
  const first = o.first === undefined ? 0 : checkInteger('options.first', o.first, 0, Number.MAX_SAFE_INTEGER - out.length);
  const kernels = kernelsFor(checkBackend('options.backend', o.backend), 'monteCarloDraws', out.length);
  kernels.fillNormals(out, seed, stream, first);
  return kernels.name;
}
