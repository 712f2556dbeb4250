// Graphs built node by node, and what can be asked of any graph's nodes (DESIGN.md decision 12).
// Every node id, address and shape a client sends is checked here before the driver sees it:
// nodes must be of the graph named, device sides of copies and memsets inside the session's
// memory, shapes in checked arithmetic. Work in the client's memory keeps its place in the
// server's graph: a host function as a host point (host_points.h), a copy from or to the client as
// a copy from or to a staging buffer the client fills before, or reads after, a replay (or at a
// host point it precedes).
#include <cstring>

#include "cudaabi/checked_math.h"
#include "protocol/call_kinds.h"
#include "protocol/graph_edge_data.h"
#include "server/session.h"

namespace fastgpu::server {

namespace {

constexpr std::uint64_t kMaxListed = kMaxGraphNodes;  // nodes or edges in one query or call
// A kernel's parameters: at most 32764 bytes (CUDA 12.1 and later), in at most as many parameters.
constexpr std::size_t kMaxKernelParamBytes = 32764;
constexpr std::size_t kMaxKernelParams = 4096;

}  // namespace

Result<std::vector<CUgraphNode>> Session::graphNodes(std::uint64_t graph, capnp::List<std::uint64_t>::Reader ids) {
  if (ids.size() > kMaxListed) return Status(CUDA_ERROR_INVALID_VALUE, "too many nodes named");
  std::vector<CUgraphNode> nodes;
  nodes.reserve(ids.size());
  for (std::uint64_t id : ids) {
    auto node = state_->graphNodeIds().find(id);
    if (!node || node->graph != graph) return Status(CUDA_ERROR_INVALID_VALUE, "not a node of this graph");
    nodes.push_back(node->node);
  }
  return nodes;
}

Result<CUDA_MEMCPY3D> Session::graphCopy(wire::GraphCopy::Reader copy, const StagingSide& staging) {
  if (copy.getToHost() && copy.getFromHost()) return Status(CUDA_ERROR_INVALID_VALUE, "a copy between two staging buffers");
  auto packed = cudaabi::checkedMul(copy.getWidth(), copy.getHeight());
  if (packed) packed = cudaabi::checkedMul(*packed, copy.getDepth());
  if (!packed || *packed == 0) return Status(CUDA_ERROR_INVALID_VALUE, "empty or overflowing copy");
  CUDA_MEMCPY3D p{};
  p.WidthInBytes = copy.getWidth();
  p.Height = copy.getHeight();
  p.Depth = copy.getDepth();
  // One side: a device region of the session, or (toHost / fromHost) a packed staging buffer.
  auto side = [&](bool host, bool toHost, std::uint64_t address, std::uint64_t pitch, std::uint64_t rows,
                  CUmemorytype& type, CUdeviceptr& device, void*& hostPointer, std::size_t& outPitch,
                  std::size_t& outRows) -> Status {
    if (host) {
      if (*packed > protocol::kMaxCopyChunkBytes) return Status(CUDA_ERROR_INVALID_VALUE, "copy node too large");
      auto buffer = staging(toHost, *packed);
      if (!buffer) return buffer.status();
      type = CU_MEMORYTYPE_HOST;
      hostPointer = *buffer;
      outPitch = copy.getWidth();
      outRows = copy.getHeight();
      return Status::ok();
    }
    auto extent = cudaabi::volumeExtent(pitch, rows, copy.getWidth(), copy.getHeight(), copy.getDepth());
    if (!extent) return Status(CUDA_ERROR_INVALID_VALUE, kBadPitchedShape);
    if (Status inside = state_->checkDeviceRange(address, *extent); !inside) return inside;
    type = CU_MEMORYTYPE_DEVICE;
    device = address;
    outPitch = pitch;
    outRows = rows;
    return Status::ok();
  };
  if (Status status = side(copy.getFromHost(), false, copy.getSrc(), copy.getSrcPitch(), copy.getSrcRows(),
                           p.srcMemoryType, p.srcDevice, const_cast<void*&>(p.srcHost), p.srcPitch, p.srcHeight);
      !status) {
    return status;
  }
  if (Status status = side(copy.getToHost(), true, copy.getDst(), copy.getDstPitch(), copy.getDstRows(),
                           p.dstMemoryType, p.dstDevice, p.dstHost, p.dstPitch, p.dstHeight);
      !status) {
    return status;
  }
  return p;
}

Result<CUDA_MEMSET_NODE_PARAMS> Session::graphMemset(wire::GraphMemset::Reader set) {
  unsigned element = set.getElementBytes();
  if (element != 1 && element != 2 && element != 4) return Status(CUDA_ERROR_INVALID_VALUE, "element size not 1, 2 or 4");
  auto rowBytes = cudaabi::checkedMul(set.getWidth(), element);
  if (!rowBytes) return Status(CUDA_ERROR_INVALID_VALUE, kBadPitchedShape);
  std::uint64_t pitch = set.getHeight() > 1 ? set.getPitch() : *rowBytes;
  if (Status inside = state_->checkPitchedRange(set.getDst(), pitch, *rowBytes, set.getHeight()); !inside) return inside;
  CUDA_MEMSET_NODE_PARAMS p{};
  p.dst = set.getDst();
  p.pitch = pitch;
  p.value = set.getValue();
  p.elementSize = element;
  p.width = set.getWidth();
  p.height = set.getHeight();
  return p;
}

Result<CUDA_KERNEL_NODE_PARAMS_v2> Session::kernelNode(wire::Launch::Reader launch, PackedParameters& parameters) {
  auto found = function(launch.getFunction());
  if (!found) return found.status();
  if (launch.getAttributes().size() > 0 || launch.getCooperative()) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, "launch attributes on kernel nodes are not remoted");
  }
  auto config = launchConfig(launch, {}, [this](std::uint64_t id) { return event(id); });
  if (!config) return config.status();
  CUDA_KERNEL_NODE_PARAMS_v2 p{};
  p.func = *found;
  p.gridDimX = config->gridDimX;
  p.gridDimY = config->gridDimY;
  p.gridDimZ = config->gridDimZ;
  p.blockDimX = config->blockDimX;
  p.blockDimY = config->blockDimY;
  p.blockDimZ = config->blockDimZ;
  p.sharedMemBytes = config->sharedMemBytes;
  p.extra = parameters.extra();
  return p;
}

