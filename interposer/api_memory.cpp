// Device memory, page-locked host memory and pointer queries. Device allocations live on the
// server; their ranges are reserved here (decision 8), so pointer queries and unified copies are
// answered from local tables. Host memory stays in this process; page-locked memory of a client
// on the server's host comes from the heap it shares with the server (shared_heap.h), so that the
// server copies it to and from the device itself.
#include <sys/mman.h>

#include <cstring>

#include "cudaabi/pointer_attributes.h"
#include "cudaabi/check.h"
#include "cudaabi/checked_math.h"
#include "interposer/rdma_copies.h"
#include "interposer/registered_pages.h"
#include "interposer/remote.h"
#include "interposer/shared_pinned.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

constexpr std::uint64_t kPitchAlignment = 512;

// What the client knows about a pointer: remote allocations and local page-locked memory.
cudaabi::PointerFacts describe(Runtime& rt, CUdeviceptr pointer) {
  cudaabi::PointerFacts facts;
  facts.address = pointer;
  auto device = rt.allocation(pointer);
  auto host = device ? std::nullopt : rt.hostRangeContaining(pointer);
  if (!device && !host) return facts;
  facts.type = device ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
  facts.context = handleOf<CUcontext>(rt.currentContextId());
  auto ordinal = rt.contextDevice(rt.currentContextId());
  facts.deviceOrdinal = ordinal ? *ordinal : 0;
  facts.base = device ? device->first : host->first;
  facts.size = device ? device->second : host->second.bytes;
  return facts;
}

