// How a graph edge's data (CUgraphEdgeData: ports and type) travels in a GraphQuery's values:
// one value, from_port in bits 0-7, to_port in 8-15, type in 16-23. Both ends use these.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cudaabi/cuda_api.h"

namespace fastgpu::protocol {

inline std::uint64_t packEdgeData(const CUgraphEdgeData& data) {
  return static_cast<std::uint64_t>(data.from_port) | static_cast<std::uint64_t>(data.to_port) << 8 |
         static_cast<std::uint64_t>(data.type) << 16;
}

// Whether `count` edges' data (null: none given) are all default edges, which need not travel.
inline bool allDefaultEdges(const CUgraphEdgeData* data, std::size_t count) {
  for (std::size_t i = 0; data != nullptr && i < count; ++i) {
    if (packEdgeData(data[i]) != 0) return false;
  }
  return true;
}

inline CUgraphEdgeData unpackEdgeData(std::uint64_t bits) {
  CUgraphEdgeData data{};
  data.from_port = static_cast<unsigned char>(bits & 0xff);
  data.to_port = static_cast<unsigned char>((bits >> 8) & 0xff);
  data.type = static_cast<unsigned char>((bits >> 16) & 0xff);
  return data;
}

}  // namespace fastgpu::protocol
