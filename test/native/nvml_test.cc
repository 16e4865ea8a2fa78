// cpp/system/nvml under sanitizers: the load failures as they are on a machine without a
// GPU, then the reading path against the fake libnvidia-ml (test/fixtures/fake-nvml.c, built
// here with cc), and users opening, reading and closing from many threads at once (TSan).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "system/nvml.hpp"

using namespace up::system;

static bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

static void test_unavailable() {
  Nvml& nvml = Nvml::instance();
  CHECK(starts_with(nvml.open("/nonexistent/libnvidia-ml.so.1"), "/nonexistent/libnvidia-ml.so.1 not found: "));
  CHECK(!nvml.is_open());
  CHECK(nvml.open("libc.so.6") == "libc.so.6 has no nvmlInit_v2: it is not a usable libnvidia-ml");
  unsigned count = 7;
  CHECK_EQ(nvml.device_count(&count), kNvmlNotOpen);
  double out[kGpuFieldCount] = {};
  CHECK_EQ(nvml.read(0, out), kNvmlNotOpen);
  for (double v : out) CHECK(std::isnan(v));
  double ts[4];
  double values[4];
  std::size_t written = 9;
  CHECK_EQ(nvml.utilization_samples(0, 0, ts, values, 4, &written), kNvmlNotOpen);
  CHECK_EQ(written, 0u);
  CHECK(nvml.error_string(kNvmlNotOpen) == "NVML is not open");
  nvml.close();
}

static std::string build_fake() {
  const std::string out = "test/native/out/libfake-nvml.so";
  const std::string cmd = "cc -shared -fPIC -O1 -o " + out + " test/fixtures/fake-nvml.c";
  CHECK_EQ(std::system(cmd.c_str()), 0);
  return "./" + out;
}

static void test_fake(const std::string& fake) {
  Nvml& nvml = Nvml::instance();
  CHECK(nvml.open(fake).empty());
  CHECK(nvml.open(fake).empty());  // a second user of the same library
  CHECK(starts_with(nvml.open("libc.so.6"), "NVML is already open from "));
  nvml.close();
  CHECK(nvml.is_open());  // the first user still holds it
  unsigned count = 0;
  CHECK_EQ(nvml.device_count(&count), kNvmlSuccess);
  CHECK_EQ(count, 2u);
  std::string name;
  CHECK_EQ(nvml.device_name(1, &name), kNvmlSuccess);
  CHECK(name == "Fake T4");
  CHECK_EQ(nvml.device_name(2, &name), 2);  // NVML_ERROR_INVALID_ARGUMENT
  double out[kGpuFieldCount];
  CHECK_EQ(nvml.read(0, out), kNvmlSuccess);
  CHECK(out[kGpuUtilizationPercent] == 37 && out[kGpuMemoryUtilizationPercent] == 12);
  CHECK(out[kGpuMemoryTotalBytes] == 150754820096.0 && out[kGpuMemoryUsedBytes] == 1073741824.0);
  CHECK(out[kGpuMemoryFreeBytes] == 150754820096.0 - 1073741824.0);
  CHECK(out[kGpuTemperatureC] == 41 && out[kGpuPowerW] == 123.456);
  CHECK(out[kGpuClockGraphicsMhz] == 1755 && out[kGpuClockMemoryMhz] == 3201 && out[kGpuClockVideoMhz] == 1500);
  CHECK_EQ(nvml.read(1, out), kNvmlSuccess);  // unsupported and forbidden read as NaN, not as failure
  CHECK(std::isnan(out[kGpuPowerW]) && std::isnan(out[kGpuTemperatureC]) && std::isnan(out[kGpuClockVideoMhz]));
  CHECK(out[kGpuClockSmMhz] == 1255);
  double ts[8];
  double values[8];
  std::size_t written = 0;
  CHECK_EQ(nvml.utilization_samples(0, 0, ts, values, 8, &written), kNvmlSuccess);
  CHECK_EQ(written, 5u);
  for (std::size_t i = 0; i < 5; ++i) CHECK(ts[i] == 1000100.0 + 100.0 * i && values[i] == 10.0 * (i + 1));
  // A short buffer keeps the newest samples.
  CHECK_EQ(nvml.utilization_samples(0, 0, ts, values, 2, &written), kNvmlSuccess);
  CHECK(written == 2 && ts[0] == 1000400.0 && ts[1] == 1000500.0);
  CHECK_EQ(nvml.utilization_samples(0, 1000500, ts, values, 8, &written), kNvmlSuccess);
  CHECK_EQ(written, 0u);
  CHECK_EQ(nvml.utilization_samples(1, 0, ts, values, 8, &written), kNvmlErrorNotSupported);
  CHECK(nvml.error_string(kNvmlErrorNotSupported) == "Not Supported (NVML error 3)");
  nvml.close();
  CHECK(!nvml.is_open());
}

static void test_threads(const std::string& fake) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([t, &fake] {
      Nvml& nvml = Nvml::instance();
      double out[kGpuFieldCount];
      double ts[8];
      double values[8];
      std::size_t written = 0;
      for (int i = 0; i < 300; ++i) {
        // A user between its open() and close() always reads a whole session, whatever the others do.
        CHECK(nvml.open(fake).empty());
        CHECK_EQ(nvml.read(i % 2, out), kNvmlSuccess);
        CHECK_EQ(nvml.utilization_samples(0, 0, ts, values, 8, &written), kNvmlSuccess);
        CHECK_EQ(written, 5u);
        nvml.close();
        // Outside it, the session may be gone: then a read says so and writes nothing.
        const int status = nvml.read(t % 2, out);
        CHECK(status == kNvmlSuccess || status == kNvmlNotOpen);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(!Nvml::instance().is_open());
}

int main() {
  test_unavailable();
  const std::string fake = build_fake();
  test_fake(fake);
  test_threads(fake);
  std::puts("nvml: unavailable, fake library and threads ok");
  return 0;
}
