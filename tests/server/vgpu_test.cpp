// vGPUs in fastgpu-server: admission (token, name, session limit), the device view, and the
// memory quota shared by a vGPU's sessions.
#include <set>

#include "session_test_support.h"

namespace fastgpu::server {
namespace {

constexpr const char* kConfig = R"(
[[vgpu]]
name = "team-a"
gpu = 1
memory = "1GiB"
tokens = ["secret-a"]
max_sessions = 2

[[vgpu]]
name = "team-b"
memory = "512MiB"
token_hashes = ["0000000000000000000000000000000000000000000000000000000000000000"]
)";

class VgpuServerTest : public ServerTest {
 protected:
  void SetUp() override { start(kConfig); }
};

TEST_F(VgpuServerTest, AQuotaIsSharedBySessionsAndReportedAsTheDevicesMemory) {
  RawClient first(url, "team-a", "secret-a");
  ASSERT_EQ(first.welcome().getResult(), CUDA_SUCCESS) << first.welcome().getMessage().cStr();
  ASSERT_EQ(first.welcome().getDevices().size(), 1u) << "a vGPU shows one device";
  EXPECT_EQ(first.welcome().getDevices()[0].getTotalMemory(), 1ULL << 30);
  RawClient second(url, "team-a", "secret-a");
  first.retainPrimary();
  second.retainPrimary();
  auto [free, total] = first.memoryInfo();
  EXPECT_EQ(total, 1ULL << 30);
  EXPECT_EQ(free, 1ULL << 30);
  // Up to 1 GiB across the two sessions succeeds, the next byte does not.
  std::uint64_t a = first.allocate(600 * kMiB);
  std::uint64_t b = second.allocate(424 * kMiB);
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
  second.allocate(1, CUDA_ERROR_OUT_OF_MEMORY);
  first.allocate(4 * kMiB, CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(first.memoryInfo().first, 0u);
  // Freeing makes room again. (The free is posted: an answered call on the same session makes
  // sure it ran before the other session looks.)
  first.call([&](wire::Call::Builder c) { c.setMemFree(a); });
  EXPECT_EQ(first.memoryInfo().first, 600 * kMiB);
  EXPECT_EQ(second.memoryInfo().first, 600 * kMiB);
  EXPECT_NE(second.allocate(512 * kMiB), 0u);
}

// Limits that make the driver set device memory aside (the malloc heap, the printf FIFO, every
// resident thread's stack) count against the quota beyond a new context's, and go with the context;
// the persisting L2 set-aside, the whole device's, is kept for the session alone.
TEST_F(VgpuServerTest, ContextLimitsThatSetMemoryAsideCountAgainstTheQuota) {
  RawClient client(url, "team-a", "secret-a");
  client.retainPrimary();
  auto set = [&](CUlimit limit, std::uint64_t value) {
    return client
        .call([&](wire::Call::Builder c) {
          auto s = c.initSetLimit();
          s.setLimit(limit);
          s.setValue(value);
        })
        .first;
  };
  auto get = [&](CUlimit limit) {
    auto [result, values] = client.call([&](wire::Call::Builder c) { c.setGetLimit(limit); });
    EXPECT_EQ(result, CUDA_SUCCESS);
    return values.empty() ? 0 : static_cast<std::uint64_t>(values[0]);
  };
  // A limit outside the driver's enum (found by the dispatch fuzzer: it was cast into the enum).
  EXPECT_EQ(client
                .call([&](wire::Call::Builder c) {
                  auto s = c.initSetLimit();
                  s.setLimit(256);
                  s.setValue(1);
                })
                .first,
            CUDA_ERROR_UNSUPPORTED_LIMIT);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setGetLimit(256); }).first, CUDA_ERROR_UNSUPPORTED_LIMIT);
  const std::uint64_t heap = get(CU_LIMIT_MALLOC_HEAP_SIZE);
  EXPECT_EQ(set(CU_LIMIT_MALLOC_HEAP_SIZE, 2ULL << 30), CUDA_ERROR_OUT_OF_MEMORY) << "a heap past the quota";
  EXPECT_EQ(get(CU_LIMIT_MALLOC_HEAP_SIZE), heap) << "refused, unchanged";
  EXPECT_EQ(client.memoryInfo().first, 1ULL << 30);
  ASSERT_EQ(set(CU_LIMIT_MALLOC_HEAP_SIZE, heap + 64 * kMiB), CUDA_SUCCESS);
  EXPECT_EQ(client.memoryInfo().first, (1ULL << 30) - 64 * kMiB);
  ASSERT_EQ(set(CU_LIMIT_MALLOC_HEAP_SIZE, heap + 16 * kMiB), CUDA_SUCCESS);
  EXPECT_EQ(client.memoryInfo().first, (1ULL << 30) - 16 * kMiB) << "a smaller heap gives back the difference";
  EXPECT_EQ(set(CU_LIMIT_STACK_SIZE, 1 << 20), CUDA_ERROR_OUT_OF_MEMORY) << "1 MiB for every resident thread";
  EXPECT_EQ(set(CU_LIMIT_PERSISTING_L2_CACHE_SIZE, 4 * kMiB), CUDA_SUCCESS);
  EXPECT_EQ(get(CU_LIMIT_PERSISTING_L2_CACHE_SIZE), 4 * kMiB);
  // A context's limits go with it.
  std::uint64_t context = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.initContextCreate().setDevice(0); }, &context).first, CUDA_SUCCESS);
  ASSERT_EQ(client.call([&](wire::Call::Builder c) { c.setContext(context); c.setGetLimit(CU_LIMIT_STACK_SIZE); }).first,
            CUDA_SUCCESS);
  auto inContext = client.call([&](wire::Call::Builder c) {
    c.setContext(context);
    auto s = c.initSetLimit();
    s.setLimit(CU_LIMIT_PRINTF_FIFO_SIZE);
    s.setValue(get(CU_LIMIT_PRINTF_FIFO_SIZE) + 32 * kMiB);
  });
  ASSERT_EQ(inContext.first, CUDA_SUCCESS);
  EXPECT_EQ(client.memoryInfo().first, (1ULL << 30) - 48 * kMiB);
  ASSERT_EQ(client.call([&](wire::Call::Builder c) { c.setContextDestroy(context); }).first, CUDA_SUCCESS);
  EXPECT_EQ(client.memoryInfo().first, (1ULL << 30) - 16 * kMiB) << "the destroyed context's FIFO is given back";
}

