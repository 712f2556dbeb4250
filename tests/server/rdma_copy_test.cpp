// A session served in this process over an RDMA connection on the in-process link
// (tests/protocol/fake_rdma_link.h): copies between device memory and the client's registered
// pinned memory go by one-sided READ and WRITE (server/rdma_host_copies.h), and a client that
// names memory it did not register ends its own session, having read or written nothing.
#include <sys/socket.h>

#include <thread>

#include "protocol/transport/rdma.h"
#include "protocol/transport/rdma_connection.h"
#include "server/loaded_driver.h"
#include "server/session.h"
#include "tests/protocol/fake_rdma_link.h"
#include "tests/support/byte_pattern.h"
#include "tests/server/session_test_support.h"
#include "tests/support/raw_client.h"

namespace fastgpu::server {
namespace {

using testing::kMiB;

class RdmaSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every host copy starts late on its stream, as over a slow bus: a half reused before the
    // device is done with it shows (each test runs in its own process under ctest, where this is
    // read when the driver starts).
    setenv("FASTGPU_SIM_HOST_COPY_DELAY_US", "2000", 1);
    auto driver = LoadedDriver::load(FASTGPU_CUDASIM_LIBRARY);
    ASSERT_TRUE(driver) << driver.status().message();
    driver_ = std::move(*driver);
    auto [serverLink, clientLink] = testing::FakeRdmaLink::pair(2 * protocol::kRdmaRingBytes);
    link = clientLink.get();
    int sockets[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets), 0);
    auto serverSide = protocol::openRdmaConnection(std::move(serverLink), sockets[0], "rdma client", true);
    auto clientSide = protocol::openRdmaConnection(std::move(clientLink), sockets[1], "rdma server", true);
    ASSERT_TRUE(serverSide && clientSide);
    auto access = std::make_unique<scheduler::VgpuAccess>(std::vector<scheduler::PhysicalGpu>{{0, {}, 0}}, slot);
    session = std::make_unique<Session>(std::move(*serverSide), driver_->api(), std::move(access), 1);
    thread = std::thread([this] { ended = session->run(); });
    client = std::make_unique<testing::RawClient>(std::move(*clientSide));
    client->retainPrimary();
  }
  void TearDown() override {
    client.reset();  // the session ends when its client goes
    if (thread.joinable()) thread.join();
  }

  // The client's pinned buffer, registered for the server.
  protocol::RdmaRegion registerForServer(std::vector<std::uint8_t>& buffer) {
    auto region = link->registerMemory(buffer, true);
    EXPECT_TRUE(region) << region.status().message();
    return region ? *region : protocol::RdmaRegion{};
  }

  // A copyRdma call: `host` in the client's memory under `key`.
  std::pair<CUresult, std::vector<std::int64_t>> copy(std::uint64_t device, const std::uint8_t* host,
                                                      std::uint32_t key, std::uint64_t bytes, bool toHost,
                                                      bool async = false) {
    return client->call([&](wire::Call::Builder c) {
      auto rdma = c.initCopyRdma();
      rdma.setDevice(device);
      rdma.setAddress(reinterpret_cast<std::uint64_t>(host));
      rdma.setKey(key);
      rdma.setBytes(bytes);
      rdma.setToHost(toHost);
      rdma.setAsync(async);
    });
  }

  std::unique_ptr<LoadedDriver> driver_;
  testing::FakeRdmaLink* link = nullptr;  // the client's end, owned by its connection
  scheduler::SessionSlot slot;
  std::unique_ptr<Session> session;
  std::unique_ptr<testing::RawClient> client;
  std::thread thread;
  Status ended;
};

