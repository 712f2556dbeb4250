// Interprocess sharing of device memory (cudasim/ipc.h) and of events (cudasim/ipc_event.h).
#include <unistd.h>

#include <cstring>

#include "cudasim/entry.h"
#include "cudasim/event.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

CUresult openHandle(const char* name, CUdeviceptr* pointer, const CUipcMemHandle& handle, unsigned flags) {
  return driverEntry(name, [&](Driver& driver) {
    if (pointer == nullptr || (flags & ~static_cast<unsigned>(CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS)) != 0) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    IpcMemHandleContents contents;
    std::memcpy(&contents, handle.reserved, sizeof(contents));
    auto base = driver.ipcImports().open(contents, (*context)->device(), (*context)->handle());
    if (!base) return fail(base);
    *pointer = *base;
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle* handle, CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    Device* device = driver.deviceOfAddress(pointer);
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto contents = shareAllocation(*device, pointer);
    if (!contents) return fail(contents);
    std::memset(handle->reserved, 0, sizeof(handle->reserved));
    std::memcpy(handle->reserved, &*contents, sizeof(*contents));
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr* pointer, CUipcMemHandle handle, unsigned int flags) {
  return openHandle(__func__, pointer, handle, flags);
}
FASTGPU_SIM_EXPORT CUresult cuIpcOpenMemHandle(CUdeviceptr* pointer, CUipcMemHandle handle, unsigned int flags) {
  return openHandle(__func__, pointer, handle, flags);
}

FASTGPU_SIM_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    if (driver.pools().isImportedPointer(pointer)) return CUDA_ERROR_INVALID_VALUE;  // freed, not closed
    (*context)->synchronize();  // work that may still use it
    return fail(driver.ipcImports().close(pointer));
  });
}

FASTGPU_SIM_EXPORT CUresult cuIpcGetEventHandle(CUipcEventHandle* handle, CUevent eventHandle) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto event = driver.handles().find<Event>(HandleKind::kEvent, eventHandle);
    if (!event) return CUDA_ERROR_INVALID_HANDLE;
    if (!event->shared()) return CUDA_ERROR_INVALID_VALUE;  // not made with CU_EVENT_INTERPROCESS
    IpcEventHandleContents contents = event->shared()->handle();
    std::memset(handle->reserved, 0, sizeof(handle->reserved));
    std::memcpy(handle->reserved, &contents, sizeof(contents));
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuIpcOpenEventHandle(CUevent* out, CUipcEventHandle handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    IpcEventHandleContents contents;
    std::memcpy(&contents, handle.reserved, sizeof(contents));
    auto shared = SharedEventState::open(contents);
    if (!shared) return fail(shared);
    auto event = std::make_shared<Event>(CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING, (*context)->handle(),
                                         std::move(*shared));
    driver.handles().add(HandleKind::kEvent, event);
    driver.own(**context, event->handle());
    *out = toHandle<CUevent>(event->handle());
    return CUDA_SUCCESS;
  });
}
