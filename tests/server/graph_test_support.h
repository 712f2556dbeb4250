// Shared by the server's graph tests: a client's graph calls by hand, and a session with the test
// kernels, a log of appendValue and a non-blocking stream.
#pragma once

#include <cstring>

#include "session_test_support.h"

namespace fastgpu::server {

inline std::vector<std::uint8_t> appendParams(std::uint64_t log, std::uint64_t length, int value) {
  std::vector<std::uint8_t> params(8 + 8 + 4);  // appendValue(int* log, int* length, int value)
  std::memcpy(params.data(), &log, 8);
  std::memcpy(params.data() + 8, &length, 8);
  std::memcpy(params.data() + 16, &value, 4);
  return params;
}

// Describes a node that launches appendValue(log, length, value) as one thread.
inline void describeAppendNode(wire::GraphNodeAdd::Builder add, std::uint64_t function, std::uint64_t log,
                               std::uint64_t length, int value) {
  auto kernel = add.initKernel();
  kernel.setFunction(function);
  auto grid = kernel.initGrid(3), block = kernel.initBlock(3);
  for (unsigned i = 0; i < 3; ++i) grid.set(i, 1), block.set(i, 1);
  auto params = appendParams(log, length, value);
  kernel.setParams(kj::arrayPtr(params.data(), params.size()));
}

struct Graphs {
  RawClient& client;

  std::uint64_t stream() {
    std::uint64_t id = 0;
    EXPECT_EQ(client.call([](wire::Call::Builder c) { c.initStreamCreate().setFlags(CU_STREAM_NON_BLOCKING); }, &id).first,
              CUDA_SUCCESS);
    return id;
  }
  CUresult begin(std::uint64_t stream) {
    return client
        .call([&](wire::Call::Builder c) {
          auto b = c.initStreamBeginCapture();
          b.setStream(stream);
          b.setMode(CU_STREAM_CAPTURE_MODE_GLOBAL);
        })
        .first;
  }
  std::pair<CUresult, std::uint64_t> end(std::uint64_t stream) {
    std::uint64_t graph = 0;
    CUresult result = client.call([&](wire::Call::Builder c) { c.initStreamEndCapture().setStream(stream); }, &graph).first;
    return {result, graph};
  }
  std::pair<CUresult, std::uint64_t> instantiate(std::uint64_t graph) {
    auto [result, values] = client.call([&](wire::Call::Builder c) { c.initGraphInstantiate().setGraph(graph); });
    return {result, values.empty() ? 0 : static_cast<std::uint64_t>(values[0])};
  }
  CUresult launchAndWait(std::uint64_t exec, std::uint64_t stream) {
    client.call([&](wire::Call::Builder c) {
      auto l = c.initGraphLaunch();
      l.setExec(exec);
      l.setStream(stream);
    });
    return client.call([&](wire::Call::Builder c) { c.initStreamSynchronize().setStream(stream); }).first;
  }
  // Waits for host launch `launch` on `stream`: values [0, point, instance] (a point reached) or
  // [1] (done).
  std::pair<CUresult, std::vector<std::int64_t>> waitForHostPoint(std::uint64_t stream, std::uint32_t launch) {
    return client.call([&](wire::Call::Builder c) {
      auto w = c.initHostPointWait();
      w.setLaunch(launch);
      w.setStream(stream);
    });
  }
  // A graph of one host node (host point 1), launched on `stream` as host launch 1 and waited for
  // until the replay is held at the point: [0, 1, instance], or empty when something failed.
  std::vector<std::int64_t> launchHeldAtAHostPoint(std::uint64_t stream) {
    std::uint64_t graph = 0;
    if (client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &graph).first != CUDA_SUCCESS) return {};
    auto added = client.call([&](wire::Call::Builder c) {
      auto a = c.initGraphAddNode();
      a.setGraph(graph);
      a.setHost(1);
    });
    std::pair<CUresult, std::uint64_t> made = instantiate(graph);
    if (added.first != CUDA_SUCCESS || made.first != CUDA_SUCCESS) return {};
    client.call([&](wire::Call::Builder c) {
      auto l = c.initGraphLaunch();
      l.setExec(made.second);
      l.setStream(stream);
      l.setHostLaunch(1);
    });
    auto [reached, point] = waitForHostPoint(stream, 1);
    return reached == CUDA_SUCCESS && point.size() == 3 ? point : std::vector<std::int64_t>{};
  }
  int readInt(std::uint64_t address) {
    auto [result, bytes] = client.read(address, sizeof(int));
    int value = -1;
    if (result == CUDA_SUCCESS && bytes.size() == sizeof(int)) std::memcpy(&value, bytes.data(), sizeof(int));
    return value;
  }
};

// A session with the test kernels, a log of appendValue and a non-blocking stream.
class ServerGraphTest : public ServerTest {
 protected:
  struct Session {
    RawClient& client;
    Graphs graphs;
    RawClient::LoadedCode code;
    std::uint64_t log, length, stream;
  };
  void SetUp() override {
    ServerTest::SetUp();
    raw = std::make_unique<RawClient>(url);
    raw->retainPrimary();
    auto code = raw->load();
    ASSERT_EQ(code.result, CUDA_SUCCESS);
    std::uint64_t log = raw->allocate(256), length = raw->allocate(sizeof(int));
    std::vector<std::uint8_t> zero(sizeof(int), 0);
    ASSERT_EQ(raw->write(length, zero), CUDA_SUCCESS);
    Graphs graphs{*raw};
    std::uint64_t stream = graphs.stream();
    session.emplace(Session{*raw, graphs, code, log, length, stream});
  }
  void TearDown() override {
    session.reset();
    raw.reset();
    ServerTest::TearDown();
  }
  std::unique_ptr<RawClient> raw;
  std::optional<Session> session;
};

}  // namespace fastgpu::server
