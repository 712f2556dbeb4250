// Stream capture through the server (DESIGN.md decision 12): beginning and ending a capture are
// round trips (the server's driver records the graph); the queries are answered from the client's
// mirror (interposer/capture_mirror.h) without one, since they sit on launch paths.
#include "cudaabi/stream_capture.h"
#include "interposer/remote.h"
#include "protocol/graph_edge_data.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

FASTGPU_REMOTE_EXPORT CUresult cuStreamGetFlags(CUstream stream, unsigned int* flags);

namespace {

// Where a capture begins: a new graph (graph null), or cuStreamBeginCaptureToGraph's graph after
// `dependencies`.
struct CaptureTarget {
  CUgraph graph = nullptr;
  const CUgraphNode* dependencies = nullptr;
  const CUgraphEdgeData* edges = nullptr;
  std::size_t count = 0;
};

// Edge data the way the server takes it (sent only when some edge is not a default one).
template <typename List>
void packEdges(List list, const CUgraphEdgeData* edges, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) list.set(static_cast<unsigned>(i), protocol::packEdgeData(edges[i]));
}

CUresult begin(const char* name, CUstream stream, CUstreamCaptureMode mode, bool perThread, CaptureTarget target = {}) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
        mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    auto key = CaptureMirror::keyOf(stream, perThread);
    if (CaptureMirror::isLegacy(key)) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (idOf(stream) > 2 && !rt.stream(idOf(stream))) return CUDA_ERROR_INVALID_HANDLE;
    if (target.graph != nullptr) {
      if (CUresult refused = refuseBorrowedGraph(rt, idOf(target.graph), "capturing into a child graph's handle");
          refused != CUDA_SUCCESS) {
        return refused;
      }
      if (!rt.hasGraphObject(idOf(target.graph))) return CUDA_ERROR_INVALID_VALUE;
    }
    if (target.count > 0 && target.dependencies == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (rt.captures().state(key)) return CUDA_ERROR_ILLEGAL_STATE;
    CallMessage call(rt.currentContextId());
    auto request = call->initStreamBeginCapture();
    request.setStream(idOf(stream));
    request.setPerThread(perThread);
    request.setMode(static_cast<std::uint32_t>(mode));
    if (target.graph != nullptr) {
      request.setGraph(idOf(target.graph));
      auto after = request.initDependencies(static_cast<unsigned>(target.count));
      for (std::size_t i = 0; i < target.count; ++i) after.set(static_cast<unsigned>(i), idOf(target.dependencies[i]));
      if (!protocol::allDefaultEdges(target.edges, target.count)) {
        packEdges(request.initEdgeData(static_cast<unsigned>(target.count)), target.edges, target.count);
      }
    }
    std::uint64_t id = 0;
    if (CUresult result = askValue(client, call, &id); result != CUDA_SUCCESS) return result;
    auto [context, blocking] = traitsOf(rt, stream);
    rt.captures().begin(key, id, mode, context, blocking, idOf(target.graph));
    return CUDA_SUCCESS;
  });
}

// What a capture's graph keeps here joins what its graph object kept already (a graph the program
// captured into, or one it added nodes to during the capture), or becomes its record.
void keepCaptured(Runtime& rt, std::uint64_t graph, CapturedGraph captured) {
  bool keepsNothing = captured.effects.empty() && captured.allocations.empty();
  if (rt.hasGraphObject(graph)) {
    if (keepsNothing) return;
    rt.amendGraphRecord(graph, [&](CapturedGraph& record) {
      record.effects.insert(record.effects.end(), captured.effects.begin(), captured.effects.end());
      record.allocations.insert(record.allocations.end(), captured.allocations.begin(), captured.allocations.end());
      record.leftLive.insert(record.leftLive.end(), captured.leftLive.begin(), captured.leftLive.end());
    });
    return;
  }
  rt.addGraphObject(graph, keepsNothing ? nullptr : std::make_shared<const CapturedGraph>(std::move(captured)));
}

