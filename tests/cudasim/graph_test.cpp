// cudasim's stream capture and graphs: captured work does not run until the graph is launched,
// replays run every node in dependency order (copies to the host and host nodes included),
// fork/join across streams, the operations that invalidate a capture, explicitly built graphs
// with their queries, parameter updates of nodes and of executables, and whole-graph update.
#include <chrono>
#include <cstdio>
#include <future>
#include <fstream>
#include <sstream>

#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

class SimGraph : public SimTest {
 protected:
  void SetUp() override {
    SimTest::SetUp();
    module = loadTestModule();
    appendValue = function(module, "appendValue");
    ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(d.cuStreamCreate(&side, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(d.cuMemAlloc_v2(&log, 64 * sizeof(int)));
    ASSERT_CU(d.cuMemAlloc_v2(&length, sizeof(int)));
    ASSERT_CU(d.cuMemsetD32_v2(length, 0, 1));
  }
  void TearDown() override {
    d.cuMemFree_v2(log);
    d.cuMemFree_v2(length);
    d.cuStreamDestroy_v2(stream);
    d.cuStreamDestroy_v2(side);
    d.cuModuleUnload(module);
    SimTest::TearDown();
  }

  CUstreamCaptureStatus status(CUstream s) {
    CUstreamCaptureStatus result = CU_STREAM_CAPTURE_STATUS_NONE;
    EXPECT_CU(d.cuStreamIsCapturing(s, &result));
    return result;
  }

  // A host node's function: appends `*static_cast<int*>(value)` to hostLog.
  static void recordOnHost(void* value) { hostLog.push_back(*static_cast<int*>(value)); }
  static inline std::vector<int> hostLog;

  // A kernel node's parameters: appendValue(params...) as one thread.
  CUDA_KERNEL_NODE_PARAMS appendNode(void** params) const {
    CUDA_KERNEL_NODE_PARAMS kernel{};
    kernel.func = appendValue;
    kernel.gridDimX = kernel.gridDimY = kernel.gridDimZ = 1;
    kernel.blockDimX = kernel.blockDimY = kernel.blockDimZ = 1;
    kernel.kernelParams = params;
    return kernel;
  }

  CUmodule module = nullptr;
  CUfunction appendValue = nullptr;
  CUstream stream = nullptr, side = nullptr;
  CUdeviceptr log = 0, length = 0;
};

TEST_F(SimGraph, CapturedWorkRunsOnlyWhenTheGraphIsLaunchedAndEveryReplayRunsAllOfIt) {
  hostLog.clear();
  int seen = -1;
  int marker = 42;
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_EQ(status(stream), CU_STREAM_CAPTURE_STATUS_ACTIVE);
  append(appendValue, log, length, 7, stream);
  append(appendValue, log, length, 8, stream);
  ASSERT_CU(d.cuMemcpyDtoHAsync_v2(&seen, length, sizeof(int), stream));
  ASSERT_CU(d.cuLaunchHostFunc(stream, recordOnHost, &marker));
  CUgraph graph = nullptr;
  ASSERT_CU(d.cuStreamEndCapture(stream, &graph));
  EXPECT_EQ(status(stream), CU_STREAM_CAPTURE_STATUS_NONE);
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_TRUE(readLog(log, length).empty()) << "nothing runs during a capture";
  EXPECT_EQ(seen, -1);
  EXPECT_TRUE(hostLog.empty());

  std::size_t count = 0;
  ASSERT_CU(d.cuGraphGetNodes(graph, nullptr, &count));
  EXPECT_EQ(count, 4u);
  CUgraphExec exec = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, graph, 0));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(readLog(log, length), (std::vector<int>{7, 8, 7, 8}));
  EXPECT_EQ(seen, 4) << "the replayed device-to-host copy ran after both kernels, each time";
  EXPECT_EQ(hostLog, (std::vector<int>{42, 42}));
  EXPECT_CU(d.cuGraphExecDestroy(exec));
  EXPECT_CU(d.cuGraphDestroy(graph));
  EXPECT_EQ(d.cuGraphDestroy(graph), CUDA_ERROR_INVALID_VALUE);
}

