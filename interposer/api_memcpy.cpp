// Copies and memsets. Bulk data travels in chunks of protocol::kMaxCopyChunkBytes; chunks to
// the device are posted back to back (the last one waits when the copy is synchronous), chunks
// from the device are asked for in turn. Asynchronous device-to-host copies into page-locked
// memory are posted and their bytes delivered with a later reply (delivery_table.h), so no host
// buffer is written before the program can know the copy is done. Page-locked memory in the heap
// shared with the server (same host) is copied by the server itself, and pageable memory passes
// through that heap's staging area: no bytes travel (shared_copies.h). On an rdma:// session the
// server reads and writes pinned memory by RDMA (rdma_copies.h).
#include <cstring>

#include "cudaabi/checked_math.h"
#include "cudaabi/copy_shape.h"
#include "interposer/rdma_copies.h"
#include "interposer/remote.h"
#include "interposer/shared_copies.h"
#include "protocol/call_kinds.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

constexpr auto kChunk = protocol::kMaxCopyChunkBytes;

// The capture rules for a copy or memset on `stream` (remote.h); copies of client memory cannot be
// captured by the server.
CUresult captureRules(Runtime& rt, StreamArg stream, bool capturable) {
  return captureCheck(rt, handleOf<CUstream>(stream.id), stream.perThread, stream.async, capturable);
}

bool activeCapture(Runtime& rt, StreamArg stream) {
  auto state = rt.captures().state(CaptureMirror::keyOf(handleOf<CUstream>(stream.id), stream.perThread));
  return state && !state->invalidated;
}

// One band of a copy between the device and this process's memory captured on `stream`: `bytes`
// back to back when `width` is 0, else rows of `width` bytes, `devicePitch` apart on the device and
// `hostPitch` apart here. The server's graph copies through a staging buffer (packed) that every
// replay first fills with what `host` holds then (from the host), or whose bytes land in `host`
// after it (to the host; interposer/api_graph.cpp).
struct CapturedBand {
  std::uint8_t* host = nullptr;
  std::uint64_t hostPitch = 0;
  std::uint64_t device = 0;
  std::uint64_t devicePitch = 0;
  std::uint64_t width = 0;
  std::uint64_t bytes = 0;
};
CUresult captureBand(Runtime& rt, Client& client, const CapturedBand& band, StreamArg stream, bool toHost) {
  CallMessage call(rt.currentContextId());
  auto describe = [&](auto copy) {
    copy.setBytes(band.bytes);
    copy.setStream(stream.id);
    copy.setPerThread(stream.perThread);
    copy.setPitch(band.devicePitch);
    copy.setWidth(band.width);
    return copy;
  };
  if (toHost) {
    describe(call->initCaptureToHost()).setSrc(band.device);
  } else {
    describe(call->initCaptureFromHost()).setDst(band.device);
  }
  auto reply = ask(client, call);
  if (!reply) return resultOf(client, reply, false);
  HostEffect effect{.kind = toHost ? HostEffect::Kind::kCopyToHost : HostEffect::Kind::kCopyFromHost,
                    .staging = (*reply)->get().getHandle(), .destination = band.host, .bytes = band.bytes,
                    .source = band.host};
  if (band.width != 0 && band.bytes > band.width) {
    effect.strides = HostStrides{.width = band.width, .pitch = band.hostPitch, .height = band.bytes / band.width};
  }
  auto key = CaptureMirror::keyOf(handleOf<CUstream>(stream.id), stream.perThread);
  return rt.captures().addEffect(key, effect);
}

// A contiguous copy between the device and this process's memory captured on `stream`, in bands
// of at most kChunk bytes.
CUresult captureThroughStaging(Runtime& rt, Client& client, std::uint8_t* host, std::uint64_t device,
                               std::uint64_t bytes, StreamArg stream, bool toHost) {
  for (std::uint64_t offset = 0; offset < bytes; offset += kChunk) {
    CapturedBand band{.host = host + offset, .device = device + offset, .bytes = std::min(kChunk, bytes - offset)};
    if (CUresult result = captureBand(rt, client, band, stream, toHost); result != CUDA_SUCCESS) return result;
  }
  return CUDA_SUCCESS;
}

