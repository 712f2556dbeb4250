// The rest of the surface cudasim implements: older and per-thread forms of calls defined in the
// other api_*.cpp files, and queries answered from local state.

#include "cudaabi/jit_inputs.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

// ---- older forms ----
FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device);
FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice device);
FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice device, unsigned int flags);
FASTGPU_REMOTE_EXPORT CUresult cuStreamDestroy_v2(CUstream stream);
FASTGPU_REMOTE_EXPORT CUresult cuEventDestroy_v2(CUevent event);
FASTGPU_REMOTE_EXPORT CUresult cuEventElapsedTime_v2(float* milliseconds, CUevent start, CUevent end);
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetFlags(CUstream stream, unsigned int* flags);
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetPriority(CUstream stream, int* priority);
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCtx(CUstream stream, CUcontext* context);
FASTGPU_REMOTE_EXPORT CUresult cuStreamSynchronize(CUstream stream);
FASTGPU_REMOTE_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream stream);
FASTGPU_REMOTE_EXPORT CUresult cuCtxGetDevice(CUdevice* device);
FASTGPU_REMOTE_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n);
FASTGPU_REMOTE_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s);
FASTGPU_REMOTE_EXPORT CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n);
FASTGPU_REMOTE_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s);
FASTGPU_REMOTE_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D* p);
FASTGPU_REMOTE_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                                   unsigned int bx, unsigned int by, unsigned int bz,
                                                   unsigned int shared, CUstream stream, void** params, void** extra);
FASTGPU_REMOTE_EXPORT CUresult cuModuleLoadData(CUmodule* module, const void* image);
FASTGPU_REMOTE_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** params,
                                                     void** extra);
FASTGPU_REMOTE_EXPORT CUresult cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option*, void**,
                                                 unsigned int, CUlibraryOption*, void**, unsigned int);
FASTGPU_REMOTE_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction f, int blockSize,
                                                                           size_t shared);
FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice ordinal);

