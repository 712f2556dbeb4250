// FastGPU's driver library (libcuda.so.1) as FastGPU's NVML library reaches it: the devices the
// program's session sees, and its session table (cudaabi/session_table.h). The NVML library links
// against nothing of FastGPU's; it finds the driver library already loaded in the process, else
// the one next to itself.
#pragma once

#include <string>

#include "cudaabi/cuda_api.h"
#include "cudaabi/session_table.h"

namespace fastgpu::nvml {

class SessionDriver {
 public:
  // Loads and initializes the driver (cuInit: the session starts here if it has not). Fails with
  // the driver's result, or CUDA_ERROR_NOT_FOUND when the library is not FastGPU's.
  CUresult open();

  int deviceCount() const { return deviceCount_; }
  int driverVersion() const { return driverVersion_; }
  CUresult name(int device, char* name, int length) const;
  CUresult uuid(int device, CUuuid& uuid) const;
  CUresult attribute(int device, CUdevice_attribute which, int& value) const;
  CUresult status(int device, cudaabi::VgpuStatus& status) const;

 private:
  using InitFn = CUresult (*)(unsigned);
  using CountFn = CUresult (*)(int*);
  using VersionFn = CUresult (*)(int*);
  using NameFn = CUresult (*)(char*, int, CUdevice);
  using UuidFn = CUresult (*)(CUuuid*, CUdevice);
  using AttributeFn = CUresult (*)(int*, CUdevice_attribute, CUdevice);
  using ExportTableFn = CUresult (*)(const void**, const CUuuid*);

  void* library_ = nullptr;
  NameFn name_ = nullptr;
  UuidFn uuid_ = nullptr;
  AttributeFn attribute_ = nullptr;
  cudaabi::VgpuStatusFn status_ = nullptr;
  int deviceCount_ = 0;
  int driverVersion_ = 0;
};

}  // namespace fastgpu::nvml
