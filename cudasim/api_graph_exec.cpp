// Executable graphs (cudasim/graph.h): instantiation, launch, per-node updates of an executable,
// whole-graph update (cuGraphExecUpdate) and destruction.
#include "cudasim/graph_api.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

constexpr unsigned long long kKnownInstantiateFlags =
    CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |
    CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;

struct Instantiated {
  CUgraphInstantiateResult result = CUDA_GRAPH_INSTANTIATE_SUCCESS;
  CUgraphNode errorNode = nullptr;
};

CUresult instantiate(const char* name, CUgraphExec* out, CUgraph graphHandle, unsigned long long flags,
                     Instantiated& report) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    report.result = CUDA_GRAPH_INSTANTIATE_ERROR;
    if (out == nullptr || (flags & ~kKnownInstantiateFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    if ((flags & CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH) != 0) {
      report.result = CUDA_GRAPH_INSTANTIATE_NODE_OPERATION_NOT_SUPPORTED;
      return fail(Status(CUDA_ERROR_NOT_SUPPORTED, "cudasim cannot launch graphs from the device"));
    }
    std::lock_guard lock(driver.captures().mutex());
    auto graph = driver.handles().find<Graph>(HandleKind::kGraph, graphHandle);
    if (!graph) return CUDA_ERROR_INVALID_VALUE;
    std::map<const GraphNode*, GraphNode*> mapping;
    auto copy = graph->clone(&mapping);
    auto order = executionOrder(*copy);
    if (!order) {
      report.result = CUDA_GRAPH_INSTANTIATE_INVALID_STRUCTURE;
      return fail(order);
    }
    std::map<std::uint64_t, GraphNode*> byOriginal;
    for (const auto& [original, node] : mapping) byOriginal[original->handle()] = node;
    auto exec = std::make_shared<GraphExec>(std::move(copy), std::move(byOriginal), std::move(*order), flags,
                                            (*context)->handle());
    driver.handles().add(HandleKind::kGraphExec, exec);
    driver.userObjects().copyOwner(graph->handle(), exec->handle());
    *out = toHandle<CUgraphExec>(exec->handle());
    report.result = CUDA_GRAPH_INSTANTIATE_SUCCESS;
    return CUDA_SUCCESS;
  });
}

CUresult instantiateWithParams(const char* name, CUgraphExec* out, CUgraph graph, CUDA_GRAPH_INSTANTIATE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Instantiated report;
  CUresult result = instantiate(name, out, graph, p->flags, report);
  p->result_out = report.result;
  p->hErrNode_out = report.errorNode;
  return result;
}

CUresult instantiateWithLog(const char* name, CUgraphExec* out, CUgraph graph, CUgraphNode* errorNode, char* log,
                            std::size_t logBytes) {
  Instantiated report;
  CUresult result = instantiate(name, out, graph, 0, report);
  if (errorNode != nullptr) *errorNode = report.errorNode;
  if (log != nullptr && logBytes > 0) {
    const char* text = result == CUDA_SUCCESS ? "" : "cudasim: the graph cannot be instantiated (see FASTGPU_LOG=debug)";
    std::snprintf(log, logBytes, "%s", text);
  }
  return result;
}

