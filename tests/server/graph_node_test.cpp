// Graphs built and changed node by node on the server: node parameters are checked and answered
// in the session's terms, copy nodes stay inside the session's memory and its staging buffers,
// host nodes end their graph, and memory allocation nodes are charged.
#include <cstring>
#include <future>

#include "graph_test_support.h"

namespace fastgpu::server {
namespace {

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

// Graphs built node by node: every id, address and shape is checked before the driver sees it;
// a host node (a host point: its function runs in the client) holds its replay where it stands
// until the client releases it, so device work after it runs after the client's function.
TEST_F(ServerGraphTest, AddedNodesAreCheckedAndAHostNodeHoldsItsReplayUntilReleased) {
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
  auto kernel = [&](wire::GraphNodeAdd::Builder a) { describeAppendNode(a, code.kernels.at("appendValue"), log, length, 3); };
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

  auto [hostAdded, host] = add(graph, {first}, [](auto a) { a.setHost(42); });
  ASSERT_EQ(hostAdded, CUDA_SUCCESS);
  auto [afterAdded, after] = add(graph, {host}, kernel);
  ASSERT_EQ(afterAdded, CUDA_SUCCESS);
  auto [pointed, pointExec] = graphs.instantiate(graph);
  ASSERT_EQ(pointed, CUDA_SUCCESS) << "device work after a host node";
  auto launch = [&](std::uint32_t serial, std::uint64_t exec) {
    return client.call([&](wire::Call::Builder c) {
      auto l = c.initGraphLaunch();
      l.setExec(exec);
      l.setStream(stream);
      l.setHostLaunch(serial);
    });
  };
  auto wait = [&](std::uint32_t serial) {
    return client.call([&](wire::Call::Builder c) {
      auto w = c.initHostPointWait();
      w.setLaunch(serial);
      w.setStream(stream);
    });
  };
  EXPECT_EQ(wait(7).first, CUDA_ERROR_INVALID_VALUE) << "no such launch";
  launch(7, pointExec);
  auto [reached, point] = wait(7);
  ASSERT_EQ(reached, CUDA_SUCCESS);
  ASSERT_EQ(point.size(), 3u);
  EXPECT_EQ(point[0], 0) << "a point reached, not the launch done";
  EXPECT_EQ(point[1], 42) << "the client's number for it";
  // (Device memory is not read here: a copy on the legacy stream would wait for the replay.)
  launch(7, pointExec);  // a serial in use: refused, as a deferred error
  client.call([&](wire::Call::Builder c) { c.setHostPointRelease(point[2] + 1000); });  // forged: refused
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.initStreamQuery().setStream(stream); }).first,
            CUDA_ERROR_NOT_READY)
      << "the replay still waits for the client, so the stream is busy";
  EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_VALUE) << "the second launch and the forged release were refused";
  client.call([&](wire::Call::Builder c) { c.setHostPointRelease(point[2]); });
  auto [ended, done] = wait(7);
  ASSERT_EQ(ended, CUDA_SUCCESS);
  EXPECT_EQ(done, std::vector<std::int64_t>{1}) << "the launch is done";
  EXPECT_EQ(graphs.readInt(length), 2) << "the kernel after the host node ran once released";
  EXPECT_EQ(wait(7).first, CUDA_ERROR_INVALID_VALUE) << "a done launch is forgotten once waited for";
  client.deferred = CUDA_SUCCESS;
  std::uint64_t owner = 0;
  ASSERT_EQ(client.call([&](wire::Call::Builder c) { c.setGraphDestroyNode(after); }, &owner).first, CUDA_SUCCESS);
  EXPECT_EQ(owner, graph);
  auto [instantiated, exec] = graphs.instantiate(graph);
  ASSERT_EQ(instantiated, CUDA_SUCCESS);
  launch(8, exec);
  auto [reachedAgain, again] = wait(8);
  ASSERT_EQ(again.size(), 3u);
  client.call([&](wire::Call::Builder c) { c.setHostPointRelease(again[2]); });
  EXPECT_EQ(wait(8).second, std::vector<std::int64_t>{1});
  EXPECT_EQ(client.deferred, CUDA_SUCCESS);
  EXPECT_EQ(graphs.readInt(length), 3) << "the kernel node ran once more";
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setGraphDestroyNode(after); }).first, CUDA_ERROR_INVALID_VALUE)
      << "already destroyed";
}

