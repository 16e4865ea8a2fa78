// cpp/system under sanitizers: affinity from many threads at once (TSan), bad input
// (ASan/UBSan), and CPU identification.
#include <cerrno>
#include <cstdio>
#include <thread>
#include <vector>

#include "check.hpp"
#include "system/affinity.hpp"
#include "system/cpu_info.hpp"

using namespace up::system;

static void test_cpu_info() {
  const CpuInfo info = cpu_info();
  CHECK(!info.model.empty());
  CHECK(info.cores >= 1);
  for (const auto& f : info.features) CHECK(!f.empty());
}

static void test_bad_input() {
  CHECK_EQ(set_thread_affinity(nullptr, 1), -EINVAL);
  const int negative[] = {-1};
  CHECK_EQ(set_thread_affinity(negative, 1), -EINVAL);
  const int too_big[] = {kMaxCores};
  CHECK_EQ(set_thread_affinity(too_big, 1), -EINVAL);
  const int none[] = {0};
  CHECK_EQ(set_thread_affinity(none, 0), -EINVAL);
  // A capacity smaller than the set still reports the full count and writes in bounds.
  int one = -1;
  const int n = get_thread_affinity(&one, 1);
  CHECK(n >= 1);
  CHECK(one >= 0);
  CHECK(get_thread_affinity(nullptr, 0) == n);
}

static void test_threads_pin_themselves() {
  const int cores = cpu_info().cores;
  std::vector<int> original(kMaxCores);
  const int n = get_thread_affinity(original.data(), original.size());
  CHECK(n >= 1);
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, cores, &failures] {
      for (int round = 0; round < 50; ++round) {
        const int core = (t + round) % cores;
        if (set_thread_affinity(&core, 1) != 0) { ++failures[t]; continue; }
        int got[4] = {-1, -1, -1, -1};
        if (get_thread_affinity(got, 4) != 1 || got[0] != core) ++failures[t];
        if (current_cpu() != core) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) CHECK_EQ(f, 0);
  // Other threads pinning themselves never changes this one.
  std::vector<int> after(kMaxCores);
  CHECK_EQ(get_thread_affinity(after.data(), after.size()), n);
  for (int i = 0; i < n; ++i) CHECK_EQ(after[i], original[i]);
}

int main() {
  test_cpu_info();
  test_bad_input();
  if (affinity_supported()) test_threads_pin_themselves();
  std::puts("system_test: 3 groups passed");
  return 0;
}
