// cpp/risk under sanitizers: Philox known answers, the normal stream's window property,
// VaR against a sort, non-finite input reported (never a crash), covariance and Cholesky
// against naive references, GBM / Monte Carlo independent of the thread split, and the
// thread pool driven from several threads at once (TSan).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

#include "check.hpp"
#include "risk/detmath.hpp"
#include "risk/gram.hpp"
#include "risk/matrix.hpp"
#include "risk/montecarlo.hpp"
#include "risk/parallel.hpp"
#include "risk/philox.hpp"
#include "risk/simd.hpp"
#include "risk/var.hpp"

using namespace up::risk;

static std::vector<double> normals(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::vector<double> v(n);
  fill_normals(v.data(), n, seed, 0, 0);
  for (auto& x : v) x *= scale;
  return v;
}

static void test_philox_known_answers() {
  const PhiloxBlock a = philox4x32_10(0, 0, 0, 0, 0, 0);
  CHECK(a.x[0] == 0x6627e8d5u && a.x[1] == 0xe169c58du && a.x[2] == 0xbc57ac4cu && a.x[3] == 0x9b00dbd8u);
  const PhiloxBlock b = philox4x32_10(~0u, ~0u, ~0u, ~0u, ~0u, ~0u);
  CHECK(b.x[0] == 0x408f276du && b.x[1] == 0x41c83b0eu && b.x[2] == 0xa20bc7c6u && b.x[3] == 0x6d5451fdu);
  const PhiloxBlock c = philox4x32_10(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0);
  CHECK(c.x[0] == 0xd16cfe09u && c.x[1] == 0x94fdccebu && c.x[2] == 0x5001e420u && c.x[3] == 0x24126ea1u);
}

static void test_normal_windows() {
  // The bulk (SIMD) path, the scalar path and any offset window give the same doubles,
  // including across a 2^32 block boundary.
  const std::uint64_t first = (std::uint64_t{1} << 33) - 37;
  std::vector<double> bulk(301);
  fill_normals(bulk.data(), bulk.size(), 7, 0xFFFFFFFFull, first);
  for (std::size_t i = 0; i < bulk.size(); ++i) CHECK(bulk[i] == philox_normal(7, 0xFFFFFFFFull, first + i));
  std::vector<double> part(50);
  fill_normals(part.data(), part.size(), 7, 0xFFFFFFFFull, first + 101);
  for (std::size_t i = 0; i < part.size(); ++i) CHECK(part[i] == bulk[101 + i]);
  const auto z = normals(1 << 18, 3);
  double s = 0, s2 = 0;
  for (double v : z) {
    s += v;
    s2 += v * v;
  }
  CHECK(std::fabs(s / z.size()) < 0.01);
  CHECK(std::fabs(s2 / z.size() - 1) < 0.01);
}

static void test_detmath() {
  for (double x = -700; x < 700; x += 0.37) {
    CHECK(std::fabs(detmath::exp_d(x) - std::exp(x)) <= 4e-16 * std::exp(x));
  }
  for (double x = 1e-300; x < 1e300; x *= 7.3) {
    CHECK(std::fabs(detmath::log_pos(x) - std::log(x)) <= 4e-16 * std::max(1.0, std::fabs(std::log(x))));
  }
  CHECK(std::fabs(detmath::normal_quantile(0.975) - 1.9599639845400536) < 1e-15);
}

static double ref_quantile(std::vector<double> losses, double c, double* cvar) {
  std::sort(losses.begin(), losses.end());
  const double h = (losses.size() - 1) * c;
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  const double g = h - lo;
  const std::size_t start = static_cast<std::size_t>(std::ceil(h));
  double sum = 0;
  for (std::size_t i = start; i < losses.size(); ++i) sum += losses[i];
  *cvar = sum / (losses.size() - start);
  if (lo + 1 >= losses.size()) return losses[lo];
  const double d = losses[lo + 1] - losses[lo];
  return g >= 0.5 ? losses[lo + 1] - d * (1 - g) : losses[lo] + d * g;
}

