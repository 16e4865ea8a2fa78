// Device discovery and selection for the GPU addon. No N-API here.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "check.cuh"

namespace up::cuda {

struct DeviceProps {
  int index = 0;
  std::string name;
  std::size_t total_memory = 0;
  int major = 0;
  int minor = 0;
  int multiprocessors = 0;
  int memory_bus_width = 0;
  std::string pci_bus_id;
};

struct Versions {
  int runtime = 0;  // 1000*major + 10*minor
  int driver = 0;   // 0 when no driver is installed
};

Versions versions() noexcept;
Status device_count(int& count) noexcept;
Status device_properties(int index, DeviceProps& out) noexcept;
Status list_devices(std::vector<DeviceProps>& out) noexcept;
// Makes `index` current on this thread and on every thread that later calls
// use_selected_device() (each GPU kernel call does, on whichever thread runs it).
Status select_device(int index) noexcept;
Status use_selected_device() noexcept;
Status current_device(int& index) noexcept;
Status memory_info(std::size_t& free_bytes, std::size_t& total_bytes) noexcept;

// Launches a small kernel and checks its output: proves the fat binary has code this
// device can run. `n` elements, result verified on the host.
Status self_test(int n) noexcept;

}  // namespace up::cuda