// Whether [host, host + bytes) lies in one range of this process's page-locked memory
// (cuMemHostAlloc'd or registered): nullopt when not, else where it starts in the heap shared with
// the server when the range comes from there.
struct PinnedPlace {
  std::optional<std::uint64_t> sharedOffset;
};
std::optional<PinnedPlace> pinned(Runtime& rt, const std::uint8_t* host, std::uint64_t bytes) {
  auto range = rt.hostRangeContaining(reinterpret_cast<std::uint64_t>(host));
  if (!range) return std::nullopt;
  std::uint64_t within = reinterpret_cast<std::uint64_t>(host) - range->first;
  if (bytes > range->second.bytes || within > range->second.bytes - bytes) return std::nullopt;
  PinnedPlace place;
  if (range->second.sharedOffset) place.sharedOffset = *range->second.sharedOffset + within;
  return place;
}

CUresult toDevice(Runtime& rt, Client& client, std::uint64_t dst, const std::uint8_t* src, std::uint64_t bytes,
                  StreamArg stream) {
  auto allocation = rt.allocation(dst);
  if (!allocation) return CUDA_ERROR_INVALID_VALUE;
  if (stream.async && bytes > 0 && activeCapture(rt, stream)) {
    return captureThroughStaging(rt, client, const_cast<std::uint8_t*>(src), dst, bytes, stream, false);
  }
  if (CUresult refused = captureRules(rt, stream, false); refused != CUDA_SUCCESS) return refused;
  // Copies within one allocation may take the shared paths (the server checks the others).
  bool inside = bytes > 0 && withinAllocation(*allocation, dst, bytes);
  auto place = inside ? pinned(rt, src, bytes) : std::nullopt;
  if (place && place->sharedOffset) return copyShared(rt, client, dst, *place->sharedOffset, bytes, false, stream);
  if (place) {
    if (auto done = copyByRdma(rt, client, dst, const_cast<std::uint8_t*>(src), bytes, false, stream)) return *done;
  }
  if (inside && (!stream.async || !place)) {
    auto staged = copyThroughStaging(rt, client, dst, const_cast<std::uint8_t*>(src), bytes, false, stream);
    if (staged) return *staged;
  }
  std::uint64_t offset = 0;
  do {
    std::uint64_t chunk = std::min(kChunk, bytes - offset);
    CallMessage call(rt.currentContextId());
    auto copy = call->initCopy();
    copy.setDst(dst + offset);
    copy.setBytes(chunk);
    copy.setStream(stream.id);
    std::span<const std::uint8_t> bulk(src + offset, chunk);
    offset += chunk;
    // Every chunk but the last of a synchronous copy is queued in stream order: only the last
    // one waits.
    copy.setAsync(stream.async || offset < bytes);
    copy.setPerThread(stream.perThread);
    if (CUresult result = sendInStreamOrder(client, call, bulk); result != CUDA_SUCCESS) return result;
  } while (offset < bytes);
  return CUDA_SUCCESS;
}

// An asynchronous copy into pinned memory: posted chunk by chunk, each delivered with a later
// reply (delivery_table.h). Returns how many bytes were posted: fewer when too many copies are
// in flight, and the caller copies the rest synchronously.
std::uint64_t postToPinned(Runtime& rt, Client& client, std::uint8_t* dst, std::uint64_t src, std::uint64_t bytes,
                           StreamArg stream) {
  std::uint64_t offset = 0;
  while (offset < bytes) {
    std::uint64_t chunk = std::min(kChunk, bytes - offset);
    CallMessage call(rt.currentContextId());
    auto copy = call->initStageToHost();
    copy.setSrc(src + offset);
    copy.setBytes(chunk);
    copy.setStream(stream.id);
    copy.setPerThread(stream.perThread);
    if (!client.postDelivery(call.builder(), copy, dst + offset)) break;
    offset += chunk;
  }
  return offset;
}

