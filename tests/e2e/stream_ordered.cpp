// Stream-ordered allocation as frameworks use it (PyTorch's cudaMallocAsync backend): allocations
// and frees on two streams from the default pool with a release threshold, a kernel writing into
// pool memory, a pool created and destroyed, trimming. A run through FastGPU must print the same.
//   stream_ordered FATBIN     (the test kernels; their twins must be loaded)
#include <cuda.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "call_report.h"
#include "test_kernels_setup.h"

constexpr std::size_t kMiB = 1 << 20;

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  CUfunction appendValue;
  CUstream first, second;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module) ||
      cuModuleGetFunction(&appendValue, module, "appendValue") != CUDA_SUCCESS ||
      cuStreamCreate(&first, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      cuStreamCreate(&second, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) {
    std::printf("stream_ordered: setup failed\n");
    return 1;
  }
  int supported = 0;
  cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 0);
  std::printf("memory pools supported: %d\n", supported);
  CUmemoryPool pool = nullptr, current = nullptr;
  report("cuDeviceGetDefaultMemPool", cuDeviceGetDefaultMemPool(&pool, 0));
  report("cuDeviceGetMemPool", cuDeviceGetMemPool(&current, 0));
  std::printf("the current pool is the default: %d\n", pool == current);
  std::uint64_t threshold = 64 * kMiB;
  report("release threshold 64 MiB", cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold));
  size_t freeBefore = 0, freeNow = 0, total = 0;
  cuMemGetInfo(&freeBefore, &total);

  // Allocate on the first stream, use it there, free it there; reuse it on the second.
  CUdeviceptr log = 0, length = 0;
  report("cuMemAllocAsync(8 MiB, first)", cuMemAllocAsync(&log, 8 * kMiB, first));
  report("cuMemAllocAsync(2 MiB, first)", cuMemAllocAsync(&length, 2 * kMiB, first));
  report("cuMemsetD32Async(log)", cuMemsetD32Async(log, 5, 4, first));
  report("cuMemsetD32Async(length)", cuMemsetD32Async(length, 2, 1, first));
  int value = 9;
  void* params[] = {&log, &length, &value};
  report("appendValue into pool memory", cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, first, params, nullptr));
  int back[4] = {};
  report("cuMemcpyDtoHAsync", cuMemcpyDtoHAsync(back, log, sizeof(back), first));
  report("cuMemFreeAsync(log, first)", cuMemFreeAsync(log, first));
  report("cuMemFreeAsync(length, first)", cuMemFreeAsync(length, first));
  report("cuStreamSynchronize(first)", cuStreamSynchronize(first));
  std::printf("values: %d %d %d %d\n", back[0], back[1], back[2], back[3]);
  std::uint64_t reserved = 0, used = 0;
  cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved);
  cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used);
  cuMemGetInfo(&freeNow, &total);
  std::printf("after the frees: pool holds %llu MiB, uses %llu MiB; memory taken %zu MiB\n",
              static_cast<unsigned long long>(reserved / kMiB), static_cast<unsigned long long>(used / kMiB),
              (freeBefore - freeNow) / kMiB);
  CUdeviceptr again = 0;
  report("cuMemAllocAsync(8 MiB, second)", cuMemAllocAsync(&again, 8 * kMiB, second));
  std::printf("reused the first block: %d\n", again == log);
  report("cuMemFreeAsync(second)", cuMemFreeAsync(again, second));
  report("cuMemFreeAsync(freed twice)", cuMemFreeAsync(again, second), CUDA_ERROR_INVALID_VALUE);
  report("cuStreamSynchronize(second)", cuStreamSynchronize(second));
  report("cuMemPoolTrimTo(0)", cuMemPoolTrimTo(pool, 0));
  cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved);
  cuMemGetInfo(&freeNow, &total);
  std::printf("after trimming: pool holds %llu MiB; memory taken %zu MiB\n",
              static_cast<unsigned long long>(reserved / kMiB), (freeBefore - freeNow) / kMiB);

  // A pool of one's own.
  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  CUmemoryPool mine = nullptr;
  CUdeviceptr block = 0;
  report("cuMemPoolCreate", cuMemPoolCreate(&mine, &props));
  report("cuMemAllocFromPoolAsync(4 MiB)", cuMemAllocFromPoolAsync(&block, 4 * kMiB, mine, second));
  report("cuMemFreeAsync", cuMemFreeAsync(block, second));
  report("cuStreamSynchronize", cuStreamSynchronize(second));
  report("cuMemPoolDestroy", cuMemPoolDestroy(mine));
  report("cuMemPoolDestroy(the default pool)", cuMemPoolDestroy(pool), CUDA_ERROR_INVALID_VALUE);
  threshold = 0;
  report("release threshold 0", cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold));
  cuMemGetInfo(&freeNow, &total);
  std::printf("memory taken at the end: %zu MiB\n", (freeBefore - freeNow) / kMiB);
  std::printf("stream_ordered: %s\n", failures == 0 ? "done" : "UNEXPECTED RESULTS");
  return failures == 0 ? 0 : 1;
}
