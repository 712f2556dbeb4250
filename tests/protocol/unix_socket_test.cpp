// The unix transport's own rules: its URL, the socket file's permissions, who the peer is, and
// what it does with a file already at its path.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "protocol/transport/transport.h"
#include "tests/support/scratch_directory.h"

namespace fastgpu::protocol {
namespace {

TEST(UnixTransport, UrlsNeedAnAbsolutePathThatFitsASocketAddress) {
  for (const std::string& bad : std::vector<std::string>{"unix://relative.sock", "unix://", "unix:///" + std::string(200, 'x')}) {
    auto connection = connect(bad);
    ASSERT_FALSE(connection) << bad;
    EXPECT_EQ(connection.status().code(), CUDA_ERROR_INVALID_VALUE) << bad;
    EXPECT_FALSE(listen(bad)) << bad;
  }
}

TEST(UnixTransport, TheSocketIsForTheServersUserAndGroupAndGoesWithTheListener) {
  testing::ScratchDirectory scratch;
  std::string path = scratch.path() + "/fastgpu.sock";
  {
    auto listener = listen("unix://" + path);
    ASSERT_TRUE(listener) << listener.status().message();
    EXPECT_EQ((*listener)->url(), "unix://" + path);
    struct stat info {};
    ASSERT_EQ(::lstat(path.c_str(), &info), 0);
    EXPECT_TRUE(S_ISSOCK(info.st_mode));
    EXPECT_EQ(info.st_mode & 0777, 0660u) << "filesystem permissions are the first gate";
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "the listener removes its socket file";
}

TEST(UnixTransport, AnAcceptedConnectionNamesThePeersUidAndPid) {
  testing::ScratchDirectory scratch;
  auto listener = listen("unix://" + scratch.path() + "/fastgpu.sock");
  ASSERT_TRUE(listener);
  std::unique_ptr<Connection> accepted;
  std::thread acceptor([&] {
    auto connection = (*listener)->accept();
    if (connection) accepted = std::move(*connection);
  });
  auto client = connect((*listener)->url());
  acceptor.join();
  ASSERT_TRUE(client && accepted);
  EXPECT_EQ(accepted->peer(), fmt::format("{} uid={} pid={}", (*listener)->url(), ::getuid(), ::getpid()));
  EXPECT_TRUE(accepted->loopback() && (*client)->loopback()) << "a Unix socket never leaves the host";
  EXPECT_TRUE(accepted->passesDescriptors()) << "a session can move onto shared memory through it";
}

TEST(UnixTransport, ConnectingWhereNobodyListensFailsAsDisconnected) {
  testing::ScratchDirectory scratch;
  std::string url = "unix://" + scratch.path() + "/nobody.sock";
  auto connection = connect(url);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.status().kind(), ErrorKind::kDisconnected);
  EXPECT_NE(connection.status().message().find(url), std::string::npos) << connection.status().message();
}

TEST(UnixTransport, AStaleSocketIsReplacedButALiveOneOrAnotherFileIsNot) {
  testing::ScratchDirectory scratch;
  std::string url = "unix://" + scratch.path() + "/fastgpu.sock";
  auto live = listen(url);
  ASSERT_TRUE(live);
  auto second = listen(url);
  ASSERT_FALSE(second) << "another server listens there";
  EXPECT_NE(second.status().message().find("another server listens there"), std::string::npos);
  live->reset();
  // A server that died leaves its socket file: a socket bound there and closed.
  int dead = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = scratch.path() + "/fastgpu.sock";
  std::memcpy(address.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::bind(dead, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  ::close(dead);
  ASSERT_TRUE(std::filesystem::exists(path));
  auto replacing = listen(url);
  EXPECT_TRUE(replacing) << replacing.status().message();
  std::string file = scratch.path() + "/not-a-socket";
  std::ofstream(file) << "data the server must not delete";
  auto refused = listen("unix://" + file);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("not a socket"), std::string::npos) << refused.status().message();
  EXPECT_TRUE(std::filesystem::exists(file));
}

}  // namespace
}  // namespace fastgpu::protocol
