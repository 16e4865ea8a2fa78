// Bulk normals: the same arithmetic as philox.hpp, eight blocks at a time with AVX2 when
// the CPU has it (checked once at run time; the prebuild targets plain x86-64). No FMA
// and the same operation order, so results are bit-identical to the scalar path and to
// lib/risk/philox.ts.
#include "philox.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <climits>

#include "parallel.hpp"
#include "simd.hpp"

namespace up::risk {
namespace {

void fill_blocks_scalar(double* out, std::uint64_t block0, std::size_t blocks, std::uint32_t s0, std::uint32_t s1,
                        std::uint32_t k0, std::uint32_t k1) {
  for (std::size_t i = 0; i < blocks; ++i) {
    const std::uint64_t b = block0 + i;
    const PhiloxBlock blk = philox4x32_10(static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), s0, s1, k0, k1);
    box_muller(blk.x[0], blk.x[1], blk.x[2], blk.x[3], &out[2 * i], &out[2 * i + 1]);
  }
}

#if defined(__x86_64__) || defined(__i386__)
using V = __m256d;
using VI = __m256i;

__attribute__((target("avx2"))) inline V vmul(V a, V b) { return _mm256_mul_pd(a, b); }
__attribute__((target("avx2"))) inline V vadd(V a, V b) { return _mm256_add_pd(a, b); }
__attribute__((target("avx2"))) inline V vsub(V a, V b) { return _mm256_sub_pd(a, b); }
__attribute__((target("avx2"))) inline V vset(double x) { return _mm256_set1_pd(x); }

// detmath::log_pos, lane-wise, in the same operation order.
__attribute__((target("avx2"))) inline V vlog_pos(V x) {
  const VI bits = _mm256_castpd_si256(x);
  // Exponent field as an exact double: (bits >> 52) | 2^52 bit pattern, minus 2^52.
  const V ebias = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52),
                                                                   _mm256_set1_epi64x(0x4330000000000000ll))),
                                vset(4503599627370496.0));
  V m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFll)),
                                            _mm256_set1_epi64x(0x3FF0000000000000ll)));
  const V big = _mm256_cmp_pd(m, vset(detmath::kSqrt2), _CMP_GT_OQ);
  m = _mm256_blendv_pd(m, vmul(m, vset(0.5)), big);
  const V dk = vadd(vsub(ebias, vset(1023.0)), _mm256_and_pd(big, vset(1.0)));
  const V f = vsub(m, vset(1.0));
  const V s = _mm256_div_pd(f, vadd(vset(2.0), f));
  const V z = vmul(s, s);
  V r = vset(1.479819860511658591e-01);
  r = vadd(vset(1.531383769920937332e-01), vmul(z, r));
  r = vadd(vset(1.818357216161805012e-01), vmul(z, r));
  r = vadd(vset(2.222219843214978396e-01), vmul(z, r));
  r = vadd(vset(2.857142874366239149e-01), vmul(z, r));
  r = vadd(vset(3.999999999940941908e-01), vmul(z, r));
  r = vadd(vset(6.666666666666735130e-01), vmul(z, r));
  r = vmul(z, r);
  const V hfsq = vmul(vmul(vset(0.5), f), f);
  return vsub(vmul(dk, vset(detmath::kLn2Hi)),
              vsub(vsub(hfsq, vadd(vmul(s, vadd(hfsq, r)), vmul(dk, vset(detmath::kLn2Lo)))), f));
}

__attribute__((target("avx2"))) inline V vsin_kernel(V x) {
  const V z = vmul(x, x);
  const V v = vmul(z, x);
  V r = vset(1.58969099521155010221e-10);
  r = vadd(vset(-2.50507602534068634195e-08), vmul(z, r));
  r = vadd(vset(2.75573137070700676789e-06), vmul(z, r));
  r = vadd(vset(-1.98412698298579493134e-04), vmul(z, r));
  r = vadd(vset(8.33333333332248946124e-03), vmul(z, r));
  return vadd(x, vmul(v, vadd(vset(-1.66666666666666324348e-01), vmul(z, r))));
}

