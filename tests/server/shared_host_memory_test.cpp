// A same-host session's pinned memory on the worker's side, on cudasim: ranges handed out,
// registered and found only inside an allocation, freed ranges reused, the session's bound kept.
#include "server/shared_host_memory.h"

#include <sys/mman.h>

#include <cstring>

#include <gtest/gtest.h>

#include "server/loaded_driver.h"

namespace fastgpu::server {
namespace {

constexpr std::uint64_t kPage = 4096;

class SharedHostMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = LoadedDriver::load(FASTGPU_CUDASIM_LIBRARY);
    ASSERT_TRUE(loaded) << loaded.status().message();
    driver = std::move(*loaded);
    CUcontext context;
    ASSERT_EQ(driver->api().cuDevicePrimaryCtxRetain(&context, 0), CUDA_SUCCESS);
    ASSERT_EQ(driver->api().cuCtxSetCurrent(context), CUDA_SUCCESS);
  }
  SharedHostMemory memory(std::uint64_t limit) {
    auto heap = protocol::SharedHeap::create();
    EXPECT_TRUE(heap);
    return SharedHostMemory(driver->api(), std::move(*heap), limit);
  }
  std::unique_ptr<LoadedDriver> driver;
};

TEST_F(SharedHostMemoryTest, AllocationsAreRegisteredAndFoundOnlyWithinThemselves) {
  auto heap = protocol::SharedHeap::create();
  ASSERT_TRUE(heap);
  int descriptor = heap->descriptor();
  SharedHostMemory shared(driver->api(), std::move(*heap), 1 << 20);
  auto first = shared.allocate(100);
  auto second = shared.allocate(3 * kPage);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->offset, 0u);
  EXPECT_EQ(second->offset, kPage) << "whole pages each";
  auto address = shared.find(second->offset + 10, 3 * kPage - 10);
  ASSERT_TRUE(address) << address.status().message();
  unsigned type = 0;
  EXPECT_EQ(driver->api().cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                                reinterpret_cast<CUdeviceptr>(*address)),
            CUDA_SUCCESS);
  EXPECT_EQ(type, CU_MEMORYTYPE_HOST) << "registered with the driver";
  EXPECT_EQ(second->device + 10, reinterpret_cast<std::uint64_t>(*address))
      << "mapped for the device, at this side's address (unified addressing)";
  // What the client writes through its own mapping is what this side reads.
  void* client = ::mmap(nullptr, 3 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, static_cast<off_t>(second->offset));
  ASSERT_NE(client, MAP_FAILED);
  static_cast<char*>(client)[10] = 'x';
  EXPECT_EQ(*static_cast<char*>(*address), 'x');
  ::munmap(client, 3 * kPage);
  // Receive ranges running past an allocation, across two, in none, or overflowing. Expect: refused.
  EXPECT_FALSE(shared.find(second->offset, 3 * kPage + 1));
  EXPECT_FALSE(shared.find(first->offset, 2 * kPage));
  EXPECT_FALSE(shared.find(second->offset + 3 * kPage, 1));
  EXPECT_FALSE(shared.find(second->offset + 1, ~0ULL));
  EXPECT_FALSE(shared.free(second->offset + kPage)) << "only an allocation's start frees it";
}

TEST_F(SharedHostMemoryTest, FreedRangesAreReusedAndTheBoundHolds) {
  SharedHostMemory shared = memory(8 * kPage);
  auto a = shared.allocate(2 * kPage);
  auto b = shared.allocate(2 * kPage);
  auto c = shared.allocate(2 * kPage);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(shared.allocate(4 * kPage).code(), CUDA_ERROR_OUT_OF_MEMORY) << "past the session's bound";
  ASSERT_TRUE(shared.free(a->offset));
  ASSERT_TRUE(shared.free(b->offset));
  EXPECT_FALSE(shared.free(b->offset)) << "freed twice";
  EXPECT_FALSE(shared.find(a->offset, 1)) << "freed memory is not found";
  // The two freed neighbours merged: one allocation of both fits where they were.
  auto merged = shared.allocate(4 * kPage);
  ASSERT_TRUE(merged) << merged.status().message();
  EXPECT_EQ(merged->offset, a->offset);
  EXPECT_TRUE(shared.allocate(2 * kPage)) << "the last free pages below the bound";
  EXPECT_FALSE(shared.allocate(1));
  EXPECT_EQ(shared.allocate(0).code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(shared.allocate(~0ULL).code(), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(SharedHostMemoryTest, TheNumberOfAllocationsIsBounded) {
  SharedHostMemory shared = memory(1ULL << 40);
  // Receive one-page allocations past the bound. Expect: refused there, allowed again after a free.
  std::uint64_t first = 0;
  for (std::size_t i = 0; i < SharedHostMemory::kMaxAllocations; ++i) {
    auto granted = shared.allocate(1);
    ASSERT_TRUE(granted) << i << ": " << granted.status().message();
    if (i == 0) first = granted->offset;
  }
  EXPECT_EQ(shared.allocate(1).code(), CUDA_ERROR_OUT_OF_MEMORY);
  ASSERT_TRUE(shared.free(first));
  EXPECT_TRUE(shared.allocate(1));
}

}  // namespace
}  // namespace fastgpu::server
