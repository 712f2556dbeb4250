// One-sided RDMA between registered memory (rdma_link.h: registerMemory, read, writeTo) on the
// in-process link and, where a device exists, on libibverbs: the peer reaches only what this side
// registered for it, and a key it was not given breaks its own link. Then the registration cache
// (rdma_registrations.h) on the in-process link.
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "protocol/transport/rdma_registrations.h"
#include "protocol/transport/verbs_link.h"
#include "tests/protocol/fake_rdma_link.h"
#include "tests/support/byte_pattern.h"

namespace fastgpu::protocol {
namespace {

constexpr std::size_t kRegion = 64 << 10;
constexpr std::size_t kBuffer = 256 << 10;

using LinkPair = std::pair<std::unique_ptr<RdmaLink>, std::unique_ptr<RdmaLink>>;

struct FakeLinks {
  static std::string skipReason() { return ""; }
  static LinkPair make() {
    auto [a, b] = testing::FakeRdmaLink::pair(kRegion);
    return {std::move(a), std::move(b)};
  }
};

struct VerbsLinks {
  static std::string skipReason() { return rdmaUnavailableReason(); }
  static LinkPair make() {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) return {};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto other = std::async(std::launch::async, [&] { return bootstrapVerbsLink(sockets[1], kRegion, deadline); });
    auto mine = bootstrapVerbsLink(sockets[0], kRegion, deadline);
    auto theirs = other.get();
    ::close(sockets[0]);
    ::close(sockets[1]);
    if (!mine || !theirs) return {};
    return {std::move(*mine), std::move(*theirs)};
  }
};

template <typename Links>
class RdmaOneSided : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = Links::skipReason(); !why.empty()) GTEST_SKIP() << "[rdma] skipped: " << why;
    std::tie(client, server) = Links::make();
    ASSERT_TRUE(client && server);
  }

  // The client's buffer, registered for the server, and the server's private staging.
  void registerBoth() {
    auto shared = client->registerMemory(clientBuffer, true);
    ASSERT_TRUE(shared) << shared.status().message();
    clientRegion = *shared;
    auto staging = server->registerMemory(serverBuffer, false);
    ASSERT_TRUE(staging) << staging.status().message();
    serverRegion = *staging;
    EXPECT_NE(clientRegion.remoteKey, 0u);
    EXPECT_EQ(serverRegion.remoteKey, 0u) << "memory registered for this side alone has no remote key";
  }
  RdmaPeerAddress inClient(std::uint64_t offset) const {
    return {reinterpret_cast<std::uint64_t>(clientBuffer.data()) + offset, clientRegion.remoteKey};
  }

  std::unique_ptr<RdmaLink> client, server;
  std::vector<std::uint8_t> clientBuffer = testing::patternBytes(kBuffer, 3);
  std::vector<std::uint8_t> serverBuffer = std::vector<std::uint8_t>(kBuffer, 0);
  RdmaRegion clientRegion, serverRegion;
};

using Links = ::testing::Types<FakeLinks, VerbsLinks>;
TYPED_TEST_SUITE(RdmaOneSided, Links);

TYPED_TEST(RdmaOneSided, ReadsAndWritesMoveBytesBetweenRegisteredMemory) {
  this->registerBoth();
  ASSERT_TRUE(this->server->read(this->serverRegion, 100, this->inClient(4096), 100000));
  EXPECT_TRUE(std::equal(this->serverBuffer.begin() + 100, this->serverBuffer.begin() + 100100,
                         this->clientBuffer.begin() + 4096));
  auto written = testing::patternBytes(kBuffer, 9);
  std::copy(written.begin(), written.end(), this->serverBuffer.begin());
  ASSERT_TRUE(this->server->writeTo(this->serverRegion, 0, this->inClient(0), kBuffer));
  EXPECT_EQ(this->clientBuffer, written);
}

TYPED_TEST(RdmaOneSided, AWriteToIsInThePeersMemoryBeforeALaterImmediate) {
  this->registerBoth();
  std::fill(this->serverBuffer.begin(), this->serverBuffer.end(), 0x5a);
  ASSERT_TRUE(this->server->writeTo(this->serverRegion, 0, this->inClient(0), kBuffer));
  ASSERT_TRUE(this->server->write(0, 0, 0, 77u));
  auto immediate = this->client->nextImmediate();
  ASSERT_TRUE(immediate);
  EXPECT_EQ(*immediate, 77u);
  EXPECT_EQ(this->clientBuffer, std::vector<std::uint8_t>(kBuffer, 0x5a));
}

TYPED_TEST(RdmaOneSided, ALocalRangeOutsideItsRegistrationIsRefusedAndTheLinkGoesOn) {
  this->registerBoth();
  Status past = this->server->read(this->serverRegion, kBuffer - 10, this->inClient(0), 11);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.kind(), ErrorKind::kFailed);
  EXPECT_EQ(past.code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_TRUE(this->server->read(this->serverRegion, 0, this->inClient(0), 10));
}

// What a forged key, a range past the registration, memory registered for one side alone and a
// registration that ended each do: the reader's own link breaks, nothing is copied.
TYPED_TEST(RdmaOneSided, APlaceThePeerDidNotGrantBreaksTheReadersLink) {
  this->registerBoth();
  auto untouched = this->clientBuffer;
  RdmaPeerAddress forged = this->inClient(0);
  forged.key ^= 0x1234;
  Status refused = this->server->read(this->serverRegion, 0, forged, 16);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.kind(), ErrorKind::kDisconnected);
  EXPECT_FALSE(this->server->writeTo(this->serverRegion, 0, this->inClient(0), 16)) << "the link stays broken";
  EXPECT_EQ(this->clientBuffer, untouched);
}

