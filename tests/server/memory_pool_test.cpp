// Stream-ordered allocation on the server: what a session's pools hold counts against the vGPU's
// quota until trimmed or given back at a synchronization, and what a client names that is not
// its own is refused.
#include "session_test_support.h"

namespace fastgpu::server {
namespace {

struct Pools {
  RawClient& client;

  std::pair<CUresult, std::uint64_t> allocate(std::uint64_t bytes, std::uint64_t pool = 0) {
    auto [result, values] = client.call([&](wire::Call::Builder c) {
      auto a = c.initMemAllocAsync();
      a.setBytes(bytes);
      a.setPool(pool);
    });
    return {result, values.empty() ? 0 : static_cast<std::uint64_t>(values[0])};
  }
  void free(std::uint64_t address) {
    client.call([&](wire::Call::Builder c) { c.initMemFreeAsync().setAddress(address); });
  }
  std::uint64_t defaultPool() {
    std::uint64_t pool = 0;
    EXPECT_EQ(client.call([](wire::Call::Builder c) { c.setMemPoolDefault(0); }, &pool).first, CUDA_SUCCESS);
    return pool;
  }
  CUresult set(std::uint64_t pool, CUmemPool_attribute attribute, std::uint64_t value) {
    return client
        .call([&](wire::Call::Builder c) {
          auto a = c.initMemPoolSetAttribute();
          a.setPool(pool);
          a.setAttribute(attribute);
          a.setValue(value);
        })
        .first;
  }
};

// What a pool holds, not only what it hands out, counts against the quota; trimming gives it back.
TEST_F(ServerTest, WhatAPoolHoldsCountsAgainstTheQuotaUntilTrimmed) {
  RawClient client = startSmallVgpu();
  client.retainPrimary();
  Pools pools{client};
  const std::uint64_t before = client.freeMemory();
  std::uint64_t pool = pools.defaultPool();
  ASSERT_EQ(pools.set(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, 64ULL << 20), CUDA_SUCCESS);
  auto [allocated, block] = pools.allocate(6ULL << 20);
  ASSERT_EQ(allocated, CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before - (6ULL << 20));
  EXPECT_EQ(pools.allocate(4ULL << 20).first, CUDA_ERROR_OUT_OF_MEMORY) << "8 MiB quota";
  pools.free(block);
  ASSERT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before - (6ULL << 20)) << "the pool keeps it under its threshold";
  EXPECT_EQ(client.allocate(4ULL << 20, CUDA_ERROR_OUT_OF_MEMORY), 0u) << "held memory is not free to others";
  auto trim = client.call([&](wire::Call::Builder c) {
    auto t = c.initMemPoolTrim();
    t.setPool(pool);
    t.setValue(0);
  });
  ASSERT_EQ(trim.first, CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before);
  auto [again, reused] = pools.allocate(4ULL << 20);
  EXPECT_EQ(again, CUDA_SUCCESS);
  pools.free(reused);
  ASSERT_EQ(pools.set(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, 0), CUDA_SUCCESS);
  ASSERT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before) << "threshold 0: given back at the synchronization";
}

TEST_F(ServerTest, PoolsAndPoolMemoryTheSessionDoesNotHoldAreRefused) {
  RawClient client(url);
  client.retainPrimary();
  Pools pools{client};
  EXPECT_EQ(pools.allocate(4096, 0x7777777777).first, CUDA_ERROR_INVALID_VALUE) << "a forged pool";
  EXPECT_EQ(pools.set(0x7777777777, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, 0), CUDA_ERROR_INVALID_VALUE);
  std::uint64_t plain = client.allocate(4096);
  pools.free(plain);  // posted: its refusal comes back with the next answer
  EXPECT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_VALUE) << "not a stream-ordered allocation";
  std::uint64_t mine = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.initMemPoolCreate().setDevice(0); }, &mine).first, CUDA_SUCCESS);
  auto [allocated, block] = pools.allocate(4096, mine);
  ASSERT_EQ(allocated, CUDA_SUCCESS);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setMemPoolDestroy(mine); }).first, CUDA_ERROR_INVALID_VALUE)
      << "a pool with an allocation";
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setMemPoolDestroy(pools.defaultPool()); }).first,
            CUDA_ERROR_INVALID_VALUE)
      << "a default pool";
  pools.free(block);
  ASSERT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setMemPoolDestroy(mine); }).first, CUDA_SUCCESS);
  EXPECT_GT(client.freeMemory(), 0u) << "the session still serves";
}

}  // namespace
}  // namespace fastgpu::server
