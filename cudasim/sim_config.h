// cudasim's configuration, read from the environment once, at cuInit.
//
//   FASTGPU_SIM_DEVICES  number of simulated devices (1..16; default 1)
//   FASTGPU_SIM_MEMORY   memory per device, e.g. "80GiB", "512MiB", "1073741824" (default 80GiB)
//   FASTGPU_SIM_KERNELS  colon-separated host-twin plugin libraries to load
//   FASTGPU_SIM_SHARED   a group name: processes naming the same group share their devices
//                        (device_share.h)
//   FASTGPU_SIM_FAULT    KERNEL:segv or KERNEL:abort — fault injection: a launch of KERNEL (its
//                        mangled name) crashes the process with that signal, as a driver or
//                        kernel fault would (for tests of crash isolation)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cudaabi/byte_size.h"
#include "cudaabi/result.h"

namespace fastgpu::sim {

inline constexpr int kMaxDevices = 16;
inline constexpr std::uint64_t kMaxDeviceMemoryBytes = 1ULL << 40;  // the address stride per device

struct SimConfig {
  int deviceCount = 1;
  std::uint64_t memoryBytes = 80ULL << 30;
  std::vector<std::string> twinPlugins;
  std::string faultKernel;  // empty: no fault injection
  int faultSignal = 0;      // SIGSEGV or SIGABRT
};

// Reads the FASTGPU_SIM_* variables; a bad value fails with the variable named.
Result<SimConfig> loadSimConfig();

}  // namespace fastgpu::sim
