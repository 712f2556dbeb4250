// Test data without a period: byte i of a pattern differs from byte i + 2^k for every k, so a
// piece of a copy or a frame that lands at the wrong offset (a chunk, a ring's wrap, a half of a
// staging area) shows. A pattern like `i * 7` repeats every 256 bytes and hides exactly that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastgpu::testing {

inline std::uint8_t patternByte(std::size_t i, std::uint8_t seed = 0) {
  return static_cast<std::uint8_t>(seed + ((static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ULL) >> 56));
}

inline std::vector<std::uint8_t> patternBytes(std::size_t bytes, std::uint8_t seed = 0) {
  std::vector<std::uint8_t> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = patternByte(i, seed);
  return data;
}

}  // namespace fastgpu::testing
