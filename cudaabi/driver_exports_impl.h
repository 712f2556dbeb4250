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
// fastgpu_absent_<symbol>: the stub, hidden; <symbol>: a weak alias of it, which a strong
// definition elsewhere in the library replaces.
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args)                                                     \
  extern "C" __attribute__((visibility("hidden"))) CUresult fastgpu_absent_##symbol params {             \
    return ::fastgpu::cudaabi::reportNotSupported(#symbol);                                             \
  }                                                                                                     \
  FASTGPU_DRIVER_EXPORT __attribute__((weak, alias("fastgpu_absent_" #symbol))) CUresult symbol params;
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
#pragma GCC diagnostic pop

namespace fastgpu::cudaabi {

std::span<void* const> driverExportAddresses() {
  static void* const* const addresses = [] {
    static void* const linked[] = {
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) reinterpret_cast<void*>(&::symbol),
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
    };
    static void* const stubs[] = {
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) reinterpret_cast<void*>(&::fastgpu_absent_##symbol),
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
    };
    static_assert(std::size(linked) == kDriverSymbolCount && std::size(stubs) == kDriverSymbolCount);
    static void* implemented[kDriverSymbolCount];
    for (std::size_t i = 0; i < kDriverSymbolCount; ++i) implemented[i] = linked[i] == stubs[i] ? nullptr : linked[i];
    return implemented;
  }();
  return {addresses, kDriverSymbolCount};
}

}  // namespace fastgpu::cudaabi
