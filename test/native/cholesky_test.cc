// cholesky() (cpp/risk/cholesky.cc): the blocked SIMD path against the unblocked scalar loop
// (simd level capped to kScalar), bit for bit: L, the return value and info[], on SPD, PSD and
// refused matrices whose sizes cross the panel (32), register-block (8 x 4) and vector (4)
// boundaries, with zero and tiny pivots before, on and after a panel edge; n = 500 takes the
// threaded trailing update (TSan checks its split).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "check.hpp"
#include "risk/matrix.hpp"
#include "risk/simd.hpp"

using namespace up::risk;

// Uniform in [-scale/2, scale/2) from a 32-bit LCG (the same matrices on every run).
static std::vector<double> uniforms(std::size_t n, std::uint32_t seed, double scale) {
  std::vector<double> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = (seed / 4294967296.0 - 0.5) * scale;
  }
  return v;
}

// B B^T (+ n I when spd) with B n x rank; rows listed in zero are zero (zero-variance assets).
static std::vector<double> gram(std::size_t n, std::size_t rank, std::uint64_t seed, bool spd,
                                const std::vector<std::size_t>& zero = {}) {
  auto b = uniforms(n * rank, static_cast<std::uint32_t>(seed), spd ? 1.0 : 0.02);
  for (std::size_t i : zero)
    if (i < n) std::fill(b.begin() + i * rank, b.begin() + (i + 1) * rank, 0.0);
  std::vector<double> a(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j <= i; ++j) {
      double s = spd && i == j ? static_cast<double>(n) : 0.0;
      for (std::size_t k = 0; k < rank; ++k) s += b[i * rank + k] * b[j * rank + k];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  return a;
}

static std::size_t cases = 0;
static std::size_t refused = 0;

// Factors a with the scalar loop and with the best SIMD path; both must agree to the bit.
static void same_bits(const std::vector<double>& a, std::size_t n) {
  std::vector<double> ref(n * n, 7.0), got(n * n, -7.0);
  double ref_info[3] = {1, 2, 3}, got_info[3] = {1, 2, 3};
  cap_simd_level(SimdLevel::kScalar);
  const std::int64_t ref_status = cholesky(a.data(), n, ref.data(), ref_info);
  cap_simd_level(SimdLevel::kAvx512);
  const std::int64_t got_status = cholesky(a.data(), n, got.data(), got_info);
  CHECK_EQ(got_status, ref_status);
  if (std::memcmp(got.data(), ref.data(), n * n * sizeof(double)) != 0) {
    for (std::size_t i = 0; i < n * n; ++i)
      if (std::memcmp(&got[i], &ref[i], sizeof(double)) != 0) {
        std::fprintf(stderr, "n %zu: L[%zu][%zu] = %.17g, the scalar loop gives %.17g\n", n, i / n, i % n, got[i], ref[i]);
        break;
      }
    CHECK(false);
  }
  CHECK(std::memcmp(got_info, ref_info, sizeof got_info) == 0);
  if (ref_status < 0) {
    // And L L^T = A (the blocked path computes what the loop computes, and that is a factor).
    double top = 0.0;
    for (std::size_t i = 0; i < n; ++i) top = std::max(top, a[i * n + i]);
    for (std::size_t i = 0; i < n; i += 7)
      for (std::size_t j = 0; j <= i; ++j) {
        double s = 0.0;
        for (std::size_t k = 0; k <= j; ++k) s += got[i * n + k] * got[j * n + k];
        CHECK(std::fabs(s - a[i * n + j]) <= 1e-6 * top);
        if (j < i) CHECK(got[j * n + i] == 0.0 && !std::signbit(got[j * n + i]));
      }
  } else {
    ++refused;
  }
  ++cases;
}

static void test_spd_sizes() {
  const std::size_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 36, 39, 40, 41, 63, 64, 65, 71, 100, 129, 257};
  for (std::size_t n : sizes) same_bits(gram(n, n, 11 + n, true), n);
  same_bits(gram(500, 500, 3, true), 500);  // the threaded updates
  // Only the lower triangle is used: NaN above the diagonal changes no bit.
  for (std::size_t n : {std::size_t{5}, std::size_t{33}, std::size_t{100}}) {
    auto a = gram(n, n, 21 + n, true);
    const auto clean = a;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j) a[i * n + j] = std::nan("");
    std::vector<double> l1(n * n), l2(n * n);
    double info[3] = {0, 0, 0};
    CHECK(cholesky(clean.data(), n, l1.data(), info) == -1);
    CHECK(cholesky(a.data(), n, l2.data(), info) == -1);
    CHECK(std::memcmp(l1.data(), l2.data(), n * n * sizeof(double)) == 0);
    same_bits(a, n);
  }
}

static void test_psd_and_zero_pivots() {
  // Rank-deficient: every pivot past the rank is zero or tiny (Rayleigh test, vanishing columns).
  const std::size_t sizes[] = {3, 9, 33, 40, 65, 100};
  for (std::size_t n : sizes) {
    for (std::size_t rank : {std::size_t{1}, n / 3 + 1, n - 1}) {
      if (rank == 0 || rank > n) continue;
      same_bits(gram(n, rank, 100 + n + rank, false), n);
      same_bits(gram(n, rank, 200 + n + rank, false, {0, 31, 32, 33, n / 2, n - 1}), n);
    }
  }
  // Perfectly correlated pairs (exact duplicates, scaled by a power of two) across a panel edge.
  for (std::size_t n : {std::size_t{34}, std::size_t{70}}) {
    auto a = gram(n, n, 300 + n, true);
    for (std::size_t dup : {std::size_t{31}, std::size_t{33}, n - 1}) {
      const std::size_t src = dup - 2;
      for (std::size_t k = 0; k < n; ++k) {
        a[dup * n + k] = 2 * a[src * n + k];
        a[k * n + dup] = 2 * a[k * n + src];
      }
      a[dup * n + dup] = 4 * a[src * n + src];
    }
    same_bits(a, n);
  }
}

static void test_refused() {
  // A negative pivot in the second panel: the Rayleigh quotient names it.
  auto a = gram(70, 70, 400, true);
  a[45 * 70 + 45] = -1.0;
  same_bits(a, 70);
  // A zero pivot whose column does not vanish, in the second and third panels.
  for (std::size_t z : {std::size_t{32}, std::size_t{40}, std::size_t{64}, std::size_t{69}}) {
    auto b = gram(70, 20, 500 + z, false, {z});
    if (z + 1 < 70) {
      b[(z + 1) * 70 + z] = 1e-3;
      b[z * 70 + z + 1] = 1e-3;
    } else {
      b[z * 70 + 3] = 1e-3;
      b[3 * 70 + z] = 1e-3;
    }
    same_bits(b, 70);
  }
  // Indefinite from the start and rank-deficient past the rank with a slightly negative eigenvalue.
  const std::vector<double> open = {0, 0.5, 0.5, 1};
  same_bits(open, 2);
  auto c = gram(50, 30, 600, false);
  for (std::size_t i = 0; i < 50; ++i) c[i * 50 + i] -= 1e-9;
  same_bits(c, 50);
}

int main() {
  test_spd_sizes();
  test_psd_and_zero_pivots();
  test_refused();
  CHECK(refused >= 5);
  std::printf("cholesky: %zu matrices (%zu refused) bit-identical to the scalar loop, best SIMD level %d\n", cases, refused,
              static_cast<int>(simd_level()));
  return 0;
}