__attribute__((target("avx2"))) inline V vcos_kernel(V x) {
  const V z = vmul(x, x);
  V r = vset(-1.13596475577881948265e-11);
  r = vadd(vset(2.08757232129817482790e-09), vmul(z, r));
  r = vadd(vset(-2.75573143513906633035e-07), vmul(z, r));
  r = vadd(vset(2.48015872894767294178e-05), vmul(z, r));
  r = vadd(vset(-1.38888888888741095749e-03), vmul(z, r));
  r = vadd(vset(4.16666666666666019037e-02), vmul(z, r));
  r = vmul(z, r);
  const V hz = vmul(vset(0.5), z);
  const V w = vsub(vset(1.0), hz);
  return vadd(w, vadd(vsub(vsub(vset(1.0), w), hz), vmul(z, r)));
}

// 32x32->64 products of all eight lanes: low and high words, lane order kept.
__attribute__((target("avx2"))) inline void vmul_hilo(VI a, VI m, VI* hi, VI* lo) {
  const VI pe = _mm256_mul_epu32(a, m);
  const VI po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

// Small non-negative 64-bit integers (< 2^52) to exact doubles.
__attribute__((target("avx2"))) inline V to_d(VI v) {
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, _mm256_set1_epi64x(0x4330000000000000ll))),
                       _mm256_set1_pd(4503599627370496.0));
}

__attribute__((target("avx2"))) inline VI widen(VI v, int half) {
  return _mm256_cvtepu32_epi64(half == 0 ? _mm256_castsi256_si128(v) : _mm256_extracti128_si256(v, 1));
}

// Four Box-Muller pairs from lanes of 64-bit words holding x0..x3 (zero-extended).
__attribute__((target("avx2"))) inline void vbox_muller(VI x0, VI x1, VI x2, VI x3, double* out) {
  const V two26 = vset(67108864.0);
  const V k1 = vadd(vmul(to_d(_mm256_srli_epi64(x0, 5)), two26), to_d(_mm256_srli_epi64(x1, 6)));
  const V u1 = vmul(vadd(k1, vset(1.0)), vset(1.1102230246251565404e-16));
  const VI hi25 = _mm256_and_si256(_mm256_srli_epi64(x2, 5), _mm256_set1_epi64x(0x1FFFFFF));
  const V kf = vadd(vmul(to_d(hi25), two26), to_d(_mm256_srli_epi64(x3, 6)));
  const V t = vmul(vsub(vmul(kf, vset(4.4408920985006261617e-16)), vset(0.5)), vset(detmath::kHalfPi));
  const V r = _mm256_sqrt_pd(vmul(vset(-2.0), vlog_pos(u1)));
  const V c = vcos_kernel(t);
  const V s = vsin_kernel(t);
  const VI q = _mm256_srli_epi64(x2, 30);
  const V swap = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, _mm256_set1_epi64x(1)), _mm256_set1_epi64x(1)));
  const V neg_c = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_and_si256(_mm256_xor_si256(q, _mm256_srli_epi64(q, 1)), _mm256_set1_epi64x(1)), 63));
  const V neg_s = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_srli_epi64(q, 1), 63));
  const V rc = _mm256_xor_pd(_mm256_blendv_pd(c, s, swap), neg_c);
  const V rs = _mm256_xor_pd(_mm256_blendv_pd(s, c, swap), neg_s);
  const V z0 = vmul(r, rc);
  const V z1 = vmul(r, rs);
  const V lo = _mm256_unpacklo_pd(z0, z1);
  const V hi = _mm256_unpackhi_pd(z0, z1);
  _mm256_storeu_pd(out, _mm256_permute2f128_pd(lo, hi, 0x20));
  _mm256_storeu_pd(out + 4, _mm256_permute2f128_pd(lo, hi, 0x31));
}

