#include "server/loaded_driver.h"

#include <dlfcn.h>

#include <fmt/format.h>

#include "cudaabi/error_strings.h"

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

// The library stays loaded: driver threads may outlive this object until the process exits.
LoadedDriver::~LoadedDriver() = default;

}  // namespace fastgpu::server
