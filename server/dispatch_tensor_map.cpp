// Tensor maps (TMA descriptors): encoded by the server's driver, since a descriptor's layout is
// the driver's own. Every list is checked against the rank before the driver reads it; the
// descriptor itself is opaque data the client passes back in launches.
#include <array>
#include <cstring>

#include "server/session.h"

namespace fastgpu::server {
namespace {

constexpr unsigned kMaxTensorRank = 5;
enum TensorMapKind : std::uint8_t { kTiled = 0, kIm2col = 1, kIm2colWide = 2 };

template <typename T, typename List>
Result<std::array<T, kMaxTensorRank>> copyList(List list, unsigned expected, const char* what) {
  if (list.size() != expected) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("tensor map: {} has {} entries, not {}", what, list.size(), expected));
  }
  std::array<T, kMaxTensorRank> values{};
  for (unsigned i = 0; i < expected; ++i) values[i] = list[i];
  return values;
}

void answerMap(const CUtensorMap& map, Answer& answer) {
  answer.kind = Answer::Kind::kData;
  answer.data.resize(sizeof(map));
  std::memcpy(answer.data.data(), &map, sizeof(map));
}

}  // namespace

Status Session::executeTensorMapCall(wire::Call::Reader call, Answer& answer) {
  CUtensorMap map{};  // the type is 128-byte aligned, as the driver requires
  if (call.which() == wire::Call::TENSOR_MAP_REPLACE_ADDRESS) {
    auto request = call.getTensorMapReplaceAddress();
    if (request.getMap().size() != sizeof(map)) return Status(CUDA_ERROR_INVALID_VALUE, "tensor map: not 128 bytes");
    std::memcpy(&map, request.getMap().begin(), sizeof(map));
    CUresult result = driver_.cuTensorMapReplaceAddress(&map, reinterpret_cast<void*>(request.getAddress()));
    if (result == CUDA_SUCCESS) answerMap(map, answer);
    return driverResult(result, "cuTensorMapReplaceAddress");
  }
  auto r = call.getTensorMapEncode();
  unsigned rank = r.getRank();
  if (rank == 0 || rank > kMaxTensorRank || r.getKind() > kIm2colWide) {
    return Status(CUDA_ERROR_INVALID_VALUE, "tensor map: rank or kind out of range");
  }
  auto dims = copyList<cuuint64_t>(r.getGlobalDim(), rank, "globalDim");
  auto strides = copyList<cuuint64_t>(r.getGlobalStrides(), rank - 1, "globalStrides");
  auto elementStrides = copyList<cuuint32_t>(r.getElementStrides(), rank, "elementStrides");
  if (!dims) return dims.status();
  if (!strides) return strides.status();
  if (!elementStrides) return elementStrides.status();
  auto type = static_cast<CUtensorMapDataType>(r.getDataType());
  auto address = reinterpret_cast<void*>(r.getGlobalAddress());
  auto interleave = static_cast<CUtensorMapInterleave>(r.getInterleave());
  auto swizzle = static_cast<CUtensorMapSwizzle>(r.getSwizzle());
  auto l2 = static_cast<CUtensorMapL2promotion>(r.getL2Promotion());
  auto oobFill = static_cast<CUtensorMapFloatOOBfill>(r.getOobFill());
  CUresult result = CUDA_ERROR_INVALID_VALUE;
  if (r.getKind() == kTiled) {
    auto box = copyList<cuuint32_t>(r.getBoxDim(), rank, "boxDim");
    if (!box) return box.status();
    result = driver_.cuTensorMapEncodeTiled(&map, type, rank, address, dims->data(), strides->data(), box->data(),
                                            elementStrides->data(), interleave, swizzle, l2, oobFill);
  } else {
    unsigned corners = r.getKind() == kIm2colWide ? 1 : (rank >= 2 ? rank - 2 : 0);
    auto lower = copyList<int>(r.getLowerCorner(), corners, "lowerCorner");
    auto upper = copyList<int>(r.getUpperCorner(), corners, "upperCorner");
    if (!lower) return lower.status();
    if (!upper) return upper.status();
    result = r.getKind() == kIm2col
                 ? driver_.cuTensorMapEncodeIm2col(&map, type, rank, address, dims->data(), strides->data(),
                                                   lower->data(), upper->data(), r.getChannelsPerPixel(),
                                                   r.getPixelsPerColumn(), elementStrides->data(), interleave, swizzle,
                                                   l2, oobFill)
                 : driver_.cuTensorMapEncodeIm2colWide(
                       &map, type, rank, address, dims->data(), strides->data(), (*lower)[0], (*upper)[0],
                       r.getChannelsPerPixel(), r.getPixelsPerColumn(), elementStrides->data(), interleave,
                       static_cast<CUtensorMapIm2ColWideMode>(r.getWideMode()), swizzle, l2, oobFill);
  }
  if (result == CUDA_SUCCESS) answerMap(map, answer);
  return driverResult(result, "cuTensorMapEncode");
}

}  // namespace fastgpu::server