__attribute__((target("avx2")))
void fill_blocks_avx2(double* out, std::uint64_t block0, std::size_t blocks, std::uint32_t s0, std::uint32_t s1,
                      std::uint32_t k0, std::uint32_t k1) {
  const VI m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
  const VI m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
  const VI lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  std::size_t done = 0;
  for (; done + 8 <= blocks; done += 8) {
    const std::uint64_t b = block0 + done;
    // Lanes b..b+7; the high word steps where the low word wraps.
    const VI lo_base = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(b)));
    VI c0 = _mm256_add_epi32(lo_base, lane);
    const VI wrapped = _mm256_cmpgt_epi32(_mm256_xor_si256(lo_base, _mm256_set1_epi32(INT32_MIN)),
                                          _mm256_xor_si256(c0, _mm256_set1_epi32(INT32_MIN)));
    VI c1 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(b >> 32))), wrapped);
    VI c2 = _mm256_set1_epi32(static_cast<int>(s0));
    VI c3 = _mm256_set1_epi32(static_cast<int>(s1));
    std::uint32_t kk0 = k0;
    std::uint32_t kk1 = k1;
    for (int round = 0; round < 10; ++round) {
      VI hi0, lo0, hi1, lo1;
      vmul_hilo(c0, m0, &hi0, &lo0);
      vmul_hilo(c2, m1, &hi1, &lo1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(kk0)));
      c1 = lo1;
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(kk1)));
      c3 = lo0;
      kk0 += kPhiloxW0;
      kk1 += kPhiloxW1;
    }
    // Lanes 0-3 then 4-7, widened to 64-bit words.
    for (int half = 0; half < 2; ++half) {
      vbox_muller(widen(c0, half), widen(c1, half), widen(c2, half), widen(c3, half), out + 2 * (done + 4 * half));
    }
  }
  if (done < blocks) {
    // The last 1-7 blocks: one more vector round into a scratch pair buffer.
    double tail[16];
    fill_blocks_avx2(tail, block0 + done, 8, s0, s1, k0, k1);
    for (std::size_t i = 0; i < 2 * (blocks - done); ++i) out[2 * done + i] = tail[i];
  }
}

// The same again, sixteen blocks at a time with AVX-512F (the same operations in the
// same order, so the same bits).
using W = __m512d;
using WI = __m512i;

// AVX-512F has FMA instructions and g++ would fuse a multiply and an add written as two
// intrinsics; fp-contract=off keeps every rounding where the scalar code has it.
#define UP_AVX512 __attribute__((target("avx512f"), optimize("fp-contract=off")))
// g++ 12's avx512fintrin.h trips -Wmaybe-uninitialized on its own _mm512_undefined_*.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

UP_AVX512 inline W wset(double x) { return _mm512_set1_pd(x); }

UP_AVX512 inline W wlog_pos(W x) {
  const WI bits = _mm512_castpd_si512(x);
  const W ebias = _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64(bits, 52),
                                                                   _mm512_set1_epi64(0x4330000000000000ll))),
                                wset(4503599627370496.0));
  W m = _mm512_castsi512_pd(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi64(0x000FFFFFFFFFFFFFll)),
                                            _mm512_set1_epi64(0x3FF0000000000000ll)));
  const __mmask8 big = _mm512_cmp_pd_mask(m, wset(detmath::kSqrt2), _CMP_GT_OQ);
  m = _mm512_mask_mul_pd(m, big, m, wset(0.5));
  const W base = _mm512_sub_pd(ebias, wset(1023.0));
  const W dk = _mm512_mask_add_pd(base, big, base, wset(1.0));
  const W f = _mm512_sub_pd(m, wset(1.0));
  const W s = _mm512_div_pd(f, _mm512_add_pd(wset(2.0), f));
  const W z = _mm512_mul_pd(s, s);
  W r = wset(1.479819860511658591e-01);
  r = _mm512_add_pd(wset(1.531383769920937332e-01), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(1.818357216161805012e-01), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(2.222219843214978396e-01), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(2.857142874366239149e-01), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(3.999999999940941908e-01), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(6.666666666666735130e-01), _mm512_mul_pd(z, r));
  r = _mm512_mul_pd(z, r);
  const W hfsq = _mm512_mul_pd(_mm512_mul_pd(wset(0.5), f), f);
  return _mm512_sub_pd(
      _mm512_mul_pd(dk, wset(detmath::kLn2Hi)),
      _mm512_sub_pd(_mm512_sub_pd(hfsq, _mm512_add_pd(_mm512_mul_pd(s, _mm512_add_pd(hfsq, r)),
                                                      _mm512_mul_pd(dk, wset(detmath::kLn2Lo)))),
                    f));
}

