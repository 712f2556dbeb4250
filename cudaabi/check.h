// Invariant checks: a failed FASTGPU_CHECK is a bug in FastGPU, never a user error. It prints
// where and what failed, with the values involved, and aborts.
#pragma once

#include <fmt/format.h>

namespace fastgpu::detail {
[[noreturn]] void checkFailed(const char* file, int line, const char* condition, const std::string& detail);
}  // namespace fastgpu::detail

#define FASTGPU_CHECK(condition, ...)                                                              \
  do {                                                                                            \
    if (!(condition)) [[unlikely]] {                                                              \
      ::fastgpu::detail::checkFailed(__FILE__, __LINE__, #condition, ::fmt::format(__VA_ARGS__)); \
    }                                                                                             \
  } while (false)