TEST_F(VgpuServerTest, TheVgpusDeviceIsItsPlacedGpu) {
  RawClient client(url, "team-a", "secret-a");
  ASSERT_EQ(client.welcome().getDevices().size(), 1u);
  // gpu = 1: the second simulated device's PCI bus id (0x3b), seen as device 0.
  EXPECT_STREQ(client.welcome().getDevices()[0].getPciBusId().cStr(), "0000:3b:00.0");
  // Device questions name the session's devices only: its device 0, never the GPU's own ordinal.
  auto textureWidth = [&](int device) {
    return client.call([&](wire::Call::Builder c) {
      auto query = c.initTexture1DLinearMaxWidth();
      query.setDevice(device);
      query.setFormat(CU_AD_FORMAT_FLOAT);
      query.setChannels(1);
    });
  };
  auto [asked, width] = textureWidth(0);
  EXPECT_EQ(asked, CUDA_SUCCESS);
  EXPECT_EQ(width.size(), 1u);
  EXPECT_EQ(textureWidth(1).first, CUDA_ERROR_INVALID_DEVICE) << "the placed GPU's ordinal is not the session's";
  EXPECT_EQ(textureWidth(-5).first, CUDA_ERROR_INVALID_DEVICE);
}

TEST_F(VgpuServerTest, WrongTokenUnknownVgpuAndAFullVgpuAreRefusedClearly) {
  // A wrong token and an unknown vGPU get one answer: a guesser learns no vGPU names.
  RawClient wrong(url, "team-a", "guess");
  EXPECT_EQ(wrong.welcome().getResult(), CUDA_ERROR_NOT_PERMITTED);
  EXPECT_STREQ(wrong.welcome().getMessage().cStr(),
               "access to vGPU \"team-a\" denied: unknown vGPU or wrong token (check FASTGPU_VGPU and FASTGPU_TOKEN)");
  RawClient unknown(url, "team-z", "secret-a");
  EXPECT_EQ(unknown.welcome().getResult(), CUDA_ERROR_NOT_PERMITTED);
  EXPECT_STREQ(unknown.welcome().getMessage().cStr(),
               "access to vGPU \"team-z\" denied: unknown vGPU or wrong token (check FASTGPU_VGPU and FASTGPU_TOKEN)");
  RawClient anonymous(url);
  EXPECT_NE(anonymous.welcome().getResult(), CUDA_SUCCESS);
  RawClient one(url, "team-a", "secret-a"), two(url, "team-a", "secret-a");
  RawClient three(url, "team-a", "secret-a");
  EXPECT_EQ(three.welcome().getResult(), CUDA_ERROR_DEVICE_UNAVAILABLE);
  EXPECT_STREQ(three.welcome().getMessage().cStr(), "vGPU \"team-a\" is full: all 2 session(s) are in use");
}

TEST_F(VgpuServerTest, AnEndedSessionGivesBackItsMemoryAndItsSlot) {
  {
    RawClient one(url, "team-a", "secret-a"), two(url, "team-a", "secret-a");
    one.retainPrimary();
    one.allocate(900 * kMiB);
  }
  // Both sessions end on their own threads: a new session is admitted once a slot is back...
  std::unique_ptr<RawClient> observer;
  ASSERT_TRUE(eventually([&] {
    observer = std::make_unique<RawClient>(url, "team-a", "secret-a");
    return observer->welcome().getResult() == CUDA_SUCCESS;
  })) << "no slot of the ended sessions came back";
  observer->retainPrimary();
  // ...and the memory they held is back in the quota.
  EXPECT_TRUE(eventually([&] { return observer->memoryInfo().first == (1ULL << 30); }))
      << "the ended sessions' memory did not come back to the quota";
}

}  // namespace
}  // namespace fastgpu::server