static void test_historical_var() {
  for (std::size_t n : {2ul, 3ul, 17ul, 1000ul, 4096ul, 50000ul, 300000ul}) {
    auto r = normals(n, n, 0.01);
    for (double c : {0.51, 0.9, 0.95, 0.99, 0.999}) {
      TailResult t{};
      CHECK(historical_tail(r.data(), n, -1.0, c, &t) == -1);
      std::vector<double> losses(n);
      for (std::size_t i = 0; i < n; ++i) losses[i] = -r[i];
      double cvar = 0;
      const double var = ref_quantile(losses, c, &cvar);
      CHECK(t.var == var);
      CHECK(std::fabs(t.cvar - cvar) <= 1e-12 * std::max(1.0, std::fabs(cvar)));
    }
  }
  // Non-finite values anywhere are reported by index, on every path.
  for (std::size_t n : {10ul, 100000ul, 400000ul}) {
    auto r = normals(n, 1, 0.01);
    for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity()}) {
        auto copy = r;
        copy[at] = bad;
        TailResult t{-1, -1};
        CHECK(historical_tail(copy.data(), n, -1.0, 0.95, &t) == static_cast<std::int64_t>(at));
        CHECK(t.var == -1);
        Moments m{};
        CHECK(loss_moments(copy.data(), n, -1.0, 1, &m) == static_cast<std::int64_t>(at));
      }
    }
  }
  // quickselect on adversarial orders.
  for (int kind = 0; kind < 3; ++kind) {
    std::vector<double> a(5000);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = kind == 0 ? i : kind == 1 ? -double(i) : double(i % 7);
    auto sorted = a;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t k : {std::size_t{0}, std::size_t{17}, std::size_t{2500}, std::size_t{4999}}) {
      auto b = a;
      quickselect(b.data(), b.size(), k);
      CHECK(b[k] == sorted[k]);
      for (std::size_t i = 0; i < k; ++i) CHECK(b[i] <= b[k]);
      for (std::size_t i = k + 1; i < b.size(); ++i) CHECK(b[i] >= b[k]);
    }
  }
}

// CVaR >= VaR by construction (issue 10.4): constant series, every sampling path, ties,
// huge magnitudes; and the two moment conventions against their closed forms.
static void test_cvar_at_least_var_and_moments() {
  for (std::size_t n : {2ul, 279ul, 5000ul, 300000ul}) {
    const std::vector<double> r(n, -0.56758051638767337);
    for (double c : {0.51, 0.6, 0.9, 0.95, 0.99}) {
      TailResult t{};
      CHECK(historical_tail(r.data(), n, -1.0, c, &t) == -1);
      CHECK(t.var == 0.56758051638767337 && t.cvar == 0.56758051638767337);
    }
  }
  for (std::size_t n : {3ul, 100ul, 4097ul, 300001ul}) {
    auto r = normals(n, 7 * n, 1.0);
    for (std::size_t i = 0; i < n; ++i) r[i] = i % 3 == 0 ? 1e300 * r[i] : std::round(r[i] * 4) / 4;  // ties and 1e300
    for (double c : {0.51, 0.75, 0.95, 0.999}) {
      TailResult t{};
      CHECK(historical_tail(r.data(), n, -1.0, c, &t) == -1);
      CHECK(t.cvar >= t.var);
    }
  }
  // A constant series: its own value as the mean and no spread, under both conventions.
  for (std::size_t n : {4ul, 279ul, 300000ul}) {
    const std::vector<double> r(n, -0.56758051638767337);
    for (int ddof : {0, 1}) {
      Moments m{};
      CHECK(loss_moments(r.data(), n, -1.0, ddof, &m) == -1);
      CHECK(m.mean == 0.56758051638767337 && m.std == 0 && m.skew == 0 && m.exkurt == 0);
    }
  }
  // b - a overflows: the quantile stays between its neighbours instead of becoming infinite.
  const double wide[2] = {-1.7e308, 1.7e308};
  TailResult t{};
  CHECK(historical_tail(wide, 2, 1.0, 0.6, &t) == -1);
  CHECK(std::isfinite(t.var) && t.var >= -1.7e308 && t.var <= 1.7e308 && t.cvar >= t.var);
  // x = 1..6 (losses with sign 1): s2 = 17.5, s3 = 0, s4 = 2*(0.5^4 + 1.5^4 + 2.5^4) = 88.375.
  const double x[6] = {1, 2, 3, 4, 5, 6};
  Moments pop{}, smp{};
  CHECK(loss_moments(x, 6, 1.0, 0, &pop) == -1);
  CHECK(loss_moments(x, 6, 1.0, 1, &smp) == -1);
  const double g2 = (88.375 / 6) / ((17.5 / 6) * (17.5 / 6)) - 3;
  CHECK(pop.mean == 3.5 && pop.std == std::sqrt(17.5 / 6) && smp.std == std::sqrt(17.5 / 5));
  CHECK(pop.skew == 0 && smp.skew == 0 && pop.exkurt == g2);
  CHECK(std::fabs(smp.exkurt - 5 * (7 * g2 + 6) / (4 * 3)) <= 1e-15);
}

