// Deterministic math: log, exp, sin/cos and the normal quantile written with only
// +, -, *, /, sqrt and exact bit operations, so that C++, CUDA and lib/risk/detmath.ts
// produce bit-identical doubles (libm and Math.log/exp/cos are not guaranteed to agree).
// Coefficients and structure follow fdlibm (e_log.c, e_exp.c, k_sin.c, k_cos.c) and
// Wichura's AS241 (PPND16). Header-only, C++17, usable from nvcc.
//
// Every expression here must be evaluated exactly as written: no FMA contraction and no
// reassociation. g++ on x86-64 without -mfma cannot contract; CUDA code must include this
// with UP_DETMATH_DEVICE defined so the operators become __dmul_rn/__dadd_rn (never fused).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define UP_HD __host__ __device__ __forceinline__
#else
#define UP_HD inline
#endif

namespace up::risk::detmath {

#if defined(__CUDA_ARCH__)
UP_HD double mul(double a, double b) { return __dmul_rn(a, b); }
UP_HD double add(double a, double b) { return __dadd_rn(a, b); }
UP_HD double sub(double a, double b) { return __dsub_rn(a, b); }
UP_HD double sqrt_rn(double a) { return __dsqrt_rn(a); }
UP_HD std::uint64_t to_bits(double x) { return static_cast<std::uint64_t>(__double_as_longlong(x)); }
UP_HD double from_bits(std::uint64_t b) { return __longlong_as_double(static_cast<long long>(b)); }
UP_HD double floor_d(double x) { return ::floor(x); }
#else
UP_HD double mul(double a, double b) { return a * b; }
UP_HD double add(double a, double b) { return a + b; }
UP_HD double sub(double a, double b) { return a - b; }
UP_HD double sqrt_rn(double a) { return __builtin_sqrt(a); }
UP_HD std::uint64_t to_bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
UP_HD double from_bits(std::uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}
UP_HD double floor_d(double x) { return __builtin_floor(x); }
#endif

inline constexpr double kLn2Hi = 6.93147180369123816490e-01;
inline constexpr double kLn2Lo = 1.90821492927058770002e-10;
inline constexpr double kInvLn2 = 1.44269504088896338700e+00;
inline constexpr double kSqrt2 = 1.41421356237309514547e+00;
inline constexpr double kHalfPi = 1.57079632679489655800e+00;
inline constexpr double kInvSqrt2Pi = 3.98942280401432702863e-01;

// 2^k for k in [-1022, 1023], exactly.
UP_HD double pow2(int k) { return from_bits(static_cast<std::uint64_t>(k + 1023) << 52); }

// A column's scale: e with |x| * 2^-e in [1, 2) for a normal x, clamped to [-1022, 1022] so
// 2^e and 2^-e are normal doubles (a subnormal or zero x gives -1022). Scaling by 2^-e is
// exact, so values from 1e-308 to 1e308 multiply without overflow or underflow.
UP_HD int scale_exponent(double x) {
  const int e = static_cast<int>((to_bits(x) >> 52) & 0x7FF) - 1023;
  return e < -1022 ? -1022 : (e > 1022 ? 1022 : e);
}

// v * 2^k for any k, rounded once unless the result is subnormal: whole steps of 2^+-1022
// first, so no intermediate overflows or underflows where the result does not.
UP_HD double times_pow2(double v, int k) {
  while (k > 1022) {
    v = mul(v, pow2(1022));
    k -= 1022;
  }
  while (k < -1022) {
    v = mul(v, pow2(-1022));
    k += 1022;
  }
  return mul(v, pow2(k));
}

// Natural log of a positive normal double (fdlibm e_log.c core; the callers never pass
// 0, negatives, subnormals, infinities or NaN).
UP_HD double log_pos(double x) {
  const std::uint64_t bits = to_bits(x);
  int k = static_cast<int>(bits >> 52) - 1023;
  double m = from_bits((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
  const bool big = m > kSqrt2;
  m = big ? mul(m, 0.5) : m;
  k = big ? k + 1 : k;
  const double f = sub(m, 1.0);
  const double s = f / add(2.0, f);
  const double z = mul(s, s);
  double r = 1.479819860511658591e-01;
  r = add(1.531383769920937332e-01, mul(z, r));
  r = add(1.818357216161805012e-01, mul(z, r));
  r = add(2.222219843214978396e-01, mul(z, r));
  r = add(2.857142874366239149e-01, mul(z, r));
  r = add(3.999999999940941908e-01, mul(z, r));
  r = add(6.666666666666735130e-01, mul(z, r));
  r = mul(z, r);
  const double hfsq = mul(mul(0.5, f), f);
  const double dk = static_cast<double>(k);
  return sub(mul(dk, kLn2Hi), sub(sub(hfsq, add(mul(s, add(hfsq, r)), mul(dk, kLn2Lo))), f));
}

// e^x (fdlibm e_exp.c core); 0 below -745.2, +inf above 709.79.
UP_HD double exp_d(double x) {
  if (!(x < 709.782712893383973096)) return x != x ? x : from_bits(0x7FF0000000000000ull);  // NaN stays NaN, else +inf
  if (x < -745.13321910194110842) return 0.0;
  const double kd = floor_d(add(mul(x, kInvLn2), 0.5));
  const int k = static_cast<int>(kd);
  const double hi = sub(x, mul(kd, kLn2Hi));
  const double lo = mul(kd, kLn2Lo);
  const double r = sub(hi, lo);
  const double t = mul(r, r);
  double p = 4.13813679705723846039e-08;
  p = add(-1.65339022054652515390e-06, mul(t, p));
  p = add(6.61375632143793436117e-05, mul(t, p));
  p = add(-2.77777777770155933842e-03, mul(t, p));
  p = add(1.66666666666666019037e-01, mul(t, p));
  const double c = sub(r, mul(t, p));
  const double y = sub(1.0, sub(sub(lo, mul(r, c) / sub(2.0, c)), hi));
  if (k > 1023) return mul(mul(y, pow2(1023)), pow2(k - 1023));
  if (k < -1022) return mul(mul(y, pow2(-1022)), pow2(k + 1022));
  return mul(y, pow2(k));
}

// sin and cos on |x| <= pi/4 (fdlibm k_sin.c / k_cos.c with a zero tail).
UP_HD double sin_kernel(double x) {
  const double z = mul(x, x);
  const double v = mul(z, x);
  double r = 1.58969099521155010221e-10;
  r = add(-2.50507602534068634195e-08, mul(z, r));
  r = add(2.75573137070700676789e-06, mul(z, r));
  r = add(-1.98412698298579493134e-04, mul(z, r));
  r = add(8.33333333332248946124e-03, mul(z, r));
  return add(x, mul(v, add(-1.66666666666666324348e-01, mul(z, r))));
}

UP_HD double cos_kernel(double x) {
  const double z = mul(x, x);
  double r = -1.13596475577881948265e-11;
  r = add(2.08757232129817482790e-09, mul(z, r));
  r = add(-2.75573143513906633035e-07, mul(z, r));
  r = add(2.48015872894767294178e-05, mul(z, r));
  r = add(-1.38888888888741095749e-03, mul(z, r));
  r = add(4.16666666666666019037e-02, mul(z, r));
  r = mul(z, r);
  const double hz = mul(0.5, z);
  const double w = sub(1.0, hz);
  return add(w, add(sub(sub(1.0, w), hz), mul(z, r)));
}

// Standard normal density.
UP_HD double normal_pdf(double z) { return mul(kInvSqrt2Pi, exp_d(mul(mul(-0.5, z), z))); }

// Inverse standard normal CDF for p in (0, 1): Wichura AS241 PPND16 (about 1e-16 relative).
UP_HD double normal_quantile(double p) {
  const double q = sub(p, 0.5);
  if ((q < 0 ? -q : q) <= 0.425) {
    const double r = sub(0.180625, mul(q, q));
    double a = 2.5090809287301226727e+3;
    a = add(mul(a, r), 3.3430575583588128105e+4);
    a = add(mul(a, r), 6.7265770927008700853e+4);
    a = add(mul(a, r), 4.5921953931549871457e+4);
    a = add(mul(a, r), 1.3731693765509461125e+4);
    a = add(mul(a, r), 1.9715909503065514427e+3);
    a = add(mul(a, r), 1.3314166789178437745e+2);
    a = add(mul(a, r), 3.3871328727963666080e0);
    double b = 5.2264952788528545610e+3;
    b = add(mul(b, r), 2.8729085735721942674e+4);
    b = add(mul(b, r), 3.9307895800092710610e+4);
    b = add(mul(b, r), 2.1213794301586595867e+4);
    b = add(mul(b, r), 5.3941960214247511077e+3);
    b = add(mul(b, r), 6.8718700749205790830e+2);
    b = add(mul(b, r), 4.2313330701600911252e+1);
    b = add(mul(b, r), 1.0);
    return mul(q, a) / b;
  }
  double r = q < 0 ? p : sub(1.0, p);
  r = sqrt_rn(-log_pos(r));
  double num;
  double den;
  if (r <= 5.0) {
    r = sub(r, 1.6);
    num = 7.74545014278341407640e-4;
    num = add(mul(num, r), 2.27238449892691845833e-2);
    num = add(mul(num, r), 2.41780725177450611770e-1);
    num = add(mul(num, r), 1.27045825245236838258e0);
    num = add(mul(num, r), 3.64784832476320460504e0);
    num = add(mul(num, r), 5.76949722146069140550e0);
    num = add(mul(num, r), 4.63033784615654529590e0);
    num = add(mul(num, r), 1.42343711074968357734e0);
    den = 1.05075007164441684324e-9;
    den = add(mul(den, r), 5.47593808499534494600e-4);
    den = add(mul(den, r), 1.51986665636164571966e-2);
    den = add(mul(den, r), 1.48103976427480074590e-1);
    den = add(mul(den, r), 6.89767334985100004550e-1);
    den = add(mul(den, r), 1.67638483018380384940e0);
    den = add(mul(den, r), 2.05319162663775882187e0);
    den = add(mul(den, r), 1.0);
  } else {
    r = sub(r, 5.0);
    num = 2.01033439929228813265e-7;
    num = add(mul(num, r), 2.71155556874348757815e-5);
    num = add(mul(num, r), 1.24266094738807843860e-3);
    num = add(mul(num, r), 2.65321895265761230930e-2);
    num = add(mul(num, r), 2.96560571828504891230e-1);
    num = add(mul(num, r), 1.78482653991729133580e0);
    num = add(mul(num, r), 5.46378491116411436990e0);
    num = add(mul(num, r), 6.65790464350110377720e0);
    den = 2.04426310338993978564e-15;
    den = add(mul(den, r), 1.42151175831644588870e-7);
    den = add(mul(den, r), 1.84631831751005468180e-5);
    den = add(mul(den, r), 7.86869131145613259100e-4);
    den = add(mul(den, r), 1.48753612908506148525e-2);
    den = add(mul(den, r), 1.36929880922735805310e-1);
    den = add(mul(den, r), 5.99832206555887937690e-1);
    den = add(mul(den, r), 1.0);
  }
  const double z = num / den;
  return q < 0 ? -z : z;
}

}  // namespace up::risk::detmath
