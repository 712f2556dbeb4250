// cudasim's process-wide state: one explicit object, created by the first successful cuInit and
// alive until the process exits (driver entry points run from the application's atexit
// handlers, after static destructors). Everything else hangs off it.
//
// Threading: every method may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "cudaabi/export_tables.h"
#include "cudaabi/user_objects.h"
#include "cudasim/capture.h"
#include "cudasim/context.h"
#include "cudasim/device.h"
#include "cudasim/event.h"
#include "cudasim/handle_table.h"
#include "cudasim/host_memory.h"
#include "cudasim/memory_pool.h"
#include "cudasim/virtual_memory.h"
#include "cudasim/device_output.h"
#include "cudasim/ipc.h"
#include "cudasim/module.h"
#include "cudasim/sim_config.h"
#include "cudasim/twin_registry.h"

namespace fastgpu::sim {

inline constexpr int kDriverVersion = CUDA_VERSION;

class Driver : public cudaabi::DriverServices {
 public:
  // cuInit: creates the driver once; later calls return the first call's result.
  static CUresult initialize();
  // The driver, or null before a successful cuInit.
  static Driver* instance();

  const SimConfig& config() const { return config_; }
  HandleTable& handles() { return handles_; }
  Captures& captures() { return captures_; }
  Progress& progress() { return progress_; }
  cudaabi::UserObjects& userObjects() { return userObjects_; }
  TwinRegistry& twins() { return twins_; }
  HostMemory& hostMemory() { return hostMemory_; }
  VirtualMemory& virtualMemory() { return virtualMemory_; }
  MemoryPools& pools() { return pools_; }
  GraphMemory& graphMemory() { return graphMemory_; }
  DeviceOutput& deviceOutput() { return deviceOutput_; }
  IpcImports& ipcImports() { return ipcImports_; }
  // A synchronization completed (of a context, stream or event): pools give back what is above
  // their release thresholds, and what kernels printed is written out.
  void synchronized() {
    pools_.releaseAboveThresholds();
    deviceOutput_.flush();
  }
  int deviceCount() const { return static_cast<int>(devices_.size()); }
  Device* device(CUdevice ordinal);
  // The device whose address range holds `address`, or null.
  Device* deviceOfAddress(std::uint64_t address);

  // ---- contexts ----
  std::shared_ptr<Context> findContext(CUcontext handle) { return handles_.find<Context>(HandleKind::kContext, handle); }
  std::shared_ptr<Context> createContext(Device& device, unsigned flags, bool primary);
  // Destroys a context: drains its streams, frees its memory, modules, streams and events.
  void destroyContext(const std::shared_ptr<Context>& context);
  // Records that `handle` belongs to `context`, to be forgotten when the context goes.
  void own(const Context& context, std::uint64_t handle);
  // The thread's current context (a live one), or null.
  std::shared_ptr<Context> activeContext();
  // The current context for work: CUDA_ERROR_INVALID_CONTEXT without one, its sticky error when
  // it failed earlier.
  Result<std::shared_ptr<Context>> requireCurrentContext();

  // Primary contexts.
  Result<std::shared_ptr<Context>> retainPrimary(Device& device);
  Status releasePrimary(Device& device);
  void resetPrimary(Device& device);

  // ---- modules ----
  Result<std::shared_ptr<Module>> loadModule(const Context& context, std::shared_ptr<const cudaabi::KernelImage> image);
  void unloadModule(const std::shared_ptr<Module>& module);
  Result<std::shared_ptr<Function>> moduleFunction(Module& module, const std::string& name);
  // The library's module in the current context, loaded on first use.
  Result<std::shared_ptr<Module>> libraryModule(Library& library);

  // ---- DriverServices (the private export tables) ----
  int driverVersion() override { return kDriverVersion; }
  std::vector<cudaabi::IntegrityDeviceRecord> integrityDevices() override;
  CUresult retainPrimaryContextForRuntime(CUcontext* context, CUdevice device) override;
  CUresult loadModuleForRuntime(CUmodule* module, const void* fatbinOrWrapper) override;
  CUcontext currentContext() override;
  CUresult vgpuStatus(int device, cudaabi::VgpuStatus& status) override;

 private:
  Driver() = default;
  Status start();

  SimConfig config_;
  std::unique_ptr<DeviceShares> shares_;  // before the devices that refer to it
  std::vector<std::unique_ptr<Device>> devices_;
  GraphMemory graphMemory_;  // between the devices and the graphs (handles) whose allocations it counts
  HandleTable handles_;
  Captures captures_{handles_};
  Progress progress_;
  cudaabi::UserObjects userObjects_;
  TwinRegistry twins_;
  HostMemory hostMemory_;
  VirtualMemory virtualMemory_;
  MemoryPools pools_;
  DeviceOutput deviceOutput_;
  IpcImports ipcImports_;
  std::mutex ownedMutex_;
  std::map<std::uint64_t, std::vector<std::uint64_t>> owned_;  // context handle -> its objects
};

// The calling thread's context stack (cuCtxPush/Pop/Set/GetCurrent). Holds handles, so a
// destroyed context on the stack is detected, not dereferenced.
std::vector<std::uint64_t>& currentContextStack();

}  // namespace fastgpu::sim
