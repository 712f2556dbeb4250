// Shared by the server tests: a fastgpu-server on cudasim in process, and clients that speak the
// wire protocol by hand.
#pragma once

#include <capnp/message.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "protocol/call_kinds.h"
#include "protocol/message.h"
#include "scheduler/server_config.h"
#include "server/server.h"

namespace fastgpu::server {

inline constexpr std::uint64_t kMiB = 1ULL << 20;

// A client that speaks the protocol by hand.
class RawClient {
 public:
  explicit RawClient(const std::string& url, const std::string& vgpu = "", const std::string& token = "") {
    auto connected = protocol::connect(url);
    EXPECT_TRUE(connected) << connected.status().message();
    connection_ = std::move(*connected);
    capnp::MallocMessageBuilder hello;
    auto root = hello.initRoot<wire::Hello>();
    root.setProtocolVersion(wire::PROTOCOL_VERSION);
    root.setPid(1);
    root.setHost("test");
    root.setVgpu(vgpu);
    root.setToken(token);
    std::vector<std::uint8_t> bytes;
    protocol::appendMessage(hello, bytes);
    EXPECT_TRUE(connection_->send(bytes));
    EXPECT_TRUE(connection_->receive(welcomeBytes_));
    protocol::MessageCursor cursor(welcomeBytes_);
    EXPECT_TRUE(cursor.next(welcomeReader_));
  }

  wire::Welcome::Reader welcome() { return welcomeReader_->getRoot<wire::Welcome>(); }

  // Sends one call; returns (result, reply payload) when it expects a reply.
  // Sends one call (with bulk bytes after it); when it gets a reply, returns the result, the
  // values, and the reply's bulk bytes in `bulkBack`.
  template <typename Build>
  std::pair<CUresult, std::vector<std::int64_t>> call(Build&& build, std::uint64_t* handle = nullptr,
                                                      std::span<const std::uint8_t> bulk = {},
                                                      std::vector<std::uint8_t>* bulkBack = nullptr) {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<wire::Call>();
    root.setContext(context);
    build(root);
    std::vector<std::uint8_t> bytes;
    protocol::appendMessage(message, bytes);
    std::span<const std::uint8_t> parts[] = {bytes, bulk, protocol::bulkPadding(bulk.size())};
    if (!connection_->send(parts)) return {CUDA_ERROR_UNKNOWN, {}};
    if (!protocol::expectsReply(root.asReader())) return {CUDA_SUCCESS, {}};
    std::vector<std::uint8_t> payload;
    if (!connection_->receive(payload)) return {CUDA_ERROR_DEVICE_UNAVAILABLE, {}};
    protocol::MessageCursor cursor(payload);
    std::optional<capnp::FlatArrayMessageReader> reader;
    if (!cursor.next(reader)) return {CUDA_ERROR_UNKNOWN, {}};
    auto reply = reader->getRoot<wire::Reply>();
    std::vector<std::int64_t> values;
    if (reply.isValues()) {
      for (auto value : reply.getValues()) values.push_back(value);
    }
    if (reply.isHandle() && handle != nullptr) *handle = reply.getHandle();
    if (bulkBack != nullptr && reply.getBulkBytes() > 0) {
      auto taken = cursor.takeBulk(reply.getBulkBytes());
      if (taken) bulkBack->assign(taken->begin(), taken->end());
    }
    return {static_cast<CUresult>(reply.getResult()), values};
  }

  void retainPrimary() {
    ASSERT_EQ(call([](wire::Call::Builder c) { c.setPrimaryRetain(0); }, &context).first, CUDA_SUCCESS);
  }

  std::uint64_t allocate(std::uint64_t bytes, CUresult expected = CUDA_SUCCESS) {
    std::uint64_t base = 0;
    EXPECT_EQ(call([&](wire::Call::Builder c) { c.setMemAlloc(bytes); }, &base).first, expected);
    return base;
  }

  std::uint64_t freeMemory() { return memoryInfo().first; }