CUresult end(const char* name, CUstream stream, CUgraph* graph, bool perThread) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *graph = nullptr;
    auto key = CaptureMirror::keyOf(stream, perThread);
    auto state = rt.captures().state(key);
    if (!state) return CUDA_ERROR_ILLEGAL_STATE;
    if (!state->origin) {
      rt.captures().invalidate(key);
      return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
    }
    if (!rt.captures().endsOnThisThread(key)) return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
    CallMessage call(rt.currentContextId());
    auto ref = call->initStreamEndCapture();
    ref.setStream(idOf(stream));
    ref.setPerThread(perThread);
    auto reply = ask(client, call);
    CapturedGraph captured = rt.captures().end(key);
    if (!reply) {
      // The server destroyed a graph of the capture's own; the program's graph lives on.
      if (state->intoGraph) keepCaptured(rt, state->graph, std::move(captured));
      if (!state->intoGraph && state->graph != 0) {
        rt.addGraphObject(state->graph, std::make_shared<const CapturedGraph>(std::move(captured)));
        rt.removeGraphObject(state->graph);  // forgets its graph memory here
      }
      return resultOf(client, reply, false);
    }
    std::uint64_t id = (*reply)->get().getHandle();
    keepCaptured(rt, id, std::move(captured));
    if (state->invalidated) {  // invalidated here: the server's graph is of no use
      if (state->intoGraph) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;  // the program's graph stays
      rt.removeGraphObject(id);  // forgets its graph memory here
      CallMessage drop(rt.currentContextId());
      drop->setGraphDestroy(id);
      post(client, drop);
      return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    *graph = handleOf<CUgraph>(id);
    return CUDA_SUCCESS;
  });
}

// The capture's graph and its current dependencies, from the server (a round trip, made only when
// they are asked for during a capture). The arrays stay valid until this thread's next query, as
// the driver's stay valid until the next call on the stream.
CUresult askCaptureGraph(Runtime& rt, Client& client, const CaptureMirror::Key& key, CUstream stream, bool perThread,
                         CUgraph* graph, const CUgraphNode** dependencies, const CUgraphEdgeData** edges,
                         size_t* count) {
  thread_local std::vector<CUgraphNode> lastDependencies;
  thread_local std::vector<CUgraphEdgeData> lastEdges;
  CallMessage call(rt.currentContextId());
  auto ref = call->initCaptureInfo();
  ref.setStream(idOf(stream));
  ref.setPerThread(perThread);
  auto reply = ask(client, call);
  if (!reply) return resultOf(client, reply, false);
  auto values = valuesOf(**reply);
  if (values.size() < 2) return CUDA_ERROR_UNKNOWN;
  auto n = static_cast<std::uint64_t>(values[1]);
  if (n > (values.size() - 2) / 2 || values.size() != 2 + 2 * n) return CUDA_ERROR_UNKNOWN;
  auto id = static_cast<std::uint64_t>(values[0]);
  if (!rt.hasGraphObject(id)) rt.addGraphObject(id, nullptr);
  rt.captures().learnedGraph(key, id);
  lastDependencies.clear();
  lastEdges.clear();
  bool defaults = true;
  for (std::uint64_t i = 0; i < n; ++i) {
    lastDependencies.push_back(handleOf<CUgraphNode>(static_cast<std::uint64_t>(values[2 + i])));
    lastEdges.push_back(protocol::unpackEdgeData(static_cast<std::uint64_t>(values[2 + n + i])));
    defaults = defaults && values[2 + n + i] == 0;
  }
  // Edge data left out where some is not the default would lose it (as the driver says).
  if (dependencies != nullptr && edges == nullptr && !defaults) return CUDA_ERROR_LOSSY_QUERY;
  if (graph != nullptr) *graph = handleOf<CUgraph>(id);
  if (dependencies != nullptr) *dependencies = lastDependencies.empty() ? nullptr : lastDependencies.data();
  if (edges != nullptr) *edges = defaults ? nullptr : lastEdges.data();
  if (count != nullptr) *count = lastDependencies.size();
  return CUDA_SUCCESS;
}

// Every cuStreamGetCaptureInfo and cuStreamIsCapturing: status and id from the mirror, with no
// round trip; the capture's graph and dependencies, when asked for, from the server.
CUresult captureInfo(CUstream stream, bool perThread, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                     const CUgraphNode** dependencies, const CUgraphEdgeData** edges, size_t* count) {
  if (CUresult bad = cudaabi::checkCaptureQuery(status); bad != CUDA_SUCCESS) return bad;
  if (edges != nullptr && dependencies == nullptr) return CUDA_ERROR_INVALID_VALUE;
  unsigned flags = 0;  // validates the stream, locally
  CUstream named = perThread && stream == nullptr ? CU_STREAM_PER_THREAD : stream;
  if (CUresult result = cuStreamGetFlags(named, &flags); result != CUDA_SUCCESS) return result;
  return remoteEntry("cuStreamGetCaptureInfo", [&](Runtime& rt, Client& client) -> CUresult {
    auto key = CaptureMirror::keyOf(stream, perThread);
    auto state = rt.captures().state(key);
    if (!state) {
      *status = CU_STREAM_CAPTURE_STATUS_NONE;  // the other outputs are defined only during a capture
      return CUDA_SUCCESS;
    }
    if (graph != nullptr || dependencies != nullptr || count != nullptr) {
      CUresult result = askCaptureGraph(rt, client, key, stream, perThread, graph, dependencies, edges, count);
      if (result != CUDA_SUCCESS) return result;
    }
    *status = state->invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
    if (id != nullptr) *id = state->id;
    return CUDA_SUCCESS;
  });
}

