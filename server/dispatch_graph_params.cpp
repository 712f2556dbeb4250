// A graph node's parameters read or changed, in its graph or in an executable made from it
// (DESIGN.md decision 12): memset, copy, event record and wait, memory allocation and free nodes,
// an executable's child graphs.
// Nodes are the session's (graph_node_ids.h), events and executables too, and a memset's or copy's
// new range is checked like an added one's. What the driver answers goes back in the session's
// terms: an event as its session id, a copy's side in the client's memory as its staging buffer.
#include <array>

#include "cudaabi/copy_shape.h"
#include "server/session.h"

namespace fastgpu::server {

namespace {

using Kind = wire::GraphNodeParams::Kind;

}  // namespace

Status Session::copyNodeParams(std::uint64_t graph, CUgraphNode node, CUgraphExec exec,
                               wire::GraphNodeParams::Reader request, Answer& answer) {
  CUDA_MEMCPY3D current{};
  if (CUresult result = driver_.cuGraphMemcpyNodeGetParams(node, &current); result != CUDA_SUCCESS) {
    return driverResult(result, "cuGraphMemcpyNodeGetParams");
  }
  // A side in the client's memory is a staging buffer (named as host or unified memory); which
  // one, and its size.
  auto addressOf = [](CUmemorytype type, const void* host, CUdeviceptr device) -> std::uint64_t {
    return type == CU_MEMORYTYPE_HOST ? reinterpret_cast<std::uintptr_t>(host) : device;
  };
  auto stagingOf = [&](CUmemorytype type, const void* host, CUdeviceptr device) {
    std::optional<std::pair<std::uint64_t, std::uint64_t>> none;
    if (type != CU_MEMORYTYPE_HOST && type != CU_MEMORYTYPE_UNIFIED) return none;
    return state_->stagingStartingAt(addressOf(type, host, device));
  };
  auto fromStaging = stagingOf(current.srcMemoryType, current.srcHost, current.srcDevice);
  auto toStaging = stagingOf(current.dstMemoryType, current.dstHost, current.dstDevice);
  if (!request.getSet()) {
    if (exec != nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "parameters are read from a graph's node");
    auto sessions = [&](CUmemorytype type, bool staged) {
      return staged || type == CU_MEMORYTYPE_DEVICE || type == CU_MEMORYTYPE_UNIFIED;
    };
    if (!sessions(current.srcMemoryType, fromStaging.has_value()) ||
        !sessions(current.dstMemoryType, toStaging.has_value())) {
      return Status(CUDA_ERROR_NOT_SUPPORTED, "the copy node's memory is not the session's");
    }
    // A side: [memory type, staging id, address (0 when staged; offsets folded in), pitch, rows].
    auto side = [&](CUmemorytype type, const std::optional<std::pair<std::uint64_t, std::uint64_t>>& staging,
                    const void* host, CUdeviceptr device, std::size_t x, std::size_t y, std::size_t z,
                    std::size_t pitch, std::size_t rows) -> std::optional<std::array<std::int64_t, 5>> {
      auto volume = cudaabi::volumeSide(addressOf(type, host, device), x, y, z, pitch, rows, current);
      if (!volume) return std::nullopt;
      std::uint64_t address = staging ? 0 : volume->first;
      return std::array<std::int64_t, 5>{type, static_cast<std::int64_t>(staging ? staging->first : 0),
                                         static_cast<std::int64_t>(address), static_cast<std::int64_t>(pitch),
                                         static_cast<std::int64_t>(rows)};
    };
    auto src = side(current.srcMemoryType, fromStaging, current.srcHost, current.srcDevice, current.srcXInBytes,
                    current.srcY, current.srcZ, current.srcPitch, current.srcHeight);
    auto dst = side(current.dstMemoryType, toStaging, current.dstHost, current.dstDevice, current.dstXInBytes,
                    current.dstY, current.dstZ, current.dstPitch, current.dstHeight);
    if (!src || !dst) return Status(CUDA_ERROR_INVALID_VALUE, "the driver's copy node does not fit in 64 bits");
    std::vector<std::int64_t> values(src->begin(), src->end());
    values.insert(values.end(), dst->begin(), dst->end());
    values.insert(values.end(), {static_cast<std::int64_t>(current.WidthInBytes),
                                 static_cast<std::int64_t>(current.Height), static_cast<std::int64_t>(current.Depth)});
    answer.setValues(std::move(values));
    return Status::ok();
  }
  if (!request.getValue().isCopy()) return Status(CUDA_ERROR_INVALID_VALUE, "no copy parameters");
  auto copy = request.getValue().getCopy();
  if (copy.getFromHost() != fromStaging.has_value() || copy.getToHost() != toStaging.has_value()) {
    return Status(CUDA_ERROR_NOT_SUPPORTED,
                  "a copy node's side cannot change between the client's memory and the device's remotely");
  }
  // The node keeps its staging buffers; the new copy must fit in them.
  auto params = graphCopy(copy, [&](bool toHost, std::uint64_t bytes) -> Result<void*> {
    const auto& staging = toHost ? toStaging : fromStaging;
    if (bytes > staging->second) {
      return Status(CUDA_ERROR_NOT_SUPPORTED, "a copy node of the client's memory cannot grow past its first size");
    }
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(
        toHost ? addressOf(current.dstMemoryType, current.dstHost, current.dstDevice)
               : addressOf(current.srcMemoryType, current.srcHost, current.srcDevice)));
  });
  if (!params) return params.status();
  // A staged side keeps the memory type the driver gave it (a captured copy's may be unified).
  if (fromStaging && current.srcMemoryType == CU_MEMORYTYPE_UNIFIED) {
    params->srcMemoryType = CU_MEMORYTYPE_UNIFIED;
    params->srcDevice = reinterpret_cast<std::uintptr_t>(params->srcHost);
    params->srcHost = nullptr;
  }
  if (toStaging && current.dstMemoryType == CU_MEMORYTYPE_UNIFIED) {
    params->dstMemoryType = CU_MEMORYTYPE_UNIFIED;
    params->dstDevice = reinterpret_cast<std::uintptr_t>(params->dstHost);
    params->dstHost = nullptr;
  }
  CUresult result = CUDA_SUCCESS;
  if (exec == nullptr) {
    result = driver_.cuGraphMemcpyNodeSetParams(node, &*params);
  } else {
    SessionContext* context = state_->context(state_->current());
    if (context == nullptr) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
    result = driver_.cuGraphExecMemcpyNodeSetParams(exec, node, &*params, context->real);
  }
  if (result != CUDA_SUCCESS) return driverResult(result, "cuGraph(Exec)MemcpyNodeSetParams");
  // The client changes its record of the node: which graph, which staging buffers.
  answer.setValues({static_cast<std::int64_t>(graph), static_cast<std::int64_t>(fromStaging ? fromStaging->first : 0),
                    static_cast<std::int64_t>(toStaging ? toStaging->first : 0)});
  return Status::ok();
}

Status Session::graphNodeParams(wire::GraphNodeParams::Reader request, Answer& answer) {
  SessionState& state = *state_;
  auto node = state.graphNodeIds().find(request.getNode());
  if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
  if (request.getSet() && request.getExec() == 0) {
    if (Status refused = refuseChangeInBorrowedGraph(*node); !refused) return refused;
  }
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
    case Kind::MEMCPY:
      return copyNodeParams(node->graph, node->node, exec, request, answer);
    case Kind::CHILD_GRAPH: {
      if (!request.getSet() || exec == nullptr || !value.isChildGraph()) {
        return Status(CUDA_ERROR_INVALID_VALUE, "a child graph is changed in an executable only");
      }
      auto child = state.find(HandleKind::kGraph, value.getChildGraph());
      if (!child) return child.status();
      return driverResult(driver_.cuGraphExecChildGraphNodeSetParams(exec, node->node, static_cast<CUgraph>(*child)),
                          "cuGraphExecChildGraphNodeSetParams");
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