// Queues the executable's nodes on `stream`, in its order. The events its nodes name must be
// alive; disabled nodes do nothing.
CUresult enqueueGraph(Driver& driver, GraphExec& exec, Stream& stream) {
  std::vector<std::shared_ptr<Event>> events(exec.order().size());
  bool freeOnLaunch = (exec.flags() & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH) != 0;
  for (std::size_t i = 0; i < exec.order().size(); ++i) {
    if (const auto* event = std::get_if<EventNode>(&exec.order()[i]->params())) {
      events[i] = driver.handles().find<Event>(HandleKind::kEvent, event->event);
      if (!events[i]) return fail(Status(CUDA_ERROR_INVALID_HANDLE, "a node's event was destroyed"));
    }
    const auto* alloc = std::get_if<MemAllocNode>(&exec.order()[i]->params());
    if (alloc != nullptr && alloc->allocation->live() && !freeOnLaunch) {
      return fail(Status(CUDA_ERROR_INVALID_VALUE, "the graph's allocation from its last launch was not freed"));
    }
  }
  Context& context = stream.context();
  Operation start;  // launches of one executable run one after another
  if (exec.lastLaunch()) start.waitFor.push_back(exec.lastLaunch());
  context.enqueue(stream, std::move(start));
  for (std::size_t i = 0; i < exec.order().size(); ++i) {
    GraphNode& node = *exec.order()[i];
    if (!node.enabled()) continue;
    if (const auto* kernel = std::get_if<KernelNode>(&node.params())) {
      context.enqueue(stream, kernelOperation(kernel->launch));
    } else if (const auto* copy = std::get_if<CopyNode>(&node.params())) {
      context.enqueue(stream, copyOperation(copy->copy));
    } else if (const auto* memset = std::get_if<MemsetNode>(&node.params())) {
      context.enqueue(stream, memsetOperation(memset->params));
    } else if (const auto* host = std::get_if<HostNode>(&node.params())) {
      context.enqueue(stream, hostOperation(host->function, host->userData));
    } else if (const auto* memOps = std::get_if<MemOpNode>(&node.params())) {
      context.enqueue(stream, Operation{Operation::Kind::kHostWork, memOps->run, {}});
    } else if (node.type() == CU_GRAPH_NODE_TYPE_EVENT_RECORD) {
      events[i]->setRecord(context.enqueue(stream, Operation{Operation::Kind::kHostWork, {}, {}}));
    } else if (const auto* alloc = std::get_if<MemAllocNode>(&node.params())) {
      alloc->allocation->setLive(true);  // its memory exists already: the node only makes it the graph's again
    } else if (const auto* free = std::get_if<MemFreeNode>(&node.params())) {
      if (auto allocation = driver.graphMemory().find(free->address)) allocation->setLive(false);
    } else if (node.type() == CU_GRAPH_NODE_TYPE_WAIT_EVENT) {
      Operation wait;
      if (auto record = events[i]->lastRecord()) wait.waitFor.push_back(std::move(record));
      context.enqueue(stream, std::move(wait));
    }
  }
  exec.lastLaunch() = context.enqueue(stream, Operation{Operation::Kind::kHostWork, {}, {}});
  return CUDA_SUCCESS;
}

CUresult launch(const char* name, CUgraphExec handle, CUstream streamHandle, DefaultStream nullMeans, bool run) {
  return withStream(name, streamHandle, nullMeans, [&](Driver& driver, Stream& stream) -> CUresult {
    // Launching a graph into a capture (a child graph node) is not simulated yet.
    if (Status status = driver.captures().refuseIfCapturing(stream); !status) return fail(status);
    auto implicit = driver.captures().route(stream, CU_GRAPH_NODE_TYPE_EMPTY, [] { return EmptyNode{}; });
    if (!implicit) return fail(implicit);
    std::lock_guard lock(driver.captures().mutex());
    auto exec = driver.handles().find<GraphExec>(HandleKind::kGraphExec, handle);
    if (!exec) return CUDA_ERROR_INVALID_VALUE;
    if (exec->contextHandle() != stream.context().handle()) return CUDA_ERROR_INVALID_VALUE;
    return run ? enqueueGraph(driver, *exec, stream) : CUDA_SUCCESS;  // an upload has nothing to move
  });
}

template <typename Body>
CUresult withExecNode(const char* name, CUgraphExec execHandle, CUgraphNode nodeHandle, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    std::lock_guard lock(driver.captures().mutex());
    auto exec = driver.handles().find<GraphExec>(HandleKind::kGraphExec, execHandle);
    GraphNode* node = exec ? exec->nodeFor(reinterpret_cast<std::uintptr_t>(nodeHandle)) : nullptr;
    if (node == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return body(driver, *node);
  });
}

// Replaces an executable node's parameters with `make(driver)`'s, of the same node type.
template <typename Make>
CUresult setExecNode(const char* name, CUgraphExec exec, CUgraphNode node, CUgraphNodeType type, Make&& make) {
  return withExecNode(name, exec, node, [&](Driver& driver, GraphNode& found) {
    if (found.type() != type) return CUDA_ERROR_INVALID_VALUE;
    Result<NodeParams> params = make(driver);
    if (!params) return fail(params);
    replaceParams(found, std::move(*params));
    return CUDA_SUCCESS;
  });
}

// Copies every node's parameters from `from` into `into` (same topology), child graphs included.
void takeParams(Graph& into, const Graph& from) {
  for (std::size_t i = 0; i < into.nodes().size(); ++i) {
    auto& target = *into.nodes()[i];
    const auto& source = *from.nodes()[i];
    auto* childInto = std::get_if<ChildGraphNode>(&target.params());
    if (childInto != nullptr) {
      takeParams(*childInto->graph, *std::get<ChildGraphNode>(source.params()).graph);
      continue;
    }
    target.params() = source.params();
    if (auto* kernel = std::get_if<KernelNode>(&target.params())) refreshArgumentPointers(*kernel);
  }
}

