// Graphs through the server: what a graph is used for (instantiate, launch, update, destroy). A
// replay of a graph with host effects (capture_mirror.h) first fills the staging buffers of its
// copies from this process's memory; when it has host functions, the launch runs them as the
// replay reaches them (host_point_launches.h) until the replay is done; copies to this process's
// memory are delivered at the host points they precede or once the replay is done, for which the
// launch waits, as a copy to the host does. Building graphs node by node: api_graph_build.cpp.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "cudaabi/log.h"
#include "interposer/remote.h"
#include "interposer/shared_pinned.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

// An executable's record: its graph's, with the copies before and after each host point, as pairs
// after the first value of the server's reply.
std::shared_ptr<const CapturedGraph> withPointCopies(std::shared_ptr<const CapturedGraph> record,
                                                            const std::vector<std::int64_t>& values) {
  if (values.size() < 3 || !record) return record;
  auto amended = std::make_shared<CapturedGraph>(*record);
  amended->pointCopies.clear();
  for (std::size_t i = 1; i + 1 < values.size(); i += 2) {
    amended->pointCopies.emplace(static_cast<std::uint32_t>(values[i]), static_cast<std::uint64_t>(values[i + 1]));
  }
  return amended;
}

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
    auto values = valuesOf(**reply);
    if (values.empty() || values.size() % 2 != 1) return CUDA_ERROR_UNKNOWN;
    auto id = static_cast<std::uint64_t>(values[0]);
    rt.addGraphObject(id, withPointCopies(*record, values));
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

// Names a copy's staging buffer and the stream whose work it waits for (or not) in a StagedRead
// or StagedWrite.
template <typename Staged>
void nameStaged(Staged staged, const HostEffect& effect, CUstream stream, bool perThread, bool wait) {
  staged.setStaging(effect.staging);
  staged.setStream(idOf(stream));
  staged.setPerThread(perThread);
  staged.setWait(wait);
}

// A copy's staged bytes land in this process's memory; `wait`: once the stream's work is done,
// else at once (a copy that precedes a host point the replay reached).
CUresult readStaged(Runtime& rt, Client& client, const HostEffect& effect, CUstream stream, bool perThread, bool wait) {
  CallMessage call(rt.currentContextId());
  nameStaged(call->initReadStaged(), effect, stream, perThread, wait);
  auto reply = ask(client, call);
  if (!reply) return resultOf(client, reply, true);
  auto data = (*reply)->bulk();
  if (data.size() != effect.bytes) return CUDA_ERROR_UNKNOWN;
  scatterHostBytes(effect, data.data());
  return CUDA_SUCCESS;
}

// A copy's bytes, read now from this process's memory, go to its staging buffer: `wait`, once the
// stream's earlier work is done (the server waits for it), else at once (a copy that follows a
// host point the replay holds).
void writeStaged(Runtime& rt, Client& client, const HostEffect& effect, CUstream stream, bool perThread, bool wait) {
  CallMessage call(rt.currentContextId());
  auto write = call->initWriteStaged();
  nameStaged(write, effect, stream, perThread, wait);
  write.setBytes(effect.bytes);
  if (!effect.strides) {
    post(client, call, std::span(static_cast<const std::uint8_t*>(effect.source), effect.bytes));
    return;
  }
  std::vector<std::uint8_t> packed(effect.bytes);
  gatherHostBytes(effect, packed.data());
  post(client, call, packed);
}

// Before a replay: its copies from this process's memory.
void fillStaging(Runtime& rt, Client& client, const HostEffects& effects, CUstream stream, bool perThread) {
  for (const HostEffect& effect : effects) {
    if (effect.kind == HostEffect::Kind::kCopyFromHost) writeStaged(rt, client, effect, stream, perThread, true);
  }
}

bool hasKind(const HostEffects& effects, HostEffect::Kind kind) {
  return std::any_of(effects.begin(), effects.end(), [&](const HostEffect& effect) { return effect.kind == kind; });
}

