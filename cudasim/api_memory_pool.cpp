// Stream-ordered allocation: pools (memory_pool.h), allocations from them on a stream, and frees
// that give a block back when the stream reaches them.
#include "cudasim/graph_api.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

// The device of a pool's properties: pinned device memory, shareable as POSIX descriptors or not
// at all (pool_sharing.h).
Result<Device*> poolDevice(Driver& driver, const CUmemPoolProps* props) {
  if (props == nullptr || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
      props->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return Status(CUDA_ERROR_INVALID_VALUE, "pool properties: pinned device memory only");
  }
  if (props->handleTypes != CU_MEM_HANDLE_TYPE_NONE && props->handleTypes != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, "pools are shared as POSIX descriptors only");
  }
  Device* device = driver.device(props->location.id);
  if (device == nullptr) return Status(CUDA_ERROR_INVALID_DEVICE, "no such device");
  return device;
}

Result<std::shared_ptr<MemoryPool>> poolOf(Driver& driver, CUmemoryPool handle) {
  auto pool = driver.pools().find(handle);
  if (!pool) return Status(CUDA_ERROR_INVALID_VALUE, "not a memory pool");
  return pool;
}

// cuMemAllocAsync on a capturing stream: an allocation node (cudasim/graph_memory.h), its memory
// on the stream's device, its address known now.
CUresult captureAllocation(Driver& driver, Stream& stream, CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool) {
  if (pool != nullptr && !driver.pools().find(pool)) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEM_ALLOC_NODE_PARAMS params{};
  params.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  params.poolProps.location = {CU_MEM_LOCATION_TYPE_DEVICE, stream.context().device().ordinal()};
  params.bytesize = bytes;
  auto node = memAllocParams(driver, params);
  if (!node) return fail(node);
  CUdeviceptr address = std::get<MemAllocNode>(*node).params.dptr;
  auto route = driver.captures().route(stream, CU_GRAPH_NODE_TYPE_MEM_ALLOC, [&] { return std::move(*node); });
  if (!route) return fail(route);
  *pointer = address;
  return CUDA_SUCCESS;
}

CUresult allocateAsync(const char* name, CUdeviceptr* pointer, size_t bytes, CUmemoryPool handle, CUstream stream,
                       DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) {
    if (pointer == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    auto resolved = resolveStream(driver, stream, nullMeans);
    if (!resolved) return fail(resolved);
    if (driver.captures().info(**resolved).status != CU_STREAM_CAPTURE_STATUS_NONE) {
      return captureAllocation(driver, **resolved, pointer, bytes, handle);
    }
    Device& device = (*resolved)->context().device();
    auto pool = poolOf(driver, handle != nullptr ? handle : driver.pools().currentPool(device));
    if (!pool) return fail(pool);
    if (&(*pool)->device() != &device) return CUDA_ERROR_INVALID_VALUE;
    auto base = (*pool)->allocate(bytes, (*resolved)->context().handle());
    if (!base) return fail(base);
    driver.pools().allocated(*base, *pool);
    *pointer = *base;
    return CUDA_SUCCESS;
  });
}