namespace {

CUresult addCallback(CUstream stream, CUstreamCallback callback, void* data, unsigned flags, bool perThread) {
  if (callback == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  // As cuLaunchHostFunc: drain the stream, then call back here. TODO(perf)
  CUresult result = perThread ? cuStreamSynchronize_ptsz(stream) : cuStreamSynchronize(stream);
  callback(stream, result, data);
  return CUDA_SUCCESS;
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice device) { return cuDevicePrimaryCtxRelease_v2(device); }
FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice device) { return cuDevicePrimaryCtxReset_v2(device); }
FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxSetFlags(CUdevice device, unsigned int flags) {
  return cuDevicePrimaryCtxSetFlags_v2(device, flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamDestroy(CUstream stream) { return cuStreamDestroy_v2(stream); }
FASTGPU_REMOTE_EXPORT CUresult cuEventDestroy(CUevent event) { return cuEventDestroy_v2(event); }
FASTGPU_REMOTE_EXPORT CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
  return cuEventElapsedTime_v2(ms, start, end);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetFlags_ptsz(CUstream s, unsigned int* flags) {
  return cuStreamGetFlags(perThreadIfNull(s), flags);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetPriority_ptsz(CUstream s, int* priority) {
  return cuStreamGetPriority(perThreadIfNull(s), priority);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCtx_ptsz(CUstream s, CUcontext* context) {
  return cuStreamGetCtx(perThreadIfNull(s), context);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetDevice(CUstream s, CUdevice* device) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::uint64_t context = rt.currentContextId();
    if (idOf(s) > 2) {
      auto info = rt.stream(idOf(s));
      if (!info) return CUDA_ERROR_INVALID_HANDLE;
      context = info->context;
    }
    auto found = rt.contextDevice(context);
    if (!found) return CUDA_ERROR_INVALID_CONTEXT;
    *device = *found;
    return CUDA_SUCCESS;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetDevice_ptsz(CUstream s, CUdevice* device) {
  return cuStreamGetDevice(perThreadIfNull(s), device);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamAddCallback(CUstream s, CUstreamCallback callback, void* data, unsigned int flags) {
  return addCallback(s, callback, data, flags, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamAddCallback_ptsz(CUstream s, CUstreamCallback callback, void* data,
                                                        unsigned int flags) {
  return addCallback(s, callback, data, flags, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetDevice_v2(CUdevice* device, CUcontext context) {
  if (context == nullptr) return cuCtxGetDevice(device);
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto found = rt.contextDevice(idOf(context));
    if (!found) return CUDA_ERROR_INVALID_CONTEXT;
    *device = *found;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetCacheConfig(CUfunc_cache* config) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *config = CU_FUNC_CACHE_PREFER_NONE;
  return CUDA_SUCCESS;
}
FASTGPU_REMOTE_EXPORT CUresult cuCtxSetCacheConfig(CUfunc_cache config) {
  return config <= CU_FUNC_CACHE_PREFER_EQUAL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;  // a hint
}

// Compute capability 9.0 and newer: shared memory banks are 4 bytes, fixed.
FASTGPU_REMOTE_EXPORT CUresult cuCtxGetSharedMemConfig(CUsharedconfig* config) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (!rt.contextDevice(rt.currentContextId())) return CUDA_ERROR_INVALID_CONTEXT;
    if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *config = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE;
    return CUDA_SUCCESS;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuCtxSetSharedMemConfig(CUsharedconfig config) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (!rt.contextDevice(rt.currentContextId())) return CUDA_ERROR_INVALID_CONTEXT;
    return config <= CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  });
}
// A profiler attaches to the server's driver, not to this process: nothing to start or stop here.
FASTGPU_REMOTE_EXPORT CUresult cuProfilerStart() {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    return rt.contextDevice(rt.currentContextId()) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuProfilerStop() { return cuProfilerStart(); }

FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCtx_v2(CUstream stream, CUcontext* context, CUgreenCtx* green) {
  if (green != nullptr) *green = nullptr;  // no green contexts remotely
  return cuStreamGetCtx(stream, context);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCtx_v2_ptsz(CUstream stream, CUcontext* context, CUgreenCtx* green) {
  return cuStreamGetCtx_v2(perThreadIfNull(stream), context, green);
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetProperties(CUdevprop* p, CUdevice device) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  struct Field {
    int* into;
    CUdevice_attribute attribute;
  } fields[] = {{&p->maxThreadsPerBlock, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK},
                {&p->maxThreadsDim[0], CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X},
                {&p->maxThreadsDim[1], CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y},
                {&p->maxThreadsDim[2], CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z},
                {&p->maxGridSize[0], CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X},
                {&p->maxGridSize[1], CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y},
                {&p->maxGridSize[2], CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z},
                {&p->sharedMemPerBlock, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK},
                {&p->totalConstantMemory, CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY},
                {&p->SIMDWidth, CU_DEVICE_ATTRIBUTE_WARP_SIZE},
                {&p->memPitch, CU_DEVICE_ATTRIBUTE_MAX_PITCH},
                {&p->regsPerBlock, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK},
                {&p->clockRate, CU_DEVICE_ATTRIBUTE_CLOCK_RATE},
                {&p->textureAlign, CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT}};
  for (const auto& field : fields) {
    if (CUresult result = cuDeviceGetAttribute(field.into, field.attribute, device); result != CUDA_SUCCESS) return result;
  }
  return CUDA_SUCCESS;
}

FASTGPU_REMOTE_EXPORT CUresult cuFuncGetModule(CUmodule* module, CUfunction f) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto owner = rt.ownerOf(idOf(f));
    if (!owner) return CUDA_ERROR_INVALID_HANDLE;
    *module = handleOf<CUmodule>(*owner);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuFuncIsLoaded(CUfunctionLoadingState* state, CUfunction f) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (state == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (rt.layout(idOf(f)) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    *state = CU_FUNCTION_LOADING_STATE_LOADED;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuFuncLoad(CUfunction f) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    return rt.layout(idOf(f)) == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuModuleGetFunctionCount(unsigned int* count, CUmodule module) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *count = static_cast<unsigned>(rt.kernelCount(idOf(module)));
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuLibraryGetKernelCount(unsigned int* count, CUlibrary library) {
  return cuModuleGetFunctionCount(count, handleOf<CUmodule>(idOf(library)));
}

FASTGPU_REMOTE_EXPORT CUresult cuModuleLoad(CUmodule* module, const char* path) {
  auto bytes = cudaabi::readFileWithNul(path);
  if (!bytes) return bytes.code();
  return cuModuleLoadData(module, bytes->data());
}

FASTGPU_REMOTE_EXPORT CUresult cuLibraryLoadFromFile(CUlibrary* library, const char* path, CUjit_option* options,
                                                     void** values, unsigned int count, CUlibraryOption* libraryOptions,
                                                     void** libraryValues, unsigned int libraryCount) {
  auto bytes = cudaabi::readFileWithNul(path);
  if (!bytes) return bytes.code();
  return cuLibraryLoadData(library, bytes->data(), options, values, count, libraryOptions, libraryValues, libraryCount);
}

FASTGPU_REMOTE_EXPORT CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext, CUdeviceptr src, CUcontext, size_t n) {
  return cuMemcpyDtoD_v2(dst, src, n);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext, CUdeviceptr src, CUcontext, size_t n,
                                                 CUstream s) {
  return cuMemcpyDtoDAsync_v2(dst, src, n, s);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpyPeer_ptds(CUdeviceptr dst, CUcontext, CUdeviceptr src, CUcontext, size_t n) {
  return cuMemcpyDtoD_v2_ptds(dst, src, n);
}
FASTGPU_REMOTE_EXPORT CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dst, CUcontext, CUdeviceptr src, CUcontext,
                                                      size_t n, CUstream s) {
  return cuMemcpyDtoDAsync_v2_ptsz(dst, src, n, s);
}

FASTGPU_REMOTE_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                                              unsigned int gz, unsigned int bx, unsigned int by,
                                                              unsigned int bz, unsigned int shared, CUstream stream,
                                                              void** params) {
  CUlaunchAttribute cooperative{};
  cooperative.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
  cooperative.value.cooperative = 1;
  CUlaunchConfig config{gx, gy, gz, bx, by, bz, shared, stream, &cooperative, 1};
  return cuLaunchKernelEx_ptsz(&config, f, params, nullptr);
}

FASTGPU_REMOTE_EXPORT CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int* minGridSize, int* blockSize, CUfunction f,
                                                                         CUoccupancyB2DSize sharedForBlock,
                                                                         size_t dynamicShared, int blockSizeLimit,
                                                                         unsigned int) {
  if (minGridSize == nullptr || blockSize == nullptr) return CUDA_ERROR_INVALID_VALUE;
  int multiprocessors = 0;
  if (CUresult result = cuDeviceGetAttribute(&multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0);
      result != CUDA_SUCCESS) {
    return result;
  }
  int limit = blockSizeLimit > 0 ? std::min(blockSizeLimit, 1024) : 1024;
  int best = 32, bestThreads = -1, bestBlocks = 0;
  // One query per candidate: rare, and the server's driver knows the function's real limits.
  for (int size = 32; size <= limit; size += 32) {
    int blocks = 0;
    std::size_t shared = sharedForBlock != nullptr ? sharedForBlock(size) : dynamicShared;
    if (CUresult result = cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, size, shared); result != CUDA_SUCCESS) {
      return result;
    }
    if (blocks * size >= bestThreads) {
      bestThreads = blocks * size;
      best = size;
      bestBlocks = blocks;
    }
  }
  *blockSize = best;
  *minGridSize = bestBlocks * multiprocessors;
  return CUDA_SUCCESS;
}

FASTGPU_REMOTE_EXPORT CUresult cuOccupancyMaxPotentialBlockSize(int* minGridSize, int* blockSize, CUfunction f,
                                                                CUoccupancyB2DSize sharedForBlock, size_t dynamicShared,
                                                                int blockSizeLimit) {
  return cuOccupancyMaxPotentialBlockSizeWithFlags(minGridSize, blockSize, f, sharedForBlock, dynamicShared,
                                                   blockSizeLimit, 0);
}
