// Stream capture (cudasim/capture.h): beginning and ending a capture, its queries, and updating a
// capturing stream's dependencies.
#include "cudaabi/stream_capture.h"
#include "cudasim/graph_api.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

CUresult begin(const char* name, CUstream handle, CUstreamCaptureMode mode, DefaultStream nullMeans) {
  return withStream(name, handle, nullMeans, [&](Driver& driver, Stream& stream) {
    return fail(driver.captures().begin(stream, mode, nullptr, {}));
  });
}

CUresult beginToGraph(const char* name, CUstream handle, CUgraph graphHandle, const CUgraphNode* dependencies,
                      const CUgraphEdgeData* edges, std::size_t count, CUstreamCaptureMode mode,
                      DefaultStream nullMeans) {
  return withStream(name, handle, nullMeans, [&](Driver& driver, Stream& stream) {
    auto graph = driver.handles().find<Graph>(HandleKind::kGraph, graphHandle);
    if (!graph || !defaultEdges(edges, count)) return CUDA_ERROR_INVALID_VALUE;
    auto nodes = nodesOf(driver, dependencies, count);
    if (!nodes) return fail(nodes);
    return fail(driver.captures().begin(stream, mode, graph, *nodes));
  });
}

CUresult end(const char* name, CUstream handle, CUgraph* graph, DefaultStream nullMeans) {
  return withStream(name, handle, nullMeans, [&](Driver& driver, Stream& stream) {
    if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *graph = nullptr;
    auto captured = driver.captures().end(stream);
    if (!captured) return fail(captured);
    *graph = toHandle<CUgraph>((*captured)->handle());
    return CUDA_SUCCESS;
  });
}

// cuStreamGetCaptureInfo in every version: the outputs that are not null are written; the node
// list stays valid until the next call on the stream, as in CUDA.
CUresult captureInfo(const char* name, CUstream handle, DefaultStream nullMeans, CUstreamCaptureStatus* status,
                     cuuint64_t* id, CUgraph* graph, const CUgraphNode** dependencies,
                     const CUgraphEdgeData** edges, size_t* count) {
  if (CUresult bad = cudaabi::checkCaptureQuery(status); bad != CUDA_SUCCESS) return bad;
  return withStream(name, handle, nullMeans, [&](Driver& driver, Stream& stream) {
    thread_local std::vector<CUgraphNode> lastDependencies;
    auto info = driver.captures().info(stream);
    *status = info.status;
    if (info.status == CU_STREAM_CAPTURE_STATUS_NONE) return CUDA_SUCCESS;
    if (id != nullptr) *id = info.id;
    if (graph != nullptr) *graph = toHandle<CUgraph>(info.graph->handle());
    lastDependencies = std::move(info.dependencies);
    if (dependencies != nullptr) *dependencies = lastDependencies.empty() ? nullptr : lastDependencies.data();
    if (edges != nullptr) *edges = nullptr;  // every captured edge is a default one: no data
    if (count != nullptr) *count = lastDependencies.size();
    return CUDA_SUCCESS;
  });
}

CUresult updateDependencies(const char* name, CUstream handle, CUgraphNode* dependencies, const CUgraphEdgeData* edges,
                            std::size_t count, unsigned flags, DefaultStream nullMeans) {
  return withStream(name, handle, nullMeans, [&](Driver& driver, Stream& stream) {
    if (!defaultEdges(edges, count)) return CUDA_ERROR_INVALID_VALUE;
    auto nodes = nodesOf(driver, dependencies, count);
    if (!nodes) return fail(nodes);
    return fail(driver.captures().updateDependencies(stream, *nodes, flags));
  });
}

constexpr auto kLegacy = DefaultStream::kLegacy;
constexpr auto kPerThread = DefaultStream::kPerThread;

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  return driverEntry(__func__, [&](Driver&) { return cudaabi::exchangeThreadCaptureMode(mode); });
}