// An executable's user-object references outlive its destruction until its launches are done:
// a destructor may free what the replay still uses. The replay below waits in a host node for a
// gate the test opens only after destroying the executable.
TEST_F(SimGraph, AnExecutablesUserObjectReferencesGoOnlyOnceItsLaunchesAreDone) {
  std::promise<void> gate, destroyed;
  auto waitAtGate = [](void* promised) { static_cast<std::promise<void>*>(promised)->get_future().wait(); };
  CUuserObject object = nullptr;
  ASSERT_CU(d.cuUserObjectCreate(
      &object, &destroyed, [](void* promised) { static_cast<std::promise<void>*>(promised)->set_value(); }, 1,
      CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  auto destroyedFuture = destroyed.get_future();
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(d.cuLaunchHostFunc(stream, waitAtGate, &gate));
  CUgraph graph = nullptr;
  ASSERT_CU(d.cuStreamEndCapture(stream, &graph));
  ASSERT_CU(d.cuGraphRetainUserObject(graph, object, 1, CU_GRAPH_USER_OBJECT_MOVE));
  CUgraphExec exec = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, graph, 0));
  ASSERT_CU(d.cuGraphDestroy(graph));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuGraphExecDestroy(exec));
  // The replay cannot have finished: the gate is closed.
  EXPECT_EQ(destroyedFuture.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  gate.set_value();
  EXPECT_EQ(destroyedFuture.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(d.cuUserObjectRelease(object, 1), CUDA_ERROR_INVALID_VALUE) << "the object is gone";
}

TEST_F(SimGraph, ForkedStreamsJoinThroughEventsAndTheGraphHasTheirDependencies) {
  CUevent fork = nullptr, join = nullptr;
  ASSERT_CU(d.cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(d.cuEventCreate(&join, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
  append(appendValue, log, length, 1, stream);
  ASSERT_CU(d.cuEventRecord(fork, stream));
  ASSERT_CU(d.cuStreamWaitEvent(side, fork, 0));
  EXPECT_EQ(status(side), CU_STREAM_CAPTURE_STATUS_ACTIVE) << "waiting for a captured event joins the capture";
  append(appendValue, log, length, 2, side);
  append(appendValue, log, length, 3, stream);
  ASSERT_CU(d.cuEventRecord(join, side));
  ASSERT_CU(d.cuStreamWaitEvent(stream, join, 0));
  append(appendValue, log, length, 4, stream);

  CUstreamCaptureStatus state;
  cuuint64_t id = 0;
  CUgraph capturing = nullptr;
  const CUgraphNode* frontier = nullptr;
  std::size_t frontierSize = 0;
  ASSERT_CU(d.cuStreamGetCaptureInfo_v2(stream, &state, &id, &capturing, &frontier, &frontierSize));
  EXPECT_EQ(state, CU_STREAM_CAPTURE_STATUS_ACTIVE);
  EXPECT_NE(id, 0u);
  ASSERT_EQ(frontierSize, 1u);
  CUgraphNodeType type;
  ASSERT_CU(d.cuGraphNodeGetType(frontier[0], &type));
  EXPECT_EQ(type, CU_GRAPH_NODE_TYPE_KERNEL);

  CUgraph graph = nullptr;
  ASSERT_CU(d.cuStreamEndCapture(stream, &graph));
  EXPECT_EQ(graph, capturing);
  EXPECT_EQ(status(side), CU_STREAM_CAPTURE_STATUS_NONE) << "ending the capture ends it on the joined stream";
  std::size_t edges = 0, roots = 0;
  ASSERT_CU(d.cuGraphGetEdges(graph, nullptr, nullptr, &edges));
  ASSERT_CU(d.cuGraphGetRootNodes(graph, nullptr, &roots));
  EXPECT_EQ(edges, 4u);  // 1->2, 1->3, 2->4, 3->4
  EXPECT_EQ(roots, 1u);
  CUgraphExec exec = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, graph, 0));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  auto values = readLog(log, length);
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(values.front(), 1);
  EXPECT_EQ(values.back(), 4);
  d.cuGraphExecDestroy(exec);
  d.cuGraphDestroy(graph);
  d.cuEventDestroy_v2(fork);
  d.cuEventDestroy_v2(join);
}

TEST_F(SimGraph, AForkThatIsNotJoinedBackFailsTheCapture) {
  CUevent fork = nullptr;
  ASSERT_CU(d.cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(d.cuEventRecord(fork, stream));
  ASSERT_CU(d.cuStreamWaitEvent(side, fork, 0));
  append(appendValue, log, length, 2, side);
  CUgraph graph = reinterpret_cast<CUgraph>(1);
  EXPECT_EQ(d.cuStreamEndCapture(stream, &graph), CUDA_ERROR_STREAM_CAPTURE_UNJOINED);
  EXPECT_EQ(graph, nullptr);
  EXPECT_EQ(status(side), CU_STREAM_CAPTURE_STATUS_NONE);
  d.cuEventDestroy_v2(fork);
}

TEST_F(SimGraph, SynchronizingACapturingStreamFailsAndInvalidatesTheCapture) {
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_RELAXED));
  append(appendValue, log, length, 1, stream);
  EXPECT_EQ(d.cuStreamSynchronize(stream), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  EXPECT_EQ(status(stream), CU_STREAM_CAPTURE_STATUS_INVALIDATED);
  void* params[] = {&log, &length, &log};
  EXPECT_EQ(d.cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr),
            CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  CUgraph graph = nullptr;
  EXPECT_EQ(d.cuStreamEndCapture(stream, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  EXPECT_EQ(graph, nullptr);
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_TRUE(readLog(log, length).empty());
}

TEST_F(SimGraph, UnsafeCallsAreRefusedUnderGlobalCaptureAndAllowedWhenTheThreadIsRelaxed) {
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
  ASSERT_CU(d.cuThreadExchangeStreamCaptureMode(&mode));
  CUdeviceptr scratch = 0;
  EXPECT_CU(d.cuMemAlloc_v2(&scratch, 256)) << "a relaxed thread may allocate (PyTorch does this)";
  EXPECT_CU(d.cuMemFree_v2(scratch));
  ASSERT_CU(d.cuThreadExchangeStreamCaptureMode(&mode));
  EXPECT_EQ(mode, CU_STREAM_CAPTURE_MODE_RELAXED);
  EXPECT_EQ(status(stream), CU_STREAM_CAPTURE_STATUS_ACTIVE);
  EXPECT_EQ(d.cuMemAlloc_v2(&scratch, 256), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  EXPECT_EQ(status(stream), CU_STREAM_CAPTURE_STATUS_INVALIDATED);
  CUgraph graph = nullptr;
  EXPECT_EQ(d.cuStreamEndCapture(stream, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
}

TEST_F(SimGraph, TheLegacyStreamCannotBeCapturedNorUsedWhileABlockingStreamCaptures) {
  EXPECT_EQ(d.cuStreamBeginCapture_v2(nullptr, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  CUstream blocking = nullptr;
  ASSERT_CU(d.cuStreamCreate(&blocking, 0));
  ASSERT_CU(d.cuStreamBeginCapture_v2(blocking, CU_STREAM_CAPTURE_MODE_RELAXED));
  EXPECT_EQ(d.cuMemsetD32Async(length, 1, 1, nullptr), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  CUgraph graph = nullptr;
  EXPECT_EQ(d.cuStreamEndCapture(blocking, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  EXPECT_EQ(d.cuStreamBeginCapture_v2(stream, static_cast<CUstreamCaptureMode>(7)), CUDA_ERROR_INVALID_VALUE);
  d.cuStreamDestroy_v2(blocking);
}

TEST_F(SimGraph, AnExplicitGraphRunsInDependencyOrderAndItsNodesCanBeReadAndChanged) {
  CUgraph graph = nullptr;
  ASSERT_CU(d.cuGraphCreate(&graph, 0));
  CUDA_MEMSET_NODE_PARAMS reset{length, sizeof(int), 0, 4, 1, 1};
  CUgraphNode memset = nullptr, first = nullptr, second = nullptr, empty = nullptr;
  ASSERT_CU(d.cuGraphAddMemsetNode(&memset, graph, nullptr, 0, &reset, context));
  int value = 5;
  void* params[] = {&log, &length, &value};
  CUDA_KERNEL_NODE_PARAMS kernel = appendNode(params);
  ASSERT_CU(d.cuGraphAddKernelNode_v2(&first, graph, &memset, 1, &kernel));
  value = 6;  // the node copied its arguments when it was added
  ASSERT_CU(d.cuGraphAddKernelNode_v2(&second, graph, &first, 1, &kernel));
  ASSERT_CU(d.cuGraphAddEmptyNode(&empty, graph, &second, 1));
  CUgraphNode twice[] = {first, first};
  CUgraphNode refused = nullptr;
  EXPECT_EQ(d.cuGraphAddEmptyNode(&refused, graph, twice, 2), CUDA_ERROR_INVALID_VALUE) << "a repeated dependency";
  EXPECT_EQ(d.cuGraphAddEmptyNode(&refused, graph, reinterpret_cast<CUgraphNode*>(&log), 1), CUDA_ERROR_INVALID_VALUE)
      << "a forged node";

  CUDA_KERNEL_NODE_PARAMS read{};
  ASSERT_CU(d.cuGraphKernelNodeGetParams_v2(second, &read));
  EXPECT_EQ(read.func, appendValue);
  EXPECT_EQ(*static_cast<int*>(read.kernelParams[2]), 6);
  CUgraphNode dependency = nullptr;
  std::size_t count = 1;
  ASSERT_CU(d.cuGraphNodeGetDependencies(second, &dependency, &count));
  EXPECT_EQ(dependency, first);

  CUgraphExec exec = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, graph, 0));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(readLog(log, length), (std::vector<int>{5, 6}));

  // Change the executable only: the graph keeps its parameters.
  value = 9;
  ASSERT_CU(d.cuGraphExecKernelNodeSetParams_v2(exec, first, &kernel));
  unsigned enabled = 1;
  ASSERT_CU(d.cuGraphNodeSetEnabled(exec, second, 0));
  ASSERT_CU(d.cuGraphNodeGetEnabled(exec, second, &enabled));
  EXPECT_EQ(enabled, 0u);
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(readLog(log, length), (std::vector<int>{9}));
  ASSERT_CU(d.cuGraphKernelNodeGetParams_v2(first, &read));
  EXPECT_EQ(*static_cast<int*>(read.kernelParams[2]), 5);

  // A cycle cannot be instantiated.
  CUgraphExec cyclic = nullptr;
  ASSERT_CU(d.cuGraphAddDependencies(graph, &empty, &memset, 1));
  CUDA_GRAPH_INSTANTIATE_PARAMS instantiate{};
  EXPECT_EQ(d.cuGraphInstantiateWithParams(&cyclic, graph, &instantiate), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(instantiate.result_out, CUDA_GRAPH_INSTANTIATE_INVALID_STRUCTURE);
  ASSERT_CU(d.cuGraphRemoveDependencies(graph, &empty, &memset, 1));
  d.cuGraphExecDestroy(exec);
  d.cuGraphDestroy(graph);
}

// A kernel node's attributes: checked, kept through a change of parameters and a clone, copied,
// and taken from cuLaunchKernelEx when the launch is captured.
TEST_F(SimGraph, KernelNodeAttributesAreCheckedKeptAndCapturedFromTheLaunch) {
  CUgraph graph = nullptr;
  ASSERT_CU(d.cuGraphCreate(&graph, 0));
  int value = 5;
  void* params[] = {&log, &length, &value};
  CUDA_KERNEL_NODE_PARAMS kernel = appendNode(params);
  CUgraphNode node = nullptr, other = nullptr, empty = nullptr;
  ASSERT_CU(d.cuGraphAddKernelNode_v2(&node, graph, nullptr, 0, &kernel));
  ASSERT_CU(d.cuGraphAddKernelNode_v2(&other, graph, nullptr, 0, &kernel));
  ASSERT_CU(d.cuGraphAddEmptyNode(&empty, graph, nullptr, 0));
  CUkernelNodeAttrValue read{};
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(node, CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP, &read));
  EXPECT_EQ(read.memSyncDomainMap.remote, 1) << "the default map";

  CUkernelNodeAttrValue set{};
  set.priority = -9;
  ASSERT_CU(d.cuGraphKernelNodeSetAttribute(node, CU_LAUNCH_ATTRIBUTE_PRIORITY, &set));
  set = {};
  set.clusterDim = {2, 1, 1};
  ASSERT_CU(d.cuGraphKernelNodeSetAttribute(node, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, &set));
  set.clusterDim = {17, 1, 1};
  EXPECT_EQ(d.cuGraphKernelNodeSetAttribute(node, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, &set), CUDA_ERROR_INVALID_VALUE);
  set = {};
  EXPECT_EQ(d.cuGraphKernelNodeSetAttribute(node, CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY, &set),
            CUDA_ERROR_INVALID_VALUE)
      << "a stream's attribute";
  EXPECT_EQ(d.cuGraphKernelNodeSetAttribute(node, CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE, &set),
            CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(d.cuGraphKernelNodeSetAttribute(empty, CU_LAUNCH_ATTRIBUTE_PRIORITY, &set), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuGraphKernelNodeGetAttribute(node, CU_LAUNCH_ATTRIBUTE_PRIORITY, nullptr), CUDA_ERROR_INVALID_VALUE);

  value = 6;
  ASSERT_CU(d.cuGraphKernelNodeSetParams_v2(node, &kernel));
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(node, CU_LAUNCH_ATTRIBUTE_PRIORITY, &read));
  EXPECT_EQ(read.priority, -5) << "clamped, and kept when the parameters change";
  CUgraph clone = nullptr;
  CUgraphNode cloned = nullptr;
  ASSERT_CU(d.cuGraphClone(&clone, graph));
  ASSERT_CU(d.cuGraphNodeFindInClone(&cloned, node, clone));
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(cloned, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, &read));
  EXPECT_EQ(read.clusterDim.x, 2u);
  ASSERT_CU(d.cuGraphKernelNodeCopyAttributes(other, node));
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(other, CU_LAUNCH_ATTRIBUTE_PRIORITY, &read));
  EXPECT_EQ(read.priority, -5);
  EXPECT_EQ(d.cuGraphKernelNodeCopyAttributes(empty, node), CUDA_ERROR_INVALID_VALUE);

  // Captured from cuLaunchKernelEx: the node carries the launch's node attributes.
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUlaunchAttribute attributes[2]{};
  attributes[0].id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
  attributes[0].value.priority = -2;
  attributes[1].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
  attributes[1].value.cooperative = 1;
  CUlaunchConfig config{};
  config.gridDimX = config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = config.blockDimY = config.blockDimZ = 1;
  config.hStream = stream;
  config.attrs = attributes;
  config.numAttrs = 2;
  ASSERT_CU(d.cuLaunchKernelEx(&config, appendValue, params, nullptr));
  CUgraph captured = nullptr;
  ASSERT_CU(d.cuStreamEndCapture(stream, &captured));
  CUgraphNode launched = nullptr;
  size_t count = 1;
  ASSERT_CU(d.cuGraphGetNodes(captured, &launched, &count));
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(launched, CU_LAUNCH_ATTRIBUTE_PRIORITY, &read));
  EXPECT_EQ(read.priority, -2);
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(launched, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, &read));
  EXPECT_EQ(read.cooperative, 1);

  // A plain launch's node inherits its stream's priority and attributes; cuLaunchKernelEx's own
  // attributes win over them.
  CUstream prioritized = nullptr;
  ASSERT_CU(d.cuStreamCreateWithPriority(&prioritized, CU_STREAM_NON_BLOCKING, -3));
  CUstreamAttrValue window{};
  window.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(log);
  window.accessPolicyWindow.num_bytes = 256;
  window.accessPolicyWindow.hitRatio = 0.5f;
  window.accessPolicyWindow.hitProp = CU_ACCESS_PROPERTY_PERSISTING;
  window.accessPolicyWindow.missProp = CU_ACCESS_PROPERTY_STREAMING;
  ASSERT_CU(d.cuStreamSetAttribute(prioritized, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, &window));
  ASSERT_CU(d.cuStreamBeginCapture_v2(prioritized, CU_STREAM_CAPTURE_MODE_GLOBAL));
  append(appendValue, log, length, 7, prioritized);
  config.hStream = prioritized;
  config.numAttrs = 1;  // the priority -2
  ASSERT_CU(d.cuLaunchKernelEx(&config, appendValue, params, nullptr));
  CUgraph inherited = nullptr;
  ASSERT_CU(d.cuStreamEndCapture(prioritized, &inherited));
  CUgraphNode nodes[2] = {};
  count = 2;
  ASSERT_CU(d.cuGraphGetNodes(inherited, nodes, &count));
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(nodes[0], CU_LAUNCH_ATTRIBUTE_PRIORITY, &read));
  EXPECT_EQ(read.priority, -3) << "the stream's";
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(nodes[0], CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, &read));
  EXPECT_EQ(read.accessPolicyWindow.num_bytes, 256u);
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(nodes[1], CU_LAUNCH_ATTRIBUTE_PRIORITY, &read));
  EXPECT_EQ(read.priority, -2) << "the launch's own";
  ASSERT_CU(d.cuGraphKernelNodeGetAttribute(nodes[1], CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, &read));
  EXPECT_EQ(read.accessPolicyWindow.num_bytes, 256u) << "still the stream's";
  ASSERT_CU(d.cuStreamDestroy_v2(prioritized));
  for (CUgraph g : {graph, clone, captured, inherited}) ASSERT_CU(d.cuGraphDestroy(g));
}

TEST_F(SimGraph, AnExecutableTakesTheParametersOfATopologicallyEqualGraphAndRefusesAnotherShape) {
  auto capture = [&](int first, int second, bool extra) {
    CUgraph graph = nullptr;
    EXPECT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
    append(appendValue, log, length, first, stream);
    append(appendValue, log, length, second, stream);
    if (extra) append(appendValue, log, length, 0, stream);
    EXPECT_CU(d.cuStreamEndCapture(stream, &graph));
    return graph;
  };
  CUgraph original = capture(1, 2, false);
  CUgraph changed = capture(3, 4, false);
  CUgraph longer = capture(5, 6, true);
  CUgraphExec exec = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, original, 0));
  CUgraphExecUpdateResultInfo info{};
  ASSERT_CU(d.cuGraphExecUpdate_v2(exec, changed, &info));
  EXPECT_EQ(info.result, CU_GRAPH_EXEC_UPDATE_SUCCESS);
  EXPECT_EQ(d.cuGraphExecUpdate_v2(exec, longer, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
  EXPECT_EQ(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED);
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(readLog(log, length), (std::vector<int>{3, 4}));
  d.cuGraphExecDestroy(exec);
  for (CUgraph graph : {original, changed, longer}) d.cuGraphDestroy(graph);
}

TEST_F(SimGraph, ChildGraphsClonesAndTheDotFileDescribeTheSameWork) {
  CUgraph child = nullptr, parent = nullptr, copy = nullptr;
  ASSERT_CU(d.cuGraphCreate(&child, 0));
  ASSERT_CU(d.cuGraphCreate(&parent, 0));
  int value = 11;
  void* params[] = {&log, &length, &value};
  CUgraphNodeParams node{};
  node.type = CU_GRAPH_NODE_TYPE_KERNEL;
  node.kernel.func = appendValue;
  node.kernel.gridDimX = node.kernel.gridDimY = node.kernel.gridDimZ = 1;
  node.kernel.blockDimX = node.kernel.blockDimY = node.kernel.blockDimZ = 1;
  node.kernel.kernelParams = params;
  CUgraphNode inChild = nullptr, childNode = nullptr, after = nullptr;
  ASSERT_CU(d.cuGraphAddNode(&inChild, child, nullptr, 0, &node));
  ASSERT_CU(d.cuGraphAddChildGraphNode(&childNode, parent, nullptr, 0, child));
  value = 12;
  ASSERT_CU(d.cuGraphAddNode(&after, parent, &childNode, 1, &node));
  ASSERT_CU(d.cuGraphClone(&copy, parent));
  CUgraphNode afterInCopy = nullptr;
  ASSERT_CU(d.cuGraphNodeFindInClone(&afterInCopy, after, copy));
  EXPECT_NE(afterInCopy, after);
  ASSERT_CU(d.cuGraphDestroy(parent));  // the clone stands alone

  CUgraphExec exec = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, copy, 0));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(readLog(log, length), (std::vector<int>{11, 12}));

  std::string path = ::testing::TempDir() + "/cudasim_graph.dot";
  ASSERT_CU(d.cuGraphDebugDotPrint(copy, path.c_str(), 0));
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_NE(text.str().find("digraph"), std::string::npos);
  EXPECT_NE(text.str().find("appendValue"), std::string::npos);
  std::remove(path.c_str());
  d.cuGraphExecDestroy(exec);
  d.cuGraphDestroy(copy);
  d.cuGraphDestroy(child);
}

}  // namespace
}  // namespace fastgpu::testing

