// Memory pools shared between processes, remoted (server/session_pool_sharing.cpp): a shareable
// pool exports a descriptor of a sealed memory file holding the server's handle, which another
// process of the same vGPU imports as a pool of its session that allocates nothing. Its
// allocations' exports are in api_ipc.cpp.
#include "interposer/shared_handles.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolExportToShareableHandle(void* shareable, CUmemoryPool pool,
                                                                CUmemAllocationHandleType type, unsigned long long flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    // A pool shares only the handle type it was made with, and POSIX descriptors are the only one.
    if (shareable == nullptr || flags != 0 || type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    CallMessage call(rt.currentContextId());
    call->setMemPoolExport(idOf(pool));
    auto fd = askSharedDescriptor(client, call);
    if (!fd) return fd.code();
    *static_cast<int*>(shareable) = *fd;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuMemPoolImportFromShareableHandle(CUmemoryPool* pool, void* shareable,
                                                                  CUmemAllocationHandleType type, unsigned long long flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (pool == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_NOT_SUPPORTED;
    auto shared = handleInDescriptor(descriptorOf(shareable));
    if (!shared) return CUDA_ERROR_INVALID_VALUE;  // not a descriptor FastGPU made
    CallMessage call(rt.currentContextId());
    call->setMemPoolImport(kj::arrayPtr(shared->data(), shared->size()));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *pool = handleOf<CUmemoryPool>((*reply)->get().getHandle());
    return CUDA_SUCCESS;
  });
}
