// What the programs that copy volumes and images share: a context and stream to work in, and a
// checksum that sees the order of bytes.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <cstdio>
#include <vector>

namespace fastgpu::e2e {

// cuInit, device 0, a context and a non-blocking stream; prints "<program>: setup failed" when
// any of it fails.
inline bool openContextAndStream(const char* program, CUcontext& context, CUstream& stream) {
  CUdevice device;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&device, 0) != CUDA_SUCCESS ||
      cuCtxCreate(&context, nullptr, 0, device) != CUDA_SUCCESS ||
      cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) {
    std::printf("%s: setup failed\n", program);
    return false;
  }
  return true;
}

// Every byte weighted by its position.
inline std::uint64_t checksum(const std::vector<std::uint8_t>& bytes) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) sum = sum * 1099511628211ULL + bytes[i] + i;
  return sum;
}

}  // namespace fastgpu::e2e
