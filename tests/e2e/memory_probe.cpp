// Helpers for the memory and administration tests:
//   memory_probe free         prints the device's free memory in bytes
//   memory_probe total        prints the device's total memory in bytes
//   memory_probe alloc BYTES  allocates BYTES and prints "allocated" or the error's name
//   memory_probe copy         allocates 256 MiB, prints "copying", then copies 256 MiB to it until
//                             a copy fails ("copy failed: ERROR_NAME")
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  CUcontext context;
  if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&context, 0) != CUDA_SUCCESS ||
      cuCtxSetCurrent(context) != CUDA_SUCCESS) {
    return 1;
  }
  if (std::strcmp(argv[1], "free") == 0 || std::strcmp(argv[1], "total") == 0) {
    size_t freeBytes = 0, total = 0;
    if (cuMemGetInfo(&freeBytes, &total) != CUDA_SUCCESS) return 1;
    std::printf("%zu\n", argv[1][0] == 'f' ? freeBytes : total);
    return 0;
  }
  if (std::strcmp(argv[1], "alloc") == 0 && argc == 3) {
    CUdeviceptr device;
    CUresult result = cuMemAlloc(&device, std::strtoull(argv[2], nullptr, 10));
    const char* name = nullptr;
    cuGetErrorName(result, &name);
    std::printf("%s\n", result == CUDA_SUCCESS ? "allocated" : (name != nullptr ? name : "unknown error"));
    return 0;
  }
  const size_t bytes = 256u << 20;
  std::vector<char> host(bytes, 1);
  CUdeviceptr device;
  if (cuMemAlloc(&device, bytes) != CUDA_SUCCESS) return 1;
  std::printf("copying\n");
  std::fflush(stdout);
  for (;;) {
    if (CUresult result = cuMemcpyHtoD(device, host.data(), bytes); result != CUDA_SUCCESS) {
      const char* name = nullptr;
      cuGetErrorName(result, &name);
      std::printf("copy failed: %s\n", name != nullptr ? name : "unknown error");
      return 1;
    }
  }
}
