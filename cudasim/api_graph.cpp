// Building and reading graphs (cudasim/graph.h): creation, the node kinds cudasim simulates
// (kernel, memcpy, memset, host, event record and wait, empty, child graph), parameters, edges,
// queries, cloning, and cuGraphDebugDotPrint; memory allocation and free nodes (graph_memory.h).
// Node kinds cudasim does not add by hand (batch memory operations, which only a capture makes
// here; external semaphores; conditional) are refused with CUDA_ERROR_NOT_SUPPORTED.
#include <fstream>

#include "cudasim/graph_api.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace fastgpu::sim {

// ---- node parameters: from the API's structures, checked, and back ----

Result<NodeParams> childParams(Driver& driver, CUgraph child) {
  auto graph = driver.handles().find<Graph>(HandleKind::kGraph, child);
  if (!graph) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph");
  return NodeParams{ChildGraphNode{graph->clone()}};
}

Result<NodeParams> genericParams(Driver& driver, const CUgraphNodeParams& p) {
  switch (p.type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      const auto& k = p.kernel;
      return kernelParams(driver, CUDA_KERNEL_NODE_PARAMS_v2{k.func, k.gridDimX, k.gridDimY, k.gridDimZ, k.blockDimX,
                                                             k.blockDimY, k.blockDimZ, k.sharedMemBytes,
                                                             k.kernelParams, k.extra, k.kern, k.ctx});
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      if (p.memcpy.flags != 0 || p.memcpy.reserved != 0) return Status(CUDA_ERROR_INVALID_VALUE, "reserved fields");
      return copyParams(driver, p.memcpy.copyParams);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      const auto& m = p.memset;
      return memsetParams(driver, CUDA_MEMSET_NODE_PARAMS{m.dst, m.pitch, m.value, m.elementSize, m.width, m.height});
    }
    case CU_GRAPH_NODE_TYPE_HOST:
      if (p.host.fn == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "no host function");
      return NodeParams{HostNode{p.host.fn, p.host.userData}};
    case CU_GRAPH_NODE_TYPE_GRAPH: return childParams(driver, p.graph.graph);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return eventParams(driver, p.eventWait.event);
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return eventParams(driver, p.eventRecord.event);
    case CU_GRAPH_NODE_TYPE_EMPTY: return NodeParams{EmptyNode{}};
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: {
      const auto& a = p.alloc;
      return memAllocParams(driver, CUDA_MEM_ALLOC_NODE_PARAMS{a.poolProps, a.accessDescs, a.accessDescCount,
                                                               a.bytesize, 0});
    }
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return memFreeParams(driver, p.free.dptr);
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "cudasim does not simulate this kind of graph node");
  }
}

}  // namespace fastgpu::sim

