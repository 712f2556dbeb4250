// Device and page-locked host memory: allocation, information, pointer attributes.
#include <cstring>

#include "cudaabi/pointer_attributes.h"
#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

constexpr std::uint64_t kPitchAlignment = 512;

// Everything the driver knows about a pointer.
cudaabi::PointerFacts describe(Driver& driver, std::uint64_t address) {
  cudaabi::PointerFacts facts;
  facts.address = address;
  if (Device* device = driver.deviceOfAddress(address)) {
    if (auto allocation = device->memory().find(address)) {
      facts.type = CU_MEMORYTYPE_DEVICE;
      facts.context = toHandle<CUcontext>(allocation->owner);
      facts.deviceOrdinal = device->ordinal();
      facts.base = allocation->base;
      facts.size = allocation->size;
      facts.ipcCapable = true;
    }
  } else if (auto mapped = driver.virtualMemory().find(address)) {
    facts.type = CU_MEMORYTYPE_DEVICE;
    facts.deviceOrdinal = mapped->device;
    facts.base = mapped->base;
    facts.size = mapped->size;
  } else if (auto range = driver.hostMemory().find(address)) {
    auto context = driver.findContext(toHandle<CUcontext>(range->contextHandle));
    facts.type = CU_MEMORYTYPE_HOST;
    facts.context = toHandle<CUcontext>(range->contextHandle);
    facts.deviceOrdinal = context ? context->device().ordinal() : 0;
    facts.base = range->base;
    facts.size = range->size;
  }
  return facts;
}

// Like the real driver, page-locked memory freed or unregistered first waits for the work of the
// context it belongs to: a copy still on its way must not land in memory reused since.
void finishWorkOnHostMemory(Driver& driver, void* pointer) {
  auto range = driver.hostMemory().find(reinterpret_cast<std::uint64_t>(pointer));
  if (!range || range->base != reinterpret_cast<std::uint64_t>(pointer)) return;
  if (auto owner = driver.findContext(toHandle<CUcontext>(range->contextHandle))) owner->synchronize();
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* pointer, size_t bytes) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (Status status = driver.captures().checkUnsafeCall(); !status) return fail(status);
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
    if (Status status = driver.captures().checkUnsafeCall(); !status) return fail(status);
    if (pointer == 0) return CUDA_SUCCESS;
    if (auto allocation = driver.graphMemory().find(pointer)) {  // graph memory: its graph holds it
      if (auto context = driver.requireCurrentContext()) (*context)->synchronize();
      allocation->setLive(false);
      return CUDA_SUCCESS;
    }
    if (driver.pools().forgetImportedPointer(pointer)) {  // another process's pool allocation, imported
      if (auto context = driver.requireCurrentContext()) (*context)->synchronize();
      return fail(driver.ipcImports().close(pointer));
    }
    if (auto pool = driver.pools().ownerOf(pointer)) {  // a stream-ordered allocation, freed at once
      if (auto context = driver.requireCurrentContext()) (*context)->synchronize();
      driver.pools().freed(pointer);
      return fail(pool->forget(pointer));
    }
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
    cudaabi::PointerFacts facts = describe(driver, pointer);
    if (facts.type != CU_MEMORYTYPE_DEVICE) return CUDA_ERROR_NOT_FOUND;
    if (base != nullptr) *base = facts.base;
    if (size != nullptr) *size = facts.size;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemHostAlloc(void** pointer, size_t bytes, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (Status status = driver.captures().checkUnsafeCall(); !status) return fail(status);
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
  return driverEntry(__func__, [&](Driver& driver) {
    if (Status status = driver.captures().checkUnsafeCall(); !status) return fail(status);
    finishWorkOnHostMemory(driver, pointer);
    return fail(driver.hostMemory().free(pointer));
  });
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
  return driverEntry(__func__, [&](Driver& driver) {
    finishWorkOnHostMemory(driver, pointer);
    return fail(driver.hostMemory().unregisterRange(pointer));
  });
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
    cudaabi::PointerFacts facts = describe(driver, pointer);
    if (facts.type == 0) return CUDA_ERROR_INVALID_VALUE;  // not memory the driver knows
    return cudaabi::writePointerAttribute(facts, attribute, data);
  });
}

// Unlike cuPointerGetAttribute, unknown pointers succeed with every value zeroed.
FASTGPU_SIM_EXPORT CUresult cuPointerGetAttributes(unsigned int count, CUpointer_attribute* attributes, void** data,
                                                   CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    cudaabi::PointerFacts facts = describe(driver, pointer);
    for (unsigned i = 0; i < count; ++i) {
      if (data[i] == nullptr) continue;
      if (CUresult result = cudaabi::writePointerAttribute(facts, attributes[i], data[i]); result != CUDA_SUCCESS) {
        return result;
      }
    }
    return CUDA_SUCCESS;
  });
}
