// Device memory, events and pool allocations shared between processes (server/dispatch_ipc.cpp):
// handles are the server's opaque tokens, opened only by sessions of the same vGPU.
#include <cstring>

#include "interposer/shared_handles.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

CUresult openHandle(const char* name, CUdeviceptr* pointer, const CUipcMemHandle& handle, unsigned flags) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (pointer == nullptr || (flags & ~static_cast<unsigned>(CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS)) != 0) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    CallMessage call(rt.currentContextId());
    call->setIpcOpenMemHandle(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(handle.reserved), sizeof(handle.reserved)));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.size() != 2) return CUDA_ERROR_UNKNOWN;
    auto base = static_cast<std::uint64_t>(values[0]);
    if (!rt.isIpcOpened(base)) {
      rt.addAllocation(base, static_cast<std::uint64_t>(values[1]));
      rt.setIpcOpened(base, true);
    }
    *pointer = base;
    return CUDA_SUCCESS;
  });
}

// Asks the server for a handle to share (memory's or an event's): its 64 bytes.
template <typename Handle, typename Describe>
CUresult getHandle(const char* name, Handle* handle, Describe&& describe) {
  static_assert(sizeof(handle->reserved) == kSharedHandleBytes);
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    describe(call.call());
    auto shared = askSharedHandle(client, call);
    if (!shared) return shared.code();
    std::memcpy(handle->reserved, shared->data(), shared->size());
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle* handle, CUdeviceptr pointer) {
  return getHandle(__func__, handle, [&](wire::Call::Builder call) { call.setIpcGetMemHandle(pointer); });
}

FASTGPU_REMOTE_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr* pointer, CUipcMemHandle handle, unsigned int flags) {
  return openHandle(__func__, pointer, handle, flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuIpcOpenMemHandle(CUdeviceptr* pointer, CUipcMemHandle handle, unsigned int flags) {
  return openHandle(__func__, pointer, handle, flags);
}

FASTGPU_REMOTE_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr pointer) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (!rt.isIpcOpened(pointer)) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setIpcCloseMemHandle(pointer);
    std::int64_t left = 0;
    if (CUresult result = askValue(client, call, &left); result != CUDA_SUCCESS) return result;
    if (left == 0) {
      rt.setIpcOpened(pointer, false);
      rt.removeAllocation(pointer);
    }
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuIpcGetEventHandle(CUipcEventHandle* handle, CUevent event) {
  return getHandle(__func__, handle, [&](wire::Call::Builder call) { call.setIpcGetEventHandle(idOf(event)); });
}

FASTGPU_REMOTE_EXPORT CUresult cuIpcOpenEventHandle(CUevent* event, CUipcEventHandle handle) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (event == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setIpcOpenEventHandle(
        kj::arrayPtr(reinterpret_cast<const capnp::byte*>(handle.reserved), sizeof(handle.reserved)));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *event = handleOf<CUevent>((*reply)->get().getHandle());
    return CUDA_SUCCESS;
  });
}

// Allocations of a shareable pool (api_pool_sharing.cpp has the pools): exported as IPC handles
// are; taken in through an import of their pool, and freed (cuMemFree, cuMemFreeAsync) by the
// importer, which the server turns into the driver's free of the imported allocation.
FASTGPU_REMOTE_EXPORT CUresult cuMemPoolExportPointer(CUmemPoolPtrExportData* data, CUdeviceptr pointer) {
  return getHandle(__func__, data, [&](wire::Call::Builder call) { call.setMemPoolExportPointer(pointer); });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolImportPointer(CUdeviceptr* pointer, CUmemoryPool pool, CUmemPoolPtrExportData* data) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (pointer == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto request = call->initMemPoolImportPointer();
    request.setPool(idOf(pool));
    request.setData(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(data->reserved), sizeof(data->reserved)));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.size() != 2) return CUDA_ERROR_UNKNOWN;
    auto base = static_cast<std::uint64_t>(values[0]);
    if (!rt.allocation(base)) rt.addAllocation(base, static_cast<std::uint64_t>(values[1]));
    *pointer = base;
    return CUDA_SUCCESS;
  });
}
