// Graph nodes described for the server (graph_node_description.h).
#include "interposer/graph_node_description.h"

#include <algorithm>

#include "cudaabi/checked_math.h"
#include "cudaabi/copy_shape.h"
#include "cudaabi/log.h"
#include "interposer/remote.h"
#include "protocol/call_kinds.h"

namespace fastgpu::interposer {

namespace {

// One side of a copy node: a device address (offsets folded in) or this process's memory, which
// must be one packed block (a staging buffer stands for it on the server).
struct CopySide {
  bool host = false;
  std::uint64_t address = 0;
  std::uint64_t pitch = 0;
  std::uint64_t rows = 0;
};

std::optional<CopySide> copySide(Runtime& rt, CUmemorytype type, const void* host, CUdeviceptr device, std::size_t x,
                                 std::size_t y, std::size_t z, std::size_t pitch, std::size_t rows,
                                 const CUDA_MEMCPY3D& p) {
  if (type != CU_MEMORYTYPE_HOST && type != CU_MEMORYTYPE_DEVICE && type != CU_MEMORYTYPE_UNIFIED) return std::nullopt;
  std::uint64_t base = type == CU_MEMORYTYPE_HOST ? reinterpret_cast<std::uintptr_t>(host) : device;
  // A 2-D node's slice is its copy's rows; the server gets the rows either way.
  std::uint64_t sliceRows = rows == 0 ? p.Height : rows;
  auto volume = cudaabi::volumeSide(base, x, y, z, pitch, sliceRows, p);
  if (!volume || base == 0) return std::nullopt;
  return CopySide{.host = type == CU_MEMORYTYPE_HOST || (type == CU_MEMORYTYPE_UNIFIED && !rt.allocation(device)),
                  .address = volume->first,
                  .pitch = volume->pitch,
                  .rows = sliceRows};
}

}  // namespace

CUresult describeCopyNode(Runtime& rt, wire::GraphNodeAdd::Builder add, const CUDA_MEMCPY3D* p,
                          std::optional<HostEffect>& effect) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (p->srcMemoryType == CU_MEMORYTYPE_ARRAY || p->dstMemoryType == CU_MEMORYTYPE_ARRAY) {
    return cudaabi::reportNotSupported("graph copy nodes with CUDA arrays");
  }
  auto src = copySide(rt, p->srcMemoryType, p->srcHost, p->srcDevice, p->srcXInBytes, p->srcY, p->srcZ, p->srcPitch,
                      p->srcHeight, *p);
  auto dst = copySide(rt, p->dstMemoryType, p->dstHost, p->dstDevice, p->dstXInBytes, p->dstY, p->dstZ, p->dstPitch,
                      p->dstHeight, *p);
  auto packed = cudaabi::checkedMul(p->WidthInBytes, p->Height);
  if (packed) packed = cudaabi::checkedMul(*packed, p->Depth);
  if (!src || !dst || !packed || *packed == 0) return CUDA_ERROR_INVALID_VALUE;
  if (src->host && dst->host) return cudaabi::reportNotSupported("graph copy nodes from host to host");
  const CopySide& host = src->host ? *src : *dst;
  if ((src->host || dst->host) && *packed > protocol::kMaxCopyChunkBytes) {
    return cudaabi::reportNotSupported("graph copy nodes of host memory over 8 MiB");
  }
  // The server's staging buffer holds the host side packed; rows and slices apart here are
  // gathered before a replay or scattered after it.
  std::optional<HostStrides> strides;
  if ((src->host || dst->host) &&
      ((p->Height > 1 && host.pitch != p->WidthInBytes) || (p->Depth > 1 && host.rows != p->Height))) {
    auto slicePitch = cudaabi::checkedMul(host.pitch, host.rows);
    if (!slicePitch) return CUDA_ERROR_INVALID_VALUE;
    strides = HostStrides{.width = p->WidthInBytes, .pitch = host.pitch, .height = p->Height, .slicePitch = *slicePitch};
  }
  auto copy = add.initCopy();
  copy.setDst(dst->address);
  copy.setDstPitch(dst->pitch);
  copy.setDstRows(dst->rows);
  copy.setSrc(src->address);
  copy.setSrcPitch(src->pitch);
  copy.setSrcRows(src->rows);
  copy.setWidth(p->WidthInBytes);
  copy.setHeight(p->Height);
  copy.setDepth(p->Depth);
  copy.setToHost(dst->host);
  copy.setFromHost(src->host);
  if (dst->host) {
    effect = HostEffect{.kind = HostEffect::Kind::kCopyToHost,
                        .destination = reinterpret_cast<void*>(static_cast<std::uintptr_t>(dst->address)),
                        .bytes = *packed,
                        .strides = strides};
  } else if (src->host) {
    effect = HostEffect{.kind = HostEffect::Kind::kCopyFromHost,
                        .bytes = *packed,
                        .source = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(src->address)),
                        .strides = strides};
  }
  return CUDA_SUCCESS;
}

CUresult describeChildNode(Runtime& rt, wire::GraphNodeAdd::Builder node, CUgraph child, HostEffects* hostWork) {
  if (CUresult refused = refuseBorrowedGraph(rt, idOf(child), "a child graph's handle as another node's child");
      refused != CUDA_SUCCESS) {
    return refused;
  }
  auto record = rt.graphRecord(idOf(child));
  if (!record) return CUDA_ERROR_INVALID_VALUE;
  if (*record && !(*record)->effects.empty()) {
    bool onlyHostWork = std::all_of((*record)->effects.begin(), (*record)->effects.end(), [](const HostEffect& effect) {
      return effect.kind == HostEffect::Kind::kHostFunction;
    });
    if (!onlyHostWork) return cudaabi::reportNotSupported("child graphs with copies of host memory");
    if (hostWork == nullptr) return cudaabi::reportNotSupported("a child graph holding host work replaced in an executable");
    // Its host points are the holding graph's too (the server's copy of the child keeps them).
    for (HostEffect effect : (*record)->effects) {
      effect.node = 0;
      hostWork->push_back(std::move(effect));
    }
  }
  node.setChildGraph(idOf(child));
  return CUDA_SUCCESS;
}

}  // namespace fastgpu::interposer
