// Device and page-locked host memory: allocation, information, pointer attributes.
#include <cstring>

#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

constexpr std::uint64_t kPitchAlignment = 512;

// Everything the driver knows about a pointer.
struct PointerInfo {
  CUmemorytype type = static_cast<CUmemorytype>(0);  // 0: not a CUDA pointer
  std::uint64_t contextHandle = 0;
  int deviceOrdinal = -1;
  std::uint64_t base = 0;
  std::uint64_t size = 0;
  bool hostMapped = false;
};

PointerInfo describe(Driver& driver, std::uint64_t address) {
  PointerInfo info;
  if (Device* device = driver.deviceOfAddress(address)) {
    if (auto allocation = device->memory().find(address)) {
      info = {CU_MEMORYTYPE_DEVICE, allocation->owner, device->ordinal(), allocation->base, allocation->size, false};
    }
  } else if (auto range = driver.hostMemory().find(address)) {
    auto context = driver.findContext(toHandle<CUcontext>(range->contextHandle));
    info = {CU_MEMORYTYPE_HOST, range->contextHandle, context ? context->device().ordinal() : 0,
            range->base,        range->size,          true};
  }
  return info;
}

template <typename T>
void put(void* data, T value) {
  std::memcpy(data, &value, sizeof(T));
}

CUresult pointerAttribute(Driver&, const PointerInfo& info, CUpointer_attribute attribute, void* data) {
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: put(data, toHandle<CUcontext>(info.contextHandle)); break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: put(data, static_cast<unsigned>(info.type)); break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: put(data, static_cast<CUdeviceptr>(info.type ? info.base : 0)); break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      put(data, info.hostMapped ? reinterpret_cast<void*>(info.base) : nullptr);
      break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: put(data, 1); break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: put(data, static_cast<unsigned long long>(info.base)); break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: put(data, 0); break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: put(data, info.deviceOrdinal); break;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: put(data, info.type == CU_MEMORYTYPE_DEVICE ? 1 : 0); break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: put(data, static_cast<CUdeviceptr>(info.base)); break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: put(data, static_cast<std::size_t>(info.size)); break;
    case CU_POINTER_ATTRIBUTE_MAPPED: put(data, info.type ? 1 : 0); break;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: put(data, 0ULL); break;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: put(data, 0); break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: put(data, static_cast<unsigned>(CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE)); break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: put(data, static_cast<CUmemoryPool>(nullptr)); break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* pointer, size_t bytes) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    if (pointer == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    auto address = (*context)->device().memory().allocate(bytes, (*context)->handle());
    if (!address) return fail(address);
    *pointer = *address;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* pointer, size_t* pitch, size_t widthBytes, size_t height,
                                               unsigned int elementBytes) {
  if (pitch == nullptr || widthBytes == 0 || height == 0 ||
      (elementBytes != 4 && elementBytes != 8 && elementBytes != 16)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::size_t rowBytes = (widthBytes + kPitchAlignment - 1) / kPitchAlignment * kPitchAlignment;
  CUresult result = cuMemAlloc_v2(pointer, rowBytes * height);
  if (result == CUDA_SUCCESS) *pitch = rowBytes;
  return result;
}

FASTGPU_SIM_EXPORT CUresult cuMemFree_v2(CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (pointer == 0) return CUDA_SUCCESS;
    Device* device = driver.deviceOfAddress(pointer);
    auto allocation = device != nullptr ? device->memory().find(pointer) : std::nullopt;
    if (!allocation || allocation->base != pointer) return CUDA_ERROR_INVALID_VALUE;
    // Like the real driver, freeing waits for work that may still use the memory.
    if (auto owner = driver.findContext(toHandle<CUcontext>(allocation->owner))) owner->synchronize();
    return fail(device->memory().free(pointer));
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemGetInfo_v2(size_t* freeBytes, size_t* totalBytes) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    if (freeBytes == nullptr || totalBytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    DeviceMemory& memory = (*context)->device().memory();
    *totalBytes = memory.capacity();
    *freeBytes = memory.capacity() - memory.used();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    PointerInfo info = describe(driver, pointer);
    if (info.type != CU_MEMORYTYPE_DEVICE) return CUDA_ERROR_NOT_FOUND;
    if (base != nullptr) *base = info.base;
    if (size != nullptr) *size = info.size;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemHostAlloc(void** pointer, size_t bytes, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    constexpr unsigned kKnown = CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
    if (pointer == nullptr || (flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
    auto allocated = driver.hostMemory().allocate(bytes, flags, (*context)->handle());
    if (!allocated) return fail(allocated);
    *pointer = *allocated;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemAllocHost_v2(void** pointer, size_t bytes) { return cuMemHostAlloc(pointer, bytes, 0); }

FASTGPU_SIM_EXPORT CUresult cuMemFreeHost(void* pointer) {
  return driverEntry(__func__, [&](Driver& driver) { return fail(driver.hostMemory().free(pointer)); });
}

FASTGPU_SIM_EXPORT CUresult cuMemHostRegister_v2(void* pointer, size_t bytes, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    constexpr unsigned kKnown = CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
                                CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY;
    if ((flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
    return fail(driver.hostMemory().registerRange(pointer, bytes, flags, (*context)->handle()));
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemHostRegister(void* pointer, size_t bytes, unsigned int flags) {
  return cuMemHostRegister_v2(pointer, bytes, flags);
}

FASTGPU_SIM_EXPORT CUresult cuMemHostUnregister(void* pointer) {
  return driverEntry(__func__, [&](Driver& driver) { return fail(driver.hostMemory().unregisterRange(pointer)); });
}

FASTGPU_SIM_EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* device, void* host, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (device == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (!driver.hostMemory().find(reinterpret_cast<std::uint64_t>(host))) return CUDA_ERROR_INVALID_VALUE;
    *device = reinterpret_cast<CUdeviceptr>(host);  // unified addressing
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemHostGetFlags(unsigned int* flags, void* host) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto range = driver.hostMemory().find(reinterpret_cast<std::uint64_t>(host));
    if (!range || !range->allocated) return CUDA_ERROR_INVALID_VALUE;
    *flags = range->flags;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    PointerInfo info = describe(driver, pointer);
    if (info.type == 0) return CUDA_ERROR_INVALID_VALUE;  // not memory the driver knows
    return pointerAttribute(driver, info, attribute, data);
  });
}

// Unlike cuPointerGetAttribute, unknown pointers succeed with every value zeroed.
FASTGPU_SIM_EXPORT CUresult cuPointerGetAttributes(unsigned int count, CUpointer_attribute* attributes, void** data,
                                                   CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    PointerInfo info = describe(driver, pointer);
    for (unsigned i = 0; i < count; ++i) {
      if (data[i] == nullptr) continue;
      if (CUresult result = pointerAttribute(driver, info, attributes[i], data[i]); result != CUDA_SUCCESS) return result;
    }
    return CUDA_SUCCESS;
  });
}
