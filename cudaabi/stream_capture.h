// Stream capture facts shared by the driver libraries: the calling thread's capture mode (its own,
// as in CUDA) and the checks of the capture queries.
#pragma once

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

// cuThreadExchangeStreamCaptureMode: swaps *mode with the calling thread's mode.
CUresult exchangeThreadCaptureMode(CUstreamCaptureMode* mode);
// The calling thread's capture mode (which calls a capture prohibits on this thread).
CUstreamCaptureMode threadCaptureMode();

// The arguments of cuStreamIsCapturing / cuStreamGetCaptureInfo*: a status to write. (Edge data
// asked for without nodes is accepted, as the real driver accepts it.)
inline CUresult checkCaptureQuery(const CUstreamCaptureStatus* status) {
  return status == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

}  // namespace fastgpu::cudaabi
