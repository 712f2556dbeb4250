// Helpers of cudasim's graph and capture entry points (api_graph*.cpp, api_capture.cpp).
#pragma once

#include <vector>

#include "cudasim/entry.h"

namespace fastgpu::sim {

// `body(driver, graph)` for the live graph `handle` names, under the capture lock.
template <typename Body>
CUresult withGraph(const char* name, CUgraph handle, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    std::lock_guard lock(driver.captures().mutex());
    auto graph = driver.handles().find<Graph>(HandleKind::kGraph, handle);
    if (!graph) return CUDA_ERROR_INVALID_VALUE;
    return body(driver, graph);
  });
}

// `body(driver, node)` for the live graph node `handle` names, under the capture lock.
template <typename Body>
CUresult withNode(const char* name, CUgraphNode handle, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    std::lock_guard lock(driver.captures().mutex());
    auto node = driver.handles().find<GraphNode>(HandleKind::kGraphNode, handle);
    if (!node) return CUDA_ERROR_INVALID_VALUE;
    return body(driver, *node);
  });
}

// The nodes a list of handles names (all of them live nodes, or an error).
inline Result<std::vector<GraphNode*>> nodesOf(Driver& driver, const CUgraphNode* handles, std::size_t count) {
  if (count > 0 && handles == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "no node list");
  std::vector<GraphNode*> nodes;
  for (std::size_t i = 0; i < count; ++i) {
    auto node = driver.handles().find<GraphNode>(HandleKind::kGraphNode, handles[i]);
    if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node");
    nodes.push_back(node.get());
  }
  return nodes;
}

// Edge data other than the default kind (programmatic ports) is not simulated.
inline bool defaultEdges(const CUgraphEdgeData* edges, std::size_t count) {
  for (std::size_t i = 0; edges != nullptr && i < count; ++i) {
    if (edges[i].type != CU_GRAPH_DEPENDENCY_TYPE_DEFAULT || edges[i].from_port != 0 || edges[i].to_port != 0) {
      return false;
    }
  }
  return true;
}

// Node parameters from the API's structures, checked as when a node is added.
inline Result<NodeParams> kernelParams(Driver& driver, const CUDA_KERNEL_NODE_PARAMS_v2& p) {
  const void* function = p.func != nullptr ? static_cast<const void*>(p.func) : static_cast<const void*>(p.kern);
  auto launch = prepareKernelLaunch(driver, function, {p.gridDimX, p.gridDimY, p.gridDimZ},
                                    {p.blockDimX, p.blockDimY, p.blockDimZ}, p.sharedMemBytes, p.kernelParams, p.extra);
  if (!launch) return launch.status();
  return NodeParams{KernelNode{std::move(*launch), {}}};
}

inline CUDA_KERNEL_NODE_PARAMS_v2 widen(const CUDA_KERNEL_NODE_PARAMS_v1& p) {
  return CUDA_KERNEL_NODE_PARAMS_v2{p.func,      p.gridDimX,  p.gridDimY,      p.gridDimZ,     p.blockDimX, p.blockDimY,
                                    p.blockDimZ, p.sharedMemBytes, p.kernelParams, p.extra, nullptr, nullptr};
}

inline Result<NodeParams> copyParams(Driver& driver, const CUDA_MEMCPY3D& p) {
  auto copy = checkCopy3D(driver, p);
  if (!copy) return copy.status();
  return NodeParams{CopyNode{p, *copy}};
}

inline Result<NodeParams> memsetParams(Driver& driver, const CUDA_MEMSET_NODE_PARAMS& p) {
  auto checked = checkMemset(driver, p);
  if (!checked) return checked.status();
  return NodeParams{MemsetNode{*checked}};
}

inline Result<NodeParams> eventParams(Driver& driver, CUevent event) {
  if (!driver.handles().find<Event>(HandleKind::kEvent, event)) return Status(CUDA_ERROR_INVALID_VALUE, "not an event");
  return NodeParams{EventNode{event}};
}

// A child graph node's: a clone of `child`.
Result<NodeParams> childParams(Driver& driver, CUgraph child);
// The parameters of cuGraphAddNode / cuGraphNodeSetParams / cuGraphExecNodeSetParams.
Result<NodeParams> genericParams(Driver& driver, const CUgraphNodeParams& p);

// A graph allocation (an allocation node's memory): pinned device memory of a device, no
// shareable handle; its address is the node's.
inline Result<NodeParams> memAllocParams(Driver& driver, const CUDA_MEM_ALLOC_NODE_PARAMS& p) {
  const CUmemPoolProps& props = p.poolProps;
  if (props.allocType != CU_MEM_ALLOCATION_TYPE_PINNED || props.location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
      props.handleTypes != CU_MEM_HANDLE_TYPE_NONE ||
      p.accessDescCount > static_cast<std::size_t>(driver.deviceCount()) ||
      (p.accessDescCount > 0 && p.accessDescs == nullptr)) {
    return Status(CUDA_ERROR_INVALID_VALUE, "graph allocations are pinned device memory without shareable handles");
  }
  Device* device = driver.device(props.location.id);
  if (device == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "no such device");
  auto allocation = driver.graphMemory().allocate(*device, p.bytesize);
  if (!allocation) return allocation.status();
  MemAllocNode node{p, *allocation};
  node.params.dptr = (*allocation)->base();
  node.params.accessDescs = nullptr;
  node.params.accessDescCount = 0;
  return NodeParams{std::move(node)};
}

inline Result<NodeParams> memFreeParams(Driver& driver, CUdeviceptr address) {
  if (!driver.graphMemory().find(address)) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph allocation");
  return NodeParams{MemFreeNode{address}};
}

inline CUgraphNode handleOf(const GraphNode* node) { return toHandle<CUgraphNode>(node->handle()); }

}  // namespace fastgpu::sim
