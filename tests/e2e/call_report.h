// One line per driver call for the end-to-end programs whose output a run through FastGPU must
// reproduce: what was called and the result's name; a result other than the one expected counts
// as a failure.
#pragma once

#include <cuda.h>

#include <cstdio>

namespace fastgpu::e2e {

inline int failures = 0;

inline const char* nameOf(CUresult result) {
  const char* name = nullptr;
  return cuGetErrorName(result, &name) == CUDA_SUCCESS ? name : "an unknown error";
}

inline void report(const char* what, CUresult result, CUresult expected = CUDA_SUCCESS) {
  std::printf("%-52s %s\n", what, nameOf(result));
  if (result != expected) ++failures;
}

}  // namespace fastgpu::e2e
