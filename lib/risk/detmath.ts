/**
 * Deterministic math, the TS twin of cpp/risk/detmath.hpp: log, exp, sin/cos kernels and
 * the normal quantile written with only +, -, *, /, Math.sqrt (all correctly rounded in
 * IEEE-754 double) and exact bit manipulation, in the same operation order as the C++,
 * so both languages produce bit-identical doubles. Math.log/exp/cos are NOT used: V8 and
 * libm are not guaranteed to agree in the last bit. Coefficients follow fdlibm and AS241.
 */

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
// Everything Node runs on (x64, arm64) is little-endian; the bit tricks below assume it.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('ultra-performance risk math needs a little-endian CPU');

export const kLn2Hi = 6.9314718036912381649e-1;
export const kLn2Lo = 1.90821492927058770002e-10;
export const kInvLn2 = 1.442695040888963387;
export const kSqrt2 = 1.41421356237309514547;
export const kHalfPi = 1.570796326794896558;
export const kInvSqrt2Pi = 3.98942280401432702863e-1;

/** 2^k for integer k in [-1022, 1023], exactly. */
export function pow2(k: number): number {
  return POW2[k + 1022]!;
}
const POW2 = new Float64Array(2046);
POW2[1022] = 1;
for (let k = 1; k <= 1023; k++) POW2[1022 + k] = POW2[1021 + k]! * 2;
for (let k = 1; k <= 1022; k++) POW2[1022 - k] = POW2[1023 - k]! * 0.5;

/**
 * A column's scale (cpp/risk/detmath.hpp scale_exponent): e with |x|·2^-e in [1, 2) for a
 * normal x, clamped to [-1022, 1022] so 2^±e are normal doubles; scaling by 2^-e is exact.
 */
export function scaleExponent(x: number): number {
  f64[0] = x;
  const e = ((u32[1]! >>> 20) & 0x7ff) - 1023;
  return e < -1022 ? -1022 : e > 1022 ? 1022 : e;
}

/** v·2^k for any integer k, rounded once unless the result is subnormal (detmath.hpp times_pow2). */
export function timesPow2(v: number, k: number): number {
  while (k > 1022) {
    v *= POW2[2044]!;
    k -= 1022;
  }
  while (k < -1022) {
    v *= POW2[0]!;
    k += 1022;
  }
  return v * POW2[k + 1022]!;
}

/** Natural log of a positive normal double (fdlibm e_log.c core). */
export function logPos(x: number): number {
  f64[0] = x;
  const hi = u32[1]!;
  const k = (hi >>> 20) - 1023;
  u32[1] = (hi & 0xfffff) | 0x3ff00000;
  return logMantissa(f64[0], k);
}

/**
 * ln(m * 2^k) for a mantissa m in [1, 2) (fdlibm e_log.c core, the polynomial for
 * m in [sqrt(2)/2, sqrt(2)) after folding): logPos and philox's logUnit share it.
 */
export function logMantissa(m: number, k: number): number {
  if (m > kSqrt2) {
    m = m * 0.5;
    k = k + 1;
  }
  const f = m - 1.0;
  const s = f / (2.0 + f);
  const z = s * s;
  let r = 1.479819860511658591e-1;
  r = 1.531383769920937332e-1 + z * r;
  r = 1.818357216161805012e-1 + z * r;
  r = 2.222219843214978396e-1 + z * r;
  r = 2.857142874366239149e-1 + z * r;
  r = 3.999999999940941908e-1 + z * r;
  r = 6.66666666666673513e-1 + z * r;
  r = z * r;
  const hfsq = 0.5 * f * f;
  return k * kLn2Hi - (hfsq - (s * (hfsq + r) + k * kLn2Lo) - f);
}

/** e^x (fdlibm e_exp.c core); 0 below -745.2, Infinity above 709.79. */
export function expD(x: number): number {
  if (!(x < 709.782712893383973096)) return x !== x ? x : Infinity;
  if (x < -745.13321910194110842) return 0;
  const k = Math.floor(x * kInvLn2 + 0.5);
  const hi = x - k * kLn2Hi;
  const lo = k * kLn2Lo;
  const r = hi - lo;
  const t = r * r;
  let p = 4.13813679705723846039e-8;
  p = -1.6533902205465251539e-6 + t * p;
  p = 6.61375632143793436117e-5 + t * p;
  p = -2.77777777770155933842e-3 + t * p;
  p = 1.66666666666666019037e-1 + t * p;
  const c = r - t * p;
  const y = 1.0 - (lo - (r * c) / (2.0 - c) - hi);
  if (k > 1023) return y * pow2(1023) * pow2(k - 1023);
  if (k < -1022) return y * pow2(-1022) * pow2(k + 1022);
  return y * pow2(k);
}

