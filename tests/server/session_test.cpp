// fastgpu-server against hostile and careless clients, in process: a server on cudasim and
// clients that speak the wire protocol directly.
#include "session_test_support.h"

namespace fastgpu::server {
namespace {

TEST_F(ServerTest, ForgedAndStaleHandlesAreRejectedAndTheSessionGoesOn) {
  RawClient client(url);
  client.retainPrimary();
  // Receive a forged stream id. Expect: CUDA_ERROR_INVALID_HANDLE, session continues.
  auto forged = client.call([](wire::Call::Builder c) {
    auto sync = c.initStreamSynchronize();
    sync.setStream(0x7777777777);
  });
  EXPECT_EQ(forged.first, CUDA_ERROR_INVALID_HANDLE);
  // Receive a stale one: created, destroyed, used.
  std::uint64_t stream = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.initStreamCreate(); }, &stream).first, CUDA_SUCCESS);
  client.call([&](wire::Call::Builder c) { c.setStreamDestroy(stream); });
  auto stale = client.call([&](wire::Call::Builder c) {
    auto sync = c.initStreamSynchronize();
    sync.setStream(stream);
  });
  EXPECT_EQ(stale.first, CUDA_ERROR_INVALID_HANDLE);
  // A handle of the wrong kind, and a forged context.
  auto wrongKind = client.call([&](wire::Call::Builder c) { c.setEventQuery(stream); });
  EXPECT_EQ(wrongKind.first, CUDA_ERROR_INVALID_HANDLE);
  client.context = 0x123456;
  auto noContext = client.call([](wire::Call::Builder c) { c.setMemAlloc(1024); });
  EXPECT_EQ(noContext.first, CUDA_ERROR_INVALID_CONTEXT);
  client.context = 0;
  client.retainPrimary();
  EXPECT_GT(client.freeMemory(), 0u) << "the session still serves";
}

// A stream attribute's value is a client's: checked before the driver sees it. An L2 access policy
// window must lie in the session's own allocations (on a GPU it steers the cache for whatever lies
// there); a value too long for the attribute, or an id a stream does not carry, is refused.
TEST_F(ServerTest, StreamAttributesAreCheckedAndAWindowMustBeTheSessionsOwnMemory) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t stream = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.initStreamCreate(); }, &stream).first, CUDA_SUCCESS);
  std::uint64_t mine = client.allocate(kMiB);
  auto setWindow = [&](std::uint64_t base, std::size_t bytes, std::size_t valueBytes = sizeof(CUstreamAttrValue)) {
    CUstreamAttrValue value{};
    value.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(base);
    value.accessPolicyWindow.num_bytes = bytes;
    value.accessPolicyWindow.hitRatio = 1.0f;
    value.accessPolicyWindow.hitProp = CU_ACCESS_PROPERTY_PERSISTING;
    std::vector<std::uint8_t> bytesSent(valueBytes, 0);
    std::memcpy(bytesSent.data(), &value, std::min(valueBytes, sizeof(value)));
    return client
        .call([&](wire::Call::Builder c) {
          auto set = c.initStreamSetAttribute();
          set.setStream(stream);
          auto attribute = set.initAttribute();
          attribute.setId(CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW);
          attribute.setValue(kj::arrayPtr(bytesSent.data(), bytesSent.size()));
        })
        .first;
  };
  EXPECT_EQ(setWindow(mine, kMiB), CUDA_SUCCESS);
  EXPECT_EQ(setWindow(mine + 64 * kMiB, kMiB), CUDA_ERROR_INVALID_VALUE) << "memory the session does not hold";
  EXPECT_EQ(setWindow(mine + 4096, kMiB), CUDA_ERROR_INVALID_VALUE) << "past the session's allocation";
  EXPECT_EQ(setWindow(mine, kMiB, sizeof(CUstreamAttrValue) + 8), CUDA_ERROR_INVALID_VALUE) << "an oversized value";
  auto cooperative = client.call([&](wire::Call::Builder c) {
    auto get = c.initStreamGetAttribute();
    get.setStream(stream);
    get.initAttribute().setId(CU_LAUNCH_ATTRIBUTE_COOPERATIVE);
  });
  EXPECT_EQ(cooperative.first, CUDA_ERROR_INVALID_VALUE);
  auto forged = client.call([&](wire::Call::Builder c) {
    auto copy = c.initStreamCopyAttributes();
    copy.setDestination(0x7777777777);
    copy.setSource(stream);
  });
  EXPECT_EQ(forged.first, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_GT(client.freeMemory(), 0u) << "the session still serves";
}

