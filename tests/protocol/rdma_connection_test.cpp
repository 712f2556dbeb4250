// The RDMA transport above its verbs layer, against a hostile peer: the peer below is a bare
// link (tests/protocol/fake_rdma_link.h) that writes what it likes. A position it claims past
// the ring fails the connection with a reason; nothing is read or written outside the region.
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/transport/rdma_connection.h"
#include "protocol/transport/verbs_link.h"
#include "tests/protocol/fake_rdma_link.h"
#include "tests/support/byte_pattern.h"

namespace fastgpu::protocol {
namespace {

constexpr std::size_t kRing = 64 << 10;

// Our connection, and the peer's bare link and end of the bootstrap socket.
class RdmaConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [ours, theirs] = testing::FakeRdmaLink::pair(2 * kRing);
    int sockets[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets), 0);
    peerSocket = sockets[1];
    auto opened = openRdmaConnection(std::move(ours), sockets[0], "hostile", false);
    ASSERT_TRUE(opened) << opened.status().message();
    connection = std::move(*opened);
    raw = std::move(theirs);
  }
  void TearDown() override {
    connection.reset();
    if (peerSocket >= 0) ::close(peerSocket);
  }

  std::unique_ptr<Connection> connection;
  std::unique_ptr<testing::FakeRdmaLink> raw;
  int peerSocket = -1;
};

TEST_F(RdmaConnectionTest, APeerThatClaimsMoreBytesThanTheRingHoldsFailsTheReceive) {
  ASSERT_TRUE(raw->write(0, 0, 0, static_cast<std::uint32_t>(kRing + 1)));
  std::vector<std::uint8_t> payload;
  Status received = connection->receive(payload);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.kind(), ErrorKind::kFailed);
  EXPECT_NE(received.message().find("out of range"), std::string::npos) << received.message();
}

TEST_F(RdmaConnectionTest, APeerThatClaimsToHaveReadWhatWasNeverSentFailsTheSend) {
  // The peer says it read a whole ring more than this side wrote: the next send finds the
  // ring's positions impossible before it writes anything.
  ASSERT_TRUE(raw->write(0, 0, 0, static_cast<std::uint32_t>(kRing + 1) | kRdmaSpaceImmediate));
  std::vector<std::uint8_t> frame(kRing, 1);
  Status sent = Status::ok();
  for (int i = 0; i < 4 && sent; ++i) sent = connection->send(frame);
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.message().find("out of range"), std::string::npos) << sent.message();
}

TEST_F(RdmaConnectionTest, AFramePublishedByThePeerArrivesWhole) {
  // The peer speaks the protocol by hand: a frame header and payload from its copy of the ring
  // into ours, with the immediate that publishes them.
  std::vector<std::uint8_t> payload(1000);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = testing::patternByte(i, 3);
  auto header = encodeFrameHeader(FrameHeader{0, static_cast<std::uint32_t>(payload.size())});
  std::vector<std::uint8_t> bytes(header.begin(), header.end());
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  auto region = raw->memory();
  std::copy(bytes.begin(), bytes.end(), region.begin() + kRing);  // the peer's outbound copy
  ASSERT_TRUE(raw->write(kRing, 0, static_cast<std::uint32_t>(bytes.size()),
                              static_cast<std::uint32_t>(bytes.size())));
  std::vector<std::uint8_t> received;
  ASSERT_TRUE(connection->receive(received));
  EXPECT_EQ(received, payload);
}

TEST_F(RdmaConnectionTest, TheBootstrapSocketsHangUpEndsTheConnection) {
  // The peer process is gone: its socket closes, its link says nothing more.
  ::close(std::exchange(peerSocket, -1));
  std::vector<std::uint8_t> payload;
  Status received = connection->receive(payload);
  EXPECT_EQ(received.kind(), ErrorKind::kDisconnected) << received.message();
}

// Each ring move costs a message on the link: a reader says how far it read after a quarter of
// the ring, or before it waits, not after every read (a frame is two reads: header and payload).
TEST_F(RdmaConnectionTest, AReaderSaysHowFarItReadInBatches) {
  // The peer writes 100 frames of 100 bytes at once (11,600 bytes: less than a quarter of the ring).
  std::vector<std::uint8_t> payload(100);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = testing::patternByte(i, 5);
  auto header = encodeFrameHeader(FrameHeader{0, static_cast<std::uint32_t>(payload.size())});
  constexpr int kFrames = 100;
  std::vector<std::uint8_t> frames;
  for (int i = 0; i < kFrames; ++i) {
    frames.insert(frames.end(), header.begin(), header.end());
    frames.insert(frames.end(), payload.begin(), payload.end());
  }
  std::copy(frames.begin(), frames.end(), raw->memory().begin() + kRing);
  auto bytes = static_cast<std::uint32_t>(frames.size());
  ASSERT_TRUE(raw->write(kRing, 0, bytes, bytes));
  std::vector<std::uint8_t> received;
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(connection->receive(received));
    ASSERT_EQ(received, payload);
  }
  // The next receive waits, and first says how far it read: one message for 200 reads.
  std::thread reader([&] { EXPECT_EQ(connection->receive(received).kind(), ErrorKind::kDisconnected); });
  auto said = raw->nextImmediate();
  ASSERT_TRUE(said);
  EXPECT_EQ(*said, bytes | kRdmaSpaceImmediate);
  connection->shutdown();
  reader.join();
}

TEST(RdmaConnection, ALinkRegionThatIsNotTwoPowerOfTwoRingsIsRefused) {
  auto [ours, theirs] = testing::FakeRdmaLink::pair(3 * 4096);
  int sockets[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets), 0);
  auto connection = openRdmaConnection(std::move(ours), sockets[0], "odd", false);
  EXPECT_FALSE(connection);
  ::close(sockets[1]);
}

// Where no RDMA device exists (this machine, CI), rdma:// fails at once on both ends, saying why.
TEST(RdmaTransport, WithoutADeviceBothEndsFailSayingWhy) {
  std::string why = rdmaUnavailableReason();
  if (why.empty()) GTEST_SKIP() << "this machine has an RDMA device";
  auto listener = listen("rdma://127.0.0.1:0");
  ASSERT_TRUE(listener) << listener.status().message();
  Status accepted = Status::ok();
  std::thread acceptor([&] { accepted = (*listener)->accept().status(); });
  auto connected = connect((*listener)->url(), ConnectOptions{std::chrono::milliseconds(5000), {}});
  acceptor.join();
  ASSERT_FALSE(connected);
  ASSERT_FALSE(accepted);
  EXPECT_NE(connected.status().message().find(why), std::string::npos) << connected.status().message();
  EXPECT_NE(accepted.message().find(why), std::string::npos) << accepted.message();
  EXPECT_TRUE((*listener)->url().starts_with("rdma://127.0.0.1:")) << (*listener)->url();
}

}  // namespace
}  // namespace fastgpu::protocol