/** sin on |x| <= pi/4 (fdlibm k_sin.c, zero tail). */
export function sinKernel(x: number): number {
  const z = x * x;
  const v = z * x;
  let r = 1.58969099521155010221e-10;
  r = -2.50507602534068634195e-8 + z * r;
  r = 2.75573137070700676789e-6 + z * r;
  r = -1.98412698298579493134e-4 + z * r;
  r = 8.33333333332248946124e-3 + z * r;
  return x + v * (-1.66666666666666324348e-1 + z * r);
}

/** cos on |x| <= pi/4 (fdlibm k_cos.c, zero tail). */
export function cosKernel(x: number): number {
  const z = x * x;
  let r = -1.13596475577881948265e-11;
  r = 2.0875723212981748279e-9 + z * r;
  r = -2.75573143513906633035e-7 + z * r;
  r = 2.48015872894767294178e-5 + z * r;
  r = -1.38888888888741095749e-3 + z * r;
  r = 4.16666666666666019037e-2 + z * r;
  r = z * r;
  const hz = 0.5 * z;
  const w = 1.0 - hz;
  return w + (1.0 - w - hz + z * r);
}

/** Standard normal density. */
export function normalPdf(z: number): number {
  return kInvSqrt2Pi * expD(-0.5 * z * z);
}

/** Inverse standard normal CDF for p in (0, 1): Wichura AS241 PPND16 (about 1e-16 relative). */
export function normalQuantile(p: number): number {
  const q = p - 0.5;
  if ((q < 0 ? -q : q) <= 0.425) {
    const r = 0.180625 - q * q;
    let a = 2.5090809287301226727e3;
    a = a * r + 3.3430575583588128105e4;
    a = a * r + 6.7265770927008700853e4;
    a = a * r + 4.5921953931549871457e4;
    a = a * r + 1.3731693765509461125e4;
    a = a * r + 1.9715909503065514427e3;
    a = a * r + 1.3314166789178437745e2;
    a = a * r + 3.387132872796366608;
    let b = 5.226495278852854561e3;
    b = b * r + 2.8729085735721942674e4;
    b = b * r + 3.930789580009271061e4;
    b = b * r + 2.1213794301586595867e4;
    b = b * r + 5.3941960214247511077e3;
    b = b * r + 6.871870074920579083e2;
    b = b * r + 4.2313330701600911252e1;
    b = b * r + 1.0;
    return (q * a) / b;
  }
  let r = q < 0 ? p : 1.0 - p;
  r = Math.sqrt(-logPos(r));
  let num: number;
  let den: number;
  if (r <= 5.0) {
    r = r - 1.6;
    num = 7.7454501427834140764e-4;
    num = num * r + 2.27238449892691845833e-2;
    num = num * r + 2.4178072517745061177e-1;
    num = num * r + 1.27045825245236838258;
    num = num * r + 3.64784832476320460504;
    num = num * r + 5.7694972214606914055;
    num = num * r + 4.6303378461565452959;
    num = num * r + 1.42343711074968357734;
    den = 1.05075007164441684324e-9;
    den = den * r + 5.475938084995344946e-4;
    den = den * r + 1.51986665636164571966e-2;
    den = den * r + 1.4810397642748007459e-1;
    den = den * r + 6.8976733498510000455e-1;
    den = den * r + 1.6763848301838038494;
    den = den * r + 2.05319162663775882187;
    den = den * r + 1.0;
  } else {
    r = r - 5.0;
    num = 2.01033439929228813265e-7;
    num = num * r + 2.71155556874348757815e-5;
    num = num * r + 1.2426609473880784386e-3;
    num = num * r + 2.6532189526576123093e-2;
    num = num * r + 2.9656057182850489123e-1;
    num = num * r + 1.7848265399172913358;
    num = num * r + 5.4637849111641143699;
    num = num * r + 6.6579046435011037772;
    den = 2.04426310338993978564e-15;
    den = den * r + 1.4215117583164458887e-7;
    den = den * r + 1.8463183175100546818e-5;
    den = den * r + 7.868691311456132591e-4;
    den = den * r + 1.48753612908506148525e-2;
    den = den * r + 1.3692988092273580531e-1;
    den = den * r + 5.9983220655588793769e-1;
    den = den * r + 1.0;
  }
  const z = num / den;
  return q < 0 ? -z : z;
}