namespace fastgpu::testing {
namespace {

// Graph memory: cuMemAllocAsync/cuMemFreeAsync in a capture become allocation and free nodes whose
// memory the graph holds; a graph whose allocation is still live cannot run again unless it frees
// on launch; the device's graph-memory attributes count exactly what graphs hold.
class SimGraphMemory : public SimTest {
 protected:
  void SetUp() override {
    SimTest::SetUp();
    ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  }
  void TearDown() override {
    d.cuStreamDestroy_v2(stream);
    SimTest::TearDown();
  }
  std::uint64_t graphMemory(CUgraphMem_attribute attribute) {
    cuuint64_t value = 0;
    EXPECT_CU(d.cuDeviceGetGraphMemAttribute(0, attribute, &value));
    return value;
  }
  CUstream stream = nullptr;
};

TEST_F(SimGraphMemory, CapturedAllocationsAreGraphMemoryThatTheGraphHolds) {
  constexpr std::size_t kBytes = 1 << 20;
  std::uint64_t reservedBefore = graphMemory(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT);
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUdeviceptr scratch = 0;
  ASSERT_CU(d.cuMemAllocAsync(&scratch, kBytes, stream));
  EXPECT_NE(scratch, 0u) << "the address is known during the capture";
  ASSERT_CU(d.cuMemsetD32Async(scratch, 7, kBytes / 4, stream));
  ASSERT_CU(d.cuMemFreeAsync(scratch, stream));
  CUgraph graph = nullptr;
  ASSERT_CU(d.cuStreamEndCapture(stream, &graph));
  EXPECT_EQ(graphMemory(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT), reservedBefore + kBytes);
  CUgraphNode nodes[3] = {};
  std::size_t count = 3;
  ASSERT_CU(d.cuGraphGetNodes(graph, nodes, &count));
  ASSERT_EQ(count, 3u);
  CUgraphNodeType type;
  ASSERT_CU(d.cuGraphNodeGetType(nodes[0], &type));
  EXPECT_EQ(type, CU_GRAPH_NODE_TYPE_MEM_ALLOC);
  CUDA_MEM_ALLOC_NODE_PARAMS params{};
  ASSERT_CU(d.cuGraphMemAllocNodeGetParams(nodes[0], &params));
  EXPECT_EQ(params.dptr, scratch);
  EXPECT_EQ(params.bytesize, kBytes);
  ASSERT_CU(d.cuGraphNodeGetType(nodes[2], &type));
  EXPECT_EQ(type, CU_GRAPH_NODE_TYPE_MEM_FREE);

  CUgraphExec exec = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, graph, 0));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuGraphLaunch(exec, stream)) << "the graph freed its allocation itself";
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(graphMemory(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 0u);
  ASSERT_CU(d.cuGraphExecDestroy(exec));
  ASSERT_CU(d.cuGraphDestroy(graph));
  EXPECT_EQ(graphMemory(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT), reservedBefore) << "gone with its last holder";
  EXPECT_EQ(d.cuMemFreeAsync(scratch, stream), CUDA_ERROR_INVALID_VALUE) << "no longer graph memory";
}

