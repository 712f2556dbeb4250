// What a peer can make the server spend before it logs in: a small frame, a few seconds, a
// bounded number of connections. Each refusal ends only that connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/frame.h"
#include "session_test_support.h"
#include "tests/support/raw_socket.h"

namespace fastgpu::server {
namespace {

using namespace std::chrono_literals;

// A connection that has sent nothing; its receives give up after `patience`.
std::unique_ptr<protocol::Connection> bareConnection(const std::string& url, std::chrono::seconds patience = 10s) {
  auto connected = protocol::connect(url);
  EXPECT_TRUE(connected) << connected.status().message();
  if (!connected) return nullptr;
  (*connected)->setReceiveDeadline(std::chrono::steady_clock::now() + patience);
  return std::move(*connected);
}

// Waits for the server to end `connection`: true when it was closed (not timed out).
bool closedByServer(protocol::Connection& connection) {
  std::vector<std::uint8_t> payload;
  Status status = connection.receive(payload);
  return status.kind() == ErrorKind::kDisconnected;
}

// Announces a frame of `bytes` on `fd` and sends nothing more; true when the server then closes
// the connection within 5 s (instead of waiting for, and allocating, the frame).
bool announcingClosesAtOnce(int fd, std::uint32_t bytes) {
  auto header = protocol::encodeFrameHeader({0, bytes});
  if (::send(fd, header.data(), header.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(header.size())) return false;
  std::uint8_t sink[4096];
  auto started = std::chrono::steady_clock::now();
  ssize_t got = 0;
  while ((got = ::recv(fd, sink, sizeof(sink), 0)) > 0) {
  }
  return got == 0 && std::chrono::steady_clock::now() - started < 5s;
}

TEST_F(ServerTest, AFrameTooLargeForAHelloIsRefusedBeforeItArrives) {
  // Announce a 32 MiB Hello and send nothing more. Expect: the server closes the connection at
  // once instead of waiting for (and allocating) 32 MiB.
  int fd = testing::rawSocket(url);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(announcingClosesAtOnce(fd, 32u << 20)) << "the server did not close the connection";
  ::close(fd);
  RawClient client(url);
  client.retainPrimary();
  EXPECT_GT(client.freeMemory(), 0u) << "the server goes on";
}

TEST_F(ServerTest, AHelloSentTooSlowlyIsCutOffAtTheDeadline) {
  start("[limits]\nhandshake_seconds = 0.3\n");
  auto slow = bareConnection(url);
  ASSERT_NE(slow, nullptr);
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(closedByServer(*slow)) << "the server waited for the Hello beyond its deadline";
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 5s);
  RawClient client(url);
  client.retainPrimary();
  EXPECT_GT(client.freeMemory(), 0u) << "the server goes on";
}

TEST_F(ServerTest, ConnectionsBeyondTheLoginLimitAreRefusedAndTheServerGoesOn) {
  start("[limits]\nmax_handshaking = 2\n");
  auto first = bareConnection(url), second = bareConnection(url);
  // Connections are accepted in order: these two hold both places before the third arrives.
  auto third = bareConnection(url);
  ASSERT_TRUE(first && second && third);
  EXPECT_TRUE(closedByServer(*third)) << "a third connection was let in to log in";
  first.reset();
  second.reset();
  EXPECT_TRUE(eventually([&] { return server->sessions().empty(); }));
  RawClient client(url);
  client.retainPrimary();
  EXPECT_GT(client.freeMemory(), 0u) << "a client is served once the places are free";
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreRefused) {
  start("[limits]\nmax_connections = 2\n");
  RawClient a(url), b(url);
  a.retainPrimary();
  b.retainPrimary();
  auto third = bareConnection(url);
  ASSERT_NE(third, nullptr);
  EXPECT_TRUE(closedByServer(*third));
  EXPECT_GT(a.freeMemory(), 0u) << "the admitted clients go on";
}

}  // namespace
}  // namespace fastgpu::server

