// What a driver library answers about stream capture while it records no graphs (cudasim and the
// interposer, until capture is implemented): no stream is ever capturing, so the queries answer
// CU_STREAM_CAPTURE_STATUS_NONE, which is the truth, and cuStreamBeginCapture stays unsupported
// (its stub fails and logs). The capture mode is the calling thread's own, as in CUDA.
#pragma once

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

// cuThreadExchangeStreamCaptureMode: swaps *mode with the calling thread's mode.
CUresult exchangeThreadCaptureMode(CUstreamCaptureMode* mode);

// The arguments of cuStreamIsCapturing / cuStreamGetCaptureInfo*: a status to write. (Edge data
// asked for without nodes is accepted while nothing captures, as the real driver accepts it.)
inline CUresult checkCaptureQuery(const CUstreamCaptureStatus* status) {
  return status == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

}  // namespace fastgpu::cudaabi
