// Stream capture, answered here without a round trip (DESIGN.md decision 12: these sit on launch
// paths). Capture is not remoted yet: no stream is ever capturing, and cuStreamBeginCapture stays
// unsupported (its stub fails and logs), so a framework takes its path without graphs.
#include "cudaabi/stream_capture.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

FASTGPU_REMOTE_EXPORT CUresult cuStreamGetFlags(CUstream stream, unsigned int* flags);

namespace {

CUresult captureInfo(CUstream stream, CUstreamCaptureStatus* status) {
  if (CUresult bad = cudaabi::checkCaptureQuery(status); bad != CUDA_SUCCESS) return bad;
  unsigned flags = 0;  // validates the stream, locally
  if (CUresult result = cuStreamGetFlags(stream, &flags); result != CUDA_SUCCESS) return result;
  *status = CU_STREAM_CAPTURE_STATUS_NONE;  // the other outputs are defined only during a capture
  return CUDA_SUCCESS;
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  return remoteEntry(__func__, [&](Runtime&, Client&) { return cudaabi::exchangeThreadCaptureMode(mode); });
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus* status) {
  return captureInfo(s, status);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream s, CUstreamCaptureStatus* status) {
  return captureInfo(perThreadIfNull(s), status);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo(CUstream s, CUstreamCaptureStatus* status, cuuint64_t*) {
  return captureInfo(s, status);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t*) {
  return captureInfo(perThreadIfNull(s), status);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream s, CUstreamCaptureStatus* status, cuuint64_t*, CUgraph*,
                                                         const CUgraphNode**, size_t*) {
  return captureInfo(s, status);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t*,
                                                              CUgraph*, const CUgraphNode**, size_t*) {
  return captureInfo(perThreadIfNull(s), status);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream s, CUstreamCaptureStatus* status, cuuint64_t*, CUgraph*,
                                                         const CUgraphNode**, const CUgraphEdgeData**,
                                                         size_t*) {
  return captureInfo(s, status);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream s, CUstreamCaptureStatus* status, cuuint64_t*,
                                                              CUgraph*, const CUgraphNode**,
                                                              const CUgraphEdgeData**, size_t*) {
  return captureInfo(perThreadIfNull(s), status);
}
