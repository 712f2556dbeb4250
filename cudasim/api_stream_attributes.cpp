// Stream attributes (cudaabi/stream_attributes.h): kept and checked per stream. cudasim has no L2
// cache and one synchronization domain, so an access policy window or a domain changes no timing;
// the priority is the stream's own (cuStreamGetPriority), clamped to the device's range. With no
// L2 cache nothing persists: cuCtxResetPersistingL2Cache has nothing to reset.
#include <algorithm>

#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

CUresult set(const char* name, CUstream handle, CUstreamAttrID attribute, const CUstreamAttrValue* value,
             DefaultStream nullMeans) {
  return withStream(name, handle, nullMeans, [&](Driver&, Stream& stream) {
    if (value == nullptr || !cudaabi::isStreamAttribute(attribute)) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult invalid = cudaabi::checkStreamAttribute(attribute, *value); invalid != CUDA_SUCCESS) return invalid;
    if (attribute == CU_STREAM_ATTRIBUTE_PRIORITY) {
      // A default stream keeps its priority (the client library cannot follow a change to it).
      if (stream.kind() != Stream::Kind::kCreated) return CUDA_ERROR_INVALID_VALUE;
      stream.setPriority(clampPriority(value->priority));
      return CUDA_SUCCESS;
    }
    cudaabi::StreamAttributes attributes = stream.attributes();
    attributes.set(attribute, *value);
    stream.setAttributes(attributes);
    return CUDA_SUCCESS;
  });
}

CUresult get(const char* name, CUstream handle, CUstreamAttrID attribute, CUstreamAttrValue* value,
             DefaultStream nullMeans) {
  return withStream(name, handle, nullMeans, [&](Driver&, Stream& stream) {
    if (value == nullptr || !cudaabi::isStreamAttribute(attribute)) return CUDA_ERROR_INVALID_VALUE;
    *value = stream.attributes().get(attribute);
    if (attribute == CU_STREAM_ATTRIBUTE_PRIORITY) value->priority = stream.priority();
    return CUDA_SUCCESS;
  });
}

CUresult copy(const char* name, CUstream destination, CUstream source, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto from = resolveStream(driver, source, nullMeans);
    if (!from) return fail(from);
    auto to = resolveStream(driver, destination, nullMeans);
    if (!to) return fail(to);
    if (&(*to)->context() != &(*from)->context()) return CUDA_ERROR_INVALID_VALUE;  // as the driver requires
    (*to)->setAttributes((*from)->attributes());  // the priority stays the stream's own
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuStreamSetAttribute(CUstream stream, CUstreamAttrID attribute,
                                                 const CUstreamAttrValue* value) {
  return set(__func__, stream, attribute, value, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamSetAttribute_ptsz(CUstream stream, CUstreamAttrID attribute,
                                                      const CUstreamAttrValue* value) {
  return set(__func__, stream, attribute, value, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetAttribute(CUstream stream, CUstreamAttrID attribute, CUstreamAttrValue* value) {
  return get(__func__, stream, attribute, value, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetAttribute_ptsz(CUstream stream, CUstreamAttrID attribute,
                                                      CUstreamAttrValue* value) {
  return get(__func__, stream, attribute, value, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuStreamCopyAttributes(CUstream destination, CUstream source) {
  return copy(__func__, destination, source, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamCopyAttributes_ptsz(CUstream destination, CUstream source) {
  return copy(__func__, destination, source, DefaultStream::kPerThread);
}

FASTGPU_SIM_EXPORT CUresult cuCtxResetPersistingL2Cache() {
  return driverEntry(__func__, [&](Driver& driver) -> CUresult {
    auto context = driver.requireCurrentContext();
    return context ? CUDA_SUCCESS : fail(context);
  });
}
