// A graph node's parameters read or changed through the server (server/dispatch_graph_params.cpp):
// memset, copy, event record and wait nodes (in the graph and in executables), memory allocation
// and free nodes (read), an executable's child graphs. Each is a round trip, so its errors are the
// driver's, at the call. A host node's function runs here, so its parameters are the client's own
// (the graph's record, or an executable's copy of it), read and changed with no round trip; so are
// a copy node's, read back as the program described it when it was added or set here.
#include "interposer/graph_node_description.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

using Kind = wire::GraphNodeParams::Kind;

// Asks for node `node`'s parameters of `kind` (`exec` 0: the graph's node); `describe` fills the
// new ones of a set (a get passes none). A get's values come back in `values`.
template <typename Describe>
CUresult nodeParams(const char* name, CUgraphExec exec, CUgraphNode node, Kind kind, bool set, Describe&& describe,
                    std::vector<std::int64_t>* values = nullptr) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (node == nullptr || (exec != nullptr && !rt.hasGraphObject(idOf(exec)))) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphNodeParams();
    request.setExec(idOf(exec));
    request.setNode(idOf(node));
    request.setKind(kind);
    request.setSet(set);
    if (CUresult refused = describe(rt, request.initValue()); refused != CUDA_SUCCESS) return refused;
    if (values == nullptr) return askResult(client, call);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *values = valuesOf(**reply);
    return CUDA_SUCCESS;
  });
}

CUresult get(const char* name, CUgraphNode node, Kind kind, std::vector<std::int64_t>& values, std::size_t expected) {
  CUresult result = nodeParams(
      name, nullptr, node, kind, false, [](Runtime&, wire::GraphNodeAdd::Builder) { return CUDA_SUCCESS; }, &values);
  if (result == CUDA_SUCCESS && values.size() != expected) return CUDA_ERROR_UNKNOWN;
  return result;
}

CUresult setMemset(const char* name, CUgraphExec exec, CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS* p) {
  return nodeParams(name, exec, node, Kind::MEMSET, true, [&](Runtime&, wire::GraphNodeAdd::Builder value) -> CUresult {
    if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (p->elementSize != 1 && p->elementSize != 2 && p->elementSize != 4) return CUDA_ERROR_INVALID_VALUE;
    auto set = value.initMemset();
    set.setDst(p->dst);
    set.setPitch(p->pitch);
    set.setValue(p->value);
    set.setElementBytes(static_cast<std::uint8_t>(p->elementSize));
    set.setWidth(p->width);
    set.setHeight(p->height);
    return CUDA_SUCCESS;
  });
}

CUresult setEvent(const char* name, CUgraphExec exec, CUgraphNode node, CUevent event, bool record) {
  return nodeParams(name, exec, node, record ? Kind::EVENT_RECORD : Kind::EVENT_WAIT, true,
                    [&](Runtime&, wire::GraphNodeAdd::Builder value) {
                      if (record) {
                        value.setEventRecord(idOf(event));
                      } else {
                        value.setEventWait(idOf(event));
                      }
                      return CUDA_SUCCESS;
                    });
}

