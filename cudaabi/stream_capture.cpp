#include "cudaabi/stream_capture.h"

#include <utility>

namespace fastgpu::cudaabi {
namespace {

thread_local CUstreamCaptureMode threadCaptureMode = CU_STREAM_CAPTURE_MODE_GLOBAL;

}  // namespace

CUresult exchangeThreadCaptureMode(CUstreamCaptureMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (*mode != CU_STREAM_CAPTURE_MODE_GLOBAL && *mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      *mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::swap(*mode, threadCaptureMode);
  return CUDA_SUCCESS;
}

}  // namespace fastgpu::cudaabi
