// Kernel nodes' attributes (cuGraphKernelNodeSetAttribute / GetAttribute / CopyAttributes): ids
// and values are checked before the driver sees them (cudaabi/kernel_node_attributes.h), an access
// policy window must lie in the session's own memory, and nodes of a child graph borrowed for
// queries are not changed.
#include <cstring>

#include "cudaabi/kernel_node_attributes.h"
#include "server/session.h"

namespace fastgpu::server {

Status Session::kernelNodeAttribute(wire::Call::Reader call, Answer& answer) {
  auto nodeOf = [&](std::uint64_t id, bool changing) -> Result<CUgraphNode> {
    auto node = state_->graphNodeIds().find(id);
    if (!node) return Status(CUDA_ERROR_INVALID_VALUE, "not a graph node of this session");
    if (changing) {
      if (Status refused = refuseChangeInBorrowedGraph(*node); !refused) return refused;
    }
    return node->node;
  };
  if (call.which() == wire::Call::GRAPH_KERNEL_COPY_ATTRIBUTES) {
    auto pair = call.getGraphKernelCopyAttributes();
    auto destination = nodeOf(pair.getDestination(), true);
    if (!destination) return destination.status();
    auto source = nodeOf(pair.getSource(), false);
    if (!source) return source.status();
    return driverResult(driver_.cuGraphKernelNodeCopyAttributes(*destination, *source), "cuGraphKernelNodeCopyAttributes");
  }
  bool setting = call.which() == wire::Call::GRAPH_KERNEL_SET_ATTRIBUTE;
  auto request = setting ? call.getGraphKernelSetAttribute() : call.getGraphKernelGetAttribute();
  auto node = nodeOf(request.getNode(), setting);
  if (!node) return node.status();
  auto id = static_cast<CUlaunchAttributeID>(request.getAttribute().getId());
  if (!cudaabi::isKernelNodeAttribute(id)) return Status(CUDA_ERROR_INVALID_VALUE, "not an attribute a kernel node carries");
  CUkernelNodeAttrValue value{};
  if (!setting) {
    CUresult result = driver_.cuGraphKernelNodeGetAttribute(*node, id, &value);
    if (result != CUDA_SUCCESS) return driverResult(result, "cuGraphKernelNodeGetAttribute");
    if (id == CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE) value.deviceUpdatableKernelNode.devNode = nullptr;
    answer.kind = Answer::Kind::kData;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
    answer.data.assign(bytes, bytes + sizeof(value));
    return Status::ok();
  }
  auto bytes = request.getAttribute().getValue();
  if (bytes.size() > sizeof(value)) return Status(CUDA_ERROR_INVALID_VALUE, "a kernel node attribute's value is too large");
  std::memcpy(&value, bytes.begin(), bytes.size());
  if (CUresult invalid = cudaabi::checkKernelNodeAttribute(id, value); invalid != CUDA_SUCCESS) {
    return Status(invalid, "an invalid kernel node attribute value");
  }
  if (id == CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW) {
    if (Status status = checkAccessPolicyWindow(value.accessPolicyWindow); !status) return status;
  }
  return driverResult(driver_.cuGraphKernelNodeSetAttribute(*node, id, &value), "cuGraphKernelNodeSetAttribute");
}

}  // namespace fastgpu::server
