// Graphs and executables (DESIGN.md decision 12): session objects behind opaque ids, instantiated,
// launched through the compute gate and updated on the server's driver (captures:
// dispatch_capture.cpp; graphs built node by node: dispatch_graph_build.cpp).
#include "server/session.h"

#include <cstring>

#include "protocol/call_kinds.h"

namespace fastgpu::server {

Status Session::executeGraphCall(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer) {
  SessionState& state = *state_;
  switch (call.which()) {
    case wire::Call::GRAPH_INSTANTIATE: {
      auto request = call.getGraphInstantiate();
      auto graph = state.find(HandleKind::kGraph, request.getGraph());
      if (!graph) return graph.status();
      if (Status room = state.roomFor(HandleKind::kGraphExec); !room) return room;
      std::size_t nodes = 0;
      driver_.cuGraphGetNodes(static_cast<CUgraph>(*graph), nullptr, &nodes);
      if (Status room = state.roomForGraphNodes(nodes); !room) return room;
      std::vector<std::int64_t> values{0};
      if (Status placed = hostPointCopies(static_cast<CUgraph>(*graph), values); !placed) return placed;
      CUgraphExec exec = nullptr;
      CUresult result = driver_.cuGraphInstantiateWithFlags(&exec, static_cast<CUgraph>(*graph), request.getFlags());
      if (result != CUDA_SUCCESS) return driverResult(result, "cuGraphInstantiate");
      std::uint64_t id = state.add(HandleKind::kGraphExec, exec);
      state.chargeGraphNodes(id, nodes);
      state.shareGraphResources(request.getGraph(), id);
      values[0] = static_cast<std::int64_t>(id);
      answer.setValues(std::move(values));
      return Status::ok();
    }
    case wire::Call::GRAPH_LAUNCH:
      return launchGraph(call.getGraphLaunch());
    case wire::Call::HOST_POINT_WAIT:
      return waitForHostPoint(call.getHostPointWait(), answer);
    case wire::Call::HOST_POINT_RELEASE:
      return hostPoints_.release(call.getHostPointRelease());
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
      if (isCaptureGraph(call.getGraphDestroy())) {
        return Status(CUDA_ERROR_ILLEGAL_STATE, "a graph cannot be destroyed while it is being captured into");
      }
      state.remove(call.getGraphDestroy());
      state.releaseGraphNodes(call.getGraphDestroy());
      CUresult result = driver_.cuGraphDestroy(static_cast<CUgraph>(*graph));
      state.releaseGraphResources(call.getGraphDestroy());
      return driverResult(result, "cuGraphDestroy");
    }
    case wire::Call::GRAPH_NODE_COUNT: {
      auto graph = state.findReadableGraph(call.getGraphNodeCount());
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
      std::vector<std::int64_t> values{0};
      if (Status placed = hostPointCopies(static_cast<CUgraph>(*graph), values); !placed) return placed;
      CUresult result =
          driver_.cuGraphExecUpdate_v2(static_cast<CUgraphExec>(*exec), static_cast<CUgraph>(*graph), &info);
      values[0] = static_cast<std::int64_t>(info.result);
      answer.setValues(std::move(values));
      // The executable's copies now write the new graph's staging buffers.
      if (result == CUDA_SUCCESS) state.shareGraphResources(update.getGraph(), update.getExec());
      return driverResult(result, "cuGraphExecUpdate");
    }
    case wire::Call::WRITE_STAGED: {
      auto write = call.getWriteStaged();
      auto buffer = state.staging(write.getStaging());
      if (!buffer) return buffer.status();
      if (bulk.size() != buffer->second) return Status(CUDA_ERROR_INVALID_VALUE, "staged bytes do not fill the buffer");
      auto where = stream(write.getStream(), write.getPerThread());
      if (!where) return where.status();
      // The stream's earlier replays may still read the buffer; not waiting: the copy follows a
      // host point the replay holds, so it has not run.
      if (write.getWait()) {
        if (Status status = refuseIfCapturing(*where, "filling a staging buffer"); !status) return status;
        if (CUresult result = driver_.cuStreamSynchronize(*where); result != CUDA_SUCCESS) {
          return driverResult(result, "cuStreamSynchronize");
        }
      }
      std::memcpy(buffer->first, bulk.data(), bulk.size());
      return Status::ok();
    }
    case wire::Call::READ_STAGED: {
      auto read = call.getReadStaged();
      auto buffer = state.staging(read.getStaging());
      if (!buffer) return buffer.status();
      auto where = stream(read.getStream(), read.getPerThread());
      if (!where) return where.status();
      // Not waiting: the copy precedes a host point the replay holds, so it is done.
      if (read.getWait()) {
        if (Status status = refuseIfCapturing(*where, "waiting for a replay"); !status) return status;
        if (CUresult result = driver_.cuStreamSynchronize(*where); result != CUDA_SUCCESS) {
          return driverResult(result, "cuStreamSynchronize");
        }
      }
      answer.bulk = std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(buffer->first), buffer->second);
      return Status::ok();
    }
    default:
      return executeGraphBuildCall(call, answer);
  }
}

