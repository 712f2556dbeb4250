// Shared by the server tests: a fastgpu-server on cudasim in process, and clients that speak the
// wire protocol by hand.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "protocol/code_digest.h"
#include "scheduler/server_config.h"
#include "server/server.h"
#include "server/session_state.h"
#include "tests/support/raw_client.h"

namespace fastgpu::server {

using testing::kMiB;
using testing::RawClient;

// The test kernels as PTX text padded with comments past the size whose digest a client sends
// first (the module cache keeps it).
inline std::vector<std::uint8_t> largeTestPtx() {
  std::ifstream in(std::string(FASTGPU_TEST_DATA_DIR) + "/test_kernels.ptx", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_FALSE(text.empty());
  while (text.size() < protocol::kCachedImageMinBytes + 1000) text += "\n// padding: a large module has many kernels";
  text += '\n';
  std::vector<std::uint8_t> image(text.begin(), text.end());
  image.push_back(0);
  return image;
}

class ServerTest : public ::testing::Test {
 public:  // test helpers outside the fixture use these too
  void SetUp() override { start(""); }

  // (Re)starts the server with the vGPUs and limits of `config` (TOML; empty: an open server),
  // recording usage in the ledger at `ledgerPath` when given.
  void start(const std::string& config, const std::string& ledgerPath = "") {
    if (server) TearDown();
    setenv("FASTGPU_SIM_MEMORY", "4GiB", 1);
    setenv("FASTGPU_SIM_DEVICES", "2", 1);
    setenv("FASTGPU_SIM_KERNELS", FASTGPU_TEST_TWINS, 1);  // failWith, appendValue
    // The workers share the devices with this process, as fastgpu-server's do.
    setenv("FASTGPU_SIM_SHARED", ("server-test-" + std::to_string(getpid())).c_str(), 1);
    auto parsed = scheduler::parseServerConfig(config, "test.toml");
    ASSERT_TRUE(parsed) << parsed.status().message();
    auto driver = LoadedDriver::load(FASTGPU_CUDASIM_LIBRARY);
    ASSERT_TRUE(driver) << driver.status().message();
    auto gpus = (*driver)->devices({});
    ASSERT_TRUE(gpus);
    auto registry = scheduler::VgpuRegistry::create(parsed->vgpus, *gpus, parsed->placement);
    ASSERT_TRUE(registry) << registry.status().message();
    registry_ = registry->get();
    ASSERT_TRUE(registry) << registry.status().message();
    auto listener = protocol::listen(listenUrl, listenOptions);
    ASSERT_TRUE(listener);
    url = (*listener)->url();
    std::vector<std::unique_ptr<protocol::Listener>> listeners;
    listeners.push_back(std::move(*listener));
    std::unique_ptr<scheduler::UsageLedger> ledger;
    if (!ledgerPath.empty()) {
      auto opened = scheduler::UsageLedger::open(ledgerPath);
      ASSERT_TRUE(opened) << opened.status().message();
      ledger = std::move(*opened);
    }
    server = std::make_unique<Server>(std::move(*driver), std::move(*registry), std::move(listeners), std::move(ledger),
                                      parsed->limits, FASTGPU_SERVER_BINARY);
    thread = std::thread([this] { server->run(); });
  }
  void TearDown() override {
    server->stop();
    thread.join();
    server.reset();
  }

  // Starts a server with two vGPUs of 64 MiB each: "a" (token "ta") and "b" (token "tb"), and
  // the server keys `serverKeys` (TOML).
  void startTwoVgpus(const std::string& serverKeys = "") {
    start(serverKeys + R"(
[[vgpu]]
name = "a"
memory = "64MiB"
tokens = ["ta"]

[[vgpu]]
name = "b"
memory = "64MiB"
tokens = ["tb"]
)");
  }

  // Starts a server with one vGPU "small" of 8 MiB (token "t") and connects a client to it: the
  // quota tests exceed it on purpose.
  RawClient startSmallVgpu() {
    start(R"(
[[vgpu]]
name = "small"
memory = "8MiB"
tokens = ["t"]
)");
    return RawClient(url, "small", "t");
  }

  // Waits, at most `limit`, for `condition`.
  template <typename Condition>
  static bool eventually(Condition&& condition, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a remote state, not ordering threads
    }
    return condition();
  }

  std::string listenUrl = "tcp://127.0.0.1:0";  // set before start() for another transport
  protocol::ListenOptions listenOptions;
  std::string url;
  scheduler::VgpuRegistry* registry_ = nullptr;  // owned by the server
  std::unique_ptr<Server> server;
  std::thread thread;
};

}  // namespace fastgpu::server
