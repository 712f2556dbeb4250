// How a same-host TCP session's client reaches its worker's shared memory (shm_rendezvous.h):
// only with the nonce; strangers are closed on and cost the session at most its move; either side
// can stay on the connection, and the other then agrees without a word.
#include "protocol/transport/shm_rendezvous.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/protocol/rendezvous_pair.h"

namespace fastgpu::protocol {
namespace {

using std::chrono::steady_clock;
constexpr auto kLong = std::chrono::seconds(20);  // never reached when the code is right

// Connects to the point's socket as any local process could; sends `bytes` if given.
int connectAsStranger(const RendezvousPoint& point, std::span<const std::uint8_t> bytes = {}) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, point.name().data(), point.name().size());
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + point.name().size());
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address), length), 0) << std::strerror(errno);
  if (!bytes.empty()) {
    EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  return fd;
}

std::future<Result<std::optional<int>>> joinLater(const RendezvousPoint& point) {
  return std::async(std::launch::async, [name = point.name(), nonce = point.nonce()] {
    return joinRendezvous(name, nonce, kLong);
  });
}

// The worker's first byte (the segment's marker, in the real flow) lets the waiting client in.
void expectLetIn(int worker, std::future<Result<std::optional<int>>>& client) {
  ASSERT_EQ(::send(worker, "x", 1, MSG_NOSIGNAL), 1);
  auto joined = client.get();
  ASSERT_TRUE(joined && *joined);
  ::close(**joined);
  ::close(worker);
}

TEST(ShmRendezvous, TheClientWithTheNonceGetsASharedMemorySession) {
  auto [client, server] = testing::rendezvousPair();
  ASSERT_TRUE(client && server);
  std::vector<std::uint8_t> hello = {1, 2, 3}, got;
  ASSERT_TRUE(client->send(hello));
  ASSERT_TRUE(server->receive(got));
  EXPECT_EQ(got, hello);
}

TEST(ShmRendezvous, NamesAndNoncesAreFreshEachTime) {
  auto a = RendezvousPoint::open(), b = RendezvousPoint::open();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->name(), b->name());
  EXPECT_FALSE(std::equal(a->nonce().begin(), a->nonce().end(), b->nonce().begin()));
  EXPECT_EQ(a->nonce().size(), kRendezvousNonceBytes);
}

TEST(ShmRendezvous, AStrangerWithAWrongNonceIsClosedOnAndTheClientStillGetsIn) {
  auto point = RendezvousPoint::open();
  ASSERT_TRUE(point);
  std::vector<std::uint8_t> wrong(point->nonce().begin(), point->nonce().end());
  wrong[7] ^= 1;
  int stranger = connectAsStranger(*point, wrong);
  std::vector<std::string> strangers;
  auto client = joinLater(*point);
  // The stranger came first; the client may queue behind it.
  auto arrived = point->await(-1, steady_clock::now() + kLong, [&](const std::string& who) { strangers.push_back(who); });
  ASSERT_TRUE(arrived && *arrived);
  ASSERT_EQ(strangers.size(), 1u);
  EXPECT_NE(strangers[0].find("pid=" + std::to_string(getpid())), std::string::npos) << strangers[0];
  char byte = 0;
  EXPECT_EQ(::recv(stranger, &byte, 1, 0), 0) << "the stranger is closed on, sent nothing";
  ::close(stranger);
  expectLetIn(**arrived, client);
}

TEST(ShmRendezvous, ASilentStrangerHoldsTheWaitUpForASecondAtMost) {
  auto point = RendezvousPoint::open();
  ASSERT_TRUE(point);
  int stranger = connectAsStranger(*point);
  int strangers = 0;
  auto client = joinLater(*point);
  auto arrived = point->await(-1, steady_clock::now() + kLong, [&](const std::string&) { ++strangers; });
  ASSERT_TRUE(arrived && *arrived) << "the client got in after the silent one";
  EXPECT_EQ(strangers, 1);
  ::close(stranger);
  expectLetIn(**arrived, client);
}

TEST(ShmRendezvous, ManyStrangersCostTheSessionItsMoveNotItsConnection) {
  auto point = RendezvousPoint::open();
  ASSERT_TRUE(point);
  std::vector<std::uint8_t> wrong(kRendezvousNonceBytes, 0);
  std::vector<int> strangers;
  for (int i = 0; i < RendezvousPoint::kMaxStrangers; ++i) strangers.push_back(connectAsStranger(*point, wrong));
  int told = 0;
  auto arrived = point->await(-1, steady_clock::now() + kLong, [&](const std::string&) { ++told; });
  ASSERT_TRUE(arrived);
  EXPECT_FALSE(*arrived) << "the session stays on its connection";
  EXPECT_EQ(told, RendezvousPoint::kMaxStrangers);
  // The client, coming late, learns to stay too.
  auto joined = joinRendezvous(point->name(), point->nonce(), kLong);
  ASSERT_TRUE(joined);
  EXPECT_FALSE(*joined);
  for (int fd : strangers) ::close(fd);
}

TEST(ShmRendezvous, AClientThatSendsOnItsConnectionEndsTheWait) {
  auto point = RendezvousPoint::open();
  ASSERT_TRUE(point);
  int connection[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, connection), 0);
  ASSERT_EQ(::send(connection[1], "c", 1, MSG_NOSIGNAL), 1);  // the client's first call
  auto arrived = point->await(connection[0], steady_clock::now() + kLong, [](const std::string&) {});
  ASSERT_TRUE(arrived);
  EXPECT_FALSE(*arrived);
  char byte = 0;
  EXPECT_EQ(::recv(connection[0], &byte, 1, 0), 1) << "the call is still there to serve";
  ::close(connection[0]);
  ::close(connection[1]);
}

TEST(ShmRendezvous, AWorkerThatStopsWaitingBeforeTakingTheClientLeavesItOnItsConnection) {
  auto point = RendezvousPoint::open();
  ASSERT_TRUE(point);
  // The client connects, but the worker's wait has run out: the client's connection is dropped
  // unaccepted, and it reads that as "stay".
  auto client = joinLater(*point);
  auto arrived = point->await(-1, steady_clock::now(), [](const std::string&) {});
  ASSERT_TRUE(arrived);
  EXPECT_FALSE(*arrived);
  auto joined = client.get();
  ASSERT_TRUE(joined) << joined.status().message();
  EXPECT_FALSE(*joined);
}

TEST(ShmRendezvous, AClientThatCannotReachTheSocketStaysAndAMalformedOneIsRefused) {
  std::vector<std::uint8_t> nonce(kRendezvousNonceBytes, 1);
  auto nobody = joinRendezvous("fastgpu-shm-00112233445566778899aabbccddeeff", nonce, kLong);
  ASSERT_TRUE(nobody);
  EXPECT_FALSE(*nobody) << "another network namespace looks like this";
  for (std::string name : {std::string(""), std::string("fastgpu-shm-"), std::string("fastgpu-shm-XYZ"),
                           std::string("other-0123"), std::string("fastgpu-shm-") + std::string(200, 'a'),
                           std::string("fastgpu-shm-ab\0cd", 17)}) {
    auto refused = joinRendezvous(name, nonce, kLong);
    EXPECT_FALSE(refused) << name;
  }
  std::vector<std::uint8_t> shortNonce(8, 1);
  EXPECT_FALSE(joinRendezvous("fastgpu-shm-00112233445566778899aabbccddeeff", shortNonce, kLong));
}

}  // namespace
}  // namespace fastgpu::protocol
