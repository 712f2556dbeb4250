// Stream attributes (an L2 access policy window, the synchronization policy, the priority, the
// memory synchronization domain and its map) and cuCtxResetPersistingL2Cache: each a round trip
// (errors come at the call, as the driver's). The priority set on a stream is read back into the
// client's record of the stream (cuStreamGetPriority answers from it); a default stream's
// priority is not set (CUDA_ERROR_INVALID_VALUE), as in cudasim.
#include <algorithm>
#include <cstring>

#include "cudaabi/stream_attributes.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

// Asks for stream attribute `attribute` of `stream`; its value in `*value`.
CUresult getAttribute(Runtime& rt, Client& client, CUstream stream, bool perThread, CUstreamAttrID attribute,
                      CUstreamAttrValue* value) {
  CallMessage call(rt.currentContextId());
  auto request = call->initStreamGetAttribute();
  request.setStream(idOf(stream));
  request.setPerThread(perThread);
  request.initAttribute().setId(static_cast<std::uint32_t>(attribute));
  return askData(client, call, value);
}

CUresult set(const char* name, CUstream stream, CUstreamAttrID attribute, const CUstreamAttrValue* value,
             bool perThread) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (value == nullptr || !cudaabi::isStreamAttribute(attribute)) return CUDA_ERROR_INVALID_VALUE;
    bool priority = attribute == CU_STREAM_ATTRIBUTE_PRIORITY;
    auto info = idOf(stream) > 2 ? rt.stream(idOf(stream)) : std::nullopt;
    if (priority && !info) return CUDA_ERROR_INVALID_VALUE;  // a default stream, or one not known here
    CallMessage call(rt.currentContextId());
    auto request = call->initStreamSetAttribute();
    request.setStream(idOf(stream));
    request.setPerThread(perThread);
    auto sent = request.initAttribute();
    sent.setId(static_cast<std::uint32_t>(attribute));
    sent.setValue(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(value), sizeof(*value)));
    if (CUresult result = askResult(client, call); result != CUDA_SUCCESS) return result;
    if (!priority) return CUDA_SUCCESS;
    // The driver clamps it to the device's range: what it keeps is what cuStreamGetPriority says.
    CUstreamAttrValue kept{};
    if (CUresult result = getAttribute(rt, client, stream, perThread, attribute, &kept); result != CUDA_SUCCESS) {
      return result;
    }
    info->priority = kept.priority;
    rt.addStream(idOf(stream), *info);
    return CUDA_SUCCESS;
  });
}

CUresult get(const char* name, CUstream stream, CUstreamAttrID attribute, CUstreamAttrValue* value, bool perThread) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (value == nullptr || !cudaabi::isStreamAttribute(attribute)) return CUDA_ERROR_INVALID_VALUE;
    return getAttribute(rt, client, stream, perThread, attribute, value);
  });
}

CUresult copy(const char* name, CUstream destination, CUstream source, bool perThread) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    auto pair = call->initStreamCopyAttributes();
    pair.setDestination(idOf(destination));
    pair.setSource(idOf(source));
    pair.setPerThread(perThread);
    return askResult(client, call);
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuStreamSetAttribute(CUstream stream, CUstreamAttrID attribute,
                                                    const CUstreamAttrValue* value) {
  return set(__func__, stream, attribute, value, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamSetAttribute_ptsz(CUstream stream, CUstreamAttrID attribute,
                                                         const CUstreamAttrValue* value) {
  return set(__func__, stream, attribute, value, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetAttribute(CUstream stream, CUstreamAttrID attribute,
                                                    CUstreamAttrValue* value) {
  return get(__func__, stream, attribute, value, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetAttribute_ptsz(CUstream stream, CUstreamAttrID attribute,
                                                         CUstreamAttrValue* value) {
  return get(__func__, stream, attribute, value, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamCopyAttributes(CUstream destination, CUstream source) {
  return copy(__func__, destination, source, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamCopyAttributes_ptsz(CUstream destination, CUstream source) {
  return copy(__func__, destination, source, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxResetPersistingL2Cache() {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    call->setResetPersistingL2Cache();
    return askResult(client, call);
  });
}