Result<std::pair<CUgraphNode, std::uint64_t>> Session::addNode(wire::GraphNodeAdd::Reader add, CUgraph graph,
                                                               const std::vector<CUgraphNode>& after) {
  SessionState& state = *state_;
  std::uint64_t graphId = add.getGraph();
  CUgraphNode node = nullptr;
  const CUgraphNode* deps = after.data();
  std::size_t count = after.size();
  SessionContext* context = state.context(state.current());
  CUcontext real = context != nullptr ? context->real : nullptr;
  auto done = [&](CUresult result, const char* what, std::uint64_t extra = 0) -> Result<std::pair<CUgraphNode, std::uint64_t>> {
    if (result != CUDA_SUCCESS) return driverResult(result, what);
    return std::pair{node, extra};
  };
  switch (add.which()) {
    case wire::GraphNodeAdd::KERNEL: {
      PackedParameters parameters(add.getKernel());
      auto params = kernelNode(add.getKernel(), parameters);
      if (!params) return params.status();
      return done(driver_.cuGraphAddKernelNode_v2(&node, graph, deps, count, &*params), "cuGraphAddKernelNode");
    }
    case wire::GraphNodeAdd::COPY: {
      if (real == nullptr) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
      std::uint64_t staging = 0;
      auto params = graphCopy(add.getCopy(), [&](bool, std::uint64_t bytes) -> Result<void*> {
        auto buffer = state.createStaging(bytes, 0, graphId);
        if (!buffer) return buffer.status();
        staging = buffer->first;
        return buffer->second;
      });
      if (!params) return params.status();
      return done(driver_.cuGraphAddMemcpyNode(&node, graph, deps, count, &*params, real), "cuGraphAddMemcpyNode",
                  staging);
    }
    case wire::GraphNodeAdd::MEMSET: {
      if (real == nullptr) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
      auto params = graphMemset(add.getMemset());
      if (!params) return params.status();
      return done(driver_.cuGraphAddMemsetNode(&node, graph, deps, count, &*params, real), "cuGraphAddMemsetNode");
    }
    case wire::GraphNodeAdd::EMPTY:
      return done(driver_.cuGraphAddEmptyNode(&node, graph, deps, count), "cuGraphAddEmptyNode");
    case wire::GraphNodeAdd::HOST: {
      CUDA_HOST_NODE_PARAMS p{HostPoints::pointFunction(), hostPoints_.pointData(add.getHost())};
      return done(driver_.cuGraphAddHostNode(&node, graph, deps, count, &p), "cuGraphAddHostNode");
    }
    case wire::GraphNodeAdd::EVENT_RECORD:
    case wire::GraphNodeAdd::EVENT_WAIT: {
      bool record = add.isEventRecord();
      auto found = event(record ? add.getEventRecord() : add.getEventWait());
      if (!found) return found.status();
      return record ? done(driver_.cuGraphAddEventRecordNode(&node, graph, deps, count, *found), "cuGraphAddEventRecordNode")
                    : done(driver_.cuGraphAddEventWaitNode(&node, graph, deps, count, *found), "cuGraphAddEventWaitNode");
    }
    case wire::GraphNodeAdd::CHILD_GRAPH: {
      auto child = state.find(HandleKind::kGraph, add.getChildGraph());
      if (!child) return child.status();
      auto result = done(driver_.cuGraphAddChildGraphNode(&node, graph, deps, count, static_cast<CUgraph>(*child)),
                         "cuGraphAddChildGraphNode");
      // The parent's replays run the child's copies and allocations: it holds what they use.
      if (result) state.shareGraphResources(add.getChildGraph(), graphId);
      return result;
    }
    case wire::GraphNodeAdd::MEM_ALLOC: {
      if (context == nullptr) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
      auto base = state.allocateInGraph(add.getMemAlloc(), graphId, [&](CUdeviceptr* address) {
        CUDA_MEM_ALLOC_NODE_PARAMS p{};
        p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
        p.poolProps.location = CUmemLocation{CU_MEM_LOCATION_TYPE_DEVICE, state.lease().physicalDevice(context->device)};
        p.bytesize = add.getMemAlloc();
        CUresult result = driver_.cuGraphAddMemAllocNode(&node, graph, deps, count, &p);
        *address = p.dptr;
        return result;
      });
      if (!base) return base.status();
      return std::pair{node, *base};
    }
    case wire::GraphNodeAdd::MEM_FREE:
      if (!state.isGraphMemory(add.getMemFree())) return Status(CUDA_ERROR_INVALID_VALUE, "not graph memory");
      return done(driver_.cuGraphAddMemFreeNode(&node, graph, deps, count, add.getMemFree()), "cuGraphAddMemFreeNode");
  }
  return Status(CUDA_ERROR_INVALID_VALUE, "unknown node kind");
}

