// Device memory shared between sessions (IPC): a handle opens only in a session of the exporter's
// vGPU, holds no driver handle, is refused in its own session and when forged, and opened memory
// counts once, against its owner, and cannot be freed by the session that opened it.
#include <cstring>

#include "session_test_support.h"

namespace fastgpu::server {
namespace {

class ServerIpcTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    startTwoVgpus();
  }
  static std::pair<CUresult, std::vector<std::uint8_t>> share(RawClient& client, std::uint64_t base) {
    return client.callForData([&](wire::Call::Builder c) { c.setIpcGetMemHandle(base); });
  }
  static std::pair<CUresult, std::vector<std::int64_t>> open(RawClient& client, const std::vector<std::uint8_t>& handle) {
    return client.call([&](wire::Call::Builder c) { c.setIpcOpenMemHandle(kj::arrayPtr(handle.data(), handle.size())); });
  }
};

TEST_F(ServerIpcTest, AHandleOpensOnlyInAnotherSessionOfTheSameVgpu) {
  RawClient owner(url, "a", "ta"), sibling(url, "a", "ta"), stranger(url, "b", "tb");
  for (RawClient* client : {&owner, &sibling, &stranger}) client->retainPrimary();
  std::uint64_t base = owner.allocate(1 << 20);
  std::vector<std::uint8_t> pattern(16, 0xab);
  ASSERT_EQ(owner.write(base, pattern), CUDA_SUCCESS);
  EXPECT_EQ(share(owner, base + 4).first, CUDA_ERROR_INVALID_VALUE) << "not an allocation's start";
  auto [shared, handle] = share(owner, base);
  ASSERT_EQ(shared, CUDA_SUCCESS);
  ASSERT_EQ(handle.size(), 64u);
  EXPECT_EQ(share(owner, base).second, handle) << "the same allocation, the same handle";

  EXPECT_EQ(open(owner, handle).first, CUDA_ERROR_INVALID_CONTEXT) << "its own session";
  EXPECT_EQ(open(stranger, handle).first, CUDA_ERROR_INVALID_HANDLE) << "another vGPU";
  std::vector<std::uint8_t> forged = handle;
  forged[12] ^= 1;
  EXPECT_EQ(open(sibling, forged).first, CUDA_ERROR_INVALID_HANDLE) << "a forged token";
  EXPECT_EQ(open(sibling, std::vector<std::uint8_t>(64, 0)).first, CUDA_ERROR_INVALID_VALUE) << "not a handle";

  const std::uint64_t freeBefore = sibling.freeMemory();
  auto [opened, values] = open(sibling, handle);
  ASSERT_EQ(opened, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 2u);
  auto address = static_cast<std::uint64_t>(values[0]);
  EXPECT_EQ(static_cast<std::uint64_t>(values[1]), 1u << 20);
  EXPECT_EQ(sibling.freeMemory(), freeBefore) << "opened memory counts against its owner only";
  auto [read, bytes] = sibling.read(address, pattern.size());
  EXPECT_EQ(read, CUDA_SUCCESS);
  EXPECT_EQ(bytes, pattern);
  EXPECT_EQ(sibling.call([&](wire::Call::Builder c) { c.setMemFree(address); }).first, CUDA_SUCCESS);  // posted
  EXPECT_EQ(sibling.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(sibling.deferred, CUDA_ERROR_INVALID_VALUE) << "opened memory is not the opener's to free";
  auto [closed, left] = sibling.call([&](wire::Call::Builder c) { c.setIpcCloseMemHandle(address); });
  EXPECT_EQ(closed, CUDA_SUCCESS);
  EXPECT_EQ(left, std::vector<std::int64_t>{0});
  EXPECT_EQ(sibling.read(address, 4).first, CUDA_ERROR_INVALID_VALUE) << "closed: no longer the session's";
  EXPECT_EQ(sibling.call([&](wire::Call::Builder c) { c.setIpcCloseMemHandle(address); }).first,
            CUDA_ERROR_INVALID_VALUE);
}

// A physical allocation shared as a POSIX descriptor: exported only when made shareable, imported
// only by sessions of the exporter's vGPU, not charged to the importer, never as another kind.
TEST_F(ServerIpcTest, AShareableAllocationImportsOnlyInTheSameVgpuAndCountsOnce) {
  RawClient owner(url, "a", "ta"), sibling(url, "a", "ta"), stranger(url, "b", "tb");
  for (RawClient* client : {&owner, &sibling, &stranger}) client->retainPrimary();
  constexpr std::uint64_t kChunk = 2 << 20;
  auto create = [&](std::uint32_t types) {
    std::uint64_t handle = 0;
    EXPECT_EQ(owner
                  .call(
                      [&](wire::Call::Builder c) {
                        auto create = c.initMemCreate();
                        create.setSize(kChunk);
                        create.setHandleTypes(types);
                      },
                      &handle)
                  .first,
              CUDA_SUCCESS);
    return handle;
  };
  std::uint64_t shareable = create(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR), plain = create(0);
  auto exportOf = [&](std::uint64_t id) {
    return owner.callForData([&](wire::Call::Builder c) { c.setMemExport(id); });
  };
  EXPECT_EQ(exportOf(plain).first, CUDA_ERROR_INVALID_VALUE) << "not made shareable";
  EXPECT_EQ(exportOf(0x1234).first, CUDA_ERROR_INVALID_VALUE) << "forged (as every forged allocation handle)";
  auto [exported, handle] = exportOf(shareable);
  ASSERT_EQ(exported, CUDA_SUCCESS);
  ASSERT_EQ(handle.size(), 64u);
  EXPECT_EQ(exportOf(shareable).second, handle) << "exported twice, the same handle";
  auto import = [&](RawClient& client, const std::vector<std::uint8_t>& bytes) {
    return client.call([&](wire::Call::Builder c) { c.setMemImport(kj::arrayPtr(bytes.data(), bytes.size())); });
  };
  EXPECT_EQ(import(stranger, handle).first, CUDA_ERROR_INVALID_HANDLE) << "another vGPU";
  std::vector<std::uint8_t> forged = handle;
  forged[12] ^= 1;
  EXPECT_EQ(import(sibling, forged).first, CUDA_ERROR_INVALID_HANDLE) << "a forged token";
  EXPECT_EQ(open(sibling, handle).first, CUDA_ERROR_INVALID_VALUE) << "not an IPC memory handle";
  std::uint64_t freeBefore = sibling.freeMemory();
  auto [imported, values] = import(sibling, handle);
  ASSERT_EQ(imported, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[1], 0) << "device 0 of the importer";
  EXPECT_EQ(static_cast<std::uint64_t>(values[2]), kChunk);
  EXPECT_EQ(sibling.freeMemory(), freeBefore) << "imported memory counts against its exporter only";
  // Released by its exporter, the export is withdrawn: no new imports.
  EXPECT_EQ(owner.call([&](wire::Call::Builder c) { c.setMemRelease(shareable); }).first, CUDA_SUCCESS);
  EXPECT_EQ(import(sibling, handle).first, CUDA_ERROR_INVALID_HANDLE) << "the allocation is gone";
  std::uint64_t freeAfter = sibling.freeMemory();
  EXPECT_EQ(freeAfter, freeBefore + kChunk) << "the exporter's release gives back the quota (one vGPU)";
  EXPECT_EQ(sibling.call([&](wire::Call::Builder c) { c.setMemRelease(static_cast<std::uint64_t>(values[0])); }).first,
            CUDA_SUCCESS);
  EXPECT_EQ(sibling.freeMemory(), freeAfter) << "the import's release gives back nothing it was not charged";
}

// An interprocess event: shared as a token of its own kind, opened only by another session of the
// exporter's vGPU, and its records seen there.
TEST_F(ServerIpcTest, AnEventHandleOpensOnlyAsAnEventInAnotherSessionOfTheSameVgpu) {
  RawClient owner(url, "a", "ta"), sibling(url, "a", "ta"), stranger(url, "b", "tb");
  for (RawClient* client : {&owner, &sibling, &stranger}) client->retainPrimary();
  auto create = [&](unsigned flags) {
    std::uint64_t event = 0;
    EXPECT_EQ(owner.call([&](wire::Call::Builder c) { c.setEventCreate(flags); }, &event).first, CUDA_SUCCESS);
    return event;
  };
  auto shareEvent = [&](std::uint64_t event) {
    return owner.callForData([&](wire::Call::Builder c) { c.setIpcGetEventHandle(event); });
  };
  auto openEvent = [&](RawClient& client, const std::vector<std::uint8_t>& handle, std::uint64_t* event) {
    return client
        .call([&](wire::Call::Builder c) { c.setIpcOpenEventHandle(kj::arrayPtr(handle.data(), handle.size())); }, event)
        .first;
  };
  EXPECT_EQ(shareEvent(create(CU_EVENT_DISABLE_TIMING)).first, CUDA_ERROR_INVALID_VALUE) << "not interprocess";
  EXPECT_EQ(shareEvent(0x1234).first, CUDA_ERROR_INVALID_HANDLE) << "a forged event";
  std::uint64_t event = create(CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING);
  auto [shared, handle] = shareEvent(event);
  ASSERT_EQ(shared, CUDA_SUCCESS);
  ASSERT_EQ(handle.size(), 64u);
  EXPECT_EQ(shareEvent(event).second, handle) << "the same event, the same handle";
  std::uint64_t opened = 0;
  EXPECT_EQ(openEvent(owner, handle, &opened), CUDA_ERROR_INVALID_CONTEXT) << "its own session";
  EXPECT_EQ(openEvent(stranger, handle, &opened), CUDA_ERROR_INVALID_HANDLE) << "another vGPU";
  EXPECT_EQ(open(sibling, handle).first, CUDA_ERROR_INVALID_VALUE) << "an event's handle opened as memory";
  std::uint64_t base = owner.allocate(4096);
  auto memory = share(owner, base).second;
  EXPECT_EQ(openEvent(sibling, memory, &opened), CUDA_ERROR_INVALID_VALUE) << "memory's handle opened as an event";
  std::vector<std::uint8_t> relabelled = memory;
  std::memcpy(relabelled.data(), handle.data(), 4);  // an event's magic on memory's token
  EXPECT_EQ(openEvent(sibling, relabelled, &opened), CUDA_ERROR_INVALID_HANDLE) << "a token of another kind";

  ASSERT_EQ(owner.call([&](wire::Call::Builder c) { c.initEventRecord().setEvent(event); }).first, CUDA_SUCCESS);
  ASSERT_EQ(owner.synchronize(), CUDA_SUCCESS);
  ASSERT_EQ(openEvent(sibling, handle, &opened), CUDA_SUCCESS);
  EXPECT_EQ(sibling.call([&](wire::Call::Builder c) { c.setEventSynchronize(opened); }).first, CUDA_SUCCESS);
  EXPECT_EQ(sibling.call([&](wire::Call::Builder c) { c.setEventQuery(opened); }).first, CUDA_SUCCESS);
}

TEST_F(ServerIpcTest, AHandleDiesWithItsSession) {
  RawClient sibling(url, "a", "ta");
  sibling.retainPrimary();
  std::vector<std::uint8_t> handle;
  {
    RawClient owner(url, "a", "ta");
    owner.retainPrimary();
    std::uint64_t base = owner.allocate(4096);
    handle = share(owner, base).second;
    ASSERT_EQ(handle.size(), 64u);
  }
  EXPECT_TRUE(eventually([&] { return open(sibling, handle).first == CUDA_ERROR_INVALID_HANDLE; }))
      << "the exporter's session ended";
}

}  // namespace
}  // namespace fastgpu::server
