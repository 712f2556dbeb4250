// A graph node's parameters read or changed through the server (server/dispatch_graph_params.cpp):
// memset, event record and wait nodes (in the graph and in executables), memory allocation and
// free nodes (read). Each is a round trip, so its errors are the driver's, at the call. A host
// node's function runs here, so its parameters are the client's own (the graph's record, or an
// executable's copy of it), read and changed with no round trip.
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
