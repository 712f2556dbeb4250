#include "cudaabi/launch_params.h"

#include <cstring>

#include <fmt/format.h>

namespace fastgpu::cudaabi {

Status packLaunchParameters(const KernelInfo& kernel, void** params, void** extra, std::span<std::uint8_t> buffer) {
  if (params != nullptr && extra != nullptr) {
    return Status(CUDA_ERROR_INVALID_VALUE, "both kernelParams and extra were given");
  }
  if (buffer.size() < kernel.paramBytes) return Status(CUDA_ERROR_INVALID_VALUE, "parameter buffer too small");
  if (extra != nullptr) {
    const void* packed = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
      if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) packed = extra[i + 1];
      else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) std::memcpy(&size, extra[i + 1], sizeof(size));
      else return Status(CUDA_ERROR_INVALID_VALUE, "unknown entry in the extra array");
    }
    if (packed == nullptr || size < kernel.paramBytes) {
      return Status(CUDA_ERROR_INVALID_VALUE, "the extra parameter buffer is missing or too small");
    }
    std::memcpy(buffer.data(), packed, kernel.paramBytes);
    return Status::ok();
  }
  if (!kernel.params.empty() && params == nullptr) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{} takes parameters but none were given", kernel.name));
  }
  for (std::size_t i = 0; i < kernel.params.size(); ++i) {
    if (params[i] == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("parameter {} is NULL", i));
    std::memcpy(buffer.data() + kernel.params[i].offset, params[i], kernel.params[i].size);
  }
  return Status::ok();
}

}  // namespace fastgpu::cudaabi