// Sizes that end mid-half and span both halves more than once: a chunk in the wrong half, or one
// copied before the device was done with it, shows in the bytes.
TEST_F(RdmaSessionTest, PinnedCopiesGoByReadAndWriteBothWays) {
  const std::uint64_t bytes = 3 * RdmaHostCopies::kHalfBytes + 12345;
  std::uint64_t device = client->allocate(bytes);
  auto source = testing::patternBytes(bytes, 5);
  auto region = registerForServer(source);
  EXPECT_EQ(copy(device, source.data(), region.remoteKey, bytes, false).first, CUDA_SUCCESS);
  auto [read, onDevice] = client->read(device + bytes - kMiB, kMiB);
  ASSERT_EQ(read, CUDA_SUCCESS);
  EXPECT_TRUE(std::equal(onDevice.begin(), onDevice.end(), source.end() - kMiB));
  std::vector<std::uint8_t> back(bytes + 64, 0xee);
  auto backRegion = registerForServer(back);
  EXPECT_EQ(copy(device, back.data() + 64, backRegion.remoteKey, bytes, true).first, CUDA_SUCCESS);
  EXPECT_TRUE(std::equal(source.begin(), source.end(), back.begin() + 64));
  EXPECT_EQ(back[63], 0xee) << "a byte before the range was written";
  EXPECT_EQ(slot.counters.bytesToDevice.load(), bytes);
  EXPECT_EQ(slot.counters.bytesFromDevice.load(), bytes + kMiB);  // and the check's read above
}

TEST_F(RdmaSessionTest, AnAsynchronousCopyIsInTheClientsMemoryBeforeTheNextReply) {
  const std::uint64_t bytes = RdmaHostCopies::kHalfBytes + 7;
  std::uint64_t device = client->allocate(bytes);
  auto data = testing::patternBytes(bytes, 11);
  ASSERT_EQ(client->write(device, data), CUDA_SUCCESS);
  std::vector<std::uint8_t> back(bytes, 0);
  auto region = registerForServer(back);
  EXPECT_EQ(copy(device, back.data(), region.remoteKey, bytes, true, true).first, CUDA_SUCCESS);  // posted
  EXPECT_GT(client->memoryInfo().second, 0u);  // any call with a reply
  EXPECT_EQ(back, data);
}

TEST_F(RdmaSessionTest, ADeviceRangeOutsideTheSessionsMemoryIsRefusedAndNothingMoves) {
  std::uint64_t device = client->allocate(kMiB);
  std::vector<std::uint8_t> host(2 * kMiB, 0x11);
  auto region = registerForServer(host);
  EXPECT_EQ(copy(device, host.data(), region.remoteKey, 2 * kMiB, true).first, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(copy(device + kMiB, host.data(), region.remoteKey, 1, false).first, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(copy(device, reinterpret_cast<const std::uint8_t*>(UINT64_MAX - 10), region.remoteKey, 100, false).first,
            CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(host, std::vector<std::uint8_t>(2 * kMiB, 0x11));
  EXPECT_GT(client->memoryInfo().second, 0u) << "the session goes on";
}

TEST_F(RdmaSessionTest, MemoryTheClientDidNotRegisterEndsItsOwnSessionHavingTouchedNothing) {
  std::uint64_t device = client->allocate(kMiB);
  auto data = testing::patternBytes(kMiB, 2);
  ASSERT_EQ(client->write(device, data), CUDA_SUCCESS);
  std::vector<std::uint8_t> host(kMiB, 0);
  auto region = registerForServer(host);
  std::vector<std::uint8_t> unregistered(kMiB, 0);
  auto [result, values] = copy(device, unregistered.data(), region.remoteKey, kMiB, true);
  EXPECT_NE(result, CUDA_SUCCESS);
  thread.join();
  EXPECT_EQ(ended.kind(), ErrorKind::kDisconnected) << ended.message();
  EXPECT_EQ(unregistered, std::vector<std::uint8_t>(kMiB, 0));
  EXPECT_EQ(host, std::vector<std::uint8_t>(kMiB, 0));
}

// Over any other transport the call is refused: there is no link to read the client's memory by.
TEST_F(ServerTest, ACopyByRdmaOnASessionNotOnRdmaIsRefused) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t device = client.allocate(kMiB);
  std::vector<std::uint8_t> host(kMiB, 3);
  auto [result, values] = client.call([&](wire::Call::Builder c) {
    auto rdma = c.initCopyRdma();
    rdma.setDevice(device);
    rdma.setAddress(reinterpret_cast<std::uint64_t>(host.data()));
    rdma.setKey(0x1234);
    rdma.setBytes(kMiB);
  });
  EXPECT_EQ(result, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.write(device, host), CUDA_SUCCESS) << "the session goes on";
}

}  // namespace
}  // namespace fastgpu::server
