// Copies and memsets. Bulk data travels in chunks of protocol::kMaxCopyChunkBytes; chunks to
// the device are posted back to back (the last one waits when the copy is synchronous), chunks
// from the device are asked for in turn. Device-to-host copies always wait for their data, so no
// host buffer is ever written out of stream order.
#include <cstring>

#include "cudaabi/checked_math.h"
#include "interposer/remote.h"
#include "protocol/call_kinds.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

constexpr auto kChunk = protocol::kMaxCopyChunkBytes;

struct StreamArg {
  std::uint64_t id;
  bool async;
  bool perThread;
};

// The capture rules for a copy or memset on `stream` (remote.h); copies of client memory cannot be
// captured by the server.
CUresult captureRules(Runtime& rt, StreamArg stream, bool capturable) {
  return captureCheck(rt, handleOf<CUstream>(stream.id), stream.perThread, stream.async, capturable);
}

bool activeCapture(Runtime& rt, StreamArg stream) {
  auto state = rt.captures().state(CaptureMirror::keyOf(handleOf<CUstream>(stream.id), stream.perThread));
  return state && !state->invalidated;
}

// A copy between the device and this process's memory captured on `stream`: the server's graph
// copies through staging buffers that every replay first fills with what `host` holds then (from
// the host), or whose bytes land in `host` after it (to the host; interposer/api_graph.cpp).
CUresult captureThroughStaging(Runtime& rt, Client& client, std::uint8_t* host, std::uint64_t device,
                               std::uint64_t bytes, StreamArg stream, bool toHost) {
  auto key = CaptureMirror::keyOf(handleOf<CUstream>(stream.id), stream.perThread);
  for (std::uint64_t offset = 0; offset < bytes; offset += kChunk) {
    std::uint64_t chunk = std::min(kChunk, bytes - offset);
    CallMessage call(rt.currentContextId());
    auto describe = [&](auto copy) {
      copy.setBytes(chunk);
      copy.setStream(stream.id);
      copy.setPerThread(stream.perThread);
      return copy;
    };
    if (toHost) {
      describe(call->initCaptureToHost()).setSrc(device + offset);
    } else {
      describe(call->initCaptureFromHost()).setDst(device + offset);
    }
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    HostEffect effect{.kind = toHost ? HostEffect::Kind::kCopyToHost : HostEffect::Kind::kCopyFromHost,
                      .staging = (*reply)->get().getHandle(), .destination = host + offset, .bytes = chunk,
                      .source = host + offset};
    if (CUresult refused = rt.captures().addEffect(key, effect); refused != CUDA_SUCCESS) return refused;
  }
  return CUDA_SUCCESS;
}

