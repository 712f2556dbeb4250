// Copies and memsets, synchronous and asynchronous, in every direction. Every device range is
// checked against live allocations before anything is queued: an out-of-range or freed pointer
// fails the call with CUDA_ERROR_INVALID_VALUE and changes nothing.
#include "cudaabi/copy_shape.h"
#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

// Queues `operation` on `stream`, or adds it to the stream's capture. Synchronous calls, and
// asynchronous ones that touch pageable host memory (which CUDA stages synchronously), wait for
// it and report pending errors.
template <typename Node>
CUresult submit(Driver& driver, Stream& stream, CUgraphNodeType type, Node&& node, Operation operation, bool wait) {
  auto route = driver.captures().route(stream, type, std::forward<Node>(node));
  if (!route) return fail(route);
  if (*route == Captures::Route::kCaptured) return CUDA_SUCCESS;
  auto completion = stream.context().enqueue(stream, std::move(operation));
  if (!wait) return CUDA_SUCCESS;
  driver.progress().wait(*completion);
  driver.deviceOutput().flush();  // a blocking copy is one of the driver's printf flush points
  return asyncError(stream.context());
}

// The stream of a copy or memset. A synchronous one is a "potentially unsafe" call during captures
// and may not run on a capturing stream.
Result<std::shared_ptr<Stream>> streamOf(Driver& driver, CUstream handle, bool async, DefaultStream nullMeans) {
  if (!async) {
    if (Status status = driver.captures().checkUnsafeCall(); !status) return status;
  }
  auto stream = resolveStream(driver, handle, nullMeans);
  if (!stream || async) return stream;
  if (Status status = driver.captures().refuseIfCapturing(**stream); !status) return status;
  return stream;
}

CUresult copy3D(Driver& driver, const CUDA_MEMCPY3D& p, CUstream handle, bool async, DefaultStream nullMeans) {
  auto stream = streamOf(driver, handle, async, nullMeans);
  if (!stream) return fail(stream);
  auto checked = checkCopy3D(driver, p);
  if (!checked) return fail(checked);
  if (checked->width == 0 || checked->height == 0 || checked->depth == 0) return CUDA_SUCCESS;
  return submit(driver, **stream, CU_GRAPH_NODE_TYPE_MEMCPY, [&] { return CopyNode{p, *checked}; },
                copyOperation(*checked), !async || checked->pageable);
}

CUresult copy(const char* name, std::uint64_t dst, bool dstDevice, std::uint64_t src, bool srcDevice,
              std::size_t bytes, CUstream handle, bool async, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    CUDA_MEMCPY3D p{};
    p.srcMemoryType = srcDevice ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_UNIFIED;
    p.srcDevice = src;
    p.dstMemoryType = dstDevice ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_UNIFIED;
    p.dstDevice = dst;
    p.WidthInBytes = bytes;
    p.Height = 1;
    p.Depth = 1;
    return copy3D(driver, p, handle, async, nullMeans);
  });
}

std::uint64_t address(const void* pointer) { return reinterpret_cast<std::uint64_t>(pointer); }

CUresult copy2D(const char* name, const CUDA_MEMCPY2D* p, CUstream handle, bool async, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CUDA_MEMCPY3D p3 = cudaabi::asVolumeCopy(*p);
    return copy3D(driver, p3, handle, async, nullMeans);
  });
}

CUresult copy3DEntry(const char* name, const CUDA_MEMCPY3D* p, CUstream handle, bool async, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return copy3D(driver, *p, handle, async, nullMeans);
  });
}

// ---- memsets ----

template <typename T>
CUresult memset2D(const char* name, CUdeviceptr dst, std::size_t pitch, T value, std::size_t width,
                  std::size_t height, CUstream handle, bool async, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto stream = streamOf(driver, handle, async, nullMeans);
    if (!stream) return fail(stream);
    CUDA_MEMSET_NODE_PARAMS p{dst, pitch, value, sizeof(T), width, height};
    auto checked = checkMemset(driver, p);
    if (!checked) return fail(checked);
    if (width == 0 || height == 0) return CUDA_SUCCESS;
    return submit(driver, **stream, CU_GRAPH_NODE_TYPE_MEMSET, [&] { return MemsetNode{*checked}; },
                  memsetOperation(*checked), !async);
  });
}

template <typename T>
CUresult memset1D(const char* name, CUdeviceptr dst, T value, std::size_t count, CUstream stream, bool async,
                  DefaultStream nullMeans) {
  return memset2D<T>(name, dst, count * sizeof(T), value, count, 1, stream, async, nullMeans);
}