TEST_F(ServerTest, CopiesOutsideTheSessionsAllocationsAreRejected) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = client.allocate(4096);
  std::vector<std::uint8_t> bytes(200, 1);
  // Receive a copy that runs past the allocation. Expect: CUDA_ERROR_INVALID_VALUE.
  auto past = client.call(
      [&](wire::Call::Builder c) {
        auto copy = c.initCopy();
        copy.setDst(base + 4000);
        copy.setBytes(bytes.size());
      },
      nullptr, bytes);
  EXPECT_EQ(past.first, CUDA_ERROR_INVALID_VALUE);
  // Another session's memory is outside this one's allocations too. (Sessions have address
  // spaces of their own, as processes on a GPU do: the other's first buffer has the same address
  // as ours; its second lies where this session has nothing.)
  RawClient other(url);
  other.retainPrimary();
  EXPECT_EQ(other.allocate(4096), base);
  std::uint64_t theirs = other.allocate(4096);
  auto steal = client.call([&](wire::Call::Builder c) {
    auto copy = c.initCopy();
    copy.setSrc(theirs);
    copy.setBytes(16);
  });
  EXPECT_EQ(steal.first, CUDA_ERROR_INVALID_VALUE);
  auto memset = client.call([&](wire::Call::Builder c) {
    auto set = c.initMemset();
    set.setDst(theirs);
    set.setElementBytes(1);
    set.setWidth(16);
    set.setHeight(1);
  });
  EXPECT_EQ(memset.first, CUDA_ERROR_INVALID_VALUE);
  auto freeTheirs = client.call([&](wire::Call::Builder c) { c.setMemFree(theirs); });
  EXPECT_EQ(freeTheirs.first, CUDA_SUCCESS) << "posted: its error is deferred";
  EXPECT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_VALUE) << "the refused free comes back with the next reply";
  EXPECT_GT(other.freeMemory(), 0u);
  auto read = other.call([&](wire::Call::Builder c) {
    auto copy = c.initCopy();
    copy.setSrc(theirs);
    copy.setBytes(16);
  });
  EXPECT_EQ(read.first, CUDA_SUCCESS) << "the other session's memory was not freed by a stranger";
}

TEST_F(ServerTest, GarbageEndsOnlyThatSession) {
  RawClient victim(url);
  victim.retainPrimary();
  RawClient attacker(url);
  // Receive a frame of garbage. Expect: that session ends, the other goes on.
  std::vector<std::uint8_t> garbage(64, 0xab);
  ASSERT_TRUE(attacker.connection().send(garbage));
  std::vector<std::uint8_t> payload;
  Status ended = attacker.connection().receive(payload);
  EXPECT_EQ(ended.kind(), ErrorKind::kDisconnected);
  EXPECT_GT(victim.freeMemory(), 0u);
}

TEST_F(ServerTest, TruncatedMessageEndsOnlyThatSession) {
  RawClient victim(url);
  victim.retainPrimary();
  RawClient attacker(url);
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::Call>();
  root.initModuleGetGlobal().setName("a name long enough to need its own words");
  std::vector<std::uint8_t> bytes;
  protocol::appendMessage(message, bytes);
  bytes.resize(bytes.size() - 16);
  ASSERT_TRUE(attacker.connection().send(bytes));
  std::vector<std::uint8_t> payload;
  EXPECT_EQ(attacker.connection().receive(payload).kind(), ErrorKind::kDisconnected);
  EXPECT_GT(victim.freeMemory(), 0u);
}

TEST_F(ServerTest, AClientKilledInTheMiddleOfABigCopyGetsItsMemoryFreed) {
  RawClient observer(url);
  observer.retainPrimary();
  std::uint64_t freeBefore = observer.freeMemory();
  {
    RawClient dying(url);
    dying.retainPrimary();
    std::uint64_t base = dying.allocate(256 * kMiB);
    ASSERT_NE(base, 0u);
    EXPECT_LE(observer.freeMemory(), freeBefore - 256 * kMiB);
    // Post 10 of the 32 chunks of a 256 MiB copy, then die.
    std::vector<std::uint8_t> chunk(protocol::kMaxCopyChunkBytes, 0x42);
    for (int i = 0; i < 10; ++i) {
      dying.call(
          [&](wire::Call::Builder c) {
            auto copy = c.initCopy();
            copy.setDst(base + static_cast<std::uint64_t>(i) * chunk.size());
            copy.setBytes(chunk.size());
            copy.setAsync(true);
          },
          nullptr, chunk);
    }
  }  // the connection closes here, mid-copy
  EXPECT_TRUE(eventually([&] { return observer.freeMemory() == freeBefore; }))
      << "the dead client's 256 MiB were not freed within 5 seconds";
}

TEST_F(ServerTest, TwoConcurrentClientsEachGetTheirOwnResults) {
  auto work = [&](std::uint8_t value, bool& ok) {
    RawClient client(url);
    client.retainPrimary();
    std::uint64_t base = client.allocate(kMiB);
    std::vector<std::uint8_t> bytes(kMiB, value);
    ok = true;
    for (int round = 0; round < 20 && ok; ++round) {
      client.call(
          [&](wire::Call::Builder c) {
            auto copy = c.initCopy();
            copy.setDst(base);
            copy.setBytes(bytes.size());
            copy.setAsync(true);
          },
          nullptr, bytes);
      std::vector<std::uint8_t> back;
      auto read = client.call(
          [&](wire::Call::Builder c) {
            auto copy = c.initCopy();
            copy.setSrc(base);
            copy.setBytes(kMiB);
          },
          nullptr, {}, &back);
      ok = read.first == CUDA_SUCCESS && back == bytes;
    }
  };
  bool firstOk = false, secondOk = false;
  std::thread first([&] { work(1, firstOk); });
  std::thread second([&] { work(2, secondOk); });
  first.join();
  second.join();
  EXPECT_TRUE(firstOk);
  EXPECT_TRUE(secondOk);
}

}  // namespace
}  // namespace fastgpu::server
