// cuMemPrefetchAsync and cuMemAdvise: hints for managed memory, which FastGPU does not have. For
// the memory a session has they change nothing, as on a GPU, so they are answered here (no round
// trip): CUDA_SUCCESS for a range inside one of the process's device allocations, else
// CUDA_ERROR_INVALID_VALUE.
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

CUresult checkRange(const char* name, CUdeviceptr pointer, size_t count) {
  return remoteEntry(name, [&](Runtime& rt, Client&) -> CUresult {
    if (count == 0) return CUDA_ERROR_INVALID_VALUE;
    auto allocation = rt.allocation(pointer);
    if (!allocation || !withinAllocation(*allocation, pointer, count)) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
  });
}

CUresult advise(const char* name, CUdeviceptr pointer, size_t count, CUmem_advise advice) {
  if (advice < CU_MEM_ADVISE_SET_READ_MOSTLY || advice > CU_MEM_ADVISE_UNSET_ACCESSED_BY) return CUDA_ERROR_INVALID_VALUE;
  return checkRange(name, pointer, count);
}

CUresult prefetch(const char* name, CUdeviceptr pointer, size_t count, unsigned flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return checkRange(name, pointer, count);
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuMemPrefetchAsync_v2(CUdeviceptr pointer, size_t count, CUmemLocation,
                                                     unsigned int flags, CUstream) {
  return prefetch(__func__, pointer, count, flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemPrefetchAsync_v2_ptsz(CUdeviceptr pointer, size_t count, CUmemLocation,
                                                          unsigned int flags, CUstream) {
  return prefetch(__func__, pointer, count, flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemPrefetchAsync(CUdeviceptr pointer, size_t count, CUdevice, CUstream) {
  return prefetch(__func__, pointer, count, 0);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemPrefetchAsync_ptsz(CUdeviceptr pointer, size_t count, CUdevice, CUstream) {
  return prefetch(__func__, pointer, count, 0);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemAdvise_v2(CUdeviceptr pointer, size_t count, CUmem_advise advice, CUmemLocation) {
  return advise(__func__, pointer, count, advice);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemAdvise(CUdeviceptr pointer, size_t count, CUmem_advise advice, CUdevice) {
  return advise(__func__, pointer, count, advice);
}
