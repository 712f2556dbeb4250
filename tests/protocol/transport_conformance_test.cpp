// The transport conformance suite: every transport passes the same tests. Hermetic: loopback
// addresses and in-process pairs only.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>

#include <numeric>
#include <thread>

#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/transport/shm.h"
#include "protocol/transport/stream_connection.h"
#include "protocol/transport/tls_connection.h"
#include "protocol/transport/transport.h"
#include "protocol/transport/rdma_connection.h"
#include "protocol/transport/verbs_link.h"
#include "tests/protocol/fake_rdma_link.h"
#include "tests/protocol/rendezvous_pair.h"
#include "tests/protocol/tls_fixture.h"
#include "tests/support/byte_pattern.h"
#include "tests/support/blocked_thread.h"
#include "tests/support/scratch_directory.h"

namespace fastgpu::protocol {
namespace {

using Pair = std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>>;

struct LoopbackTransport {
  static Pair makePair() { return loopbackPair(); }
};

// A pair through a listener at `url`: the connecting end first.
Pair pairThrough(const std::string& url) {
  auto listener = listen(url);
  EXPECT_TRUE(listener) << listener.status().message();
  std::unique_ptr<Connection> server;
  std::thread acceptor([&] {
    auto accepted = (*listener)->accept();
    EXPECT_TRUE(accepted) << accepted.status().message();
    if (accepted) server = std::move(*accepted);
  });
  auto client = connect((*listener)->url());
  EXPECT_TRUE(client) << client.status().message();
  acceptor.join();
  return {std::move(*client), std::move(server)};
}

struct TcpTransport {
  static Pair makePair() { return pairThrough("tcp://127.0.0.1:0"); }
};

struct UnixTransport {
  static Pair makePair() {
    testing::ScratchDirectory scratch;  // the pair outlives the socket file
    return pairThrough("unix://" + scratch.path() + "/fastgpu.sock");
  }
};

// Shared memory, as a same-host session runs after it moved off its Unix socket.
struct ShmTransport {
  static Pair makePair() {
    auto pair = sharedMemoryPair();
    EXPECT_TRUE(pair) << pair.status().message();
    return pair ? std::move(*pair) : Pair{};
  }
};

// TLS, the server's end after its handshake (as a server's login leaves it).
// Shared memory reached the way a same-host TCP client moves onto it (shm_rendezvous.h).
struct ShmByRendezvousTransport {
  static Pair makePair() { return testing::rendezvousPair(); }
};

struct TlsTransport {
  static Pair makePair() { return testing::tlsPair(testing::testCertificates().serverSettings(), testing::testCertificates().clientSettings()); }
};

// TLS relayed to a socket pair, as a session's worker gets it: the server's end is the pair's.
struct TlsRelayTransport {
  static Pair makePair() {
    auto [client, server] = TlsTransport::makePair();
    return {std::move(client), testing::relayed(std::move(server))};
  }
};

// RDMA's rings and completions over an in-process link (no device needed), with a socket pair for
// liveness as the bootstrap socket: everything of the RDMA transport above the verbs layer. Rings
// of 1 MiB, smaller than a large frame, so that frames wrap and wait for room.
struct FakeRdmaTransport {
  static Pair makePair() {
    auto [left, right] = testing::FakeRdmaLink::pair(2 << 20);
    int sockets[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets), 0);
    auto a = openRdmaConnection(std::move(left), sockets[0], "rdma-a", true);
    auto b = openRdmaConnection(std::move(right), sockets[1], "rdma-b", true);
    EXPECT_TRUE(a && b);
    if (!a || !b) return Pair{};
    return {std::move(*a), std::move(*b)};
  }
};

// RDMA through a real device (libibverbs): skipped, saying why, where there is none.
struct VerbsRdmaTransport {
  static std::string skipReason() { return rdmaUnavailableReason(); }
  static Pair makePair() { return pairThrough("rdma://127.0.0.1:0"); }
};

template <typename Transport>
class TransportConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (requires { Transport::skipReason(); }) {
      if (std::string why = Transport::skipReason(); !why.empty()) GTEST_SKIP() << "[rdma] skipped: " << why;
    }
    std::tie(a, b) = Transport::makePair();
    ASSERT_TRUE(a && b);
  }
  std::unique_ptr<Connection> a;
  std::unique_ptr<Connection> b;
};

