// What kernels print and what a failed device assert says: printf output reaches stdout at the
// driver's flush points (a synchronization, a blocking copy), in order with the program's own
// output; a failed assert makes the synchronization fail with CUDA_ERROR_ASSERT, its message goes
// to stderr, and the context stays failed. A run through FastGPU must print the same.
//   device_output FATBIN     (the test kernels; their twins must be loaded)
#include <cuda.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "call_report.h"
#include "test_kernels_setup.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

CUfunction reportKernel;

CUresult launch(int value, unsigned blocks, unsigned threads) {
  void* params[] = {&value};
  return cuLaunchKernel(reportKernel, blocks, 1, 1, threads, 1, 1, 0, nullptr, params, nullptr);
}

// What `body` writes to stderr (this process's file descriptor 2, whoever writes it).
template <typename Body>
std::string stderrOf(Body&& body) {
  char path[] = "/tmp/device_output_stderr_XXXXXX";
  int file = mkstemp(path);
  std::fflush(stderr);
  int saved = dup(2);
  dup2(file, 2);
  body();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  unlink(path);
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  CUdeviceptr word;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module) ||
      cuModuleGetFunction(&reportKernel, module, "report") != CUDA_SUCCESS ||
      cuMemAlloc(&word, sizeof(int)) != CUDA_SUCCESS) {
    std::printf("device_output: setup failed\n");
    return 1;
  }
  std::printf("host: before the launches\n");
  report("cuLaunchKernel(report 3, 2 blocks)", launch(3, 2, 4));
  report("cuCtxSynchronize", cuCtxSynchronize());
  std::printf("host: after the synchronization\n");
  report("cuLaunchKernel(report 5)", launch(5, 1, 1));
  int value = 0;
  report("cuMemcpyDtoH (blocking)", cuMemcpyDtoH(&value, word, sizeof(value)));
  std::printf("host: after a blocking copy\n");

  CUresult failed = CUDA_SUCCESS;
  std::string errors = stderrOf([&] {
    report("cuLaunchKernel(report 0: the assert fails)", launch(0, 1, 2));
    failed = cuCtxSynchronize();
  });
  report("cuCtxSynchronize (after the failed assert)", failed, CUDA_ERROR_ASSERT);
  std::printf("stderr meanwhile: %s", errors.c_str());
  report("cuMemAlloc (the context stays failed)", cuMemAlloc(&word, sizeof(int)), CUDA_ERROR_ASSERT);
  if (failures == 0) std::printf("device_output: done\n");
  return failures == 0 ? 0 : 1;
}