CUresult freeAsync(const char* name, CUdeviceptr pointer, CUstream stream, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) {
    auto resolved = resolveStream(driver, stream, nullMeans);
    if (!resolved) return fail(resolved);
    if (auto allocation = driver.graphMemory().find(pointer)) {
      if (driver.captures().info(**resolved).status != CU_STREAM_CAPTURE_STATUS_NONE) {
        auto route = driver.captures().route(**resolved, CU_GRAPH_NODE_TYPE_MEM_FREE, [&] { return MemFreeNode{pointer}; });
        return route ? CUDA_SUCCESS : fail(route);
      }
      allocation->setLive(false);  // a graph allocation freed after its graph's launch
      return CUDA_SUCCESS;
    }
    if (Status status = driver.captures().refuseIfCapturing(**resolved); !status) return fail(status);
    if (driver.pools().forgetImportedPointer(pointer)) {  // another process's: unmapped in stream order
      Operation unmap{Operation::Kind::kHostWork, [imports = &driver.ipcImports(), pointer] {
                        (void)imports->close(pointer);  // it was mapped: closing cannot fail
                        return CUDA_SUCCESS;
                      }, {}};
      (*resolved)->context().enqueue(**resolved, std::move(unmap));
      return CUDA_SUCCESS;
    }
    auto pool = driver.pools().ownerOf(pointer);
    if (!pool) return CUDA_ERROR_INVALID_VALUE;
    driver.pools().freed(pointer);  // freed for the program now; the block comes back in stream order
    Operation giveBack{Operation::Kind::kHostWork, [pool, pointer] {
                         pool->returned(pointer);
                         return CUDA_SUCCESS;
                       }, {}};
    (*resolved)->context().enqueue(**resolved, std::move(giveBack));
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool* pool, CUdevice ordinal) {
  return driverEntry(__func__, [&](Driver& driver) {
    Device* device = driver.device(ordinal);
    if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    *pool = driver.pools().defaultPool(*device);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice ordinal) {
  return driverEntry(__func__, [&](Driver& driver) {
    Device* device = driver.device(ordinal);
    if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    *pool = driver.pools().currentPool(*device);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceSetMemPool(CUdevice ordinal, CUmemoryPool handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    auto pool = poolOf(driver, handle);
    if (!pool) return fail(pool);
    if (&(*pool)->device() != device) return CUDA_ERROR_INVALID_VALUE;
    driver.pools().setCurrentPool(*device, handle);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* props) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto device = poolDevice(driver, props);
    if (!device) return fail(device);
    *pool = driver.pools().create(**device, props->handleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool) {
  return driverEntry(__func__, [&](Driver& driver) { return fail(driver.pools().destroy(pool)); });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool handle, size_t keep) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto pool = poolOf(driver, handle);
    if (!pool) return fail(pool);
    (*pool)->trimTo(keep);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool handle, CUmemPool_attribute attribute, void* value) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto pool = poolOf(driver, handle);
    if (!pool) return fail(pool);
    return fail((*pool)->setAttribute(attribute, value));
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool handle, CUmemPool_attribute attribute, void* value) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto pool = poolOf(driver, handle);
    if (!pool) return fail(pool);
    return fail((*pool)->getAttribute(attribute, value));
  });
}

// One address space for every simulated device: every device may reach every pool; what can be
// set is checked.
FASTGPU_SIM_EXPORT CUresult cuMemPoolSetAccess(CUmemoryPool handle, const CUmemAccessDesc* map, size_t count) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto pool = poolOf(driver, handle);
    if (!pool) return fail(pool);
    if (map == nullptr && count > 0) return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < count; ++i) {
      if (map[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || driver.device(map[i].location.id) == nullptr) {
        return CUDA_ERROR_INVALID_DEVICE;
      }
    }
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolGetAccess(CUmemAccess_flags* flags, CUmemoryPool handle, CUmemLocation* location) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto pool = poolOf(driver, handle);
    if (!pool) return fail(pool);
    if (flags == nullptr || location == nullptr || location->type != CU_MEM_LOCATION_TYPE_DEVICE ||
        driver.device(location->id) == nullptr) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    *flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* pointer, size_t bytes, CUstream stream) {
  return allocateAsync(__func__, pointer, bytes, nullptr, stream, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* pointer, size_t bytes, CUstream stream) {
  return allocateAsync(__func__, pointer, bytes, nullptr, stream, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool,
                                                    CUstream stream) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return allocateAsync(__func__, pointer, bytes, pool, stream, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool,
                                                         CUstream stream) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return allocateAsync(__func__, pointer, bytes, pool, stream, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuMemFreeAsync(CUdeviceptr pointer, CUstream stream) {
  return freeAsync(__func__, pointer, stream, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr pointer, CUstream stream) {
  return freeAsync(__func__, pointer, stream, DefaultStream::kPerThread);
}
