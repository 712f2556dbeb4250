// Errors of asynchronous work, printed so that a run through FastGPU can be compared with a
// native one: a failing kernel's error comes back at the next synchronizing call, once; an
// error the server finds in a posted launch comes back by the next synchronizing call, once;
// a sticky error stays.
//   async_errors FATBIN     (the test kernels; their twins must be loaded)
#include <cuda.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "test_kernels_setup.h"

namespace {

const char* nameOf(CUresult result) {
  const char* name = nullptr;
  return cuGetErrorName(result, &name) == CUDA_SUCCESS ? name : "an unknown error";
}

void report(const char* what, CUresult result) { std::printf("%-58s %s\n", what, nameOf(result)); }

}  // namespace

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  CUfunction failWith, mixedParams;
  CUstream stream;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module) ||
      cuModuleGetFunction(&failWith, module, "failWith") != CUDA_SUCCESS ||
      cuModuleGetFunction(&mixedParams, module, "_Z11mixedParamsc4PairPKis") != CUDA_SUCCESS ||
      cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) {
    std::printf("async_errors: setup failed\n");
    return 1;
  }

  // A kernel that fails with a non-sticky error.
  int code = CUDA_ERROR_INVALID_VALUE;
  void* failParams[] = {&code};
  report("launch of a kernel that will fail:", cuLaunchKernel(failWith, 1, 1, 1, 1, 1, 1, 0, stream, failParams, nullptr));
  report("the next cuStreamSynchronize:", cuStreamSynchronize(stream));
  report("the one after:", cuStreamSynchronize(stream));

  // A launch the device refuses (mixedParams has no twin on cudasim): CUDA may report it at the
  // call or at the next synchronizing call; FastGPU posts launches, so it reports it there.
  char c = 'x';
  struct {
    double first;
    char tag[12];
  } pair{};
  const int* pointer = nullptr;
  short s = 3;
  void* mixed[] = {&c, &pair, &pointer, &s};
  CUresult launched = cuLaunchKernel(mixedParams, 1, 1, 1, 1, 1, 1, 0, stream, mixed, nullptr);
  CUresult synchronized = cuStreamSynchronize(stream);
  report("a refused launch, by the next synchronizing call:", launched != CUDA_SUCCESS ? launched : synchronized);
  report("the synchronize after that:", cuStreamSynchronize(stream));

  // A sticky error: the context is unusable from then on.
  code = CUDA_ERROR_ILLEGAL_ADDRESS;
  report("launch of a kernel that will fault:", cuLaunchKernel(failWith, 1, 1, 1, 1, 1, 1, 0, stream, failParams, nullptr));
  report("the next cuCtxSynchronize:", cuCtxSynchronize());
  report("the one after (sticky):", cuCtxSynchronize());
  std::printf("async_errors: done\n");
  return 0;
}
