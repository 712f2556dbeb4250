/* How cudasim lays out a CUtensorMap (cuTensorMapEncodeTiled / Im2col / Im2colWide). Programs
 * treat a tensor map as opaque, as on a GPU; a host twin of a kernel that takes one (a TMA kernel)
 * reads its fields here. Version 1; a later layout gets another magic. */
#ifndef FASTGPU_SIM_TENSOR_MAP_H
#define FASTGPU_SIM_TENSOR_MAP_H

#include <stdint.h>

#define FASTGPU_SIM_TENSOR_MAP_MAGIC 0x314d5447u /* "GTM1" */

enum fastgpu_sim_tensor_map_kind {
  FASTGPU_SIM_TENSOR_MAP_TILED = 0,
  FASTGPU_SIM_TENSOR_MAP_IM2COL = 1,
  FASTGPU_SIM_TENSOR_MAP_IM2COL_WIDE = 2,
};

/* Exactly the 128 bytes of a CUtensorMap. Unused dimensions are 0. */
typedef struct fastgpu_sim_tensor_map {
  uint64_t global_address;
  uint64_t global_dim[5];        /* elements */
  uint64_t global_strides[4];    /* bytes, of dimensions 1 .. rank-1 */
  uint32_t magic;                /* FASTGPU_SIM_TENSOR_MAP_MAGIC */
  uint16_t box_dim[5];           /* tiled: elements per dimension */
  uint16_t channels_per_pixel;   /* im2col */
  uint16_t pixels_per_column;    /* im2col */
  int16_t lower_corner[3];       /* im2col: pixelBoxLowerCorner (wide: [0] is the width) */
  int16_t upper_corner[3];       /* im2col: pixelBoxUpperCorner (wide: [0] is the width) */
  uint8_t element_strides[5];
  uint8_t kind;                  /* fastgpu_sim_tensor_map_kind */
  uint8_t data_type;             /* CUtensorMapDataType */
  uint8_t rank;
  uint8_t interleave;            /* CUtensorMapInterleave */
  uint8_t swizzle;               /* CUtensorMapSwizzle */
  uint8_t l2_promotion;          /* CUtensorMapL2promotion */
  uint8_t oob_fill;              /* CUtensorMapFloatOOBfill */
  uint8_t wide_mode;             /* CUtensorMapIm2ColWideMode */
  uint8_t reserved[5];
} fastgpu_sim_tensor_map;

#ifdef __cplusplus
static_assert(sizeof(fastgpu_sim_tensor_map) == 128, "a CUtensorMap is 128 bytes");
#else
_Static_assert(sizeof(fastgpu_sim_tensor_map) == 128, "a CUtensorMap is 128 bytes");
#endif

#endif
