// Graphs and executables (DESIGN.md decision 12): session objects behind opaque ids, instantiated,
// launched through the compute gate and updated on the server's driver (captures:
// dispatch_capture.cpp; graphs built node by node: dispatch_graph_build.cpp).
#include "server/session.h"

#include <cstring>

#include "protocol/call_kinds.h"

namespace fastgpu::server {

void clientHostFunctionPlace(void*) {}

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
      CUresult result =
          driver_.cuGraphExecUpdate_v2(static_cast<CUgraphExec>(*exec), static_cast<CUgraph>(*graph), &info);
      answer.setValues({static_cast<std::int64_t>(info.result)});
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
      if (Status status = refuseIfCapturing(*where, "filling a staging buffer"); !status) return status;
      // The stream's earlier replays may still read the buffer.
      if (CUresult result = driver_.cuStreamSynchronize(*where); result != CUDA_SUCCESS) {
        return driverResult(result, "cuStreamSynchronize");
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
