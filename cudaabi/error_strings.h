// cuGetErrorName / cuGetErrorString, generated from the CUresult enum of cuda.h.
#pragma once

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

// "CUDA_ERROR_OUT_OF_MEMORY". An unknown code gives CUDA_ERROR_INVALID_VALUE and *name = NULL,
// as the driver does.
CUresult errorName(CUresult error, const char** name);
// The first sentence of the code's documentation in cuda.h.
CUresult errorString(CUresult error, const char** text);
// For our own messages: the name, or "CUDA error <n>" for an unknown code. Never null.
const char* errorNameOrNumber(CUresult error);

}  // namespace fastgpu::cudaabi
