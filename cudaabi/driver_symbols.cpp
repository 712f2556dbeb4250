#include "cudaabi/driver_symbols.h"

#include <dlfcn.h>

#include <array>

#include <fmt/format.h>

namespace fastgpu::cudaabi {
namespace {

constexpr std::array<std::string_view, kDriverSymbolCount> kSymbolNames = {
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) #symbol,
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
};

}  // namespace

std::string_view driverSymbolName(std::size_t index) {
  return index < kSymbolNames.size() ? kSymbolNames[index] : std::string_view{};
}

Result<DriverTable> loadDriverTable(void* dlopenHandle, std::string_view libraryName) {
  DriverTable table;
#define FASTGPU_DRIVER_FN(symbol, pfn, params, args) \
  table.symbol = reinterpret_cast<pfn>(dlsym(dlopenHandle, #symbol));
#include "cudaabi/driver_api.inc"
#undef FASTGPU_DRIVER_FN
  if (table.cuGetProcAddress_v2 == nullptr || table.cuInit == nullptr) {
    return Status(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND,
                  fmt::format("{} is not a CUDA driver: it lacks cuInit or cuGetProcAddress_v2", libraryName));
  }
  return table;
}

}  // namespace fastgpu::cudaabi