TEST_F(SimGraphMemory, AnAllocationLeftLiveBlocksTheNextLaunchUnlessItFreesOnLaunch) {
  ASSERT_CU(d.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUdeviceptr output = 0;
  ASSERT_CU(d.cuMemAllocAsync(&output, 4096, stream));
  ASSERT_CU(d.cuMemsetD8Async(output, 3, 4096, stream));
  CUgraph graph = nullptr;
  ASSERT_CU(d.cuStreamEndCapture(stream, &graph));
  CUgraphExec exec = nullptr, freeing = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, graph, 0));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  unsigned char byte = 0;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&byte, output + 4095, 1));
  EXPECT_EQ(byte, 3) << "the graph's output outlives the launch";
  EXPECT_EQ(graphMemory(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 4096u);
  EXPECT_EQ(d.cuGraphLaunch(exec, stream), CUDA_ERROR_INVALID_VALUE) << "its allocation is still live";
  ASSERT_CU(d.cuMemFreeAsync(output, stream));
  ASSERT_CU(d.cuGraphLaunch(exec, stream));
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&freeing, graph, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH));
  ASSERT_CU(d.cuGraphLaunch(freeing, stream));
  ASSERT_CU(d.cuGraphLaunch(freeing, stream)) << "frees on launch";
  ASSERT_CU(d.cuStreamSynchronize(stream));
  ASSERT_CU(d.cuMemFree_v2(output));
  EXPECT_EQ(graphMemory(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 0u);
  EXPECT_GE(graphMemory(CU_GRAPH_MEM_ATTR_USED_MEM_HIGH), 4096u);
  cuuint64_t zero = 0;
  ASSERT_CU(d.cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &zero));
  EXPECT_EQ(graphMemory(CU_GRAPH_MEM_ATTR_USED_MEM_HIGH), 0u);
  EXPECT_EQ(d.cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &zero), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(d.cuDeviceGraphMemTrim(0));
  d.cuGraphExecDestroy(exec);
  d.cuGraphExecDestroy(freeing);
  d.cuGraphDestroy(graph);
}

TEST_F(SimGraphMemory, AnAllocationNodeBeyondTheDevicesMemoryIsRefused) {
  CUgraph graph = nullptr;
  ASSERT_CU(d.cuGraphCreate(&graph, 0));
  CUDA_MEM_ALLOC_NODE_PARAMS params{};
  params.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  params.poolProps.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  params.bytesize = kSimMemoryBytes * 2;
  CUgraphNode node = nullptr;
  EXPECT_EQ(d.cuGraphAddMemAllocNode(&node, graph, nullptr, 0, &params), CUDA_ERROR_OUT_OF_MEMORY);
  params.bytesize = 4096;
  params.poolProps.location.id = 9;
  EXPECT_EQ(d.cuGraphAddMemAllocNode(&node, graph, nullptr, 0, &params), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuGraphAddMemFreeNode(&node, graph, nullptr, 0, 0x1234), CUDA_ERROR_INVALID_VALUE);
  d.cuGraphDestroy(graph);
}

}  // namespace
}  // namespace fastgpu::testing
