// Helpers for the killed-client test:
//   memory_probe free      prints the device's free memory in bytes
//   memory_probe copy      allocates 256 MiB, prints "copying", then copies 256 MiB to it forever
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  CUcontext context;
  if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&context, 0) != CUDA_SUCCESS ||
      cuCtxSetCurrent(context) != CUDA_SUCCESS) {
    return 1;
  }
  if (std::strcmp(argv[1], "free") == 0) {
    size_t freeBytes = 0, total = 0;
    if (cuMemGetInfo(&freeBytes, &total) != CUDA_SUCCESS) return 1;
    std::printf("%zu\n", freeBytes);
    return 0;
  }
  const size_t bytes = 256u << 20;
  std::vector<char> host(bytes, 1);
  CUdeviceptr device;
  if (cuMemAlloc(&device, bytes) != CUDA_SUCCESS) return 1;
  std::printf("copying\n");
  std::fflush(stdout);
  for (;;) {
    if (cuMemcpyHtoD(device, host.data(), bytes) != CUDA_SUCCESS) return 1;
  }
}
