// cuGetProcAddress: which exported symbol answers (name, cudaVersion, flags).
//
// The rule, generated from cudaTypedefs.h (docs/driver-abi.md): among the typedef versions of
// a name at or below cudaVersion, the newest wins. With CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_
// STREAM, names that have per-thread variants answer with the newest per-thread one; if all of
// those are newer than cudaVersion the answer is "version not sufficient".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

struct ProcAddressAnswer {
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  std::size_t symbolIndex = 0;  // a DriverSymbol index; meaningful only when status is SUCCESS
};

// Pure lookup, no side effects; thread-safe. Flags other than 0, 1 and 2 are the caller's to
// reject.
ProcAddressAnswer lookupProcAddress(std::string_view name, int cudaVersion, std::uint64_t flags);

// The whole cuGetProcAddress_v2 entry point for a driver library whose exported functions are
// `addresses` (indexed by DriverSymbol). Never returns CUDA_ERROR_STUB_LIBRARY (34): libcudart
// would take the driver for a stub.
CUresult getProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                        CUdriverProcAddressQueryResult* symbolStatus, std::span<void* const> addresses);

}  // namespace fastgpu::cudaabi
