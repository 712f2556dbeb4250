#include "cudaabi/check.h"

#include <cstdio>
#include <cstdlib>

namespace fastgpu::detail {

void checkFailed(const char* file, int line, const char* condition, const std::string& detail) {
  std::fprintf(stderr, "fastgpu: internal error at %s:%d: check `%s` failed: %s\n", file, line, condition,
               detail.c_str());
  std::abort();
}

}  // namespace fastgpu::detail