namespace fastgpu::server {
namespace {

// What FastGPU's NVML reports (vgpuStatus): the vGPU's quota and what its sessions hold, and its
// live sessions only: another vGPU's sessions are never listed nor counted.
TEST_F(ServerTest, TheVgpuStatusShowsOnlyTheSessionsOwnVgpu) {
  startTwoVgpus();
  RawClient first(url, "a", "ta"), second(url, "a", "ta"), other(url, "b", "tb");
  for (RawClient* client : {&first, &second, &other}) client->retainPrimary();
  ASSERT_NE(first.allocate(1 * kMiB), 0u);
  ASSERT_NE(second.allocate(2 * kMiB), 0u);
  ASSERT_NE(other.allocate(4 * kMiB), 0u);
  auto status = [](RawClient& client, std::uint32_t device) {
    return client.call([&](wire::Call::Builder c) { c.setVgpuStatus(device); });
  };
  auto [result, values] = status(first, 0);
  ASSERT_EQ(result, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 5u + 2 * 2) << "two live sessions of vGPU a";
  EXPECT_EQ(values[0], static_cast<std::int64_t>(3 * kMiB)) << "held by a's sessions";
  EXPECT_EQ(values[1], static_cast<std::int64_t>(64 * kMiB)) << "a's quota";
  EXPECT_EQ(values[2], 1) << "a vGPU's GPU time is metered";
  std::multiset<std::int64_t> held{values[6], values[8]};
  EXPECT_EQ(held, (std::multiset<std::int64_t>{1 * kMiB, 2 * kMiB}));
  auto [otherResult, otherValues] = status(other, 0);
  ASSERT_EQ(otherResult, CUDA_SUCCESS);
  ASSERT_EQ(otherValues.size(), 5u + 2);
  EXPECT_EQ(otherValues[0], static_cast<std::int64_t>(4 * kMiB));
  EXPECT_EQ(otherValues[1], static_cast<std::int64_t>(64 * kMiB));
  EXPECT_EQ(otherValues[6], static_cast<std::int64_t>(4 * kMiB));
  EXPECT_EQ(status(first, 1).first, CUDA_ERROR_INVALID_DEVICE) << "a vGPU shows one device";
  EXPECT_EQ(status(first, 0xFFFFFFFFu).first, CUDA_ERROR_INVALID_DEVICE);
}

TEST_F(ServerTest, FailedLoginsAreRateLimitedPerAddress) {
  start(R"(
[limits]
login_failures_per_minute = 3

[[vgpu]]
name = "team-a"
memory = "1GiB"
tokens = ["secret-a"]
)");
  for (int i = 0; i < 3; ++i) {
    RawClient guess(url, i % 2 == 0 ? "team-a" : "nobody", "guess-" + std::to_string(i));
    EXPECT_EQ(guess.welcome().getResult(), CUDA_ERROR_NOT_PERMITTED);
  }
  // The burst is spent: even the right token is refused, unchecked, for a while.
  RawClient right(url, "team-a", "secret-a");
  EXPECT_EQ(right.welcome().getResult(), CUDA_ERROR_NOT_PERMITTED);
  EXPECT_STREQ(right.welcome().getMessage().cStr(), "too many failed logins from this address; try again in a minute");
  EXPECT_EQ(server->registry().refusals()["wrong_token"] + server->registry().refusals()["unknown_vgpu"], 3u)
      << "throttled logins are not even checked";
}

TEST(LoginThrottle, RefillsAtItsRateAndForgetsTheQuietestAddressWhenFull) {
  using namespace std::chrono_literals;
  LoginThrottle throttle(2, 2);
  auto now = LoginThrottle::Clock::time_point{} + 1h;
  throttle.failed("a", now);
  throttle.failed("a", now);
  EXPECT_FALSE(throttle.allows("a", now));
  EXPECT_TRUE(throttle.allows("b", now)) << "another address has its own budget";
  EXPECT_TRUE(throttle.allows("a", now + 30s)) << "2 a minute: one back after 30 s";
  throttle.failed("c", now + 31s);  // a third address: the quietest one is forgotten
  EXPECT_EQ(LoginThrottle::addressOf("tcp://10.0.0.2:51234"), "10.0.0.2");
  EXPECT_EQ(LoginThrottle::addressOf("tcp://[::1]:7600"), "[::1]");
  EXPECT_EQ(LoginThrottle::addressOf("unix:///run/fastgpu.sock uid=1000 pid=42"), "unix uid=1000");
  EXPECT_EQ(LoginThrottle::addressOf("unix:///run/fastgpu.sock uid=1000 pid=43"), "unix uid=1000");
  EXPECT_EQ(LoginThrottle::addressOf("unix:///run/fastgpu.sock"), "unix");
}

}  // namespace
}  // namespace fastgpu::server
