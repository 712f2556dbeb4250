// Which twin a kernel name finds: exact names, the names nvcc gives kernels of internal linkage
// (file-static under -rdc=true, anonymous namespaces), and twins registered twice; and the C++
// helpers twins use over ABI 2.
#include "cudasim/twin_registry.h"

#include <gtest/gtest.h>

#include <string>

#include "cudaabi/kernel_names.h"
#include "fastgpu/sim_twin.hpp"

namespace fastgpu::sim {
namespace {

int first(const fastgpu_sim_launch*) { return 1; }
int second(const fastgpu_sim_launch*) { return 2; }

TEST(TwinRegistry, InternalLinkageNamesFindTheTwinOfTheirBaseName) {
  EXPECT_EQ(cudaabi::internalLinkageBaseName("__nv_static_43__30_kernels_cpp1_ii_7126c51d_scale_cu__Z5scalePfi"),
            std::nullopt)
      << "a tag that does not end where its length says";
  EXPECT_EQ(cudaabi::internalLinkageBaseName("__nv_static_27__14_coords_cpp1_ii_7126c51d__Z5scalePfi"), "_Z5scalePfi");
  EXPECT_EQ(cudaabi::internalLinkageBaseName("__nv_static_27__14_coords_cpp1_ii_7126c51d_plainKernel"), "plainKernel");
  EXPECT_EQ(cudaabi::internalLinkageBaseName("_ZN32_GLOBAL__N__7126c51d_6_k_cu_0c1f5scaleEPfi"), "_Z5scalePfi");
  // As nvcc 13 names them (fastgpu kernels on a program built with and without -rdc=true):
  EXPECT_EQ(cudaabi::internalLinkageBaseName("__nv_static_25__d44c9764_4_k_cu_3c7ab8be__Z5scalePff"), "_Z5scalePff");
  EXPECT_EQ(cudaabi::internalLinkageBaseName("_ZN36_GLOBAL__N__d44c9764_4_k_cu_3c7ab8be5shiftEPf"), "_Z5shiftPf");
  EXPECT_EQ(cudaabi::internalLinkageBaseName(
                "__nv_static_25__d44c9764_4_k_cu_3c7ab8be__ZN36_GLOBAL__N__d44c9764_4_k_cu_3c7ab8be5shiftEPf"),
            "_Z5shiftPf");
  EXPECT_EQ(cudaabi::internalLinkageBaseName("_ZN2ns5scaleEPfi"), std::nullopt) << "a named namespace is part of the name";
  EXPECT_EQ(cudaabi::internalLinkageBaseName("_Z5scalePfi"), std::nullopt);
  EXPECT_EQ(cudaabi::internalLinkageBaseName("__nv_static_99999999999999__x"), std::nullopt);
  EXPECT_EQ(cudaabi::internalLinkageBaseName("__nv_static_5__abc"), std::nullopt) << "nothing left after the tag";

  TwinRegistry registry;
  registry.add("_Z5scalePfi", first);
  EXPECT_EQ(registry.find("_Z5scalePfi"), first);
  EXPECT_EQ(registry.find("__nv_static_27__14_coords_cpp1_ii_7126c51d__Z5scalePfi"), first);
  EXPECT_EQ(registry.find("__nv_static_27__14_other0_cpp1_ii_00000000__Z5scalePfi"), first) << "any file's hash";
  EXPECT_EQ(registry.find("_ZN32_GLOBAL__N__7126c51d_6_k_cu_0c1f5scaleEPfi"), first);
  EXPECT_EQ(registry.find("_Z5scalePii"), nullptr);
}

TEST(TwinRegistry, ATwinRegisteredAgainReplacesTheEarlierOne) {
  TwinRegistry registry;
  registry.add("_Z4stepv", first);
  registry.add("_Z4stepv", second);
  EXPECT_EQ(registry.find("_Z4stepv"), second);
  EXPECT_NE(registry.find(kSpinKernelName), nullptr) << "the built-in twin";
}

// The C++ helpers over ABI 2 (sim_twin.hpp), against a host of each version.
std::string failedExpression;
void recordAssert(const fastgpu_sim_launch*, const char* expression, const char*, int, fastgpu_dim3, fastgpu_dim3) {
  failedExpression = expression;
}
int smCount(const fastgpu_sim_launch*, int attribute, int* value) {
  if (attribute != 16) return 1;
  *value = 132;
  return 0;
}

TEST(TwinHelpers, AssertsAndAttributesGoThroughTheHostWhenItHasThem) {
  fastgpu_sim_launch launch{};
  launch.abi_version = 2;
  launch.assert_failed = recordAssert;
  launch.device_attribute = smCount;
  fastgpu_dim3 block{0, 0, 0}, thread{1, 0, 0};
  int value = 0;
  EXPECT_TRUE(FASTGPU_SIM_ASSERT(&launch, value == 0));
  EXPECT_EQ(failedExpression, "");
  EXPECT_FALSE(FASTGPU_SIM_ASSERT(&launch, value > 0));
  EXPECT_EQ(failedExpression, "value > 0");
  EXPECT_EQ(deviceAttribute(&launch, 16, -1), 132);
  EXPECT_EQ(deviceAttribute(&launch, 999, -1), -1) << "an attribute the host does not know";
  launch.abi_version = 1;  // an older host: the fields are not there
  launch.device_attribute = nullptr;
  launch.assert_failed = nullptr;
  EXPECT_EQ(deviceAttribute(&launch, 16, -1), -1);
  EXPECT_FALSE(FASTGPU_SIM_ASSERT(&launch, value > 0));
}

}  // namespace
}  // namespace fastgpu::sim
