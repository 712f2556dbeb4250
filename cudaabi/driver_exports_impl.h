// Definitions of a driver library's exported surface; see driver_exports.h. Include in exactly
// one .cpp, and driver_entry_points_impl.h in another (a weak and a strong definition of one
// symbol cannot share a translation unit).
#pragma once

#include "cudaabi/cuda_api.h"
#include "cudaabi/driver_exports.h"
#include "cudaabi/driver_symbols.h"
#include "cudaabi/error_strings.h"
#include "cudaabi/export_tables.h"
#include "cudaabi/log.h"
#include "cudaabi/proc_address.h"

#ifndef FASTGPU_DRIVER_EXPORT
#define FASTGPU_DRIVER_EXPORT extern "C" __attribute__((visibility("default")))
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) \
  FASTGPU_DRIVER_EXPORT __attribute__((weak)) CUresult symbol params { return ::fastgpu::cudaabi::reportNotSupported(#symbol); }
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
#pragma GCC diagnostic pop

namespace fastgpu::cudaabi {

std::span<void* const> driverExportAddresses() {
  static void* const addresses[] = {
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) reinterpret_cast<void*>(&::symbol),
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
  };
  static_assert(std::size(addresses) == kDriverSymbolCount);
  return addresses;
}

}  // namespace fastgpu::cudaabi