constexpr auto kLegacy = DefaultStream::kLegacy;
constexpr auto kPerThread = DefaultStream::kPerThread;

}  // namespace

// ---- explicit directions ----
#define FASTGPU_SIM_COPY(symbol, dstType, dstExpr, dstDevice, srcType, srcExpr, srcDevice, async, nullMeans, streamArg, \
                         streamParam)                                                                            \
  FASTGPU_SIM_EXPORT CUresult symbol(dstType dst, srcType src, size_t bytes streamParam) {                      \
    return copy(#symbol, dstExpr, dstDevice, srcExpr, srcDevice, bytes, streamArg, async, nullMeans);           \
  }
#define FASTGPU_SIM_NO_STREAM
#define FASTGPU_SIM_STREAM_PARAM , CUstream stream

FASTGPU_SIM_COPY(cuMemcpyHtoD_v2, CUdeviceptr, dst, true, const void*, address(src), false, false, kLegacy, nullptr,
                 FASTGPU_SIM_NO_STREAM)
FASTGPU_SIM_COPY(cuMemcpyHtoD_v2_ptds, CUdeviceptr, dst, true, const void*, address(src), false, false, kPerThread,
                 nullptr, FASTGPU_SIM_NO_STREAM)
FASTGPU_SIM_COPY(cuMemcpyDtoH_v2, void*, address(dst), false, CUdeviceptr, src, true, false, kLegacy, nullptr,
                 FASTGPU_SIM_NO_STREAM)
FASTGPU_SIM_COPY(cuMemcpyDtoH_v2_ptds, void*, address(dst), false, CUdeviceptr, src, true, false, kPerThread, nullptr,
                 FASTGPU_SIM_NO_STREAM)
FASTGPU_SIM_COPY(cuMemcpyDtoD_v2, CUdeviceptr, dst, true, CUdeviceptr, src, true, false, kLegacy, nullptr,
                 FASTGPU_SIM_NO_STREAM)
FASTGPU_SIM_COPY(cuMemcpyDtoD_v2_ptds, CUdeviceptr, dst, true, CUdeviceptr, src, true, false, kPerThread, nullptr,
                 FASTGPU_SIM_NO_STREAM)
FASTGPU_SIM_COPY(cuMemcpy, CUdeviceptr, dst, false, CUdeviceptr, src, false, false, kLegacy, nullptr,
                 FASTGPU_SIM_NO_STREAM)
FASTGPU_SIM_COPY(cuMemcpy_ptds, CUdeviceptr, dst, false, CUdeviceptr, src, false, false, kPerThread, nullptr,
                 FASTGPU_SIM_NO_STREAM)
FASTGPU_SIM_COPY(cuMemcpyHtoDAsync_v2, CUdeviceptr, dst, true, const void*, address(src), false, true, kLegacy, stream,
                 FASTGPU_SIM_STREAM_PARAM)
FASTGPU_SIM_COPY(cuMemcpyHtoDAsync_v2_ptsz, CUdeviceptr, dst, true, const void*, address(src), false, true,
                 kPerThread, stream, FASTGPU_SIM_STREAM_PARAM)
FASTGPU_SIM_COPY(cuMemcpyDtoHAsync_v2, void*, address(dst), false, CUdeviceptr, src, true, true, kLegacy, stream,
                 FASTGPU_SIM_STREAM_PARAM)
FASTGPU_SIM_COPY(cuMemcpyDtoHAsync_v2_ptsz, void*, address(dst), false, CUdeviceptr, src, true, true, kPerThread,
                 stream, FASTGPU_SIM_STREAM_PARAM)
FASTGPU_SIM_COPY(cuMemcpyDtoDAsync_v2, CUdeviceptr, dst, true, CUdeviceptr, src, true, true, kLegacy, stream,
                 FASTGPU_SIM_STREAM_PARAM)
FASTGPU_SIM_COPY(cuMemcpyDtoDAsync_v2_ptsz, CUdeviceptr, dst, true, CUdeviceptr, src, true, true, kPerThread, stream,
                 FASTGPU_SIM_STREAM_PARAM)
FASTGPU_SIM_COPY(cuMemcpyAsync, CUdeviceptr, dst, false, CUdeviceptr, src, false, true, kLegacy, stream,
                 FASTGPU_SIM_STREAM_PARAM)
FASTGPU_SIM_COPY(cuMemcpyAsync_ptsz, CUdeviceptr, dst, false, CUdeviceptr, src, false, true, kPerThread, stream,
                 FASTGPU_SIM_STREAM_PARAM)

FASTGPU_SIM_EXPORT CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext, CUdeviceptr src, CUcontext, size_t bytes) {
  return copy(__func__, dst, true, src, true, bytes, nullptr, false, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext, CUdeviceptr src, CUcontext, size_t bytes,
                                              CUstream stream) {
  return copy(__func__, dst, true, src, true, bytes, stream, true, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpyPeer_ptds(CUdeviceptr dst, CUcontext, CUdeviceptr src, CUcontext, size_t bytes) {
  return copy(__func__, dst, true, src, true, bytes, nullptr, false, kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dst, CUcontext, CUdeviceptr src, CUcontext,
                                                   size_t bytes, CUstream stream) {
  return copy(__func__, dst, true, src, true, bytes, stream, true, kPerThread);
}

FASTGPU_SIM_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D* p) { return copy2D(__func__, p, nullptr, false, kLegacy); }
FASTGPU_SIM_EXPORT CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, nullptr, false, kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, nullptr, false, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D* p) {
  return copy2D(__func__, p, nullptr, false, kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D* p, CUstream stream) {
  return copy2D(__func__, p, stream, true, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D* p, CUstream stream) {
  return copy2D(__func__, p, stream, true, kPerThread);
}

// ---- memsets ----
#define FASTGPU_SIM_MEMSET(bits, type)                                                                              \
  FASTGPU_SIM_EXPORT CUresult cuMemsetD##bits##_v2(CUdeviceptr dst, type value, size_t count) {                    \
    return memset1D<type>("cuMemsetD" #bits, dst, value, count, nullptr, false, kLegacy);                           \
  }                                                                                                                 \
  FASTGPU_SIM_EXPORT CUresult cuMemsetD##bits##_v2_ptds(CUdeviceptr dst, type value, size_t count) {               \
    return memset1D<type>("cuMemsetD" #bits, dst, value, count, nullptr, false, kPerThread);                        \
  }                                                                                                                 \
  FASTGPU_SIM_EXPORT CUresult cuMemsetD##bits##Async(CUdeviceptr dst, type value, size_t count, CUstream stream) { \
    return memset1D<type>("cuMemsetD" #bits "Async", dst, value, count, stream, true, kLegacy);                     \
  }                                                                                                                 \
  FASTGPU_SIM_EXPORT CUresult cuMemsetD##bits##Async_ptsz(CUdeviceptr dst, type value, size_t count,              \
                                                          CUstream stream) {                                        \
    return memset1D<type>("cuMemsetD" #bits "Async", dst, value, count, stream, true, kPerThread);                  \
  }                                                                                                                 \
  FASTGPU_SIM_EXPORT CUresult cuMemsetD2D##bits##_v2(CUdeviceptr dst, size_t pitch, type value, size_t width,      \
                                                     size_t height) {                                               \
    return memset2D<type>("cuMemsetD2D" #bits, dst, pitch, value, width, height, nullptr, false, kLegacy);          \
  }                                                                                                                 \
  FASTGPU_SIM_EXPORT CUresult cuMemsetD2D##bits##_v2_ptds(CUdeviceptr dst, size_t pitch, type value, size_t width, \
                                                          size_t height) {                                          \
    return memset2D<type>("cuMemsetD2D" #bits, dst, pitch, value, width, height, nullptr, false, kPerThread);       \
  }                                                                                                                 \
  FASTGPU_SIM_EXPORT CUresult cuMemsetD2D##bits##Async(CUdeviceptr dst, size_t pitch, type value, size_t width,    \
                                                       size_t height, CUstream stream) {                            \
    return memset2D<type>("cuMemsetD2D" #bits "Async", dst, pitch, value, width, height, stream, true, kLegacy);    \
  }                                                                                                                 \
  FASTGPU_SIM_EXPORT CUresult cuMemsetD2D##bits##Async_ptsz(CUdeviceptr dst, size_t pitch, type value,            \
                                                            size_t width, size_t height, CUstream stream) {         \
    return memset2D<type>("cuMemsetD2D" #bits "Async", dst, pitch, value, width, height, stream, true, kPerThread); \
  }

FASTGPU_SIM_MEMSET(8, unsigned char)
FASTGPU_SIM_MEMSET(16, unsigned short)
FASTGPU_SIM_MEMSET(32, unsigned int)

FASTGPU_SIM_EXPORT CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D* p) {
  return copy3DEntry(__func__, p, nullptr, false, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D* p) {
  return copy3DEntry(__func__, p, nullptr, false, kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D* p, CUstream stream) {
  return copy3DEntry(__func__, p, stream, true, kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D* p, CUstream stream) {
  return copy3DEntry(__func__, p, stream, true, kPerThread);
}