CUresult toHost(Runtime& rt, Client& client, std::uint8_t* dst, std::uint64_t src, std::uint64_t bytes, StreamArg stream) {
  auto allocation = rt.allocation(src);
  if (!allocation) return CUDA_ERROR_INVALID_VALUE;
  if (stream.async && bytes > 0 && activeCapture(rt, stream)) {
    return captureThroughStaging(rt, client, dst, src, bytes, stream, true);
  }
  if (CUresult refused = captureRules(rt, stream, false); refused != CUDA_SUCCESS) return refused;
  std::uint64_t start = 0;
  bool inside = bytes > 0 && withinAllocation(*allocation, src, bytes);
  auto place = inside ? pinned(rt, dst, bytes) : std::nullopt;
  if (place && place->sharedOffset) return copyShared(rt, client, src, *place->sharedOffset, bytes, true, stream);
  if (place) {
    if (auto done = copyByRdma(rt, client, src, dst, bytes, true, stream)) return *done;
  }
  if (inside && (!stream.async || !place)) {
    if (auto staged = copyThroughStaging(rt, client, src, dst, bytes, true, stream)) return *staged;
  }
  if (place && stream.async) {
    start = postToPinned(rt, client, dst, src, bytes, stream);
    if (start == bytes) return CUDA_SUCCESS;
  }
  for (std::uint64_t offset = start; offset < bytes || offset == 0; offset += kChunk) {
    std::uint64_t chunk = std::min(kChunk, bytes - offset);
    CallMessage call(rt.currentContextId());
    auto copy = call->initCopy();
    copy.setSrc(src + offset);
    copy.setBytes(chunk);
    copy.setStream(stream.id);
    copy.setAsync(stream.async);
    copy.setPerThread(stream.perThread);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, true);
    auto data = (*reply)->bulk();
    if (data.size() != chunk) {
      cudaabi::driverLogger().error("device-to-host copy: the server sent {} bytes for a chunk of {}", data.size(), chunk);
      return CUDA_ERROR_UNKNOWN;
    }
    std::memcpy(dst + offset, data.data(), chunk);
    if (bytes == 0) break;
  }
  return client.takeDeferredError();
}

CUresult deviceToDevice(Runtime& rt, Client& client, std::uint64_t dst, std::uint64_t src, std::uint64_t bytes,
                        StreamArg stream) {
  if (!rt.allocation(dst) || !rt.allocation(src)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult refused = captureRules(rt, stream, true); refused != CUDA_SUCCESS) return refused;
  CallMessage call(rt.currentContextId());
  auto copy = call->initCopy();
  copy.setDst(dst);
  copy.setSrc(src);
  copy.setBytes(bytes);
  copy.setStream(stream.id);
  copy.setAsync(stream.async);
  copy.setPerThread(stream.perThread);
  return sendInStreamOrder(client, call);
}

// A copy with both sides in this process's memory: in stream order means after the stream's
// earlier work, so `copy` runs once the stream is drained; captured, it is host work of the graph
// (a host point), run here when a replay reaches it.
template <typename Copy>
CUresult onHostInStreamOrder(Runtime& rt, Client& client, StreamArg stream, Copy copy) {
  if (stream.async && activeCapture(rt, stream)) {
    HostEffect effect{.kind = HostEffect::Kind::kHostFunction};
    effect.work = std::make_shared<const std::function<void()>>(std::move(copy));
    return captureHostPoint(rt, client, handleOf<CUstream>(stream.id), stream.perThread, std::move(effect));
  }
  if (CUresult refused = captureRules(rt, stream, false); refused != CUDA_SUCCESS) return refused;
  CUresult result = synchronizeStream(client, rt.currentContextId(), stream.id, stream.perThread, true);
  if (result != CUDA_SUCCESS) return result;
  copy();
  return CUDA_SUCCESS;
}

