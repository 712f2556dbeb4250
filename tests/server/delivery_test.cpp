// Asynchronous copies into a client's pinned memory on the server's side (stageToHost and the
// deliveries that replies carry): the bytes come with a later reply, in order, and what a client
// asks for beyond the bounds, out of order or out of range is refused with the session going on.
#include "protocol/call_kinds.h"
#include "server/pending_deliveries.h"
#include "session_test_support.h"

namespace fastgpu::server {
namespace {

struct Delivered {
  std::uint64_t id;
  std::uint64_t bytes;
};

// Stages delivery `id`: `bytes` from `src` on the legacy stream (posted: no reply).
void stage(RawClient& client, std::uint64_t id, std::uint64_t src, std::uint64_t bytes) {
  bool posted = false;
  client.send(
      [&](wire::Call::Builder c) {
        auto copy = c.initStageToHost();
        copy.setDelivery(id);
        copy.setSrc(src);
        copy.setBytes(bytes);
      },
      {}, &posted);
  EXPECT_TRUE(posted);
}

// Asks for the completed deliveries (after every pending copy when `wait`) until the server has
// none left; their bytes are appended to `bytes`. The client's deferred error is the first one
// those replies carried.
std::vector<Delivered> collect(RawClient& client, bool wait, std::vector<std::uint8_t>* bytes = nullptr) {
  std::vector<Delivered> all;
  CUresult deferred = CUDA_SUCCESS;
  std::string deferredMessage;
  bool more = true;
  while (more) {
    auto answered = client.send([&](wire::Call::Builder c) { c.setCollectDeliveries(wait); });
    if (answered == nullptr) {
      ADD_FAILURE() << "the session ended";
      break;
    }
    for (auto delivery : answered->reply().getDeliveries()) all.push_back({delivery.getDelivery(), delivery.getBytes()});
    if (bytes != nullptr) bytes->insert(bytes->end(), answered->delivered.begin(), answered->delivered.end());
    more = answered->reply().getMoreDeliveries();
    wait = false;
    if (deferred == CUDA_SUCCESS) {
      deferred = client.deferred;
      deferredMessage = client.deferredMessage;
    }
  }
  client.deferred = deferred;
  client.deferredMessage = deferredMessage;
  return all;
}

TEST_F(ServerTest, AStagedCopyArrivesWithALaterReply) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = client.allocate(1 << 20);
  std::vector<std::uint8_t> pattern(1 << 20);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<std::uint8_t>(i * 13 + i / 251);
  ASSERT_EQ(client.call([&](wire::Call::Builder c) {
                  auto copy = c.initCopy();
                  copy.setDst(base);
                  copy.setBytes(pattern.size());
                },
                nullptr, pattern)
                .first,
            CUDA_SUCCESS);
  stage(client, 1, base, 4096);
  stage(client, 2, base + 4096, pattern.size() - 4096);
  std::vector<std::uint8_t> bytes;
  auto delivered = collect(client, true, &bytes);
  ASSERT_EQ(delivered.size(), 2u);
  EXPECT_EQ(delivered[0].id, 1u);
  EXPECT_EQ(delivered[0].bytes, 4096u);
  EXPECT_EQ(delivered[1].id, 2u);
  EXPECT_EQ(delivered[1].bytes, pattern.size() - 4096);
  EXPECT_EQ(bytes, pattern);
  EXPECT_EQ(client.deferred, CUDA_SUCCESS);
  EXPECT_TRUE(collect(client, true).empty()) << "each delivery comes once";
}

TEST_F(ServerTest, StagedCopiesOutOfOrderOrOutOfRangeAreRefusedAndReportedAsFailed) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = client.allocate(1 << 20);
  // Receive a copy past the allocation's end, one of an id out of order, one too large for a
  // chunk, and an empty one. Expect: each reported as failed (0 bytes), the error deferred, the
  // session going on with the next id in order.
  stage(client, 1, base + 4096, 1 << 20);
  auto failed = collect(client, false);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].id, 1u);
  EXPECT_EQ(failed[0].bytes, 0u);
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_VALUE);
  stage(client, 7, base, 4096);
  failed = collect(client, false);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].bytes, 0u);
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_VALUE);
  EXPECT_NE(client.deferredMessage.find("out of order"), std::string::npos) << client.deferredMessage;
  stage(client, 2, base, protocol::kMaxCopyChunkBytes + 1);
  stage(client, 3, base, 0);
  failed = collect(client, false);
  EXPECT_EQ(failed.size(), 2u);
  stage(client, 4, base, 4096);
  auto delivered = collect(client, true);
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].id, 4u);
  EXPECT_EQ(delivered[0].bytes, 4096u);
}

