#include "cudasim/twin_registry.h"

#include <dlfcn.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "cudaabi/kernel_names.h"
#include "cudaabi/log.h"
#include "cudasim/work_clock.h"

namespace fastgpu::sim {
namespace {

int spinTwin(const fastgpu_sim_launch* launch) {
  if (launch->param_count != 1) return CUDA_ERROR_INVALID_VALUE;
  unsigned long long micros;
  std::memcpy(&micros, launch->params[0], sizeof(micros));
  // The simulated device is held for exactly this long from the work's simulated start (see
  // stream.h): scheduler tests count a kernel's length from the client's side. Sleeping (timer
  // slack 1 ns) until shortly before the end, then yielding until it: a plain sleep woke up to
  // 80 us late here, which made a 200 us kernel take 285 us; the short spin costs the host little.
  constexpr unsigned long long kLongestMicros = 3600ULL * 1000000;  // no overflow for absurd lengths
  thread_local bool preciseTimers = prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL) == 0;
  (void)preciseTimers;
  auto length = std::chrono::microseconds(std::min(micros, kLongestMicros));
  auto deadline = simulatedWorkStart() + length;
  constexpr auto kWakeUpEarly = std::chrono::microseconds(100);
  std::this_thread::sleep_until(deadline - kWakeUpEarly);
  while (std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return CUDA_SUCCESS;
}

std::atomic<int> gFaultSignal{0};

int faultTwin(const fastgpu_sim_launch*) {
  std::raise(gFaultSignal.load());
  return CUDA_ERROR_LAUNCH_FAILED;  // only if the signal is caught
}

int registerFromPlugin(const fastgpu_sim_host* host, const char* name, fastgpu_sim_twin_fn twin) {
  if (name == nullptr || twin == nullptr) return -1;
  static_cast<TwinRegistry*>(host->host_private)->add(name, twin);
  return 0;
}

}  // namespace

TwinRegistry::TwinRegistry() { twins_[kSpinKernelName] = spinTwin; }

void TwinRegistry::add(const std::string& mangledName, fastgpu_sim_twin_fn twin) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = twins_.emplace(mangledName, twin);
  if (inserted || it->second == twin) return;
  cudaabi::driverLogger().info("twin of {} registered again: the later one replaces the earlier", mangledName);
  it->second = twin;
}

void TwinRegistry::injectFault(const std::string& mangledName, int signal) {
  std::lock_guard lock(mutex_);
  gFaultSignal = signal;
  twins_[mangledName] = faultTwin;
}

fastgpu_sim_twin_fn TwinRegistry::find(const std::string& mangledName) const {
  std::lock_guard lock(mutex_);
  auto it = twins_.find(mangledName);
  if (it != twins_.end()) return it->second;
  if (auto base = cudaabi::internalLinkageBaseName(mangledName)) {
    if (auto found = twins_.find(*base); found != twins_.end()) return found->second;
  }
  return nullptr;
}

Status TwinRegistry::loadPlugins(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    // Never closed: kernels of the plugin may run until the process exits.
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      return Status(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED,
                    fmt::format("cannot load twin plugin {} (from FASTGPU_SIM_KERNELS): {}", path, dlerror()));
    }
    auto init = reinterpret_cast<fastgpu_sim_plugin_init_fn>(dlsym(library, FASTGPU_SIM_PLUGIN_INIT_SYMBOL));
    if (init == nullptr) {
      return Status(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED,
                    fmt::format("twin plugin {} does not export {}", path, FASTGPU_SIM_PLUGIN_INIT_SYMBOL));
    }
    fastgpu_sim_host host{FASTGPU_SIM_TWIN_ABI_VERSION, registerFromPlugin, this};
    if (int result = init(&host); result != 0) {
      return Status(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED,
                    fmt::format("twin plugin {} failed to initialize (returned {})", path, result));
    }
    cudaabi::driverLogger().debug("loaded twin plugin {}", path);
  }
  return Status::ok();
}

}  // namespace fastgpu::sim
