// Exact host emulations of two GPU kernels (issue 19 items 9 and 10), no GPU needed: the
// kernels' per-thread steps live in host/device headers (cuda/risk/mc_layout.cuh,
// cuda/risk/narrow_syrk.cuh); here they run thread by thread, phase by phase (a phase
// ends where the kernel has a barrier), with the kernels' grids and index math.
// - mc_large_kernel's assets-major layout: every loss bit-identical to cpp/risk
//   portfolio_mc_losses, across row tiles, column stages, the diagonal stage and a
//   grid stride (more paths than slots).
// - gbm_keep_kernel's staged kept rows and the few-paths scan (gbm_draw_kernel,
//   gbm_scan_kernel, gbm_exp_kernel, gbm_finish_kernel): terminal values and every kept
//   S(t) bit-identical to cpp/risk simulate_gbm, with and without antithetic variates.
// - narrow_syrk_kernel: the Gram matrix within 1e-12 on the correlation scale of a
//   long-double reference, every upper element written, for each padded width.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "../../cuda/risk/gbm_layout.cuh"
#include "../../cuda/risk/mc_layout.cuh"
#include "../../cuda/risk/narrow_syrk.cuh"
#include "check.hpp"
#include "risk/montecarlo.hpp"
#include "risk/philox.hpp"

namespace gbm = up::cuda::gbm;
namespace mc = up::cuda::mc;
namespace narrow = up::cuda::narrow;

static bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// montecarlo.cu mc_large_kernel on `blocks` blocks of 128 threads.
static std::vector<double> emulate_mc_large(const std::vector<double>& lower, const std::vector<double>& weights,
                                            const std::vector<double>& means, std::size_t assets, std::uint64_t paths,
                                            double horizon, std::uint64_t seed, unsigned blocks) {
  constexpr unsigned kBlock = 128;
  const double root = std::sqrt(horizon);
  const std::size_t slots = static_cast<std::size_t>(blocks) * kBlock;
  std::vector<double> z(slots * assets, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> losses(paths, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> ls(mc::kMcRows * mc::kMcChunk);
  for (unsigned b = 0; b < blocks; ++b) {
    for (std::uint64_t base = static_cast<std::uint64_t>(b) * kBlock; base < paths; base += slots) {
      std::vector<double> r(kBlock, 0.0);
      for (unsigned t = 0; t < kBlock; ++t) {
        const std::uint64_t p = base + t;
        if (p < paths) mc::draw(seed, p * assets, assets, z.data() + b * kBlock + t, slots);
      }
      for (std::size_t i0 = 0; i0 < assets; i0 += mc::kMcRows) {
        std::vector<std::array<double, mc::kMcRows>> c(kBlock);
        for (auto& row : c) row.fill(0.0);
        const std::size_t kend = mc::tile_end(assets, i0);
        for (std::size_t k0 = 0; k0 < kend; k0 += mc::kMcChunk) {
          std::fill(ls.begin(), ls.end(), std::numeric_limits<double>::quiet_NaN());  // stale stages must not leak
          for (unsigned t = 0; t < kBlock; ++t) mc::stage(lower.data(), assets, i0, k0, ls.data(), t, kBlock);
          for (unsigned t = 0; t < kBlock; ++t) {
            if (base + t >= paths) continue;
            double(&ct)[mc::kMcRows] = *reinterpret_cast<double(*)[mc::kMcRows]>(c[t].data());
            mc::accumulate(ls.data(), z.data(), b * kBlock + t, slots, i0, k0, mc::smaller(mc::kMcChunk, kend - k0), ct);
          }
        }
        for (unsigned t = 0; t < kBlock; ++t) {
          if (base + t >= paths) continue;
          const double(&ct)[mc::kMcRows] = *reinterpret_cast<const double(*)[mc::kMcRows]>(c[t].data());
          r[t] = mc::add_rows(weights.data(), means.data(), assets, i0, ct, horizon, root, r[t]);
        }
      }
      for (unsigned t = 0; t < kBlock; ++t) {
        if (base + t < paths) losses[base + t] = -r[t];
      }
    }
  }
  return losses;
}

static void test_mc_large_layout() {
  // 9: one row tile, one stage; 37: three row tiles; 70: two stages (the second diagonal);
  // 130: a stage entirely left of the tile (the fast branch) and a partial last tile.
  for (const std::size_t assets : {std::size_t{9}, std::size_t{37}, std::size_t{70}, std::size_t{130}}) {
    std::vector<double> lower(assets * assets);
    std::vector<double> weights(assets);
    std::vector<double> means(assets);
    std::vector<double> noise(assets * assets + 2 * assets);
    up::risk::fill_normals(noise.data(), noise.size(), 77 + assets, 3, 0);
    for (std::size_t i = 0; i < assets; ++i) {
      for (std::size_t k = 0; k < assets; ++k) {
        // Above the diagonal: garbage the kernel must never use (the CPU ignores it too).
        lower[i * assets + k] = k <= i ? 0.1 * noise[i * assets + k] : 1e300;
      }
      weights[i] = 1.0 / static_cast<double>(assets) + 0.01 * noise[assets * assets + i];
      means[i] = 0.0005 * noise[assets * assets + assets + i];
    }
    const std::uint64_t paths = 300;  // two blocks = 256 slots: the grid stride runs
    std::vector<double> cpu(paths);
    up::risk::portfolio_mc_losses(weights.data(), means.data(), lower.data(), assets, paths, 10.0, 42, cpu.data());
    for (const unsigned blocks : {1u, 2u, 3u}) {
      const std::vector<double> gpu = emulate_mc_large(lower, weights, means, assets, paths, 10.0, 42, blocks);
      for (std::uint64_t p = 0; p < paths; ++p) {
        if (!same_bits(gpu[p], cpu[p])) {
          std::fprintf(stderr, "assets %zu blocks %u path %llu: %.17g vs CPU %.17g\n", assets, blocks,
                       static_cast<unsigned long long>(p), gpu[p], cpu[p]);
        }
        CHECK(same_bits(gpu[p], cpu[p]));
      }
    }
  }
}

static gbm::GbmArgs gbm_args(const up::risk::GbmParams& p) {
  // As montecarlo.cu simulate_gbm computes them on the host.
  return gbm::GbmArgs{p.spot, (p.drift - 0.5 * p.volatility * p.volatility) * p.dt, p.volatility * std::sqrt(p.dt),
                      p.steps, p.paths, p.seed, p.antithetic};
}

// montecarlo.cu gbm_keep_kernel on `blocks` blocks of 128 threads.
static void emulate_gbm_keep(const gbm::GbmArgs& g, unsigned blocks, std::vector<double>& terminal,
                             std::vector<double>& kept) {
  constexpr unsigned kBlock = 128;
  const std::uint64_t streams = gbm::streams_of(g);
  const std::uint64_t pitch = g.steps + 1;
  const unsigned per = g.antithetic ? 2u : 1u;
  std::vector<double> tile(2 * kBlock * gbm::kKeepPitch);
  for (unsigned b = 0; b < blocks; ++b) {
    for (std::uint64_t base = static_cast<std::uint64_t>(b) * kBlock; base < streams;
         base += static_cast<std::uint64_t>(blocks) * kBlock) {
      const std::uint64_t p0 = g.antithetic ? 2 * base : base;
      const unsigned rows = static_cast<unsigned>(std::min<std::uint64_t>(kBlock, streams - base)) * per;
      std::vector<double> x0(kBlock, 0.0);
      std::vector<double> x1(kBlock, 0.0);
      for (unsigned t = 0; t < kBlock; ++t) {
        const std::uint64_t s = base + t;
        if (s >= streams) continue;
        const std::uint64_t p = g.antithetic ? 2 * s : s;
        kept[p * pitch] = g.spot;
        if (g.antithetic) kept[(p + 1) * pitch] = g.spot;
      }
      for (std::uint64_t c0 = 0; c0 < g.steps; c0 += gbm::kKeepSteps) {
        const unsigned width = static_cast<unsigned>(std::min<std::uint64_t>(gbm::kKeepSteps, g.steps - c0));
        std::fill(tile.begin(), tile.end(), std::numeric_limits<double>::quiet_NaN());
        for (unsigned t = 0; t < kBlock; ++t) {
          if (base + t >= streams) continue;
          double* row0 = tile.data() + per * t * gbm::kKeepPitch;
          gbm::keep_steps(g, base + t, c0, width, row0, g.antithetic ? row0 + gbm::kKeepPitch : nullptr, &x0[t], &x1[t]);
        }
        for (unsigned t = 0; t < kBlock; ++t) gbm::keep_flush(tile.data(), rows, width, t, kBlock, kept.data(), p0, pitch, c0);
      }
      for (unsigned t = 0; t < kBlock; ++t) {
        const std::uint64_t s = base + t;
        if (s >= streams) continue;
        const std::uint64_t p = g.antithetic ? 2 * s : s;
        terminal[p] = gbm::price(g.spot, x0[t]);
        if (g.antithetic) terminal[p + 1] = gbm::price(g.spot, x1[t]);
      }
    }
  }
}

// The few-paths route: chunks of `chunk` (even) steps drawn step-major, scanned per
// stream, kept rows written by gbm_kept_kernel's tiled transpose (grid: step tiles x
// `tile_rows` stream tiles, which walk further stream tiles with a stride).
static void emulate_gbm_scan(const gbm::GbmArgs& g, std::uint64_t chunk, unsigned tile_rows,
                             std::vector<double>& terminal, std::vector<double>* kept) {
  const std::uint64_t streams = gbm::streams_of(g);
  std::vector<double> z(chunk * streams, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> xs1(chunk * streams, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> state(g.paths, 0.0);
  std::vector<double> tile(gbm::kTr * (gbm::kTr + 1));
  for (std::uint64_t c0 = 0; c0 < g.steps; c0 += chunk) {
    const std::uint64_t count = std::min(chunk, g.steps - c0);
    for (std::uint64_t t = 0; t < streams * ((count + 1) / 2); ++t) gbm::draw_pair(g.seed, streams, c0, count, t, z.data());
    for (std::uint64_t s = 0; s < streams; ++s) {
      gbm::scan_stream(g, streams, count, s, z.data(), state.data(), kept != nullptr, xs1.data());
    }
    if (kept == nullptr) continue;
    for (std::uint64_t bx = 0; bx < (count + gbm::kTr - 1) / gbm::kTr; ++bx) {
      for (unsigned by = 0; by < tile_rows; ++by) {
        for (std::uint64_t s0 = std::uint64_t{by} * gbm::kTr; s0 < streams; s0 += std::uint64_t{tile_rows} * gbm::kTr) {
          for (unsigned plane = 0; plane < (g.antithetic ? 2u : 1u); ++plane) {
            std::fill(tile.begin(), tile.end(), std::numeric_limits<double>::quiet_NaN());
            for (unsigned ty = 0; ty < gbm::kTrRows; ++ty) {
              for (unsigned tx = 0; tx < gbm::kTr; ++tx) {
                gbm::transpose_load(plane == 0 ? z.data() : xs1.data(), streams, count, bx * gbm::kTr, s0, tx, ty, tile.data());
              }
            }
            for (unsigned ty = 0; ty < gbm::kTrRows; ++ty) {
              for (unsigned tx = 0; tx < gbm::kTr; ++tx) {
                gbm::transpose_store(g, tile.data(), streams, c0, count, bx * gbm::kTr, s0, tx, ty, plane, kept->data());
              }
            }
          }
        }
      }
    }
  }
  for (std::uint64_t p = 0; p < g.paths; ++p) {
    terminal[p] = gbm::price(g.spot, state[gbm::state_at(g, streams, p)]);
    if (kept != nullptr) (*kept)[p * (g.steps + 1)] = g.spot;
  }
}

static void check_same(const std::vector<double>& got, const std::vector<double>& cpu, const char* what) {
  CHECK(got.size() == cpu.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!same_bits(got[i], cpu[i])) std::fprintf(stderr, "%s[%zu] = %.17g, CPU %.17g\n", what, i, got[i], cpu[i]);
    CHECK(same_bits(got[i], cpu[i]));
  }
}

static void test_gbm_layouts() {
  // Steps: one, a partial stage, one whole stage, several stages with a ragged end;
  // paths: fewer than a block, and more than two blocks (the grid stride with 2 blocks).
  for (const bool antithetic : {false, true}) {
    for (const std::uint64_t steps : {std::uint64_t{1}, std::uint64_t{15}, std::uint64_t{16}, std::uint64_t{37}}) {
      for (const std::uint64_t paths : {std::uint64_t{6}, std::uint64_t{300}, std::uint64_t{578}}) {
        const up::risk::GbmParams params{100.0, 0.05, 0.2, 1.0 / 252, steps, paths, 9, antithetic};
        std::vector<double> cpu_terminal(paths);
        std::vector<double> cpu_kept(paths * (steps + 1));
        up::risk::simulate_gbm(params, cpu_terminal.data(), cpu_kept.data());
        const gbm::GbmArgs g = gbm_args(params);
        for (const unsigned blocks : {1u, 2u}) {
          std::vector<double> terminal(paths, std::numeric_limits<double>::quiet_NaN());
          std::vector<double> kept(paths * (steps + 1), std::numeric_limits<double>::quiet_NaN());
          emulate_gbm_keep(g, blocks, terminal, kept);
          check_same(terminal, cpu_terminal, "keep terminal");
          check_same(kept, cpu_kept, "keep kept");
        }
        for (const std::uint64_t chunk : {std::uint64_t{2}, std::uint64_t{6}, std::uint64_t{64}}) {
          std::vector<double> terminal(paths, std::numeric_limits<double>::quiet_NaN());
          std::vector<double> kept(paths * (steps + 1), std::numeric_limits<double>::quiet_NaN());
          emulate_gbm_scan(g, chunk, chunk == 6 ? 2 : 65535, terminal, &kept);
          check_same(terminal, cpu_terminal, "scan terminal");
          check_same(kept, cpu_kept, "scan kept");
          std::vector<double> bare(paths, std::numeric_limits<double>::quiet_NaN());
          emulate_gbm_scan(g, chunk, 65535, bare, nullptr);
          check_same(bare, cpu_terminal, "scan terminal without kept");
        }
      }
    }
  }
}

// matrix.cu narrow_syrk_kernel<NP> over z (T rows, pitch NP), planes added in split order.
template <int NP>
static std::vector<double> emulate_narrow(const std::vector<double>& z, std::size_t T) {
  using S = narrow::Shape<NP>;
  std::size_t splits = narrow::splits_for(T);
  const std::size_t rows_per_split = (T + splits - 1) / splits;
  splits = (T + rows_per_split - 1) / rows_per_split;
  std::vector<double> planes(splits * NP * NP, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> slab(narrow::kSlabValues);
  std::vector<double> red(S::kReduce);
  struct Acc {
    double v[S::M][S::M];
  };
  for (std::size_t b = 0; b < splits; ++b) {
    const std::size_t begin = b * rows_per_split;
    const std::size_t end = std::min(T, begin + rows_per_split);
    std::vector<Acc> acc(narrow::kThreads, Acc{});
    for (std::size_t r0 = begin; r0 < end; r0 += S::kSlabRows) {
      const int rows = static_cast<int>(std::min<std::size_t>(S::kSlabRows, end - r0));
      std::fill(slab.begin(), slab.end(), std::numeric_limits<double>::quiet_NaN());
      for (unsigned t = 0; t < narrow::kThreads; ++t) narrow::stage<NP>(z.data(), r0, rows, slab.data(), t);
      for (unsigned t = 0; t < narrow::kThreads; ++t) narrow::accumulate<NP>(slab.data(), rows, t, acc[t].v);
    }
    for (unsigned t = 0; t < narrow::kThreads; ++t) narrow::publish<NP>(acc[t].v, t, red.data());
    for (unsigned t = 0; t < narrow::kThreads; ++t) narrow::combine<NP>(red.data(), t, planes.data() + b * NP * NP);
  }
  std::vector<double> gram(NP * NP, std::numeric_limits<double>::quiet_NaN());
  for (int i = 0; i < NP; ++i) {
    for (int j = i; j < NP; ++j) {
      double g = planes[i * NP + j];
      for (std::size_t s = 1; s < splits; ++s) g += planes[s * NP * NP + i * NP + j];
      gram[i * NP + j] = g;
    }
  }
  return gram;
}

template <int NP>
static void check_narrow(std::size_t n, std::size_t T) {
  CHECK(narrow::padded(n) == static_cast<std::size_t>(NP));
  std::vector<double> noise(T * n);
  up::risk::fill_normals(noise.data(), noise.size(), 1000 + n, 5, 0);
  std::vector<double> z(T * NP, 0.0);  // the padding columns are 0, as centre_kernel leaves them
  for (std::size_t t = 0; t < T; ++t) {
    for (std::size_t j = 0; j < n; ++j) z[t * NP + j] = noise[t * n + j] * (1.0 + static_cast<double>(j)) + 0.25 * noise[t * n];
  }
  const std::vector<double> gram = emulate_narrow<NP>(z, T);
  std::vector<long double> ref(n * n, 0.0L);
  for (std::size_t t = 0; t < T; ++t) {
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = i; j < n; ++j) ref[i * n + j] += static_cast<long double>(z[t * NP + i]) * z[t * NP + j];
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i; j < n; ++j) {
      const double g = gram[i * NP + j];
      CHECK(std::isfinite(g));  // written
      const long double scale = std::sqrt(ref[i * n + i] * ref[j * n + j]);
      const long double err = std::fabs(static_cast<long double>(g) - ref[i * n + j]);
      if (!(err <= 1e-12L * scale)) {
        std::fprintf(stderr, "N %zu (NP %d) T %zu: gram(%zu,%zu) = %.17g, reference %.17Lg\n", n, NP, T, i, j, g,
                     ref[i * n + j]);
      }
      CHECK(err <= 1e-12L * scale);
    }
  }
}

static void test_narrow_syrk() {
  CHECK(narrow::splits_for(1) == 1);
  CHECK(narrow::splits_for(4096) == 1);
  CHECK(narrow::splits_for(4097) == 2);
  CHECK(narrow::splits_for(std::size_t{1} << 28) == narrow::kMaxSplits);
  // T: one short slab, several slabs, and several splits (4096 rows each) with a ragged end.
  for (const std::size_t T : {std::size_t{8}, std::size_t{1000}, std::size_t{9000}}) {
    check_narrow<1>(1, T);
    check_narrow<2>(2, T);
    check_narrow<4>(3, T);
    check_narrow<8>(5, T);
    check_narrow<8>(8, T);
    check_narrow<16>(13, T);
    check_narrow<32>(17, T);
    check_narrow<32>(32, T);
  }
}

int main() {
  test_mc_large_layout();
  test_gbm_layouts();
  test_narrow_syrk();
  std::printf("cuda emulation: Monte Carlo and GBM layouts bit-identical to the CPU, narrow SYRK within 1e-12\n");
  return 0;
}