FASTGPU_SIM_EXPORT CUresult cuStreamBeginCapture(CUstream stream) {
  return begin(__func__, stream, CU_STREAM_CAPTURE_MODE_GLOBAL, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamBeginCapture_ptsz(CUstream stream) {
  return begin(__func__, stream, CU_STREAM_CAPTURE_MODE_GLOBAL, kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode mode) {
  return begin(__func__, stream, mode, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream stream, CUstreamCaptureMode mode) {
  return begin(__func__, stream, mode, kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuStreamBeginCaptureToGraph(CUstream stream, CUgraph graph, const CUgraphNode* dependencies,
                                                        const CUgraphEdgeData* edges, size_t count,
                                                        CUstreamCaptureMode mode) {
  return beginToGraph(__func__, stream, graph, dependencies, edges, count, mode, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamBeginCaptureToGraph_ptsz(CUstream stream, CUgraph graph,
                                                             const CUgraphNode* dependencies,
                                                             const CUgraphEdgeData* edges, size_t count,
                                                             CUstreamCaptureMode mode) {
  return beginToGraph(__func__, stream, graph, dependencies, edges, count, mode, kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuStreamEndCapture(CUstream stream, CUgraph* graph) {
  return end(__func__, stream, graph, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream stream, CUgraph* graph) {
  return end(__func__, stream, graph, kPerThread);
}

FASTGPU_SIM_EXPORT CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus* status) {
  return captureInfo(__func__, stream, kLegacy, status, nullptr, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_SIM_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream stream, CUstreamCaptureStatus* status) {
  return captureInfo(__func__, stream, kPerThread, status, nullptr, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCaptureInfo(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id) {
  return captureInfo(__func__, stream, kLegacy, status, id, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCaptureInfo_ptsz(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id) {
  return captureInfo(__func__, stream, kPerThread, status, id, nullptr, nullptr, nullptr, nullptr);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                      CUgraph* graph, const CUgraphNode** nodes, size_t* count) {
  return captureInfo(__func__, stream, kLegacy, status, id, graph, nodes, nullptr, count);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                           cuuint64_t* id, CUgraph* graph, const CUgraphNode** nodes,
                                                           size_t* count) {
  return captureInfo(__func__, stream, kPerThread, status, id, graph, nodes, nullptr, count);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                      CUgraph* graph, const CUgraphNode** nodes,
                                                      const CUgraphEdgeData** edges, size_t* count) {
  return captureInfo(__func__, stream, kLegacy, status, id, graph, nodes, edges, count);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                           cuuint64_t* id, CUgraph* graph, const CUgraphNode** nodes,
                                                           const CUgraphEdgeData** edges, size_t* count) {
  return captureInfo(__func__, stream, kPerThread, status, id, graph, nodes, edges, count);
}

FASTGPU_SIM_EXPORT CUresult cuStreamUpdateCaptureDependencies(CUstream stream, CUgraphNode* nodes, size_t count,
                                                              unsigned int flags) {
  return updateDependencies(__func__, stream, nodes, nullptr, count, flags, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamUpdateCaptureDependencies_ptsz(CUstream stream, CUgraphNode* nodes, size_t count,
                                                                   unsigned int flags) {
  return updateDependencies(__func__, stream, nodes, nullptr, count, flags, kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuStreamUpdateCaptureDependencies_v2(CUstream stream, CUgraphNode* nodes,
                                                                 const CUgraphEdgeData* edges, size_t count,
                                                                 unsigned int flags) {
  return updateDependencies(__func__, stream, nodes, edges, count, flags, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamUpdateCaptureDependencies_v2_ptsz(CUstream stream, CUgraphNode* nodes,
                                                                      const CUgraphEdgeData* edges, size_t count,
                                                                      unsigned int flags) {
  return updateDependencies(__func__, stream, nodes, edges, count, flags, kPerThread);
}
