// cuPointerGetAttribute(s): what each attribute of a pointer reads, given what the driver knows
// about the pointer. One implementation for every driver library.
#pragma once

#include <cstdint>

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

struct PointerFacts {
  unsigned type = 0;  // a CUmemorytype; 0: not memory the driver knows
  CUcontext context = nullptr;
  int deviceOrdinal = -1;
  std::uint64_t address = 0;  // the pointer asked about
  std::uint64_t base = 0;     // its allocation or registered range
  std::uint64_t size = 0;
  bool ipcCapable = false;
};

// Writes attribute `attribute` of the pointer to `data`; CUDA_ERROR_INVALID_VALUE for an
// attribute it does not know.
CUresult writePointerAttribute(const PointerFacts& facts, CUpointer_attribute attribute, void* data);

}  // namespace fastgpu::cudaabi
