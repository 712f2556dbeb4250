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
//   FASTGPU_SIM_HOST_COPY_DELAY_US  every copy between host and device memory starts this many
//                        microseconds late on its stream, as over a slow link (for tests that
//                        the bytes of asynchronous copies are awaited; default 0)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cudaabi/byte_size.h"
#include "cudaabi/result.h"

namespace fastgpu::sim {

inline constexpr int kMaxDevices = 16;
inline constexpr std::uint64_t kMaxDeviceMemoryBytes = 1ULL << 40;  // the address stride per device
inline constexpr std::uint32_t kMaxHostCopyDelayMicros = 10'000'000;

struct SimConfig {
  int deviceCount = 1;
  std::uint64_t memoryBytes = 80ULL << 30;
  std::vector<std::string> twinPlugins;
  std::string faultKernel;  // empty: no fault injection
  int faultSignal = 0;      // SIGSEGV or SIGABRT
  std::uint32_t hostCopyDelayMicros = 0;
};

// Reads the FASTGPU_SIM_* variables; a bad value fails with the variable named.
Result<SimConfig> loadSimConfig();

}  // namespace fastgpu::sim