namespace {

// Adds a node made by `make(driver)` (a Result<NodeParams>) to a graph.
template <typename Make>
CUresult addNode(const char* name, CUgraphNode* out, CUgraph graphHandle, const CUgraphNode* dependencies,
                 std::size_t count, CUgraphNodeType type, Make&& make) {
  return withGraph(name, graphHandle, [&](Driver& driver, const std::shared_ptr<Graph>& graph) {
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto nodes = nodesOf(driver, dependencies, count);
    if (!nodes) return fail(nodes);
    Result<NodeParams> params = make(driver);
    if (!params) return fail(params);
    auto node = graph->add(type, std::move(*params), *nodes);
    if (!node) return fail(node);
    registerNode(driver.handles(), *node);
    *out = handleOf(node->get());
    return CUDA_SUCCESS;
  });
}

// Replaces the parameters of a node of the given type.
template <typename Make>
CUresult setNode(const char* name, CUgraphNode handle, CUgraphNodeType type, Make&& make) {
  return withNode(name, handle, [&](Driver& driver, GraphNode& node) {
    if (node.type() != type) return CUDA_ERROR_INVALID_VALUE;
    Result<NodeParams> params = make(driver);
    if (!params) return fail(params);
    if (auto* child = std::get_if<ChildGraphNode>(&node.params())) unregisterGraph(driver.handles(), *child->graph);
    replaceParams(node, std::move(*params));
    return CUDA_SUCCESS;
  });
}

// Reads the parameters of a node of the type `T` holds.
template <typename T, typename Read>
CUresult getNode(const char* name, CUgraphNode handle, void* out, Read&& read) {
  return withNode(name, handle, [&](Driver&, GraphNode& node) {
    auto* params = std::get_if<T>(&node.params());
    if (out == nullptr || params == nullptr) return CUDA_ERROR_INVALID_VALUE;
    read(*params);
    return CUDA_SUCCESS;
  });
}

CUDA_KERNEL_NODE_PARAMS_v2 kernelOut(KernelNode& node) {
  const auto& l = node.launch;
  return CUDA_KERNEL_NODE_PARAMS_v2{toHandle<CUfunction>(l.function->handle()), l.grid.x, l.grid.y, l.grid.z,
                                    l.block.x, l.block.y, l.block.z, l.sharedBytes, node.argumentPointers.data(),
                                    nullptr, nullptr, nullptr};
}

// Writes a list the CUDA way: with no output array, the count; else up to *count entries, the
// rest of the array NULL, and the count written.
template <typename T>
CUresult listOut(const std::vector<T>& items, T* out, std::size_t* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (out == nullptr) {
    *count = items.size();
    return CUDA_SUCCESS;
  }
  for (std::size_t i = 0; i < *count; ++i) out[i] = i < items.size() ? items[i] : T{};
  *count = std::min(*count, items.size());
  return CUDA_SUCCESS;
}

CUresult edgesOut(const Graph& graph, CUgraphNode* from, CUgraphNode* to, CUgraphEdgeData* data, std::size_t* count) {
  std::vector<CUgraphNode> froms, tos;
  for (const auto& node : graph.nodes()) {
    for (const GraphNode* dependency : node->dependencies()) {
      froms.push_back(handleOf(dependency));
      tos.push_back(handleOf(node.get()));
    }
  }
  if (count == nullptr || ((from == nullptr) != (to == nullptr))) return CUDA_ERROR_INVALID_VALUE;
  std::size_t room = *count;
  if (CUresult r = listOut(froms, from, count); r != CUDA_SUCCESS) return r;
  *count = room;
  listOut(tos, to, count);
  for (std::size_t i = 0; data != nullptr && from != nullptr && i < room; ++i) data[i] = CUgraphEdgeData{};
  return CUDA_SUCCESS;
}

CUresult neighboursOut(const std::vector<GraphNode*>& nodes, CUgraphNode* out, CUgraphEdgeData* data,
                       std::size_t* count) {
  std::vector<CUgraphNode> handles;
  for (const GraphNode* node : nodes) handles.push_back(handleOf(node));
  std::size_t room = count != nullptr ? *count : 0;
  CUresult result = listOut(handles, out, count);
  for (std::size_t i = 0; result == CUDA_SUCCESS && data != nullptr && out != nullptr && i < room; ++i) {
    data[i] = CUgraphEdgeData{};
  }
  return result;
}

CUresult changeEdges(const char* name, CUgraph graphHandle, const CUgraphNode* from, const CUgraphNode* to,
                     const CUgraphEdgeData* data, std::size_t count, bool add) {
  return withGraph(name, graphHandle, [&](Driver& driver, const std::shared_ptr<Graph>& graph) {
    if (!defaultEdges(data, count)) return CUDA_ERROR_INVALID_VALUE;
    auto sources = nodesOf(driver, from, count);
    auto targets = nodesOf(driver, to, count);
    if (!sources || !targets) return CUDA_ERROR_INVALID_VALUE;
    for (std::size_t i = 0; i < count; ++i) {
      Status status = add ? graph->addEdge(*(*sources)[i], *(*targets)[i])
                          : graph->removeEdge(*(*sources)[i], *(*targets)[i]);
      if (!status) return fail(status);
    }
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuGraphCreate(CUgraph* out, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (out == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard lock(driver.captures().mutex());
    auto graph = std::make_shared<Graph>();
    registerGraph(driver.handles(), graph);
    *out = toHandle<CUgraph>(graph->handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphDestroy(CUgraph handle) {
  return withGraph(__func__, handle, [&](Driver& driver, const std::shared_ptr<Graph>& graph) {
    unregisterGraph(driver.handles(), *graph);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphClone(CUgraph* out, CUgraph original) {
  return withGraph(__func__, original, [&](Driver& driver, const std::shared_ptr<Graph>& graph) {
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::map<const GraphNode*, GraphNode*> mapping;
    auto copy = graph->clone(&mapping);
    registerGraph(driver.handles(), copy);
    for (const auto& [from, to] : mapping) copy->clonedFrom[from->handle()] = to;
    driver.userObjects().copyOwner(graph->handle(), copy->handle());
    *out = toHandle<CUgraph>(copy->handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphNodeFindInClone(CUgraphNode* out, CUgraphNode original, CUgraph clone) {
  return withGraph(__func__, clone, [&](Driver&, const std::shared_ptr<Graph>& graph) {
    auto it = graph->clonedFrom.find(reinterpret_cast<std::uintptr_t>(original));
    if (out == nullptr || it == graph->clonedFrom.end() || !graph->contains(*it->second)) return CUDA_ERROR_INVALID_VALUE;
    *out = handleOf(it->second);
    return CUDA_SUCCESS;
  });
}

// ---- adding nodes ----

FASTGPU_SIM_EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                    size_t count, const CUDA_KERNEL_NODE_PARAMS_v2* params) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_KERNEL, [&](Driver& driver) {
    return params == nullptr ? Result<NodeParams>(Status(CUDA_ERROR_INVALID_VALUE, "")) : kernelParams(driver, *params);
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddKernelNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                 size_t count, const CUDA_KERNEL_NODE_PARAMS_v1* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS_v2 wide = widen(*params);
  return cuGraphAddKernelNode_v2(out, graph, dependencies, count, &wide);
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddMemcpyNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                 size_t count, const CUDA_MEMCPY3D* params, CUcontext) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_MEMCPY, [&](Driver& driver) {
    return params == nullptr ? Result<NodeParams>(Status(CUDA_ERROR_INVALID_VALUE, "")) : copyParams(driver, *params);
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddMemsetNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                 size_t count, const CUDA_MEMSET_NODE_PARAMS* params, CUcontext) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_MEMSET, [&](Driver& driver) {
    return params == nullptr ? Result<NodeParams>(Status(CUDA_ERROR_INVALID_VALUE, "")) : memsetParams(driver, *params);
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddHostNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                               size_t count, const CUDA_HOST_NODE_PARAMS* params) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_HOST, [&](Driver&) {
    if (params == nullptr || params->fn == nullptr) return Result<NodeParams>(Status(CUDA_ERROR_INVALID_VALUE, ""));
    return Result<NodeParams>(NodeParams{HostNode{params->fn, params->userData}});
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddChildGraphNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                     size_t count, CUgraph child) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_GRAPH,
                 [&](Driver& driver) { return childParams(driver, child); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddEmptyNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                size_t count) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_EMPTY,
                 [](Driver&) { return Result<NodeParams>(NodeParams{EmptyNode{}}); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddEventRecordNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                      size_t count, CUevent event) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_EVENT_RECORD,
                 [&](Driver& driver) { return eventParams(driver, event); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddEventWaitNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                    size_t count, CUevent event) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_WAIT_EVENT,
                 [&](Driver& driver) { return eventParams(driver, event); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddNode_v2(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                              const CUgraphEdgeData* edges, size_t count, CUgraphNodeParams* params) {
  if (params == nullptr || !defaultEdges(edges, count)) return CUDA_ERROR_INVALID_VALUE;
  return addNode(__func__, out, graph, dependencies, count, params->type, [&](Driver& driver) {
    auto made = genericParams(driver, *params);
    if (made) {
      if (const auto* alloc = std::get_if<MemAllocNode>(&*made)) params->alloc.dptr = alloc->params.dptr;  // out
    }
    return made;
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                           size_t count, CUgraphNodeParams* params) {
  return cuGraphAddNode_v2(out, graph, dependencies, nullptr, count, params);
}

// ---- node parameters ----

FASTGPU_SIM_EXPORT CUresult cuGraphNodeSetParams(CUgraphNode node, CUgraphNodeParams* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // A memory node's allocation is fixed when it is made.
  if (params->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC || params->type == CU_GRAPH_NODE_TYPE_MEM_FREE) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return setNode(__func__, node, params->type, [&](Driver& driver) { return genericParams(driver, *params); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS_v2* out) {
  return getNode<KernelNode>(__func__, node, out, [&](KernelNode& kernel) { *out = kernelOut(kernel); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphKernelNodeGetParams(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS_v1* out) {
  return getNode<KernelNode>(__func__, node, out, [&](KernelNode& kernel) {
    CUDA_KERNEL_NODE_PARAMS_v2 wide = kernelOut(kernel);
    *out = CUDA_KERNEL_NODE_PARAMS_v1{wide.func,      wide.gridDimX,       wide.gridDimY,     wide.gridDimZ,
                                      wide.blockDimX, wide.blockDimY,      wide.blockDimZ,    wide.sharedMemBytes,
                                      wide.kernelParams, wide.extra};
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v2* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setNode(__func__, node, CU_GRAPH_NODE_TYPE_KERNEL, [&](Driver& driver) { return kernelParams(driver, *params); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphKernelNodeSetParams(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS_v2 wide = widen(*params);
  return cuGraphKernelNodeSetParams_v2(node, &wide);
}
FASTGPU_SIM_EXPORT CUresult cuGraphMemcpyNodeGetParams(CUgraphNode node, CUDA_MEMCPY3D* out) {
  return getNode<CopyNode>(__func__, node, out, [&](CopyNode& copy) { *out = copy.params; });
}
FASTGPU_SIM_EXPORT CUresult cuGraphMemcpyNodeSetParams(CUgraphNode node, const CUDA_MEMCPY3D* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setNode(__func__, node, CU_GRAPH_NODE_TYPE_MEMCPY, [&](Driver& driver) { return copyParams(driver, *params); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphMemsetNodeGetParams(CUgraphNode node, CUDA_MEMSET_NODE_PARAMS* out) {
  return getNode<MemsetNode>(__func__, node, out, [&](MemsetNode& memset) { *out = memset.params; });
}
FASTGPU_SIM_EXPORT CUresult cuGraphMemsetNodeSetParams(CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setNode(__func__, node, CU_GRAPH_NODE_TYPE_MEMSET,
                 [&](Driver& driver) { return memsetParams(driver, *params); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphHostNodeGetParams(CUgraphNode node, CUDA_HOST_NODE_PARAMS* out) {
  return getNode<HostNode>(__func__, node, out, [&](HostNode& host) { *out = {host.function, host.userData}; });
}
FASTGPU_SIM_EXPORT CUresult cuGraphHostNodeSetParams(CUgraphNode node, const CUDA_HOST_NODE_PARAMS* params) {
  if (params == nullptr || params->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setNode(__func__, node, CU_GRAPH_NODE_TYPE_HOST,
                 [&](Driver&) { return Result<NodeParams>(NodeParams{HostNode{params->fn, params->userData}}); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphChildGraphNodeGetGraph(CUgraphNode node, CUgraph* out) {
  return getNode<ChildGraphNode>(__func__, node, out,
                                 [&](ChildGraphNode& child) { *out = toHandle<CUgraph>(child.graph->handle()); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphEventRecordNodeGetEvent(CUgraphNode node, CUevent* out) {
  return getNode<EventNode>(__func__, node, out, [&](EventNode& event) { *out = event.event; });
}
FASTGPU_SIM_EXPORT CUresult cuGraphEventWaitNodeGetEvent(CUgraphNode node, CUevent* out) {
  return getNode<EventNode>(__func__, node, out, [&](EventNode& event) { *out = event.event; });
}
FASTGPU_SIM_EXPORT CUresult cuGraphEventRecordNodeSetEvent(CUgraphNode node, CUevent event) {
  return setNode(__func__, node, CU_GRAPH_NODE_TYPE_EVENT_RECORD,
                 [&](Driver& driver) { return eventParams(driver, event); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphEventWaitNodeSetEvent(CUgraphNode node, CUevent event) {
  return setNode(__func__, node, CU_GRAPH_NODE_TYPE_WAIT_EVENT,
                 [&](Driver& driver) { return eventParams(driver, event); });
}

// ---- structure ----

FASTGPU_SIM_EXPORT CUresult cuGraphNodeGetType(CUgraphNode node, CUgraphNodeType* type) {
  return withNode(__func__, node, [&](Driver&, GraphNode& found) {
    if (type == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *type = found.type();
    return CUDA_SUCCESS;
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphGetNodes(CUgraph graph, CUgraphNode* nodes, size_t* count) {
  return withGraph(__func__, graph, [&](Driver&, const std::shared_ptr<Graph>& found) {
    std::vector<CUgraphNode> handles;
    for (const auto& node : found->nodes()) handles.push_back(handleOf(node.get()));
    return listOut(handles, nodes, count);
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphGetRootNodes(CUgraph graph, CUgraphNode* nodes, size_t* count) {
  return withGraph(__func__, graph, [&](Driver&, const std::shared_ptr<Graph>& found) {
    std::vector<CUgraphNode> handles;
    for (const auto& node : found->nodes()) {
      if (node->dependencies().empty()) handles.push_back(handleOf(node.get()));
    }
    return listOut(handles, nodes, count);
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphGetEdges_v2(CUgraph graph, CUgraphNode* from, CUgraphNode* to,
                                               CUgraphEdgeData* data, size_t* count) {
  return withGraph(__func__, graph, [&](Driver&, const std::shared_ptr<Graph>& found) {
    return edgesOut(*found, from, to, data, count);
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphGetEdges(CUgraph graph, CUgraphNode* from, CUgraphNode* to, size_t* count) {
  return cuGraphGetEdges_v2(graph, from, to, nullptr, count);
}
FASTGPU_SIM_EXPORT CUresult cuGraphNodeGetDependencies_v2(CUgraphNode node, CUgraphNode* out, CUgraphEdgeData* data,
                                                          size_t* count) {
  return withNode(__func__, node, [&](Driver&, GraphNode& found) {
    return neighboursOut(found.dependencies(), out, data, count);
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphNodeGetDependencies(CUgraphNode node, CUgraphNode* out, size_t* count) {
  return cuGraphNodeGetDependencies_v2(node, out, nullptr, count);
}
FASTGPU_SIM_EXPORT CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode node, CUgraphNode* out, CUgraphEdgeData* data,
                                                            size_t* count) {
  return withNode(__func__, node, [&](Driver&, GraphNode& found) {
    return neighboursOut(found.dependents(), out, data, count);
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphNodeGetDependentNodes(CUgraphNode node, CUgraphNode* out, size_t* count) {
  return cuGraphNodeGetDependentNodes_v2(node, out, nullptr, count);
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddDependencies_v2(CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                                                      const CUgraphEdgeData* data, size_t count) {
  return changeEdges(__func__, graph, from, to, data, count, true);
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddDependencies(CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                                                   size_t count) {
  return changeEdges(__func__, graph, from, to, nullptr, count, true);
}
FASTGPU_SIM_EXPORT CUresult cuGraphRemoveDependencies_v2(CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                                                         const CUgraphEdgeData* data, size_t count) {
  return changeEdges(__func__, graph, from, to, data, count, false);
}
FASTGPU_SIM_EXPORT CUresult cuGraphRemoveDependencies(CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                                                      size_t count) {
  return changeEdges(__func__, graph, from, to, nullptr, count, false);
}
FASTGPU_SIM_EXPORT CUresult cuGraphDestroyNode(CUgraphNode node) {
  return withNode(__func__, node, [&](Driver& driver, GraphNode& found) {
    auto removed = found.graph().remove(found);
    if (auto* child = std::get_if<ChildGraphNode>(&removed->params())) unregisterGraph(driver.handles(), *child->graph);
    driver.handles().remove(removed->handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphDebugDotPrint(CUgraph graph, const char* path, unsigned int) {
  return withGraph(__func__, graph, [&](Driver&, const std::shared_ptr<Graph>& found) {
    if (path == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::ofstream file(path);
    file << dotText(*found);
    return file.good() ? CUDA_SUCCESS : CUDA_ERROR_OPERATING_SYSTEM;
  });
}

// ---- graph memory (cudasim/graph_memory.h) ----

FASTGPU_SIM_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                   size_t count, CUDA_MEM_ALLOC_NODE_PARAMS* params) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_MEM_ALLOC, [&](Driver& driver) {
    if (params == nullptr) return Result<NodeParams>(Status(CUDA_ERROR_INVALID_VALUE, ""));
    auto made = memAllocParams(driver, *params);
    if (made) params->dptr = std::get<MemAllocNode>(*made).params.dptr;
    return made;
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphMemAllocNodeGetParams(CUgraphNode node, CUDA_MEM_ALLOC_NODE_PARAMS* out) {
  return getNode<MemAllocNode>(__func__, node, out, [&](MemAllocNode& alloc) { *out = alloc.params; });
}
FASTGPU_SIM_EXPORT CUresult cuGraphAddMemFreeNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                                                  size_t count, CUdeviceptr address) {
  return addNode(__func__, out, graph, dependencies, count, CU_GRAPH_NODE_TYPE_MEM_FREE,
                 [&](Driver& driver) { return memFreeParams(driver, address); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphMemFreeNodeGetParams(CUgraphNode node, CUdeviceptr* out) {
  return getNode<MemFreeNode>(__func__, node, out, [&](MemFreeNode& free) { *out = free.address; });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetGraphMemAttribute(CUdevice ordinal, CUgraphMem_attribute attribute, void* value) {
  return driverEntry(__func__, [&](Driver& driver) {
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto read = driver.graphMemory().attribute(*device, attribute);
    if (!read) return fail(read);
    *static_cast<cuuint64_t*>(value) = *read;
    return CUDA_SUCCESS;
  });
}
FASTGPU_SIM_EXPORT CUresult cuDeviceSetGraphMemAttribute(CUdevice ordinal, CUgraphMem_attribute attribute, void* value) {
  return driverEntry(__func__, [&](Driver& driver) {
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    if (value == nullptr || *static_cast<cuuint64_t*>(value) != 0) return CUDA_ERROR_INVALID_VALUE;
    return fail(driver.graphMemory().resetHigh(*device, attribute));
  });
}
// cudasim's graph memory is exactly what graphs hold (cudasim/graph_memory.h): nothing to trim.
FASTGPU_SIM_EXPORT CUresult cuDeviceGraphMemTrim(CUdevice ordinal) {
  return driverEntry(__func__, [&](Driver& driver) {
    return driver.device(ordinal) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
  });
}