// A replay held at a host point waits for its client, not the GPU: another vGPU's work on the
// same GPU goes meanwhile, however long the client takes (a piece on the GPU would keep it out).
TEST_F(ServerTest, AReplayHeldAtAHostPointKeepsNoOtherVgpuOffTheGpu) {
  startTwoVgpus();
  RawClient holder(url, "a", "ta");
  holder.retainPrimary();
  Graphs graphs{holder};
  std::uint64_t stream = graphs.stream();
  std::vector<std::int64_t> point = graphs.launchHeldAtAHostPoint(stream);
  ASSERT_EQ(point.size(), 3u) << "the replay is held at the point";

  RawClient other(url, "b", "tb");
  other.retainPrimary();
  std::uint64_t base = other.allocate(4096);
  ASSERT_NE(base, 0u);
  auto read = std::async(std::launch::async, [&] { return other.read(base, 4096).first; });
  EXPECT_EQ(read.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the other vGPU's copy waited for the held replay";
  holder.call([&](wire::Call::Builder c) { c.setHostPointRelease(point[2]); });
  EXPECT_EQ(graphs.waitForHostPoint(stream, 1).second, std::vector<std::int64_t>{1});
  EXPECT_EQ(read.get(), CUDA_SUCCESS);
}

// A client that goes while a replay of its graph is held at a host point, and its session's
// thread waits for that replay: the session ends (its held replay let go once the server sees
// the client gone) and its memory is freed, as for any client that dies.
TEST_F(ServerTest, AClientGoneWhileItsReplayIsHeldAtAHostPointGetsItsMemoryFreed) {
  RawClient observer(url);
  observer.retainPrimary();
  const std::uint64_t freeBefore = observer.freeMemory();
  {
    RawClient dying(url);
    dying.retainPrimary();
    ASSERT_NE(dying.allocate(64 * kMiB), 0u);
    Graphs graphs{dying};
    std::uint64_t stream = graphs.stream();
    ASSERT_EQ(graphs.launchHeldAtAHostPoint(stream).size(), 3u) << "the replay is held at the point";
    // A synchronize that waits for the held replay, sent without waiting for its reply: the
    // session's thread is held too when the client goes.
    capnp::MallocMessageBuilder message;
    message.initRoot<wire::Call>().initStreamSynchronize().setStream(stream);
    std::vector<std::uint8_t> frame;
    protocol::appendMessage(message, frame);
    ASSERT_TRUE(dying.connection().send(frame));
  }  // the connection closes here, the point never released
  EXPECT_TRUE(eventually([&] { return observer.freeMemory() == freeBefore; }))
      << "the gone client's 64 MiB were not freed within 5 seconds";
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

// The graph a child graph node holds, borrowed (cuGraphChildGraphNodeGetGraph): one id however
// often it is asked, readable like any graph, never changed, cloned or instantiated, and gone
// with its node or with the graph holding the node (the driver frees it then).
// A kernel node's attributes: ids and values checked, an access policy window only over the
// session's memory, forged nodes refused, a device-updatable node not offered.
TEST_F(ServerGraphTest, KernelNodeAttributesAreCheckedAndAWindowMustBeTheSessionsOwnMemory) {
  auto [client, graphs, code, log, length, stream] = *session;
  std::uint64_t graph = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &graph).first, CUDA_SUCCESS);
  auto [added, values] = client.call([&](wire::Call::Builder c) {
    auto a = c.initGraphAddNode();
    a.setGraph(graph);
    describeAppendNode(a, code.kernels.at("appendValue"), log, length, 3);
  });
  ASSERT_EQ(added, CUDA_SUCCESS);
  const auto node = static_cast<std::uint64_t>(values.at(0));
  auto set = [&](std::uint64_t target, CUlaunchAttributeID id, const CUkernelNodeAttrValue& value) {
    return client
        .call([&](wire::Call::Builder c) {
          auto request = c.initGraphKernelSetAttribute();
          request.setNode(target);
          auto attribute = request.initAttribute();
          attribute.setId(id);
          attribute.setValue(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(&value), sizeof(value)));
        })
        .first;
  };
  CUkernelNodeAttrValue window{};
  window.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(log);
  window.accessPolicyWindow.num_bytes = 64;
  window.accessPolicyWindow.hitRatio = 1.0f;
  EXPECT_EQ(set(node, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, window), CUDA_SUCCESS);
  window.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(0x7f0000000000ULL);
  EXPECT_EQ(set(node, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, window), CUDA_ERROR_INVALID_VALUE)
      << "a window over memory that is not the session's";
  CUkernelNodeAttrValue none{};
  EXPECT_EQ(set(node, CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE, none), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(set(node, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT, none), CUDA_ERROR_INVALID_VALUE) << "a launch's only";
  EXPECT_EQ(set(0x1234, CU_LAUNCH_ATTRIBUTE_PRIORITY, none), CUDA_ERROR_INVALID_VALUE) << "a forged node";
  auto [read, bytes] = client.callForData([&](wire::Call::Builder c) {
    auto request = c.initGraphKernelGetAttribute();
    request.setNode(node);
    request.initAttribute().setId(CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW);
  });
  ASSERT_EQ(read, CUDA_SUCCESS);
  ASSERT_EQ(bytes.size(), sizeof(CUkernelNodeAttrValue));
  CUkernelNodeAttrValue kept{};
  std::memcpy(&kept, bytes.data(), sizeof(kept));
  EXPECT_EQ(kept.accessPolicyWindow.base_ptr, reinterpret_cast<void*>(log)) << "the refused window changed nothing";
  EXPECT_EQ(client.call([&](wire::Call::Builder c) {
                  auto pair = c.initGraphKernelCopyAttributes();
                  pair.setDestination(0x1234);
                  pair.setSource(node);
                }).first,
            CUDA_ERROR_INVALID_VALUE);
}

