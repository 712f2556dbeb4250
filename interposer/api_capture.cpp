// Stream capture through the server (DESIGN.md decision 12): beginning and ending a capture are
// round trips (the server's driver records the graph); the queries are answered from the client's
// mirror (interposer/capture_mirror.h) without one, since they sit on launch paths.
#include "cudaabi/stream_capture.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

FASTGPU_REMOTE_EXPORT CUresult cuStreamGetFlags(CUstream stream, unsigned int* flags);

namespace {

CUresult begin(const char* name, CUstream stream, CUstreamCaptureMode mode, bool perThread) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
        mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    auto key = CaptureMirror::keyOf(stream, perThread);
    if (CaptureMirror::isLegacy(key)) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (idOf(stream) > 2 && !rt.stream(idOf(stream))) return CUDA_ERROR_INVALID_HANDLE;
    if (rt.captures().state(key)) return CUDA_ERROR_ILLEGAL_STATE;
    CallMessage call(rt.currentContextId());
    auto request = call->initStreamBeginCapture();
    request.setStream(idOf(stream));
    request.setPerThread(perThread);
    request.setMode(static_cast<std::uint32_t>(mode));
    std::uint64_t id = 0;
    if (CUresult result = askValue(client, call, &id); result != CUDA_SUCCESS) return result;
    auto [context, blocking] = traitsOf(rt, stream);
    rt.captures().begin(key, id, mode, context, blocking);
    return CUDA_SUCCESS;
  });
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
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    if (state->invalidated) {  // invalidated here: the server's graph is of no use
      rt.addGraphObject(id, std::make_shared<const CapturedGraph>(std::move(captured)));
      rt.removeGraphObject(id);  // forgets its graph memory here
      CallMessage drop(rt.currentContextId());
      drop->setGraphDestroy(id);
      post(client, drop);
      return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    bool keepsNothing = captured.effects.empty() && captured.allocations.empty();
    rt.addGraphObject(id, keepsNothing ? nullptr : std::make_shared<const CapturedGraph>(std::move(captured)));
    *graph = handleOf<CUgraph>(id);
    return CUDA_SUCCESS;
  });
}

// Every cuStreamGetCaptureInfo and cuStreamIsCapturing: status and id from the mirror. The
// capture's graph and its current dependencies are the server's and are not remoted yet.
CUresult captureInfo(CUstream stream, bool perThread, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                     const CUgraphNode** dependencies, size_t* count) {
  if (CUresult bad = cudaabi::checkCaptureQuery(status); bad != CUDA_SUCCESS) return bad;
  unsigned flags = 0;  // validates the stream, locally
  CUstream named = perThread && stream == nullptr ? CU_STREAM_PER_THREAD : stream;
  if (CUresult result = cuStreamGetFlags(named, &flags); result != CUDA_SUCCESS) return result;
  return remoteEntry("cuStreamGetCaptureInfo", [&](Runtime& rt, Client&) -> CUresult {
    auto state = rt.captures().state(CaptureMirror::keyOf(stream, perThread));
    if (!state) {
      *status = CU_STREAM_CAPTURE_STATUS_NONE;  // the other outputs are defined only during a capture
      return CUDA_SUCCESS;
    }
    if (graph != nullptr || dependencies != nullptr || count != nullptr) {
      return cudaabi::reportNotSupported("cuStreamGetCaptureInfo's graph and dependencies (not remoted yet)");
    }
    *status = state->invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
    if (id != nullptr) *id = state->id;
    return CUDA_SUCCESS;
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
  return captureInfo(s, false, status, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream s, CUstreamCaptureStatus* status) {
  return captureInfo(s, true, status, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id) {
  return captureInfo(s, false, status, id, nullptr, nullptr, nullptr);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id) {
  return captureInfo(s, true, status, id, nullptr, nullptr, nullptr);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                         CUgraph* graph, const CUgraphNode** nodes, size_t* count) {
  return captureInfo(s, false, status, id, graph, nodes, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                              CUgraph* graph, const CUgraphNode** nodes, size_t* count) {
  return captureInfo(s, true, status, id, graph, nodes, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                         CUgraph* graph, const CUgraphNode** nodes,
                                                         const CUgraphEdgeData**, size_t* count) {
  return captureInfo(s, false, status, id, graph, nodes, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                              CUgraph* graph, const CUgraphNode** nodes,
                                                              const CUgraphEdgeData**, size_t* count) {
  return captureInfo(s, true, status, id, graph, nodes, count);
}
