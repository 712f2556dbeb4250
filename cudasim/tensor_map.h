// Tensor maps (TMA descriptors): the driver's documented requirements on cuTensorMapEncodeTiled,
// cuTensorMapEncodeIm2col(Wide) and cuTensorMapReplaceAddress, checked one by one, and the
// encoding in cudasim's published layout (include/fastgpu/sim_tensor_map.h).
#pragma once

#include <array>
#include <cstdint>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"
#include "fastgpu/sim_tensor_map.h"

namespace fastgpu::sim {

inline constexpr unsigned kMaxTensorRank = 5;

// Every argument of the three encoders, copied out of the caller's arrays (rank entries each;
// globalStrides rank - 1; corners rank - 2).
struct TensorMapRequest {
  fastgpu_sim_tensor_map_kind kind = FASTGPU_SIM_TENSOR_MAP_TILED;
  CUtensorMapDataType dataType = CU_TENSOR_MAP_DATA_TYPE_UINT8;
  unsigned rank = 0;
  std::uint64_t globalAddress = 0;
  std::array<std::uint64_t, kMaxTensorRank> globalDim{};
  std::array<std::uint64_t, kMaxTensorRank - 1> globalStrides{};
  std::array<std::uint32_t, kMaxTensorRank> boxDim{};          // tiled
  std::array<std::uint32_t, kMaxTensorRank> elementStrides{};
  std::array<int, kMaxTensorRank - 2> lowerCorner{};            // im2col (wide: [0])
  std::array<int, kMaxTensorRank - 2> upperCorner{};
  std::uint32_t channelsPerPixel = 0;                           // im2col
  std::uint32_t pixelsPerColumn = 0;
  CUtensorMapInterleave interleave = CU_TENSOR_MAP_INTERLEAVE_NONE;
  CUtensorMapSwizzle swizzle = CU_TENSOR_MAP_SWIZZLE_NONE;
  CUtensorMapL2promotion l2Promotion = CU_TENSOR_MAP_L2_PROMOTION_NONE;
  CUtensorMapFloatOOBfill oobFill = CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE;
  CUtensorMapIm2ColWideMode wideMode = CU_TENSOR_MAP_IM2COL_WIDE_MODE_W;
};

// CUDA_ERROR_INVALID_VALUE naming the first requirement the request breaks.
Status checkTensorMapRequest(const TensorMapRequest& request);
// The descriptor of a request that passed the checks.
CUtensorMap encodeTensorMap(const TensorMapRequest& request);
// A descriptor cudasim encoded, with its address replaced (checked against its alignment rules);
// CUDA_ERROR_INVALID_VALUE for one it did not encode.
Status replaceTensorMapAddress(CUtensorMap& map, std::uint64_t globalAddress);

}  // namespace fastgpu::sim
