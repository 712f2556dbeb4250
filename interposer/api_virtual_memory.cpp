// Virtual memory management, remoted: reservations and mappings are made by the server's driver
// and mirrored here (the reserved range is reserved in this process too, decision 8; a mapping
// is device memory to pointer queries and unified copies); physical allocations are charged to
// the vGPU's quota on the server. Queries are answered from the mirror.
//
// A shareable allocation exported as a POSIX descriptor gives the program a descriptor of a small
// memory file holding FastGPU's handle (a token of the server's board, server/dispatch_ipc.cpp):
// the program passes it to another process as it would the driver's, and importing it there
// reads the handle back and asks the server, which shares the memory between sessions of the
// same vGPU only.

#include "interposer/shared_handles.h"
#include "interposer/virtual_memory_mirror.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

constexpr std::size_t kMaxAccessDescriptors = 64;

VirtualMemoryMirror& mirror() {
  static VirtualMemoryMirror* known = new VirtualMemoryMirror;  // lives until exit, like the client
  return *known;
}

// Pinned device memory, with no shareable handle or a POSIX descriptor as its handle type: what
// can be asked for (PyTorch's expandable segments ask for POSIX descriptors).
CUresult checkProperties(const CUmemAllocationProp* prop) {
  if (prop == nullptr || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
      prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  bool remoted = prop->requestedHandleTypes == CU_MEM_HANDLE_TYPE_NONE ||
                 prop->requestedHandleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  return remoted ? CUDA_SUCCESS : CUDA_ERROR_NOT_SUPPORTED;
}

void setRange(wire::VmRange::Builder range, CUdeviceptr address, size_t size) {
  range.setAddress(address);
  range.setSize(size);
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                                             CUmemAllocationGranularity_flags option) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (granularity == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult bad = checkProperties(prop); bad != CUDA_SUCCESS) return bad;
    CallMessage call(rt.currentContextId());
    auto query = call->initMemGranularity();
    query.setDevice(prop->location.id);
    query.setOption(static_cast<std::uint32_t>(option));
    return askValue(client, call, granularity);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemAddressReserve(CUdeviceptr* pointer, size_t size, size_t alignment,
                                                   CUdeviceptr hint, unsigned long long flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (pointer == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto reserve = call->initMemAddressReserve();
    reserve.setSize(size);
    reserve.setAlignment(alignment);
    reserve.setHint(hint);
    CUdeviceptr base = 0;
    if (CUresult result = askValue(client, call, &base); result != CUDA_SUCCESS) return result;
    rt.reserveDeviceAddresses(base, size);
    *pointer = base;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemAddressFree(CUdeviceptr pointer, size_t size) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    setRange(call->initMemAddressFree(), pointer, size);
    return askResult(client, call);  // the reservation here stays: the server may hand it out again
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                           const CUmemAllocationProp* prop, unsigned long long flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (handle == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult bad = checkProperties(prop); bad != CUDA_SUCCESS) return bad;
    CallMessage call(rt.currentContextId());
    auto create = call->initMemCreate();
    create.setDevice(prop->location.id);
    create.setSize(size);
    create.setHandleTypes(static_cast<std::uint32_t>(prop->requestedHandleTypes));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *handle = (*reply)->get().getHandle();
    mirror().created(*handle, prop->location.id, size, prop->requestedHandleTypes);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    auto last = mirror().release(handle);
    if (!last) return CUDA_ERROR_INVALID_VALUE;
    if (!*last) return CUDA_SUCCESS;  // another reference (cuMemRetainAllocationHandle) remains
    CallMessage call(rt.currentContextId());
    call->setMemRelease(handle);
    return askResult(client, call);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemMap(CUdeviceptr pointer, size_t size, size_t offset,
                                        CUmemGenericAllocationHandle handle, unsigned long long flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto map = call->initMemMap();
    map.setAddress(pointer);
    map.setSize(size);
    map.setOffset(offset);
    map.setHandle(handle);
    if (CUresult result = askResult(client, call); result != CUDA_SUCCESS) return result;
    mirror().mapped(pointer, size, handle);
    rt.addAllocation(pointer, size);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemUnmap(CUdeviceptr pointer, size_t size) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    setRange(call->initMemUnmap(), pointer, size);
    if (CUresult result = askResult(client, call, true); result != CUDA_SUCCESS) return result;
    for (std::uint64_t base : mirror().unmapped(pointer, size)) rt.removeAllocation(base);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemSetAccess(CUdeviceptr pointer, size_t size, const CUmemAccessDesc* desc,
                                              size_t count) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (desc == nullptr || count == 0 || count > kMaxAccessDescriptors) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto access = call->initMemSetAccess();
    access.setAddress(pointer);
    access.setSize(size);
    auto devices = access.initDevices(static_cast<unsigned>(count));
    auto flags = access.initFlags(static_cast<unsigned>(count));
    unsigned widest = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    for (size_t i = 0; i < count; ++i) {
      if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
      devices.set(static_cast<unsigned>(i), desc[i].location.id);
      flags.set(static_cast<unsigned>(i), static_cast<std::uint32_t>(desc[i].flags));
      widest = std::max<unsigned>(widest, desc[i].flags);
    }
    if (CUresult result = askResult(client, call); result != CUDA_SUCCESS) return result;
    mirror().accessSet(pointer, size, widest);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemGetAccess(unsigned long long* flags, const CUmemLocation* location,
                                              CUdeviceptr pointer) {
  return remoteEntry(__func__, [&](Runtime&, Client&) {
    if (flags == nullptr || location == nullptr || location->type != CU_MEM_LOCATION_TYPE_DEVICE) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    auto mapping = mirror().mappingAt(pointer);
    if (!mapping) return CUDA_ERROR_INVALID_VALUE;
    *flags = mapping->access;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* address) {
  return remoteEntry(__func__, [&](Runtime&, Client&) {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto retained = mirror().retain(reinterpret_cast<std::uintptr_t>(address));
    if (!retained) return CUDA_ERROR_INVALID_VALUE;
    *handle = *retained;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                                      CUmemGenericAllocationHandle handle) {
  return remoteEntry(__func__, [&](Runtime&, Client&) {
    if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto physical = mirror().physical(handle);
    if (!physical) return CUDA_ERROR_INVALID_VALUE;
    *prop = CUmemAllocationProp{};
    prop->type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop->location.id = physical->device;
    prop->requestedHandleTypes = physical->handleTypes;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemExportToShareableHandle(void* shareable, CUmemGenericAllocationHandle handle,
                                                            CUmemAllocationHandleType type, unsigned long long flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (shareable == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return cudaabi::reportNotSupported("shareable handles but POSIX descriptors");
    auto physical = mirror().physical(handle);
    if (!physical || physical->handleTypes != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setMemExport(handle);
    auto fd = askSharedDescriptor(client, call);
    if (!fd) return fd.code();
    *static_cast<int*>(shareable) = *fd;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle* handle, void* shareable,
                                                              CUmemAllocationHandleType type) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return cudaabi::reportNotSupported("shareable handles but POSIX descriptors");
    auto shared = handleInDescriptor(descriptorOf(shareable));
    if (!shared) return CUDA_ERROR_INVALID_VALUE;  // not a descriptor FastGPU made
    CallMessage call(rt.currentContextId());
    call->setMemImport(kj::arrayPtr(shared->data(), shared->size()));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.size() != 3) return CUDA_ERROR_UNKNOWN;
    auto id = static_cast<std::uint64_t>(values[0]);
    mirror().created(id, static_cast<int>(values[1]), static_cast<std::uint64_t>(values[2]),
                     CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
    *handle = id;
    return CUDA_SUCCESS;
  });
}
