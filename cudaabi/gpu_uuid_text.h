// A GPU's UUID as NVIDIA's tools write it ("GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"): the
// server's configuration names GPUs this way, and NVML answers it.
#pragma once

#include <cstdio>
#include <string>

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

inline std::string gpuUuidText(const CUuuid& uuid) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  char text[48];
  std::snprintf(text, sizeof(text), "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return text;
}

}  // namespace fastgpu::cudaabi