// cuMemcpy with unified addressing: which side each pointer is on comes from the local tables.
CUresult unified(Runtime& rt, Client& client, std::uint64_t dst, std::uint64_t src, std::uint64_t bytes,
                 StreamArg stream) {
  bool dstDevice = rt.allocation(dst).has_value();
  bool srcDevice = rt.allocation(src).has_value();
  if (dstDevice && srcDevice) return deviceToDevice(rt, client, dst, src, bytes, stream);
  if (dstDevice) return toDevice(rt, client, dst, reinterpret_cast<const std::uint8_t*>(src), bytes, stream);
  if (srcDevice) return toHost(rt, client, reinterpret_cast<std::uint8_t*>(dst), src, bytes, stream);
  if (bytes > 0 && (dst == 0 || src == 0)) return CUDA_ERROR_INVALID_VALUE;
  return onHostInStreamOrder(rt, client, stream, [dst, src, bytes] {
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
  });
}

StreamArg streamArg(CUstream stream, bool async, bool perThread) { return {idOf(stream), async, perThread}; }

CUresult memset(const char* name, CUdeviceptr dst, std::size_t pitch, std::uint32_t value, unsigned elementBytes,
                std::size_t width, std::size_t height, StreamArg stream) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (!rt.allocation(dst)) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult refused = captureRules(rt, stream, true); refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    auto set = call->initMemset();
    set.setDst(dst);
    set.setPitch(pitch);
    set.setValue(value);
    set.setElementBytes(static_cast<std::uint8_t>(elementBytes));
    set.setWidth(width);
    set.setHeight(height);
    set.setStream(stream.id);
    set.setAsync(stream.async);
    set.setPerThread(stream.perThread);
    return sendInStreamOrder(client, call);
  });
}

// One side of a strided (2-D or 3-D) copy once checked: device memory or this process's, the
// first byte copied, the row pitch and the slice pitch.
struct StridedSide {
  bool device = false;
  std::uint64_t first = 0;
  std::uint64_t pitch = 0;
  std::uint64_t slice = 0;
};

// A side of copy `p` (cudaabi/copy_shape.h): device memory when the program says so or unified
// addressing finds it in an allocation. The server checks the device side's pieces again.
std::optional<StridedSide> stridedSide(Runtime& rt, CUmemorytype type, const void* host, CUdeviceptr device,
                                       std::size_t x, std::size_t y, std::size_t z, std::size_t pitch,
                                       std::size_t sliceRows, const CUDA_MEMCPY3D& p) {
  if (type != CU_MEMORYTYPE_HOST && type != CU_MEMORYTYPE_DEVICE && type != CU_MEMORYTYPE_UNIFIED) return std::nullopt;
  std::uint64_t base = type == CU_MEMORYTYPE_HOST ? reinterpret_cast<std::uintptr_t>(host) : device;
  StridedSide side;
  side.device = type == CU_MEMORYTYPE_DEVICE || (type == CU_MEMORYTYPE_UNIFIED && rt.allocation(device));
  auto region = cudaabi::volumeSide(base, x, y, z, pitch, sliceRows, p);
  if (!region) return std::nullopt;
  side.pitch = region->pitch;
  side.first = region->first;
  side.slice = region->slice;
  return side;
}

