// Copies and memsets, synchronous and asynchronous, in every direction. Every device range is
// checked against live allocations before anything is queued: an out-of-range or freed pointer
// fails the call with CUDA_ERROR_INVALID_VALUE and changes nothing.
#include <cstring>

#include <fmt/format.h>

#include "cudaabi/checked_math.h"
#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

enum class Memory { kDevice, kPinnedHost, kPageableHost };

// Classifies [address, address + bytes) for a copy. `mustBeDevice`: the API names it a device
// pointer. A range in a device's address window must lie inside one live allocation.
Result<Memory> classify(Driver& driver, std::uint64_t address, std::uint64_t bytes, bool mustBeDevice) {
  if (!cudaabi::checkedAdd(address, bytes)) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("range {:#x}+{} wraps around the address space", address, bytes));
  }
  if (Device* device = driver.deviceOfAddress(address)) {
    if (!device->memory().find(address, bytes)) {
      return Status(CUDA_ERROR_INVALID_VALUE,
                    fmt::format("device range {:#x}+{} is not inside a live allocation", address, bytes));
    }
    return Memory::kDevice;
  }
  if (driver.virtualMemory().inWindow(address)) {
    auto mapped = driver.virtualMemory().find(address, bytes);
    if (!mapped || mapped->access != CU_MEM_ACCESS_FLAGS_PROT_READWRITE) {
      return Status(CUDA_ERROR_INVALID_VALUE,
                    fmt::format("range {:#x}+{} is not mapped with read-write access", address, bytes));
    }
    return Memory::kDevice;
  }
  if (driver.hostMemory().find(address, bytes)) return Memory::kPinnedHost;  // also a valid device pointer
  if (mustBeDevice) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{:#x} is not a device pointer", address));
  if (address == 0 && bytes > 0) return Status(CUDA_ERROR_INVALID_VALUE, "NULL host pointer");
  return Memory::kPageableHost;
}

// Queues `work` on `stream`. Synchronous calls, and asynchronous ones that touch pageable host
// memory (which CUDA stages synchronously), wait for it and report pending errors.
CUresult submit(Stream& stream, std::function<CUresult()> work, bool wait) {
  auto completion = stream.context().enqueue(stream, Operation{Operation::Kind::kDeviceWork, std::move(work), {}});
  if (!wait) return CUDA_SUCCESS;
  Driver::instance()->progress().wait(*completion);
  return asyncError(stream.context());
}

CUresult copy(const char* name, std::uint64_t dst, bool dstDevice, std::uint64_t src, bool srcDevice,
              std::size_t bytes, CUstream handle, bool async, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto stream = resolveStream(driver, handle, nullMeans);
    if (!stream) return fail(stream);
    auto dstKind = classify(driver, dst, bytes, dstDevice);
    if (!dstKind) return fail(dstKind);
    auto srcKind = classify(driver, src, bytes, srcDevice);
    if (!srcKind) return fail(srcKind);
    if (bytes == 0) return CUDA_SUCCESS;
    bool pageable = *dstKind == Memory::kPageableHost || *srcKind == Memory::kPageableHost;
    auto work = [dst, src, bytes] {
      std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
      return CUDA_SUCCESS;
    };
    return submit(**stream, work, !async || pageable);
  });
}

std::uint64_t address(const void* pointer) { return reinterpret_cast<std::uint64_t>(pointer); }

// ---- 2D copies ----

struct Plane {
  std::uint64_t base;
  std::size_t pitch;
  bool device;
};

