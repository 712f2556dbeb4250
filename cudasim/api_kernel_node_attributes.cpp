// A kernel node's attributes (cudaabi/kernel_node_attributes.h): kept with the node through
// parameter changes, clones and instantiation; they change nothing a twin computes. The priority
// is clamped to the device's range, as a stream's.
#include "cudasim/graph_api.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

template <typename Body>
CUresult withKernelNode(const char* name, CUgraphNode handle, Body&& body) {
  return withNode(name, handle, [&](Driver&, GraphNode& node) {
    auto* kernel = std::get_if<KernelNode>(&node.params());
    return kernel == nullptr ? CUDA_ERROR_INVALID_VALUE : body(*kernel);
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuGraphKernelNodeSetAttribute(CUgraphNode node, CUkernelNodeAttrID attribute,
                                                          const CUkernelNodeAttrValue* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult invalid = cudaabi::checkKernelNodeAttribute(attribute, *value); invalid != CUDA_SUCCESS) return invalid;
  return withKernelNode(__func__, node, [&](KernelNode& kernel) {
    CUkernelNodeAttrValue kept = *value;
    if (attribute == CU_LAUNCH_ATTRIBUTE_PRIORITY) kept.priority = clampPriority(kept.priority);
    kernel.attributes.set(attribute, kept);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphKernelNodeGetAttribute(CUgraphNode node, CUkernelNodeAttrID attribute,
                                                          CUkernelNodeAttrValue* value) {
  if (value == nullptr || !cudaabi::isKernelNodeAttribute(attribute)) return CUDA_ERROR_INVALID_VALUE;
  return withKernelNode(__func__, node, [&](KernelNode& kernel) {
    *value = kernel.attributes.get(attribute);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphKernelNodeCopyAttributes(CUgraphNode destination, CUgraphNode source) {
  cudaabi::KernelNodeAttributes copied;
  CUresult read = withKernelNode(__func__, source, [&](KernelNode& kernel) {
    copied = kernel.attributes;
    return CUDA_SUCCESS;
  });
  if (read != CUDA_SUCCESS) return read;
  return withKernelNode(__func__, destination, [&](KernelNode& kernel) {
    kernel.attributes = copied;
    return CUDA_SUCCESS;
  });
}
