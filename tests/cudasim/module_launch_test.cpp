// cudasim: modules and libraries, parameter layouts, globals, and launches of every form.
#include <cstring>
#include <vector>

#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

using SimModules = SimTest;

TEST_F(SimModules, ReportParameterLayoutsFromTheImage) {
  CUmodule module = loadTestModule();
  CUfunction mixed = function(module, "_Z11mixedParamsc4PairPKis");
  std::vector<std::pair<std::size_t, std::size_t>> layout;
  std::size_t offset = 0, size = 0;
  while (d.cuFuncGetParamInfo(mixed, layout.size(), &offset, &size) == CUDA_SUCCESS) layout.emplace_back(offset, size);
  EXPECT_EQ(layout, (std::vector<std::pair<std::size_t, std::size_t>>{{0, 1}, {8, 24}, {32, 8}, {40, 2}}));
  EXPECT_EQ(d.cuFuncGetParamInfo(mixed, 4, &offset, &size), CUDA_ERROR_INVALID_VALUE);
  const char* name = nullptr;
  ASSERT_CU(d.cuFuncGetName(&name, mixed));
  EXPECT_STREQ(name, "_Z11mixedParamsc4PairPKis");
  CUfunction missing;
  EXPECT_EQ(d.cuModuleGetFunction(&missing, module, "noSuchKernel"), CUDA_ERROR_NOT_FOUND);
  ASSERT_CU(d.cuModuleUnload(module));
}

TEST_F(SimModules, LoadFromEveryImageKind) {
  for (const char* image : {"test_kernels.fatbin", "test_kernels_nocompress.fatbin", "test_kernels.cubin"}) {
    auto bytes = readTestImage(image);
    CUmodule module = nullptr;
    ASSERT_CU(d.cuModuleLoadData(&module, bytes.data())) << image;
    CUfunction append;
    EXPECT_CU(d.cuModuleGetFunction(&append, module, "appendValue")) << image;
    ASSERT_CU(d.cuModuleUnload(module));
  }
  auto ptx = readTestImage("test_kernels.ptx");
  ptx.push_back(0);
  CUmodule module = nullptr;
  ASSERT_CU(d.cuModuleLoadDataEx(&module, ptx.data(), 0, nullptr, nullptr));
  ASSERT_CU(d.cuModuleUnload(module));
  std::vector<unsigned char> garbage(512, 0x77);
  garbage.back() = 0;  // NUL-terminated, so that it is read as (bad) PTX
  EXPECT_NE(d.cuModuleLoadData(&module, garbage.data()), CUDA_SUCCESS);
}

TEST_F(SimModules, GlobalsAreInitializedDeviceMemory) {
  CUmodule module = loadTestModule();
  CUdeviceptr counter = 0;
  std::size_t bytes = 0;
  ASSERT_CU(d.cuModuleGetGlobal_v2(&counter, &bytes, module, "deviceCounter"));
  EXPECT_EQ(bytes, sizeof(int));
  int value = 0;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&value, counter, sizeof(value)));
  EXPECT_EQ(value, 5);
  CUdeviceptr table = 0;
  ASSERT_CU(d.cuModuleGetGlobal_v2(&table, &bytes, module, "deviceTable"));
  EXPECT_EQ(bytes, 32u);
  EXPECT_EQ(d.cuModuleGetGlobal_v2(&table, &bytes, module, "missing"), CUDA_ERROR_NOT_FOUND);
  ASSERT_CU(d.cuModuleUnload(module));
  EXPECT_EQ(d.cuModuleGetGlobal_v2(&table, &bytes, module, "deviceTable"), CUDA_ERROR_INVALID_HANDLE);
}

TEST_F(SimModules, LaunchesWithParamsWithTheExtraBufferAndThroughLibraries) {
  CUdeviceptr log = 0, length = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&log, 64));
  ASSERT_CU(d.cuMemAlloc_v2(&length, sizeof(int)));
  ASSERT_CU(d.cuMemsetD32_v2(length, 0, 1));

  // 1. A CUfunction with kernelParams.
  CUmodule module = loadTestModule();
  CUfunction appendValue = function(module, "appendValue");
  append(appendValue, log, length, 10, nullptr);

  // 2. The extra buffer, packed by hand.
  struct {
    CUdeviceptr log;
    CUdeviceptr length;
    int value;
  } packed{log, length, 20};
  std::size_t packedBytes = 20;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &packed, CU_LAUNCH_PARAM_BUFFER_SIZE, &packedBytes,
                   CU_LAUNCH_PARAM_END};
  ASSERT_CU(d.cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, extra));

  // 3. A CUkernel from a library, passed as the CUfunction (what libcudart does).
  auto image = readTestImage("test_kernels.fatbin");
  CUlibrary library = nullptr;
  ASSERT_CU(d.cuLibraryLoadData(&library, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUkernel kernel = nullptr;
  ASSERT_CU(d.cuLibraryGetKernel(&kernel, library, "appendValue"));
  std::size_t offset = 0, size = 0;
  ASSERT_CU(d.cuKernelGetParamInfo(kernel, 2, &offset, &size));
  EXPECT_EQ(offset, 16u);
  int value = 30;
  void* params[] = {&log, &length, &value};
  ASSERT_CU(d.cuLaunchKernel(reinterpret_cast<CUfunction>(kernel), 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));

  // 4. cuLaunchKernelEx with an attribute.
  value = 40;
  CUlaunchAttribute attribute{};
  attribute.id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
  attribute.value.priority = 0;
  CUlaunchConfig config{};
  config.gridDimX = config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = config.blockDimY = config.blockDimZ = 1;
  config.attrs = &attribute;
  config.numAttrs = 1;
  ASSERT_CU(d.cuLaunchKernelEx(&config, appendValue, params, nullptr));

  ASSERT_CU(d.cuCtxSynchronize());
  EXPECT_EQ(readLog(log, length), (std::vector<int>{10, 20, 30, 40}));
  ASSERT_CU(d.cuLibraryUnload(library));
  EXPECT_EQ(d.cuLaunchKernel(reinterpret_cast<CUfunction>(kernel), 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr),
            CUDA_ERROR_INVALID_HANDLE);
  ASSERT_CU(d.cuModuleUnload(module));
  EXPECT_EQ(d.cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr), CUDA_ERROR_INVALID_HANDLE);
}