  std::pair<std::uint64_t, std::uint64_t> memoryInfo() {
    auto [result, values] = call([](wire::Call::Builder c) { c.setMemGetInfo(); });
    EXPECT_EQ(result, CUDA_SUCCESS);
    if (values.size() != 2) return {0, 0};
    return {static_cast<std::uint64_t>(values[0]), static_cast<std::uint64_t>(values[1])};
  }

  // Loads the test kernels and returns the id of fastgpu_spin.
  std::uint64_t loadSpinKernel() {
    std::ifstream file(std::string(FASTGPU_TEST_DATA_DIR) + "/test_kernels.fatbin", std::ios::binary);
    std::vector<std::uint8_t> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<wire::Call>();
    root.setContext(context);
    root.setModuleLoad(kj::arrayPtr(image.data(), image.size()));
    std::vector<std::uint8_t> bytes;
    protocol::appendMessage(message, bytes);
    EXPECT_TRUE(connection_->send(bytes));
    std::vector<std::uint8_t> payload;
    EXPECT_TRUE(connection_->receive(payload));
    protocol::MessageCursor cursor(payload);
    std::optional<capnp::FlatArrayMessageReader> reader;
    EXPECT_TRUE(cursor.next(reader));
    for (auto kernel : reader->getRoot<wire::Reply>().getModule().getKernels()) {
      if (kernel.getName() == "fastgpu_spin") return kernel.getHandle();
    }
    ADD_FAILURE() << "no fastgpu_spin in the test kernels";
    return 0;
  }

  // Posts a launch of fastgpu_spin(micros) on the default stream.
  void spin(std::uint64_t kernel, std::uint64_t micros) {
    call([&](wire::Call::Builder c) {
      auto launch = c.initLaunch();
      launch.setFunction(kernel);
      auto grid = launch.initGrid(3);
      auto block = launch.initBlock(3);
      for (unsigned i = 0; i < 3; ++i) {
        grid.set(i, 1);
        block.set(i, 1);
      }
      launch.setParams(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(&micros), sizeof(micros)));
    });
  }

  CUresult synchronize() {
    return call([](wire::Call::Builder c) { c.setContextSynchronize(0); }).first;
  }

  protocol::Connection& connection() { return *connection_; }
  std::uint64_t context = 0;

 private:
  std::unique_ptr<protocol::Connection> connection_;
  std::vector<std::uint8_t> welcomeBytes_;
  std::optional<capnp::FlatArrayMessageReader> welcomeReader_;
};

class ServerTest : public ::testing::Test {
 public:  // test helpers outside the fixture use these too
  void SetUp() override { start(""); }

  // (Re)starts the server with the vGPUs of `config` (TOML; empty: an open server).
  void start(const std::string& config) {
    if (server) TearDown();
    setenv("FASTGPU_SIM_MEMORY", "4GiB", 1);
    setenv("FASTGPU_SIM_DEVICES", "2", 1);
    auto parsed = scheduler::parseServerConfig(config, "test.toml");
    ASSERT_TRUE(parsed) << parsed.status().message();
    auto driver = LoadedDriver::load(FASTGPU_CUDASIM_LIBRARY);
    ASSERT_TRUE(driver) << driver.status().message();
    auto gpus = (*driver)->devices({});
    ASSERT_TRUE(gpus);
    auto registry = scheduler::VgpuRegistry::create(parsed->vgpus, *gpus, parsed->placement, &(*driver)->api());
    ASSERT_TRUE(registry) << registry.status().message();
    registry_ = registry->get();
    ASSERT_TRUE(registry) << registry.status().message();
    auto listener = protocol::listen("tcp://127.0.0.1:0");
    ASSERT_TRUE(listener);
    url = (*listener)->url();
    std::vector<std::unique_ptr<protocol::Listener>> listeners;
    listeners.push_back(std::move(*listener));
    server = std::make_unique<Server>(std::move(*driver), std::move(*registry), std::move(listeners));
    thread = std::thread([this] { server->run(); });
  }
  void TearDown() override {
    server->stop();
    thread.join();
    server.reset();
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

  std::string url;
  scheduler::VgpuRegistry* registry_ = nullptr;  // owned by the server
  std::unique_ptr<Server> server;
  std::thread thread;
};

}  // namespace fastgpu::server
