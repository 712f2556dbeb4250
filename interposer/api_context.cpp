// Contexts. The current context is per thread and kept on the client; every call carries its
// id, so push/pop/set/get cost no round trip.
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace fastgpu::interposer {

CUresult retainPrimaryContext(CUcontext* context, CUdevice device) {
  return remoteEntry("cuDevicePrimaryCtxRetain", [&](Runtime& rt, Client& client) {
    if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (device < 0 || device >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    CallMessage call(rt.currentContextId());
    call->setPrimaryRetain(device);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    rt.addContext(id, device);
    *context = handleOf<CUcontext>(id);
    return CUDA_SUCCESS;
  });
}

}  // namespace fastgpu::interposer

namespace {

CUresult createContext(CUcontext* context, unsigned flags, CUdevice device) {
  return remoteEntry("cuCtxCreate", [&](Runtime& rt, Client& client) {
    if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (device < 0 || device >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    CallMessage call(rt.currentContextId());
    auto create = call->initContextCreate();
    create.setDevice(device);
    create.setFlags(flags);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    rt.addContext(id, device);
    rt.contextStack().push_back(id);
    *context = handleOf<CUcontext>(id);
    return CUDA_SUCCESS;
  });
}

// Calls that take a device and only report their result.
template <typename Set>
CUresult primaryCall(const char* name, CUdevice device, bool waitForAnswer, Set&& set) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (device < 0 || device >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    CallMessage call(rt.currentContextId());
    set(call.call());
    if (!waitForAnswer) {
      post(client, call);
      return CUDA_SUCCESS;
    }
    return askResult(client, call);
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device) {
  return retainPrimaryContext(context, device);
}

FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  // Answered, not posted: releasing a context that is not retained is an error the caller sees.
  return primaryCall(__func__, device, true, [&](wire::Call::Builder call) { call.setPrimaryRelease(device); });
}

FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice device) {
  return primaryCall(__func__, device, true, [&](wire::Call::Builder call) { call.setPrimaryReset(device); });
}

FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice device, unsigned int flags) {
  return primaryCall(__func__, device, false, [&](wire::Call::Builder call) {
    auto set = call.initPrimarySetFlags();
    set.setDevice(device);
    set.setFlags(flags);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice device, unsigned int* flags, int* active) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (device < 0 || device >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    CallMessage call(rt.currentContextId());
    call->setPrimaryGetState(device);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    *flags = values.size() > 0 ? static_cast<unsigned>(values[0]) : 0;
    *active = values.size() > 1 ? static_cast<int>(values[1]) : 0;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxCreate_v2(CUcontext* context, unsigned int flags, CUdevice device) {
  return createContext(context, flags, device);
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxCreate_v4(CUcontext* context, CUctxCreateParams* params, unsigned int flags,
                                              CUdevice device) {
  if (params != nullptr && (params->execAffinityParams != nullptr || params->cigParams != nullptr)) {
    return cudaabi::reportNotSupported("cuCtxCreate_v4 with execution affinity or CIG parameters");
  }
  return createContext(context, flags, device);
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxDestroy_v2(CUcontext context) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    call->setContextDestroy(idOf(context));
    CUresult result = askResult(client, call);
    if (result == CUDA_SUCCESS) {
      rt.removeContext(idOf(context));
      std::erase(rt.contextStack(), idOf(context));
    }
    return result;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext context) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (!rt.contextDevice(idOf(context))) return CUDA_ERROR_INVALID_CONTEXT;
    rt.contextStack().push_back(idOf(context));
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext* context) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    auto& stack = rt.contextStack();
    if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
    if (context != nullptr) *context = handleOf<CUcontext>(stack.back());
    stack.pop_back();
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxSetCurrent(CUcontext context) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    auto& stack = rt.contextStack();
    if (context == nullptr) {
      if (!stack.empty()) stack.pop_back();
      return CUDA_SUCCESS;
    }
    if (!rt.contextDevice(idOf(context))) return CUDA_ERROR_INVALID_CONTEXT;
    if (stack.empty()) stack.push_back(idOf(context));
    else stack.back() = idOf(context);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetCurrent(CUcontext* context) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *context = handleOf<CUcontext>(rt.currentContextId());
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetDevice(CUdevice* device) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto found = rt.contextDevice(rt.currentContextId());
    if (!found) return CUDA_ERROR_INVALID_CONTEXT;
    *device = *found;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetFlags(unsigned int* flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (!rt.contextDevice(rt.currentContextId())) return CUDA_ERROR_INVALID_CONTEXT;
    *flags = 0;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetApiVersion(CUcontext context, unsigned int* version) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::uint64_t id = context == nullptr ? rt.currentContextId() : idOf(context);
    if (!rt.contextDevice(id)) return CUDA_ERROR_INVALID_CONTEXT;
    *version = 3020;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetId(CUcontext context, unsigned long long* id) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::uint64_t which = context == nullptr ? rt.currentContextId() : idOf(context);
    if (!rt.contextDevice(which)) return CUDA_ERROR_INVALID_CONTEXT;
    *id = which;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxSynchronize() {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CUresult refused = rt.captures().contextSynchronizing(rt.currentContextId());
    if (refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    call->setContextSynchronize(0);
    return askResult(client, call, true);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxSynchronize_v2(CUcontext context) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CUresult refused = rt.captures().contextSynchronizing(context != nullptr ? idOf(context) : rt.currentContextId());
    if (refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    call->setContextSynchronize(idOf(context));
    return askResult(client, call, true);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetLimit(size_t* value, CUlimit limit) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setGetLimit(limit);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    *value = values.empty() ? 0 : static_cast<std::size_t>(values[0]);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    auto set = call->initSetLimit();
    set.setLimit(limit);
    set.setValue(value);
    return askResult(client, call);  // a limit past the quota is refused at the call
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    call->setStreamPriorityRange();
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (least != nullptr && values.size() > 0) *least = static_cast<int>(values[0]);
    if (greatest != nullptr && values.size() > 1) *greatest = static_cast<int>(values[1]);
    return CUDA_SUCCESS;
  });
}

// Peer access between two contexts of the session (on GPUs of the same server).
namespace {

CUresult peerAccess(const char* name, CUcontext peer, bool enable) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (rt.currentContextId() == 0) return CUDA_ERROR_INVALID_CONTEXT;
    CallMessage call(rt.currentContextId());
    auto access = call->initPeerAccess();
    access.setPeer(idOf(peer));
    access.setEnable(enable);
    return askResult(client, call);
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuCtxEnablePeerAccess(CUcontext peer, unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return peerAccess(__func__, peer, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuCtxDisablePeerAccess(CUcontext peer) { return peerAccess(__func__, peer, false); }
