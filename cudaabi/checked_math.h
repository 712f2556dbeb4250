// Overflow-checked arithmetic for sizes, pitches, counts and offsets that come from a client:
// every such computation goes through these, so a value chosen to wrap around fails instead of
// turning into a small, plausible number.
#pragma once

#include <cstdint>
#include <optional>

namespace fastgpu::cudaabi {

inline std::optional<std::uint64_t> checkedAdd(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

inline std::optional<std::uint64_t> checkedMul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// The bytes a pitched region spans from its start: (height - 1) × pitch + rowBytes, 0 for no
// rows. Nothing when rows would overlap (pitch < rowBytes with more than one row, which the
// driver refuses too) or the span does not fit in 64 bits.
inline std::optional<std::uint64_t> pitchedExtent(std::uint64_t pitch, std::uint64_t rowBytes, std::uint64_t height) {
  if (height == 0) return 0;
  if (height > 1 && pitch < rowBytes) return std::nullopt;
  auto rows = checkedMul(height - 1, pitch);
  return rows ? checkedAdd(*rows, rowBytes) : std::nullopt;
}

// The bytes a 3-D region spans from its start: depth slices of `rows` rows of `pitch` bytes, of
// which `height` rows of `rowBytes` bytes are used; 0 when empty. Nothing when rows or slices would
// overlap or the span does not fit in 64 bits.
inline std::optional<std::uint64_t> volumeExtent(std::uint64_t pitch, std::uint64_t rows, std::uint64_t rowBytes,
                                                 std::uint64_t height, std::uint64_t depth) {
  if (depth == 0 || height == 0 || rowBytes == 0) return 0;
  if (depth > 1 && rows < height) return std::nullopt;
  auto lastSlice = pitchedExtent(pitch, rowBytes, height);
  auto slice = checkedMul(pitch, rows);
  auto before = slice ? checkedMul(depth - 1, *slice) : std::nullopt;
  return lastSlice && before ? checkedAdd(*before, *lastSlice) : std::nullopt;
}

// A region of a 2-D copy: its first byte, base + y × pitch + x, and the bytes it spans from there
// (pitchedExtent). Nothing when any of it does not fit in 64 bits or rows would overlap.
struct PitchedRegion {
  std::uint64_t first = 0;
  std::uint64_t extent = 0;
};

inline std::optional<PitchedRegion> pitchedRegion(std::uint64_t base, std::uint64_t x, std::uint64_t y,
                                                  std::uint64_t pitch, std::uint64_t rowBytes, std::uint64_t height) {
  auto offset = checkedMul(y, pitch);
  if (offset) offset = checkedAdd(*offset, x);
  auto first = offset ? checkedAdd(base, *offset) : std::nullopt;
  auto extent = pitchedExtent(pitch, rowBytes, height);
  if (!first || !extent || !checkedAdd(*first, *extent)) return std::nullopt;
  return PitchedRegion{*first, *extent};
}

}  // namespace fastgpu::cudaabi
