#include "cudasim/tensor_map.h"

#include <cstring>
#include <string>

#include <fmt/format.h>

namespace fastgpu::sim {
namespace {

constexpr std::uint64_t kMaxGlobalDim = 1ULL << 32;
constexpr std::uint64_t kStrideLimit = 1ULL << 40;
constexpr std::uint32_t kMaxBoxDim = 256;
constexpr std::uint32_t kMaxElementStride = 8;
constexpr std::uint32_t kMaxChannelsPerPixel = 256;
constexpr std::uint32_t kMaxPixelsPerColumn = 1024;

Status invalid(const std::string& why) { return Status(CUDA_ERROR_INVALID_VALUE, "tensor map: " + why); }

bool packedAlign16(CUtensorMapDataType type) {
  return type == CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN16B || type == CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B;
}

bool floatingPoint(CUtensorMapDataType type) {
  switch (type) {
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT16:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT32:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT64:
    case CU_TENSOR_MAP_DATA_TYPE_BFLOAT16:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT32_FTZ:
    case CU_TENSOR_MAP_DATA_TYPE_TFLOAT32:
    case CU_TENSOR_MAP_DATA_TYPE_TFLOAT32_FTZ:
      return true;
    default:
      return false;
  }
}

// Bytes that 16 elements of the type occupy in memory (packed types included).
std::uint64_t bytesPer16Elements(CUtensorMapDataType type) {
  switch (type) {
    case CU_TENSOR_MAP_DATA_TYPE_UINT8: return 16;
    case CU_TENSOR_MAP_DATA_TYPE_UINT16:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT16:
    case CU_TENSOR_MAP_DATA_TYPE_BFLOAT16: return 32;
    case CU_TENSOR_MAP_DATA_TYPE_UINT64:
    case CU_TENSOR_MAP_DATA_TYPE_INT64:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT64: return 128;
    case CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN8B: return 8;
    case CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN16B:
    case CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B: return 16;
    default: return 64;  // the 4-byte types
  }
}

std::uint64_t bytesOf(CUtensorMapDataType type, std::uint64_t elements) {
  return elements * bytesPer16Elements(type) / 16;
}

// The widest inner box, in bytes, a swizzle pattern takes (0: any).
std::uint64_t swizzleSpan(CUtensorMapSwizzle swizzle) {
  switch (swizzle) {
    case CU_TENSOR_MAP_SWIZZLE_32B: return 32;
    case CU_TENSOR_MAP_SWIZZLE_64B: return 64;
    case CU_TENSOR_MAP_SWIZZLE_NONE: return 0;
    default: return 128;
  }
}

std::uint64_t addressAlignment(const TensorMapRequest& r) {
  return r.interleave == CU_TENSOR_MAP_INTERLEAVE_32B || packedAlign16(r.dataType) ? 32 : 16;
}

Status checkEnums(const TensorMapRequest& r) {
  if (r.dataType < CU_TENSOR_MAP_DATA_TYPE_UINT8 || r.dataType > CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B) {
    return invalid(fmt::format("unknown data type {}", static_cast<int>(r.dataType)));
  }
  if (r.interleave < 0 || r.interleave > CU_TENSOR_MAP_INTERLEAVE_32B) return invalid("unknown interleave");
  if (r.swizzle < 0 || r.swizzle > CU_TENSOR_MAP_SWIZZLE_128B_ATOM_64B) return invalid("unknown swizzle");
  if (r.l2Promotion < 0 || r.l2Promotion > CU_TENSOR_MAP_L2_PROMOTION_L2_256B) return invalid("unknown L2 promotion");
  if (r.oobFill < 0 || r.oobFill > CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA) return invalid("unknown OOB fill");
  if (r.wideMode < 0 || r.wideMode > CU_TENSOR_MAP_IM2COL_WIDE_MODE_W128) return invalid("unknown im2col wide mode");
  return Status::ok();
}

Status checkLayout(const TensorMapRequest& r) {
  unsigned minRank = r.kind == FASTGPU_SIM_TENSOR_MAP_TILED && r.interleave == CU_TENSOR_MAP_INTERLEAVE_NONE ? 1 : 3;
  if (r.rank < minRank || r.rank > kMaxTensorRank) {
    return invalid(fmt::format("rank {} outside {}..{}", r.rank, minRank, kMaxTensorRank));
  }
  if (r.globalAddress % addressAlignment(r) != 0) {
    return invalid(fmt::format("global address not {}-byte aligned", addressAlignment(r)));
  }
  for (unsigned i = 0; i < r.rank; ++i) {
    if (r.globalDim[i] == 0 || r.globalDim[i] > kMaxGlobalDim) return invalid(fmt::format("globalDim[{}]", i));
    if (r.elementStrides[i] == 0 || r.elementStrides[i] > kMaxElementStride) {
      return invalid(fmt::format("elementStrides[{}] outside 1..8", i));
    }
  }
  if (packedAlign16(r.dataType) && r.globalDim[0] % 128 != 0) return invalid("globalDim[0] not a multiple of 128");
  if (r.dataType == CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN8B && r.globalDim[0] % 2 != 0) {
    return invalid("globalDim[0] not a multiple of 2");
  }
  std::uint64_t strideAlignment = addressAlignment(r);
  for (unsigned i = 0; i + 1 < r.rank; ++i) {
    if (r.globalStrides[i] % strideAlignment != 0 || r.globalStrides[i] >= kStrideLimit) {
      return invalid(fmt::format("globalStrides[{}] not a multiple of {} below 2^40", i, strideAlignment));
    }
  }
  return Status::ok();
}

Status checkSwizzle(const TensorMapRequest& r, std::uint64_t innerBytes) {
  if (r.interleave == CU_TENSOR_MAP_INTERLEAVE_32B && r.swizzle != CU_TENSOR_MAP_SWIZZLE_32B) {
    return invalid("32-byte interleave needs the 32-byte swizzle");
  }
  if (r.interleave == CU_TENSOR_MAP_INTERLEAVE_NONE) {
    if (innerBytes % 16 != 0) return invalid("the box's inner dimension is not a multiple of 16 bytes");
    std::uint64_t span = swizzleSpan(r.swizzle);
    if (span != 0 && innerBytes > span) return invalid("the box's inner dimension exceeds the swizzle span");
  }
  if (r.dataType == CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B) {
    if (r.interleave != CU_TENSOR_MAP_INTERLEAVE_NONE) return invalid("16U6 data cannot be interleaved");
    if (r.swizzle != CU_TENSOR_MAP_SWIZZLE_NONE && r.swizzle != CU_TENSOR_MAP_SWIZZLE_128B &&
        r.swizzle != CU_TENSOR_MAP_SWIZZLE_128B_ATOM_32B && r.swizzle != CU_TENSOR_MAP_SWIZZLE_128B_ATOM_64B) {
      return invalid("swizzle not available for 16U6 data");
    }
  }
  if (r.dataType == CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN16B && r.swizzle != CU_TENSOR_MAP_SWIZZLE_NONE &&
      r.swizzle != CU_TENSOR_MAP_SWIZZLE_128B && r.swizzle != CU_TENSOR_MAP_SWIZZLE_128B_ATOM_32B) {
    return invalid("swizzle not available for 16U4 data");
  }
  if (r.oobFill == CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA && !floatingPoint(r.dataType)) {
    return invalid("NaN fill needs a floating-point type");
  }
  return Status::ok();
}

Status checkTiledBox(const TensorMapRequest& r) {
  for (unsigned i = 0; i < r.rank; ++i) {
    if (r.boxDim[i] == 0 || r.boxDim[i] > kMaxBoxDim) return invalid(fmt::format("boxDim[{}] outside 1..256", i));
  }
  if (packedAlign16(r.dataType) && r.boxDim[0] != 128) return invalid("boxDim[0] must be 128 for this type");
  return checkSwizzle(r, bytesOf(r.dataType, r.boxDim[0]));
}

// The corners' range narrows as the rank grows: 16 bits for 3-D, 8 for 4-D, 5 for 5-D.
Status checkIm2colBox(const TensorMapRequest& r) {
  if (r.channelsPerPixel == 0 || r.channelsPerPixel > kMaxChannelsPerPixel) return invalid("channelsPerPixel");
  if (r.pixelsPerColumn == 0 || r.pixelsPerColumn > kMaxPixelsPerColumn) return invalid("pixelsPerColumn");
  int bits = r.kind == FASTGPU_SIM_TENSOR_MAP_IM2COL_WIDE ? 16 : (r.rank == 3 ? 16 : r.rank == 4 ? 8 : 5);
  int low = -(1 << (bits - 1)), high = (1 << (bits - 1)) - 1;
  unsigned corners = r.kind == FASTGPU_SIM_TENSOR_MAP_IM2COL_WIDE ? 1 : r.rank - 2;
  for (unsigned i = 0; i < corners; ++i) {
    if (r.lowerCorner[i] < low || r.lowerCorner[i] > high || r.upperCorner[i] < low || r.upperCorner[i] > high) {
      return invalid(fmt::format("pixel box corner {} outside {}..{}", i, low, high));
    }
  }
  return checkSwizzle(r, bytesOf(r.dataType, r.channelsPerPixel));
}

}  // namespace

Status checkTensorMapRequest(const TensorMapRequest& request) {
  if (Status status = checkEnums(request); !status) return status;
  if (Status status = checkLayout(request); !status) return status;
  return request.kind == FASTGPU_SIM_TENSOR_MAP_TILED ? checkTiledBox(request) : checkIm2colBox(request);
}

CUtensorMap encodeTensorMap(const TensorMapRequest& r) {
  fastgpu_sim_tensor_map layout{};
  layout.magic = FASTGPU_SIM_TENSOR_MAP_MAGIC;
  layout.kind = static_cast<std::uint8_t>(r.kind);
  layout.data_type = static_cast<std::uint8_t>(r.dataType);
  layout.rank = static_cast<std::uint8_t>(r.rank);
  layout.interleave = static_cast<std::uint8_t>(r.interleave);
  layout.swizzle = static_cast<std::uint8_t>(r.swizzle);
  layout.l2_promotion = static_cast<std::uint8_t>(r.l2Promotion);
  layout.oob_fill = static_cast<std::uint8_t>(r.oobFill);
  layout.wide_mode = static_cast<std::uint8_t>(r.wideMode);
  layout.global_address = r.globalAddress;
  layout.channels_per_pixel = static_cast<std::uint16_t>(r.channelsPerPixel);
  layout.pixels_per_column = static_cast<std::uint16_t>(r.pixelsPerColumn);
  for (unsigned i = 0; i < r.rank; ++i) {
    layout.global_dim[i] = r.globalDim[i];
    layout.box_dim[i] = static_cast<std::uint16_t>(r.boxDim[i]);
    layout.element_strides[i] = static_cast<std::uint8_t>(r.elementStrides[i]);
    if (i + 1 < r.rank) layout.global_strides[i] = r.globalStrides[i];
  }
  for (unsigned i = 0; i < r.lowerCorner.size(); ++i) {
    layout.lower_corner[i] = static_cast<std::int16_t>(r.lowerCorner[i]);
    layout.upper_corner[i] = static_cast<std::int16_t>(r.upperCorner[i]);
  }
  CUtensorMap map{};
  std::memcpy(&map, &layout, sizeof(map));
  return map;
}

Status replaceTensorMapAddress(CUtensorMap& map, std::uint64_t globalAddress) {
  fastgpu_sim_tensor_map layout;
  std::memcpy(&layout, &map, sizeof(layout));
  if (layout.magic != FASTGPU_SIM_TENSOR_MAP_MAGIC) return invalid("not a tensor map cudasim encoded");
  TensorMapRequest alignmentRules;
  alignmentRules.interleave = static_cast<CUtensorMapInterleave>(layout.interleave);
  alignmentRules.dataType = static_cast<CUtensorMapDataType>(layout.data_type);
  if (globalAddress % addressAlignment(alignmentRules) != 0) {
    return invalid(fmt::format("global address not {}-byte aligned", addressAlignment(alignmentRules)));
  }
  layout.global_address = globalAddress;
  std::memcpy(&map, &layout, sizeof(map));
  return Status::ok();
}

}  // namespace fastgpu::sim
