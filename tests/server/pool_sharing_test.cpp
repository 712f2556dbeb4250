// Memory pools shared between sessions: a pool made shareable exports a token that imports only in
// another session of its vGPU, as a pool that allocates nothing; its allocations' exports import
// only through such a pool; imported memory counts once, against the exporter, is the importer's
// to free, and every export goes with what it shared.
#include "session_test_support.h"

namespace fastgpu::server {
namespace {

class ServerPoolSharingTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    startTwoVgpus();
  }
  static std::uint64_t createPool(RawClient& client, std::uint32_t handleTypes, CUresult expected = CUDA_SUCCESS) {
    std::uint64_t pool = 0;
    auto result = client.call(
        [&](wire::Call::Builder c) {
          auto create = c.initMemPoolCreate();
          create.setDevice(0);
          create.setHandleTypes(handleTypes);
        },
        &pool);
    EXPECT_EQ(result.first, expected);
    return pool;
  }
  static std::pair<CUresult, std::uint64_t> allocate(RawClient& client, std::uint64_t pool, std::uint64_t bytes) {
    auto [result, values] = client.call([&](wire::Call::Builder c) {
      auto a = c.initMemAllocAsync();
      a.setBytes(bytes);
      a.setPool(pool);
    });
    return {result, values.empty() ? 0 : static_cast<std::uint64_t>(values[0])};
  }
  static std::pair<CUresult, std::vector<std::uint8_t>> exportPool(RawClient& client, std::uint64_t pool) {
    return client.callForData([&](wire::Call::Builder c) { c.setMemPoolExport(pool); });
  }
  static std::pair<CUresult, std::uint64_t> importPool(RawClient& client, const std::vector<std::uint8_t>& handle) {
    std::uint64_t pool = 0;
    CUresult result =
        client.call([&](wire::Call::Builder c) { c.setMemPoolImport(kj::arrayPtr(handle.data(), handle.size())); }, &pool)
            .first;
    return {result, pool};
  }
  static std::pair<CUresult, std::vector<std::uint8_t>> exportPointer(RawClient& client, std::uint64_t base) {
    return client.callForData([&](wire::Call::Builder c) { c.setMemPoolExportPointer(base); });
  }
  static std::pair<CUresult, std::vector<std::int64_t>> importPointer(RawClient& client, std::uint64_t pool,
                                                                      const std::vector<std::uint8_t>& data) {
    return client.call([&](wire::Call::Builder c) {
      auto request = c.initMemPoolImportPointer();
      request.setPool(pool);
      request.setData(kj::arrayPtr(data.data(), data.size()));
    });
  }
};

