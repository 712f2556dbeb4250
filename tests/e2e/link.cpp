// Linking at run time, as JIT users do (Numba, CuPy and NVRTC programs link PTX or cubins, with
// static libraries, then load the result): each kind of input the linker takes (a cubin, PTX text
// from memory and from a file, a fat binary, a host object, a static library) linked, loaded as a
// module and its kernel launched; the linker's refusals, with the error log filled. A run through
// FastGPU must print the same.
//   link FATBIN     (the test kernels; the other images lie next to it; their twins loaded)
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "call_report.h"
#include "test_kernels_setup.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

CUdeviceptr logBuffer, length;
char errorLog[1024];
char infoLog[1024];

std::vector<char> readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {(std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>()};
}

CUlinkState createLink() {
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_INFO_LOG_BUFFER,
                            CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE};
  void* values[] = {errorLog, reinterpret_cast<void*>(sizeof(errorLog)), infoLog,
                    reinterpret_cast<void*>(sizeof(infoLog)), reinterpret_cast<void*>(1)};
  std::memset(errorLog, 'x', sizeof(errorLog));
  CUlinkState link = nullptr;
  report("cuLinkCreate", cuLinkCreate(5, options, values, &link));
  std::printf("the logs start empty: %d\n", errorLog[0] == '\0' && infoLog[0] == '\0');
  return link;
}

// Completes `link`, loads what it made and runs its appendValue with `value`.
void completeAndRun(CUlinkState link, int value) {
  void* image = nullptr;
  std::size_t size = 0;
  report("  cuLinkComplete", cuLinkComplete(link, &image, &size));
  std::printf("  an image came back: %d\n", image != nullptr && size > 0);
  CUmodule module = nullptr;
  CUfunction append = nullptr;
  report("  cuModuleLoadData(the linked image)", cuModuleLoadData(&module, image));
  report("  cuModuleGetFunction(appendValue)", cuModuleGetFunction(&append, module, "appendValue"));
  void* params[] = {&logBuffer, &length, &value};
  report("  cuLaunchKernel", cuLaunchKernel(append, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  int count = 0, last = 0;
  report("  cuCtxSynchronize", cuCtxSynchronize());
  cuMemcpyDtoH(&count, length, sizeof(count));
  if (count > 0) cuMemcpyDtoH(&last, logBuffer + (count - 1) * sizeof(int), sizeof(int));
  std::printf("  the linked kernel appended %d (entries %d)\n", last, count);
  report("  cuModuleUnload", cuModuleUnload(module));
  report("  cuLinkDestroy", cuLinkDestroy(link));
}

}  // namespace

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule testKernels;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, testKernels) ||
      cuMemAlloc(&logBuffer, 64 * sizeof(int)) != CUDA_SUCCESS || cuMemAlloc(&length, sizeof(int)) != CUDA_SUCCESS ||
      cuMemsetD32(length, 0, 1) != CUDA_SUCCESS) {
    std::printf("link: setup failed\n");
    return 1;
  }
  std::string fatbin = argv[1];
  std::string dir = fatbin.substr(0, fatbin.find_last_of('/') + 1);

  struct Input {
    const char* what;
    CUjitInputType type;
    std::string file;
    bool fromFile;
  } inputs[] = {{"a cubin", CU_JIT_INPUT_CUBIN, dir + "test_kernels.cubin", false},
                {"PTX text", CU_JIT_INPUT_PTX, dir + "test_kernels.ptx", false},
                {"a PTX file", CU_JIT_INPUT_PTX, dir + "test_kernels.ptx", true},
                {"a fat binary", CU_JIT_INPUT_FATBINARY, fatbin, true},
                {"a host object", CU_JIT_INPUT_OBJECT, dir + "test_kernels.o", true},
                {"a static library", CU_JIT_INPUT_LIBRARY, dir + "libtest_kernels.a", true}};
  int value = 100;
  for (const Input& input : inputs) {
    std::printf("linking %s\n", input.what);
    CUlinkState link = createLink();
    if (input.fromFile) {
      report("  cuLinkAddFile", cuLinkAddFile(link, input.type, input.file.c_str(), 0, nullptr, nullptr));
    } else {
      std::vector<char> bytes = readFile(input.file);
      if (input.type == CU_JIT_INPUT_PTX) bytes.push_back('\0');
      report("  cuLinkAddData", cuLinkAddData(link, input.type, bytes.data(), bytes.size(), "input", 0, nullptr,
                                              nullptr));
    }
    completeAndRun(link, ++value);
  }

  // Two inputs in one link: the kernels of both.
  std::printf("linking a cubin and PTX together\n");
  CUlinkState both = createLink();
  report("  cuLinkAddFile(cubin)", cuLinkAddFile(both, CU_JIT_INPUT_CUBIN, (dir + "test_kernels.cubin").c_str(), 0,
                                                 nullptr, nullptr));
  report("  cuLinkAddFile(PTX)", cuLinkAddFile(both, CU_JIT_INPUT_PTX, (dir + "test_kernels.ptx").c_str(), 0, nullptr,
                                               nullptr));
  completeAndRun(both, 200);

  // What the linker refuses.
  CUlinkState link = createLink();
  char garbage[64] = "this is not a cubin";
  report("cuLinkAddData(garbage as a cubin)",
         cuLinkAddData(link, CU_JIT_INPUT_CUBIN, garbage, sizeof(garbage), "garbage", 0, nullptr, nullptr),
         CUDA_ERROR_INVALID_IMAGE);
  std::printf("the error log says why: %d\n", errorLog[0] != '\0' && std::strlen(errorLog) < sizeof(errorLog));
  report("cuLinkAddData(nothing)", cuLinkAddData(link, CU_JIT_INPUT_PTX, garbage, 0, "empty", 0, nullptr, nullptr),
         CUDA_ERROR_INVALID_VALUE);
  report("cuLinkAddFile(no such file)",
         cuLinkAddFile(link, CU_JIT_INPUT_CUBIN, (dir + "no_such.cubin").c_str(), 0, nullptr, nullptr),
         CUDA_ERROR_FILE_NOT_FOUND);
  report("cuLinkAddFile(a host object as a fat binary)",
         cuLinkAddFile(link, CU_JIT_INPUT_FATBINARY, (dir + "test_kernels.o").c_str(), 0, nullptr, nullptr),
         CUDA_ERROR_INVALID_IMAGE);
  void* image = nullptr;
  std::size_t size = 0;
  report("cuLinkComplete(no inputs)", cuLinkComplete(link, &image, &size), CUDA_ERROR_INVALID_IMAGE);
  report("cuLinkDestroy", cuLinkDestroy(link));
  report("cuLinkDestroy(again)", cuLinkDestroy(link), CUDA_ERROR_INVALID_HANDLE);
  report("cuLinkComplete(a destroyed link)", cuLinkComplete(link, &image, &size), CUDA_ERROR_INVALID_HANDLE);

  if (failures == 0) std::printf("link: done\n");
  return failures == 0 ? 0 : 1;
}
