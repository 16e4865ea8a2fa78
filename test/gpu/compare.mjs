// Pure comparisons for the device checks: no addon, no dist/, so the CPU suite
// (test/gpu-helpers.test.ts) can test them. helpers.mjs re-exports every one.

export function relDiff(a, b) {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

export function maxRelDiff(a, b, floor = 1e-300) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), Math.abs(b[i]), floor));
  return m;
}

/** Largest |a_i - b_i|: correlations live on [-1, 1], so the natural check is absolute. */
export function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

export function bitDifferences(a, b) {
  const x = new BigUint64Array(a.buffer, a.byteOffset, a.length);
  const y = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) d++;
  return d;
}

/**
 * The worst difference of a covariance `g` (n x n, row-major) from the reference `c` on the
 * correlation scale: max over i, j of |g_ij − c_ij| / √(c_ii · c_jj), with `at` its flat index
 * (-1 when every entry is equal). A relative test per entry fails a correct kernel on entries
 * that are tiny next to their variances (an off-diagonal near 1e-13 beside variances near
 * 1e-4 is a correlation near 1e-9, all rounding); this scale is the one a correlation sees.
 * An entry that differs where √(c_ii · c_jj) is 0 or not a number (a constant asset), or
 * that is NaN on one side only, counts as Infinity; equal entries (±0 alike, NaN on both
 * sides) count as 0.
 */
export function covarianceError(g, c, n) {
  if (g.length !== n * n || c.length !== n * n) {
    throw new RangeError(`covarianceError: expected ${n * n} entries (n ${n}) but received ${g.length} and ${c.length}`);
  }
  let error = 0;
  let at = -1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const k = i * n + j;
      const d = Math.abs(g[k] - c[k]);
      if (d === 0 || Object.is(g[k], c[k])) continue; // equal values (±0 alike), or NaN on both sides
      const e = d / Math.sqrt(c[i * n + i] * c[j * n + j]);
      const worse = Number.isFinite(e) ? e : Infinity; // NaN (one side NaN, or 0/0) and x/0 alike
      if (worse > error || at === -1) {
        error = Math.max(error, worse);
        at = k;
      }
    }
  }
  return { error, at };
}

/** The covariance tolerance of the device checks: |g − c| <= tol · √(c_ii · c_jj) everywhere. */
export function covarianceClose(g, c, n, tol = 1e-9) {
  return covarianceError(g, c, n).error <= tol;
}
