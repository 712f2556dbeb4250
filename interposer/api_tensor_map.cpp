// Tensor maps (TMA descriptors): encoded by the server's driver, whose layout they are in, and
// remembered by their arguments so that encoding the same descriptor again costs no round trip.
#include <cstring>

#include "interposer/remote.h"
#include "interposer/tensor_map_cache.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

constexpr unsigned kMaxTensorRank = 5;
enum Kind : std::uint8_t { kTiled = 0, kIm2col = 1, kIm2colWide = 2, kReplaceAddress = 3 };

TensorMapCache& cache() {
  static TensorMapCache* maps = new TensorMapCache;  // lives until exit, like the client
  return *maps;
}

// The arguments of the three encoders; `corners` of lower and upper are read (im2col: rank - 2,
// wide: one each).
struct EncodeArguments {
  Kind kind;
  CUtensorMapDataType type;
  cuuint32_t rank;
  void* address;
  const cuuint64_t* dims;
  const cuuint64_t* strides;
  const cuuint32_t* box;
  const cuuint32_t* elementStrides;
  const int* lower;
  const int* upper;
  unsigned corners;
  cuuint32_t channelsPerPixel;
  cuuint32_t pixelsPerColumn;
  CUtensorMapInterleave interleave;
  CUtensorMapSwizzle swizzle;
  CUtensorMapL2promotion l2;
  CUtensorMapFloatOOBfill oobFill;
  CUtensorMapIm2ColWideMode wideMode;
};

// The arrays the rank says to read are there (and the rank bounds what is read).
bool readable(const EncodeArguments& a) {
  if (a.rank == 0 || a.rank > kMaxTensorRank || a.dims == nullptr || a.elementStrides == nullptr) return false;
  if (a.rank > 1 && a.strides == nullptr) return false;
  if (a.kind == kTiled) return a.box != nullptr;
  return a.corners <= a.rank && a.lower != nullptr && a.upper != nullptr;
}

std::string keyOf(const EncodeArguments& a) {
  std::string key;
  for (auto value : {static_cast<std::uint64_t>(a.kind), static_cast<std::uint64_t>(a.type),
                     static_cast<std::uint64_t>(a.rank), reinterpret_cast<std::uint64_t>(a.address),
                     static_cast<std::uint64_t>(a.channelsPerPixel), static_cast<std::uint64_t>(a.pixelsPerColumn),
                     static_cast<std::uint64_t>(a.interleave), static_cast<std::uint64_t>(a.swizzle),
                     static_cast<std::uint64_t>(a.l2), static_cast<std::uint64_t>(a.oobFill),
                     static_cast<std::uint64_t>(a.wideMode)}) {
    TensorMapCache::append(key, value);
  }
  for (unsigned i = 0; i < a.rank; ++i) {
    TensorMapCache::append(key, a.dims[i]);
    TensorMapCache::append(key, a.elementStrides[i]);
    if (i + 1 < a.rank) TensorMapCache::append(key, a.strides[i]);
    if (a.kind == kTiled) TensorMapCache::append(key, a.box[i]);
  }
  for (unsigned i = 0; a.kind != kTiled && i < a.corners; ++i) {
    TensorMapCache::append(key, a.lower[i]);
    TensorMapCache::append(key, a.upper[i]);
  }
  return key;
}

void describe(wire::TensorMapEncode::Builder m, const EncodeArguments& a) {
  m.setKind(a.kind);
  m.setDataType(static_cast<std::uint32_t>(a.type));
  m.setRank(a.rank);
  m.setGlobalAddress(reinterpret_cast<std::uint64_t>(a.address));
  auto dims = m.initGlobalDim(a.rank);
  auto strides = m.initGlobalStrides(a.rank - 1);
  auto elementStrides = m.initElementStrides(a.rank);
  for (unsigned i = 0; i < a.rank; ++i) {
    dims.set(i, a.dims[i]);
    elementStrides.set(i, a.elementStrides[i]);
    if (i + 1 < a.rank) strides.set(i, a.strides[i]);
  }
  if (a.kind == kTiled) {
    auto box = m.initBoxDim(a.rank);
    for (unsigned i = 0; i < a.rank; ++i) box.set(i, a.box[i]);
  } else {
    auto lower = m.initLowerCorner(a.corners);
    auto upper = m.initUpperCorner(a.corners);
    for (unsigned i = 0; i < a.corners; ++i) {
      lower.set(i, a.lower[i]);
      upper.set(i, a.upper[i]);
    }
  }
  m.setChannelsPerPixel(a.channelsPerPixel);
  m.setPixelsPerColumn(a.pixelsPerColumn);
  m.setInterleave(static_cast<std::uint32_t>(a.interleave));
  m.setSwizzle(static_cast<std::uint32_t>(a.swizzle));
  m.setL2Promotion(static_cast<std::uint32_t>(a.l2));
  m.setOobFill(static_cast<std::uint32_t>(a.oobFill));
  m.setWideMode(static_cast<std::uint32_t>(a.wideMode));
}

