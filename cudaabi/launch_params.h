// Packing a launch's parameters into the kernel's parameter buffer, from either form the driver
// API accepts: `kernelParams` (one pointer per parameter) or the `extra` array
// (CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE / _END). One implementation for every driver library.
#pragma once

#include <cstdint>
#include <span>

#include "cudaabi/kernel_image.h"
#include "cudaabi/result.h"

namespace fastgpu::cudaabi {

// Fills `buffer` (kernel.paramBytes long) from `params` or `extra`. Fails with
// CUDA_ERROR_INVALID_VALUE, saying why, when both or neither are given for a kernel with
// parameters, a parameter pointer is NULL, or the extra buffer is missing or short.
Status packLaunchParameters(const KernelInfo& kernel, void** params, void** extra, std::span<std::uint8_t> buffer);

}  // namespace fastgpu::cudaabi