CUresult getEvent(const char* name, CUgraphNode node, CUevent* event, bool record) {
  if (event == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::int64_t> values;
  CUresult result = get(name, node, record ? Kind::EVENT_RECORD : Kind::EVENT_WAIT, values, 1);
  if (result == CUDA_SUCCESS) *event = handleOf<CUevent>(static_cast<std::uint64_t>(values[0]));
  return result;
}

// A copy node's parameters as the program described them here; false if it did not.
bool describedCopy(Runtime& rt, CUgraphNode node, CUDA_MEMCPY3D& out) {
  auto record = rt.graphRecord(rt.graphHoldingNode(idOf(node)));
  if (!record || !*record) return false;
  auto it = (*record)->copies.find(idOf(node));
  if (it == (*record)->copies.end()) return false;
  out = it->second;
  return true;
}

// A copy node's parameters as the server's driver holds them (a captured node), in its memory
// types: a side in this process's memory is a staging buffer there, found here by the graph's
// host effect.
CUresult copyFromServer(const char* name, CUgraphNode node, CUDA_MEMCPY3D& out) {
  std::vector<std::int64_t> values;
  CUresult result = get(name, node, Kind::MEMCPY, values, 13);
  if (result != CUDA_SUCCESS) return result;
  return remoteEntry(name, [&](Runtime& rt, Client&) -> CUresult {
    out = CUDA_MEMCPY3D{};
    out.WidthInBytes = static_cast<std::size_t>(values[10]);
    out.Height = static_cast<std::size_t>(values[11]);
    out.Depth = static_cast<std::size_t>(values[12]);
    auto side = [&](std::size_t at, CUmemorytype& type, CUdeviceptr& device, const void*& host, std::size_t& pitch,
                    std::size_t& rows) -> bool {
      type = static_cast<CUmemorytype>(values[at]);
      pitch = static_cast<std::size_t>(values[at + 3]);
      rows = static_cast<std::size_t>(values[at + 4]);
      auto address = static_cast<std::uint64_t>(values[at + 2]);
      if (values[at + 1] != 0) {
        auto effect = rt.stagedEffect(static_cast<std::uint64_t>(values[at + 1]));
        if (!effect) return false;
        const void* mine = effect->kind == HostEffect::Kind::kCopyToHost ? effect->destination : effect->source;
        address = reinterpret_cast<std::uintptr_t>(mine);
      }
      if (type == CU_MEMORYTYPE_HOST) {
        host = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(address));
      } else {
        device = address;
      }
      return true;
    };
    const void* destination = nullptr;
    if (!side(0, out.srcMemoryType, out.srcDevice, out.srcHost, out.srcPitch, out.srcHeight) ||
        !side(5, out.dstMemoryType, out.dstDevice, destination, out.dstPitch, out.dstHeight)) {
      return cudaabi::reportNotSupported("reading a copy node of memory this process does not know");
    }
    out.dstHost = const_cast<void*>(destination);
    return CUDA_SUCCESS;
  });
}

// Changes copy node `node` in executable `exec` (null: in its graph) to `p`. A side in this
// process's memory keeps its staging buffer on the server; the record's effect now copies from or
// to the new memory.
CUresult setCopy(const char* name, CUgraphExec exec, CUgraphNode node, const CUDA_MEMCPY3D* p) {
  std::optional<HostEffect> effect;
  std::vector<std::int64_t> values;
  CUresult result = nodeParams(
      name, exec, node, Kind::MEMCPY, true,
      [&](Runtime& rt, wire::GraphNodeAdd::Builder value) { return describeCopyNode(rt, value, p, effect); }, &values);
  if (result != CUDA_SUCCESS) return result;
  if (values.size() != 3) return CUDA_ERROR_UNKNOWN;
  return remoteEntry(name, [&](Runtime& rt, Client&) -> CUresult {
    std::uint64_t owner = exec != nullptr ? idOf(exec) : static_cast<std::uint64_t>(values[0]);
    rt.amendGraphRecord(owner, [&](CapturedGraph& record) {
      for (HostEffect& known : record.effects) {
        if (!effect || known.kind != effect->kind) continue;
        auto staging = static_cast<std::uint64_t>(effect->kind == HostEffect::Kind::kCopyToHost ? values[2] : values[1]);
        if (known.staging != staging) continue;
        known.destination = effect->destination;
        known.source = effect->source;
        known.bytes = effect->bytes;
      }
      if (exec == nullptr) record.copies[idOf(node)] = *p;
    });
    return CUDA_SUCCESS;
  });
}

// The host function of `node` in a graph's or an executable's record.
HostEffect* hostFunctionOf(CapturedGraph& record, CUgraphNode node) {
  for (HostEffect& effect : record.effects) {
    if (effect.node == idOf(node) && effect.kind == HostEffect::Kind::kHostFunction) return &effect;
  }
  return nullptr;
}