Status Session::refuseChangeInBorrowedGraph(const GraphNodeIds::Node& node) {
  if (SessionState::kindOf(node.graph) != HandleKind::kChildGraph) return Status::ok();
  return Status(CUDA_ERROR_NOT_SUPPORTED,
                "a node of a child graph's handle (cuGraphChildGraphNodeGetGraph) is for queries only: change the "
                "child graph node itself, or the graph that holds it");
}

Status Session::queryGraph(wire::GraphQuery::Reader query, Answer& answer) {
  SessionState& state = *state_;
  GraphNodeIds& ids = state.graphNodeIds();
  std::vector<std::int64_t> values;
  // Lists of nodes with their edge data, asked twice (count, then the nodes), as the driver wants.
  auto listed = [&](std::uint64_t graph, auto&& ask, bool withData) -> Status {
    std::size_t count = 0;
    if (CUresult result = ask(nullptr, nullptr, &count); result != CUDA_SUCCESS) return driverResult(result, "graph query");
    if (count > kMaxListed) return Status(CUDA_ERROR_OUT_OF_MEMORY, "too many nodes to list");
    std::vector<CUgraphNode> nodes(count);
    std::vector<CUgraphEdgeData> data(count);
    if (CUresult result = ask(nodes.data(), withData ? data.data() : nullptr, &count); result != CUDA_SUCCESS) {
      return driverResult(result, "graph query");
    }
    for (std::size_t i = 0; i < std::min(count, nodes.size()); ++i) {
      values.push_back(static_cast<std::int64_t>(ids.idOf(graph, nodes[i])));
      if (withData) values.push_back(static_cast<std::int64_t>(protocol::packEdgeData(data[i])));
    }
    return Status::ok();
  };
  Status status = Status::ok();
  using What = wire::GraphQuery::What;
  What what = query.getWhat();
  if (what == What::NODES || what == What::ROOTS || what == What::EDGES) {
    auto found = state.findReadableGraph(query.getSubject());
    if (!found) return found.status();
    auto graph = static_cast<CUgraph>(*found);
    std::uint64_t id = query.getSubject();
    if (what == What::NODES) {
      status = listed(id, [&](CUgraphNode* out, CUgraphEdgeData*, std::size_t* n) { return driver_.cuGraphGetNodes(graph, out, n); }, false);
    } else if (what == What::ROOTS) {
      status = listed(id, [&](CUgraphNode* out, CUgraphEdgeData*, std::size_t* n) { return driver_.cuGraphGetRootNodes(graph, out, n); }, false);
    } else {
      std::size_t count = 0;
      if (CUresult result = driver_.cuGraphGetEdges_v2(graph, nullptr, nullptr, nullptr, &count); result != CUDA_SUCCESS) {
        return driverResult(result, "cuGraphGetEdges");
      }
      if (count > kMaxListed) return Status(CUDA_ERROR_OUT_OF_MEMORY, "too many edges to list");
      std::vector<CUgraphNode> from(count), to(count);
      std::vector<CUgraphEdgeData> data(count);
      if (CUresult result = driver_.cuGraphGetEdges_v2(graph, from.data(), to.data(), data.data(), &count);
          result != CUDA_SUCCESS) {
        return driverResult(result, "cuGraphGetEdges");
      }
      for (std::size_t i = 0; i < std::min(count, from.size()); ++i) {
        values.push_back(static_cast<std::int64_t>(ids.idOf(id, from[i])));
        values.push_back(static_cast<std::int64_t>(ids.idOf(id, to[i])));
        values.push_back(static_cast<std::int64_t>(protocol::packEdgeData(data[i])));
      }
    }
  } else {
    auto node = ids.find(query.getSubject());
    if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
    CUgraphNode real = node->node;
    if (what == What::TYPE) {
      CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
      if (CUresult result = driver_.cuGraphNodeGetType(real, &type); result != CUDA_SUCCESS) {
        return driverResult(result, "cuGraphNodeGetType");
      }
      values.push_back(static_cast<std::int64_t>(type));
    } else if (what == What::DEPENDENCIES) {
      status = listed(node->graph, [&](CUgraphNode* out, CUgraphEdgeData* data, std::size_t* n) {
        return driver_.cuGraphNodeGetDependencies_v2(real, out, data, n);
      }, true);
    } else if (what == What::DEPENDENTS) {
      status = listed(node->graph, [&](CUgraphNode* out, CUgraphEdgeData* data, std::size_t* n) {
        return driver_.cuGraphNodeGetDependentNodes_v2(real, out, data, n);
      }, true);
    } else if (what == What::KERNEL) {
      status = kernelNodeParams(node->graph, real, values);
    } else {
      return Status(CUDA_ERROR_INVALID_VALUE, "unknown graph query");
    }
  }
  if (!status) return status;
  answer.setValues(values);
  return Status::ok();
}