UP_AVX512 inline W wsin_kernel(W x) {
  const W z = _mm512_mul_pd(x, x);
  const W v = _mm512_mul_pd(z, x);
  W r = wset(1.58969099521155010221e-10);
  r = _mm512_add_pd(wset(-2.50507602534068634195e-08), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(2.75573137070700676789e-06), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(-1.98412698298579493134e-04), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(8.33333333332248946124e-03), _mm512_mul_pd(z, r));
  return _mm512_add_pd(x, _mm512_mul_pd(v, _mm512_add_pd(wset(-1.66666666666666324348e-01), _mm512_mul_pd(z, r))));
}

UP_AVX512 inline W wcos_kernel(W x) {
  const W z = _mm512_mul_pd(x, x);
  W r = wset(-1.13596475577881948265e-11);
  r = _mm512_add_pd(wset(2.08757232129817482790e-09), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(-2.75573143513906633035e-07), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(2.48015872894767294178e-05), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(-1.38888888888741095749e-03), _mm512_mul_pd(z, r));
  r = _mm512_add_pd(wset(4.16666666666666019037e-02), _mm512_mul_pd(z, r));
  r = _mm512_mul_pd(z, r);
  const W hz = _mm512_mul_pd(wset(0.5), z);
  const W w = _mm512_sub_pd(wset(1.0), hz);
  return _mm512_add_pd(w, _mm512_add_pd(_mm512_sub_pd(_mm512_sub_pd(wset(1.0), w), hz), _mm512_mul_pd(z, r)));
}

UP_AVX512 inline void wmul_hilo(WI a, WI m, WI* hi, WI* lo) {
  const WI pe = _mm512_mul_epu32(a, m);
  const WI po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}

UP_AVX512 inline W wto_d(WI v) {
  return _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(v, _mm512_set1_epi64(0x4330000000000000ll))),
                       _mm512_set1_pd(4503599627370496.0));
}

UP_AVX512 inline WI wwiden(WI v, int half) {
  return _mm512_cvtepu32_epi64(half == 0 ? _mm512_castsi512_si256(v) : _mm512_extracti64x4_epi64(v, 1));
}

UP_AVX512 inline void wbox_muller(WI x0, WI x1, WI x2, WI x3, double* out) {
  const W two26 = wset(67108864.0);
  const W k1 = _mm512_add_pd(_mm512_mul_pd(wto_d(_mm512_srli_epi64(x0, 5)), two26), wto_d(_mm512_srli_epi64(x1, 6)));
  const W u1 = _mm512_mul_pd(_mm512_add_pd(k1, wset(1.0)), wset(1.1102230246251565404e-16));
  const WI hi25 = _mm512_and_si512(_mm512_srli_epi64(x2, 5), _mm512_set1_epi64(0x1FFFFFF));
  const W kf = _mm512_add_pd(_mm512_mul_pd(wto_d(hi25), two26), wto_d(_mm512_srli_epi64(x3, 6)));
  const W t = _mm512_mul_pd(_mm512_sub_pd(_mm512_mul_pd(kf, wset(4.4408920985006261617e-16)), wset(0.5)),
                            wset(detmath::kHalfPi));
  const W r = _mm512_sqrt_pd(_mm512_mul_pd(wset(-2.0), wlog_pos(u1)));
  const W c = wcos_kernel(t);
  const W s = wsin_kernel(t);
  const WI q = _mm512_srli_epi64(x2, 30);
  const __mmask8 swap = _mm512_test_epi64_mask(q, _mm512_set1_epi64(1));
  const WI neg_c = _mm512_slli_epi64(_mm512_and_si512(_mm512_xor_si512(q, _mm512_srli_epi64(q, 1)), _mm512_set1_epi64(1)), 63);
  const WI neg_s = _mm512_slli_epi64(_mm512_srli_epi64(q, 1), 63);
  const W rc = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(_mm512_mask_blend_pd(swap, c, s)), neg_c));
  const W rs = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(_mm512_mask_blend_pd(swap, s, c)), neg_s));
  const W z0 = _mm512_mul_pd(r, rc);
  const W z1 = _mm512_mul_pd(r, rs);
  const WI lo_idx = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  const WI hi_idx = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  _mm512_storeu_pd(out, _mm512_permutex2var_pd(z0, lo_idx, z1));
  _mm512_storeu_pd(out + 8, _mm512_permutex2var_pd(z0, hi_idx, z1));
}

