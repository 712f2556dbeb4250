// Hints about where memory should live: cuMemPrefetchAsync and cuMemAdvise. cudasim has no managed
// memory, so for the memory it has (device allocations, mapped ranges, pinned host memory) they
// are accepted and change nothing, as they change nothing for such memory on a GPU; a range that
// is not memory of the driver's is CUDA_ERROR_INVALID_VALUE.
#include "cudasim/entry.h"
#include "cudasim/stream_work.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

CUresult checkRange(Driver& driver, CUdeviceptr pointer, size_t count) {
  if (count == 0) return CUDA_ERROR_INVALID_VALUE;
  auto kind = classify(driver, pointer, count, true);
  return kind ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult prefetch(const char* name, CUdeviceptr pointer, size_t count, unsigned flags, CUstream stream,
                  DefaultStream nullMeans) {
  return withStream(name, stream, nullMeans, [&](Driver& driver, Stream&) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    return checkRange(driver, pointer, count);
  });
}

CUresult advise(const char* name, CUdeviceptr pointer, size_t count, CUmem_advise advice) {
  return driverEntry(name, [&](Driver& driver) {
    if (advice < CU_MEM_ADVISE_SET_READ_MOSTLY || advice > CU_MEM_ADVISE_UNSET_ACCESSED_BY) return CUDA_ERROR_INVALID_VALUE;
    return checkRange(driver, pointer, count);
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuMemPrefetchAsync_v2(CUdeviceptr pointer, size_t count, CUmemLocation, unsigned int flags,
                                                  CUstream stream) {
  return prefetch(__func__, pointer, count, flags, stream, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemPrefetchAsync_v2_ptsz(CUdeviceptr pointer, size_t count, CUmemLocation,
                                                       unsigned int flags, CUstream stream) {
  return prefetch(__func__, pointer, count, flags, stream, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuMemAdvise_v2(CUdeviceptr pointer, size_t count, CUmem_advise advice, CUmemLocation) {
  return advise(__func__, pointer, count, advice);
}
FASTGPU_SIM_EXPORT CUresult cuMemPrefetchAsync(CUdeviceptr pointer, size_t count, CUdevice, CUstream stream) {
  return prefetch(__func__, pointer, count, 0, stream, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemPrefetchAsync_ptsz(CUdeviceptr pointer, size_t count, CUdevice, CUstream stream) {
  return prefetch(__func__, pointer, count, 0, stream, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuMemAdvise(CUdeviceptr pointer, size_t count, CUmem_advise advice, CUdevice) {
  return advise(__func__, pointer, count, advice);
}
