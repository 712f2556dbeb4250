// Stream capture and graphs (DESIGN.md decision 12): captures run on the server's driver, graphs
// and executables are session objects behind opaque ids. Captures begin in relaxed mode: the
// client enforces its threads' capture modes itself, and the server's own calls (metering,
// allocation for other work of the session) must never be refused because a capture is under way.
#include "server/session.h"

#include <cstring>

#include "protocol/call_kinds.h"

namespace fastgpu::server {

void clientHostFunctionPlace(void*) {}

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

Status Session::captureStagedCopy(std::uint64_t streamId, bool perThread, std::uint64_t device, std::uint64_t bytes,
                                  bool toHost, Answer& answer) {
  auto where = stream(streamId, perThread);
  if (!where) return where.status();
  if (bytes > protocol::kMaxCopyChunkBytes) return Status(CUDA_ERROR_INVALID_VALUE, "captured chunk too large");
  if (Status status = state_->checkDeviceRange(device, bytes); !status) return status;
  std::uint64_t capture = captureId(*where);
  if (capture == 0) return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is not capturing");
  if (Status room = state_->chargeCapturedNode(); !room) return room;
  auto staging = state_->createStaging(bytes, capture);
  if (!staging) return staging.status();
  CUresult result = toHost ? driver_.cuMemcpyDtoHAsync_v2(staging->second, device, bytes, *where)
                           : driver_.cuMemcpyHtoDAsync_v2(device, staging->second, bytes, *where);
  if (result != CUDA_SUCCESS) return driverResult(result, "a captured copy through a staging buffer");
  answer.setHandle(staging->first);
  return Status::ok();
}

Status Session::executeGraphCall(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer) {
  SessionState& state = *state_;
  switch (call.which()) {
    case wire::Call::STREAM_BEGIN_CAPTURE: {
      auto begin = call.getStreamBeginCapture();
      auto where = stream(begin.getStream(), begin.getPerThread());
      if (!where) return where.status();
      if (begin.getMode() > CU_STREAM_CAPTURE_MODE_RELAXED) return Status(CUDA_ERROR_INVALID_VALUE, "unknown capture mode");
      if (Status room = state.roomFor(HandleKind::kGraph); !room) return room;
      CUresult result = driver_.cuStreamBeginCapture_v2(*where, CU_STREAM_CAPTURE_MODE_RELAXED);
      if (result != CUDA_SUCCESS) return driverResult(result, "cuStreamBeginCapture");
      ++activeCaptures_;
      CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
      cuuint64_t id = 0;
      result = driver_.cuStreamGetCaptureInfo_v3(*where, &status, &id, nullptr, nullptr, nullptr, nullptr);
      answer.setValues({static_cast<std::int64_t>(id)});
      return driverResult(result, "cuStreamGetCaptureInfo");
    }
    case wire::Call::STREAM_END_CAPTURE: {
      auto end = call.getStreamEndCapture();
      auto where = stream(end.getStream(), end.getPerThread());
      if (!where) return where.status();
      std::uint64_t capture = captureId(*where);
      CUgraph graph = nullptr;
      CUresult result = driver_.cuStreamEndCapture(*where, &graph);
      // Some failures (another thread's capture, another origin) leave the capture under way.
      bool ended = capture != 0 && !capturing(*where);
      if (ended && --activeCaptures_ == 0) state.capturesOver();
      if (result != CUDA_SUCCESS) {
        if (ended) state.captureResourcesEnded(capture, 0);
        return driverResult(result, "cuStreamEndCapture");
      }
      std::size_t nodes = 0;
      driver_.cuGraphGetNodes(graph, nullptr, &nodes);
      std::uint64_t id = state.add(HandleKind::kGraph, graph);
      state.captureEnded(id, nodes);
      state.captureResourcesEnded(capture, id);
      answer.setHandle(id);
      return Status::ok();
    }
    case wire::Call::GRAPH_INSTANTIATE: {
      auto request = call.getGraphInstantiate();
      auto graph = state.find(HandleKind::kGraph, request.getGraph());
      if (!graph) return graph.status();
      if (Status room = state.roomFor(HandleKind::kGraphExec); !room) return room;
      std::size_t nodes = 0;
      driver_.cuGraphGetNodes(static_cast<CUgraph>(*graph), nullptr, &nodes);
      if (Status room = state.roomForGraphNodes(nodes); !room) return room;
      if (Status placed = checkClientWorkLast(static_cast<CUgraph>(*graph)); !placed) return placed;
      CUgraphExec exec = nullptr;
      CUresult result = driver_.cuGraphInstantiateWithFlags(&exec, static_cast<CUgraph>(*graph), request.getFlags());
      if (result != CUDA_SUCCESS) return driverResult(result, "cuGraphInstantiate");
      std::uint64_t id = state.add(HandleKind::kGraphExec, exec);
      state.chargeGraphNodes(id, nodes);
      state.shareGraphResources(request.getGraph(), id);
      answer.setHandle(id);
      return Status::ok();
    }
    case wire::Call::GRAPH_LAUNCH: {
      auto launch = call.getGraphLaunch();
      auto exec = state.find(HandleKind::kGraphExec, launch.getExec());
      if (!exec) return exec.status();
      auto where = stream(launch.getStream(), launch.getPerThread());
      if (!where) return where.status();
      if (launch.getUpload()) return driverResult(driver_.cuGraphUpload(static_cast<CUgraphExec>(*exec), *where), "cuGraphUpload");
      // One piece of work at the gate, metered like a kernel: the graph's GPU time is charged.
      auto gate = gateFor(*where);
      if (!gate) return gate.status();
      scheduler::GatedWork gated(*gate, state.lease().tenant(), *where, gpuTime());
      CUresult result = driver_.cuGraphLaunch(static_cast<CUgraphExec>(*exec), *where);
      if (result == CUDA_SUCCESS) gated.submitted();
      return driverResult(result, "cuGraphLaunch");
    }
    case wire::Call::GRAPH_EXEC_DESTROY: {
      auto exec = state.find(HandleKind::kGraphExec, call.getGraphExecDestroy());
      if (!exec) return exec.status();
      state.remove(call.getGraphExecDestroy());
      state.releaseGraphNodes(call.getGraphExecDestroy());
      CUresult result = driver_.cuGraphExecDestroy(static_cast<CUgraphExec>(*exec));
      state.releaseGraphResources(call.getGraphExecDestroy());
      return driverResult(result, "cuGraphExecDestroy");
    }
    case wire::Call::GRAPH_DESTROY: {
      auto graph = state.find(HandleKind::kGraph, call.getGraphDestroy());
      if (!graph) return graph.status();
      state.remove(call.getGraphDestroy());
      state.releaseGraphNodes(call.getGraphDestroy());
      CUresult result = driver_.cuGraphDestroy(static_cast<CUgraph>(*graph));
      state.releaseGraphResources(call.getGraphDestroy());
      return driverResult(result, "cuGraphDestroy");
    }
    case wire::Call::GRAPH_NODE_COUNT: {
      auto graph = state.find(HandleKind::kGraph, call.getGraphNodeCount());
      if (!graph) return graph.status();
      std::size_t nodes = 0;
      CUresult result = driver_.cuGraphGetNodes(static_cast<CUgraph>(*graph), nullptr, &nodes);
      answer.setValues({static_cast<std::int64_t>(nodes)});
      return driverResult(result, "cuGraphGetNodes");
    }
    case wire::Call::GRAPH_EXEC_UPDATE: {
      auto update = call.getGraphExecUpdate();
      auto exec = state.find(HandleKind::kGraphExec, update.getExec());
      if (!exec) return exec.status();
      auto graph = state.find(HandleKind::kGraph, update.getGraph());
      if (!graph) return graph.status();
      CUgraphExecUpdateResultInfo info{};
      CUresult result =
          driver_.cuGraphExecUpdate_v2(static_cast<CUgraphExec>(*exec), static_cast<CUgraph>(*graph), &info);
      answer.setValues({static_cast<std::int64_t>(info.result)});
      // The executable's copies now write the new graph's staging buffers.
      if (result == CUDA_SUCCESS) state.shareGraphResources(update.getGraph(), update.getExec());
      return driverResult(result, "cuGraphExecUpdate");
    }
    case wire::Call::CAPTURE_TO_HOST: {
      auto copy = call.getCaptureToHost();
      return captureStagedCopy(copy.getStream(), copy.getPerThread(), copy.getSrc(), copy.getBytes(), true, answer);
    }
    case wire::Call::CAPTURE_FROM_HOST: {
      auto copy = call.getCaptureFromHost();
      return captureStagedCopy(copy.getStream(), copy.getPerThread(), copy.getDst(), copy.getBytes(), false, answer);
    }
    case wire::Call::WRITE_STAGED: {
      auto write = call.getWriteStaged();
      auto buffer = state.staging(write.getStaging());
      if (!buffer) return buffer.status();
      if (bulk.size() != buffer->second) return Status(CUDA_ERROR_INVALID_VALUE, "staged bytes do not fill the buffer");
      auto where = stream(write.getStream(), write.getPerThread());
      if (!where) return where.status();
      if (Status status = refuseIfCapturing(*where, "filling a staging buffer"); !status) return status;
      // The stream's earlier replays may still read the buffer.
      if (CUresult result = driver_.cuStreamSynchronize(*where); result != CUDA_SUCCESS) {
        return driverResult(result, "cuStreamSynchronize");
      }
      std::memcpy(buffer->first, bulk.data(), bulk.size());
      return Status::ok();
    }
    case wire::Call::CAPTURE_HOST_NODE: {
      auto where = stream(call.getCaptureHostNode().getStream(), call.getCaptureHostNode().getPerThread());
      if (!where) return where.status();
      if (!capturing(*where)) return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is not capturing");
      if (Status room = state.chargeCapturedNode(); !room) return room;
      return driverResult(driver_.cuLaunchHostFunc(*where, clientHostFunctionPlace, nullptr), "cuLaunchHostFunc (captured)");
    }
    case wire::Call::READ_STAGED: {
      auto read = call.getReadStaged();
      auto buffer = state.staging(read.getStaging());
      if (!buffer) return buffer.status();
      auto where = stream(read.getStream(), read.getPerThread());
      if (!where) return where.status();
      if (Status status = refuseIfCapturing(*where, "waiting for a replay"); !status) return status;
      if (CUresult result = driver_.cuStreamSynchronize(*where); result != CUDA_SUCCESS) {
        return driverResult(result, "cuStreamSynchronize");
      }
      answer.bulk = std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(buffer->first), buffer->second);
      return Status::ok();
    }
    default:
      return executeGraphBuildCall(call, answer);
  }
}

}  // namespace fastgpu::server
