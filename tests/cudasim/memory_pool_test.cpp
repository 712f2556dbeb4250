// cudasim's stream-ordered allocation: pools keep freed blocks up to their release threshold,
// hand a block out again only once its free is reached in stream order, and trim on request.
// Pools shared between processes: what one process can check (the e2e test pool_ipc shares
// between two).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "cudaabi/sealed_descriptor.h"
#include "cudasim/pool_sharing.h"

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
  props.handleTypes = CU_MEM_HANDLE_TYPE_FABRIC;
  EXPECT_EQ(d.cuMemPoolCreate(&mine, &props), CUDA_ERROR_NOT_SUPPORTED) << "shared as POSIX descriptors only";
  EXPECT_EQ(d.cuMemAllocAsync(&a, 2 * kSimMemoryBytes, first), CUDA_ERROR_OUT_OF_MEMORY);
  // cuMemFree takes a stream-ordered allocation back at once.
  ASSERT_CU(d.cuMemAllocAsync(&a, kMiB, first));
  ASSERT_CU(d.cuMemFree_v2(a));
  EXPECT_EQ(attribute(CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0u);
  EXPECT_EQ(d.cuMemFreeAsync(a, first), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(SimPools, SharedPoolsAreRefusedEverythingTheirHandleTypesAndOriginDoNotAllow) {
  int types = 0;
  ASSERT_CU(d.cuDeviceGetAttribute(&types, CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES, 0));
  EXPECT_EQ(types, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  CUmemoryPool shared = nullptr;
  ASSERT_CU(d.cuMemPoolCreate(&shared, &props));
  int fd = -1;
  EXPECT_EQ(d.cuMemPoolExportToShareableHandle(&fd, pool, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
            CUDA_ERROR_INVALID_VALUE)
      << "the default pool is not shareable";
  EXPECT_EQ(d.cuMemPoolExportToShareableHandle(&fd, shared, CU_MEM_HANDLE_TYPE_FABRIC, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemPoolExportToShareableHandle(&fd, shared, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 1),
            CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(d.cuMemPoolExportToShareableHandle(&fd, shared, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  auto asHandle = [](int descriptor) { return reinterpret_cast<void*>(static_cast<std::intptr_t>(descriptor)); };
  CUmemoryPool imported = nullptr;
  EXPECT_EQ(d.cuMemPoolImportFromShareableHandle(&imported, asHandle(fd), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
            CUDA_ERROR_INVALID_VALUE)
      << "imported by other processes only";
  int devNull = open("/dev/null", O_RDONLY);
  EXPECT_EQ(d.cuMemPoolImportFromShareableHandle(&imported, asHandle(devNull), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
            CUDA_ERROR_INVALID_VALUE);
  close(devNull);
  close(fd);

  // Pointers: only allocations of a shareable pool are exported.
  CUdeviceptr plain = 0, fromDefault = 0, fromShared = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&plain, 4096));
  ASSERT_CU(d.cuMemAllocAsync(&fromDefault, 4096, first));
  ASSERT_CU(d.cuMemAllocFromPoolAsync(&fromShared, 4096, shared, first));
  CUmemPoolPtrExportData data{};
  EXPECT_EQ(d.cuMemPoolExportPointer(&data, plain), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemPoolExportPointer(&data, fromDefault), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(d.cuMemPoolExportPointer(&data, fromShared));

  // A pool "of another process" (a descriptor written as the exporter writes it): it allocates
  // nothing and takes in only that pool's pointers.
  sim::PoolExportContents other;
  other.pool = {1, 77};
  std::uint8_t bytes[sizeof(other)] = {};
  std::memcpy(bytes, &other, sizeof(other));
  auto forged = cudaabi::sealedDescriptor("test-pool", bytes);
  ASSERT_TRUE(forged);
  ASSERT_CU(d.cuMemPoolImportFromShareableHandle(&imported, asHandle(*forged), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  close(*forged);
  CUdeviceptr taken = 0;
  EXPECT_EQ(d.cuMemAllocFromPoolAsync(&taken, 4096, imported, first), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemPoolImportPointer(&taken, imported, &data), CUDA_ERROR_INVALID_VALUE) << "another pool's pointer";
  EXPECT_EQ(d.cuMemPoolImportPointer(&taken, shared, &data), CUDA_ERROR_INVALID_VALUE) << "not an imported pool";
  sim::PoolPointerContents named;
  std::memcpy(&named, data.reserved, sizeof(named));
  named.pool = other.pool;  // its pool's, but the memory it names is this process's
  std::memcpy(data.reserved, &named, sizeof(named));
  EXPECT_EQ(d.cuMemPoolImportPointer(&taken, imported, &data), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(d.cuMemPoolImportPointer(&taken, imported, nullptr), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(d.cuMemPoolDestroy(imported));

  ASSERT_CU(d.cuMemFreeAsync(fromShared, first));
  ASSERT_CU(d.cuMemFreeAsync(fromDefault, first));
  ASSERT_CU(d.cuStreamSynchronize(first));
  ASSERT_CU(d.cuMemFree_v2(plain));
  ASSERT_CU(d.cuMemPoolDestroy(shared));
}

}  // namespace
}  // namespace fastgpu::testing