TEST_F(ServerPoolSharingTest, APoolAndItsAllocationsImportOnlyInTheSameVgpuAndCountOnce) {
  RawClient owner(url, "a", "ta"), sibling(url, "a", "ta"), stranger(url, "b", "tb");
  for (RawClient* client : {&owner, &sibling, &stranger}) client->retainPrimary();
  createPool(owner, CU_MEM_HANDLE_TYPE_FABRIC, CUDA_ERROR_NOT_SUPPORTED);
  std::uint64_t shared = createPool(owner, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  std::uint64_t plain = createPool(owner, CU_MEM_HANDLE_TYPE_NONE);
  EXPECT_EQ(exportPool(owner, plain).first, CUDA_ERROR_INVALID_VALUE) << "not made shareable";
  EXPECT_EQ(exportPool(owner, 0x4242).first, CUDA_ERROR_INVALID_VALUE) << "forged";
  auto [exported, handle] = exportPool(owner, shared);
  ASSERT_EQ(exported, CUDA_SUCCESS);
  ASSERT_EQ(handle.size(), 64u);
  EXPECT_EQ(exportPool(owner, shared).second, handle) << "exported twice, the same handle";
  EXPECT_EQ(importPool(stranger, handle).first, CUDA_ERROR_INVALID_HANDLE) << "another vGPU";
  EXPECT_EQ(importPool(owner, handle).first, CUDA_ERROR_INVALID_VALUE) << "its own session";
  auto [imported, importedPool] = importPool(sibling, handle);
  ASSERT_EQ(imported, CUDA_SUCCESS);
  const std::uint64_t pool = importedPool;  // lambdas capture it (not a structured binding)
  EXPECT_EQ(allocate(sibling, pool, 4096).first, CUDA_ERROR_INVALID_VALUE) << "an imported pool allocates nothing";

  auto [allocated, allocatedBase] = allocate(owner, shared, 1 << 20);
  ASSERT_EQ(allocated, CUDA_SUCCESS);
  const std::uint64_t base = allocatedBase;
  std::vector<std::uint8_t> pattern(64, 0x5a);
  ASSERT_EQ(owner.write(base, pattern), CUDA_SUCCESS);
  auto fromPlain = allocate(owner, plain, 4096).second;
  EXPECT_EQ(exportPointer(owner, fromPlain).first, CUDA_ERROR_INVALID_VALUE) << "its pool is not shareable";
  EXPECT_EQ(exportPointer(owner, owner.allocate(4096)).first, CUDA_ERROR_INVALID_VALUE) << "not a pool's";
  EXPECT_EQ(exportPointer(owner, base + 512).first, CUDA_ERROR_INVALID_VALUE) << "not an allocation's start";
  auto [pointerExported, data] = exportPointer(owner, base);
  ASSERT_EQ(pointerExported, CUDA_SUCCESS);
  ASSERT_EQ(data.size(), 64u);
  EXPECT_EQ(importPointer(stranger, 0, data).first, CUDA_ERROR_INVALID_HANDLE) << "another vGPU";
  EXPECT_EQ(importPointer(sibling, createPool(sibling, 0), data).first, CUDA_ERROR_INVALID_VALUE)
      << "through a pool that was not imported";
  EXPECT_EQ(importPointer(sibling, pool, handle).first, CUDA_ERROR_INVALID_VALUE) << "a pool's handle, not a pointer's";

  const std::uint64_t freeBefore = sibling.freeMemory();
  auto [pointerImported, values] = importPointer(sibling, pool, data);
  ASSERT_EQ(pointerImported, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 2u);
  auto address = static_cast<std::uint64_t>(values[0]);
  EXPECT_EQ(static_cast<std::uint64_t>(values[1]), 1u << 20);
  EXPECT_EQ(sibling.freeMemory(), freeBefore) << "imported memory counts against its exporter only";
  auto [read, bytes] = sibling.read(address, pattern.size());
  EXPECT_EQ(read, CUDA_SUCCESS);
  EXPECT_EQ(bytes, pattern);
  EXPECT_EQ(sibling.call([&](wire::Call::Builder c) { c.setMemFree(address); }).first, CUDA_SUCCESS);  // posted
  EXPECT_EQ(sibling.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(sibling.deferred, CUDA_SUCCESS) << "an imported allocation is the importer's to free";
  EXPECT_EQ(sibling.read(address, 4).first, CUDA_ERROR_INVALID_VALUE) << "freed: no longer the session's";
  EXPECT_EQ(sibling.freeMemory(), freeBefore) << "and freeing it gives back nothing it was not charged";

  // What is freed or destroyed is withdrawn: no new imports (even while the pool keeps the block).
  auto keep = owner.call([&](wire::Call::Builder c) {
    auto a = c.initMemPoolSetAttribute();
    a.setPool(shared);
    a.setAttribute(CU_MEMPOOL_ATTR_RELEASE_THRESHOLD);
    a.setValue(64 << 20);
  });
  ASSERT_EQ(keep.first, CUDA_SUCCESS);
  owner.call([&](wire::Call::Builder c) { c.initMemFreeAsync().setAddress(base); });
  ASSERT_EQ(owner.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(importPointer(sibling, pool, data).first, CUDA_ERROR_INVALID_HANDLE) << "the allocation is gone";
  owner.call([&](wire::Call::Builder c) { c.initMemFreeAsync().setAddress(fromPlain); });
  ASSERT_EQ(owner.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(owner.call([&](wire::Call::Builder c) { c.setMemPoolDestroy(shared); }).first, CUDA_SUCCESS);
  EXPECT_EQ(importPool(sibling, handle).first, CUDA_ERROR_INVALID_HANDLE) << "the pool is gone";
  EXPECT_EQ(sibling.call([&](wire::Call::Builder c) { c.setMemPoolDestroy(pool); }).first, CUDA_SUCCESS);
}

}  // namespace
}  // namespace fastgpu::server