static void test_covariance_and_cholesky() {
  for (auto [T, N] : {std::pair<std::size_t, std::size_t>{2, 1}, {7, 3}, {100, 9}, {300, 64}}) {
    auto data = normals(T * N, T * 31 + N, 0.01);
    std::vector<double> cov(N * N), cor(N * N);
    CHECK(covariance(data.data(), T, N, CovMethod::kPearson, 0.94, false, cov.data()) == -1);
    CHECK(covariance(data.data(), T, N, CovMethod::kPearson, 0.94, true, cor.data()) == -1);
    std::vector<double> mean(N, 0.0);
    for (std::size_t j = 0; j < N; ++j) {
      for (std::size_t t = 0; t < T; ++t) mean[j] += data[t * N + j];
      mean[j] /= T;
    }
    for (std::size_t i = 0; i < N; ++i) {
      for (std::size_t j = 0; j < N; ++j) {
        double s = 0;
        for (std::size_t t = 0; t < T; ++t) s += (data[t * N + i] - mean[i]) * (data[t * N + j] - mean[j]);
        s /= (T - 1);
        CHECK(std::fabs(cov[i * N + j] - s) <= 1e-12 * 1e-4);
      }
      CHECK(cor[i * N + i] == 1.0);
    }
    auto bad = data;
    bad[bad.size() - 1] = std::numeric_limits<double>::quiet_NaN();
    CHECK(covariance(bad.data(), T, N, CovMethod::kEwma, 0.94, false, cov.data()) == static_cast<std::int64_t>(bad.size() - 1));
  }
  // SPD matrix: reconstruct; a non-PD one names its pivot.
  const std::size_t n = 40;
  auto b = normals(n * n, 5);
  std::vector<double> a(n * n), l(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = i == j ? double(n) : 0.0;
      for (std::size_t k = 0; k < n; ++k) s += b[i * n + k] * b[j * n + k];
      a[i * n + j] = s;
    }
  double info[3] = {0, 0, 0};
  CHECK(cholesky(a.data(), n, l.data(), info) == -1);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < n; ++k) s += l[i * n + k] * l[j * n + k];
      CHECK(std::fabs(s - a[i * n + j]) <= 1e-12 * std::fabs(a[i * n + i]));
    }
  const double bad[4] = {1, 2, 2, 1};
  CHECK(cholesky(bad, 2, l.data(), info) == 1);
  CHECK(info[0] == -3 && info[1] == -1 && info[2] == -0.6);  // pivot, no row, Rayleigh quotient -3 / (1 + 2^2)
  // Positive semi-definite: a zero-variance asset in the middle gives a zero column.
  const double cash[9] = {4e-4, 0, 1e-4, 0, 0, 0, 1e-4, 0, 9e-4};
  CHECK(cholesky(cash, 3, l.data(), info) == -1);
  CHECK(l[1 * 3 + 1] == 0 && l[2 * 3 + 1] == 0 && l[0] == 0.02);
  // A zero pivot whose column does not vanish is refused, naming the row and entry.
  const double open[4] = {0, 0.5, 0.5, 1};
  CHECK(cholesky(open, 2, l.data(), info) == 0);
  CHECK(info[0] == 0 && info[1] == 1 && info[2] == 0.5);
  // A constant column: covariance exactly 0, correlation refused as constant.
  std::vector<double> flat(2 * 1448), out(4);
  for (std::size_t t = 0; t < 1448; ++t) {
    flat[2 * t] = 0.5 + 0.001 * static_cast<double>(t % 7);
    flat[2 * t + 1] = 1.81;
  }
  CHECK(covariance(flat.data(), 1448, 2, CovMethod::kPearson, 0.94, false, out.data()) == -1);
  CHECK(out[1] == 0 && out[2] == 0 && out[3] == 0);
  CHECK(covariance(flat.data(), 1448, 2, CovMethod::kPearson, 0.94, true, out.data()) == kZeroVariance - 1);
  // Extreme magnitudes: NumPy's corrcoef test_extreme gives -1.
  const double extreme[4] = {1e-100, 1e100, 1e100, 1e-100};
  CHECK(covariance(extreme, 2, 2, CovMethod::kPearson, 0.94, true, out.data()) == -1);
  CHECK(out[1] == -1);
}

