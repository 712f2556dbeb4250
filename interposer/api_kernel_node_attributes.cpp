// Kernel nodes' attributes, remoted: each a round trip to the server's driver (errors come at the
// call, as the driver's); the server checks ids and values (cudaabi/kernel_node_attributes.h).
#include "cudaabi/kernel_node_attributes.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

FASTGPU_REMOTE_EXPORT CUresult cuGraphKernelNodeSetAttribute(CUgraphNode node, CUkernelNodeAttrID attribute,
                                                             const CUkernelNodeAttrValue* value) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (value == nullptr || !cudaabi::isKernelNodeAttribute(attribute)) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphKernelSetAttribute();
    request.setNode(idOf(node));
    auto sent = request.initAttribute();
    sent.setId(static_cast<std::uint32_t>(attribute));
    sent.setValue(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(value), sizeof(*value)));
    return askResult(client, call);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphKernelNodeGetAttribute(CUgraphNode node, CUkernelNodeAttrID attribute,
                                                             CUkernelNodeAttrValue* value) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (value == nullptr || !cudaabi::isKernelNodeAttribute(attribute)) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto request = call->initGraphKernelGetAttribute();
    request.setNode(idOf(node));
    request.initAttribute().setId(static_cast<std::uint32_t>(attribute));
    return askData(client, call, value);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphKernelNodeCopyAttributes(CUgraphNode destination, CUgraphNode source) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    auto pair = call->initGraphKernelCopyAttributes();
    pair.setDestination(idOf(destination));
    pair.setSource(idOf(source));
    return askResult(client, call);
  });
}
