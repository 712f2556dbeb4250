// The shared-memory transport's own rules (the conformance suite covers what every transport
// does): a hostile peer's ring positions, segments that are not what they claim, descriptors
// that are not the one expected, and the server's last words after its worker is gone.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/transport/descriptor_passing.h"
#include "protocol/transport/shm.h"
#include "protocol/transport/shm_connection.h"

namespace fastgpu::protocol {
namespace {

struct SocketPair {
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  int take(int end) { return std::exchange(fds[end], -1); }
  int fds[2] = {-1, -1};
};

// A server's end of a segment whose client side is the test itself, writing the shared memory
// as a hostile client would.
class HostileClient : public ::testing::Test {
 protected:
  void SetUp() override {
    auto segment = SharedSegment::create();
    ASSERT_TRUE(segment) << segment.status().message();
    toServer = &segment->control(RingDirection::kToServer);
    toClient = &segment->control(RingDirection::kToClient);
    data = segment->data(RingDirection::kToServer);
    auto opened = openShmConnection(std::move(*segment), ShmSide::kServer, sockets.take(1), "hostile");
    ASSERT_TRUE(opened) << opened.status().message();
    server = std::move(*opened);
  }
  SocketPair sockets;
  RingControl* toServer = nullptr;
  RingControl* toClient = nullptr;
  std::span<std::uint8_t> data;
  std::unique_ptr<Connection> server;
};

TEST_F(HostileClient, AHeadBeyondTheRingEndsTheConnectionWithAReason) {
  toServer->head.store(std::uint64_t{1} << 40);
  std::vector<std::uint8_t> payload;
  Status status = server->receive(payload);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_NE(status.message().find("ring position out of range"), std::string::npos) << status.message();
  EXPECT_TRUE(payload.empty());
}

TEST_F(HostileClient, ATailAheadOfTheServersHeadEndsTheConnection) {
  toClient->tail.store(12345);  // the client claims to have read what was never written
  std::vector<std::uint8_t> frame(100, 7);
  Status status = server->send(frame);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_NE(status.message().find("ring position out of range"), std::string::npos) << status.message();
}

TEST_F(HostileClient, AGarbageFrameInTheRingIsRefusedLikeOneOnASocket) {
  std::memset(data.data(), 0xab, 64);
  toServer->head.store(64);
  std::vector<std::uint8_t> payload;
  Status status = server->receive(payload);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_NE(status.message().find("magic"), std::string::npos) << status.message();
}

TEST_F(HostileClient, AFrameLargerThanTheLimitIsRefusedBeforeAllocating) {
  server->setMaxFrameBytes(4096);
  auto header = encodeFrameHeader({0, 1 << 20});
  std::memcpy(data.data(), header.data(), header.size());
  toServer->head.store(header.size());
  std::vector<std::uint8_t> payload;
  Status status = server->receive(payload);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_LT(payload.capacity(), std::size_t{1} << 20);
}

TEST_F(HostileClient, WritingOnTheSocketEndsTheSessionAtOnce) {
  // The socket carries nothing while the rings work: anything on it means the peer is done.
  char byte = 'x';
  ASSERT_EQ(::write(sockets.fds[0], &byte, 1), 1);
  std::vector<std::uint8_t> payload;
  Status status = server->receive(payload);
  EXPECT_EQ(status.kind(), ErrorKind::kDisconnected);
}

// A memfd as a hostile server might hand one over.
int memoryFile(std::size_t bytes, unsigned seals) {
  int fd = ::memfd_create("test-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);
  if (seals != 0) {
    EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, seals), 0);
  }
  return fd;
}

TEST(SharedSegment, AnUnsealedOrMisSizedSegmentIsRefused) {
  auto good = SharedSegment::create();
  ASSERT_TRUE(good);
  struct stat info {};
  ASSERT_EQ(::fstat(good->descriptor(), &info), 0);
  auto size = static_cast<std::size_t>(info.st_size);

  auto unsealed = SharedSegment::adopt(memoryFile(size, 0));
  ASSERT_FALSE(unsealed);
  EXPECT_NE(unsealed.status().message().find("not sealed"), std::string::npos) << unsealed.status().message();

  auto small = SharedSegment::adopt(memoryFile(4096, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
  ASSERT_FALSE(small);
  EXPECT_NE(small.status().message().find("bytes where"), std::string::npos) << small.status().message();

  // The right size and seals, but no header: a segment of another version or nothing at all.
  auto blank = SharedSegment::adopt(memoryFile(size, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
  ASSERT_FALSE(blank);
  EXPECT_NE(blank.status().message().find("version"), std::string::npos) << blank.status().message();

  auto adopted = SharedSegment::adopt(::dup(good->descriptor()));
  EXPECT_TRUE(adopted) << adopted.status().message();
}

TEST(SharedSegment, ItsFileCannotBeShrunkUnderAMapping) {
  auto segment = SharedSegment::create();
  ASSERT_TRUE(segment);
  EXPECT_NE(::ftruncate(segment->descriptor(), 4096), 0) << "a peer could make every access fault";
}

TEST(DescriptorPassing, AnythingButOneDescriptorIsRefusedAndNothingLeaks) {
  SocketPair sockets;
  char byte = 'D';
  ASSERT_EQ(::write(sockets.fds[0], &byte, 1), 1);  // the marker without a descriptor
  auto none = receiveDescriptor(sockets.fds[1], "peer");
  ASSERT_FALSE(none);
  EXPECT_NE(none.status().message().find("sent 0 descriptors"), std::string::npos) << none.status().message();

  int a = ::memfd_create("a", MFD_CLOEXEC), b = ::memfd_create("b", MFD_CLOEXEC);
  int pair[2] = {a, b};
  ASSERT_TRUE(sendDescriptors(sockets.fds[0], pair, "peer"));
  auto two = receiveDescriptor(sockets.fds[1], "peer");
  ASSERT_FALSE(two);
  EXPECT_NE(two.status().message().find("sent 2 descriptors"), std::string::npos) << two.status().message();
  ::close(a);
  ::close(b);

  ASSERT_TRUE(sendDescriptor(sockets.fds[0], ::memfd_create("c", MFD_CLOEXEC), "peer"));
  auto one = receiveDescriptor(sockets.fds[1], "peer");
  ASSERT_TRUE(one) << one.status().message();
  EXPECT_NE(::fcntl(*one, F_GETFD) & FD_CLOEXEC, 0) << "a received descriptor is close-on-exec";
  ::close(*one);
}

TEST(ShmTransport, TheClientReadsTheServersLastWordsAfterTheRingsEnd) {
  // A worker that was killed wrote one frame into the ring and nothing more; the server's main
  // process, which keeps a copy of the socket, then writes why the session ended there, framed.
  SocketPair sockets;
  auto segment = SharedSegment::create();
  ASSERT_TRUE(segment);
  RingProducer worker(segment->control(RingDirection::kToClient), segment->data(RingDirection::kToClient));
  std::atomic<bool> never{false};
  std::vector<std::uint8_t> first = {1, 2, 3};
  auto firstHeader = encodeFrameHeader({0, static_cast<std::uint32_t>(first.size())});
  iovec frame[] = {{firstHeader.data(), firstHeader.size()}, {first.data(), first.size()}};
  ASSERT_TRUE(worker.write(frame, RingWait{&never, std::nullopt, std::nullopt}, "worker"));
  ASSERT_TRUE(sendDescriptor(sockets.fds[1], segment->descriptor(), "client"));
  auto client = acceptSharedMemory(sockets.take(0), "client");
  ASSERT_TRUE(client) << client.status().message();

  std::vector<std::uint8_t> lastWords = {9, 9, 9, 9};
  auto lastHeader = encodeFrameHeader({0, static_cast<std::uint32_t>(lastWords.size())});
  ASSERT_EQ(::write(sockets.fds[1], lastHeader.data(), lastHeader.size()), static_cast<ssize_t>(lastHeader.size()));
  ASSERT_EQ(::write(sockets.fds[1], lastWords.data(), lastWords.size()), static_cast<ssize_t>(lastWords.size()));
  ::close(sockets.take(1));

  std::vector<std::uint8_t> payload;
  ASSERT_TRUE((*client)->receive(payload));
  EXPECT_EQ(payload, first) << "what the worker wrote before it went comes first";
  ASSERT_TRUE((*client)->receive(payload));
  EXPECT_EQ(payload, lastWords);
  EXPECT_EQ((*client)->receive(payload).kind(), ErrorKind::kDisconnected);
}

}  // namespace
}  // namespace fastgpu::protocol
