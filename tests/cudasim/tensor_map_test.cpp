// cudasim's tensor maps: the driver's documented requirements, each checked, and the published
// layout a twin reads (fastgpu/sim_tensor_map.h).
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "fastgpu/sim_tensor_map.h"
#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

// A valid 2-D tile: 64 x 32 floats of a 256 x 128 row-major matrix.
struct Tiled {
  CUtensorMapDataType type = CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
  cuuint32_t rank = 2;
  std::uint64_t address = 0;
  cuuint64_t dims[5] = {256, 128, 1, 1, 1};
  cuuint64_t strides[4] = {256 * 4, 0, 0, 0};
  cuuint32_t box[5] = {32, 64, 1, 1, 1};
  cuuint32_t elementStrides[5] = {1, 1, 1, 1, 1};
  CUtensorMapInterleave interleave = CU_TENSOR_MAP_INTERLEAVE_NONE;
  CUtensorMapSwizzle swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
  CUtensorMapL2promotion l2 = CU_TENSOR_MAP_L2_PROMOTION_L2_128B;
  CUtensorMapFloatOOBfill oobFill = CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE;
};

class SimTensorMaps : public SimTest {
 protected:
  void SetUp() override {
    SimTest::SetUp();
    ASSERT_CU(d.cuMemAlloc_v2(&matrix, 256 * 128 * 4));
    base.address = matrix;
  }
  void TearDown() override {
    d.cuMemFree_v2(matrix);
    SimTest::TearDown();
  }
  CUresult encode(CUtensorMap* map, const Tiled& t) {
    return d.cuTensorMapEncodeTiled(map, t.type, t.rank, reinterpret_cast<void*>(t.address), t.dims, t.strides,
                                    t.box, t.elementStrides, t.interleave, t.swizzle, t.l2, t.oobFill);
  }
  static fastgpu_sim_tensor_map layoutOf(const CUtensorMap& map) {
    fastgpu_sim_tensor_map layout;
    std::memcpy(&layout, &map, sizeof(layout));
    return layout;
  }

  CUdeviceptr matrix = 0;
  Tiled base;
};

TEST_F(SimTensorMaps, ATiledMapHoldsItsArgumentsInThePublishedLayout) {
  CUtensorMap map;
  ASSERT_CU(encode(&map, base));
  auto layout = layoutOf(map);
  EXPECT_EQ(layout.magic, FASTGPU_SIM_TENSOR_MAP_MAGIC);
  EXPECT_EQ(layout.kind, FASTGPU_SIM_TENSOR_MAP_TILED);
  EXPECT_EQ(layout.global_address, matrix);
  EXPECT_EQ(layout.rank, 2);
  EXPECT_EQ(layout.global_dim[0], 256u);
  EXPECT_EQ(layout.global_dim[1], 128u);
  EXPECT_EQ(layout.global_strides[0], 1024u);
  EXPECT_EQ(layout.box_dim[0], 32);
  EXPECT_EQ(layout.box_dim[1], 64);
  EXPECT_EQ(layout.swizzle, CU_TENSOR_MAP_SWIZZLE_128B);
  EXPECT_EQ(layout.global_dim[2], 0u) << "unused dimensions are zero";
}