CUresult updateDependencies(const char* name, CUstream stream, bool perThread, CUgraphNode* nodes,
                            const CUgraphEdgeData* edges, std::size_t count, unsigned flags) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (flags != CU_STREAM_ADD_CAPTURE_DEPENDENCIES && flags != CU_STREAM_SET_CAPTURE_DEPENDENCIES) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (count > 0 && nodes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (idOf(stream) > 2 && !rt.stream(idOf(stream))) return CUDA_ERROR_INVALID_HANDLE;
    if (!rt.captures().state(CaptureMirror::keyOf(stream, perThread))) return CUDA_ERROR_ILLEGAL_STATE;
    CallMessage call(rt.currentContextId());
    auto update = call->initCaptureDependencies();
    update.setStream(idOf(stream));
    update.setPerThread(perThread);
    update.setFlags(flags);
    auto list = update.initNodes(static_cast<unsigned>(count));
    for (std::size_t i = 0; i < count; ++i) list.set(static_cast<unsigned>(i), idOf(nodes[i]));
    if (!protocol::allDefaultEdges(edges, count)) packEdges(update.initEdgeData(static_cast<unsigned>(count)), edges, count);
    return askResult(client, call);
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  return remoteEntry(__func__, [&](Runtime&, Client&) { return cudaabi::exchangeThreadCaptureMode(mode); });
}

FASTGPU_REMOTE_EXPORT CUresult cuStreamBeginCapture(CUstream s) {
  return begin(__func__, s, CU_STREAM_CAPTURE_MODE_GLOBAL, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamBeginCapture_ptsz(CUstream s) {
  return begin(__func__, s, CU_STREAM_CAPTURE_MODE_GLOBAL, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode mode) {
  return begin(__func__, s, mode, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream s, CUstreamCaptureMode mode) {
  return begin(__func__, s, mode, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamEndCapture(CUstream s, CUgraph* graph) { return end(__func__, s, graph, false); }
FASTGPU_REMOTE_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream s, CUgraph* graph) {
  return end(__func__, s, graph, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus* status) {
  return captureInfo(s, false, status, nullptr, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream s, CUstreamCaptureStatus* status) {
  return captureInfo(s, true, status, nullptr, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id) {
  return captureInfo(s, false, status, id, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id) {
  return captureInfo(s, true, status, id, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                         CUgraph* graph, const CUgraphNode** nodes, size_t* count) {
  return captureInfo(s, false, status, id, graph, nodes, nullptr, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                              CUgraph* graph, const CUgraphNode** nodes, size_t* count) {
  return captureInfo(s, true, status, id, graph, nodes, nullptr, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                         CUgraph* graph, const CUgraphNode** nodes,
                                                         const CUgraphEdgeData**, size_t* count) {
  return captureInfo(s, false, status, id, graph, nodes, nullptr, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                              CUgraph* graph, const CUgraphNode** nodes,
                                                              const CUgraphEdgeData**, size_t* count) {
  return captureInfo(s, true, status, id, graph, nodes, nullptr, count);
}

FASTGPU_REMOTE_EXPORT CUresult cuStreamBeginCaptureToGraph(CUstream s, CUgraph graph, const CUgraphNode* dependencies,
                                                           const CUgraphEdgeData* edges, size_t count,
                                                           CUstreamCaptureMode mode) {
  return begin(__func__, s, mode, false, CaptureTarget{graph, dependencies, edges, count});
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamBeginCaptureToGraph_ptsz(CUstream s, CUgraph graph,
                                                                const CUgraphNode* dependencies,
                                                                const CUgraphEdgeData* edges, size_t count,
                                                                CUstreamCaptureMode mode) {
  return begin(__func__, s, mode, true, CaptureTarget{graph, dependencies, edges, count});
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamUpdateCaptureDependencies(CUstream s, CUgraphNode* nodes, size_t count,
                                                                 unsigned int flags) {
  return updateDependencies(__func__, s, false, nodes, nullptr, count, flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamUpdateCaptureDependencies_ptsz(CUstream s, CUgraphNode* nodes, size_t count,
                                                                      unsigned int flags) {
  return updateDependencies(__func__, s, true, nodes, nullptr, count, flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamUpdateCaptureDependencies_v2(CUstream s, CUgraphNode* nodes,
                                                                    const CUgraphEdgeData* edges, size_t count,
                                                                    unsigned int flags) {
  return updateDependencies(__func__, s, false, nodes, edges, count, flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamUpdateCaptureDependencies_v2_ptsz(CUstream s, CUgraphNode* nodes,
                                                                         const CUgraphEdgeData* edges, size_t count,
                                                                         unsigned int flags) {
  return updateDependencies(__func__, s, true, nodes, edges, count, flags);
}