// One piece of a strided copy (at most kChunk packed bytes) as one Copy2D call: host rows packed
// into the message, or asked for and unpacked. `wait`: a synchronous copy's last piece.
CUresult sendPiece(Runtime& rt, Client& client, const StridedSide& src, const StridedSide& dst, std::uint64_t width,
                   std::uint64_t height, StreamArg stream, bool wait) {
  CallMessage call(rt.currentContextId());
  auto copy = call->initCopy2D();
  copy.setWidth(width);
  copy.setHeight(height);
  copy.setStream(stream.id);
  copy.setAsync(stream.async || !wait);
  copy.setPerThread(stream.perThread);
  std::vector<std::uint8_t> packed;
  if (src.device) {
    copy.setSrc(src.first);
    copy.setSrcPitch(src.pitch);
  } else {
    packed.resize(width * height);
    const auto* first = reinterpret_cast<const std::uint8_t*>(src.first);
    for (std::uint64_t row = 0; row < height; ++row) std::memcpy(packed.data() + row * width, first + row * src.pitch, width);
    copy.setData(kj::arrayPtr(packed.data(), packed.size()));
  }
  if (dst.device) {
    copy.setDst(dst.first);
    copy.setDstPitch(dst.pitch);
    return sendInStreamOrder(client, call);
  }
  copy.setToHost(true);
  auto reply = ask(client, call);
  if (!reply) return resultOf(client, reply, true);
  auto data = (*reply)->get().getData();
  if (data.size() != width * height) return CUDA_ERROR_UNKNOWN;
  auto* first = reinterpret_cast<std::uint8_t*>(dst.first);
  for (std::uint64_t row = 0; row < height; ++row) std::memcpy(first + row * dst.pitch, data.begin() + row * width, width);
  return CUDA_SUCCESS;
}

// A piece of a strided copy between the device and this process's memory, as a captured band.
CapturedBand capturedBand(const StridedSide& src, const StridedSide& dst, std::uint64_t width, std::uint64_t rows) {
  const StridedSide& host = src.device ? dst : src;
  const StridedSide& device = src.device ? src : dst;
  return CapturedBand{.host = reinterpret_cast<std::uint8_t*>(host.first), .hostPitch = host.pitch,
                      .device = device.first, .devicePitch = device.pitch, .width = width, .bytes = width * rows};
}

// Copy `p` (sides checked) slice by slice, each in bands of whole rows of at most kChunk bytes, or
// in parts of one row when a row alone is larger. On a capturing stream, a band of this process's
// memory is captured through a staging buffer.
CUresult sendStrided(Runtime& rt, Client& client, const StridedSide& src, const StridedSide& dst,
                     const CUDA_MEMCPY3D& p, StreamArg stream) {
  bool capturing = activeCapture(rt, stream);
  std::uint64_t width = p.WidthInBytes;
  std::uint64_t rowsPerBand = width >= kChunk ? 1 : kChunk / width;
  std::uint64_t columns = std::min<std::uint64_t>(width, kChunk);
  for (std::uint64_t z = 0; z < p.Depth; ++z) {
    for (std::uint64_t row = 0; row < p.Height; row += rowsPerBand) {
      std::uint64_t rows = std::min<std::uint64_t>(rowsPerBand, p.Height - row);
      for (std::uint64_t column = 0; column < width; column += columns) {
        // Inside the regions stridedSide checked: no offset here can wrap.
        StridedSide from = src, to = dst;
        from.first += z * src.slice + row * src.pitch + column;
        to.first += z * dst.slice + row * dst.pitch + column;
        bool last = z + 1 == p.Depth && row + rows == p.Height && column + columns >= width;
        std::uint64_t pieceWidth = std::min(columns, width - column);
        CUresult result = capturing && from.device != to.device
                              ? captureBand(rt, client, capturedBand(from, to, pieceWidth, rows), stream, !to.device)
                              : sendPiece(rt, client, from, to, pieceWidth, rows, stream, last);
        if (result != CUDA_SUCCESS) return result;
      }
    }
  }
  return dst.device ? CUDA_SUCCESS : client.takeDeferredError();
}

