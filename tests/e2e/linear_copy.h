// A CUDA_MEMCPY3D of one row of `bytes` (memory types and addresses left to the caller), as the
// graph programs describe their copy nodes.
#pragma once

#include <cuda.h>

#include <cstddef>

namespace fastgpu::e2e {

inline CUDA_MEMCPY3D linearCopy(std::size_t bytes) {
  CUDA_MEMCPY3D copy{};
  copy.WidthInBytes = bytes;
  copy.Height = 1;
  copy.Depth = 1;
  return copy;
}

}  // namespace fastgpu::e2e
