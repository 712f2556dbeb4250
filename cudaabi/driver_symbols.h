// The exported driver surface, generated from the toolkit's headers (see
// tools/codegen/gen_driver_api.py): one index per exported symbol, its name, and a typed
// function table.
#pragma once

#include <cstddef>
#include <string_view>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"

namespace fastgpu::cudaabi {

// One enumerator per exported symbol, named exactly as the symbol, in name order.
enum class DriverSymbol : std::size_t {
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) symbol,
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
};

inline constexpr std::size_t kDriverSymbolCount = 0
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) +1
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
    ;

// The symbol name of an index below kDriverSymbolCount.
std::string_view driverSymbolName(std::size_t index);

// Every exported driver function, typed. A null member is a symbol the loaded driver lacks.
struct DriverTable {
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) pfn symbol = nullptr;
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
};

// Fills a table from a library opened with dlopen. Fails, naming the library, only when the
// library lacks cuGetProcAddress_v2 or cuInit; other missing symbols stay null.
// Thread-safe; the handle stays owned by the caller and must outlive the table.
Result<DriverTable> loadDriverTable(void* dlopenHandle, std::string_view libraryName);

}  // namespace fastgpu::cudaabi
