// Stream capture and graphs on the server: captured work does not run and passes no gate, work
// that would move through the server's memory is refused on a capturing stream (whatever a client
// sends), replays run the captured work, and forged or wrong-kind graph ids are refused.
#include <cstring>

#include "session_test_support.h"

namespace fastgpu::server {
namespace {

std::vector<std::uint8_t> appendParams(std::uint64_t log, std::uint64_t length, int value) {
  std::vector<std::uint8_t> params(8 + 8 + 4);  // appendValue(int* log, int* length, int value)
  std::memcpy(params.data(), &log, 8);
  std::memcpy(params.data() + 8, &length, 8);
  std::memcpy(params.data() + 16, &value, 4);
  return params;
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
    std::uint64_t exec = 0;
    CUresult result = client.call([&](wire::Call::Builder c) { c.initGraphInstantiate().setGraph(graph); }, &exec).first;
    return {result, exec};
  }
  CUresult launchAndWait(std::uint64_t exec, std::uint64_t stream) {
    client.call([&](wire::Call::Builder c) {
      auto l = c.initGraphLaunch();
      l.setExec(exec);
      l.setStream(stream);
    });
    return client.call([&](wire::Call::Builder c) { c.initStreamSynchronize().setStream(stream); }).first;
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

TEST_F(ServerGraphTest, CapturedWorkRunsOnlyInReplaysAndCopiesOfClientMemoryAreNeverCaptured) {
  auto [client, graphs, code, log, length, stream] = *session;

  ASSERT_EQ(graphs.begin(stream), CUDA_SUCCESS);
  EXPECT_EQ(graphs.begin(stream), CUDA_ERROR_ILLEGAL_STATE);
  client.launch(code.kernels.at("appendValue"), appendParams(log, length, 5), stream);
  // A client that ignores the rules: copies through the server's memory are refused, not captured.
  std::vector<std::uint8_t> bytes(16, 1);
  EXPECT_EQ(client
                .call(
                    [&](wire::Call::Builder c) {
                      auto copy = c.initCopy();
                      copy.setDst(log);
                      copy.setBytes(bytes.size());
                      copy.setStream(stream);
                    },
                    nullptr, bytes)
                .first,
            CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  std::vector<std::uint8_t> back;
  EXPECT_EQ(client
                .call(
                    [&](wire::Call::Builder c) {
                      auto copy = c.initCopy();
                      copy.setSrc(log);
                      copy.setBytes(16);
                      copy.setStream(stream);
                      copy.setAsync(true);
                    },
                    nullptr, {}, &back)
                .first,
            CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  auto [ended, graph] = graphs.end(stream);
  ASSERT_EQ(ended, CUDA_SUCCESS);
  EXPECT_EQ(graphs.readInt(length), 0) << "nothing ran during the capture";

  std::uint64_t nodes = 0;
  auto counted = client.call([&](wire::Call::Builder c) { c.setGraphNodeCount(graph); });
  ASSERT_EQ(counted.first, CUDA_SUCCESS);
  ASSERT_EQ(counted.second.size(), 1u);
  nodes = static_cast<std::uint64_t>(counted.second[0]);
  EXPECT_EQ(nodes, 1u) << "only the launch was captured";
  auto [instantiated, exec] = graphs.instantiate(graph);
  ASSERT_EQ(instantiated, CUDA_SUCCESS);
  ASSERT_EQ(graphs.launchAndWait(exec, stream), CUDA_SUCCESS);
  ASSERT_EQ(graphs.launchAndWait(exec, stream), CUDA_SUCCESS);
  EXPECT_EQ(graphs.readInt(length), 2);
}

TEST_F(ServerGraphTest, ACapturedCopyToTheHostStagesItsBytesOnTheServerForEveryReplay) {
  auto [client, graphs, code, log, length, stream] = *session;
  auto captureToHost = [&](std::uint64_t bytes, std::uint64_t* staging) {
    return client
        .call(
            [&](wire::Call::Builder c) {
              auto copy = c.initCaptureToHost();
              copy.setSrc(length);
              copy.setBytes(bytes);
              copy.setStream(stream);
            },
            staging)
        .first;
  };
  std::uint64_t staging = 0;
  EXPECT_EQ(captureToHost(sizeof(int), &staging), CUDA_ERROR_ILLEGAL_STATE) << "not capturing";
  ASSERT_EQ(graphs.begin(stream), CUDA_SUCCESS);
  client.launch(code.kernels.at("appendValue"), appendParams(log, length, 5), stream);
  EXPECT_EQ(captureToHost(4096, &staging), CUDA_ERROR_INVALID_VALUE) << "beyond the allocation";
  ASSERT_EQ(captureToHost(sizeof(int), &staging), CUDA_SUCCESS);
  client.call([&](wire::Call::Builder c) { c.initCaptureHostNode().setStream(stream); });
  auto [ended, graph] = graphs.end(stream);
  ASSERT_EQ(ended, CUDA_SUCCESS);
  auto [instantiated, exec] = graphs.instantiate(graph);
  ASSERT_EQ(instantiated, CUDA_SUCCESS);
  auto readStaged = [&](std::uint64_t id, std::vector<std::uint8_t>& back) {
    return client
        .call(
            [&](wire::Call::Builder c) {
              auto read = c.initReadStaged();
              read.setStaging(id);
              read.setStream(stream);
            },
            nullptr, {}, &back)
        .first;
  };
  // The executable holds the buffer: destroying the graph leaves it.
  client.call([&](wire::Call::Builder c) { c.setGraphDestroy(graph); });
  for (int replay = 1; replay <= 2; ++replay) {
    client.call([&](wire::Call::Builder c) {
      auto l = c.initGraphLaunch();
      l.setExec(exec);
      l.setStream(stream);
    });
    std::vector<std::uint8_t> back;
    ASSERT_EQ(readStaged(staging, back), CUDA_SUCCESS);
    ASSERT_EQ(back.size(), sizeof(int));
    int copied = 0;
    std::memcpy(&copied, back.data(), sizeof(int));
    EXPECT_EQ(copied, replay);
  }
  std::vector<std::uint8_t> back;
  EXPECT_EQ(readStaged(exec, back), CUDA_ERROR_INVALID_HANDLE) << "an executable is not a staging buffer";
  client.call([&](wire::Call::Builder c) { c.setGraphExecDestroy(exec); });
  EXPECT_EQ(readStaged(staging, back), CUDA_ERROR_INVALID_HANDLE) << "freed with its last holder";
}

// Graph memory counts against the vGPU's quota from the capture that allocates it until its graph
// and the executables made from it are gone.
TEST_F(ServerTest, GraphMemoryCountsAgainstTheQuotaWhileAGraphHoldsIt) {
  RawClient client = startSmallVgpu();
  client.retainPrimary();
  Graphs graphs{client};
  std::uint64_t stream = graphs.stream();
  const std::uint64_t before = client.freeMemory();
  auto allocate = [&](std::uint64_t bytes) {
    auto [result, values] = client.call([&](wire::Call::Builder c) {
      auto a = c.initMemAllocAsync();
      a.setBytes(bytes);
      a.setStream(stream);
    });
    return std::pair{result, values.empty() ? 0 : static_cast<std::uint64_t>(values[0])};
  };
  ASSERT_EQ(graphs.begin(stream), CUDA_SUCCESS);
  auto [allocated, address] = allocate(6ULL << 20);
  ASSERT_EQ(allocated, CUDA_SUCCESS);
  EXPECT_NE(address, 0u);
  EXPECT_EQ(client.freeMemory(), before - (6ULL << 20)) << "charged when captured";
  EXPECT_EQ(allocate(4ULL << 20).first, CUDA_ERROR_OUT_OF_MEMORY) << "8 MiB quota";
  auto [ended, graph] = graphs.end(stream);
  ASSERT_EQ(ended, CUDA_SUCCESS);
  auto [instantiated, exec] = graphs.instantiate(graph);
  ASSERT_EQ(instantiated, CUDA_SUCCESS);
  ASSERT_EQ(graphs.launchAndWait(exec, stream), CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before - (6ULL << 20)) << "counted once, however many hold it";
  client.call([&](wire::Call::Builder c) { c.setGraphDestroy(graph); });
  EXPECT_EQ(client.freeMemory(), before - (6ULL << 20)) << "the executable still holds it";
  client.call([&](wire::Call::Builder c) { c.setGraphExecDestroy(exec); });
  EXPECT_EQ(client.freeMemory(), before) << "back with its last holder";
}

// A capture's graph gets one id when the client asks for it, keeps it when the capture ends, and
// cannot be destroyed while the capture owns it; dependencies the client sends are checked.
TEST_F(ServerGraphTest, ACaptureGraphIsNamedOnceAndItsDependenciesAreChecked) {
  auto [client, graphs, code, log, length, stream] = *session;
  auto info = [&](std::uint64_t of) {
    return client.call([&](wire::Call::Builder c) { c.initCaptureInfo().setStream(of); });
  };
  auto update = [&](std::vector<std::uint64_t> nodes, std::vector<std::uint64_t> edges, unsigned flags) {
    return client
        .call([&](wire::Call::Builder c) {
          auto u = c.initCaptureDependencies();
          u.setStream(stream);
          u.setFlags(flags);
          auto n = u.initNodes(static_cast<unsigned>(nodes.size()));
          for (unsigned i = 0; i < nodes.size(); ++i) n.set(i, nodes[i]);
          auto e = u.initEdgeData(static_cast<unsigned>(edges.size()));
          for (unsigned i = 0; i < edges.size(); ++i) e.set(i, edges[i]);
        })
        .first;
  };
  EXPECT_EQ(info(stream).first, CUDA_ERROR_ILLEGAL_STATE) << "not capturing";
  ASSERT_EQ(graphs.begin(stream), CUDA_SUCCESS);
  EXPECT_EQ(update({}, {}, CU_STREAM_SET_CAPTURE_DEPENDENCIES), CUDA_SUCCESS) << "no dependencies at all";
  client.launch(code.kernels.at("appendValue"), appendParams(log, length, 5), stream);
  auto [asked, values] = info(stream);
  ASSERT_EQ(asked, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 4u);  // graph, one dependency, its id, its (default) edge data
  auto graph = static_cast<std::uint64_t>(values[0]);
  auto kernel = static_cast<std::uint64_t>(values[2]);
  EXPECT_EQ(values[1], 1);
  EXPECT_EQ(values[3], 0);
  auto again = info(stream);
  ASSERT_EQ(again.first, CUDA_SUCCESS);
  EXPECT_EQ(again.second, values) << "one id for the graph and its nodes";

  EXPECT_EQ(update({0x1234}, {}, CU_STREAM_SET_CAPTURE_DEPENDENCIES), CUDA_ERROR_INVALID_VALUE) << "a forged node";
  EXPECT_EQ(update({kernel}, {0, 0}, CU_STREAM_SET_CAPTURE_DEPENDENCIES), CUDA_ERROR_INVALID_VALUE) << "edge count";
  EXPECT_EQ(update({kernel}, {1ULL << 40}, CU_STREAM_SET_CAPTURE_DEPENDENCIES), CUDA_ERROR_INVALID_VALUE)
      << "malformed edge data";
  EXPECT_EQ(update({kernel}, {}, 7), CUDA_ERROR_INVALID_VALUE) << "unknown flags";
  EXPECT_EQ(update({kernel}, {}, CU_STREAM_SET_CAPTURE_DEPENDENCIES), CUDA_SUCCESS);

  // Destroying the graph a capture owns is refused (posted: the next reply carries the error).
  client.call([&](wire::Call::Builder c) { c.setGraphDestroy(graph); });
  EXPECT_EQ(info(stream).first, CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_ERROR_ILLEGAL_STATE);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) {
                    auto b = c.initStreamBeginCapture();
                    b.setStream(graphs.stream());
                    b.setGraph(graph);
                  }).first,
            CUDA_ERROR_ILLEGAL_STATE)
      << "a second capture into the graph a capture owns";

  auto [ended, endedGraph] = graphs.end(stream);
  ASSERT_EQ(ended, CUDA_SUCCESS);
  EXPECT_EQ(endedGraph, graph) << "the graph keeps the id its capture's queries gave it";
  auto [instantiated, exec] = graphs.instantiate(graph);
  ASSERT_EQ(instantiated, CUDA_SUCCESS);
  ASSERT_EQ(graphs.launchAndWait(exec, stream), CUDA_SUCCESS);
  EXPECT_EQ(graphs.readInt(length), 1);
  EXPECT_EQ(update({}, {}, CU_STREAM_SET_CAPTURE_DEPENDENCIES), CUDA_ERROR_ILLEGAL_STATE) << "the capture is over";

  // A capture into that graph, after its kernel; a session that ends mid-capture frees nothing twice.
  ASSERT_EQ(client.call([&](wire::Call::Builder c) {
                    auto b = c.initStreamBeginCapture();
                    b.setStream(stream);
                    b.setGraph(graph);
                    b.initDependencies(1).set(0, kernel);
                  }).first,
            CUDA_SUCCESS);
  client.launch(code.kernels.at("appendValue"), appendParams(log, length, 6), stream);
  ASSERT_EQ(graphs.end(stream), std::make_pair(CUDA_SUCCESS, graph));
  auto counted = client.call([&](wire::Call::Builder c) { c.setGraphNodeCount(graph); });
  ASSERT_EQ(counted.second.size(), 1u);
  EXPECT_EQ(counted.second[0], 2);
  RawClient leaving(url);
  leaving.retainPrimary();
  Graphs left{leaving};
  std::uint64_t leftStream = left.stream();
  ASSERT_EQ(left.begin(leftStream), CUDA_SUCCESS);
  ASSERT_EQ(leaving.call([&](wire::Call::Builder c) { c.initCaptureInfo().setStream(leftStream); }).first, CUDA_SUCCESS);
}

// A node's parameters read and set: forged nodes, executables and events are refused, a memset's
// new range is checked, and an event comes back as the session's id for it.
TEST_F(ServerGraphTest, NodeParametersAreCheckedAndAnsweredInTheSessionsTerms) {
  auto [client, graphs, code, log, length, stream] = *session;
  std::uint64_t graph = 0, event = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &graph).first, CUDA_SUCCESS);
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setEventCreate(CU_EVENT_DISABLE_TIMING); }, &event).first,
            CUDA_SUCCESS);
  auto add = [&](auto&& describe) {
    auto [result, values] = client.call([&](wire::Call::Builder c) {
      auto a = c.initGraphAddNode();
      a.setGraph(graph);
      describe(a);
    });
    EXPECT_EQ(result, CUDA_SUCCESS);
    return values.empty() ? 0 : static_cast<std::uint64_t>(values[0]);
  };
  std::uint64_t memset = add([&](wire::GraphNodeAdd::Builder a) {
    auto m = a.initMemset();
    m.setDst(length);
    m.setElementBytes(4);
    m.setWidth(1);
    m.setHeight(1);
    m.setValue(3);
  });
  std::uint64_t record = add([&](wire::GraphNodeAdd::Builder a) { a.setEventRecord(event); });
  using Kind = wire::GraphNodeParams::Kind;
  auto params = [&](std::uint64_t exec, std::uint64_t node, Kind kind, bool set, auto&& describe) {
    return client.call([&](wire::Call::Builder c) {
      auto p = c.initGraphNodeParams();
      p.setExec(exec);
      p.setNode(node);
      p.setKind(kind);
      p.setSet(set);
      describe(p.initValue());
    });
  };
  auto none = [](wire::GraphNodeAdd::Builder) {};
  auto [read, values] = params(0, memset, Kind::MEMSET, false, none);
  ASSERT_EQ(read, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 6u);
  EXPECT_EQ(static_cast<std::uint64_t>(values[0]), length);
  EXPECT_EQ(values[2], 3);
  EXPECT_EQ(params(0, 0x1234, Kind::MEMSET, false, none).first, CUDA_ERROR_INVALID_VALUE) << "a forged node";
  EXPECT_EQ(params(0x1234, memset, Kind::MEMSET, true, none).first, CUDA_ERROR_INVALID_HANDLE) << "a forged executable";
  auto outside = [&](wire::GraphNodeAdd::Builder v) {
    auto m = v.initMemset();
    m.setDst(length);
    m.setElementBytes(4);
    m.setWidth(1 << 20);  // past the end of the allocation
    m.setHeight(1);
  };
  EXPECT_EQ(params(0, memset, Kind::MEMSET, true, outside).first, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(params(0, memset, Kind::MEMSET, true, none).first, CUDA_ERROR_INVALID_VALUE) << "no parameters";
  auto [asked, named] = params(0, record, Kind::EVENT_RECORD, false, none);
  ASSERT_EQ(asked, CUDA_SUCCESS);
  EXPECT_EQ(named, std::vector<std::int64_t>{static_cast<std::int64_t>(event)});
  EXPECT_EQ(params(0, record, Kind::EVENT_RECORD, true, [&](wire::GraphNodeAdd::Builder v) { v.setEventRecord(graph); })
                .first,
            CUDA_ERROR_INVALID_HANDLE)
      << "a graph where an event belongs";
  EXPECT_EQ(params(0, memset, Kind::MEM_ALLOC, true, none).first, CUDA_ERROR_INVALID_VALUE) << "allocations are only read";
}

