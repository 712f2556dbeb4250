// The exported surface of a FastGPU driver library (libcuda.so.1).
//
// Include driver_exports_impl.h in exactly one .cpp of each driver library. It defines every
// driver symbol as a weak function that reports CUDA_ERROR_NOT_SUPPORTED (logging its name once),
// so the library exports all of the toolkit's symbols; the library's own strong definitions
// replace the weak ones at link time. It also defines the entry points that every FastGPU driver
// answers the same way: cuGetProcAddress (both forms), cuGetExportTable, cuGetErrorName and
// cuGetErrorString.
#pragma once

#include <span>

namespace fastgpu::cudaabi {

// The addresses of this library's exported driver functions, indexed by DriverSymbol.
std::span<void* const> driverExportAddresses();

}  // namespace fastgpu::cudaabi
