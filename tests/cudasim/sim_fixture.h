// A cudasim loaded with dlopen, as fastgpu-server will load a driver: the tests call it through
// the generated typed table. Configuration: 2 devices of 256 MiB, the test twins.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cudaabi/driver_symbols.h"

#define ASSERT_CU(call) ASSERT_EQ((call), CUDA_SUCCESS) << #call
#define EXPECT_CU(call) EXPECT_EQ((call), CUDA_SUCCESS) << #call

namespace fastgpu::testing {

inline constexpr std::size_t kSimMemoryBytes = 256ULL << 20;

// The process-wide cudasim, initialized on first use.
const cudaabi::DriverTable& sim();

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Loads tests/kernels/test_kernels.cu's fatbin into the current context.
  CUmodule loadTestModule();
  CUfunction function(CUmodule module, const char* name);
  // Launches appendValue(log, length, value) on `stream`.
  void append(CUfunction appendValue, CUdeviceptr log, CUdeviceptr length, int value, CUstream stream);
  void spin(CUfunction spinKernel, unsigned long long micros, CUstream stream);
  // Reads the log with synchronous copies (which wait for the legacy stream).
  std::vector<int> readLog(CUdeviceptr log, CUdeviceptr length);
  // Reads the log straight from cudasim's memory, waiting for nothing.
  static std::vector<int> readLogNow(CUdeviceptr log, CUdeviceptr length);

  // A host function that holds its stream until *flag (a std::atomic<bool>) is set.
  static void gate(void* flag);

  const cudaabi::DriverTable& d = sim();
  CUcontext context = nullptr;
};

std::vector<std::uint8_t> readTestImage(const std::string& name);

}  // namespace fastgpu::testing