CUresult toDevice(Runtime& rt, Client& client, std::uint64_t dst, const std::uint8_t* src, std::uint64_t bytes,
                  StreamArg stream) {
  if (!rt.allocation(dst)) return CUDA_ERROR_INVALID_VALUE;
  if (stream.async && bytes > 0 && activeCapture(rt, stream)) {
    return captureThroughStaging(rt, client, const_cast<std::uint8_t*>(src), dst, bytes, stream, false);
  }
  if (CUresult refused = captureRules(rt, stream, false); refused != CUDA_SUCCESS) return refused;
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

CUresult toHost(Runtime& rt, Client& client, std::uint8_t* dst, std::uint64_t src, std::uint64_t bytes, StreamArg stream) {
  if (!rt.allocation(src)) return CUDA_ERROR_INVALID_VALUE;
  if (stream.async && bytes > 0 && activeCapture(rt, stream)) {
    return captureThroughStaging(rt, client, dst, src, bytes, stream, true);
  }
  if (CUresult refused = captureRules(rt, stream, false); refused != CUDA_SUCCESS) return refused;
  for (std::uint64_t offset = 0; offset < bytes || offset == 0; offset += kChunk) {
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

// cuMemcpy with unified addressing: which side each pointer is on comes from the local tables.
CUresult unified(Runtime& rt, Client& client, std::uint64_t dst, std::uint64_t src, std::uint64_t bytes,
                 StreamArg stream) {
  bool dstDevice = rt.allocation(dst).has_value();
  bool srcDevice = rt.allocation(src).has_value();
  if (dstDevice && srcDevice) return deviceToDevice(rt, client, dst, src, bytes, stream);
  if (dstDevice) return toDevice(rt, client, dst, reinterpret_cast<const std::uint8_t*>(src), bytes, stream);
  if (srcDevice) return toHost(rt, client, reinterpret_cast<std::uint8_t*>(dst), src, bytes, stream);
  if (bytes > 0 && (dst == 0 || src == 0)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult refused = captureRules(rt, stream, false); refused != CUDA_SUCCESS) return refused;
  // Both on the host: in stream order means after the stream's earlier work.
  CallMessage call(rt.currentContextId());
  auto sync = call->initStreamSynchronize();
  sync.setStream(stream.id);
  sync.setPerThread(stream.perThread);
  if (CUresult result = askResult(client, call, true); result != CUDA_SUCCESS) return result;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
  return CUDA_SUCCESS;
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

CUresult copy2D(const char* name, const CUDA_MEMCPY2D* p, StreamArg stream) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto deviceSide = [&](CUmemorytype type, CUdeviceptr device) {
      return type == CU_MEMORYTYPE_DEVICE || (type == CU_MEMORYTYPE_UNIFIED && rt.allocation(device));
    };
    if (p->srcMemoryType == CU_MEMORYTYPE_ARRAY || p->dstMemoryType == CU_MEMORYTYPE_ARRAY) {
      return cudaabi::reportNotSupported("cuMemcpy2D with CUDA arrays");
    }
    bool srcDevice = deviceSide(p->srcMemoryType, p->srcDevice);
    bool dstDevice = deviceSide(p->dstMemoryType, p->dstDevice);
    std::size_t width = p->WidthInBytes, height = p->Height;
    std::size_t srcPitch = p->srcPitch == 0 ? width : p->srcPitch;
    std::size_t dstPitch = p->dstPitch == 0 ? width : p->dstPitch;
    const auto* srcHost = static_cast<const std::uint8_t*>(p->srcMemoryType == CU_MEMORYTYPE_UNIFIED
                                                               ? reinterpret_cast<const void*>(p->srcDevice)
                                                               : p->srcHost);
    auto* dstHost = static_cast<std::uint8_t*>(p->dstMemoryType == CU_MEMORYTYPE_UNIFIED
                                                   ? reinterpret_cast<void*>(p->dstDevice)
                                                   : p->dstHost);
    if (!srcDevice && !dstDevice) return cudaabi::reportNotSupported("cuMemcpy2D host to host");
    // Shapes in checked arithmetic (as the server checks them again): rows that overlap or sizes
    // and offsets that wrap are the caller's error, not a small copy.
    auto packedBytes = cudaabi::checkedMul(width, height);
    auto src = cudaabi::pitchedRegion(srcDevice ? p->srcDevice : reinterpret_cast<std::uint64_t>(srcHost), p->srcXInBytes,
                                      p->srcY, srcPitch, width, height);
    auto dst = cudaabi::pitchedRegion(dstDevice ? p->dstDevice : reinterpret_cast<std::uint64_t>(dstHost), p->dstXInBytes,
                                      p->dstY, dstPitch, width, height);
    if (!packedBytes || !src || !dst) return CUDA_ERROR_INVALID_VALUE;
    if (*packedBytes > kChunk) return cudaabi::reportNotSupported("cuMemcpy2D over 8 MiB");
    if (CUresult refused = captureRules(rt, stream, srcDevice && dstDevice); refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    auto copy = call->initCopy2D();
    copy.setWidth(width);
    copy.setHeight(height);
    copy.setStream(stream.id);
    copy.setAsync(stream.async);
    copy.setPerThread(stream.perThread);
    std::vector<std::uint8_t> packed;
    if (srcDevice) {
      copy.setSrc(src->first);
      copy.setSrcPitch(srcPitch);
    } else {
      packed.resize(*packedBytes);
      const auto* first = reinterpret_cast<const std::uint8_t*>(src->first);
      for (std::size_t row = 0; row < height; ++row) std::memcpy(packed.data() + row * width, first + row * srcPitch, width);
      copy.setData(kj::arrayPtr(packed.data(), packed.size()));
    }
    if (dstDevice) {
      copy.setDst(dst->first);
      copy.setDstPitch(dstPitch);
      return sendInStreamOrder(client, call);
    }
    copy.setToHost(true);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, true);
    auto data = (*reply)->get().getData();
    if (data.size() != *packedBytes) return CUDA_ERROR_UNKNOWN;
    auto* first = reinterpret_cast<std::uint8_t*>(dst->first);
    for (std::size_t row = 0; row < height; ++row) std::memcpy(first + row * dstPitch, data.begin() + row * width, width);
    return client.takeDeferredError();
  });
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

FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, streamArg(nullptr, false, false));
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, streamArg(nullptr, false, false));
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
  FASTGPU_REMOTE_EXPORT CUresult cuMemsetD2D##bits##Async(CUdeviceptr dst, size_t pitch, type value, size_t w,    \
                                                          size_t h, CUstream s) {                                  \
    return memset(__func__, dst, pitch, value, bytes, w, h, streamArg(s, true, false));                           \
  }

FASTGPU_MEMSET(8, unsigned char, 1)
FASTGPU_MEMSET(16, unsigned short, 2)
FASTGPU_MEMSET(32, unsigned int, 4)
