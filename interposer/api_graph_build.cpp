// Graphs built node by node through the server (DESIGN.md decision 12; queries: api_graph_query.cpp).
// Nodes are the server's ids; each add is a round trip, so its errors are
// the driver's, at the call. What a node does in this process is kept in the graph's record
// (capture_mirror.h): a host node's function runs here when a replay reaches it (a host point,
// host_point_launches.h); a copy node from or to this process's memory copies through a staging
// buffer of the server (packed: strided rows here are gathered or scattered), filled before a
// replay or read when it is done (or at a host point it precedes).
#include <algorithm>

#include "cudaabi/checked_math.h"
#include "interposer/graph_node_description.h"
#include "interposer/remote.h"
#include "protocol/call_kinds.h"
#include "protocol/graph_edge_data.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

// What a node added here does in this process (kept in its graph's record).
struct LocalPart {
  std::optional<HostEffect> effect;
  std::uint64_t allocationBytes = 0;  // a memory allocation node
  CUdeviceptr* allocationOut = nullptr;
  CUdeviceptr freed = 0;  // a memory free node
  std::optional<CUDA_MEMCPY3D> copy;  // a copy node, as the program described it
  HostEffects childWork;               // a child graph node: its graph's host work
};

// A kernel node's description, from the launch sent for it (its parameters packed by the layout).
std::shared_ptr<const KernelNodeDescription> kernelDescription(Runtime& rt, wire::Launch::Reader launch) {
  auto description = std::make_shared<KernelNodeDescription>();
  description->function = handleOf<CUfunction>(launch.getFunction());
  for (unsigned i = 0; i < 3 && i < launch.getGrid().size() && i < launch.getBlock().size(); ++i) {
    description->grid[i] = launch.getGrid()[i];
    description->block[i] = launch.getBlock()[i];
  }
  description->sharedBytes = launch.getSharedBytes();
  description->bytes.assign(launch.getParams().begin(), launch.getParams().end());
  if (const KernelLayout* layout = rt.layout(launch.getFunction())) {
    for (const cudaabi::KernelParam& param : layout->params) {
      if (param.offset + std::uint64_t{param.size} > description->bytes.size()) break;
      description->pointers.push_back(description->bytes.data() + param.offset);
    }
  }
  return description;
}

// Sends one node add; `describe` fills the node's description (or refuses it first).
template <typename Describe>
CUresult addNode(const char* name, CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies, std::size_t count,
                 const CUgraphEdgeData* edgeData, Describe&& describe) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (CUresult refused = refuseBorrowedGraph(rt, idOf(graph), "adding a node to a child graph's handle");
        refused != CUDA_SUCCESS) {
      return refused;
    }
    if (out == nullptr || !rt.hasGraphObject(idOf(graph)) || (count > 0 && dependencies == nullptr)) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (!protocol::allDefaultEdges(edgeData, count)) return cudaabi::reportNotSupported("graph edges with data (ports, types)");
    CallMessage call(rt.currentContextId());
    auto add = call->initGraphAddNode();
    add.setGraph(idOf(graph));
    auto after = add.initDependencies(static_cast<unsigned>(count));
    for (std::size_t i = 0; i < count; ++i) after.set(static_cast<unsigned>(i), idOf(dependencies[i]));
    LocalPart local;
    if (CUresult refused = describe(rt, add, local); refused != CUDA_SUCCESS) return refused;
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.size() != 2) return CUDA_ERROR_UNKNOWN;
    auto node = static_cast<std::uint64_t>(values[0]);
    auto extra = static_cast<std::uint64_t>(values[1]);
    if (local.allocationOut != nullptr) {
      *local.allocationOut = extra;
      rt.addGraphMemory(extra, local.allocationBytes);
    }
    // Made before the record is changed: the change runs under the runtime's lock.
    auto kernel = add.isKernel() ? kernelDescription(rt, add.getKernel().asReader()) : nullptr;
    rt.amendGraphRecord(idOf(graph), [&](CapturedGraph& record) {
      if (local.effect) {
        local.effect->node = node;
        if (local.effect->kind != HostEffect::Kind::kHostFunction) local.effect->staging = extra;
        record.effects.push_back(*local.effect);
      }
      if (local.allocationOut != nullptr) {
        record.allocations.push_back(extra);
        record.leftLive.push_back(extra);
      }
      if (local.freed != 0) std::erase(record.leftLive, local.freed);
      record.effects.insert(record.effects.end(), local.childWork.begin(), local.childWork.end());
      if (kernel) record.kernels[node] = kernel;
      if (local.copy) record.copies[node] = *local.copy;
    });
    *out = handleOf<CUgraphNode>(node);
    return CUDA_SUCCESS;
  });
}

