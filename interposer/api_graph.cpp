// Graphs through the server: what a graph is used for (instantiate, launch, update, destroy). A
// replay of a graph with host effects (capture_mirror.h) first fills the staging buffers of its
// copies from this process's memory, and when its copies to this process's memory or host
// functions exist, waits for the server's replay and then delivers them here. Building graphs node
// by node: api_graph_build.cpp.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "interposer/remote.h"
#include "interposer/shared_pinned.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

CUresult instantiate(const char* name, CUgraphExec* exec, CUgraph graph, unsigned long long flags) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (CUresult refused = refuseBorrowedGraph(rt, idOf(graph), "cuGraphInstantiate of a child graph's handle");
        refused != CUDA_SUCCESS) {
      return refused;
    }
    auto record = rt.graphRecord(idOf(graph));
    if (exec == nullptr || !record) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphInstantiate();
    request.setGraph(idOf(graph));
    request.setFlags(flags);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    rt.addGraphObject(id, *record);
    rt.setExecFlags(id, flags);
    rt.userObjects().copyOwner(idOf(graph), id);
    *exec = handleOf<CUgraphExec>(id);
    return CUDA_SUCCESS;
  });
}

CUresult withParams(const char* name, CUgraphExec* exec, CUgraph graph, CUDA_GRAPH_INSTANTIATE_PARAMS* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = instantiate(name, exec, graph, params->flags);
  params->result_out = result == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
  params->hErrNode_out = nullptr;
  return result;
}

CUresult withLog(const char* name, CUgraphExec* exec, CUgraph graph, CUgraphNode* errorNode, char* log,
                 std::size_t logBytes) {
  CUresult result = instantiate(name, exec, graph, 0);
  if (errorNode != nullptr) *errorNode = nullptr;
  if (log != nullptr && logBytes > 0) std::snprintf(log, logBytes, "%s", "");
  return result;
}

// After a replay: the captured copies' bytes land in this process's memory, then the captured host
// functions run, in capture order (the first read waits for the replay).
CUresult deliver(Runtime& rt, Client& client, const HostEffects& effects, CUstream stream, bool perThread) {
  for (const HostEffect& effect : effects) {
    if (effect.kind == HostEffect::Kind::kCopyFromHost) continue;  // before the replay
    if (effect.kind == HostEffect::Kind::kHostFunction) {
      effect.function(effect.data);
      continue;
    }
    CallMessage call(rt.currentContextId());
    auto read = call->initReadStaged();
    read.setStaging(effect.staging);
    read.setStream(idOf(stream));
    read.setPerThread(perThread);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, true);
    auto data = (*reply)->bulk();
    if (data.size() != effect.bytes) return CUDA_ERROR_UNKNOWN;
    scatterHostBytes(effect, data.data());
  }
  return client.takeDeferredError();
}

// Before a replay: the bytes of its copies from this process's memory, read now, go to their
// staging buffers once the stream's earlier work is done (the server waits for it).
void fillStaging(Runtime& rt, Client& client, const HostEffects& effects, CUstream stream, bool perThread) {
  for (const HostEffect& effect : effects) {
    if (effect.kind != HostEffect::Kind::kCopyFromHost) continue;
    CallMessage call(rt.currentContextId());
    auto write = call->initWriteStaged();
    write.setStaging(effect.staging);
    write.setStream(idOf(stream));
    write.setPerThread(perThread);
    write.setBytes(effect.bytes);
    if (!effect.strides) {
      post(client, call, std::span(static_cast<const std::uint8_t*>(effect.source), effect.bytes));
      continue;
    }
    std::vector<std::uint8_t> packed(effect.bytes);
    gatherHostBytes(effect, packed.data());
    post(client, call, packed);
  }
}

bool deliversHere(const HostEffects& effects) {
  return std::any_of(effects.begin(), effects.end(),
                     [](const HostEffect& effect) { return effect.kind != HostEffect::Kind::kCopyFromHost; });
}

CUresult launch(const char* name, CUgraphExec exec, CUstream stream, bool perThread, bool upload) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    auto record = rt.graphRecord(idOf(exec));
    if (!record) return CUDA_ERROR_INVALID_VALUE;
    // Launching a graph into a capture is not remoted (nor simulated) yet.
    if (CUresult refused = captureCheck(rt, stream, perThread, true, false); refused != CUDA_SUCCESS) return refused;
    // Checked here, as the driver checks it at the call (a posted launch would report it later).
    if (!upload && *record && !rt.launchGraphMemory(idOf(exec), **record)) return CUDA_ERROR_INVALID_VALUE;
    if (!upload && *record) fillStaging(rt, client, (*record)->effects, stream, perThread);
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphLaunch();
    request.setExec(idOf(exec));
    request.setStream(idOf(stream));
    request.setPerThread(perThread);
    request.setUpload(upload);
    post(client, call);
    // A graph whose replays reach this process's memory waits for them, as a copy to the host does.
    if (upload || !*record || !deliversHere((*record)->effects)) return CUDA_SUCCESS;
    return deliver(rt, client, (*record)->effects, stream, perThread);
  });
}