TYPED_TEST(RdmaOneSided, ARangePastThePeersRegistrationBreaksTheLink) {
  this->registerBoth();
  EXPECT_EQ(this->server->read(this->serverRegion, 0, this->inClient(kBuffer - 8), 16).kind(), ErrorKind::kDisconnected);
}

TYPED_TEST(RdmaOneSided, MemoryRegisteredForOneSideOrDeregisteredIsOutOfThePeersReach) {
  this->registerBoth();
  auto privateRegion = this->client->registerMemory(this->clientBuffer, false);
  ASSERT_TRUE(privateRegion);
  this->client->deregister(this->clientRegion);
  auto untouched = this->clientBuffer;
  Status refused = this->server->writeTo(this->serverRegion, 0, this->inClient(0), 16);
  EXPECT_EQ(refused.kind(), ErrorKind::kDisconnected);
  EXPECT_EQ(this->clientBuffer, untouched);
}

// ---- the registration cache ----

class RdmaRegistrationCacheTest : public ::testing::Test {
 protected:
  std::pair<std::unique_ptr<testing::FakeRdmaLink>, std::unique_ptr<testing::FakeRdmaLink>> links =
      testing::FakeRdmaLink::pair(kRegion);
  testing::FakeRdmaLink& link = *links.first;
  std::vector<std::uint8_t> memory = std::vector<std::uint8_t>(64 * 4096);
  std::uint8_t* page(std::size_t n) {
    auto first = (reinterpret_cast<std::uintptr_t>(memory.data()) + 4095) / 4096 * 4096;
    return reinterpret_cast<std::uint8_t*>(first) + n * 4096;
  }
};

TEST_F(RdmaRegistrationCacheTest, ABufferUsedAgainIsRegisteredOnceAsWholePages) {
  RdmaRegistrationCache cache(link, true, 8, 1 << 20);
  auto first = cache.cover(page(1) + 100, 5000);
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)->data, page(1));
  EXPECT_EQ((*first)->bytes, 2 * 4096u);
  auto again = cache.cover(page(1) + 4096, 4096);  // inside the pages already registered
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->id, (*first)->id);
  EXPECT_EQ(link.registrations(), 1u);
  EXPECT_EQ(cache.bytes(), 2 * 4096u);
}

TEST_F(RdmaRegistrationCacheTest, TheLeastRecentlyUsedGoFirstAndALeaseOutlivesEviction) {
  RdmaRegistrationCache cache(link, true, 2, 1 << 20);
  auto a = cache.cover(page(0), 4096);
  ASSERT_TRUE(a);
  ASSERT_TRUE(cache.cover(page(2), 4096));
  ASSERT_TRUE(cache.cover(page(0), 10));  // a is used again: page 2 is now the oldest
  ASSERT_TRUE(cache.cover(page(4), 4096));
  EXPECT_EQ(cache.regions(), 2u);
  EXPECT_EQ(link.registrations(), 2u) << "page 2's registration ended when evicted";
  auto stillA = cache.cover(page(0), 4096);
  ASSERT_TRUE(stillA);
  EXPECT_EQ((*stillA)->id, (*a)->id);
  // Evicted while leased: the registration lives until the lease drops.
  ASSERT_TRUE(cache.cover(page(6), 4096));
  ASSERT_TRUE(cache.cover(page(8), 4096));
  EXPECT_EQ(link.registrations(), 3u);
  a->reset();
  stillA->reset();
  EXPECT_EQ(link.registrations(), 2u);
}

TEST_F(RdmaRegistrationCacheTest, TheByteBoundEvictsAndAnOversizedRangeIsUsedOnceNotKept) {
  RdmaRegistrationCache cache(link, true, 8, 3 * 4096);
  ASSERT_TRUE(cache.cover(page(0), 2 * 4096));
  ASSERT_TRUE(cache.cover(page(4), 2 * 4096));
  EXPECT_EQ(cache.regions(), 1u);
  EXPECT_EQ(cache.bytes(), 2 * 4096u);
  {
    auto big = cache.cover(page(10), 8 * 4096);
    ASSERT_TRUE(big);
    EXPECT_EQ(link.registrations(), 2u);
  }
  EXPECT_EQ(link.registrations(), 1u);
  EXPECT_EQ(cache.regions(), 1u);
}

TEST_F(RdmaRegistrationCacheTest, FreedMemoryIsForgottenAndRegisteredAfreshWhenUsedAgain) {
  RdmaRegistrationCache cache(link, true, 8, 1 << 20);
  auto before = cache.cover(page(0), 3 * 4096);
  ASSERT_TRUE(before);
  std::uint64_t id = (*before)->id;
  before->reset();
  ASSERT_TRUE(cache.cover(page(8), 4096));
  cache.forget(page(2) + 7, 1);  // overlaps the first registration's last page only
  EXPECT_EQ(cache.regions(), 1u);
  EXPECT_EQ(link.registrations(), 1u);
  auto after = cache.cover(page(0), 4096);
  ASSERT_TRUE(after);
  EXPECT_NE((*after)->id, id);
}

TEST_F(RdmaRegistrationCacheTest, ARefusedRegistrationOrRangeIsReportedAndNothingIsCached) {
  RdmaRegistrationCache cache(link, true, 8, 1 << 20);
  link.failRegistrations(true);
  auto refused = cache.cover(page(0), 4096);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("ibv_reg_mr"), std::string::npos);
  EXPECT_EQ(cache.regions(), 0u);
  link.failRegistrations(false);
  EXPECT_EQ(cache.cover(page(0), 0).status().code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cache.cover(nullptr, 16).status().code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cache.cover(reinterpret_cast<void*>(UINT64_MAX - 100), 200).status().code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(link.registrations(), 0u);
}

}  // namespace
}  // namespace fastgpu::protocol