CUresult describeCopy(Runtime& rt, wire::GraphNodeAdd::Builder add, LocalPart& local, const CUDA_MEMCPY3D* p) {
  CUresult result = describeCopyNode(rt, add, p, local.effect);
  if (result == CUDA_SUCCESS) local.copy = *p;
  return result;
}

CUresult describeMemset(wire::GraphNodeAdd::Builder add, CUdeviceptr dst, std::size_t pitch, unsigned value,
                        unsigned elementSize, std::size_t width, std::size_t height) {
  if (elementSize != 1 && elementSize != 2 && elementSize != 4) return CUDA_ERROR_INVALID_VALUE;
  auto set = add.initMemset();
  set.setDst(dst);
  set.setPitch(pitch);
  set.setValue(value);
  set.setElementBytes(static_cast<std::uint8_t>(elementSize));
  set.setWidth(width);
  set.setHeight(height);
  return CUDA_SUCCESS;
}

CUresult describeHost(Runtime& rt, wire::GraphNodeAdd::Builder add, LocalPart& local, CUhostFn fn, void* data) {
  if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  local.effect = HostEffect{.kind = HostEffect::Kind::kHostFunction, .function = fn, .data = data};
  local.effect->point = rt.hostPointLaunches().nextPoint();
  add.setHost(local.effect->point);
  return CUDA_SUCCESS;
}