// Changes the host function of `node` in executable `exec`'s record (null: in its graph's).
CUresult setHost(const char* name, CUgraphExec exec, CUgraphNode node, const CUDA_HOST_NODE_PARAMS* p) {
  return remoteEntry(name, [&](Runtime& rt, Client&) -> CUresult {
    std::uint64_t owner = exec != nullptr ? idOf(exec) : rt.graphHoldingNode(idOf(node));
    if (p == nullptr || p->fn == nullptr || node == nullptr || owner == 0) return CUDA_ERROR_INVALID_VALUE;
    bool found = false;
    rt.amendGraphRecord(owner, [&](CapturedGraph& record) {
      if (HostEffect* effect = hostFunctionOf(record, node)) {
        effect->function = p->fn;
        effect->data = p->userData;
        found = true;
      }
    });
    return found ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuGraphHostNodeGetParams(CUgraphNode node, CUDA_HOST_NODE_PARAMS* p) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) -> CUresult {
    if (p == nullptr || node == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto record = rt.graphRecord(rt.graphHoldingNode(idOf(node)));
    if (!record || !*record) return CUDA_ERROR_INVALID_VALUE;
    CapturedGraph copy = **record;
    const HostEffect* effect = hostFunctionOf(copy, node);
    if (effect == nullptr) return CUDA_ERROR_INVALID_VALUE;
    p->fn = effect->function;
    p->userData = effect->data;
    return CUDA_SUCCESS;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphHostNodeSetParams(CUgraphNode node, const CUDA_HOST_NODE_PARAMS* p) {
  return setHost(__func__, nullptr, node, p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecHostNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                            const CUDA_HOST_NODE_PARAMS* p) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setHost(__func__, exec, node, p);
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphMemsetNodeGetParams(CUgraphNode node, CUDA_MEMSET_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::int64_t> values;
  CUresult result = get(__func__, node, Kind::MEMSET, values, 6);
  if (result != CUDA_SUCCESS) return result;
  p->dst = static_cast<CUdeviceptr>(values[0]);
  p->pitch = static_cast<std::size_t>(values[1]);
  p->value = static_cast<unsigned>(values[2]);
  p->elementSize = static_cast<unsigned>(values[3]);
  p->width = static_cast<std::size_t>(values[4]);
  p->height = static_cast<std::size_t>(values[5]);
  return CUDA_SUCCESS;
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphMemsetNodeSetParams(CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS* p) {
  return setMemset(__func__, nullptr, node, p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecMemsetNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                              const CUDA_MEMSET_NODE_PARAMS* p, CUcontext) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setMemset(__func__, exec, node, p);
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphEventRecordNodeGetEvent(CUgraphNode node, CUevent* event) {
  return getEvent(__func__, node, event, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphEventWaitNodeGetEvent(CUgraphNode node, CUevent* event) {
  return getEvent(__func__, node, event, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphEventRecordNodeSetEvent(CUgraphNode node, CUevent event) {
  return setEvent(__func__, nullptr, node, event, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphEventWaitNodeSetEvent(CUgraphNode node, CUevent event) {
  return setEvent(__func__, nullptr, node, event, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecEventRecordNodeSetEvent(CUgraphExec exec, CUgraphNode node, CUevent event) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setEvent(__func__, exec, node, event, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecEventWaitNodeSetEvent(CUgraphExec exec, CUgraphNode node, CUevent event) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setEvent(__func__, exec, node, event, false);
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphMemAllocNodeGetParams(CUgraphNode node, CUDA_MEM_ALLOC_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::int64_t> values;
  CUresult result = get(__func__, node, Kind::MEM_ALLOC, values, 2);
  if (result != CUDA_SUCCESS) return result;
  CUdevice device = 0;
  if (CUresult known = cuCtxGetDevice(&device); known != CUDA_SUCCESS) return known;
  // What FastGPU's allocation nodes are: pinned device memory of the current device, no peers.
  *p = CUDA_MEM_ALLOC_NODE_PARAMS{};
  p->poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  p->poolProps.location = {CU_MEM_LOCATION_TYPE_DEVICE, device};
  p->dptr = static_cast<CUdeviceptr>(values[0]);
  p->bytesize = static_cast<std::size_t>(values[1]);
  return CUDA_SUCCESS;
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphMemFreeNodeGetParams(CUgraphNode node, CUdeviceptr* address) {
  if (address == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::int64_t> values;
  CUresult result = get(__func__, node, Kind::MEM_FREE, values, 1);
  if (result == CUDA_SUCCESS) *address = static_cast<CUdeviceptr>(values[0]);
  return result;
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphMemcpyNodeGetParams(CUgraphNode node, CUDA_MEMCPY3D* p) {
  if (p == nullptr || node == nullptr) return CUDA_ERROR_INVALID_VALUE;
  bool described = false;
  CUresult result = remoteEntry(__func__, [&](Runtime& rt, Client&) {
    described = describedCopy(rt, node, *p);
    return CUDA_SUCCESS;
  });
  if (result != CUDA_SUCCESS || described) return result;
  return copyFromServer(__func__, node, *p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphMemcpyNodeSetParams(CUgraphNode node, const CUDA_MEMCPY3D* p) {
  return setCopy(__func__, nullptr, node, p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecMemcpyNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                              const CUDA_MEMCPY3D* p, CUcontext) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setCopy(__func__, exec, node, p);
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphExecChildGraphNodeSetParams(CUgraphExec exec, CUgraphNode node, CUgraph child) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return nodeParams(__func__, exec, node, Kind::CHILD_GRAPH, true,
                    [&](Runtime& rt, wire::GraphNodeAdd::Builder value) { return describeChildNode(rt, value, child); });
}

namespace {

// cuGraphNodeSetParams / cuGraphExecNodeSetParams (exec null: the graph's node): the call of the
// node's own kind. A node of another kind than `p->type` is refused by the call of that kind.
CUresult setAnyNode(CUgraphExec exec, CUgraphNode node, CUgraphNodeParams* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      const CUDA_KERNEL_NODE_PARAMS_v3& k = p->kernel;
      CUDA_KERNEL_NODE_PARAMS_v2 kernel{k.func,      k.gridDimX,      k.gridDimY,      k.gridDimZ,
                                        k.blockDimX, k.blockDimY,     k.blockDimZ,     k.sharedMemBytes,
                                        k.kernelParams, k.extra,      k.kern,          k.ctx};
      return exec != nullptr ? cuGraphExecKernelNodeSetParams_v2(exec, node, &kernel)
                             : cuGraphKernelNodeSetParams_v2(node, &kernel);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      if (p->memcpy.flags != 0 || p->memcpy.reserved != 0) return CUDA_ERROR_INVALID_VALUE;
      return exec != nullptr ? cuGraphExecMemcpyNodeSetParams(exec, node, &p->memcpy.copyParams, p->memcpy.copyCtx)
                             : cuGraphMemcpyNodeSetParams(node, &p->memcpy.copyParams);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      const CUDA_MEMSET_NODE_PARAMS_v2& m = p->memset;
      CUDA_MEMSET_NODE_PARAMS set{m.dst, m.pitch, m.value, m.elementSize, m.width, m.height};
      return exec != nullptr ? cuGraphExecMemsetNodeSetParams(exec, node, &set, m.ctx)
                             : cuGraphMemsetNodeSetParams(node, &set);
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
      CUDA_HOST_NODE_PARAMS host{p->host.fn, p->host.userData};
      return exec != nullptr ? cuGraphExecHostNodeSetParams(exec, node, &host) : cuGraphHostNodeSetParams(node, &host);
    }
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
      return exec != nullptr ? cuGraphExecEventRecordNodeSetEvent(exec, node, p->eventRecord.event)
                             : cuGraphEventRecordNodeSetEvent(node, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
      return exec != nullptr ? cuGraphExecEventWaitNodeSetEvent(exec, node, p->eventWait.event)
                             : cuGraphEventWaitNodeSetEvent(node, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_GRAPH:
      if (exec != nullptr) return cuGraphExecChildGraphNodeSetParams(exec, node, p->graph.graph);
      return cudaabi::reportNotSupported("a child graph node's graph replaced in its graph");
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE:
      return CUDA_ERROR_INVALID_VALUE;  // a memory node's allocation is fixed when it is made
    default:
      return cudaabi::reportNotSupported("setting the parameters of this kind of graph node");
  }
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeSetParams(CUgraphNode node, CUgraphNodeParams* p) {
  return setAnyNode(nullptr, node, p);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecNodeSetParams(CUgraphExec exec, CUgraphNode node, CUgraphNodeParams* p) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return setAnyNode(exec, node, p);
}
