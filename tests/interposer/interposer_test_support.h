// Shared by the interposer tests: the interposer (FastGPU's libcuda.so.1) as a client process uses
// it, loaded with dlopen in the test process and connected to a fastgpu-server on cudasim in a
// child process (one of each per test process: ctest runs each test in its own process; a run of
// the whole binary shares them, as a client process shares its connection).
#pragma once

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "cudaabi/driver_symbols.h"
#include "cudaabi/proc_address.h"
#include "fastgpu/sim_tensor_map.h"
#include "tests/support/raw_client.h"
#include "tests/support/server_process.h"

namespace fastgpu::interposer {

using testing::kMiB;
using testing::RawClient;
using testing::ServerProcess;

#define ASSERT_CU(call) ASSERT_EQ((call), CUDA_SUCCESS) << #call
#define EXPECT_CU(call) EXPECT_EQ((call), CUDA_SUCCESS) << #call

class InterposerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    server = std::make_unique<ServerProcess>(FASTGPU_SERVER_BINARY, FASTGPU_CUDASIM_LIBRARY,
                                             std::map<std::string, std::string>{{"FASTGPU_SIM_DEVICES", "2"},
                                                                                {"FASTGPU_SIM_MEMORY", "1GiB"},
                                                                                {"FASTGPU_SIM_KERNELS", FASTGPU_TEST_TWINS}});
    ASSERT_FALSE(server->url().empty()) << "fastgpu-server did not start";
    setenv("FASTGPU_SERVER", server->url().c_str(), 1);
    // These tests run over TCP, as across machines; on this host the client would otherwise
    // move onto shared memory (the e2e tests cover that).
    setenv("FASTGPU_TRANSPORT", "tcp", 1);
    handle = dlopen(FASTGPU_INTERPOSER_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    auto table = cudaabi::loadDriverTable(handle, "the interposer");
    ASSERT_TRUE(table) << table.status().message();
    cu = *table;
    ASSERT_EQ(cu.cuInit(0), CUDA_SUCCESS);
  }
  // The interposer stays loaded: its runtime lives until the process ends, as in a client.

  static inline std::unique_ptr<ServerProcess> server;
  static inline void* handle = nullptr;
  static inline cudaabi::DriverTable cu;
};

class Interposer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(cu.cuInit, nullptr);
    ASSERT_CU(cu.cuDevicePrimaryCtxRetain(&context, 0));
    ASSERT_CU(cu.cuCtxSetCurrent(context));
  }

  CUmodule loadTestModule() {
    std::ifstream file(std::string(FASTGPU_TEST_DATA_DIR) + "/test_kernels.fatbin", std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CUmodule module = nullptr;
    EXPECT_CU(cu.cuModuleLoadData(&module, image.data()));
    return module;
  }
  // A kernel of the test module, freshly loaded.
  CUfunction testFunction(const char* name) {
    CUfunction function = nullptr;
    EXPECT_CU(cu.cuModuleGetFunction(&function, loadTestModule(), name));
    return function;
  }
  std::vector<std::uint8_t> readDevice(CUdeviceptr address, std::size_t bytes) {
    std::vector<std::uint8_t> back(bytes);
    EXPECT_CU(cu.cuMemcpyDtoH_v2(back.data(), address, bytes));
    return back;
  }

  const cudaabi::DriverTable& cu = InterposerEnvironment::cu;
  CUcontext context = nullptr;
};

inline std::vector<std::uint8_t> pattern(std::size_t bytes, std::uint8_t seed) {
  std::vector<std::uint8_t> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = static_cast<std::uint8_t>(seed + i * 13);
  return data;
}

}  // namespace fastgpu::interposer