using Transports =
    ::testing::Types<LoopbackTransport, TcpTransport, UnixTransport, ShmTransport, ShmByRendezvousTransport, TlsTransport,
                     TlsRelayTransport, FakeRdmaTransport, VerbsRdmaTransport>;
TYPED_TEST_SUITE(TransportConformance, Transports);

std::vector<std::uint8_t> pattern(std::size_t bytes, std::uint8_t seed) {
  std::vector<std::uint8_t> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = fastgpu::testing::patternByte(i, seed);
  return data;
}

TYPED_TEST(TransportConformance, FramesArriveWholeAndInOrder) {
  std::vector<std::size_t> sizes = {0, 1, 15, 16, 4096, 100000};
  std::thread sender([&] {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      EXPECT_TRUE(this->a->send(pattern(sizes[i], static_cast<std::uint8_t>(i))));
    }
  });
  std::vector<std::uint8_t> payload;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(this->b->receive(payload));
    EXPECT_EQ(payload, pattern(sizes[i], static_cast<std::uint8_t>(i))) << "frame " << i;
  }
  sender.join();
}

TYPED_TEST(TransportConformance, GatheredPartsFormOneFrame) {
  auto head = pattern(10, 1);
  auto body = pattern(70000, 2);
  std::span<const std::uint8_t> parts[] = {head, {}, body};
  std::thread sender([&] { EXPECT_TRUE(this->a->send(parts)); });
  std::vector<std::uint8_t> payload;
  ASSERT_TRUE(this->b->receive(payload));
  sender.join();
  ASSERT_EQ(payload.size(), head.size() + body.size());
  EXPECT_TRUE(std::equal(head.begin(), head.end(), payload.begin()));
  EXPECT_TRUE(std::equal(body.begin(), body.end(), payload.begin() + 10));
}

TYPED_TEST(TransportConformance, LargeFramesTravelBothWaysAtOnce) {
  auto big = pattern(16u << 20, 7);
  std::thread forward([&] { EXPECT_TRUE(this->a->send(big)); });
  std::thread backward([&] { EXPECT_TRUE(this->b->send(big)); });
  std::vector<std::uint8_t> atB, atA;
  ASSERT_TRUE(this->b->receive(atB));
  ASSERT_TRUE(this->a->receive(atA));
  forward.join();
  backward.join();
  EXPECT_TRUE(atB == big && atA == big);
}

TYPED_TEST(TransportConformance, OversizedFramesAreRefusedBySender) {
  std::vector<std::uint8_t> tooBig(kMaxFrameBytes + 1);
  Status status = this->a->send(tooBig);
  EXPECT_FALSE(status);
  EXPECT_NE(status.message().find("exceeds"), std::string::npos);
}

TYPED_TEST(TransportConformance, PeerCloseIsReportedAsDisconnected) {
  this->a.reset();
  std::vector<std::uint8_t> payload;
  Status status = this->b->receive(payload);
  EXPECT_FALSE(status);
  EXPECT_EQ(status.kind(), ErrorKind::kDisconnected);
  // Sending to a closed peer fails (maybe after the kernel buffers one write), never crashes.
  Status sent = Status::ok();
  for (int i = 0; i < 8 && sent; ++i) sent = this->b->send(pattern(1 << 20, 1));
  EXPECT_FALSE(sent);
  EXPECT_EQ(sent.kind(), ErrorKind::kDisconnected);
}

TYPED_TEST(TransportConformance, ShutdownWakesABlockedReceive) {
  std::vector<std::uint8_t> payload;
  Status status = Status::ok();
  std::atomic<pid_t> tid{0};
  std::thread receiver([&] {
    tid = testing::currentThreadId();
    status = this->b->receive(payload);
  });
  EXPECT_TRUE(testing::waitUntilBlockedIn(tid, {SYS_recvfrom, SYS_read, SYS_poll, SYS_ppoll, SYS_futex}))
      << "receive never blocked";
  this->b->shutdown();
  receiver.join();
  EXPECT_EQ(status.kind(), ErrorKind::kDisconnected);
}

