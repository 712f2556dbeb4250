// A graph node's parameters read or changed, in its graph or in an executable made from it
// (DESIGN.md decision 12): memset, event record and wait, memory allocation and free nodes. Nodes
// are the session's (graph_node_ids.h), events and executables too, and a memset's new range is
// checked like an added one's. What the driver answers goes back in the session's terms: an event
// as its session id.
#include "server/session.h"

namespace fastgpu::server {

namespace {

using Kind = wire::GraphNodeParams::Kind;

}  // namespace

Status Session::graphNodeParams(wire::GraphNodeParams::Reader request, Answer& answer) {
  SessionState& state = *state_;
  auto node = state.graphNodeIds().find(request.getNode());
  if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
  CUgraphExec exec = nullptr;
  if (request.getExec() != 0) {
    auto found = state.find(HandleKind::kGraphExec, request.getExec());
    if (!found) return found.status();
    exec = static_cast<CUgraphExec>(*found);
  }
  auto value = request.getValue();
  switch (request.getKind()) {
    case Kind::MEMSET: {
      if (!request.getSet()) {
        if (exec != nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "parameters are read from a graph's node");
        CUDA_MEMSET_NODE_PARAMS p{};
        CUresult result = driver_.cuGraphMemsetNodeGetParams(node->node, &p);
        answer.setValues({static_cast<std::int64_t>(p.dst), static_cast<std::int64_t>(p.pitch), p.value,
                          p.elementSize, static_cast<std::int64_t>(p.width), static_cast<std::int64_t>(p.height)});
        return driverResult(result, "cuGraphMemsetNodeGetParams");
      }
      if (!value.isMemset()) return Status(CUDA_ERROR_INVALID_VALUE, "no memset parameters");
      auto p = graphMemset(value.getMemset());
      if (!p) return p.status();
      if (exec == nullptr) return driverResult(driver_.cuGraphMemsetNodeSetParams(node->node, &*p), "cuGraphMemsetNodeSetParams");
      SessionContext* context = state.context(state.current());
      if (context == nullptr) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
      return driverResult(driver_.cuGraphExecMemsetNodeSetParams(exec, node->node, &*p, context->real),
                          "cuGraphExecMemsetNodeSetParams");
    }
    case Kind::EVENT_RECORD:
    case Kind::EVENT_WAIT: {
      bool record = request.getKind() == Kind::EVENT_RECORD;
      if (!request.getSet()) {
        if (exec != nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "parameters are read from a graph's node");
        CUevent real = nullptr;
        CUresult result = record ? driver_.cuGraphEventRecordNodeGetEvent(node->node, &real)
                                 : driver_.cuGraphEventWaitNodeGetEvent(node->node, &real);
        if (result != CUDA_SUCCESS) return driverResult(result, "cuGraphEvent*NodeGetEvent");
        auto id = state.idOf(HandleKind::kEvent, real);
        if (!id) return Status(CUDA_ERROR_NOT_SUPPORTED, "the node's event is not one of the session's events");
        answer.setValues({static_cast<std::int64_t>(*id)});
        return Status::ok();
      }
      std::uint64_t eventId = record ? (value.isEventRecord() ? value.getEventRecord() : 0)
                                     : (value.isEventWait() ? value.getEventWait() : 0);
      auto found = event(eventId);
      if (!found) return found.status();
      CUresult result = exec == nullptr
                            ? (record ? driver_.cuGraphEventRecordNodeSetEvent(node->node, *found)
                                      : driver_.cuGraphEventWaitNodeSetEvent(node->node, *found))
                            : (record ? driver_.cuGraphExecEventRecordNodeSetEvent(exec, node->node, *found)
                                      : driver_.cuGraphExecEventWaitNodeSetEvent(exec, node->node, *found));
      return driverResult(result, "cuGraph(Exec)Event*NodeSetEvent");
    }
    case Kind::MEM_ALLOC: {
      if (request.getSet() || exec != nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "allocation nodes are only read");
      CUDA_MEM_ALLOC_NODE_PARAMS p{};
      CUresult result = driver_.cuGraphMemAllocNodeGetParams(node->node, &p);
      answer.setValues({static_cast<std::int64_t>(p.dptr), static_cast<std::int64_t>(p.bytesize)});
      return driverResult(result, "cuGraphMemAllocNodeGetParams");
    }
    case Kind::MEM_FREE: {
      if (request.getSet() || exec != nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "free nodes are only read");
      CUdeviceptr address = 0;
      CUresult result = driver_.cuGraphMemFreeNodeGetParams(node->node, &address);
      answer.setValues({static_cast<std::int64_t>(address)});
      return driverResult(result, "cuGraphMemFreeNodeGetParams");
    }
  }
  return Status(CUDA_ERROR_INVALID_VALUE, "unknown node parameters");
}

}  // namespace fastgpu::server