TEST_F(ServerGraphTest, CopyNodeChangesKeepTheirSidesAndStayInsideTheSessionsMemory) {
  auto [client, graphs, code, log, length, stream] = *session;
  std::uint64_t graph = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &graph).first, CUDA_SUCCESS);
  // Packed copies of `bytes`: `toHost` from log to a staging buffer, else log to length.
  auto describe = [&](wire::GraphCopy::Builder copy, bool toHost, std::uint64_t bytes, std::uint64_t src) {
    copy.setSrc(src);
    copy.setDst(toHost ? 0 : length);
    copy.setWidth(bytes);
    copy.setHeight(1);
    copy.setDepth(1);
    copy.setToHost(toHost);
  };
  auto add = [&](bool toHost) {
    auto [result, values] = client.call([&](wire::Call::Builder c) {
      auto a = c.initGraphAddNode();
      a.setGraph(graph);
      describe(a.initCopy(), toHost, 4, log);
    });
    EXPECT_EQ(result, CUDA_SUCCESS);
    EXPECT_EQ(values.size(), 2u);
    return values.size() == 2 ? std::pair{static_cast<std::uint64_t>(values[0]), static_cast<std::uint64_t>(values[1])}
                              : std::pair<std::uint64_t, std::uint64_t>{};
  };
  auto [staged, staging] = add(true);
  auto [device, none] = add(false);
  EXPECT_NE(staging, 0u);
  EXPECT_EQ(none, 0u);
  using Kind = wire::GraphNodeParams::Kind;
  auto set = [&](std::uint64_t node, bool toHost, std::uint64_t bytes, std::uint64_t src) {
    return client.call([&](wire::Call::Builder c) {
      auto p = c.initGraphNodeParams();
      p.setNode(node);
      p.setKind(Kind::MEMCPY);
      p.setSet(true);
      describe(p.initValue().initCopy(), toHost, bytes, src);
    });
  };
  auto [read, values] = client.call([&](wire::Call::Builder c) {
    auto p = c.initGraphNodeParams();
    p.setNode(staged);
    p.setKind(Kind::MEMCPY);
  });
  ASSERT_EQ(read, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 13u);
  EXPECT_EQ(static_cast<std::uint64_t>(values[2]), log) << "the device side as an address";
  EXPECT_EQ(static_cast<std::uint64_t>(values[6]), staging) << "the client's side as its staging buffer";
  EXPECT_EQ(values[7], 0) << "never the server's own address";

  auto [moved, answer] = set(staged, true, 4, log + 4);
  EXPECT_EQ(moved, CUDA_SUCCESS);
  EXPECT_EQ(answer, (std::vector<std::int64_t>{static_cast<std::int64_t>(graph), 0, static_cast<std::int64_t>(staging)}));
  EXPECT_EQ(set(staged, true, 8, log).first, CUDA_ERROR_NOT_SUPPORTED) << "a staging buffer does not grow";
  EXPECT_EQ(set(staged, false, 4, log).first, CUDA_ERROR_NOT_SUPPORTED) << "the client's side stays the client's";
  EXPECT_EQ(set(device, true, 4, log).first, CUDA_ERROR_NOT_SUPPORTED) << "a device side stays the device's";
  EXPECT_EQ(set(device, false, 1 << 20, log).first, CUDA_ERROR_INVALID_VALUE) << "past the end of the allocation";
  EXPECT_EQ(set(device, false, 4, 0x1000).first, CUDA_ERROR_INVALID_VALUE) << "not the session's memory";
  EXPECT_EQ(set(device, false, ~0ULL, log).first, CUDA_ERROR_INVALID_VALUE) << "an overflowing size";
  EXPECT_EQ(set(0x777, false, 4, log).first, CUDA_ERROR_INVALID_VALUE) << "a forged node";
  EXPECT_EQ(client
                .call([&](wire::Call::Builder c) {
                  auto p = c.initGraphNodeParams();
                  p.setNode(device);
                  p.setKind(Kind::CHILD_GRAPH);
                  p.setSet(true);
                  p.initValue().setChildGraph(graph);
                })
                .first,
            CUDA_ERROR_INVALID_VALUE)
      << "a child graph changes in an executable only";

  // A node found in a clone has an id of the clone's; a forged clone or node is refused.
  std::uint64_t clone = 0;
  ASSERT_EQ(client.call([&](wire::Call::Builder c) { c.setGraphClone(graph); }, &clone).first, CUDA_SUCCESS);
  auto find = [&](std::uint64_t node, std::uint64_t in) {
    std::uint64_t found = 0;
    CUresult result = client
                          .call(
                              [&](wire::Call::Builder c) {
                                auto f = c.initGraphFindInClone();
                                f.setNode(node);
                                f.setClone(in);
                              },
                              &found)
                          .first;
    return std::pair{result, found};
  };
  auto [inClone, id] = find(device, clone);
  EXPECT_EQ(inClone, CUDA_SUCCESS);
  EXPECT_NE(id, 0u);
  EXPECT_NE(id, device);
  EXPECT_EQ(find(device, graph).first, CUDA_ERROR_INVALID_VALUE) << "a graph is not its own clone";
  EXPECT_EQ(find(0x777, clone).first, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(find(device, stream).first, CUDA_ERROR_INVALID_HANDLE) << "a stream where a graph belongs";
}

