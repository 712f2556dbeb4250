// The host twins cudasim knows: built-in ones (fastgpu_spin) and those registered by the plugin
// libraries of FASTGPU_SIM_KERNELS. Plugins are loaded once, at cuInit, and stay loaded.
// Thread-safe after loading.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cudaabi/result.h"
#include "fastgpu/sim_twin.h"

namespace fastgpu::sim {

// The built-in twin of `extern "C" __global__ void fastgpu_spin(unsigned long long micros)`
// (include/fastgpu/spin_kernel.cuh): occupies its device for `micros` microseconds.
inline constexpr const char* kSpinKernelName = "fastgpu_spin";

class TwinRegistry {
 public:
  TwinRegistry();

  // Loads each plugin and runs its init; fails naming the plugin and the reason.
  Status loadPlugins(const std::vector<std::string>& paths);
  // Registers a twin. A name registered again takes the later twin (logged), so a plugin listed
  // after another (a user's --twins after the shipped ones) replaces its twins.
  void add(const std::string& mangledName, fastgpu_sim_twin_fn twin);
  // Fault injection (FASTGPU_SIM_FAULT): from now on a launch of `mangledName` raises `signal`
  // in the process, whatever twin it had.
  void injectFault(const std::string& mangledName, int signal);
  // The twin of a kernel, or null. A kernel of internal linkage is also found under its base name
  // (cudaabi/kernel_names.h): nvcc's names for them hold a hash of the source path.
  fastgpu_sim_twin_fn find(const std::string& mangledName) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, fastgpu_sim_twin_fn> twins_;
};

}  // namespace fastgpu::sim