TEST_F(SimTensorMaps, EveryDocumentedRequirementIsChecked) {
  const std::vector<std::pair<std::string, std::function<void(Tiled&)>>> broken = {
      {"rank 0", [](Tiled& t) { t.rank = 0; }},
      {"rank 6", [](Tiled& t) { t.rank = 6; }},
      {"unknown type", [](Tiled& t) { t.type = static_cast<CUtensorMapDataType>(99); }},
      {"address not 16-byte aligned", [](Tiled& t) { t.address += 8; }},
      {"a zero dimension", [](Tiled& t) { t.dims[1] = 0; }},
      {"a dimension above 2^32", [](Tiled& t) { t.dims[0] = (1ULL << 32) + 1; }},
      {"a stride not a multiple of 16", [](Tiled& t) { t.strides[0] = 1000; }},
      {"a stride of 2^40", [](Tiled& t) { t.strides[0] = 1ULL << 40; }},
      {"a zero box", [](Tiled& t) { t.box[1] = 0; }},
      {"a box of 257", [](Tiled& t) { t.box[1] = 257; }},
      {"an inner box of 8 bytes", [](Tiled& t) { t.box[0] = 2; }},
      {"an inner box wider than the swizzle", [](Tiled& t) { t.swizzle = CU_TENSOR_MAP_SWIZZLE_64B; }},
      {"an element stride of 0", [](Tiled& t) { t.elementStrides[1] = 0; }},
      {"an element stride of 9", [](Tiled& t) { t.elementStrides[1] = 9; }},
      {"32-byte interleave at rank 2", [](Tiled& t) { t.interleave = CU_TENSOR_MAP_INTERLEAVE_32B; }},
      {"NaN fill of integers", [](Tiled& t) {
         t.type = CU_TENSOR_MAP_DATA_TYPE_INT32;
         t.oobFill = CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA;
       }},
      {"unknown swizzle", [](Tiled& t) { t.swizzle = static_cast<CUtensorMapSwizzle>(42); }},
  };
  for (const auto& [what, breakIt] : broken) {
    Tiled t = base;
    breakIt(t);
    CUtensorMap map;
    EXPECT_EQ(encode(&map, t), CUDA_ERROR_INVALID_VALUE) << what;
  }
  // Interleaved 32 bytes is fine at rank 3 with its swizzle.
  Tiled interleaved = base;
  interleaved.rank = 3;
  interleaved.dims[2] = 1;
  interleaved.strides[1] = 256 * 128 * 4;
  interleaved.interleave = CU_TENSOR_MAP_INTERLEAVE_32B;
  interleaved.swizzle = CU_TENSOR_MAP_SWIZZLE_32B;
  CUtensorMap map;
  EXPECT_CU(encode(&map, interleaved));
  // The map itself must be 64-byte aligned, and the arrays there.
  alignas(128) unsigned char storage[256];
  EXPECT_EQ(encode(reinterpret_cast<CUtensorMap*>(storage + 32), base), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuTensorMapEncodeTiled(&map, base.type, 2, reinterpret_cast<void*>(base.address), nullptr, base.strides,
                                     base.box, base.elementStrides, base.interleave, base.swizzle, base.l2,
                                     base.oobFill),
            CUDA_ERROR_INVALID_VALUE);
}

TEST_F(SimTensorMaps, Im2colCornersNarrowWithTheRank) {
  // NHWC, 8 channels of half: 16 bytes per pixel.
  cuuint64_t dims[4] = {8, 16, 16, 2};
  cuuint64_t strides[3] = {16, 16 * 16, 16 * 16 * 16};
  cuuint32_t elementStrides[4] = {1, 1, 1, 1};
  int lower[2] = {-1, -1}, upper[2] = {-1, -1};
  CUtensorMap map;
  auto im2col = [&]() {
    return d.cuTensorMapEncodeIm2col(&map, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4, reinterpret_cast<void*>(matrix), dims,
                                     strides, lower, upper, 8, 64, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                     CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_NONE,
                                     CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  };
  ASSERT_CU(im2col());
  auto layout = layoutOf(map);
  EXPECT_EQ(layout.kind, FASTGPU_SIM_TENSOR_MAP_IM2COL);
  EXPECT_EQ(layout.lower_corner[0], -1);
  EXPECT_EQ(layout.pixels_per_column, 64);
  lower[0] = -129;  // 4-D corners have 8 bits
  EXPECT_EQ(im2col(), CUDA_ERROR_INVALID_VALUE);
  lower[0] = -1;
  EXPECT_EQ(d.cuTensorMapEncodeIm2col(&map, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, reinterpret_cast<void*>(matrix), dims,
                                      strides, lower, upper, 8, 64, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                      CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_NONE,
                                      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
            CUDA_ERROR_INVALID_VALUE)
      << "im2col needs rank 3 or more";
}

TEST_F(SimTensorMaps, ReplacingTheAddressKeepsTheRestAndItsAlignmentRule) {
  CUtensorMap map;
  ASSERT_CU(encode(&map, base));
  ASSERT_CU(d.cuTensorMapReplaceAddress(&map, reinterpret_cast<void*>(matrix + 4096)));
  EXPECT_EQ(layoutOf(map).global_address, matrix + 4096);
  EXPECT_EQ(layoutOf(map).box_dim[1], 64);
  EXPECT_EQ(d.cuTensorMapReplaceAddress(&map, reinterpret_cast<void*>(matrix + 8)), CUDA_ERROR_INVALID_VALUE);
  CUtensorMap garbage;
  std::memset(&garbage, 0x5a, sizeof(garbage));
  EXPECT_EQ(d.cuTensorMapReplaceAddress(&garbage, reinterpret_cast<void*>(matrix)), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(SimTensorMaps, EncodingNeedsAContext) {
  ASSERT_CU(d.cuCtxSetCurrent(nullptr));
  CUtensorMap map;
  EXPECT_EQ(encode(&map, base), CUDA_ERROR_INVALID_CONTEXT);
  ASSERT_CU(d.cuCtxSetCurrent(context));
}

}  // namespace
}  // namespace fastgpu::testing