template <typename Params>
CUresult describeKernel(Runtime& rt, wire::Launch::Builder message, const Params& p) {
  CUfunction function = p.func;
  if constexpr (requires { p.kern; }) {
    if (function == nullptr) function = reinterpret_cast<CUfunction>(p.kern);
  }
  if (function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return describeKernelNode(rt, message, function, {p.gridDimX, p.gridDimY, p.gridDimZ},
                            {p.blockDimX, p.blockDimY, p.blockDimZ}, p.sharedMemBytes, p.kernelParams, p.extra);
}

CUresult describeAllocation(wire::GraphNodeAdd::Builder add, LocalPart& local, const CUmemPoolProps& pool,
                            std::size_t accessCount, std::size_t bytes, CUdeviceptr* out) {
  if (pool.allocType != CU_MEM_ALLOCATION_TYPE_PINNED || pool.location.type != CU_MEM_LOCATION_TYPE_DEVICE || bytes == 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (accessCount > 0) return cudaabi::reportNotSupported("graph memory nodes with peer access descriptors");
  add.setMemAlloc(bytes);
  local.allocationBytes = bytes;
  local.allocationOut = out;
  return CUDA_SUCCESS;
}

CUresult describeFree(Runtime& rt, wire::GraphNodeAdd::Builder add, LocalPart& local, CUdeviceptr address) {
  if (!rt.isGraphMemory(address)) return CUDA_ERROR_INVALID_VALUE;
  add.setMemFree(address);
  local.freed = address;
  return CUDA_SUCCESS;
}

// cuGraphAddNode(_v2): one node of any kind FastGPU remotes.
CUresult addAnyNode(const char* name, CUgraphNode* out, CUgraph graph, const CUgraphNode* dependencies,
                    const CUgraphEdgeData* edgeData, std::size_t count, CUgraphNodeParams* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNodeParams& p = *params;
  return addNode(name, out, graph, dependencies, count, edgeData,
                 [&](Runtime& rt, wire::GraphNodeAdd::Builder add, LocalPart& local) -> CUresult {
                   switch (p.type) {
                     case CU_GRAPH_NODE_TYPE_KERNEL:
                       return describeKernel(rt, add.initKernel(), p.kernel);
                     case CU_GRAPH_NODE_TYPE_MEMCPY:
                       return describeCopy(rt, add, local, &p.memcpy.copyParams);
                     case CU_GRAPH_NODE_TYPE_MEMSET:
                       return describeMemset(add, p.memset.dst, p.memset.pitch, p.memset.value, p.memset.elementSize,
                                             p.memset.width, p.memset.height);
                     case CU_GRAPH_NODE_TYPE_HOST:
                       return describeHost(rt, add, local, p.host.fn, p.host.userData);
                     case CU_GRAPH_NODE_TYPE_GRAPH:
                       if (p.graph.ownership != CU_GRAPH_CHILD_GRAPH_OWNERSHIP_CLONE) {
                         return cudaabi::reportNotSupported("child graph nodes that take their graph (ownership move)");
                       }
                       return describeChildNode(rt, add, p.graph.graph, &local.childWork);
                     case CU_GRAPH_NODE_TYPE_EMPTY:
                       add.setEmpty();
                       return CUDA_SUCCESS;
                     case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
                       add.setEventRecord(idOf(p.eventRecord.event));
                       return CUDA_SUCCESS;
                     case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
                       add.setEventWait(idOf(p.eventWait.event));
                       return CUDA_SUCCESS;
                     case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
                       return describeAllocation(add, local, p.alloc.poolProps, p.alloc.accessDescCount,
                                                 p.alloc.bytesize, &p.alloc.dptr);
                     case CU_GRAPH_NODE_TYPE_MEM_FREE:
                       return describeFree(rt, add, local, p.free.dptr);
                     default:
                       return cudaabi::reportNotSupported("graph nodes of this type (cuGraphAddNode)");
                   }
                 });
}

CUresult changeEdges(const char* name, CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                     const CUgraphEdgeData* data, std::size_t count, bool remove) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (CUresult refused = refuseBorrowedGraph(rt, idOf(graph), "changing the edges of a child graph's handle");
        refused != CUDA_SUCCESS) {
      return refused;
    }
    if (!rt.hasGraphObject(idOf(graph)) || (count > 0 && (from == nullptr || to == nullptr))) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (!protocol::allDefaultEdges(data, count)) return cudaabi::reportNotSupported("graph edges with data (ports, types)");
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphEdges();
    request.setGraph(idOf(graph));
    request.setRemove(remove);
    auto fromIds = request.initFrom(static_cast<unsigned>(count));
    auto toIds = request.initTo(static_cast<unsigned>(count));
    for (std::size_t i = 0; i < count; ++i) {
      fromIds.set(static_cast<unsigned>(i), idOf(from[i]));
      toIds.set(static_cast<unsigned>(i), idOf(to[i]));
    }
    return askResult(client, call);
  });
}

template <typename Params>
CUresult setKernel(const char* name, CUgraphExec exec, CUgraphNode node, const Params* params) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (params == nullptr || node == nullptr || (exec != nullptr && !rt.hasGraphObject(idOf(exec)))) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    CallMessage call(rt.currentContextId());
    auto set = call->initGraphKernelSet();
    set.setExec(idOf(exec));
    set.setNode(idOf(node));
    if (CUresult refused = describeKernel(rt, set.initLaunch(), *params); refused != CUDA_SUCCESS) return refused;
    if (CUresult result = askResult(client, call); result != CUDA_SUCCESS) return result;
    // What the node reads back: the graph's (an executable's change stays the executable's).
    if (exec == nullptr) {
      auto description = kernelDescription(rt, set.getLaunch().asReader());
      if (std::uint64_t graph = rt.graphHoldingNode(idOf(node)); graph != 0) {
        rt.amendGraphRecord(graph, [&](CapturedGraph& record) { record.kernels[idOf(node)] = description; });
      }
    }
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuGraphCreate(CUgraph* graph, unsigned int flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (graph == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setGraphCreate(flags);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    rt.addGraphObject(id, nullptr);
    *graph = handleOf<CUgraph>(id);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphClone(CUgraph* clone, CUgraph original) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (CUresult refused = refuseBorrowedGraph(rt, idOf(original), "cuGraphClone of a child graph's handle");
        refused != CUDA_SUCCESS) {
      return refused;
    }
    auto record = rt.graphRecord(idOf(original));
    if (clone == nullptr || !record) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setGraphClone(idOf(original));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    rt.addGraphObject(id, *record);
    // The clone's nodes have ids of their own: its effects are no longer the original nodes'.
    rt.amendGraphRecord(id, [](CapturedGraph& copy) {
      for (HostEffect& effect : copy.effects) effect.node = 0;
      copy.kernels.clear();
      copy.copies.clear();
    });
    rt.userObjects().copyOwner(idOf(original), id);
    *clone = handleOf<CUgraph>(id);
    return CUDA_SUCCESS;
  });
}