CUresult update(const char* name, CUgraphExec execHandle, CUgraph graphHandle, CUgraphExecUpdateResultInfo& info) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    std::lock_guard lock(driver.captures().mutex());
    info = CUgraphExecUpdateResultInfo{CU_GRAPH_EXEC_UPDATE_ERROR, nullptr, nullptr};
    auto exec = driver.handles().find<GraphExec>(HandleKind::kGraphExec, execHandle);
    auto graph = driver.handles().find<Graph>(HandleKind::kGraph, graphHandle);
    if (!exec || !graph) return CUDA_ERROR_INVALID_VALUE;
    const GraphNode* mismatch = nullptr;
    if (!exec->graph().sameTopology(*graph, &mismatch)) {
      bool typeChanged = exec->graph().nodes().size() == graph->nodes().size() && mismatch != nullptr;
      info.result = typeChanged ? CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED : CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
      info.errorNode = mismatch != nullptr && mismatch->handle() != 0 ? handleOf(mismatch) : nullptr;
      return CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
    }
    if (!sameMemoryNodes(exec->graph(), *graph)) {
      info.result = CU_GRAPH_EXEC_UPDATE_ERROR_NOT_SUPPORTED;
      return CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
    }
    takeParams(exec->graph(), *graph);
    driver.userObjects().copyOwner(graph->handle(), exec->handle());  // the new graph's references replace its own
    info.result = CU_GRAPH_EXEC_UPDATE_SUCCESS;
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec* out, CUgraph graph, unsigned long long flags) {
  Instantiated report;
  return instantiate(__func__, out, graph, flags, report);
}
FASTGPU_SIM_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec* out, CUgraph graph,
                                                         CUDA_GRAPH_INSTANTIATE_PARAMS* params) {
  return instantiateWithParams(__func__, out, graph, params);
}
FASTGPU_SIM_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec* out, CUgraph graph,
                                                              CUDA_GRAPH_INSTANTIATE_PARAMS* params) {
  return instantiateWithParams(__func__, out, graph, params);
}
FASTGPU_SIM_EXPORT CUresult cuGraphInstantiate(CUgraphExec* out, CUgraph graph, CUgraphNode* errorNode, char* log,
                                               size_t logBytes) {
  return instantiateWithLog(__func__, out, graph, errorNode, log, logBytes);
}
FASTGPU_SIM_EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec* out, CUgraph graph, CUgraphNode* errorNode, char* log,
                                                  size_t logBytes) {
  return instantiateWithLog(__func__, out, graph, errorNode, log, logBytes);
}

FASTGPU_SIM_EXPORT CUresult cuGraphExecGetFlags(CUgraphExec handle, cuuint64_t* flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto exec = driver.handles().find<GraphExec>(HandleKind::kGraphExec, handle);
    if (!exec || flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *flags = exec->flags();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  return launch(__func__, exec, stream, DefaultStream::kLegacy, true);
}
FASTGPU_SIM_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream) {
  return launch(__func__, exec, stream, DefaultStream::kPerThread, true);
}
FASTGPU_SIM_EXPORT CUresult cuGraphUpload(CUgraphExec exec, CUstream stream) {
  return launch(__func__, exec, stream, DefaultStream::kLegacy, false);
}
FASTGPU_SIM_EXPORT CUresult cuGraphUpload_ptsz(CUgraphExec exec, CUstream stream) {
  return launch(__func__, exec, stream, DefaultStream::kPerThread, false);
}

