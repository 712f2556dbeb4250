// Resolving what a launch or a function query names: a CUfunction, or a CUkernel passed where a
// CUfunction is expected (libcudart launches CUkernels through cuLaunchKernel).
#pragma once

#include "cudasim/driver.h"

namespace fastgpu::sim {

// The function a CUfunction or CUkernel handle names, in the current context for a kernel.
Result<std::shared_ptr<Function>> resolveFunction(Driver& driver, const void* handle);

}  // namespace fastgpu::sim