CUresult pointerAttribute(Runtime& rt, CUdeviceptr pointer, CUpointer_attribute attribute, void* data, bool strict) {
  cudaabi::PointerFacts facts = describe(rt, pointer);
  if (facts.type == 0 && strict) return CUDA_ERROR_INVALID_VALUE;
  return cudaabi::writePointerAttribute(facts, attribute, data);
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* pointer, size_t bytes) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (CUresult refused = rt.captures().unsafeCall(); refused != CUDA_SUCCESS) return refused;
    if (pointer == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setMemAlloc(bytes);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *pointer = (*reply)->get().getHandle();
    rt.addAllocation(*pointer, bytes);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* pointer, size_t* pitch, size_t widthBytes, size_t height,
                                                  unsigned int elementBytes) {
  if (pitch == nullptr || widthBytes == 0 || height == 0 ||
      (elementBytes != 4 && elementBytes != 8 && elementBytes != 16)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto padded = cudaabi::checkedAdd(widthBytes, kPitchAlignment - 1);
  std::uint64_t rowBytes = padded ? *padded / kPitchAlignment * kPitchAlignment : 0;
  auto total = padded ? cudaabi::checkedMul(rowBytes, height) : std::nullopt;
  if (!total) return CUDA_ERROR_INVALID_VALUE;  // a shape whose size does not fit in 64 bits
  CUresult result = cuMemAlloc_v2(pointer, *total);
  if (result == CUDA_SUCCESS) *pitch = rowBytes;
  return result;
}

FASTGPU_REMOTE_EXPORT CUresult cuMemFree_v2(CUdeviceptr pointer) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (CUresult refused = rt.captures().unsafeCall(); refused != CUDA_SUCCESS) return refused;
    if (pointer == 0) return CUDA_SUCCESS;
    auto allocation = rt.allocation(pointer);
    if (!allocation || allocation->first != pointer || rt.isIpcOpened(pointer)) return CUDA_ERROR_INVALID_VALUE;
    if (rt.isGraphMemory(pointer)) {  // graph memory: its graph holds it
      rt.graphMemoryFreed(pointer);
    } else {
      rt.removeAllocation(pointer);
    }
    CallMessage call(rt.currentContextId());
    call->setMemFree(pointer);
    post(client, call);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemGetInfo_v2(size_t* freeBytes, size_t* totalBytes) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (freeBytes == nullptr || totalBytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setMemGetInfo();
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.size() != 2) return CUDA_ERROR_UNKNOWN;
    *freeBytes = static_cast<std::size_t>(values[0]);
    *totalBytes = static_cast<std::size_t>(values[1]);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr pointer) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    auto allocation = rt.allocation(pointer);
    if (!allocation) return CUDA_ERROR_NOT_FOUND;
    if (base != nullptr) *base = allocation->first;
    if (size != nullptr) *size = allocation->second;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemHostAlloc(void** pointer, size_t bytes, unsigned int flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (CUresult refused = rt.captures().unsafeCall(); refused != CUDA_SUCCESS) return refused;
    constexpr unsigned kKnown = CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
    if (pointer == nullptr || bytes == 0 || (flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
    HostRange range{bytes, flags, true};
    void* memory = nullptr;
    if (auto shared = allocateShared(rt, client, bytes)) {
      memory = shared->memory;
      range.sharedOffset = shared->offset;
      range.sharedDevice = shared->device;
    } else {
      // Over a network the data crosses it either way: page-locked memory is then a local matter.
      memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (memory == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    }
    auto base = reinterpret_cast<std::uint64_t>(memory);
    rt.forgetHostRangesOverlapping(base, bytes);
    FASTGPU_CHECK(rt.addHostRange(base, range), "fresh pages {:#x}+{} overlap", base, bytes);
    *pointer = memory;
    return CUDA_SUCCESS;
  });
}

// Mapped pinned memory: the device's address of page-locked memory from the heap shared with the
// server (same host). Other host memory cannot be reached by a remote device.
FASTGPU_REMOTE_EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* device, void* host, unsigned int flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (device == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    auto range = rt.hostRangeContaining(reinterpret_cast<std::uint64_t>(host));
    if (!range) return CUDA_ERROR_INVALID_VALUE;
    if (range->second.sharedDevice == 0) return CUDA_ERROR_NOT_SUPPORTED;
    *device = range->second.sharedDevice + (reinterpret_cast<std::uint64_t>(host) - range->first);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemAllocHost_v2(void** pointer, size_t bytes) { return cuMemHostAlloc(pointer, bytes, 0); }

FASTGPU_REMOTE_EXPORT CUresult cuMemFreeHost(void* pointer) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (CUresult refused = rt.captures().unsafeCall(); refused != CUDA_SUCCESS) return refused;
    auto range = rt.hostRange(reinterpret_cast<std::uint64_t>(pointer));
    if (!range || !range->allocated) return CUDA_ERROR_INVALID_VALUE;
    rt.removeHostRange(reinterpret_cast<std::uint64_t>(pointer));
    client.finishDeliveriesInto(pointer, range->bytes);
    // As the driver's, the free waits for the device's work: the server's, in the heap's case.
    CUresult freed = CUDA_SUCCESS;
    if (range->sharedOffset) {
      freed = freeSharedRange(rt, client, *range->sharedOffset);
    } else {
      awaitContextWork(rt, client);  // the memory is this process's alone; only the wait is owed
    }
    forgetRdmaRegistration(client, pointer, range->bytes);
    munmap(pointer, range->bytes);
    return freed;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemHostRegister_v2(void* pointer, size_t bytes, unsigned int flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (pointer == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    auto base = reinterpret_cast<std::uint64_t>(pointer);
    HostRange range{bytes, flags, false};
    if (!rt.addHostRange(base, range)) return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    // On a same-host session the pages move into the shared heap: mapped for the device, copied
    // by the server's driver itself.
    if (auto moved = movePagesIntoHeap(rt, client, pointer, bytes)) {
      range.sharedOffset = moved->heapOffset + (base - moved->base);
      range.sharedDevice = moved->device == 0 ? 0 : moved->device + (base - moved->base);
      range.moved = *moved;
      rt.removeHostRange(base);
      FASTGPU_CHECK(rt.addHostRange(base, range), "registered range {:#x}+{} vanished", base, bytes);
    }
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemHostRegister(void* pointer, size_t bytes, unsigned int flags) {
  return cuMemHostRegister_v2(pointer, bytes, flags);
}

FASTGPU_REMOTE_EXPORT CUresult cuMemHostUnregister(void* pointer) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    auto range = rt.hostRange(reinterpret_cast<std::uint64_t>(pointer));
    if (!range || range->allocated) return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
    client.finishDeliveriesInto(pointer, range->bytes);
    if (range->moved) {
      if (CUresult back = movePagesBack(rt, client, *range->moved); back != CUDA_SUCCESS) return back;
    }
    rt.removeHostRange(reinterpret_cast<std::uint64_t>(pointer));
    forgetRdmaRegistration(client, pointer, range->bytes);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemHostGetFlags(unsigned int* flags, void* pointer) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    auto range = rt.hostRange(reinterpret_cast<std::uint64_t>(pointer));
    if (flags == nullptr || !range || !range->allocated) return CUDA_ERROR_INVALID_VALUE;
    *flags = range->flags;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr pointer) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return pointerAttribute(rt, pointer, attribute, data, true);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuPointerGetAttributes(unsigned int count, CUpointer_attribute* attributes, void** data,
                                                      CUdeviceptr pointer) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < count; ++i) {
      if (data[i] == nullptr) continue;
      if (CUresult result = pointerAttribute(rt, pointer, attributes[i], data[i], false); result != CUDA_SUCCESS) {
        return result;
      }
    }
    return CUDA_SUCCESS;
  });
}
