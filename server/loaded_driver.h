// The CUDA driver the server runs on, loaded with dlopen (DESIGN.md, decision 10): the real
// libcuda.so.1 on GPU hosts, cudasim's in tests and demos. Same code path either way.
#pragma once

#include <memory>
#include <string>

#include "cudaabi/driver_symbols.h"
#include "scheduler/vgpu_registry.h"

namespace fastgpu::server {

class LoadedDriver {
 public:
  // dlopens `path` ("libcuda.so.1" searches the system's paths), fills the typed table and runs
  // cuInit. Fails naming the library and the reason.
  static Result<std::unique_ptr<LoadedDriver>> load(const std::string& path);
  ~LoadedDriver();
  LoadedDriver(const LoadedDriver&) = delete;
  LoadedDriver& operator=(const LoadedDriver&) = delete;

  const cudaabi::DriverTable& api() const { return table_; }
  // The driver's devices (ordinal, "GPU-..." UUID, total memory), restricted to `only` when it
  // is not empty; fails naming an ordinal that does not exist.
  Result<std::vector<scheduler::PhysicalGpu>> devices(const std::vector<int>& only) const;
  const std::string& path() const { return path_; }
  int version() const { return version_; }

 private:
  LoadedDriver(void* handle, cudaabi::DriverTable table, std::string path, int version)
      : handle_(handle), table_(table), path_(std::move(path)), version_(version) {}

  void* handle_;
  cudaabi::DriverTable table_;
  std::string path_;
  int version_;
};

}  // namespace fastgpu::server
