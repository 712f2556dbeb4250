// SessionState on its own, with a fake driver: the one handle lookup and the one range check
// every call goes through. (The driver would catch some of these mistakes too — cudasim checks
// handle kinds — but a real driver given a stream where it expects an event crashes.)
#include "server/session_state.h"

#include <gtest/gtest.h>

namespace fastgpu::server {
namespace {

// A driver whose contexts and allocations are numbers handed out in order.
cudaabi::DriverTable fakeDriver() {
  cudaabi::DriverTable table;
  table.cuCtxCreate_v2 = [](CUcontext* context, unsigned, CUdevice) {
    static std::uintptr_t next = 0x100;
    *context = reinterpret_cast<CUcontext>(next += 0x10);
    return CUDA_SUCCESS;
  };
  table.cuCtxPopCurrent_v2 = [](CUcontext*) { return CUDA_SUCCESS; };
  table.cuCtxSetCurrent = [](CUcontext) { return CUDA_SUCCESS; };
  table.cuCtxDestroy_v2 = [](CUcontext) { return CUDA_SUCCESS; };
  table.cuMemAlloc_v2 = [](CUdeviceptr* base, std::size_t bytes) {
    static CUdeviceptr next = 0x7000'0000'0000;
    *base = next;
    next += (bytes + 0xfffff) & ~CUdeviceptr{0xfffff};
    return CUDA_SUCCESS;
  };
  table.cuMemFree_v2 = [](CUdeviceptr) { return CUDA_SUCCESS; };
  table.cuLibraryUnload = [](CUlibrary) { return CUDA_SUCCESS; };
  return table;
}

class SessionStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto context = state.createContext(0, 0, true);
    ASSERT_TRUE(context) << context.status().message();
    ASSERT_TRUE(state.makeCurrent(*context));
  }
  cudaabi::DriverTable driver = fakeDriver();
  scheduler::SessionSlot slot;
  SessionState state{driver, std::make_unique<scheduler::VgpuAccess>(
                                 std::vector<scheduler::PhysicalGpu>{{0, "GPU-0", 1ULL << 30}}, slot)};
};

TEST_F(SessionStateTest, AHandleIsFoundOnlyAsItsOwnKind) {
  int stream = 0, event = 0;
  std::uint64_t streamId = state.add(HandleKind::kStream, &stream);
  std::uint64_t eventId = state.add(HandleKind::kEvent, &event);
  EXPECT_EQ(*state.find(HandleKind::kStream, streamId), &stream);
  EXPECT_EQ(*state.find(HandleKind::kEvent, eventId), &event);
  // A stream's id named as an event, an event's as a stream, either as a context.
  EXPECT_EQ(state.find(HandleKind::kEvent, streamId).code(), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(state.find(HandleKind::kStream, eventId).code(), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(state.find(HandleKind::kContext, streamId).code(), CUDA_ERROR_INVALID_CONTEXT);
  // A forged id of the right kind, and one that was removed.
  EXPECT_EQ(state.find(HandleKind::kStream, streamId + 0x10).code(), CUDA_ERROR_INVALID_HANDLE);
  state.remove(streamId);
  EXPECT_EQ(state.find(HandleKind::kStream, streamId).code(), CUDA_ERROR_INVALID_HANDLE);
}

TEST_F(SessionStateTest, RemovingAHandleRemovesWhatItOwns) {
  int module = 0, function = 0;
  std::uint64_t moduleId = state.add(HandleKind::kModule, &module);
  std::uint64_t functionId = state.add(HandleKind::kFunction, &function, moduleId);
  state.remove(moduleId);
  EXPECT_FALSE(state.find(HandleKind::kFunction, functionId));
}

TEST_F(SessionStateTest, ACopyMustLieInsideOneAllocation) {
  auto base = state.allocate(4096);
  ASSERT_TRUE(base);
  EXPECT_TRUE(state.checkDeviceRange(*base, 4096));
  EXPECT_TRUE(state.checkDeviceRange(*base + 4095, 1));
  EXPECT_FALSE(state.checkDeviceRange(*base + 1, 4096)) << "one byte past the end";
  EXPECT_FALSE(state.checkDeviceRange(*base + 4096, 1));
  EXPECT_FALSE(state.checkDeviceRange(*base - 1, 2));
  EXPECT_FALSE(state.checkDeviceRange(*base + 100, ~std::uint64_t{0} - 50)) << "a size that wraps";
  // Two allocations side by side are two ranges: a copy may not span them.
  auto next = state.allocate(4096);
  ASSERT_TRUE(next);
  EXPECT_FALSE(state.checkDeviceRange(*base, *next - *base + 1));
  ASSERT_TRUE(state.free(*base));
  EXPECT_FALSE(state.checkDeviceRange(*base, 1)) << "freed";
  EXPECT_EQ(state.free(*base).code(), CUDA_ERROR_INVALID_VALUE) << "freed twice";
}

TEST_F(SessionStateTest, APitchedRegionMustLieInsideOneAllocationWithoutOverlapOrWrap) {
  auto base = state.allocate(4 * 1024);
  ASSERT_TRUE(base);
  EXPECT_TRUE(state.checkPitchedRange(*base, 1024, 1000, 4));
  EXPECT_TRUE(state.checkPitchedRange(*base + 24, 1024, 1000, 4)) << "the last row ends at the allocation's end";
  EXPECT_FALSE(state.checkPitchedRange(*base + 25, 1024, 1000, 4));
  EXPECT_FALSE(state.checkPitchedRange(*base, 1024, 1000, 5));
  EXPECT_FALSE(state.checkPitchedRange(*base, 512, 1000, 2)) << "rows overlap";
  EXPECT_FALSE(state.checkPitchedRange(*base + 8, ~std::uint64_t{4095}, 4104, 2)) << "a negative pitch";
  EXPECT_FALSE(state.checkPitchedRange(*base, 1ULL << 63, 1ULL << 63, 2));
  EXPECT_FALSE(state.checkPitchedRange(*base, (1ULL << 62) + 1, 8, 5)) << "rows x pitch wraps";
}

TEST_F(SessionStateTest, AGlobalIsReachableUntilItsModuleGoes) {
  int module = 0, other = 0;
  std::uint64_t moduleId = state.add(HandleKind::kModule, &module);
  std::uint64_t otherId = state.add(HandleKind::kModule, &other);
  state.addGlobalRange(0x6000'0000'0000, 64, moduleId);
  state.addGlobalRange(0x6000'0001'0000, 64, otherId);
  EXPECT_TRUE(state.checkDeviceRange(0x6000'0000'0000, 64));
  EXPECT_FALSE(state.free(0x6000'0000'0000)) << "a global is not an allocation to free";
  state.remove(moduleId);
  EXPECT_FALSE(state.checkDeviceRange(0x6000'0000'0000, 1));
  EXPECT_TRUE(state.checkDeviceRange(0x6000'0001'0000, 64)) << "another module's global stays";
}

}  // namespace
}  // namespace fastgpu::server
