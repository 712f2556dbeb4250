#include "sim_fixture.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <fstream>
#include <iterator>

namespace fastgpu::testing {

const cudaabi::DriverTable& sim() {
  static const cudaabi::DriverTable table = [] {
    setenv("FASTGPU_SIM_DEVICES", "2", 1);
    setenv("FASTGPU_SIM_MEMORY", "256MiB", 1);
    setenv("FASTGPU_SIM_KERNELS", FASTGPU_TEST_TWINS, 1);
    void* library = dlopen(FASTGPU_CUDASIM_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      ADD_FAILURE() << dlerror();
      std::abort();
    }
    auto loaded = cudaabi::loadDriverTable(library, FASTGPU_CUDASIM_LIBRARY);
    if (!loaded) std::abort();
    if (loaded->cuInit(0) != CUDA_SUCCESS) std::abort();
    return *loaded;
  }();
  return table;
}

std::vector<std::uint8_t> readTestImage(const std::string& name) {
  std::ifstream file(std::string(FASTGPU_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void SimTest::SetUp() {
  ASSERT_CU(d.cuDevicePrimaryCtxRetain(&context, 0));
  ASSERT_CU(d.cuCtxSetCurrent(context));
}

void SimTest::TearDown() {
  d.cuCtxSetCurrent(nullptr);
  d.cuDevicePrimaryCtxRelease_v2(0);
}

CUmodule SimTest::loadTestModule() {
  static const std::vector<std::uint8_t> image = readTestImage("test_kernels.fatbin");
  CUmodule module = nullptr;
  EXPECT_CU(d.cuModuleLoadData(&module, image.data()));
  return module;
}

CUfunction SimTest::function(CUmodule module, const char* name) {
  CUfunction function = nullptr;
  EXPECT_CU(d.cuModuleGetFunction(&function, module, name));
  return function;
}

void SimTest::append(CUfunction appendValue, CUdeviceptr log, CUdeviceptr length, int value, CUstream stream) {
  void* params[] = {&log, &length, &value};
  EXPECT_CU(d.cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
}

void SimTest::spin(CUfunction spinKernel, unsigned long long micros, CUstream stream) {
  void* params[] = {&micros};
  EXPECT_CU(d.cuLaunchKernel(spinKernel, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
}

std::vector<int> SimTest::readLog(CUdeviceptr log, CUdeviceptr length) {
  int count = 0;
  EXPECT_CU(d.cuMemcpyDtoH_v2(&count, length, sizeof(count)));
  std::vector<int> values(static_cast<std::size_t>(count));
  if (count > 0) {
    EXPECT_CU(d.cuMemcpyDtoH_v2(values.data(), log, values.size() * sizeof(int)));
  }
  return values;
}

void SimTest::gate(void* flag) {
  while (!static_cast<std::atomic<bool>*>(flag)->load()) std::this_thread::yield();
}

std::vector<int> SimTest::readLogNow(CUdeviceptr log, CUdeviceptr length) {
  // cudasim's device memory is host memory at the device address.
  const int* values = reinterpret_cast<const int*>(log);
  return {values, values + *reinterpret_cast<const int*>(length)};
}

}  // namespace fastgpu::testing
