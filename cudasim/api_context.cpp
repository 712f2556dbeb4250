// Contexts: primary context retain/release/state/reset, create/destroy, the per-thread current
// context stack, synchronization, and context queries.
#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

constexpr unsigned kSchedMask = CU_CTX_SCHED_MASK;
constexpr unsigned kKnownContextFlags = CU_CTX_SCHED_MASK | CU_CTX_MAP_HOST | CU_CTX_LMEM_RESIZE_TO_MAX |
                                        CU_CTX_COREDUMP_ENABLE | CU_CTX_USER_COREDUMP_ENABLE | CU_CTX_SYNC_MEMOPS;

bool validContextFlags(unsigned flags) {
  if ((flags & ~kKnownContextFlags) != 0) return false;
  unsigned sched = flags & kSchedMask;
  return sched == CU_CTX_SCHED_AUTO || sched == CU_CTX_SCHED_SPIN || sched == CU_CTX_SCHED_YIELD ||
         sched == CU_CTX_SCHED_BLOCKING_SYNC;
}

// Runs `body` with the current context (CUDA_ERROR_INVALID_CONTEXT without one). Questions about
// the context are answered even after a sticky error; cuCtxSynchronize reports it.
template <typename Body>
CUresult withCurrentContext(const char* name, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto context = driver.activeContext();
    if (!context) return CUDA_ERROR_INVALID_CONTEXT;
    return body(driver, *context);
  });
}

CUresult createContext(CUcontext* handle, unsigned flags, CUdevice ordinal) {
  return driverEntry("cuCtxCreate", [&](Driver& driver) {
    if (handle == nullptr || !validContextFlags(flags)) return CUDA_ERROR_INVALID_VALUE;
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    auto context = driver.createContext(*device, flags, false);
    currentContextStack().push_back(context->handle());
    *handle = toHandle<CUcontext>(context->handle());
    return CUDA_SUCCESS;
  });
}

}  // namespace

// ---- primary contexts ----

FASTGPU_SIM_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* handle, CUdevice ordinal) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    auto context = driver.retainPrimary(*device);
    if (!context) return fail(context);
    *handle = toHandle<CUcontext>((*context)->handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice ordinal) {
  return driverEntry(__func__, [&](Driver& driver) {
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    return fail(driver.releasePrimary(*device));
  });
}

FASTGPU_SIM_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice ordinal) { return cuDevicePrimaryCtxRelease_v2(ordinal); }

