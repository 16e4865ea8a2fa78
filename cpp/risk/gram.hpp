// The Gram product G = Z Z^T of a packed matrix, upper triangle only: the SYRK at the heart of
// covariance(). Structured like BLIS/OpenBLAS dsyrk: Z packed once (by the caller, fused with
// its scaling pass) into panels of W rows with the observations interleaved, a
// register-blocked W x 3W micro-kernel (AVX-512F, AVX2+FMA, or plain), the observations split
// into kc blocks so the B panels of a micro-tile stay in L1 while the A panels stream from L2,
// and the triangle of assets cut into balanced block pairs for parallel_for.
#pragma once

#include <cstddef>

#include "simd.hpp"

namespace up::risk {

// Rows per packed panel for a SIMD level: 8 with AVX-512F, 4 otherwise.
std::size_t gram_panel_width(SimdLevel level);

// Rows of Z padded with zero rows to a multiple of 3W (the micro-tile's width).
std::size_t gram_rows(SimdLevel level, std::size_t assets);

// Panel p holds rows W*p .. W*p+W-1 of Z over T observations: element (W*p + l, t) at
// packed[p*T*W + t*W + l]; rows = gram_rows(), the padding rows zero. Writes
// g[i*rows + j] = sum_t z_it z_jt for every i <= j (entries below the diagonal are scratch).
// Each entry sums t in increasing order with one multiply-add per term (fused under
// AVX2/AVX-512, a product then a sum when scalar), so the result does not depend on the
// thread count. parallel: use parallel_for.
void gram_upper(SimdLevel level, const double* packed, std::size_t rows, std::size_t T, double* g, bool parallel);

}  // namespace up::risk
