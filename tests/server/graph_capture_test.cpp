// Stream capture on the server: captured work does not run and passes no gate, work that would
// move through the server's memory is refused on a capturing stream (whatever a client sends),
// replays run the captured work, graph memory is charged, and forged or wrong-kind graph ids are
// refused.
#include "graph_test_support.h"

namespace fastgpu::server {
namespace {

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

TEST_F(ServerGraphTest, ACapturedBandOfRowsMustFitItsPitchAndItsAllocation) {
  auto [client, graphs, code, log, length, stream] = *session;
  // `log` holds 256 bytes: rows of `width`, `pitch` apart, `bytes` in all.
  auto captureBand = [&, log = log, stream = stream](bool toHost, std::uint64_t bytes, std::uint64_t pitch,
                                                     std::uint64_t width) {
    std::uint64_t staging = 0;
    return client
        .call(
            [&](wire::Call::Builder c) {
              if (toHost) {
                auto copy = c.initCaptureToHost();
                copy.setSrc(log);
                copy.setBytes(bytes);
                copy.setPitch(pitch);
                copy.setWidth(width);
                copy.setStream(stream);
              } else {
                auto copy = c.initCaptureFromHost();
                copy.setDst(log);
                copy.setBytes(bytes);
                copy.setPitch(pitch);
                copy.setWidth(width);
                copy.setStream(stream);
              }
            },
            &staging)
        .first;
  };
  ASSERT_EQ(graphs.begin(stream), CUDA_SUCCESS);
  for (bool toHost : {true, false}) {
    EXPECT_EQ(captureBand(toHost, 64, 16, 32), CUDA_ERROR_INVALID_VALUE) << "rows wider than their pitch";
    EXPECT_EQ(captureBand(toHost, 60, 64, 16), CUDA_ERROR_INVALID_VALUE) << "bytes that are not whole rows";
    EXPECT_EQ(captureBand(toHost, 80, 64, 16), CUDA_ERROR_INVALID_VALUE) << "the fifth row is past the allocation";
    EXPECT_EQ(captureBand(toHost, 32, ~0ULL / 2, 16), CUDA_ERROR_INVALID_VALUE) << "a pitch that overflows";
    EXPECT_EQ(captureBand(toHost, 64, 64, 16), CUDA_SUCCESS) << "four rows: 3 x 64 + 16 bytes fit";
  }
  auto [ended, graph] = graphs.end(stream);
  ASSERT_EQ(ended, CUDA_SUCCESS);
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
  client.call([&](wire::Call::Builder c) {
    auto point = c.initCaptureHostNode();
    point.setStream(stream);
    point.setPoint(5);
  });
  auto [ended, graph] = graphs.end(stream);
  ASSERT_EQ(ended, CUDA_SUCCESS);
  auto [instantiated, values] = client.call([&](wire::Call::Builder c) { c.initGraphInstantiate().setGraph(graph); });
  ASSERT_EQ(instantiated, CUDA_SUCCESS);
  ASSERT_EQ(values.size(), 3u);
  std::uint64_t exec = values[0];
  EXPECT_EQ(values[1], 5) << "the host point";
  EXPECT_EQ(static_cast<std::uint64_t>(values[2]), staging) << "the copy to the host that precedes it";
  auto readStaged = [&](std::uint64_t id, std::vector<std::uint8_t>& back, bool wait = true) {
    return client
        .call(
            [&](wire::Call::Builder c) {
              auto read = c.initReadStaged();
              read.setStaging(id);
              read.setStream(stream);
              read.setWait(wait);
            },
            nullptr, {}, &back)
        .first;
  };
  auto awaitPoint = [&](std::uint32_t launch) {
    return client.call([&](wire::Call::Builder c) {
      auto w = c.initHostPointWait();
      w.setLaunch(launch);
      w.setStream(stream);
    });
  };
  // The executable holds the buffer: destroying the graph leaves it.
  client.call([&](wire::Call::Builder c) { c.setGraphDestroy(graph); });
  for (int replay = 1; replay <= 2; ++replay) {
    client.call([&](wire::Call::Builder c) {
      auto l = c.initGraphLaunch();
      l.setExec(exec);
      l.setStream(stream);
      l.setHostLaunch(replay);
    });
    // The replay holds at the host point; the copy before it is done, so it reads without waiting.
    auto [reached, point] = awaitPoint(replay);
    ASSERT_EQ(reached, CUDA_SUCCESS);
    ASSERT_EQ(point.size(), 3u);
    EXPECT_EQ(point[1], 5);
    std::vector<std::uint8_t> back;
    ASSERT_EQ(readStaged(staging, back, false), CUDA_SUCCESS);
    ASSERT_EQ(back.size(), sizeof(int));
    int copied = 0;
    std::memcpy(&copied, back.data(), sizeof(int));
    EXPECT_EQ(copied, replay);
    client.call([&](wire::Call::Builder c) { c.setHostPointRelease(point[2]); });
    EXPECT_EQ(awaitPoint(replay).second, std::vector<std::int64_t>{1}) << "the launch is done";
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

// Forged ids, ids of another kind and capture modes that do not exist are refused; a posted
// launch's refusal comes back as the next reply's deferred error.
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

}  // namespace
}  // namespace fastgpu::server

namespace fastgpu::server {
namespace {

// Each client thread's per-thread default stream is a stream of its own on the server (all of a
// process's calls run on one worker thread): two threads capture theirs at once. Past the bound
// of such streams, threads share the driver's.
TEST_F(ServerTest, EachClientThreadHasItsOwnPerThreadDefaultStreamUpToABound) {
  RawClient client(url);
  client.retainPrimary();
  auto begin = [&](std::uint32_t thread) {
    return client
        .call([&](wire::Call::Builder c) {
          c.setThread(thread);
          auto b = c.initStreamBeginCapture();
          b.setPerThread(true);
          b.setMode(CU_STREAM_CAPTURE_MODE_RELAXED);
        })
        .first;
  };
  auto query = [&](std::uint32_t thread) {
    return client
        .call([&](wire::Call::Builder c) {
          c.setThread(thread);
          c.initStreamQuery().setPerThread(true);
        })
        .first;
  };
  EXPECT_EQ(begin(1), CUDA_SUCCESS);
  EXPECT_EQ(begin(2), CUDA_SUCCESS) << "another thread's stream";
  EXPECT_EQ(begin(1), CUDA_ERROR_ILLEGAL_STATE) << "the same thread's stream, capturing already";
  // Threads 3 .. 256 take the rest of the bound; later threads share the driver's stream.
  for (std::uint32_t thread = 3; thread <= 256; ++thread) ASSERT_EQ(query(thread), CUDA_SUCCESS);
  EXPECT_EQ(begin(1000), CUDA_SUCCESS);
  EXPECT_EQ(begin(1001), CUDA_ERROR_ILLEGAL_STATE) << "past the bound, one stream for the threads left";
}

}  // namespace
}  // namespace fastgpu::server