Status Session::kernelNodeParams(std::uint64_t graph, CUgraphNode node, std::vector<std::int64_t>& values) {
  CUDA_KERNEL_NODE_PARAMS params{};
  if (CUresult result = driver_.cuGraphKernelNodeGetParams_v2(node, &params); result != CUDA_SUCCESS) {
    return driverResult(result, "cuGraphKernelNodeGetParams");
  }
  // The client knows the function by the session's id: a module's function or a library's kernel.
  std::optional<std::uint64_t> function = state_->idOf(HandleKind::kFunction, params.func);
  if (!function) function = state_->idOf(HandleKind::kKernel, params.func);
  if (!function) return Status(CUDA_ERROR_NOT_SUPPORTED, "a kernel node of a function the session did not load");
  if (params.kernelParams == nullptr && params.extra != nullptr) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, "a kernel node described by a packed parameter buffer");
  }
  std::vector<std::uint8_t> bytes;
  std::size_t offset = 0, size = 0;
  for (std::size_t i = 0; params.kernelParams != nullptr && i < kMaxKernelParams &&
                          driver_.cuFuncGetParamInfo(params.func, i, &offset, &size) == CUDA_SUCCESS;
       ++i) {
    std::optional<std::uint64_t> end = cudaabi::checkedAdd(offset, size);
    if (!end || *end > kMaxKernelParamBytes) return Status(CUDA_ERROR_INVALID_VALUE, "kernel parameters past their limit");
    bytes.resize(std::max<std::size_t>(bytes.size(), *end));
    std::memcpy(bytes.data() + offset, params.kernelParams[i], size);
  }
  values = {static_cast<std::int64_t>(graph), static_cast<std::int64_t>(*function),
            params.gridDimX, params.gridDimY, params.gridDimZ, params.blockDimX, params.blockDimY, params.blockDimZ,
            params.sharedMemBytes, static_cast<std::int64_t>(bytes.size())};
  for (std::size_t at = 0; at < bytes.size(); at += 8) {
    std::int64_t word = 0;
    std::memcpy(&word, bytes.data() + at, std::min<std::size_t>(8, bytes.size() - at));
    values.push_back(word);
  }
  return Status::ok();
}