FASTGPU_SIM_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice ordinal) {
  return driverEntry(__func__, [&](Driver& driver) {
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    driver.resetPrimary(*device);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice ordinal) { return cuDevicePrimaryCtxReset_v2(ordinal); }

FASTGPU_SIM_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice ordinal, unsigned int* flags, int* active) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard lock(device->primaryMutex());
    *flags = device->primary().flags;
    *active = device->primary().context ? 1 : 0;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice ordinal, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (!validContextFlags(flags)) return CUDA_ERROR_INVALID_VALUE;
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard lock(device->primaryMutex());
    device->primary().flags = flags;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDevicePrimaryCtxSetFlags(CUdevice ordinal, unsigned int flags) {
  return cuDevicePrimaryCtxSetFlags_v2(ordinal, flags);
}

// ---- created contexts ----

FASTGPU_SIM_EXPORT CUresult cuCtxCreate_v2(CUcontext* handle, unsigned int flags, CUdevice ordinal) {
  return createContext(handle, flags, ordinal);
}

FASTGPU_SIM_EXPORT CUresult cuCtxCreate_v4(CUcontext* handle, CUctxCreateParams* params, unsigned int flags,
                                           CUdevice ordinal) {
  // Execution affinity and CIG parameters are not simulated.
  if (params != nullptr && (params->execAffinityParams != nullptr || params->cigParams != nullptr)) {
    return cudaabi::reportNotSupported("cuCtxCreate_v4 with execution affinity or CIG parameters");
  }
  return createContext(handle, flags, ordinal);
}

FASTGPU_SIM_EXPORT CUresult cuCtxDestroy_v2(CUcontext handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.findContext(handle);
    if (!context) return CUDA_ERROR_INVALID_CONTEXT;
    if (context->isPrimary()) return CUDA_ERROR_INVALID_CONTEXT;
    auto& stack = currentContextStack();
    std::erase(stack, context->handle());
    driver.destroyContext(context);
    driver.deviceOutput().flush();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (!driver.findContext(handle)) return CUDA_ERROR_INVALID_CONTEXT;
    currentContextStack().push_back(reinterpret_cast<std::uintptr_t>(handle));
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext* handle) {
  return driverEntry(__func__, [&](Driver&) {
    auto& stack = currentContextStack();
    if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
    if (handle != nullptr) *handle = toHandle<CUcontext>(stack.back());
    stack.pop_back();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxSetCurrent(CUcontext handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto& stack = currentContextStack();
    if (handle == nullptr) {
      if (!stack.empty()) stack.pop_back();
      return CUDA_SUCCESS;
    }
    if (!driver.findContext(handle)) return CUDA_ERROR_INVALID_CONTEXT;
    if (stack.empty()) stack.push_back(reinterpret_cast<std::uintptr_t>(handle));
    else stack.back() = reinterpret_cast<std::uintptr_t>(handle);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxGetCurrent(CUcontext* handle) {
  return driverEntry(__func__, [&](Driver&) {
    if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto& stack = currentContextStack();
    *handle = stack.empty() ? nullptr : toHandle<CUcontext>(stack.back());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxGetDevice(CUdevice* device) {
  return withCurrentContext(__func__, [&](Driver&, Context& context) {
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *device = context.device().ordinal();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxGetDevice_v2(CUdevice* device, CUcontext handle) {
  if (handle == nullptr) return cuCtxGetDevice(device);
  return driverEntry(__func__, [&](Driver& driver) {
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto context = driver.findContext(handle);
    if (!context) return CUDA_ERROR_INVALID_CONTEXT;
    *device = context->device().ordinal();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxGetFlags(unsigned int* flags) {
  return withCurrentContext(__func__, [&](Driver&, Context& context) {
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *flags = context.flags();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxGetId(CUcontext handle, unsigned long long* id) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto context = handle == nullptr ? driver.activeContext() : driver.findContext(handle);
    if (!context) return CUDA_ERROR_INVALID_CONTEXT;
    *id = context->handle() & 0xffffffffffULL;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxGetApiVersion(CUcontext handle, unsigned int* version) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto context = handle == nullptr ? driver.activeContext() : driver.findContext(handle);
    if (!context) return CUDA_ERROR_INVALID_CONTEXT;
    *version = 3020;  // the context API version of every context made by a CUDA 3.2+ driver
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxSynchronize() {
  return withCurrentContext(__func__, [&](Driver& driver, Context& context) {
    if (Status status = driver.captures().checkContextSynchronize(context); !status) return fail(status);
    context.synchronize();
    driver.synchronized();
    return asyncError(context);
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxSynchronize_v2(CUcontext handle) {
  if (handle == nullptr) return cuCtxSynchronize();
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.findContext(handle);
    if (!context) return CUDA_ERROR_INVALID_CONTEXT;
    if (Status status = driver.captures().checkContextSynchronize(*context); !status) return fail(status);
    context->synchronize();
    driver.synchronized();
    return asyncError(*context);
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxGetLimit(size_t* value, CUlimit limit) {
  return withCurrentContext(__func__, [&](Driver&, Context& context) {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto result = context.limit(limit);
    if (!result) return fail(result);
    *value = *result;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
  return withCurrentContext(__func__, [&](Driver&, Context& context) { return fail(context.setLimit(limit, value)); });
}

FASTGPU_SIM_EXPORT CUresult cuCtxGetStreamPriorityRange(int* leastPriority, int* greatestPriority) {
  return withCurrentContext(__func__, [&](Driver&, Context&) {
    if (leastPriority != nullptr) *leastPriority = kLeastStreamPriority;
    if (greatestPriority != nullptr) *greatestPriority = kGreatestStreamPriority;
    return CUDA_SUCCESS;
  });
}

namespace {

// Context settings cudasim keeps fixed (the cache preference; the shared memory bank width, which
// is 4 bytes on compute capability 9.0): the getter answers `fixed`; the setter accepts any valid
// value, up to `largest`, and changes nothing, as on the device.
template <typename Setting>
CUresult getFixedSetting(const char* name, Setting* out, Setting fixed) {
  return withCurrentContext(name, [&](Driver&, Context&) {
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *out = fixed;
    return CUDA_SUCCESS;
  });
}
template <typename Setting>
CUresult setFixedSetting(const char* name, Setting value, Setting largest) {
  return withCurrentContext(name, [&](Driver&, Context&) {
    return value <= largest ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuCtxGetCacheConfig(CUfunc_cache* config) {
  return getFixedSetting(__func__, config, CU_FUNC_CACHE_PREFER_NONE);
}
FASTGPU_SIM_EXPORT CUresult cuCtxSetCacheConfig(CUfunc_cache config) {
  return setFixedSetting(__func__, config, CU_FUNC_CACHE_PREFER_EQUAL);
}
FASTGPU_SIM_EXPORT CUresult cuCtxGetSharedMemConfig(CUsharedconfig* config) {
  return getFixedSetting(__func__, config, CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE);
}
FASTGPU_SIM_EXPORT CUresult cuCtxSetSharedMemConfig(CUsharedconfig config) {
  return setFixedSetting(__func__, config, CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE);
}

// No profiler is attached to cudasim: starting and stopping collection changes nothing, as with
// the driver when no profiler runs.
FASTGPU_SIM_EXPORT CUresult cuProfilerStart() {
  return withCurrentContext(__func__, [](Driver&, Context&) { return CUDA_SUCCESS; });
}
FASTGPU_SIM_EXPORT CUresult cuProfilerStop() { return cuProfilerStart(); }  // the same nothing, the same check

// Peer access: a context may use the memory of a context on another device once it enabled it
// (cudasim's devices share one address space, so nothing else changes).
FASTGPU_SIM_EXPORT CUresult cuCtxEnablePeerAccess(CUcontext peerHandle, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    auto peer = driver.findContext(peerHandle);
    if (!peer) return CUDA_ERROR_INVALID_CONTEXT;
    if (&peer->device() == &(*context)->device()) return CUDA_ERROR_INVALID_DEVICE;
    return fail((*context)->enablePeer(peer->handle()));
  });
}

FASTGPU_SIM_EXPORT CUresult cuCtxDisablePeerAccess(CUcontext peerHandle) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    auto peer = driver.findContext(peerHandle);
    if (!peer) return CUDA_ERROR_INVALID_CONTEXT;
    return fail((*context)->disablePeer(peer->handle()));
  });
}