TYPED_TEST(TransportConformance, AFrameOverTheReceiversLimitIsRefused) {
  this->b->setMaxFrameBytes(1024);
  auto small = pattern(1024, 1), large = pattern(1025, 2);
  ASSERT_TRUE(this->a->send(small));
  std::vector<std::uint8_t> payload;
  ASSERT_TRUE(this->b->receive(payload));
  EXPECT_EQ(payload, small);
  ASSERT_TRUE(this->a->send(large));
  Status refused = this->b->receive(payload);
  EXPECT_EQ(refused.kind(), ErrorKind::kFailed);
  EXPECT_NE(refused.message().find("exceeds the 1024 allowed"), std::string::npos) << refused.message();
}

TYPED_TEST(TransportConformance, AReceiveGivesUpAtItsDeadline) {
  auto started = std::chrono::steady_clock::now();
  this->b->setReceiveDeadline(started + std::chrono::milliseconds(100));
  std::vector<std::uint8_t> payload;
  Status status = this->b->receive(payload);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_EQ(status.code(), CUDA_ERROR_TIMEOUT);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(100));
  // Without a deadline again, a frame that arrives is received.
  this->b->setReceiveDeadline(std::nullopt);
  auto data = pattern(64, 3);
  ASSERT_TRUE(this->a->send(data));
  ASSERT_TRUE(this->b->receive(payload));
  EXPECT_EQ(payload, data);
}

TYPED_TEST(TransportConformance, APeerOnThisHostIsLoopback) {
  // Every transport here connects within the host (127.0.0.1, a socketpair): nothing leaves it.
  EXPECT_TRUE(this->a->loopback());
  EXPECT_TRUE(this->b->loopback());
}

// A client on this host that dialed one of the host's own addresses (not 127.x) is on this host
// too: the server offers it shared memory (shm_rendezvous.h) and it sends its token unwarned.
TEST(TcpTransport, APeerThatDialedThisHostsOwnAddressIsOnThisHost) {
  ifaddrs* interfaces = nullptr;
  ASSERT_EQ(getifaddrs(&interfaces), 0);
  std::string own;
  for (ifaddrs* i = interfaces; i != nullptr && own.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) != 0 ||
        (i->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof(text));
    own = text;
  }
  freeifaddrs(interfaces);
  if (own.empty()) GTEST_SKIP() << "this machine has no IPv4 address besides loopback";
  auto [client, server] = pairThrough("tcp://" + own + ":0");
  ASSERT_TRUE(client && server);
  EXPECT_TRUE(client->loopback()) << own;
  EXPECT_TRUE(server->loopback()) << own;
}

TYPED_TEST(TransportConformance, AnIdleTimeoutEndsAReceiveAndASendThatMakeNoProgress) {
  this->b->setIdleTimeout(std::chrono::milliseconds(100));
  auto started = std::chrono::steady_clock::now();
  std::vector<std::uint8_t> payload;
  Status status = this->b->receive(payload);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_EQ(status.code(), CUDA_ERROR_TIMEOUT);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(90));
  // A peer that reads nothing: sends fill the buffers, then time out instead of blocking.
  auto big = pattern(8 << 20, 5);
  Status sent;
  for (int i = 0; i < 64 && sent; ++i) sent = this->b->send(big);
  EXPECT_EQ(sent.code(), CUDA_ERROR_TIMEOUT) << sent.message();
}

// Moving a session onto shared memory sends a descriptor to the peer: only a plain Unix socket
// reaches it (a TLS connection's socket ends at a relay, TCP carries no descriptors).
TEST(TransportDescriptors, OnlyAPlainUnixSocketPassesThemToThePeer) {
  auto tcp = TcpTransport::makePair();
  EXPECT_FALSE(tcp.first->passesDescriptors() || tcp.second->passesDescriptors());
  auto tls = TlsTransport::makePair();
  EXPECT_FALSE(tls.first->passesDescriptors() || tls.second->passesDescriptors());
  auto unix = UnixTransport::makePair();
  EXPECT_TRUE(unix.first->passesDescriptors() && unix.second->passesDescriptors());
  auto shm = ShmTransport::makePair();
  EXPECT_FALSE(shm.first->passesDescriptors() || shm.second->passesDescriptors());
}