// cuMemcpy3D and cuMemcpy2D (as a copy of one slice).
CUresult copy3D(const char* name, const CUDA_MEMCPY3D* p, StreamArg stream) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (p == nullptr || p->srcLOD != 0 || p->dstLOD != 0 || p->reserved0 != nullptr || p->reserved1 != nullptr) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (p->srcMemoryType == CU_MEMORYTYPE_ARRAY || p->dstMemoryType == CU_MEMORYTYPE_ARRAY) {
      return cudaabi::reportNotSupported("copies with CUDA arrays");
    }
    auto src = stridedSide(rt, p->srcMemoryType, p->srcHost, p->srcDevice, p->srcXInBytes, p->srcY, p->srcZ, p->srcPitch,
                           p->srcHeight, *p);
    auto dst = stridedSide(rt, p->dstMemoryType, p->dstHost, p->dstDevice, p->dstXInBytes, p->dstY, p->dstZ, p->dstPitch,
                           p->dstHeight, *p);
    if (!src || !dst) return CUDA_ERROR_INVALID_VALUE;
    if (p->WidthInBytes == 0 || p->Height == 0 || p->Depth == 0) return CUDA_SUCCESS;
    if (!src->device && !dst->device) {
      return onHostInStreamOrder(rt, client, stream, [from = *src, to = *dst, shape = *p] {
        for (std::uint64_t z = 0; z < shape.Depth; ++z) {
          for (std::uint64_t row = 0; row < shape.Height; ++row) {
            std::memmove(reinterpret_cast<void*>(to.first + z * to.slice + row * to.pitch),
                         reinterpret_cast<const void*>(from.first + z * from.slice + row * from.pitch),
                         shape.WidthInBytes);
          }
        }
      });
    }
    // A side in this process's memory is captured through staging buffers (sendStrided).
    if (CUresult refused = captureRules(rt, stream, true); refused != CUDA_SUCCESS) return refused;
    return sendStrided(rt, client, *src, *dst, *p, stream);
  });
}

CUresult copy2D(const char* name, const CUDA_MEMCPY2D* p, StreamArg stream) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEMCPY3D slice = cudaabi::asVolumeCopy(*p);
  return copy3D(name, &slice, stream);
}

}  // namespace

#define FASTGPU_COPY(symbol, body)                                                            \
  FASTGPU_REMOTE_EXPORT CUresult symbol {                                                     \
    return remoteEntry(#symbol, [&](Runtime& rt, Client& client) { return body; }); \
  }

FASTGPU_COPY(cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n),
             toDevice(rt, client, dst, static_cast<const std::uint8_t*>(src), n, streamArg(nullptr, false, false)))
FASTGPU_COPY(cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void* src, size_t n),
             toDevice(rt, client, dst, static_cast<const std::uint8_t*>(src), n, streamArg(nullptr, false, true)))
FASTGPU_COPY(cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream s),
             toDevice(rt, client, dst, static_cast<const std::uint8_t*>(src), n, streamArg(s, true, false)))
FASTGPU_COPY(cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void* src, size_t n, CUstream s),
             toDevice(rt, client, dst, static_cast<const std::uint8_t*>(src), n, streamArg(s, true, true)))
FASTGPU_COPY(cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n),
             toHost(rt, client, static_cast<std::uint8_t*>(dst), src, n, streamArg(nullptr, false, false)))
FASTGPU_COPY(cuMemcpyDtoH_v2_ptds(void* dst, CUdeviceptr src, size_t n),
             toHost(rt, client, static_cast<std::uint8_t*>(dst), src, n, streamArg(nullptr, false, true)))
FASTGPU_COPY(cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream s),
             toHost(rt, client, static_cast<std::uint8_t*>(dst), src, n, streamArg(s, true, false)))
FASTGPU_COPY(cuMemcpyDtoHAsync_v2_ptsz(void* dst, CUdeviceptr src, size_t n, CUstream s),
             toHost(rt, client, static_cast<std::uint8_t*>(dst), src, n, streamArg(s, true, true)))
