// A failed system call as a Status: what was being done, and errno's text.
#pragma once

#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

inline Status systemFailure(std::string_view what) {
  return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("{}: {}", what, std::strerror(errno)));
}

}  // namespace fastgpu::protocol
