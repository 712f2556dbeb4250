// FASTGPU_TRANSPORT against FASTGPU_SERVER: what the client asks of the server, and the clear
// refusals when the two do not fit.
#include "interposer/transport_choice.h"

#include <gtest/gtest.h>

namespace fastgpu::interposer {
namespace {

TEST(TransportChoice, UnsetTakesTheUrlsOwnAndMovesUnixClientsOntoSharedMemory) {
  auto unix = chooseTransport("", "unix:///run/fastgpu.sock");
  ASSERT_TRUE(unix);
  EXPECT_TRUE(unix->askSharedMemory);
  EXPECT_FALSE(unix->requireSharedMemory) << "a server that cannot is used over its socket";
  for (const char* url : {"tcp://gpu1:7600", "tls://gpu1:7600"}) {
    auto tcp = chooseTransport("", url);
    ASSERT_TRUE(tcp);
    EXPECT_FALSE(tcp->askSharedMemory) << url;
  }
}

TEST(TransportChoice, ForcedTransportsNeedTheirUrls) {
  auto shm = chooseTransport("shm", "unix:///run/fastgpu.sock");
  ASSERT_TRUE(shm);
  EXPECT_TRUE(shm->askSharedMemory && shm->requireSharedMemory);
  auto unix = chooseTransport("unix", "unix:///run/fastgpu.sock");
  ASSERT_TRUE(unix);
  EXPECT_FALSE(unix->askSharedMemory);
  EXPECT_TRUE(chooseTransport("tcp", "tls://gpu1:7600"));

  auto shmOverTcp = chooseTransport("shm", "tcp://127.0.0.1:7600");
  ASSERT_FALSE(shmOverTcp);
  EXPECT_EQ(shmOverTcp.code(), CUDA_ERROR_NO_DEVICE);
  EXPECT_EQ(shmOverTcp.status().message(),
            "FASTGPU_TRANSPORT=shm needs FASTGPU_SERVER to be the unix:///PATH URL of a server on this host (it is "
            "'tcp://127.0.0.1:7600')");
  EXPECT_FALSE(chooseTransport("tcp", "unix:///run/fastgpu.sock"));
  EXPECT_FALSE(chooseTransport("unix", "tcp://gpu1:7600"));
}

TEST(TransportChoice, RdmaAndUnknownNamesFailSayingWhy) {
  auto rdma = chooseTransport("rdma", "tcp://gpu1:7600");
  ASSERT_FALSE(rdma);
  EXPECT_NE(rdma.status().message().find("no RDMA transport"), std::string::npos) << rdma.status().message();
  auto pigeon = chooseTransport("pigeon", "tcp://gpu1:7600");
  ASSERT_FALSE(pigeon);
  EXPECT_EQ(pigeon.status().message(), "FASTGPU_TRANSPORT='pigeon' is not one of tcp, unix, shm, rdma");
}

}  // namespace
}  // namespace fastgpu::interposer