FASTGPU_COPY(cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n),
             deviceToDevice(rt, client, dst, src, n, streamArg(nullptr, false, false)))
FASTGPU_COPY(cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n),
             deviceToDevice(rt, client, dst, src, n, streamArg(nullptr, false, true)))
FASTGPU_COPY(cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s),
             deviceToDevice(rt, client, dst, src, n, streamArg(s, true, false)))
FASTGPU_COPY(cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s),
             deviceToDevice(rt, client, dst, src, n, streamArg(s, true, true)))
FASTGPU_COPY(cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n),
             unified(rt, client, dst, src, n, streamArg(nullptr, false, false)))
FASTGPU_COPY(cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n),
             unified(rt, client, dst, src, n, streamArg(nullptr, false, true)))
FASTGPU_COPY(cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s),
             unified(rt, client, dst, src, n, streamArg(s, true, false)))
FASTGPU_COPY(cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s),
             unified(rt, client, dst, src, n, streamArg(s, true, true)))

FASTGPU_REMOTE_EXPORT CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D* p) {
  return copy3D(__func__, p, streamArg(nullptr, false, false));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D* p) {
  return copy3D(__func__, p, streamArg(nullptr, false, true));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D* p, CUstream s) {
  return copy3D(__func__, p, streamArg(s, true, false));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D* p, CUstream s) {
  return copy3D(__func__, p, streamArg(s, true, true));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, streamArg(nullptr, false, false));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, streamArg(nullptr, false, false));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, streamArg(nullptr, false, true));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, streamArg(nullptr, false, true));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D* p, CUstream s) {
  return copy2D(__func__, p, streamArg(s, true, false));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D* p, CUstream s) {
  return copy2D(__func__, p, streamArg(s, true, true));
}

#define FASTGPU_MEMSET(bits, type, bytes)                                                                          \
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD##bits##_v2(CUdeviceptr dst, type value, size_t n) {                    \
    return memset(__func__, dst, n * bytes, value, bytes, n, 1, streamArg(nullptr, false, false));                \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD##bits##_v2_ptds(CUdeviceptr dst, type value, size_t n) {               \
    return memset(__func__, dst, n * bytes, value, bytes, n, 1, streamArg(nullptr, false, true));                 \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD##bits##Async(CUdeviceptr dst, type value, size_t n, CUstream s) {      \
    return memset(__func__, dst, n * bytes, value, bytes, n, 1, streamArg(s, true, false));                       \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD##bits##Async_ptsz(CUdeviceptr dst, type value, size_t n, CUstream s) { \
    return memset(__func__, dst, n * bytes, value, bytes, n, 1, streamArg(s, true, true));                        \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD2D##bits##_v2(CUdeviceptr dst, size_t pitch, type value, size_t w,      \
                                                        size_t h) {                                                \
    return memset(__func__, dst, pitch, value, bytes, w, h, streamArg(nullptr, false, false));                    \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD2D##bits##_v2_ptds(CUdeviceptr dst, size_t pitch, type value, size_t w, \
                                                             size_t h) {                                           \
    return memset(__func__, dst, pitch, value, bytes, w, h, streamArg(nullptr, false, true));                     \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD2D##bits##Async(CUdeviceptr dst, size_t pitch, type value, size_t w,    \
                                                          size_t h, CUstream s) {                                  \
    return memset(__func__, dst, pitch, value, bytes, w, h, streamArg(s, true, false));                           \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD2D##bits##Async_ptsz(CUdeviceptr dst, size_t pitch, type value,         \
                                                               size_t w, size_t h, CUstream s) {                   \
    return memset(__func__, dst, pitch, value, bytes, w, h, streamArg(s, true, true));                            \
  }

FASTGPU_MEMSET(8, unsigned char, 1)
FASTGPU_MEMSET(16, unsigned short, 2)
FASTGPU_MEMSET(32, unsigned int, 4)
