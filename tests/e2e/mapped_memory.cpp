// Mapped page-locked memory (zero copy): a kernel writes host memory through the device address
// cuMemHostGetDevicePointer gives, and the host reads it after a synchronize — natively, and
// through FastGPU over shared memory, where the memory is shared with the server. Freeing such
// memory waits for the device's work, as the driver does.
#include <cuda.h>

#include <cstdio>
#include <cstring>

#include "driver_check.h"
#include "test_kernels_setup.h"

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module)) {
    std::printf("the test kernels did not load\n");
    return 1;
  }
  CUfunction touch;
  CHECK(cuModuleGetFunction(&touch, module, "touch"));
  int canMap = 0;
  CHECK(cuDeviceGetAttribute(&canMap, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 0));
  std::printf("can map host memory: %d\n", canMap);
  // Allocated mapped, and allocated plainly (with unified addressing, mapped too).
  for (unsigned flags : {static_cast<unsigned>(CU_MEMHOSTALLOC_DEVICEMAP), 0u}) {
    void* host = nullptr;
    CHECK(cuMemHostAlloc(&host, 1 << 20, flags));
    std::memset(host, 0, 1 << 20);
    CUdeviceptr device = 0;
    CHECK(cuMemHostGetDevicePointer(&device, host, 0));
    for (int i = 0; i < 4; ++i) {
      CUdeviceptr address = device + static_cast<CUdeviceptr>(i) * 4096 * 64;
      int value = 1000 * (i + 1) + static_cast<int>(flags);
      void* params[] = {&address, &value};
      CHECK(cuLaunchKernel(touch, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
    }
    CHECK(cuCtxSynchronize());
    const int* values = static_cast<const int*>(host);
    std::printf("flags %u: the kernels wrote %d %d %d %d\n", flags, values[0], values[1024 * 64], values[2048 * 64],
                values[3072 * 64]);
    CUdeviceptr inside = 0;
    CHECK(cuMemHostGetDevicePointer(&inside, static_cast<char*>(host) + 12345, 0));
    std::printf("an address inside: %s\n", inside == device + 12345 ? "offset alike" : "DIFFERENT");
    CHECK(cuMemFreeHost(host));
  }
  // A long kernel, then a free: the device is idle when cuMemFreeHost returns.
  CUfunction spin;
  CHECK(cuModuleGetFunction(&spin, module, "fastgpu_spin"));
  void* doomed = nullptr;
  CHECK(cuMemAllocHost(&doomed, 4096));
  unsigned long long micros = 300000;
  void* spinParams[] = {&micros};
  CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, spinParams, nullptr));
  CHECK(cuMemFreeHost(doomed));
  std::printf("the device after cuMemFreeHost: %s\n", cuStreamQuery(nullptr) == CUDA_SUCCESS ? "idle" : "STILL BUSY");
  int local = 0;
  std::printf("memory never allocated pinned: %d\n", static_cast<int>(cuMemHostGetDevicePointer(nullptr, &local, 0)));
  std::printf("mapped_memory: done\n");
  return 0;
}
