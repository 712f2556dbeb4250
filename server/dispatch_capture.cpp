// Stream capture (DESIGN.md decision 12): captures run on the server's driver. Captures begin in
// relaxed mode: the client enforces its threads' capture modes itself, and the server's own calls
// (metering, allocation for other work of the session) must never be refused because a capture is
// under way. A capture's graph gets a session id once the client asks for it (cuStreamGetCaptureInfo
// with a graph or dependencies) or names it (cuStreamBeginCaptureToGraph); until the capture ends,
// that graph belongs to the capture and cannot be destroyed through its id.
#include "server/session.h"

#include <algorithm>

#include "cudaabi/checked_math.h"
#include "protocol/call_kinds.h"
#include "protocol/graph_edge_data.h"

namespace fastgpu::server {

namespace {

// Edge data as the client sends it: none (default edges) or one packed value per node.
Result<std::vector<CUgraphEdgeData>> edgeDataOf(capnp::List<std::uint64_t>::Reader packed, std::size_t nodes) {
  std::vector<CUgraphEdgeData> edges;
  if (packed.size() == 0) return edges;
  if (packed.size() != nodes) return Status(CUDA_ERROR_INVALID_VALUE, "edge data must be given for every node or none");
  edges.reserve(packed.size());
  for (std::uint64_t bits : packed) {
    if (bits >> 24 != 0) return Status(CUDA_ERROR_INVALID_VALUE, "malformed edge data");
    edges.push_back(protocol::unpackEdgeData(bits));
  }
  return edges;
}

}  // namespace

std::uint64_t Session::captureId(CUstream stream) {
  if (!capturing(stream)) return 0;
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  cuuint64_t id = 0;
  if (driver_.cuStreamGetCaptureInfo_v3(stream, &status, &id, nullptr, nullptr, nullptr, nullptr) != CUDA_SUCCESS ||
      status == CU_STREAM_CAPTURE_STATUS_NONE) {
    return 0;
  }
  return id;
}

bool Session::capturing(CUstream stream) {
  if (activeCaptures_ == 0) return false;  // the common case costs nothing
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  return driver_.cuStreamIsCapturing(stream, &status) == CUDA_SUCCESS && status != CU_STREAM_CAPTURE_STATUS_NONE;
}

Status Session::awaitContextWork() {
  if (state_->current() == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
  if (activeCaptures_ == 0) return driverResult(driver_.cuCtxSynchronize(), "cuCtxSynchronize");
  std::vector<CUstream> streams = state_->streamsOf(state_->current());
  streams.push_back(CU_STREAM_LEGACY);
  streams.push_back(CU_STREAM_PER_THREAD);
  for (CUstream stream : streams) {
    // Work a capture began behind cannot be waited for without ending the capture; the driver's
    // own waits would, but a client of the driver cannot.
    if (!capturing(stream)) (void)driver_.cuStreamSynchronize(stream);
  }
  return Status::ok();
}

bool Session::isCaptureGraph(std::uint64_t graph) const {
  return std::any_of(captureGraphs_.begin(), captureGraphs_.end(),
                     [&](const auto& entry) { return entry.second.id == graph; });
}

Result<std::uint64_t> Session::captureGraphId(std::uint64_t capture, CUgraph graph) {
  if (auto it = captureGraphs_.find(capture); it != captureGraphs_.end()) return it->second.id;
  if (Status room = state_->roomFor(HandleKind::kGraph); !room) return room;
  std::uint64_t id = state_->add(HandleKind::kGraph, graph);
  captureGraphs_.emplace(capture, CaptureGraph{id, true});
  return id;
}

void Session::forgetCaptureGraphs() {
  // A capture still under way owns its graph: the driver frees it with the capture, never the
  // session's handle table.
  for (const auto& [capture, graph] : captureGraphs_) {
    if (graph.owned) state_->remove(graph.id);
  }
  captureGraphs_.clear();
}

Result<scheduler::ComputeGate*> Session::gateFor(CUstream stream) {
  if (!capturing(stream)) return state_->lease().gate();
  if (Status room = state_->chargeCapturedNode(); !room) return room;
  return static_cast<scheduler::ComputeGate*>(nullptr);
}

Status Session::refuseIfCapturing(CUstream stream, const char* what) {
  if (!capturing(stream)) return Status::ok();
  return Status(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                fmt::format("{} cannot be captured (it moves through the server's memory)", what));
}

namespace {

// How far on the device a band reaches: its rows' span, checked against overflow; nullopt when
// the band is malformed (a width that does not divide the bytes, rows wider than their pitch).
std::optional<std::uint64_t> bandSpan(std::uint64_t bytes, std::uint64_t pitch, std::uint64_t width) {
  if (width == 0) return bytes;
  if (bytes % width != 0) return std::nullopt;
  return cudaabi::pitchedExtent(pitch, width, bytes / width);
}

}  // namespace

Status Session::captureStagedCopy(std::uint64_t streamId, bool perThread, CapturedBand band, bool toHost,
                                  Answer& answer) {
  auto where = stream(streamId, perThread);
  if (!where) return where.status();
  if (band.bytes > protocol::kMaxCopyChunkBytes) return Status(CUDA_ERROR_INVALID_VALUE, "captured chunk too large");
  auto span = bandSpan(band.bytes, band.pitch, band.width);
  if (!span) return Status(CUDA_ERROR_INVALID_VALUE, "a captured band whose rows do not fit its pitch");
  if (Status status = state_->checkDeviceRange(band.first, *span); !status) return status;
  std::uint64_t capture = captureId(*where);
  if (capture == 0) return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is not capturing");
  if (Status room = state_->chargeCapturedNode(); !room) return room;
  auto staging = state_->createStaging(band.bytes, capture);
  if (!staging) return staging.status();
  CUresult result = CUDA_SUCCESS;
  if (band.width == 0) {
    result = toHost ? driver_.cuMemcpyDtoHAsync_v2(staging->second, band.first, band.bytes, *where)
                    : driver_.cuMemcpyHtoDAsync_v2(band.first, staging->second, band.bytes, *where);
  } else {
    CUDA_MEMCPY2D copy{};
    copy.WidthInBytes = band.width;
    copy.Height = band.bytes / band.width;
    if (toHost) {
      copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
      copy.srcDevice = band.first;
      copy.srcPitch = band.pitch;
      copy.dstMemoryType = CU_MEMORYTYPE_HOST;
      copy.dstHost = staging->second;
      copy.dstPitch = band.width;  // packed
    } else {
      copy.srcMemoryType = CU_MEMORYTYPE_HOST;
      copy.srcHost = staging->second;
      copy.srcPitch = band.width;
      copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
      copy.dstDevice = band.first;
      copy.dstPitch = band.pitch;
    }
    result = driver_.cuMemcpy2DAsync_v2(&copy, *where);
  }
  if (result != CUDA_SUCCESS) return driverResult(result, "a captured copy through a staging buffer");
  answer.setHandle(staging->first);
  return Status::ok();
}

Status Session::beginCapture(wire::CaptureBegin::Reader begin, Answer& answer) {
  SessionState& state = *state_;
  auto where = stream(begin.getStream(), begin.getPerThread());
  if (!where) return where.status();
  if (begin.getMode() > CU_STREAM_CAPTURE_MODE_RELAXED) return Status(CUDA_ERROR_INVALID_VALUE, "unknown capture mode");
  CUresult result = CUDA_SUCCESS;
  if (begin.getGraph() == 0) {
    if (Status room = state.roomFor(HandleKind::kGraph); !room) return room;
    result = driver_.cuStreamBeginCapture_v2(*where, CU_STREAM_CAPTURE_MODE_RELAXED);
  } else {
    auto graph = state.find(HandleKind::kGraph, begin.getGraph());
    if (!graph) return graph.status();
    if (isCaptureGraph(begin.getGraph())) return Status(CUDA_ERROR_ILLEGAL_STATE, "the graph is being captured into");
    auto after = graphNodes(begin.getGraph(), begin.getDependencies());
    if (!after) return after.status();
    auto edges = edgeDataOf(begin.getEdgeData(), after->size());
    if (!edges) return edges.status();
    result = driver_.cuStreamBeginCaptureToGraph(*where, static_cast<CUgraph>(*graph), after->data(),
                                                 edges->empty() ? nullptr : edges->data(), after->size(),
                                                 CU_STREAM_CAPTURE_MODE_RELAXED);
  }
  if (result != CUDA_SUCCESS) return driverResult(result, "cuStreamBeginCapture");
  ++activeCaptures_;
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  cuuint64_t id = 0;
  result = driver_.cuStreamGetCaptureInfo_v3(*where, &status, &id, nullptr, nullptr, nullptr, nullptr);
  if (result == CUDA_SUCCESS && begin.getGraph() != 0) captureGraphs_[id] = CaptureGraph{begin.getGraph(), false};
  answer.setValues({static_cast<std::int64_t>(id)});
  return driverResult(result, "cuStreamGetCaptureInfo");
}

Status Session::endCapture(wire::StreamRef::Reader end, Answer& answer) {
  SessionState& state = *state_;
  auto where = stream(end.getStream(), end.getPerThread());
  if (!where) return where.status();
  std::uint64_t capture = captureId(*where);
  CUgraph graph = nullptr;
  CUresult result = driver_.cuStreamEndCapture(*where, &graph);
  // Some failures (another thread's capture, another origin) leave the capture under way.
  bool ended = capture != 0 && !capturing(*where);
  if (!ended) return driverResult(result, "cuStreamEndCapture");
  if (--activeCaptures_ == 0) state.capturesOver();
  std::optional<CaptureGraph> known;
  if (auto it = captureGraphs_.find(capture); it != captureGraphs_.end()) {
    known = it->second;
    captureGraphs_.erase(it);
  }
  bool graphLives = result == CUDA_SUCCESS || (known && !known->owned);  // the caller's graph outlives it
  if (!graphLives) {
    state.captureResourcesEnded(capture, 0);
    if (known) {  // the driver destroyed the capture's graph
      state.remove(known->id);
      state.releaseGraphNodes(known->id);
      state.releaseGraphResources(known->id);
    }
    return driverResult(result, "cuStreamEndCapture");
  }
  std::uint64_t id = known ? known->id : state.add(HandleKind::kGraph, graph);
  std::size_t nodes = 0;
  driver_.cuGraphGetNodes(static_cast<CUgraph>(*state.find(HandleKind::kGraph, id)), nullptr, &nodes);
  state.captureEnded(id, nodes);
  state.captureResourcesEnded(capture, id);
  if (result != CUDA_SUCCESS) return driverResult(result, "cuStreamEndCapture");
  answer.setHandle(id);
  return Status::ok();
}

Status Session::captureInfo(wire::StreamRef::Reader ref, Answer& answer) {
  auto where = stream(ref.getStream(), ref.getPerThread());
  if (!where) return where.status();
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  cuuint64_t capture = 0;
  CUgraph graph = nullptr;
  const CUgraphNode* dependencies = nullptr;
  const CUgraphEdgeData* edges = nullptr;
  std::size_t count = 0;
  CUresult result = driver_.cuStreamGetCaptureInfo_v3(*where, &status, &capture, &graph, &dependencies, &edges, &count);
  if (result != CUDA_SUCCESS) return driverResult(result, "cuStreamGetCaptureInfo");
  if (status == CU_STREAM_CAPTURE_STATUS_NONE || graph == nullptr) {
    return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is not capturing");
  }
  if (count > kMaxGraphNodes || (count > 0 && dependencies == nullptr)) {
    return Status(CUDA_ERROR_UNKNOWN, "the driver answered an impossible dependency list");
  }
  std::vector<CUgraphNode> nodes(dependencies, dependencies + count);  // valid until the next call on the stream
  std::vector<std::uint64_t> data(count, 0);
  for (std::size_t i = 0; edges != nullptr && i < count; ++i) data[i] = protocol::packEdgeData(edges[i]);
  auto graphId = captureGraphId(capture, graph);
  if (!graphId) return graphId.status();
  std::vector<std::int64_t> values;
  values.reserve(2 + 2 * count);
  values.push_back(static_cast<std::int64_t>(*graphId));
  values.push_back(static_cast<std::int64_t>(count));
  for (CUgraphNode node : nodes) {
    values.push_back(static_cast<std::int64_t>(state_->graphNodeIds().idOf(*graphId, node)));
  }
  for (std::uint64_t bits : data) values.push_back(static_cast<std::int64_t>(bits));
  answer.setValues(values);
  return Status::ok();
}

Status Session::updateCaptureDependencies(wire::CaptureDependencies::Reader update) {
  auto where = stream(update.getStream(), update.getPerThread());
  if (!where) return where.status();
  std::uint64_t capture = captureId(*where);
  if (capture == 0) return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is not capturing");
  // Nodes can be named only of a graph the client knows: 0 matches no node.
  auto known = captureGraphs_.find(capture);
  auto nodes = graphNodes(known == captureGraphs_.end() ? 0 : known->second.id, update.getNodes());
  if (!nodes) return nodes.status();
  auto edges = edgeDataOf(update.getEdgeData(), nodes->size());
  if (!edges) return edges.status();
  return driverResult(driver_.cuStreamUpdateCaptureDependencies_v2(*where, nodes->data(),
                                                                    edges->empty() ? nullptr : edges->data(),
                                                                    nodes->size(), update.getFlags()),
                      "cuStreamUpdateCaptureDependencies");
}

Status Session::executeCaptureCall(wire::Call::Reader call, Answer& answer) {
  switch (call.which()) {
    case wire::Call::STREAM_BEGIN_CAPTURE:
      return beginCapture(call.getStreamBeginCapture(), answer);
    case wire::Call::STREAM_END_CAPTURE:
      return endCapture(call.getStreamEndCapture(), answer);
    case wire::Call::CAPTURE_INFO:
      return captureInfo(call.getCaptureInfo(), answer);
    case wire::Call::CAPTURE_DEPENDENCIES:
      return updateCaptureDependencies(call.getCaptureDependencies());
    case wire::Call::CAPTURE_TO_HOST: {
      auto copy = call.getCaptureToHost();
      return captureStagedCopy(copy.getStream(), copy.getPerThread(),
                               {copy.getSrc(), copy.getBytes(), copy.getPitch(), copy.getWidth()}, true, answer);
    }
    case wire::Call::CAPTURE_FROM_HOST: {
      auto copy = call.getCaptureFromHost();
      return captureStagedCopy(copy.getStream(), copy.getPerThread(),
                               {copy.getDst(), copy.getBytes(), copy.getPitch(), copy.getWidth()}, false, answer);
    }
    case wire::Call::CAPTURE_HOST_NODE: {
      auto point = call.getCaptureHostNode();
      auto where = stream(point.getStream(), point.getPerThread());
      if (!where) return where.status();
      if (!capturing(*where)) return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is not capturing");
      if (Status room = state_->chargeCapturedNode(); !room) return room;
      return driverResult(
          driver_.cuLaunchHostFunc(*where, HostPoints::pointFunction(), hostPoints_.pointData(point.getPoint())),
          "cuLaunchHostFunc (captured)");
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a capture call");
  }
}

}  // namespace fastgpu::server