// Garbage and truncated frames from a raw peer: each ends the connection with a reason.
TEST(FrameDecoding, RejectsGarbageHeaders) {
  std::array<std::uint8_t, kFrameHeaderBytes> header = encodeFrameHeader({0, 100});
  ASSERT_TRUE(decodeFrameHeader(header));
  auto garbage = header;
  garbage[0] ^= 0xff;
  auto decoded = decodeFrameHeader(garbage);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.status().message().find("magic"), std::string::npos);
  auto version = header;
  version[4] = 9;
  EXPECT_FALSE(decodeFrameHeader(version));
  auto reserved = header;
  reserved[13] = 1;
  EXPECT_FALSE(decodeFrameHeader(reserved));
  auto huge = encodeFrameHeader({0, kMaxFrameBytes});
  EXPECT_TRUE(decodeFrameHeader(huge));
  huge[11] = 0xff;  // payload size far above the limit
  decoded = decodeFrameHeader(huge);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.status().message().find("exceeds"), std::string::npos);
}

// A raw socket on one side, a StreamConnection on the other: the test writes bytes no FastGPU
// peer would.
class RawPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    raw = fds[0];
    connection = std::make_unique<StreamConnection>(fds[1], "raw-peer");
  }
  void TearDown() override {
    if (raw >= 0) ::close(raw);
  }
  void writeRaw(std::span<const std::uint8_t> bytes) {
    ASSERT_EQ(::write(raw, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  int raw = -1;
  std::unique_ptr<StreamConnection> connection;
};

TEST_F(RawPeer, GarbageEndsTheConnectionWithAReason) {
  // Receive 64 bytes of garbage. Expect: a failed receive naming the bad magic; then nothing more.
  writeRaw(pattern(64, 3));
  std::vector<std::uint8_t> payload;
  Status status = connection->receive(payload);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_NE(status.message().find("magic"), std::string::npos) << status.message();
  EXPECT_FALSE(connection->receive(payload)) << "the connection is unusable after a malformed frame";
}

TEST_F(RawPeer, TruncatedFrameIsReportedWhenThePeerCloses) {
  // Receive a header promising 1000 bytes, then 10 bytes, then the peer closes.
  auto header = encodeFrameHeader({0, 1000});
  writeRaw(header);
  writeRaw(pattern(10, 5));
  ::close(raw);
  raw = -1;
  std::vector<std::uint8_t> payload;
  Status status = connection->receive(payload);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.kind(), ErrorKind::kDisconnected);
}

TEST_F(RawPeer, OversizedFrameIsRefusedBeforeAllocating) {
  auto header = encodeFrameHeader({0, 0});
  std::uint32_t huge = 0xffffffff;
  std::memcpy(header.data() + 8, &huge, sizeof(huge));
  writeRaw(header);
  std::vector<std::uint8_t> payload;
  Status status = connection->receive(payload);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("exceeds"), std::string::npos) << status.message();
  EXPECT_LT(payload.capacity(), std::size_t{kMaxFrameBytes});
}

TEST(TransportUrls, UnknownSchemesAndBadUrlsAreRefusedClearly) {
  auto unknown = connect("carrier-pigeon://gpu1:7600");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.status().kind(), ErrorKind::kUnimplemented);
  EXPECT_NE(unknown.status().message().find("carrier-pigeon://gpu1:7600"), std::string::npos);
  EXPECT_FALSE(connect("tcp://127.0.0.1"));
  EXPECT_FALSE(listen("tcp://127.0.0.1:no-such-service"));  // fails without asking DNS
}

TEST(TransportUrls, ConnectingToAClosedPortFailsAsDisconnected) {
  std::string url;
  {
    auto listener = listen("tcp://127.0.0.1:0");
    ASSERT_TRUE(listener);
    url = (*listener)->url();
  }  // closed: nothing listens there now
  auto connection = connect(url);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.status().kind(), ErrorKind::kDisconnected);
  EXPECT_NE(connection.status().message().find(url), std::string::npos) << connection.status().message();
}

TEST(TransportUrls, CloseWakesABlockedAccept) {
  auto listener = listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(listener);
  Status status = Status::ok();
  std::atomic<pid_t> tid{0};
  std::thread acceptor([&] {
    tid = testing::currentThreadId();
    status = (*listener)->accept().status();
  });
  EXPECT_TRUE(testing::waitUntilBlockedIn(tid, {SYS_accept, SYS_accept4, SYS_poll, SYS_ppoll})) << "accept never blocked";
  (*listener)->close();
  acceptor.join();
  EXPECT_EQ(status.kind(), ErrorKind::kDisconnected);
}

}  // namespace
}  // namespace fastgpu::protocol
