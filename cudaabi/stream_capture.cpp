#include "cudaabi/stream_capture.h"

#include <utility>

namespace fastgpu::cudaabi {
namespace {

thread_local CUstreamCaptureMode currentThreadMode = CU_STREAM_CAPTURE_MODE_GLOBAL;

}  // namespace

CUstreamCaptureMode threadCaptureMode() { return currentThreadMode; }

CUresult exchangeThreadCaptureMode(CUstreamCaptureMode* mode) {
  // Any value is taken, as the real driver takes it (seen with driver 580 on an H200).
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::swap(*mode, currentThreadMode);
  return CUDA_SUCCESS;
}

}  // namespace fastgpu::cudaabi
