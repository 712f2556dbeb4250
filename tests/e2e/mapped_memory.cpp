// Mapped page-locked memory (zero copy): a kernel writes host memory through the device address
// cuMemHostGetDevicePointer gives, and the host reads it after a synchronize — natively, and
// through FastGPU over shared memory, where the memory is shared with the server. Freeing such
// memory waits for the device's work, as the driver does. Registered memory (malloc'd, not
// page-aligned) is mapped too, copies both ways, stays the program's own in a forked child, and
// is private memory again, with what the device wrote, once unregistered.
#include <cuda.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

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
  // Registered: 100 bytes into a heap buffer, two pages and a bit; its neighbours share its pages.
  std::vector<char> storage(3 * 4096 + 200, 1);
  char* buffer = storage.data() + 100;
  const std::size_t bytes = 2 * 4096 + 50;
  std::memset(buffer, 7, bytes);
  CHECK(cuMemHostRegister(buffer, bytes, CU_MEMHOSTREGISTER_DEVICEMAP));
  CUdeviceptr registered = 0;
  CHECK(cuMemHostGetDevicePointer(&registered, buffer, 0));
  CUdeviceptr target = registered + 4096;
  int written = 4242;
  void* touchParams[] = {&target, &written};
  CHECK(cuLaunchKernel(touch, 1, 1, 1, 1, 1, 1, 0, nullptr, touchParams, nullptr));
  CHECK(cuCtxSynchronize());
  int seen = 0;
  std::memcpy(&seen, buffer + 4096, sizeof(seen));
  std::printf("registered: the kernel wrote %d; the bytes around it %d %d, a neighbour %d\n", seen, buffer[0],
              buffer[bytes - 1], storage[10]);
  CUdeviceptr device = 0;
  CHECK(cuMemAlloc(&device, bytes));
  CHECK(cuMemcpyHtoD(device, buffer, bytes));
  std::memset(buffer, 0, bytes);
  CHECK(cuMemcpyDtoH(buffer, device, bytes));
  std::memcpy(&seen, buffer + 4096, sizeof(seen));
  std::printf("registered, copied there and back: %d %d %d\n", buffer[0], seen, buffer[bytes - 1]);
  pid_t child = fork();
  if (child == 0) {  // the child's copy of the memory is its own
    buffer[0] = 99;
    storage[10] = 99;
    _exit(buffer[0] == 99 ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("after a forked child wrote its copy: child %s, here %d and a neighbour %d\n",
              WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "FAILED", buffer[0], storage[10]);
  CHECK(cuMemHostUnregister(buffer));
  buffer[1] = 5;
  std::memcpy(&seen, buffer + 4096, sizeof(seen));
  std::printf("unregistered: %d %d %d, a neighbour %d\n", buffer[0], buffer[1], seen, storage[10]);
  std::printf("unregistered twice: %d\n", static_cast<int>(cuMemHostUnregister(buffer)));
  CHECK(cuMemFree(device));
  int local = 0;
  std::printf("memory never allocated pinned: %d\n", static_cast<int>(cuMemHostGetDevicePointer(nullptr, &local, 0)));
  std::printf("mapped_memory: done\n");
  return 0;
}