CUresult update(const char* name, CUgraphExec exec, CUgraph graph, CUgraphExecUpdateResultInfo& info) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    info = CUgraphExecUpdateResultInfo{CU_GRAPH_EXEC_UPDATE_ERROR, nullptr, nullptr};
    if (CUresult refused = refuseBorrowedGraph(rt, idOf(graph), "cuGraphExecUpdate from a child graph's handle");
        refused != CUDA_SUCCESS) {
      return refused;
    }
    if (!rt.hasGraphObject(idOf(exec)) || !rt.hasGraphObject(idOf(graph))) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphExecUpdate();
    request.setExec(idOf(exec));
    request.setGraph(idOf(graph));
    std::int64_t result = CU_GRAPH_EXEC_UPDATE_ERROR;
    if (CUresult status = askValue(client, call, &result); status != CUDA_SUCCESS) return status;
    info.result = static_cast<CUgraphExecUpdateResult>(result);
    rt.addGraphObject(idOf(exec), *rt.graphRecord(idOf(graph)));  // the new graph's copies and functions
    rt.userObjects().copyOwner(idOf(graph), idOf(exec));          // and its user-object references
    return CUDA_SUCCESS;
  });
}

// Destroys graph or executable `id`; its user-object references go with it (Runtime::
// removeGraphObject). An executable's go once its launches are done (their destructors may free
// what the launches use): `executable` with references first waits for the context's work (the
// driver defers the release instead).
template <typename SetId>
CUresult destroy(const char* name, std::uint64_t id, bool executable, SetId&& set) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    // The node that holds a borrowed child graph owns it.
    if (CUresult refused = refuseBorrowedGraph(rt, id, "cuGraphDestroy of a child graph's handle");
        refused != CUDA_SUCCESS) {
      return refused;
    }
    if (executable && rt.hasGraphObject(id) && rt.userObjects().holdsReferences(id)) awaitContextWork(rt, client);
    if (!rt.removeGraphObject(id)) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    set(call.call(), id);
    post(client, call);
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph graph, unsigned long long flags) {
  return instantiate(__func__, exec, graph, flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec* exec, CUgraph graph,
                                                            CUDA_GRAPH_INSTANTIATE_PARAMS* params) {
  return withParams(__func__, exec, graph, params);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec* exec, CUgraph graph,
                                                                 CUDA_GRAPH_INSTANTIATE_PARAMS* params) {
  return withParams(__func__, exec, graph, params);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphInstantiate(CUgraphExec* exec, CUgraph graph, CUgraphNode* errorNode, char* log,
                                                  size_t logBytes) {
  return withLog(__func__, exec, graph, errorNode, log, logBytes);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec* exec, CUgraph graph, CUgraphNode* errorNode,
                                                     char* log, size_t logBytes) {
  return withLog(__func__, exec, graph, errorNode, log, logBytes);
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream s) { return launch(__func__, exec, s, false, false); }
FASTGPU_REMOTE_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream s) {
  return launch(__func__, exec, s, true, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphUpload(CUgraphExec exec, CUstream s) { return launch(__func__, exec, s, false, true); }
FASTGPU_REMOTE_EXPORT CUresult cuGraphUpload_ptsz(CUgraphExec exec, CUstream s) {
  return launch(__func__, exec, s, true, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
  return destroy(__func__, idOf(exec), true,
                 [](wire::Call::Builder call, std::uint64_t id) { call.setGraphExecDestroy(id); });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  return destroy(__func__, idOf(graph), false,
                 [](wire::Call::Builder call, std::uint64_t id) { call.setGraphDestroy(id); });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphExecUpdate_v2(CUgraphExec exec, CUgraph graph, CUgraphExecUpdateResultInfo* info) {
  if (info == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return update(__func__, exec, graph, *info);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphExecUpdate(CUgraphExec exec, CUgraph graph, CUgraphNode* errorNode,
                                                 CUgraphExecUpdateResult* result) {
  if (errorNode == nullptr || result == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExecUpdateResultInfo info{};
  CUresult status = update(__func__, exec, graph, info);
  *errorNode = nullptr;
  *result = info.result;
  return status;
}

// Graph memory attributes, from what this process's graphs hold (Runtime::graphMemoryUsage); the
// server gives graph memory back to its GPU (trimmed) with the last graph holding it, so a trim
// has nothing left to do.
FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attribute,
                                                            void* value) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) -> CUresult {
    if (device < 0 || device >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Runtime::GraphMemoryUsage usage = rt.graphMemoryUsage();
    cuuint64_t answer = 0;
    switch (attribute) {
      case CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT: answer = usage.used; break;
      case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH: answer = usage.usedHigh; break;
      case CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT: answer = usage.reserved; break;
      case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: answer = usage.reservedHigh; break;
      default: return CUDA_ERROR_INVALID_VALUE;
    }
    *static_cast<cuuint64_t*>(value) = answer;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceSetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attribute,
                                                            void* value) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) -> CUresult {
    if (device < 0 || device >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    if (value == nullptr || *static_cast<cuuint64_t*>(value) != 0) return CUDA_ERROR_INVALID_VALUE;
    if (attribute != CU_GRAPH_MEM_ATTR_USED_MEM_HIGH && attribute != CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    rt.resetGraphMemoryHigh(attribute == CU_GRAPH_MEM_ATTR_USED_MEM_HIGH);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGraphMemTrim(CUdevice device) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) -> CUresult {
    return device >= 0 && device < rt.deviceCount() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphExecGetFlags(CUgraphExec exec, cuuint64_t* flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) -> CUresult {
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto known = rt.execFlags(idOf(exec));
    if (!known) return CUDA_ERROR_INVALID_VALUE;
    *flags = *known;
    return CUDA_SUCCESS;
  });
}
