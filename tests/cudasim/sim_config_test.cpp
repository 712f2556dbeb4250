// cudasim's configuration parsing.
#include "cudasim/sim_config.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace fastgpu::sim {
namespace {

TEST(SimConfig, ParsesByteSizesWithUnits) {
  EXPECT_EQ(*parseByteSize("4096"), 4096u);
  EXPECT_EQ(*parseByteSize("512MiB"), 512ULL << 20);
  EXPECT_EQ(*parseByteSize("80GiB"), 80ULL << 30);
  EXPECT_EQ(*parseByteSize("2 GB"), 2ULL << 30);
  EXPECT_EQ(*parseByteSize("1t"), 1ULL << 40);
  EXPECT_FALSE(parseByteSize("lots"));
  EXPECT_FALSE(parseByteSize("12 parsecs"));
  EXPECT_FALSE(parseByteSize("99999999999999TiB"));
  EXPECT_FALSE(parseByteSize(""));
}

TEST(SimConfig, ReadsTheEnvironmentAndNamesBadVariables) {
  setenv("FASTGPU_SIM_DEVICES", "3", 1);
  setenv("FASTGPU_SIM_MEMORY", "1GiB", 1);
  setenv("FASTGPU_SIM_KERNELS", "/a/libx.so::/b/liby.so", 1);
  auto config = loadSimConfig();
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->deviceCount, 3);
  EXPECT_EQ(config->memoryBytes, 1ULL << 30);
  EXPECT_EQ(config->twinPlugins, (std::vector<std::string>{"/a/libx.so", "/b/liby.so"}));

  setenv("FASTGPU_SIM_DEVICES", "17", 1);
  auto tooMany = loadSimConfig();
  ASSERT_FALSE(tooMany);
  EXPECT_NE(tooMany.status().message().find("FASTGPU_SIM_DEVICES"), std::string::npos);
  setenv("FASTGPU_SIM_DEVICES", "2", 1);
  setenv("FASTGPU_SIM_MEMORY", "16KiB", 1);
  auto tooSmall = loadSimConfig();
  ASSERT_FALSE(tooSmall);
  EXPECT_NE(tooSmall.status().message().find("FASTGPU_SIM_MEMORY"), std::string::npos);
  unsetenv("FASTGPU_SIM_DEVICES");
  unsetenv("FASTGPU_SIM_MEMORY");
  unsetenv("FASTGPU_SIM_KERNELS");
}

TEST(SimConfig, AHostCopyDelayIsAWholeNumberOfMicrosecondsUpToTenSeconds) {
  setenv("FASTGPU_SIM_HOST_COPY_DELAY_US", "5000", 1);
  auto config = loadSimConfig();
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->hostCopyDelayMicros, 5000u);
  for (const char* bad : {"-1", "5ms", "10000001", "99999999999"}) {
    setenv("FASTGPU_SIM_HOST_COPY_DELAY_US", bad, 1);
    auto refused = loadSimConfig();
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.status().message().find("FASTGPU_SIM_HOST_COPY_DELAY_US"), std::string::npos);
  }
  unsetenv("FASTGPU_SIM_HOST_COPY_DELAY_US");
  EXPECT_EQ(loadSimConfig()->hostCopyDelayMicros, 0u);
}

}  // namespace
}  // namespace fastgpu::sim