static void test_monte_carlo_is_split_independent() {
  GbmParams g{100, 0.05, 0.2, 1.0 / 252, 30, 5000, 77, true};
  std::vector<double> all(g.paths), kept(g.paths * (g.steps + 1));
  simulate_gbm(g, all.data(), kept.data());
  GbmParams few = g;
  few.paths = 1030;
  std::vector<double> some(few.paths);
  simulate_gbm(few, some.data(), nullptr);
  for (std::size_t p = 0; p < few.paths; ++p) CHECK(some[p] == all[p]);
  for (std::size_t p = 0; p < g.paths; ++p) CHECK(kept[p * (g.steps + 1) + g.steps] == all[p]);
  const double w[2] = {0.6, 0.4}, m[2] = {0.0, 0.0}, lower[4] = {0.01, 0, 0.002, 0.006};
  std::vector<double> l1(100000), l2(40000);
  portfolio_mc_losses(w, m, lower, 2, l1.size(), 1.0, 5, l1.data());
  portfolio_mc_losses(w, m, lower, 2, l2.size(), 1.0, 5, l2.data());
  for (std::size_t p = 0; p < l2.size(); ++p) CHECK(l1[p] == l2[p]);
}

static void test_pool_from_many_threads() {
  // Several threads run parallel jobs at once: one gets the pool, the others run inline.
  std::vector<std::thread> threads;
  std::vector<double> sums(4, 0.0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &sums] {
      for (int round = 0; round < 20; ++round) {
        std::vector<double> out(64, 0.0);
        parallel_for(out.size(), [&](std::size_t i) { out[i] = static_cast<double>(i + t); });
        double s = 0;
        for (double v : out) s += v;
        sums[t] += s;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK(sums[t] == 20.0 * (63.0 * 64.0 / 2 + 64.0 * t));
  bool threw = false;
  try {
    parallel_for(10, [](std::size_t i) {
      if (i == 3) throw std::runtime_error("boom");
    });
  } catch (const std::runtime_error&) {
    threw = true;
  }
  CHECK(threw);
}

static void test_pool_idle_policy() {
  // The spin window is checked and read back; under spin 0 (workers asleep between jobs,
  // waking late into jobs their caller may already have closed) and under a window longer
  // than the pauses, every task of every job runs exactly once.
  const std::int64_t before = pool_spin_ns();
  CHECK(before == kDefaultPoolSpinNs);
  CHECK(!set_pool_spin_ns(-1));
  CHECK(!set_pool_spin_ns(kMaxPoolSpinNs + 1));
  CHECK(pool_spin_ns() == before);
  for (std::int64_t spin : {std::int64_t{0}, std::int64_t{2'000'000}}) {
    CHECK(set_pool_spin_ns(spin));
    CHECK(pool_spin_ns() == spin);
    for (int job = 0; job < 60; ++job) {
      if (job % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
      const std::size_t tasks = 2 + static_cast<std::size_t>(job % 7);
      std::vector<std::atomic<int>> ran(tasks);
      for (auto& r : ran) r.store(0);
      parallel_for(tasks, [&](std::size_t i) { ran[i].fetch_add(1); });
      for (auto& r : ran) CHECK(r.load() == 1);
    }
  }
  CHECK(set_pool_spin_ns(before));
}

static void test_simd_levels_agree() {
  // Every vector path draws the same normals and finds the same VaR as the scalar code.
  const SimdLevel best = simd_level();
  std::vector<std::vector<double>> draws;
  std::vector<double> vars;
  std::vector<std::vector<double>> corrs;
  auto returns = normals(100000, 17, 0.01);
  auto data = normals(257 * 13, 18);
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    cap_simd_level(level);
    std::vector<double> z(1001);
    fill_normals(z.data(), z.size(), 99, 5, 3);
    draws.push_back(z);
    TailResult t{};
    CHECK(historical_tail(returns.data(), returns.size(), -1.0, 0.99, &t) == -1);
    vars.push_back(t.var);
    vars.push_back(t.cvar);
    std::vector<double> c(13 * 13);
    CHECK(covariance(data.data(), 257, 13, CovMethod::kPearson, 0.94, true, c.data()) == -1);
    corrs.push_back(c);
  }
  cap_simd_level(SimdLevel::kAvx512);
  CHECK(simd_level() == best);
  for (std::size_t l = 1; l < draws.size(); ++l) {
    for (std::size_t i = 0; i < draws[0].size(); ++i) CHECK(draws[l][i] == draws[0][i]);
    CHECK(vars[2 * l] == vars[0] && vars[2 * l + 1] == vars[1]);
    for (std::size_t i = 0; i < corrs[0].size(); ++i) CHECK(std::fabs(corrs[l][i] - corrs[0][i]) <= 1e-13);
  }
}

static void test_gram_kernels() {
  // Every SIMD level's packed Gram product against a long-double reference, on shapes that
  // leave partial panels, partial tiles and partial kc blocks; threads change no bit.
  const SimdLevel best = simd_level();
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (static_cast<int>(level) > static_cast<int>(best)) continue;
    const std::size_t w = gram_panel_width(level);
    for (const auto& [n, T] : std::vector<std::pair<std::size_t, std::size_t>>{
             {1, 1}, {3, 2}, {13, 257}, {25, 193}, {50, 400}, {97, 31}}) {
      const std::size_t rows = gram_rows(level, n);
      CHECK(rows % (3 * w) == 0 && rows >= n && rows < n + 3 * w);
      const auto x = normals(n * T, 40 + n);
      std::vector<double> packed(rows * T, 0.0);
      for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t t = 0; t < T; ++t) packed[(j / w) * T * w + t * w + j % w] = x[t * n + j];
      }
      std::vector<double> serial(rows * rows), threaded(rows * rows);
      gram_upper(level, packed.data(), rows, T, serial.data(), false);
      gram_upper(level, packed.data(), rows, T, threaded.data(), true);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = i; j < n; ++j) {
          long double ref = 0, mag = 0;
          for (std::size_t t = 0; t < T; ++t) {
            ref += static_cast<long double>(x[t * n + i]) * x[t * n + j];
            mag += std::fabs(static_cast<long double>(x[t * n + i]) * x[t * n + j]);
          }
          const double got = serial[i * rows + j];
          CHECK(std::fabs(got - static_cast<double>(ref)) <= 4 * T * 0x1p-53 * static_cast<double>(mag) + 1e-300);
          CHECK(got == threaded[i * rows + j]);
        }
      }
    }
  }
}

int main() {
  test_philox_known_answers();
  test_normal_windows();
  test_detmath();
  test_historical_var();
  test_cvar_at_least_var_and_moments();
  test_covariance_and_cholesky();
  test_gram_kernels();
  test_monte_carlo_is_split_independent();
  test_pool_from_many_threads();
  test_pool_idle_policy();
  test_simd_levels_agree();
  std::printf("risk: all checks passed on %u threads, best SIMD level %d\n", parallel_width(), static_cast<int>(simd_level()));
  return 0;
}