Result<Plane> planeOf(Driver& driver, CUmemorytype type, const void* host, CUdeviceptr device, CUarray array,
                      std::size_t x, std::size_t y, std::size_t pitch, std::size_t width, std::size_t height) {
  std::uint64_t base = 0;
  bool isDevice = false;
  switch (type) {
    case CU_MEMORYTYPE_HOST: base = address(host); break;
    case CU_MEMORYTYPE_DEVICE: base = device; isDevice = true; break;
    case CU_MEMORYTYPE_UNIFIED: base = device; isDevice = driver.deviceOfAddress(device) != nullptr; break;
    case CU_MEMORYTYPE_ARRAY:
      (void)array;
      return Status(CUDA_ERROR_NOT_SUPPORTED, "cudasim does not simulate CUDA arrays");
    default: return Status(CUDA_ERROR_INVALID_VALUE, "bad memory type");
  }
  if (height > 0 && pitch < width) return Status(CUDA_ERROR_INVALID_VALUE, "pitch smaller than the width");
  // Every offset and extent in checked arithmetic: a pitch or size chosen to wrap fails.
  auto region = cudaabi::pitchedRegion(base, x, y, pitch, width, height);
  if (!region) return Status(CUDA_ERROR_INVALID_VALUE, "2-D region: its offset or size overflows");
  auto kind = classify(driver, region->first, region->extent, isDevice);
  if (!kind) return kind.status();
  return Plane{region->first, pitch, isDevice};
}

CUresult copy2D(const char* name, const CUDA_MEMCPY2D* p, CUstream handle, bool async, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto stream = resolveStream(driver, handle, nullMeans);
    if (!stream) return fail(stream);
    auto src = planeOf(driver, p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray, p->srcXInBytes, p->srcY,
                       p->srcPitch == 0 ? p->WidthInBytes : p->srcPitch, p->WidthInBytes, p->Height);
    if (!src) return fail(src);
    auto dst = planeOf(driver, p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray, p->dstXInBytes, p->dstY,
                       p->dstPitch == 0 ? p->WidthInBytes : p->dstPitch, p->WidthInBytes, p->Height);
    if (!dst) return fail(dst);
    std::size_t width = p->WidthInBytes;
    std::size_t height = p->Height;
    Plane from = *src;
    Plane to = *dst;
    auto work = [from, to, width, height] {
      for (std::size_t row = 0; row < height; ++row) {
        std::memmove(reinterpret_cast<void*>(to.base + row * to.pitch),
                     reinterpret_cast<const void*>(from.base + row * from.pitch), width);
      }
      return CUDA_SUCCESS;
    };
    bool pageable = !async || (!from.device && !driver.hostMemory().find(from.base)) ||
                    (!to.device && !driver.hostMemory().find(to.base));
    return submit(**stream, work, pageable);
  });
}

// ---- memsets ----

template <typename T>
CUresult memset2D(const char* name, CUdeviceptr dst, std::size_t pitch, T value, std::size_t width,
                  std::size_t height, CUstream handle, bool async, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto stream = resolveStream(driver, handle, nullMeans);
    if (!stream) return fail(stream);
    auto rowBytes = cudaabi::checkedMul(width, sizeof(T));
    auto extent = rowBytes ? cudaabi::pitchedExtent(pitch, *rowBytes, height) : std::nullopt;
    if (dst % sizeof(T) != 0 || !extent || !cudaabi::checkedAdd(dst, *extent)) return CUDA_ERROR_INVALID_VALUE;
    auto kind = classify(driver, dst, *extent, true);
    if (!kind) return fail(kind);
    if (width == 0 || height == 0) return CUDA_SUCCESS;
    auto work = [dst, pitch, value, width, height] {
      for (std::size_t row = 0; row < height; ++row) {
        T* begin = reinterpret_cast<T*>(dst + row * pitch);
        std::fill(begin, begin + width, value);
      }
      return CUDA_SUCCESS;
    };
    return submit(**stream, work, !async);
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
  FASTGPU_SIM_EXPORT CUresult cuMemsetD2D##bits##Async(CUdeviceptr dst, size_t pitch, type value, size_t width,    \
                                                       size_t height, CUstream stream) {                            \
    return memset2D<type>("cuMemsetD2D" #bits "Async", dst, pitch, value, width, height, stream, true, kLegacy);    \
  }

FASTGPU_SIM_MEMSET(8, unsigned char)
FASTGPU_SIM_MEMSET(16, unsigned short)
FASTGPU_SIM_MEMSET(32, unsigned int)
