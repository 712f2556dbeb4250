// Finding and asking FastGPU's driver library (session_driver.h).
#include "nvml/session_driver.h"

#include <dlfcn.h>

#include <cstring>

namespace fastgpu::nvml {
namespace {

// The folder this library was loaded from, with a trailing '/'.
std::string ownFolder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&ownFolder), &info) == 0 || info.dli_fname == nullptr) return {};
  std::string path = info.dli_fname;
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// The process's libcuda.so.1 if one is loaded, else the one next to this library, else whatever
// the loader finds.
void* openDriverLibrary() {
  if (void* loaded = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD)) return loaded;
  if (std::string folder = ownFolder(); !folder.empty()) {
    if (void* sibling = dlopen((folder + "libcuda.so.1").c_str(), RTLD_NOW | RTLD_GLOBAL)) return sibling;
  }
  return dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
}

template <typename Fn>
Fn symbol(void* library, const char* name) {
  return reinterpret_cast<Fn>(dlsym(library, name));
}

}  // namespace

CUresult SessionDriver::open() {
  if (library_ == nullptr) library_ = openDriverLibrary();
  if (library_ == nullptr) return CUDA_ERROR_NOT_FOUND;
  auto init = symbol<InitFn>(library_, "cuInit");
  auto count = symbol<CountFn>(library_, "cuDeviceGetCount");
  auto version = symbol<VersionFn>(library_, "cuDriverGetVersion");
  auto exportTable = symbol<ExportTableFn>(library_, "cuGetExportTable");
  name_ = symbol<NameFn>(library_, "cuDeviceGetName");
  uuid_ = symbol<UuidFn>(library_, "cuDeviceGetUuid_v2");
  attribute_ = symbol<AttributeFn>(library_, "cuDeviceGetAttribute");
  if (init == nullptr || count == nullptr || version == nullptr || exportTable == nullptr || name_ == nullptr ||
      uuid_ == nullptr || attribute_ == nullptr) {
    return CUDA_ERROR_NOT_FOUND;
  }
  CUuuid id;
  std::memcpy(id.bytes, cudaabi::kSessionTableId, sizeof(id.bytes));
  const void* table = nullptr;
  if (exportTable(&table, &id) != CUDA_SUCCESS || table == nullptr) return CUDA_ERROR_NOT_FOUND;  // not FastGPU's
  auto slots = static_cast<void* const*>(table);
  if (reinterpret_cast<std::uintptr_t>(slots[0]) < cudaabi::kSessionTableSlots * sizeof(void*)) return CUDA_ERROR_NOT_FOUND;
  status_ = reinterpret_cast<cudaabi::VgpuStatusFn>(slots[1]);
  if (CUresult result = init(0); result != CUDA_SUCCESS) return result;
  if (CUresult result = version(&driverVersion_); result != CUDA_SUCCESS) return result;
  return count(&deviceCount_);
}

CUresult SessionDriver::name(int device, char* name, int length) const { return name_(name, length, device); }

CUresult SessionDriver::uuid(int device, CUuuid& uuid) const { return uuid_(&uuid, device); }

CUresult SessionDriver::attribute(int device, CUdevice_attribute which, int& value) const {
  return attribute_(&value, which, device);
}

CUresult SessionDriver::status(int device, cudaabi::VgpuStatus& status) const { return status_(device, &status); }

}  // namespace fastgpu::nvml
