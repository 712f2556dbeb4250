#include "server/loaded_driver.h"

#include <dlfcn.h>

#include <algorithm>

#include <fmt/format.h>

#include "cudaabi/error_strings.h"
#include "cudaabi/gpu_uuid_text.h"

namespace fastgpu::server {

Result<std::unique_ptr<LoadedDriver>> LoadedDriver::load(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return Status(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, fmt::format("cannot load driver: {}", dlerror()));
  auto table = cudaabi::loadDriverTable(handle, path);
  if (!table) {
    dlclose(handle);
    return table.status();
  }
  if (CUresult result = table->cuInit(0); result != CUDA_SUCCESS) {
    dlclose(handle);
    return Status(result, fmt::format("cuInit of driver {} failed: {}", path, cudaabi::errorNameOrNumber(result)));
  }
  int version = 0;
  table->cuDriverGetVersion(&version);
  return std::unique_ptr<LoadedDriver>(new LoadedDriver(handle, *table, path, version));
}

Result<std::vector<scheduler::PhysicalGpu>> LoadedDriver::devices(const std::vector<int>& only) const {
  int count = 0;
  table_.cuDeviceGetCount(&count);
  std::vector<scheduler::PhysicalGpu> devices;
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    if (!only.empty() && std::find(only.begin(), only.end(), ordinal) == only.end()) continue;
    CUuuid uuid{};
    std::size_t memory = 0;
    table_.cuDeviceGetUuid_v2(&uuid, ordinal);
    table_.cuDeviceTotalMem_v2(&memory, ordinal);
    devices.push_back(scheduler::PhysicalGpu{ordinal, cudaabi::gpuUuidText(uuid), memory});
  }
  for (int wanted : only) {
    if (wanted < 0 || wanted >= count) {
      return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("gpus names GPU {}, but the driver has {} GPU(s)", wanted, count));
    }
  }
  return devices;
}

// The library stays loaded: driver threads may outlive this object until the process exits.
LoadedDriver::~LoadedDriver() = default;

}  // namespace fastgpu::server
