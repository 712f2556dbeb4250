// cudasim's stream-ordered allocation: pools keep freed blocks up to their release threshold,
// hand a block out again only once its free is reached in stream order, and trim on request.
#include <atomic>

#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

constexpr std::uint64_t kMiB = 1ULL << 20;

class SimPools : public SimTest {
 protected:
  void SetUp() override {
    SimTest::SetUp();
    ASSERT_CU(d.cuStreamCreate(&first, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(d.cuStreamCreate(&second, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(d.cuDeviceGetDefaultMemPool(&pool, 0));
  }
  void TearDown() override {
    d.cuStreamDestroy_v2(first);
    d.cuStreamDestroy_v2(second);
    SimTest::TearDown();
  }
  std::uint64_t attribute(CUmemPool_attribute which) {
    std::uint64_t value = 0;
    EXPECT_CU(d.cuMemPoolGetAttribute(pool, which, &value));
    return value;
  }
  std::size_t freeMemory() {
    size_t free = 0, total = 0;
    EXPECT_CU(d.cuMemGetInfo_v2(&free, &total));
    return free;
  }

  CUstream first = nullptr, second = nullptr;
  CUmemoryPool pool = nullptr;
};

TEST_F(SimPools, APoolKeepsWhatItsThresholdAllowsAcrossStreamsUntilTrimmed) {
  std::uint64_t threshold = 64 * kMiB;
  ASSERT_CU(d.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold));
  const std::size_t before = freeMemory();
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(d.cuMemAllocAsync(&a, 16 * kMiB, first));
  ASSERT_CU(d.cuMemsetD8Async(a, 1, 16 * kMiB, first));
  ASSERT_CU(d.cuMemFreeAsync(a, first));
  ASSERT_CU(d.cuStreamSynchronize(first));
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), 16 * kMiB) << "kept under the threshold";
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0u);
  EXPECT_EQ(freeMemory(), before - 16 * kMiB) << "what a pool holds is taken from the device";
  ASSERT_CU(d.cuMemAllocAsync(&b, 16 * kMiB, second));
  EXPECT_EQ(b, a) << "the block is reused on another stream once its free was reached";
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), 16 * kMiB);
  ASSERT_CU(d.cuMemFreeAsync(b, second));
  ASSERT_CU(d.cuStreamSynchronize(second));
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH), 16 * kMiB);
  ASSERT_CU(d.cuMemPoolTrimTo(pool, 0));
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), 0u);
  EXPECT_EQ(freeMemory(), before);
  std::uint64_t zero = 0;
  ASSERT_CU(d.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH, &zero));
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH), 0u) << "reset to the current value";
  ASSERT_CU(d.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &zero));
}

TEST_F(SimPools, ABlockIsNotHandedOutBeforeItsFreeIsReached) {
  std::atomic<bool> release{false};
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(d.cuMemAllocAsync(&a, kMiB, first));
  ASSERT_CU(d.cuLaunchHostFunc(first, gate, &release));  // holds the first stream
  ASSERT_CU(d.cuMemFreeAsync(a, first));
  ASSERT_CU(d.cuMemAllocAsync(&b, kMiB, second));
  EXPECT_NE(b, a) << "the free is still queued behind the gate";
  release = true;
  ASSERT_CU(d.cuStreamSynchronize(first));
  ASSERT_CU(d.cuMemFreeAsync(b, second));
  ASSERT_CU(d.cuStreamSynchronize(second));
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), 0u) << "threshold 0: nothing kept";
}

TEST_F(SimPools, CreatedPoolsAndTheirMisuse) {
  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  CUmemoryPool mine = nullptr;
  ASSERT_CU(d.cuMemPoolCreate(&mine, &props));
  CUdeviceptr a = 0;
  ASSERT_CU(d.cuMemAllocFromPoolAsync(&a, 4096, mine, first));
  ASSERT_CU(d.cuDeviceSetMemPool(0, mine));
  CUmemoryPool current = nullptr;
  ASSERT_CU(d.cuDeviceGetMemPool(&current, 0));
  EXPECT_EQ(current, mine);
  ASSERT_CU(d.cuMemFreeAsync(a, first));
  EXPECT_EQ(d.cuMemFreeAsync(a, first), CUDA_ERROR_INVALID_VALUE) << "freed twice";
  ASSERT_CU(d.cuStreamSynchronize(first));
  ASSERT_CU(d.cuMemPoolDestroy(mine));
  ASSERT_CU(d.cuDeviceGetMemPool(&current, 0));
  EXPECT_EQ(current, pool) << "the default pool again";
  EXPECT_EQ(d.cuMemPoolDestroy(pool), CUDA_ERROR_INVALID_VALUE) << "a default pool stays";
  EXPECT_EQ(d.cuMemAllocFromPoolAsync(&a, 4096, reinterpret_cast<CUmemoryPool>(0x5150), first),
            CUDA_ERROR_INVALID_VALUE)
      << "a forged pool";
  props.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  EXPECT_EQ(d.cuMemPoolCreate(&mine, &props), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(d.cuMemAllocAsync(&a, 2 * kSimMemoryBytes, first), CUDA_ERROR_OUT_OF_MEMORY);
  // cuMemFree takes a stream-ordered allocation back at once.
  ASSERT_CU(d.cuMemAllocAsync(&a, kMiB, first));
  ASSERT_CU(d.cuMemFree_v2(a));
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0u);
  EXPECT_EQ(d.cuMemFreeAsync(a, first), CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace fastgpu::testing