// Twins read their device's attributes through the ABI (version 2).
TEST_F(SimModules, ATwinReadsItsDevicesAttributes) {
  CUdeviceptr word = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&word, sizeof(int)));
  CUfunction touch = function(loadTestModule(), "touch");
  int askForSmCount = -16;
  void* params[] = {&word, &askForSmCount};
  ASSERT_CU(d.cuLaunchKernel(touch, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  int written = 0, smCount = 0;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&written, word, sizeof(written)));
  ASSERT_CU(d.cuDeviceGetAttribute(&smCount, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
  EXPECT_EQ(written, smCount);
  EXPECT_EQ(smCount, 132);
}

TEST_F(SimModules, LaunchAttributesThatNameEventsRecordThem) {
  CUmodule module = loadTestModule();
  CUfunction spin = function(module, "fastgpu_spin");
  CUevent start = nullptr, completed = nullptr;
  ASSERT_CU(d.cuEventCreate(&start, 0));
  ASSERT_CU(d.cuEventCreate(&completed, 0));
  std::uint64_t micros = 2000;
  void* params[] = {&micros};
  CUlaunchAttribute attributes[2]{};
  attributes[0].id = CU_LAUNCH_ATTRIBUTE_IGNORE;
  attributes[1].id = CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT;
  attributes[1].value.launchCompletionEvent.event = completed;
  CUlaunchConfig config{};
  config.gridDimX = config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = config.blockDimY = config.blockDimZ = 1;
  config.attrs = attributes;
  config.numAttrs = 2;
  ASSERT_CU(d.cuEventRecord(start, nullptr));
  ASSERT_CU(d.cuLaunchKernelEx(&config, spin, params, nullptr));
  ASSERT_CU(d.cuCtxSynchronize());
  float elapsed = 0;
  ASSERT_CU(d.cuEventElapsedTime_v2(&elapsed, start, completed)) << "the completion event was not recorded";
  EXPECT_GE(elapsed, 1.9f) << "recorded before the kernel ended";
  // Not an event: refused at the call, nothing runs.
  attributes[1].value.launchCompletionEvent.event = reinterpret_cast<CUevent>(0x4141);
  EXPECT_EQ(d.cuLaunchKernelEx(&config, spin, params, nullptr), CUDA_ERROR_INVALID_HANDLE);
  attributes[1].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT;
  attributes[1].value.programmaticEvent.event = nullptr;
  EXPECT_EQ(d.cuLaunchKernelEx(&config, spin, params, nullptr), CUDA_ERROR_INVALID_HANDLE);
  attributes[1].id = CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE;
  EXPECT_EQ(d.cuLaunchKernelEx(&config, spin, params, nullptr), CUDA_ERROR_NOT_SUPPORTED);
  ASSERT_CU(d.cuEventDestroy_v2(start));
  ASSERT_CU(d.cuEventDestroy_v2(completed));
  ASSERT_CU(d.cuModuleUnload(module));
}

TEST_F(SimModules, BadLaunchesFailAtTheCall) {
  CUmodule module = loadTestModule();
  CUfunction appendValue = function(module, "appendValue");
  CUdeviceptr nothing = 0;
  int value = 0;
  void* params[] = {&nothing, &nothing, &value};
  EXPECT_EQ(d.cuLaunchKernel(appendValue, 0, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuLaunchKernel(appendValue, 1, 1, 1, 2048, 1, 1, 0, nullptr, params, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 1 << 20, nullptr, params, nullptr),
            CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
  void* extra[] = {CU_LAUNCH_PARAM_END};
  EXPECT_EQ(d.cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, nullptr, params, extra), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuLaunchKernel(reinterpret_cast<CUfunction>(0x4242), 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr),
            CUDA_ERROR_INVALID_HANDLE);
  // A kernel without a host twin fails its launch (and says which kernel in the log).
  CUfunction mixed = function(module, "_Z11mixedParamsc4PairPKis");
  char c = 0;
  unsigned char pair[24] = {};
  short s = 0;
  void* mixedParams[] = {&c, pair, &nothing, &s};
  EXPECT_EQ(d.cuLaunchKernel(mixed, 1, 1, 1, 1, 1, 1, 0, nullptr, mixedParams, nullptr), CUDA_ERROR_NOT_FOUND);
  EXPECT_CU(d.cuCtxSynchronize()) << "failed launches leave no asynchronous error behind";
  ASSERT_CU(d.cuModuleUnload(module));
}

}  // namespace
}  // namespace fastgpu::testing