TEST_F(ServerTest, StagedCopiesBeyondTheBoundsAreRefusedWithoutCostingTheServerMore) {
  RawClient client(url);
  client.retainPrimary();
  const std::uint64_t piece = 1 << 20;
  std::uint64_t base = client.allocate(piece);
  // Receive copies of twice the bytes a session may have in flight, and more copies than it may
  // have pending. Expect: those past the bounds refused (CUDA_ERROR_OUT_OF_MEMORY, reported as
  // failed), the others delivered, in more than one reply.
  const std::uint64_t count = 2 * PendingDeliveries::kMaxPendingBytes / piece;
  for (std::uint64_t id = 1; id <= count; ++id) stage(client, id, base, piece);
  std::uint64_t bytes = 0, refused = 0;
  for (const Delivered& delivered : collect(client, true)) {
    bytes += delivered.bytes;
    refused += delivered.bytes == 0 ? 1 : 0;
  }
  EXPECT_EQ(client.deferred, CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_GE(refused, count / 2);
  EXPECT_LE(bytes, PendingDeliveries::kMaxPendingBytes);
  EXPECT_GT(bytes, 0u);
  const std::uint64_t small = PendingDeliveries::kMaxPending + 100;
  for (std::uint64_t id = count + 1; id <= count + small; ++id) stage(client, id, base, 64);
  refused = 0;
  std::uint64_t seen = 0;
  for (const Delivered& delivered : collect(client, true)) {
    ++seen;
    refused += delivered.bytes == 0 ? 1 : 0;
  }
  EXPECT_EQ(seen, small);
  EXPECT_GE(refused, 100u);
  EXPECT_GT(client.freeMemory(), 0u) << "the session still serves";
}

TEST_F(ServerTest, StagedCopiesOfManySizesWithinTheBoundsAreNeverRefused) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = client.allocate(protocol::kMaxCopyChunkBytes);
  // Receive rounds of copies of changing sizes, each round up to the bytes a session may have
  // in flight (as the client keeps them). Expect: every one delivered, the spare buffers of
  // earlier rounds making room for the new sizes.
  const std::uint64_t sizes[] = {5 << 20, 3 << 20, 4096, 7 << 20, 1 << 20, 100, 6 << 20, (5 << 20) + 1};
  std::uint64_t id = 1;
  for (int round = 0; round < 4; ++round) {
    std::uint64_t inFlight = 0, staged = 0;
    for (int i = 0;; ++i) {
      std::uint64_t bytes = sizes[(i + round) % std::size(sizes)];
      if (inFlight + bytes > PendingDeliveries::kMaxPendingBytes) break;
      stage(client, id++, base, bytes);
      inFlight += bytes;
      ++staged;
    }
    std::uint64_t delivered = 0;
    for (const Delivered& one : collect(client, true)) {
      EXPECT_GT(one.bytes, 0u) << "copy " << one.id << " refused: " << client.deferredMessage;
      delivered += one.bytes;
    }
    EXPECT_EQ(delivered, inFlight);
    EXPECT_EQ(client.deferred, CUDA_SUCCESS) << client.deferredMessage;
    EXPECT_GT(staged, 0u);
  }
}

}  // namespace
}  // namespace fastgpu::server
