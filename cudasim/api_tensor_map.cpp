// Tensor maps: the arguments copied out of the caller's arrays, checked against the driver's
// documented requirements, and encoded in cudasim's layout (tensor_map.h).
#include <cstdint>

#include "cudasim/entry.h"
#include "cudasim/tensor_map.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

// The arrays every encoder takes; NULL or a rank without a context fails as the driver fails.
CUresult readCommon(TensorMapRequest& r, CUtensorMap* map, cuuint32_t rank, void* address, const cuuint64_t* dims,
                    const cuuint64_t* strides, const cuuint32_t* elementStrides) {
  if (map == nullptr || reinterpret_cast<std::uintptr_t>(map) % 64 != 0) return CUDA_ERROR_INVALID_VALUE;
  if (rank == 0 || rank > kMaxTensorRank || dims == nullptr || elementStrides == nullptr ||
      (rank > 1 && strides == nullptr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  r.rank = rank;
  r.globalAddress = reinterpret_cast<std::uintptr_t>(address);
  for (unsigned i = 0; i < rank; ++i) {
    r.globalDim[i] = dims[i];
    r.elementStrides[i] = elementStrides[i];
    if (i + 1 < rank) r.globalStrides[i] = strides[i];
  }
  return CUDA_SUCCESS;
}

CUresult encode(const char* name, CUtensorMap* map, const TensorMapRequest& request) {
  return driverEntry(name, [&](Driver& driver) {
    if (auto context = driver.requireCurrentContext(); !context) return fail(context);
    if (Status status = checkTensorMapRequest(request); !status) return fail(status);
    *map = encodeTensorMap(request);
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuTensorMapEncodeTiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank,
                                                   void* address, const cuuint64_t* dims, const cuuint64_t* strides,
                                                   const cuuint32_t* boxDim, const cuuint32_t* elementStrides,
                                                   CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
                                                   CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oobFill) {
  TensorMapRequest r{.kind = FASTGPU_SIM_TENSOR_MAP_TILED, .dataType = type, .interleave = interleave,
                     .swizzle = swizzle, .l2Promotion = l2, .oobFill = oobFill};
  if (CUresult bad = readCommon(r, map, rank, address, dims, strides, elementStrides); bad != CUDA_SUCCESS) return bad;
  if (boxDim == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < rank; ++i) r.boxDim[i] = boxDim[i];
  return encode(__func__, map, r);
}

FASTGPU_SIM_EXPORT CUresult cuTensorMapEncodeIm2col(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank,
                                                    void* address, const cuuint64_t* dims, const cuuint64_t* strides,
                                                    const int* lowerCorner, const int* upperCorner,
                                                    cuuint32_t channelsPerPixel, cuuint32_t pixelsPerColumn,
                                                    const cuuint32_t* elementStrides, CUtensorMapInterleave interleave,
                                                    CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
                                                    CUtensorMapFloatOOBfill oobFill) {
  TensorMapRequest r{.kind = FASTGPU_SIM_TENSOR_MAP_IM2COL, .dataType = type, .channelsPerPixel = channelsPerPixel,
                     .pixelsPerColumn = pixelsPerColumn, .interleave = interleave, .swizzle = swizzle,
                     .l2Promotion = l2, .oobFill = oobFill};
  if (CUresult bad = readCommon(r, map, rank, address, dims, strides, elementStrides); bad != CUDA_SUCCESS) return bad;
  if (rank < 3 || lowerCorner == nullptr || upperCorner == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i + 2 < rank; ++i) {
    r.lowerCorner[i] = lowerCorner[i];
    r.upperCorner[i] = upperCorner[i];
  }
  return encode(__func__, map, r);
}

FASTGPU_SIM_EXPORT CUresult cuTensorMapEncodeIm2colWide(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank,
                                                        void* address, const cuuint64_t* dims,
                                                        const cuuint64_t* strides, int lowerCornerWidth,
                                                        int upperCornerWidth, cuuint32_t channelsPerPixel,
                                                        cuuint32_t pixelsPerColumn, const cuuint32_t* elementStrides,
                                                        CUtensorMapInterleave interleave, CUtensorMapIm2ColWideMode mode,
                                                        CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
                                                        CUtensorMapFloatOOBfill oobFill) {
  TensorMapRequest r{.kind = FASTGPU_SIM_TENSOR_MAP_IM2COL_WIDE, .dataType = type,
                     .channelsPerPixel = channelsPerPixel, .pixelsPerColumn = pixelsPerColumn,
                     .interleave = interleave, .swizzle = swizzle, .l2Promotion = l2, .oobFill = oobFill,
                     .wideMode = mode};
  if (CUresult bad = readCommon(r, map, rank, address, dims, strides, elementStrides); bad != CUDA_SUCCESS) return bad;
  r.lowerCorner[0] = lowerCornerWidth;
  r.upperCorner[0] = upperCornerWidth;
  return encode(__func__, map, r);
}

FASTGPU_SIM_EXPORT CUresult cuTensorMapReplaceAddress(CUtensorMap* map, void* address) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (auto context = driver.requireCurrentContext(); !context) return fail(context);
    if (map == nullptr || reinterpret_cast<std::uintptr_t>(map) % 64 != 0) return CUDA_ERROR_INVALID_VALUE;
    return fail(replaceTensorMapAddress(*map, reinterpret_cast<std::uintptr_t>(address)));
  });
}
