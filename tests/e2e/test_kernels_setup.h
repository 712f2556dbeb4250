// How every end-to-end program that runs the test kernels starts: the driver initialized, device
// 0's primary context current, and the test kernels' fat binary (the program's one argument,
// tests/kernels/test_kernels.cu built by nvcc) loaded.
#pragma once

#include <cuda.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

namespace fastgpu::e2e {

// The same with the fat binary's path given. False when any step fails.
inline bool loadTestKernels(const char* fatbin, CUcontext& context, CUmodule& module) {
  std::ifstream file(fatbin, std::ios::binary);
  std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return !image.empty() && cuInit(0) == CUDA_SUCCESS && cuDevicePrimaryCtxRetain(&context, 0) == CUDA_SUCCESS &&
         cuCtxSetCurrent(context) == CUDA_SUCCESS && cuModuleLoadData(&module, image.data()) == CUDA_SUCCESS;
}

// False (with a usage line for a wrong command line) when any step fails.
inline bool loadTestKernels(int argc, char** argv, CUcontext& context, CUmodule& module) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FATBIN\n", argc > 0 ? argv[0] : "program");
    return false;
  }
  return loadTestKernels(argv[1], context, module);
}

}  // namespace fastgpu::e2e