// A replay reached host point `point` (instance `instance`): the copies before it land here, its
// function runs, the copies from here after it take what it left, and the replay goes on.
CUresult runHostPoint(Runtime& rt, Client& client, std::uint32_t point, std::uint64_t instance, CUstream stream,
                      bool perThread) {
  HostPointLaunches::PointWork work = rt.hostPointLaunches().reached(point);
  CUresult result = CUDA_SUCCESS;
  for (const HostEffect& copy : work.copies) {
    if (result == CUDA_SUCCESS) result = readStaged(rt, client, copy, stream, perThread, false);
  }
  if (work.function && work.function->work) {
    (*work.function->work)();
  } else if (work.function) {
    work.function->function(work.function->data);
  } else {
    static std::once_flag logged;  // a server's point this process does not know: let it go
    std::call_once(logged, [&] { cudaabi::driverLogger().warn("a replay reached host point {}, unknown here", point); });
  }
  for (const HostEffect& refill : work.refills) writeStaged(rt, client, refill, stream, perThread, false);
  CallMessage call(rt.currentContextId());
  call->setHostPointRelease(instance);
  post(client, call);
  return result;
}

// Waits for launch `launch` to end, running the host points replays reach meanwhile; then the
// copies to this process not yet delivered land.
CUresult awaitHostLaunch(Runtime& rt, Client& client, std::uint32_t launch, CUstream stream, bool perThread) {
  CUresult result = CUDA_SUCCESS;
  while (true) {
    CallMessage call(rt.currentContextId());
    auto wait = call->initHostPointWait();
    wait.setLaunch(launch);
    wait.setStream(idOf(stream));
    wait.setPerThread(perThread);
    auto reply = ask(client, call);
    if (!reply) {
      rt.hostPointLaunches().end(launch);
      return resultOf(client, reply, true);
    }
    auto values = valuesOf(**reply);
    if (values.size() == 1 && values[0] == 1) break;
    if (values.size() != 3 || values[0] != 0) {
      rt.hostPointLaunches().end(launch);
      return CUDA_ERROR_UNKNOWN;
    }
    CUresult ran = runHostPoint(rt, client, static_cast<std::uint32_t>(values[1]), static_cast<std::uint64_t>(values[2]),
                                stream, perThread);
    if (result == CUDA_SUCCESS) result = ran;
  }
  for (const HostEffect& copy : rt.hostPointLaunches().end(launch)) {
    if (result == CUDA_SUCCESS) result = readStaged(rt, client, copy, stream, perThread, true);
  }
  return result != CUDA_SUCCESS ? result : client.takeDeferredError();
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
    const bool hostPoints = !upload && *record && hasKind((*record)->effects, HostEffect::Kind::kHostFunction);
    std::uint32_t hostLaunch = hostPoints ? rt.hostPointLaunches().begin(*record) : 0;
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphLaunch();
    request.setExec(idOf(exec));
    request.setStream(idOf(stream));
    request.setPerThread(perThread);
    request.setUpload(upload);
    request.setHostLaunch(hostLaunch);
    post(client, call);
    if (hostPoints) return awaitHostLaunch(rt, client, hostLaunch, stream, perThread);
    // A graph whose replays copy to this process's memory waits for them, as a copy to the host does.
    if (upload || !*record || !hasKind((*record)->effects, HostEffect::Kind::kCopyToHost)) return CUDA_SUCCESS;
    for (const HostEffect& effect : (*record)->effects) {
      if (effect.kind != HostEffect::Kind::kCopyToHost) continue;
      if (CUresult result = readStaged(rt, client, effect, stream, perThread, true); result != CUDA_SUCCESS) return result;
    }
    return client.takeDeferredError();
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
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.empty() || values.size() % 2 != 1) return CUDA_ERROR_UNKNOWN;
    info.result = static_cast<CUgraphExecUpdateResult>(values[0]);
    // The new graph's copies and functions.
    rt.addGraphObject(idOf(exec), withPointCopies(*rt.graphRecord(idOf(graph)), values));
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
