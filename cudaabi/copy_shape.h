// The shape of a 2-D or 3-D copy as the driver reads CUDA_MEMCPY3D, shared by cudasim (which
// performs copies) and the client (which sends them in pieces), so both check a program's copy
// the same way: Depth slices of `sliceRows` rows of `pitch` bytes on each side, of which Height
// rows of WidthInBytes bytes are copied from (x, y, z). Every offset and extent in checked
// arithmetic (checked_math.h).
#pragma once

#include <optional>

#include "cudaabi/checked_math.h"
#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

// A 2-D copy as the one slice of a 3-D copy.
inline CUDA_MEMCPY3D asVolumeCopy(const CUDA_MEMCPY2D& p) {
  CUDA_MEMCPY3D v{};
  v.srcXInBytes = p.srcXInBytes;
  v.srcY = p.srcY;
  v.srcMemoryType = p.srcMemoryType;
  v.srcHost = p.srcHost;
  v.srcDevice = p.srcDevice;
  v.srcArray = p.srcArray;
  v.srcPitch = p.srcPitch;
  v.dstXInBytes = p.dstXInBytes;
  v.dstY = p.dstY;
  v.dstMemoryType = p.dstMemoryType;
  v.dstHost = p.dstHost;
  v.dstDevice = p.dstDevice;
  v.dstArray = p.dstArray;
  v.dstPitch = p.dstPitch;
  v.WidthInBytes = p.WidthInBytes;
  v.Height = p.Height;
  v.Depth = 1;
  return v;
}

// One side of copy `p` at `base`: the first byte copied, the row and slice pitches, and the bytes
// the copy spans from the first. Nothing for a pitch narrower than a row (0 means the width),
// slices shorter than the copy, or anything that does not fit in 64 bits.
struct VolumeSide {
  std::uint64_t first = 0;
  std::uint64_t pitch = 0;
  std::uint64_t slice = 0;
  std::uint64_t extent = 0;
};

inline std::optional<VolumeSide> volumeSide(std::uint64_t base, std::uint64_t x, std::uint64_t y, std::uint64_t z,
                                            std::uint64_t pitch, std::uint64_t sliceRows, const CUDA_MEMCPY3D& p) {
  if (pitch == 0) pitch = p.WidthInBytes;
  if (p.Height > 0 && pitch < p.WidthInBytes) return std::nullopt;
  if (p.Depth > 1 && sliceRows < p.Height) return std::nullopt;
  auto slice = checkedMul(pitch, p.Depth > 1 ? sliceRows : p.Height);
  auto firstRow = checkedMul(z, sliceRows);
  if (firstRow) firstRow = checkedAdd(*firstRow, y);
  auto rows = p.Depth == 0 ? std::optional<std::uint64_t>(0) : checkedMul(p.Depth - 1, sliceRows);
  if (rows) rows = checkedAdd(*rows, p.Height);
  auto region = slice && firstRow && rows ? pitchedRegion(base, x, *firstRow, pitch, p.WidthInBytes, *rows)
                                          : std::nullopt;
  if (!region) return std::nullopt;
  return VolumeSide{region->first, pitch, *slice, region->extent};
}

}  // namespace fastgpu::cudaabi