namespace {

// Node `node` of a clone is node `original` of the graph it was cloned from (record `from`): its
// description and effects carry over (the clone's effects are the original's, in the same order).
void learnClonedNode(const CapturedGraph& from, std::uint64_t original, CapturedGraph& clone, std::uint64_t node) {
  if (auto it = from.kernels.find(original); it != from.kernels.end()) clone.kernels[node] = it->second;
  if (auto it = from.copies.find(original); it != from.copies.end()) clone.copies[node] = it->second;
  for (std::size_t i = 0; i < from.effects.size() && i < clone.effects.size(); ++i) {
    if (from.effects[i].node == original && clone.effects[i].staging == from.effects[i].staging) {
      clone.effects[i].node = node;
    }
  }
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeFindInClone(CUgraphNode* found, CUgraphNode original, CUgraph clone) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (found == nullptr || original == nullptr || !rt.hasGraphObject(idOf(clone))) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphFindInClone();
    request.setNode(idOf(original));
    request.setClone(idOf(clone));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t node = (*reply)->get().getHandle();
    // What the original node's graph keeps of it, the clone's node now has too.
    auto held = rt.graphRecord(rt.graphHoldingNode(idOf(original)));
    if (held && *held) {
      std::shared_ptr<const CapturedGraph> from = *held;
      rt.amendGraphRecord(idOf(clone), [&](CapturedGraph& record) { learnClonedNode(*from, idOf(original), record, node); });
    }
    *found = handleOf<CUgraphNode>(node);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                       size_t count, const CUDA_KERNEL_NODE_PARAMS* params) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime& rt, auto add, LocalPart&) -> CUresult {
    return params == nullptr ? CUDA_ERROR_INVALID_VALUE : describeKernel(rt, add.initKernel(), *params);
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddKernelNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                    size_t count, const CUDA_KERNEL_NODE_PARAMS_v1* params) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime& rt, auto add, LocalPart&) -> CUresult {
    return params == nullptr ? CUDA_ERROR_INVALID_VALUE : describeKernel(rt, add.initKernel(), *params);
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddMemcpyNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                    size_t count, const CUDA_MEMCPY3D* params, CUcontext) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime& rt, auto add, LocalPart& local) {
    return describeCopy(rt, add, local, params);
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddMemsetNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                    size_t count, const CUDA_MEMSET_NODE_PARAMS* p, CUcontext) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime&, auto add, LocalPart&) -> CUresult {
    if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return describeMemset(add, p->dst, p->pitch, p->value, p->elementSize, p->width, p->height);
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddHostNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                  size_t count, const CUDA_HOST_NODE_PARAMS* p) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime& rt, auto add, LocalPart& local) -> CUresult {
    return p == nullptr ? CUDA_ERROR_INVALID_VALUE : describeHost(rt, add, local, p->fn, p->userData);
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddChildGraphNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                        size_t count, CUgraph child) {
  return addNode(__func__, out, graph, deps, count, nullptr,
                 [&](Runtime& rt, auto add, LocalPart& local) {
                   return describeChildNode(rt, add, child, &local.childWork);
                 });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddEmptyNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                   size_t count) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime&, auto add, LocalPart&) {
    add.setEmpty();
    return CUDA_SUCCESS;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddEventRecordNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                         size_t count, CUevent event) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime&, auto add, LocalPart&) {
    add.setEventRecord(idOf(event));
    return CUDA_SUCCESS;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddEventWaitNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                       size_t count, CUevent event) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime&, auto add, LocalPart&) {
    add.setEventWait(idOf(event));
    return CUDA_SUCCESS;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                      size_t count, CUDA_MEM_ALLOC_NODE_PARAMS* p) {
  return addNode(__func__, out, graph, deps, count, nullptr, [&](Runtime&, auto add, LocalPart& local) -> CUresult {
    if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return describeAllocation(add, local, p->poolProps, p->accessDescCount, p->bytesize, &p->dptr);
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddMemFreeNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                     size_t count, CUdeviceptr address) {
  return addNode(__func__, out, graph, deps, count, nullptr,
                 [&](Runtime& rt, auto add, LocalPart& local) { return describeFree(rt, add, local, address); });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps, size_t count,
                                              CUgraphNodeParams* params) {
  return addAnyNode(__func__, out, graph, deps, nullptr, count, params);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddNode_v2(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                                 const CUgraphEdgeData* edgeData, size_t count,
                                                 CUgraphNodeParams* params) {
  return addAnyNode(__func__, out, graph, deps, edgeData, count, params);
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphAddDependencies(CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                                                      size_t count) {
  return changeEdges(__func__, graph, from, to, nullptr, count, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphAddDependencies_v2(CUgraph graph, const CUgraphNode* from,
                                                         const CUgraphNode* to, const CUgraphEdgeData* data,
                                                         size_t count) {
  return changeEdges(__func__, graph, from, to, data, count, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphRemoveDependencies(CUgraph graph, const CUgraphNode* from,
                                                         const CUgraphNode* to, size_t count) {
  return changeEdges(__func__, graph, from, to, nullptr, count, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphRemoveDependencies_v2(CUgraph graph, const CUgraphNode* from,
                                                            const CUgraphNode* to, const CUgraphEdgeData* data,
                                                            size_t count) {
  return changeEdges(__func__, graph, from, to, data, count, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphDestroyNode(CUgraphNode node) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (node == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setGraphDestroyNode(idOf(node));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    rt.amendGraphRecord((*reply)->get().getHandle(), [&](CapturedGraph& record) {
      std::erase_if(record.effects, [&](const HostEffect& effect) { return effect.node == idOf(node); });
      record.kernels.erase(idOf(node));
    });
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS* p) {
  return setKernel(__func__, nullptr, node, p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphKernelNodeSetParams(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1* p) {
  return setKernel(__func__, nullptr, node, p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec exec, CUgraphNode node,
                                                                 const CUDA_KERNEL_NODE_PARAMS* p) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setKernel(__func__, exec, node, p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecKernelNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                              const CUDA_KERNEL_NODE_PARAMS_v1* p) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setKernel(__func__, exec, node, p);
}

// Node enabling in an executable. A node whose work lands in this process (a host node, a copy of
// this process's memory) cannot be disabled: the client would still deliver it after the replay.
FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeSetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int enabled) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    auto record = rt.graphRecord(idOf(exec));
    if (!record || node == nullptr) return CUDA_ERROR_INVALID_VALUE;
    bool local = *record && std::any_of((*record)->effects.begin(), (*record)->effects.end(),
                                        [&](const HostEffect& effect) { return effect.node == idOf(node); });
    if (local && enabled == 0) return cudaabi::reportNotSupported("disabling a graph node whose work lands in the client");
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphNodeEnabled();
    request.setExec(idOf(exec));
    request.setNode(idOf(node));
    request.setSet(true);
    request.setEnabled(enabled != 0);
    return askResult(client, call);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeGetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int* enabled) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (enabled == nullptr || node == nullptr || !rt.hasGraphObject(idOf(exec))) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphNodeEnabled();
    request.setExec(idOf(exec));
    request.setNode(idOf(node));
    std::int64_t value = 0;
    if (CUresult result = askValue(client, call, &value); result != CUDA_SUCCESS) return result;
    *enabled = static_cast<unsigned>(value);
    return CUDA_SUCCESS;
  });
}

// A kernel node the program did not describe (a capture made it): its description from the
// server, kept in its graph's record, where the parameters' storage lives as the driver's does.
std::shared_ptr<const KernelNodeDescription> fetchKernelNode(Runtime& rt, Client& client, std::uint64_t node,
                                                             CUresult& result) {
  CallMessage call(rt.currentContextId());
  auto query = call->initGraphQuery();
  query.setSubject(node);
  query.setWhat(wire::GraphQuery::What::KERNEL);
  auto reply = ask(client, call);
  result = resultOf(client, reply, false);
  if (result != CUDA_SUCCESS) return nullptr;
  std::vector<std::int64_t> values = valuesOf(**reply);
  const KernelLayout* layout = values.size() >= 10 ? rt.layout(static_cast<std::uint64_t>(values[1])) : nullptr;
  auto paramBytes = values.size() >= 10 ? static_cast<std::uint64_t>(values[9]) : 0;
  if (layout == nullptr || values.size() != 10 + (paramBytes + 7) / 8) {
    result = CUDA_ERROR_UNKNOWN;
    return nullptr;
  }
  auto d = std::make_shared<KernelNodeDescription>();
  d->function = handleOf<CUfunction>(static_cast<std::uint64_t>(values[1]));
  for (int i = 0; i < 3; ++i) {
    d->grid[i] = static_cast<unsigned>(values[2 + i]);
    d->block[i] = static_cast<unsigned>(values[5 + i]);
  }
  d->sharedBytes = static_cast<unsigned>(values[8]);
  d->bytes.resize(paramBytes);
  for (std::uint64_t at = 0; at < paramBytes; at += 8) {
    std::memcpy(d->bytes.data() + at, &values[10 + at / 8], std::min<std::uint64_t>(8, paramBytes - at));
  }
  for (const auto& param : layout->params) {
    if (param.offset + param.size > d->bytes.size()) {
      result = CUDA_ERROR_UNKNOWN;
      return nullptr;
    }
    d->pointers.push_back(d->bytes.data() + param.offset);
  }
  std::uint64_t graph = static_cast<std::uint64_t>(values[0]);
  if (!rt.amendGraphRecord(graph, [&](CapturedGraph& record) { record.kernels[node] = d; })) {
    result = CUDA_ERROR_INVALID_VALUE;  // the parameters' storage must live with the graph
    return nullptr;
  }
  return d;
}

// A kernel node's parameters as the program last described them in its graph, or as the server's
// driver holds them for a node the program did not describe (a capture made it).
template <typename Params>
CUresult getKernel(const char* name, CUgraphNode node, Params* out) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (out == nullptr || node == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto record = rt.graphRecord(rt.graphHoldingNode(idOf(node)));
    std::shared_ptr<const KernelNodeDescription> described;
    if (record && *record && (*record)->kernels.count(idOf(node)) != 0) described = (*record)->kernels.at(idOf(node));
    CUresult fetched = CUDA_SUCCESS;
    if (!described) described = fetchKernelNode(rt, client, idOf(node), fetched);
    if (!described) return fetched;
    const KernelNodeDescription& d = *described;
    *out = Params{};
    out->func = d.function;
    out->gridDimX = d.grid[0], out->gridDimY = d.grid[1], out->gridDimZ = d.grid[2];
    out->blockDimX = d.block[0], out->blockDimY = d.block[1], out->blockDimZ = d.block[2];
    out->sharedMemBytes = d.sharedBytes;
    out->kernelParams = const_cast<void**>(d.pointers.data());
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS* p) {
  return getKernel(__func__, node, p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphKernelNodeGetParams(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS_v1* p) {
  return getKernel(__func__, node, p);
}
