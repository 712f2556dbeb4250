// FASTGPU_TRANSPORT against FASTGPU_SERVER: what the client asks of the server, and the clear
// refusals when the two do not fit.
#include "interposer/transport_choice.h"

#include <gtest/gtest.h>

namespace fastgpu::interposer {
namespace {

TEST(TransportChoice, UnsetAsksForSharedMemoryWhicheverWayTheClientCame) {
  for (const char* url : {"unix:///run/fastgpu.sock", "tcp://gpu1:7600", "tls://gpu1:7600"}) {
    auto unset = chooseTransport("", url);
    ASSERT_TRUE(unset) << url;
    EXPECT_TRUE(unset->askSharedMemory) << url << ": a server on this host moves the session";
    EXPECT_FALSE(unset->requireSharedMemory) << url << ": a server that cannot is used over its connection";
  }
}

TEST(TransportChoice, ForcedTransportsNeedTheirUrls) {
  for (const char* url : {"unix:///run/fastgpu.sock", "tcp://127.0.0.1:7600", "tls://localhost:7600"}) {
    auto shm = chooseTransport("shm", url);
    ASSERT_TRUE(shm) << url;
    EXPECT_TRUE(shm->askSharedMemory && shm->requireSharedMemory) << url;
  }
  auto unix = chooseTransport("unix", "unix:///run/fastgpu.sock");
  ASSERT_TRUE(unix);
  EXPECT_FALSE(unix->askSharedMemory);
  auto tcp = chooseTransport("tcp", "tls://gpu1:7600");
  ASSERT_TRUE(tcp);
  EXPECT_FALSE(tcp->askSharedMemory) << "forced TCP never moves onto shared memory";

  auto shmElsewhere = chooseTransport("shm", "gpu1:7600");
  ASSERT_FALSE(shmElsewhere);
  EXPECT_EQ(shmElsewhere.code(), CUDA_ERROR_NO_DEVICE);
  EXPECT_EQ(shmElsewhere.status().message(),
            "FASTGPU_TRANSPORT=shm needs FASTGPU_SERVER to be the unix://, tcp:// or tls:// URL of a server on this "
            "host (it is 'gpu1:7600')");
  EXPECT_FALSE(chooseTransport("tcp", "unix:///run/fastgpu.sock"));
  EXPECT_FALSE(chooseTransport("unix", "tcp://gpu1:7600"));
}

TEST(TransportChoice, AnRdmaUrlMovesOntoRdmaAndNeverOntoSharedMemory) {
  for (const char* forced : {"", "rdma"}) {
    auto rdma = chooseTransport(forced, "rdma://gpu1:7602");
    ASSERT_TRUE(rdma) << forced;
    EXPECT_TRUE(rdma->rdma) << forced;
    EXPECT_FALSE(rdma->askSharedMemory) << forced;
  }
  auto unset = chooseTransport("", "tcp://gpu1:7600");
  ASSERT_TRUE(unset);
  EXPECT_FALSE(unset->rdma);
  EXPECT_FALSE(chooseTransport("tcp", "rdma://gpu1:7602"));
  EXPECT_FALSE(chooseTransport("shm", "rdma://gpu1:7602"));
}

TEST(TransportChoice, RdmaWithoutAnRdmaUrlAndUnknownNamesFailSayingWhy) {
  auto rdma = chooseTransport("rdma", "tcp://gpu1:7600");
  ASSERT_FALSE(rdma);
  EXPECT_EQ(rdma.status().message(), "FASTGPU_TRANSPORT=rdma needs FASTGPU_SERVER to be an rdma://HOST:PORT URL (it is "
                                     "'tcp://gpu1:7600')");
  auto pigeon = chooseTransport("pigeon", "tcp://gpu1:7600");
  ASSERT_FALSE(pigeon);
  EXPECT_EQ(pigeon.status().message(), "FASTGPU_TRANSPORT='pigeon' is not one of tcp, unix, shm, rdma");
}

}  // namespace
}  // namespace fastgpu::interposer