TEST_F(ServerTest, ForgedAndWrongKindGraphIdsAreRefused) {
  RawClient client(url);
  client.retainPrimary();
  Graphs graphs{client};
  std::uint64_t stream = graphs.stream();
  EXPECT_EQ(graphs.instantiate(0x123456789).first, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(graphs.instantiate(stream).first, CUDA_ERROR_INVALID_HANDLE) << "a stream is not a graph";
  EXPECT_EQ(graphs.end(stream).first, CUDA_ERROR_ILLEGAL_STATE) << "nothing to end";
  ASSERT_EQ(graphs.begin(stream), CUDA_SUCCESS);
  auto [ended, graph] = graphs.end(stream);
  ASSERT_EQ(ended, CUDA_SUCCESS);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) {
                    auto u = c.initGraphExecUpdate();
                    u.setExec(graph);  // a graph where an executable belongs
                    u.setGraph(graph);
                  }).first,
            CUDA_ERROR_INVALID_HANDLE);
  // A posted launch of a forged executable comes back as the next reply's deferred error.
  ASSERT_EQ(graphs.launchAndWait(graph, stream), CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) {
                    auto b = c.initStreamBeginCapture();
                    b.setStream(stream);
                    b.setMode(99);
                  }).first,
            CUDA_ERROR_INVALID_VALUE);
}