namespace fastgpu::server {
namespace {

// After login: what one session may hold at once. Each refusal is CUDA_ERROR_OUT_OF_MEMORY naming
// its limit; freeing one makes room again, and the session goes on.
TEST_F(ServerTest, TheObjectsASessionMayHoldAreLimited) {
  start(R"(
[limits]
session_streams = 3
session_events = 4
session_contexts = 2
session_modules = 2
session_module_bytes = "1MiB"
)");
  RawClient client(url);
  client.retainPrimary();  // context 1 of 2
  auto createStream = [&](std::uint64_t* stream = nullptr) {
    return client.call([](wire::Call::Builder c) { c.initStreamCreate(); }, stream);
  };
  std::uint64_t first = 0;
  ASSERT_EQ(createStream(&first).first, CUDA_SUCCESS);
  ASSERT_EQ(createStream().first, CUDA_SUCCESS);
  ASSERT_EQ(createStream().first, CUDA_SUCCESS);
  EXPECT_EQ(createStream().first, CUDA_ERROR_OUT_OF_MEMORY);
  ASSERT_EQ(client.call([&](wire::Call::Builder c) { c.setStreamDestroy(first); }).first, CUDA_SUCCESS);
  EXPECT_EQ(createStream().first, CUDA_SUCCESS) << "a destroyed stream makes room";

  auto createEvent = [&] { return client.call([](wire::Call::Builder c) { c.setEventCreate(0); }).first; };
  for (int i = 0; i < 4; ++i) ASSERT_EQ(createEvent(), CUDA_SUCCESS);
  EXPECT_EQ(createEvent(), CUDA_ERROR_OUT_OF_MEMORY);

  auto createContext = [&] {
    return client.call([](wire::Call::Builder c) { c.initContextCreate().setDevice(0); }).first;
  };
  EXPECT_EQ(createContext(), CUDA_SUCCESS);
  EXPECT_EQ(createContext(), CUDA_ERROR_OUT_OF_MEMORY);

  EXPECT_EQ(client.load().result, CUDA_SUCCESS);
  EXPECT_EQ(client.load(true).result, CUDA_SUCCESS);
  EXPECT_EQ(client.load().result, CUDA_ERROR_OUT_OF_MEMORY) << "modules and libraries count together";
  EXPECT_GT(client.freeMemory(), 0u) << "the session goes on";
}

TEST_F(ServerTest, TheCodeASessionMayLoadIsLimitedInBytes) {
  start("[limits]\nsession_module_bytes = \"1MiB\"\n");
  RawClient client(url);
  client.retainPrimary();
  // test_kernels.fatbin is about 12 KiB: some 85 fit in 1 MiB, then loads are refused.
  int loaded = 0;
  while (loaded < 200 && client.load().result == CUDA_SUCCESS) ++loaded;
  EXPECT_GT(loaded, 50);
  EXPECT_LT(loaded, 100);
  EXPECT_EQ(client.load().result, CUDA_ERROR_OUT_OF_MEMORY);
}

}  // namespace
}  // namespace fastgpu::server

namespace fastgpu::server {
namespace {

TEST_F(ServerTest, AFrameOverTheLimitAfterLoginEndsTheSessionBeforeItArrives) {
  start("[limits]\nframe_bytes = \"16MiB\"\n");
  int fd = testing::rawSocket(url);
  ASSERT_GE(fd, 0);
  // Log in by hand, and read the Welcome.
  capnp::MallocMessageBuilder builder;
  auto hello = builder.initRoot<wire::Hello>();
  hello.setProtocolVersion(wire::PROTOCOL_VERSION);
  hello.setHost("raw");
  std::vector<std::uint8_t> payload;
  protocol::appendMessage(builder, payload);
  auto header = protocol::encodeFrameHeader({0, static_cast<std::uint32_t>(payload.size())});
  ASSERT_EQ(::send(fd, header.data(), header.size(), MSG_NOSIGNAL), static_cast<ssize_t>(header.size()));
  ASSERT_EQ(::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL), static_cast<ssize_t>(payload.size()));
  std::array<std::uint8_t, protocol::kFrameHeaderBytes> welcomeHeader{};
  ASSERT_EQ(::recv(fd, welcomeHeader.data(), welcomeHeader.size(), MSG_WAITALL), static_cast<ssize_t>(welcomeHeader.size()));
  auto welcome = protocol::decodeFrameHeader(welcomeHeader);
  ASSERT_TRUE(welcome);
  std::vector<std::uint8_t> welcomeBytes(welcome->payloadBytes);
  ASSERT_EQ(::recv(fd, welcomeBytes.data(), welcomeBytes.size(), MSG_WAITALL), static_cast<ssize_t>(welcomeBytes.size()));
  // 32 MiB is within the protocol's bound but over this server's: the session ends at once.
  EXPECT_TRUE(announcingClosesAtOnce(fd, 32u << 20)) << "the worker waited for a frame over frame_bytes";
  ::close(fd);
}

}  // namespace
}  // namespace fastgpu::server
