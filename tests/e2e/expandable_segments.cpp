// PyTorch's expandable segments, as a driver-API program whose output a run through FastGPU must
// reproduce: reserve a large range, map 2 MiB chunks as a tensor grows, let a kernel and copies
// use memory across chunk boundaries, unmap and release as it shrinks, free the range.
//   expandable_segments FATBIN     (the test kernels; their twins must be loaded)
#include <cuda.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "call_report.h"
#include "test_kernels_setup.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  CUfunction appendValue;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module) ||
      cuModuleGetFunction(&appendValue, module, "appendValue") != CUDA_SUCCESS) {
    std::printf("expandable_segments: setup failed\n");
    return 1;
  }
  int supported = 0;
  cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0);
  std::printf("virtual memory management supported: %d\n", supported);

  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  // PyTorch asks for chunks it can share with other processes (POSIX descriptors).
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  size_t chunk = 0;
  report("cuMemGetAllocationGranularity", cuMemGetAllocationGranularity(&chunk, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
  std::printf("granularity: %zu MiB\n", chunk >> 20);
  size_t freeBefore = 0, freeNow = 0, total = 0;
  cuMemGetInfo(&freeBefore, &total);

  // Grow: reserve 64 chunks' worth, then map one chunk at a time.
  CUdeviceptr segment = 0;
  report("cuMemAddressReserve(64 chunks)", cuMemAddressReserve(&segment, 64 * chunk, 0, 0, 0));
  std::vector<CUmemGenericAllocationHandle> chunks(4);
  CUmemAccessDesc access{};
  access.location = prop.location;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  for (size_t i = 0; i < chunks.size(); ++i) {
    report("cuMemCreate(one chunk)", cuMemCreate(&chunks[i], chunk, &prop, 0));
    report("cuMemMap", cuMemMap(segment + i * chunk, chunk, 0, chunks[i], 0));
    report("cuMemSetAccess(read-write)", cuMemSetAccess(segment + i * chunk, chunk, &access, 1));
  }
  cuMemGetInfo(&freeNow, &total);
  std::printf("memory taken by 4 chunks: %zu MiB\n", (freeBefore - freeNow) >> 20);
  CUmemAllocationProp made{};
  report("cuMemGetAllocationPropertiesFromHandle", cuMemGetAllocationPropertiesFromHandle(&made, chunks[0]));
  std::printf("a chunk's device %d, shareable as a descriptor %d\n", made.location.id,
              made.requestedHandleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);

  // A tensor across the boundary of chunks 1 and 2: filled, appended to by a kernel, copied back.
  const CUdeviceptr log = segment + 2 * chunk - 8;  // two ints before the boundary, more after
  const CUdeviceptr length = segment + 3 * chunk + 64;
  report("cuMemsetD32(across chunks)", cuMemsetD32(log, 7, 8));
  report("cuMemsetD32(length)", cuMemsetD32(length, 1, 1));
  int value = 42;
  void* params[] = {const_cast<CUdeviceptr*>(&log), const_cast<CUdeviceptr*>(&length), &value};
  report("appendValue into mapped memory", cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  report("cuCtxSynchronize", cuCtxSynchronize());
  int back[8] = {};
  report("cuMemcpyDtoH(across chunks)", cuMemcpyDtoH(back, log, sizeof(back)));
  std::printf("values:");
  for (int v : back) std::printf(" %d", v);
  std::printf("\n");
  CUdeviceptr base = 0;
  size_t size = 0;
  report("cuMemGetAddressRange(chunk 2)", cuMemGetAddressRange(&base, &size, segment + 2 * chunk + 100));
  std::printf("range: chunk %llu, %zu MiB\n", static_cast<unsigned long long>((base - segment) / chunk), size >> 20);

  // Shrink: the last two chunks go; their memory comes back; they are no longer reachable.
  report("cuMemUnmap(chunks 2 and 3)", cuMemUnmap(segment + 2 * chunk, 2 * chunk));
  report("cuMemRelease", cuMemRelease(chunks[2]));
  report("cuMemRelease", cuMemRelease(chunks[3]));
  cuMemGetInfo(&freeNow, &total);
  std::printf("memory taken by 2 chunks: %zu MiB\n", (freeBefore - freeNow) >> 20);
  report("cuMemcpyDtoH(unmapped)", cuMemcpyDtoH(back, segment + 2 * chunk, 4), CUDA_ERROR_INVALID_VALUE);
  report("cuMemMap(a released chunk)", cuMemMap(segment + 2 * chunk, chunk, 0, chunks[2], 0), CUDA_ERROR_INVALID_VALUE);
  report("cuMemAddressFree(still mapped)", cuMemAddressFree(segment, 64 * chunk), CUDA_ERROR_INVALID_VALUE);
  report("cuMemUnmap(chunks 0 and 1)", cuMemUnmap(segment, 2 * chunk));
  report("cuMemRelease", cuMemRelease(chunks[0]));
  report("cuMemRelease", cuMemRelease(chunks[1]));
  report("cuMemAddressFree", cuMemAddressFree(segment, 64 * chunk));
  cuMemGetInfo(&freeNow, &total);
  std::printf("memory taken at the end: %zu MiB\n", (freeBefore - freeNow) >> 20);
  std::printf("expandable_segments: %s\n", failures == 0 ? "done" : "UNEXPECTED RESULTS");
  return failures == 0 ? 0 : 1;
}