Status Session::executeGraphBuildCall(wire::Call::Reader call, Answer& answer) {
  SessionState& state = *state_;
  switch (call.which()) {
    case wire::Call::GRAPH_CREATE: {
      if (call.getGraphCreate() != 0) return Status(CUDA_ERROR_INVALID_VALUE, "cuGraphCreate flags must be 0");
      if (Status room = state.roomFor(HandleKind::kGraph); !room) return room;
      CUgraph graph = nullptr;
      if (CUresult result = driver_.cuGraphCreate(&graph, 0); result != CUDA_SUCCESS) return driverResult(result, "cuGraphCreate");
      answer.setHandle(state.add(HandleKind::kGraph, graph));
      return Status::ok();
    }
    case wire::Call::GRAPH_ADD_NODE: {
      auto add = call.getGraphAddNode();
      auto graph = state.find(HandleKind::kGraph, add.getGraph());
      if (!graph) return graph.status();
      auto after = graphNodes(add.getGraph(), add.getDependencies());
      if (!after) return after.status();
      std::uint64_t nodes = 1;
      if (add.isChildGraph()) {
        auto child = state.find(HandleKind::kGraph, add.getChildGraph());
        if (!child) return child.status();
        std::size_t childNodes = 0;
        driver_.cuGraphGetNodes(static_cast<CUgraph>(*child), nullptr, &childNodes);
        nodes += childNodes;
      }
      if (Status room = state.chargeAddedNodes(add.getGraph(), nodes); !room) return room;
      auto added = addNode(add, static_cast<CUgraph>(*graph), *after);
      if (!added) {
        state.releaseAddedNodes(add.getGraph(), nodes);
        return added.status();
      }
      std::uint64_t id = state.graphNodeIds().idOf(add.getGraph(), added->first);
      answer.setValues({static_cast<std::int64_t>(id), static_cast<std::int64_t>(added->second)});
      return Status::ok();
    }
    case wire::Call::GRAPH_QUERY:
      return queryGraph(call.getGraphQuery(), answer);
    case wire::Call::GRAPH_EDGES: {
      auto edges = call.getGraphEdges();
      auto graph = state.find(HandleKind::kGraph, edges.getGraph());
      if (!graph) return graph.status();
      auto from = graphNodes(edges.getGraph(), edges.getFrom());
      if (!from) return from.status();
      auto to = graphNodes(edges.getGraph(), edges.getTo());
      if (!to) return to.status();
      if (from->size() != to->size()) return Status(CUDA_ERROR_INVALID_VALUE, "edge lists of different lengths");
      auto g = static_cast<CUgraph>(*graph);
      CUresult result = edges.getRemove() ? driver_.cuGraphRemoveDependencies(g, from->data(), to->data(), from->size())
                                          : driver_.cuGraphAddDependencies(g, from->data(), to->data(), from->size());
      return driverResult(result, edges.getRemove() ? "cuGraphRemoveDependencies" : "cuGraphAddDependencies");
    }
    case wire::Call::GRAPH_CLONE: {
      auto original = state.find(HandleKind::kGraph, call.getGraphClone());
      if (!original) return original.status();
      if (Status room = state.roomFor(HandleKind::kGraph); !room) return room;
      std::size_t nodes = 0;
      driver_.cuGraphGetNodes(static_cast<CUgraph>(*original), nullptr, &nodes);
      if (Status room = state.roomForGraphNodes(nodes); !room) return room;
      CUgraph clone = nullptr;
      if (CUresult result = driver_.cuGraphClone(&clone, static_cast<CUgraph>(*original)); result != CUDA_SUCCESS) {
        return driverResult(result, "cuGraphClone");
      }
      std::uint64_t id = state.add(HandleKind::kGraph, clone);
      state.chargeGraphNodes(id, nodes);
      state.shareGraphResources(call.getGraphClone(), id);
      answer.setHandle(id);
      return Status::ok();
    }
    case wire::Call::GRAPH_FIND_IN_CLONE: {
      auto request = call.getGraphFindInClone();
      auto node = state.graphNodeIds().find(request.getNode());
      auto clone = state.find(HandleKind::kGraph, request.getClone());
      if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
      if (!clone) return clone.status();
      CUgraphNode found = nullptr;
      CUresult result = driver_.cuGraphNodeFindInClone(&found, node->node, static_cast<CUgraph>(*clone));
      if (result != CUDA_SUCCESS) return driverResult(result, "cuGraphNodeFindInClone");
      answer.setHandle(state.graphNodeIds().idOf(request.getClone(), found));
      return Status::ok();
    }
    case wire::Call::GRAPH_DESTROY_NODE: {
      auto node = state.graphNodeIds().find(call.getGraphDestroyNode());
      if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
      if (Status refused = refuseChangeInBorrowedGraph(*node); !refused) return refused;
      // A child graph borrowed from this node goes with it (the driver frees that graph).
      CUgraph child = nullptr;
      if (driver_.cuGraphChildGraphNodeGetGraph(node->node, &child) == CUDA_SUCCESS) {
        if (auto borrowed = state.idOf(HandleKind::kChildGraph, child)) state.remove(*borrowed);
      }
      CUresult result = driver_.cuGraphDestroyNode(node->node);
      if (result != CUDA_SUCCESS) return driverResult(result, "cuGraphDestroyNode");
      state.graphNodeIds().forget(call.getGraphDestroyNode());
      state.releaseAddedNodes(node->graph, 1);
      answer.setHandle(node->graph);
      return Status::ok();
    }
    case wire::Call::GRAPH_CHILD_GRAPH: {
      auto node = state.graphNodeIds().find(call.getGraphChildGraph());
      if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
      CUgraph child = nullptr;
      if (CUresult result = driver_.cuGraphChildGraphNodeGetGraph(node->node, &child); result != CUDA_SUCCESS) {
        return driverResult(result, "cuGraphChildGraphNodeGetGraph");
      }
      std::optional<std::uint64_t> id = state.idOf(HandleKind::kChildGraph, child);
      if (!id) {
        if (Status room = state.roomFor(HandleKind::kChildGraph); !room) return room;
        // Owned by the node's graph: it goes when that graph (or the node, above) does.
        id = state.add(HandleKind::kChildGraph, child, node->graph);
      }
      answer.setValues({static_cast<std::int64_t>(*id), static_cast<std::int64_t>(node->graph)});
      return Status::ok();
    }
    case wire::Call::GRAPH_KERNEL_SET: {
      auto set = call.getGraphKernelSet();
      auto node = state.graphNodeIds().find(set.getNode());
      if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
      if (set.getExec() == 0) {
        if (Status refused = refuseChangeInBorrowedGraph(*node); !refused) return refused;
      }
      PackedParameters parameters(set.getLaunch());
      auto params = kernelNode(set.getLaunch(), parameters);
      if (!params) return params.status();
      if (set.getExec() == 0) {
        return driverResult(driver_.cuGraphKernelNodeSetParams_v2(node->node, &*params), "cuGraphKernelNodeSetParams");
      }
      auto exec = state.find(HandleKind::kGraphExec, set.getExec());
      if (!exec) return exec.status();
      return driverResult(driver_.cuGraphExecKernelNodeSetParams_v2(static_cast<CUgraphExec>(*exec), node->node, &*params),
                          "cuGraphExecKernelNodeSetParams");
    }
    case wire::Call::GRAPH_NODE_PARAMS:
      return graphNodeParams(call.getGraphNodeParams(), answer);
    case wire::Call::GRAPH_NODE_ENABLED: {
      auto request = call.getGraphNodeEnabled();
      auto node = state.graphNodeIds().find(request.getNode());
      if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
      auto exec = state.find(HandleKind::kGraphExec, request.getExec());
      if (!exec) return exec.status();
      auto real = static_cast<CUgraphExec>(*exec);
      if (request.getSet()) {
        return driverResult(driver_.cuGraphNodeSetEnabled(real, node->node, request.getEnabled() ? 1 : 0),
                            "cuGraphNodeSetEnabled");
      }
      unsigned enabled = 0;
      CUresult result = driver_.cuGraphNodeGetEnabled(real, node->node, &enabled);
      answer.setValues({static_cast<std::int64_t>(enabled)});
      return driverResult(result, "cuGraphNodeGetEnabled");
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a graph building call");
  }
}

}  // namespace fastgpu::server