FASTGPU_SIM_EXPORT CUresult cuGraphExecDestroy(CUgraphExec handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    std::lock_guard lock(driver.captures().mutex());
    auto exec = driver.handles().find<GraphExec>(HandleKind::kGraphExec, handle);
    if (!exec) return CUDA_ERROR_INVALID_VALUE;
    driver.handles().remove(exec->handle());  // queued launches own their operations
    // Its user-object references go once its launches are done (their destructors may free what
    // the launches use).
    if (driver.userObjects().holdsReferences(exec->handle())) {
      driver.userObjects().dropOwnerAfter(exec->handle(), [&progress = driver.progress(), last = exec->lastLaunch()] {
        if (last) progress.wait(*last);
      });
    }
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec exec, CUgraphNode node,
                                                              const CUDA_KERNEL_NODE_PARAMS_v2* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setExecNode(__func__, exec, node, CU_GRAPH_NODE_TYPE_KERNEL,
                     [&](Driver& driver) { return kernelParams(driver, *params); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecKernelNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                           const CUDA_KERNEL_NODE_PARAMS_v1* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS_v2 wide = widen(*p);
  return cuGraphExecKernelNodeSetParams_v2(exec, node, &wide);
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecMemcpyNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                           const CUDA_MEMCPY3D* params, CUcontext) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setExecNode(__func__, exec, node, CU_GRAPH_NODE_TYPE_MEMCPY,
                     [&](Driver& driver) { return copyParams(driver, *params); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecMemsetNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                           const CUDA_MEMSET_NODE_PARAMS* params, CUcontext) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setExecNode(__func__, exec, node, CU_GRAPH_NODE_TYPE_MEMSET,
                     [&](Driver& driver) { return memsetParams(driver, *params); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecHostNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                         const CUDA_HOST_NODE_PARAMS* params) {
  if (params == nullptr || params->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setExecNode(__func__, exec, node, CU_GRAPH_NODE_TYPE_HOST,
                     [&](Driver&) { return Result<NodeParams>(NodeParams{HostNode{params->fn, params->userData}}); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecChildGraphNodeSetParams(CUgraphExec exec, CUgraphNode node, CUgraph child) {
  return withExecNode(__func__, exec, node, [&](Driver& driver, GraphNode& found) {
    auto* into = std::get_if<ChildGraphNode>(&found.params());
    auto graph = driver.handles().find<Graph>(HandleKind::kGraph, child);
    const GraphNode* mismatch = nullptr;
    // The executable's child keeps its shape; only its nodes' parameters change.
    if (into == nullptr || !graph || !into->graph->sameTopology(*graph, &mismatch)) return CUDA_ERROR_INVALID_VALUE;
    takeParams(*into->graph, *graph);
    return CUDA_SUCCESS;
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecNodeSetParams(CUgraphExec exec, CUgraphNode node, CUgraphNodeParams* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (params->type) {
    case CU_GRAPH_NODE_TYPE_GRAPH:
      return cuGraphExecChildGraphNodeSetParams(exec, node, params->graph.graph);
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE:
      return CUDA_ERROR_INVALID_VALUE;  // an executable's memory nodes are fixed
    default:
      return setExecNode(__func__, exec, node, params->type, [&](Driver& driver) { return genericParams(driver, *params); });
  }
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecEventRecordNodeSetEvent(CUgraphExec exec, CUgraphNode node, CUevent event) {
  return setExecNode(__func__, exec, node, CU_GRAPH_NODE_TYPE_EVENT_RECORD,
                     [&](Driver& driver) { return eventParams(driver, event); });
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecEventWaitNodeSetEvent(CUgraphExec exec, CUgraphNode node, CUevent event) {
  return setExecNode(__func__, exec, node, CU_GRAPH_NODE_TYPE_WAIT_EVENT,
                     [&](Driver& driver) { return eventParams(driver, event); });
}

FASTGPU_SIM_EXPORT CUresult cuGraphNodeSetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int enabled) {
  return withExecNode(__func__, exec, node, [&](Driver&, GraphNode& found) {
    bool switchable = found.type() == CU_GRAPH_NODE_TYPE_KERNEL || found.type() == CU_GRAPH_NODE_TYPE_MEMCPY ||
                      found.type() == CU_GRAPH_NODE_TYPE_MEMSET;
    if (!switchable) return CUDA_ERROR_INVALID_VALUE;
    found.setEnabled(enabled != 0);
    return CUDA_SUCCESS;
  });
}
FASTGPU_SIM_EXPORT CUresult cuGraphNodeGetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int* enabled) {
  return withExecNode(__func__, exec, node, [&](Driver&, GraphNode& found) {
    if (enabled == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *enabled = found.enabled() ? 1 : 0;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphExecUpdate_v2(CUgraphExec exec, CUgraph graph, CUgraphExecUpdateResultInfo* info) {
  if (info == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return update(__func__, exec, graph, *info);
}
FASTGPU_SIM_EXPORT CUresult cuGraphExecUpdate(CUgraphExec exec, CUgraph graph, CUgraphNode* errorNode,
                                              CUgraphExecUpdateResult* result) {
  if (errorNode == nullptr || result == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExecUpdateResultInfo info{};
  CUresult status = update(__func__, exec, graph, info);
  *errorNode = info.errorNode;
  *result = info.result;
  return status;
}