TEST_F(ServerGraphTest, AChildGraphBorrowedFromItsNodeIsOnlyReadAndGoesWithItsHolder) {
  auto [client, graphs, code, log, length, stream] = *session;
  auto create = [&] {
    std::uint64_t graph = 0;
    EXPECT_EQ(client.call([](wire::Call::Builder c) { c.setGraphCreate(0); }, &graph).first, CUDA_SUCCESS);
    return graph;
  };
  auto addTo = [&](std::uint64_t graph, auto&& describe) {
    auto [result, values] = client.call([&](wire::Call::Builder c) {
      auto a = c.initGraphAddNode();
      a.setGraph(graph);
      describe(a);
    });
    return std::pair{result, values.empty() ? std::uint64_t{0} : static_cast<std::uint64_t>(values[0])};
  };
  auto memset = [&](wire::GraphNodeAdd::Builder a) {
    auto m = a.initMemset();
    m.setDst(length);
    m.setElementBytes(4);
    m.setWidth(1);
    m.setHeight(1);
    m.setValue(5);
  };
  std::uint64_t child = create(), parent = create();
  auto [madeSet, set] = addTo(child, memset);
  ASSERT_EQ(madeSet, CUDA_SUCCESS);
  auto nest = [&] {
    auto [made, node] = addTo(parent, [&](wire::GraphNodeAdd::Builder a) { a.setChildGraph(child); });
    EXPECT_EQ(made, CUDA_SUCCESS);
    return node;
  };
  auto borrow = [&](std::uint64_t node) {
    return client.call([&](wire::Call::Builder c) { c.setGraphChildGraph(node); });
  };
  auto count = [&](std::uint64_t graph) {
    return client.call([&](wire::Call::Builder c) { c.setGraphNodeCount(graph); });
  };
  std::uint64_t nested = nest();
  auto [borrowed, ids] = borrow(nested);
  ASSERT_EQ(borrowed, CUDA_SUCCESS);
  ASSERT_EQ(ids.size(), 2u);
  auto held = static_cast<std::uint64_t>(ids[0]);
  EXPECT_EQ(static_cast<std::uint64_t>(ids[1]), parent) << "the graph holding the node";
  EXPECT_NE(held, child) << "the node holds a copy";
  EXPECT_EQ(borrow(nested).second, ids) << "one id for one graph";
  EXPECT_EQ(borrow(set).first, CUDA_ERROR_INVALID_VALUE) << "not a child graph node";
  EXPECT_EQ(borrow(0x1234).first, CUDA_ERROR_INVALID_VALUE) << "a forged node";

  // Read like any graph.
  EXPECT_EQ(count(held), (std::pair{CUDA_SUCCESS, std::vector<std::int64_t>{1}}));
  auto [listed, nodes] = client.call([&](wire::Call::Builder c) {
    auto q = c.initGraphQuery();
    q.setSubject(held);
    q.setWhat(wire::GraphQuery::What::NODES);
  });
  ASSERT_EQ(listed, CUDA_SUCCESS);
  ASSERT_EQ(nodes.size(), 1u);
  auto inside = static_cast<std::uint64_t>(nodes[0]);
  using Kind = wire::GraphNodeParams::Kind;
  auto params = [&](bool change) {
    return client.call([&](wire::Call::Builder c) {
      auto p = c.initGraphNodeParams();
      p.setNode(inside);
      p.setKind(Kind::MEMSET);
      p.setSet(change);
      if (change) memset(p.initValue());
    });
  };
  auto [read, values] = params(false);
  ASSERT_EQ(read, CUDA_SUCCESS);
  EXPECT_EQ(values.at(2), 5);

  // Never changed, cloned or instantiated: the client keeps no record of it.
  EXPECT_EQ(addTo(held, memset).first, CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(params(true).first, CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setGraphDestroyNode(inside); }).first, CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setGraphClone(held); }).first, CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.initGraphInstantiate().setGraph(held); }).first,
            CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(client.call([&](wire::Call::Builder c) {
    auto e = c.initGraphEdges();
    e.setGraph(held);
  }).first, CUDA_ERROR_NOT_SUPPORTED);

  // Gone with its node: the id, and the ids of its nodes.
  ASSERT_EQ(client.call([&](wire::Call::Builder c) { c.setGraphDestroyNode(nested); }).first, CUDA_SUCCESS);
  EXPECT_EQ(count(held).first, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(params(false).first, CUDA_ERROR_INVALID_VALUE) << "its node's id went with it";

  // Gone with the graph holding its node.
  auto [again, heldAgain] = borrow(nest());
  ASSERT_EQ(again, CUDA_SUCCESS);
  EXPECT_NE(static_cast<std::uint64_t>(heldAgain.at(0)), held) << "ids are never reused";
  client.call([&](wire::Call::Builder c) { c.setGraphDestroy(parent); });
  EXPECT_EQ(count(static_cast<std::uint64_t>(heldAgain.at(0))).first, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(count(child), (std::pair{CUDA_SUCCESS, std::vector<std::int64_t>{1}})) << "the child itself stays";
  client.call([&](wire::Call::Builder c) { c.setGraphDestroy(child); });
}

}  // namespace
}  // namespace fastgpu::server
