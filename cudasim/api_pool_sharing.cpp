// Memory pools shared between processes (cudasim/pool_sharing.h). Freeing an imported allocation
// is in api_memory.cpp (cuMemFree) and api_memory_pool.cpp (cuMemFreeAsync).
#include <cstring>

#include "cudasim/entry.h"
#include "cudasim/pool_sharing.h"

using namespace fastgpu;
using namespace fastgpu::sim;

FASTGPU_SIM_EXPORT CUresult cuMemPoolExportToShareableHandle(void* shareable, CUmemoryPool handle,
                                                             CUmemAllocationHandleType type, unsigned long long flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (shareable == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    auto pool = driver.pools().find(handle);
    // A pool shares only the handle type it was made with, and POSIX descriptors are the only one.
    if (!pool || type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_INVALID_VALUE;
    auto fd = exportPool(*pool, pool->device().ordinal());
    if (!fd) return fail(fd);
    *static_cast<int*>(shareable) = *fd;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolImportFromShareableHandle(CUmemoryPool* out, void* shareable,
                                                               CUmemAllocationHandleType type, unsigned long long flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (out == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_NOT_SUPPORTED;
    // The descriptor travels in the pointer's bits, as the driver takes it.
    auto contents = readPoolExport(static_cast<int>(reinterpret_cast<std::intptr_t>(shareable)));
    if (!contents) return fail(contents);
    Device* device = driver.device(contents->device);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    *out = driver.pools().import(*device, contents->pool);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolExportPointer(CUmemPoolPtrExportData* out, CUdeviceptr pointer) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto pool = driver.pools().ownerOf(pointer);
    if (!pool || !pool->exportable()) return CUDA_ERROR_INVALID_VALUE;
    auto memory = shareAllocation(pool->device(), pointer);
    if (!memory) return fail(memory);
    PoolPointerContents contents;
    contents.pool = pool->identity();
    contents.memory = *memory;
    std::memset(out->reserved, 0, sizeof(out->reserved));
    std::memcpy(out->reserved, &contents, sizeof(contents));
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuMemPoolImportPointer(CUdeviceptr* out, CUmemoryPool handle, CUmemPoolPtrExportData* data) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (out == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    auto pool = driver.pools().find(handle);
    PoolPointerContents contents;
    std::memcpy(&contents, data->reserved, sizeof(contents));
    // Only through an import of the pool it came from.
    if (!pool || !pool->imported() || contents.magic != PoolPointerContents::kMagic || !(contents.pool == pool->identity())) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    auto base = driver.ipcImports().open(contents.memory, pool->device(), (*context)->handle());
    if (!base) return fail(base);
    driver.pools().importedPointer(*base, pool);
    *out = *base;
    return CUDA_SUCCESS;
  });
}
