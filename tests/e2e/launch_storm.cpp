// Launches N empty kernels and synchronizes once: with FASTGPU_STATS=1 the difference between
// `launch_storm N` and `launch_storm 0` is what N launches cost in round trips.
#include <cuda.h>

#include <cstdio>
#include <cstdlib>

#include "driver_check.h"
#include "test_kernels_setup.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: launch_storm FATBIN COUNT\n");
    return 2;
  }
  long count = std::atol(argv[2]);
  CUcontext context;
  CUmodule module;
  if (!fastgpu::e2e::loadTestKernels(argv[1], context, module)) {
    std::printf("the test kernels did not load\n");
    return 1;
  }
  CUfunction spin;
  CHECK(cuModuleGetFunction(&spin, module, "fastgpu_spin"));
  unsigned long long micros = 0;
  void* params[] = {&micros};
  for (long i = 0; i < count; ++i) CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  CHECK(cuCtxSynchronize());
  std::printf("launched %ld kernels\n", count);
  return 0;
}
