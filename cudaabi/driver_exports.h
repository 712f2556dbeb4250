// The exported surface of a FastGPU driver library (libcuda.so.1).
//
// A driver library exports the driver functions it implements and no others (DESIGN.md decision
// 15): cuGetProcAddress answers SYMBOL_NOT_FOUND and dlsym finds nothing for the rest, so
// frameworks take their fallbacks. Include driver_exports_impl.h in exactly one .cpp of each
// driver library: it gives every driver symbol a weak alias of a hidden stub that reports
// CUDA_ERROR_NOT_SUPPORTED (logging its name once), which the library's own strong definitions
// replace at link time; the stub stays for calls from inside the library only, since the link
// exports just the strong definitions (fastgpu_driver_library in cmake/DriverLibrary.cmake writes
// the version script from the objects). driver_entry_points_impl.h defines the entry points that
// every FastGPU driver answers the same way: cuGetProcAddress (both forms), cuGetExportTable,
// cuGetErrorName and cuGetErrorString.
#pragma once

#include <span>

namespace fastgpu::cudaabi {

// The addresses of this library's driver functions, indexed by DriverSymbol: null for each one
// the library does not implement.
std::span<void* const> driverExportAddresses();

}  // namespace fastgpu::cudaabi