// Graphs built node by node: every id, address and shape is checked before the driver sees it,
// and a host node (whose function the client runs after a replay) may not have device work after it.
TEST_F(ServerGraphTest, AddedNodesAreCheckedAndHostNodesMustEndTheirGraph) {
  auto [client, graphs, code, log, length, stream] = *session;
  std::uint64_t graph = 0, other = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &graph).first, CUDA_SUCCESS);
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &other).first, CUDA_SUCCESS);
  EXPECT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(1); }).first, CUDA_ERROR_INVALID_VALUE);
  auto add = [&](std::uint64_t into, std::vector<std::uint64_t> after, auto&& describe) {
    auto [result, values] = client.call([&](wire::Call::Builder c) {
      auto a = c.initGraphAddNode();
      a.setGraph(into);
      auto deps = a.initDependencies(static_cast<unsigned>(after.size()));
      for (unsigned i = 0; i < after.size(); ++i) deps.set(i, after[i]);
      describe(a);
    });
    return std::pair{result, values.empty() ? 0 : static_cast<std::uint64_t>(values[0])};
  };
  auto kernel = [&](wire::GraphNodeAdd::Builder a) {
    auto k = a.initKernel();
    k.setFunction(code.kernels.at("appendValue"));
    auto grid = k.initGrid(3), block = k.initBlock(3);
    for (unsigned i = 0; i < 3; ++i) grid.set(i, 1), block.set(i, 1);
    auto params = appendParams(log, length, 3);
    k.setParams(kj::arrayPtr(params.data(), params.size()));
  };
  auto [added, first] = add(graph, {}, kernel);
  ASSERT_EQ(added, CUDA_SUCCESS);
  auto [otherAdded, foreign] = add(other, {}, [](auto a) { a.setEmpty(); });
  ASSERT_EQ(otherAdded, CUDA_SUCCESS);
  EXPECT_EQ(add(graph, {0x1234}, kernel).first, CUDA_ERROR_INVALID_VALUE) << "a forged node";
  EXPECT_EQ(add(graph, {foreign}, kernel).first, CUDA_ERROR_INVALID_VALUE) << "a node of another graph";
  EXPECT_EQ(add(0x1234, {}, kernel).first, CUDA_ERROR_INVALID_HANDLE) << "a forged graph";
  EXPECT_EQ(add(graph, {first},
                [&](auto a) {
                  auto m = a.initMemset();
                  m.setDst(length);
                  m.setElementBytes(4);
                  m.setWidth(2);  // 8 bytes of a 4-byte allocation
                  m.setHeight(1);
                })
                .first,
            CUDA_ERROR_INVALID_VALUE);
  auto copy = [&](std::uint64_t width, std::uint64_t height, std::uint64_t pitch) {
    return add(graph, {first}, [&](auto a) {
      auto c = a.initCopy();
      c.setDst(log);
      c.setDstPitch(pitch);
      c.setDstRows(height);
      c.setSrc(log);
      c.setSrcPitch(pitch);
      c.setSrcRows(height);
      c.setWidth(width);
      c.setHeight(height);
      c.setDepth(1);
    }).first;
  };
  EXPECT_EQ(copy(16, 1ULL << 62, 16), CUDA_ERROR_INVALID_VALUE) << "a shape that overflows";
  EXPECT_EQ(copy(64, 4, 128), CUDA_ERROR_INVALID_VALUE) << "rows past the 256-byte allocation";
  EXPECT_EQ(copy(64, 2, 128), CUDA_SUCCESS);
  EXPECT_EQ(add(graph, {}, [&](auto a) { a.setMemFree(log); }).first, CUDA_ERROR_INVALID_VALUE) << "not graph memory";
  EXPECT_EQ(client.call([&](wire::Call::Builder c) {
                    auto q = c.initGraphQuery();
                    q.setSubject(0x1234);
                    q.setWhat(wire::GraphQuery::What::TYPE);
                  }).first,
            CUDA_ERROR_INVALID_VALUE);

  auto [hostAdded, host] = add(graph, {first}, [](auto a) { a.setHost(); });
  ASSERT_EQ(hostAdded, CUDA_SUCCESS);
  auto [afterAdded, after] = add(graph, {host}, kernel);
  ASSERT_EQ(afterAdded, CUDA_SUCCESS);
  EXPECT_EQ(graphs.instantiate(graph).first, CUDA_ERROR_NOT_SUPPORTED) << "device work after a host node";
  std::uint64_t owner = 0;
  ASSERT_EQ(client.call([&](wire::Call::Builder c) { c.setGraphDestroyNode(after); }, &owner).first, CUDA_SUCCESS);
  EXPECT_EQ(owner, graph);
  auto [instantiated, exec] = graphs.instantiate(graph);
  ASSERT_EQ(instantiated, CUDA_SUCCESS);
  ASSERT_EQ(graphs.launchAndWait(exec, stream), CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_SUCCESS);
  EXPECT_EQ(graphs.readInt(length), 1) << "the kernel node ran once";
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setGraphDestroyNode(after); }).first, CUDA_ERROR_INVALID_VALUE)
      << "already destroyed";
}

