// CPU identification used by backendInfo() and the status CLI. No N-API here.
#pragma once

#include <string>
#include <vector>

namespace up::system {

struct CpuInfo {
  std::string model;
  int cores = 0;  // online logical CPUs
  std::vector<std::string> features;
};

// Feature names follow the order and spelling of kFeatureNames in lib/system/cpu.ts.
CpuInfo cpu_info();

}  // namespace up::system
