// Launches N empty kernels and synchronizes once: with FASTGPU_STATS=1 the difference between
// `launch_storm N` and `launch_storm 0` is what N launches cost in round trips.
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#define CHECK(call)                                                   \
  do {                                                                \
    CUresult status_ = (call);                                        \
    if (status_ != CUDA_SUCCESS) {                                    \
      std::printf("%s failed: %d\n", #call, static_cast<int>(status_)); \
      return 1;                                                       \
    }                                                                 \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: launch_storm FATBIN COUNT\n");
    return 2;
  }
  std::ifstream file(argv[1], std::ios::binary);
  std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  long count = std::atol(argv[2]);
  CHECK(cuInit(0));
  CUcontext context;
  CHECK(cuDevicePrimaryCtxRetain(&context, 0));
  CHECK(cuCtxSetCurrent(context));
  CUmodule module;
  CHECK(cuModuleLoadData(&module, image.data()));
  CUfunction spin;
  CHECK(cuModuleGetFunction(&spin, module, "fastgpu_spin"));
  unsigned long long micros = 0;
  void* params[] = {&micros};
  for (long i = 0; i < count; ++i) CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  CHECK(cuCtxSynchronize());
  std::printf("launched %ld kernels\n", count);
  return 0;
}