// Asks the server, or the cache first; `fill` describes the call.
template <typename Fill>
CUresult encodeRemotely(const char* name, CUtensorMap* map, const std::string& key, Fill&& fill) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (rt.currentContextId() == 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (auto known = cache().find(key)) {
      *map = *known;
      return CUDA_SUCCESS;
    }
    CallMessage call(rt.currentContextId());
    fill(call.call());
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto reader = (*reply)->get();
    if (!reader.isData() || reader.getData().size() != sizeof(CUtensorMap)) return CUDA_ERROR_UNKNOWN;
    std::memcpy(map, reader.getData().begin(), sizeof(CUtensorMap));
    cache().remember(key, *map);
    return CUDA_SUCCESS;
  });
}

bool aligned(const CUtensorMap* map) { return map != nullptr && reinterpret_cast<std::uintptr_t>(map) % 64 == 0; }

CUresult encode(const char* name, CUtensorMap* map, const EncodeArguments& a) {
  if (!aligned(map) || !readable(a)) return CUDA_ERROR_INVALID_VALUE;
  return encodeRemotely(name, map, keyOf(a), [&](wire::Call::Builder call) { describe(call.initTensorMapEncode(), a); });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuTensorMapEncodeTiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank,
                                                      void* address, const cuuint64_t* dims,
                                                      const cuuint64_t* strides, const cuuint32_t* boxDim,
                                                      const cuuint32_t* elementStrides,
                                                      CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
                                                      CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oobFill) {
  return encode(__func__, map,
                {kTiled, type, rank, address, dims, strides, boxDim, elementStrides, nullptr, nullptr, 0, 0, 0,
                 interleave, swizzle, l2, oobFill, CU_TENSOR_MAP_IM2COL_WIDE_MODE_W});
}

FASTGPU_REMOTE_EXPORT CUresult cuTensorMapEncodeIm2col(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank,
                                                       void* address, const cuuint64_t* dims,
                                                       const cuuint64_t* strides, const int* lowerCorner,
                                                       const int* upperCorner, cuuint32_t channelsPerPixel,
                                                       cuuint32_t pixelsPerColumn, const cuuint32_t* elementStrides,
                                                       CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
                                                       CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oobFill) {
  if (rank < 3) return CUDA_ERROR_INVALID_VALUE;
  return encode(__func__, map,
                {kIm2col, type, rank, address, dims, strides, nullptr, elementStrides, lowerCorner, upperCorner,
                 rank - 2, channelsPerPixel, pixelsPerColumn, interleave, swizzle, l2, oobFill,
                 CU_TENSOR_MAP_IM2COL_WIDE_MODE_W});
}

FASTGPU_REMOTE_EXPORT CUresult cuTensorMapEncodeIm2colWide(
    CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank, void* address, const cuuint64_t* dims,
    const cuuint64_t* strides, int lowerCornerWidth, int upperCornerWidth, cuuint32_t channelsPerPixel,
    cuuint32_t pixelsPerColumn, const cuuint32_t* elementStrides, CUtensorMapInterleave interleave,
    CUtensorMapIm2ColWideMode mode, CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
    CUtensorMapFloatOOBfill oobFill) {
  return encode(__func__, map,
                {kIm2colWide, type, rank, address, dims, strides, nullptr, elementStrides, &lowerCornerWidth,
                 &upperCornerWidth, 1, channelsPerPixel, pixelsPerColumn, interleave, swizzle, l2, oobFill, mode});
}

FASTGPU_REMOTE_EXPORT CUresult cuTensorMapReplaceAddress(CUtensorMap* map, void* address) {
  if (!aligned(map)) return CUDA_ERROR_INVALID_VALUE;
  std::string key;
  TensorMapCache::append(key, static_cast<std::uint8_t>(kReplaceAddress));
  TensorMapCache::append(key, *map);
  TensorMapCache::append(key, reinterpret_cast<std::uint64_t>(address));
  CUtensorMap original = *map;
  return encodeRemotely(__func__, map, key, [&](wire::Call::Builder call) {
    auto request = call.initTensorMapReplaceAddress();
    request.setMap(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(&original), sizeof(original)));
    request.setAddress(reinterpret_cast<std::uint64_t>(address));
  });
}
