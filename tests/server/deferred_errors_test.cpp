// Errors of posted (asynchronous) calls: each comes back once, with the next reply, as CUDA
// returns them at the next synchronizing call; errors of work on the device come back as the
// result of the synchronizing call itself.
#include "session_test_support.h"

namespace fastgpu::server {
namespace {

// Posts an asynchronous memset of `bytes` bytes at `address`.
void postMemset(RawClient& client, std::uint64_t address, std::uint64_t bytes) {
  client.call([&](wire::Call::Builder c) {
    auto set = c.initMemset();
    set.setDst(address);
    set.setElementBytes(1);
    set.setWidth(bytes);
    set.setHeight(1);
    set.setAsync(true);
  });
}

std::vector<std::uint8_t> intParam(int value) {
  std::vector<std::uint8_t> bytes(sizeof(value));
  std::memcpy(bytes.data(), &value, sizeof(value));
  return bytes;
}

TEST_F(ServerTest, APostedCallsErrorComesBackOnceWithTheNextReply) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = client.allocate(4096);
  // Post a memset that runs past the allocation. Expect: no reply now.
  postMemset(client, base + 4090, 16);
  // Expect: the next reply carries CUDA_ERROR_INVALID_VALUE and says why.
  EXPECT_GT(client.freeMemory(), 0u);
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_VALUE);
  EXPECT_NE(client.deferredMessage.find("outside the session's allocations"), std::string::npos) << client.deferredMessage;
  // Expect: only once.
  EXPECT_GT(client.freeMemory(), 0u);
  EXPECT_EQ(client.deferred, CUDA_SUCCESS);
}

TEST_F(ServerTest, TheFirstOfSeveralPostedErrorsIsTheOneReported) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = client.allocate(4096);
  // A good posted call, then two bad ones of different kinds.
  postMemset(client, base, 4096);
  postMemset(client, base + 8192, 16);                      // CUDA_ERROR_INVALID_VALUE
  client.launch(0x7777777777, intParam(0));                 // CUDA_ERROR_INVALID_HANDLE
  client.call([](wire::Call::Builder c) { c.setEventDestroy(0x123); });  // CUDA_ERROR_INVALID_HANDLE
  EXPECT_EQ(client.synchronize(), CUDA_SUCCESS) << "the synchronize itself succeeds";
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_SUCCESS);
}

TEST_F(ServerTest, APostedErrorGoesToItsOwnSessionOnly) {
  RawClient bad(url), good(url);
  bad.retainPrimary();
  good.retainPrimary();
  postMemset(bad, 0x10, 16);
  EXPECT_EQ(good.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(good.deferred, CUDA_SUCCESS);
  EXPECT_EQ(bad.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(bad.deferred, CUDA_ERROR_INVALID_VALUE);
}

TEST_F(ServerTest, AKernelThatFailsIsReportedByTheNextSynchronizeOnce) {
  RawClient client(url);
  client.retainPrimary();
  auto code = client.load();
  ASSERT_EQ(code.result, CUDA_SUCCESS);
  std::uint64_t failWith = code.kernels.at("failWith");
  // A kernel that fails with a non-sticky error: reported by the next synchronize, then gone.
  client.launch(failWith, intParam(CUDA_ERROR_INVALID_VALUE));
  EXPECT_EQ(client.synchronize(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.synchronize(), CUDA_SUCCESS);
}

TEST_F(ServerTest, AStickyKernelErrorStaysWithItsContextOnly) {
  RawClient client(url), neighbour(url);
  client.retainPrimary();
  neighbour.retainPrimary();
  auto code = client.load();
  ASSERT_EQ(code.result, CUDA_SUCCESS);
  client.launch(code.kernels.at("failWith"), intParam(CUDA_ERROR_ILLEGAL_ADDRESS));
  EXPECT_EQ(client.synchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
  EXPECT_EQ(client.synchronize(), CUDA_ERROR_ILLEGAL_ADDRESS) << "sticky";
  EXPECT_EQ(neighbour.synchronize(), CUDA_SUCCESS);
  std::uint64_t mine = neighbour.allocate(64);
  EXPECT_EQ(neighbour.write(mine, std::vector<std::uint8_t>(64, 7)), CUDA_SUCCESS);
}

}  // namespace
}  // namespace fastgpu::server
