// Virtual memory management: the driver's arguments checked as it checks them, the work done by
// VirtualMemory (virtual_memory.h).
#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

// The device a location names; CUDA_ERROR_INVALID_DEVICE for another kind or ordinal.
Result<Device*> deviceAt(Driver& driver, const CUmemLocation& location) {
  if (location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return Status(CUDA_ERROR_INVALID_VALUE, "only device locations are supported");
  }
  Device* device = driver.device(location.id);
  if (device == nullptr) return Status(CUDA_ERROR_INVALID_DEVICE, "no such device");
  return device;
}

// What an allocation may be: pinned device memory, with no shareable handle or a POSIX file
// descriptor (the fabric and Windows handles are not simulated).
Result<Device*> checkProperties(Driver& driver, const CUmemAllocationProp* prop) {
  if (prop == nullptr || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED) {
    return Status(CUDA_ERROR_INVALID_VALUE, "allocation type must be pinned");
  }
  if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE &&
      prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, "only POSIX file descriptors are simulated as shareable handles");
  }
  return deviceAt(driver, prop->location);
}

bool validAccess(CUmemAccess_flags flags) {
  return flags == CU_MEM_ACCESS_FLAGS_PROT_NONE || flags == CU_MEM_ACCESS_FLAGS_PROT_READ ||
         flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                                          CUmemAllocationGranularity_flags option) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (granularity == nullptr || (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
                                   option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (auto device = checkProperties(driver, prop); !device) return fail(device);
    *granularity = kVmmGranularity;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemAddressReserve(CUdeviceptr* pointer, size_t size, size_t alignment, CUdeviceptr hint,
                                                unsigned long long flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (pointer == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    auto base = driver.virtualMemory().reserve(size, alignment, hint);
    if (!base) return fail(base);
    *pointer = *base;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemAddressFree(CUdeviceptr pointer, size_t size) {
  return driverEntry(__func__, [&](Driver& driver) { return fail(driver.virtualMemory().free(pointer, size)); });
}

FASTGPU_SIM_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                        const CUmemAllocationProp* prop, unsigned long long flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (handle == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    auto device = checkProperties(driver, prop);
    if (!device) return fail(device);
    bool shareable = prop->requestedHandleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    auto created = driver.virtualMemory().create(**device, size, shareable);
    if (!created) return fail(created);
    *handle = *created;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  return driverEntry(__func__, [&](Driver& driver) { return fail(driver.virtualMemory().release(handle)); });
}

FASTGPU_SIM_EXPORT CUresult cuMemMap(CUdeviceptr pointer, size_t size, size_t offset,
                                     CUmemGenericAllocationHandle handle, unsigned long long flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    return fail(driver.virtualMemory().map(pointer, size, offset, handle));
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemUnmap(CUdeviceptr pointer, size_t size) {
  return driverEntry(__func__, [&](Driver& driver) {
    // Like the real driver, unmapping waits for work that may still use the memory.
    if (auto context = driver.requireCurrentContext()) (*context)->synchronize();
    return fail(driver.virtualMemory().unmap(pointer, size));
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemSetAccess(CUdeviceptr pointer, size_t size, const CUmemAccessDesc* desc,
                                           size_t count) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
    // One address space for every simulated device: the widest access granted applies.
    CUmemAccess_flags access = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    for (size_t i = 0; i < count; ++i) {
      if (auto device = deviceAt(driver, desc[i].location); !device) return fail(device);
      if (!validAccess(desc[i].flags)) return CUDA_ERROR_INVALID_VALUE;
      if (desc[i].flags > access) access = desc[i].flags;
    }
    return fail(driver.virtualMemory().setAccess(pointer, size, access));
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemGetAccess(unsigned long long* flags, const CUmemLocation* location,
                                           CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (auto device = deviceAt(driver, *location); !device) return fail(device);
    auto mapped = driver.virtualMemory().find(pointer);
    if (!mapped) return CUDA_ERROR_INVALID_VALUE;
    *flags = mapped->access;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* address) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto retained = driver.virtualMemory().retain(reinterpret_cast<std::uintptr_t>(address));
    if (!retained) return fail(retained);
    *handle = *retained;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                                   CUmemGenericAllocationHandle handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto properties = driver.virtualMemory().properties(handle);
    if (!properties) return fail(properties);
    *prop = CUmemAllocationProp{};
    prop->type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop->location.id = properties->device;
    prop->requestedHandleTypes =
        properties->shareable ? CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR : CU_MEM_HANDLE_TYPE_NONE;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemExportToShareableHandle(void* shareable, CUmemGenericAllocationHandle handle,
                                                         CUmemAllocationHandleType type, unsigned long long flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (shareable == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_NOT_SUPPORTED;
    auto fd = driver.virtualMemory().exportDescriptor(handle);
    if (!fd) return fail(fd);
    *static_cast<int*>(shareable) = *fd;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle* handle, void* shareable,
                                                           CUmemAllocationHandleType type) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_NOT_SUPPORTED;
    // The descriptor travels in the pointer's bits, as the driver takes it.
    int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(shareable));
    auto imported = driver.virtualMemory().importDescriptor(fd, [&](int ordinal) { return driver.device(ordinal); });
    if (!imported) return fail(imported);
    *handle = *imported;
    return CUDA_SUCCESS;
  });
}