UP_AVX512
void fill_blocks_avx512(double* out, std::uint64_t block0, std::size_t blocks, std::uint32_t s0, std::uint32_t s1,
                        std::uint32_t k0, std::uint32_t k1) {
  const WI m0 = _mm512_set1_epi32(static_cast<int>(kPhiloxM0));
  const WI m1 = _mm512_set1_epi32(static_cast<int>(kPhiloxM1));
  const WI lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  std::size_t done = 0;
  for (; done + 16 <= blocks; done += 16) {
    const std::uint64_t b = block0 + done;
    const WI lo_base = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(b)));
    WI c0 = _mm512_add_epi32(lo_base, lane);
    const __mmask16 wrapped = _mm512_cmplt_epu32_mask(c0, lo_base);
    const WI hi_base = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(b >> 32)));
    WI c1 = _mm512_mask_add_epi32(hi_base, wrapped, hi_base, _mm512_set1_epi32(1));
    WI c2 = _mm512_set1_epi32(static_cast<int>(s0));
    WI c3 = _mm512_set1_epi32(static_cast<int>(s1));
    std::uint32_t kk0 = k0;
    std::uint32_t kk1 = k1;
    for (int round = 0; round < 10; ++round) {
      WI hi0, lo0, hi1, lo1;
      wmul_hilo(c0, m0, &hi0, &lo0);
      wmul_hilo(c2, m1, &hi1, &lo1);
      c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(kk0)));
      c1 = lo1;
      c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(kk1)));
      c3 = lo0;
      kk0 += kPhiloxW0;
      kk1 += kPhiloxW1;
    }
    for (int half = 0; half < 2; ++half) {
      wbox_muller(wwiden(c0, half), wwiden(c1, half), wwiden(c2, half), wwiden(c3, half), out + 2 * (done + 8 * half));
    }
  }
  if (done < blocks) fill_blocks_avx2(out + 2 * done, block0 + done, blocks - done, s0, s1, k0, k1);
}
#pragma GCC diagnostic pop
#endif

void fill_blocks(double* out, std::uint64_t block0, std::size_t blocks, std::uint32_t s0, std::uint32_t s1,
                 std::uint32_t k0, std::uint32_t k1) {
#if defined(__x86_64__) || defined(__i386__)
  const SimdLevel level = simd_level();
  if (level == SimdLevel::kAvx512) return fill_blocks_avx512(out, block0, blocks, s0, s1, k0, k1);
  if (level == SimdLevel::kAvx2) return fill_blocks_avx2(out, block0, blocks, s0, s1, k0, k1);
#endif
  fill_blocks_scalar(out, block0, blocks, s0, s1, k0, k1);
}

}  // namespace

void fill_normals_parallel(double* out, std::size_t n, std::uint64_t seed, std::uint64_t stream, std::uint64_t first) {
  constexpr std::size_t kChunk = std::size_t{1} << 16;  // normals per task (even: tasks start on block boundaries)
  if (n < 2 * kChunk || parallel_width() < 2) return fill_normals(out, n, seed, stream, first);
  const std::size_t tasks = (n + kChunk - 1) / kChunk;
  parallel_for(tasks, [&](std::size_t t) {
    const std::size_t begin = t * kChunk;
    const std::size_t count = std::min(kChunk, n - begin);
    fill_normals(out + begin, count, seed, stream, first + begin);
  });
}

void fill_normals(double* out, std::size_t n, std::uint64_t seed, std::uint64_t stream, std::uint64_t first) {
  if (n == 0) return;
  const auto s0 = static_cast<std::uint32_t>(stream);
  const auto s1 = static_cast<std::uint32_t>(stream >> 32);
  const auto k0 = static_cast<std::uint32_t>(seed);
  const auto k1 = static_cast<std::uint32_t>(seed >> 32);
  if (first & 1) {  // an odd start takes the second half of its block
    *out++ = philox_normal(seed, stream, first);
    ++first;
    if (--n == 0) return;
  }
  const std::uint64_t block0 = first >> 1;
  const std::size_t blocks = n >> 1;
  fill_blocks(out, block0, blocks, s0, s1, k0, k1);
  if (n & 1) out[n - 1] = philox_normal(seed, stream, first + n - 1);
}

}  // namespace up::risk