Status Session::launchGraph(wire::GraphLaunch::Reader launch) {
  SessionState& state = *state_;
  auto exec = state.find(HandleKind::kGraphExec, launch.getExec());
  if (!exec) return exec.status();
  auto where = stream(launch.getStream(), launch.getPerThread());
  if (!where) return where.status();
  if (launch.getUpload()) return driverResult(driver_.cuGraphUpload(static_cast<CUgraphExec>(*exec), *where), "cuGraphUpload");
  std::uint32_t hostLaunch = launch.getHostLaunch();
  if (hostLaunch != 0) {
    if (Status begun = hostPoints_.beginLaunch(hostLaunch); !begun) return begun;
  }
  // One piece of work at the gate, metered like a kernel: the graph's GPU time is charged.
  auto gate = gateFor(*where);
  if (!gate) {
    if (hostLaunch != 0) hostPoints_.launchDone(hostLaunch);
    return gate.status();
  }
  scheduler::GatedWork gated(*gate, state.lease().tenant(), *where, gpuTime());
  CUresult result = driver_.cuGraphLaunch(static_cast<CUgraphExec>(*exec), *where);
  if (result == CUDA_SUCCESS) gated.submitted();
  if (hostLaunch != 0) {
    // Marked done in stream order; at once when it cannot be (the client's wait must end).
    CUresult marked = result == CUDA_SUCCESS ? driver_.cuLaunchHostFunc(*where, HostPoints::launchDoneFunction(),
                                                                        hostPoints_.launchData(hostLaunch))
                                             : result;
    if (marked != CUDA_SUCCESS) hostPoints_.launchDone(hostLaunch);
    if (result == CUDA_SUCCESS && marked != CUDA_SUCCESS) return driverResult(marked, "cuLaunchHostFunc (launch done)");
  }
  return driverResult(result, "cuGraphLaunch");
}

Status Session::waitForHostPoint(wire::HostPointWait::Reader request, Answer& answer) {
  auto where = stream(request.getStream(), request.getPerThread());
  if (!where) return where.status();
  // Woken now and then to notice a client that is gone or a stream that failed (its marker may
  // never run).
  constexpr std::chrono::milliseconds kLook{100};
  while (true) {
    auto event = hostPoints_.wait(request.getLaunch(), kLook);
    if (!event) return event.status();
    if (*event) {
      const HostPoints::Event& what = **event;
      if (what.done) {
        answer.setValues({1});
      } else {
        answer.setValues({0, what.point, static_cast<std::int64_t>(what.instance)});
      }
      return Status::ok();
    }
    if (peerGone_ || peerClosed()) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the client is gone");
    CUresult state = driver_.cuStreamQuery(*where);
    if (state != CUDA_SUCCESS && state != CUDA_ERROR_NOT_READY) {
      hostPoints_.forgetLaunch(request.getLaunch());
      return driverResult(state, "a graph launch with host work");
    }
  }
}

}  // namespace fastgpu::server