// A copy node from the client's memory copies from a staging buffer that the client fills before
// each launch; a buffer is filled whole, and only a staging buffer of the session is.
TEST_F(ServerGraphTest, ACopyNodeFromTheClientReadsWhatTheClientStagedBeforeTheLaunch) {
  auto [client, graphs, code, log, length, stream] = *session;
  std::uint64_t graph = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &graph).first, CUDA_SUCCESS);
  auto [result, values] = client.call([&](wire::Call::Builder c) {
    auto a = c.initGraphAddNode();
    a.setGraph(graph);
    auto copy = a.initCopy();
    copy.setDst(length);
    copy.setDstPitch(sizeof(int));
    copy.setDstRows(1);
    copy.setWidth(sizeof(int));
    copy.setHeight(1);
    copy.setDepth(1);
    copy.setFromHost(true);
  });
  ASSERT_EQ(result, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 2u);
  auto staging = static_cast<std::uint64_t>(values[1]);
  auto [instantiated, exec] = graphs.instantiate(graph);
  ASSERT_EQ(instantiated, CUDA_SUCCESS);
  auto stage = [&](std::uint64_t buffer, std::vector<std::uint8_t> bytes) {
    client.call(
        [&](wire::Call::Builder c) {
          auto w = c.initWriteStaged();
          w.setStaging(buffer);
          w.setStream(stream);
          w.setBytes(bytes.size());
        },
        nullptr, bytes);
  };
  for (std::uint8_t value : {7, 9}) {
    stage(staging, {value, 0, 0, 0});
    ASSERT_EQ(graphs.launchAndWait(exec, stream), CUDA_SUCCESS);
    EXPECT_EQ(client.deferred, CUDA_SUCCESS);
    EXPECT_EQ(graphs.readInt(length), value);
  }
  stage(staging, {1, 2});
  graphs.launchAndWait(exec, stream);
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_VALUE) << "staged bytes must fill the buffer";
  stage(log, {1, 2, 3, 4});
  graphs.launchAndWait(exec, stream);
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_HANDLE) << "device memory is not a staging buffer";
}

// Memory allocation nodes charge the vGPU's quota when added, until their graph is gone.
TEST_F(ServerTest, MemoryAllocationNodesCountAgainstTheQuota) {
  RawClient client = startSmallVgpu();
  client.retainPrimary();
  const std::uint64_t before = client.freeMemory();
  std::uint64_t graph = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &graph).first, CUDA_SUCCESS);
  auto allocate = [&](std::uint64_t bytes) {
    return client.call([&](wire::Call::Builder c) {
      auto a = c.initGraphAddNode();
      a.setGraph(graph);
      a.setMemAlloc(bytes);
    }).first;
  };
  ASSERT_EQ(allocate(6ULL << 20), CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before - (6ULL << 20));
  EXPECT_EQ(allocate(4ULL << 20), CUDA_ERROR_OUT_OF_MEMORY) << "8 MiB quota";
  EXPECT_EQ(client.freeMemory(), before - (6ULL << 20)) << "the refused node charged nothing";
  client.call([&](wire::Call::Builder c) { c.setGraphDestroy(graph); });
  EXPECT_EQ(client.freeMemory(), before);
}

}  // namespace
}  // namespace fastgpu::server
