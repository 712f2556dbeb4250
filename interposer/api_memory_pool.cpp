// Stream-ordered allocation, remoted: pools live on the server (their handles are the server's
// ids) and what they hold is charged to the vGPU's quota there. An allocation asks the server
// (the address is its answer); a free is posted, in stream order with the work before it.
#include <algorithm>

#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

constexpr std::size_t kMaxAccessDescriptors = 64;

CUresult poolOfDevice(const char* name, CUmemoryPool* pool, CUdevice device, bool current) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    if (current) {
      call->setMemPoolCurrent(device);
    } else {
      call->setMemPoolDefault(device);
    }
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *pool = handleOf<CUmemoryPool>((*reply)->get().getHandle());
    return CUDA_SUCCESS;
  });
}

CUresult allocateAsync(const char* name, CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool, CUstream stream,
                       bool perThread) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (pointer == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult refused = captureCheck(rt, stream, perThread, true, true); refused != CUDA_SUCCESS) return refused;
    auto key = CaptureMirror::keyOf(stream, perThread);
    bool captured = rt.captures().state(key).has_value();  // an allocation node: graph memory
    CallMessage call(rt.currentContextId());
    auto alloc = call->initMemAllocAsync();
    alloc.setBytes(bytes);
    alloc.setPool(idOf(pool));
    alloc.setStream(idOf(stream));
    alloc.setPerThread(perThread);
    CUdeviceptr base = 0;
    if (CUresult result = askValue(client, call, &base); result != CUDA_SUCCESS) return result;
    if (captured) {
      rt.addGraphMemory(base, bytes);
      rt.captures().addAllocation(key, base);
    } else {
      rt.addAllocation(base, bytes);
    }
    *pointer = base;
    return CUDA_SUCCESS;
  });
}

CUresult freeAsync(const char* name, CUdeviceptr pointer, CUstream stream, bool perThread) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    auto known = rt.allocation(pointer);
    if (!known || known->first != pointer) return CUDA_ERROR_INVALID_VALUE;
    bool graphMemory = rt.isGraphMemory(pointer);  // its graph holds it: it stays device memory
    if (CUresult refused = captureCheck(rt, stream, perThread, true, graphMemory); refused != CUDA_SUCCESS) return refused;
    auto key = CaptureMirror::keyOf(stream, perThread);
    if (!graphMemory) {
      rt.removeAllocation(pointer);
    } else if (rt.captures().state(key)) {
      rt.captures().freedInCapture(key, pointer);  // a free node: the graph frees it itself
    } else {
      rt.graphMemoryFreed(pointer);
    }
    CallMessage call(rt.currentContextId());
    auto free = call->initMemFreeAsync();
    free.setAddress(pointer);
    free.setStream(idOf(stream));
    free.setPerThread(perThread);
    post(client, call);
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool* pool, CUdevice device) {
  return poolOfDevice(__func__, pool, device, false);
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice device) {
  return poolOfDevice(__func__, pool, device, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceSetMemPool(CUdevice device, CUmemoryPool pool) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    auto set = call->initMemPoolSetCurrent();
    set.setDevice(device);
    set.setPool(idOf(pool));
    return askResult(client, call);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* props) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (pool == nullptr || props == nullptr || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
        props->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (props->handleTypes != CU_MEM_HANDLE_TYPE_NONE && props->handleTypes != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
      return cudaabi::reportNotSupported("pools shared by handles but POSIX descriptors");
    }
    CallMessage call(rt.currentContextId());
    auto create = call->initMemPoolCreate();
    create.setDevice(props->location.id);
    create.setHandleTypes(static_cast<std::uint32_t>(props->handleTypes));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *pool = handleOf<CUmemoryPool>((*reply)->get().getHandle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    call->setMemPoolDestroy(idOf(pool));
    return askResult(client, call);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t keep) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    auto trim = call->initMemPoolTrim();
    trim.setPool(idOf(pool));
    trim.setValue(keep);
    return askResult(client, call, true);
  });
}

// Reuse flags are ints; the thresholds and amounts 64-bit.
FASTGPU_REMOTE_EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attribute, void* value) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    bool small = attribute <= CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES;
    CallMessage call(rt.currentContextId());
    auto set = call->initMemPoolSetAttribute();
    set.setPool(idOf(pool));
    set.setAttribute(static_cast<std::uint32_t>(attribute));
    set.setValue(small ? static_cast<std::uint64_t>(*static_cast<int*>(value)) : *static_cast<std::uint64_t*>(value));
    return askResult(client, call);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attribute, void* value) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto get = call->initMemPoolGetAttribute();
    get.setPool(idOf(pool));
    get.setAttribute(static_cast<std::uint32_t>(attribute));
    if (attribute <= CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES) return askValue(client, call, static_cast<int*>(value));
    return askValue(client, call, static_cast<std::uint64_t*>(value));
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc* map, size_t count) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if ((map == nullptr && count > 0) || count > kMaxAccessDescriptors) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto access = call->initMemPoolSetAccess();
    access.setPool(idOf(pool));
    auto devices = access.initDevices(static_cast<unsigned>(count));
    auto flags = access.initFlags(static_cast<unsigned>(count));
    for (size_t i = 0; i < count; ++i) {
      if (map[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_DEVICE;
      devices.set(static_cast<unsigned>(i), map[i].location.id);
      flags.set(static_cast<unsigned>(i), static_cast<std::uint32_t>(map[i].flags));
    }
    return askResult(client, call);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolGetAccess(CUmemAccess_flags* flags, CUmemoryPool pool, CUmemLocation* location) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (flags == nullptr || location == nullptr || location->type != CU_MEM_LOCATION_TYPE_DEVICE) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    CallMessage call(rt.currentContextId());
    auto get = call->initMemPoolGetAccess();
    get.setPool(idOf(pool));
    get.setDevice(location->id);
    return askValue(client, call, flags);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* pointer, size_t bytes, CUstream stream) {
  return allocateAsync(__func__, pointer, bytes, nullptr, stream, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* pointer, size_t bytes, CUstream stream) {
  return allocateAsync(__func__, pointer, bytes, nullptr, stream, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool,
                                                       CUstream stream) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return allocateAsync(__func__, pointer, bytes, pool, stream, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool,
                                                            CUstream stream) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return allocateAsync(__func__, pointer, bytes, pool, stream, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemFreeAsync(CUdeviceptr pointer, CUstream stream) {
  return freeAsync(__func__, pointer, stream, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr pointer, CUstream stream) {
  return freeAsync(__func__, pointer, stream, true);
}
