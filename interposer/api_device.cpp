// Initialization and device queries: everything but cuInit is answered from the server's
// welcome, without a round trip.
#include <cstring>

#include "cudaabi/honest_attributes.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

template <typename Body>
CUresult withDevice(const char* name, CUdevice ordinal, Body&& body) {
  return remoteEntry(name, [&](Runtime& rt, Client&) -> CUresult {
    if (ordinal < 0 || ordinal >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    return body(rt.device(ordinal));
  });
}

CUresult copyText(const char* text, char* out, int length) {
  if (out == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::size_t copied = std::min(std::strlen(text), static_cast<std::size_t>(length - 1));
  std::memcpy(out, text, copied);
  out[copied] = '\0';
  return CUDA_SUCCESS;
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  try {
    return runtime().initialize();
  } catch (...) {
    return CUDA_ERROR_NOT_INITIALIZED;
  }
}

FASTGPU_REMOTE_EXPORT CUresult cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;  // what the client's runtime expects; the server's is in the welcome
  return CUDA_SUCCESS;
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetCount(int* count) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *count = rt.deviceCount();
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  return withDevice(__func__, ordinal, [&](const RemoteDevice&) {
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *device = ordinal;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetName(char* name, int length, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](const RemoteDevice& info) { return copyText(info.name.c_str(), name, length); });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](const RemoteDevice& info) {
    if (uuid == nullptr || !info.hasUuid) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(uuid->bytes, info.uuid.data(), info.uuid.size());
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice ordinal) { return cuDeviceGetUuid_v2(uuid, ordinal); }

FASTGPU_REMOTE_EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](const RemoteDevice& info) {
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *bytes = info.totalMemory;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice ordinal) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (ordinal < 0 || ordinal >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    const std::vector<std::int32_t>& attributes = rt.device(ordinal).attributes;
    if (value == nullptr || attribute <= 0 || static_cast<unsigned>(attribute) >= attributes.size()) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    // The server answers for a session with shared host memory as it offers it; a client that
    // stayed on its connection (it could not join the rendezvous) has none.
    *value = cudaabi::remoteSessionAttribute(attribute, attributes[static_cast<unsigned>(attribute)],
                                             client.sharedHeap() != nullptr);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice ordinal) {
  if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuDeviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, ordinal);
  return result == CUDA_SUCCESS ? cuDeviceGetAttribute(minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, ordinal) : result;
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetPCIBusId(char* busId, int length, CUdevice ordinal) {
  return withDevice(__func__, ordinal,
                    [&](const RemoteDevice& info) { return copyText(info.pciBusId.c_str(), busId, length); });
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetByPCIBusId(CUdevice* device, const char* busId) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (device == nullptr || busId == nullptr) return CUDA_ERROR_INVALID_VALUE;
    for (int ordinal = 0; ordinal < rt.deviceCount(); ++ordinal) {
      if (strcasecmp(rt.device(ordinal).pciBusId.c_str(), busId) == 0) {
        *device = ordinal;
        return CUDA_SUCCESS;
      }
    }
    return CUDA_ERROR_INVALID_DEVICE;
  });
}

namespace {

// Peer questions are the server's driver's (the GPUs behind the session's devices); -1: whether
// `ordinal` can access `peer` at all.
CUresult peerQuery(const char* name, int* value, int attribute, CUdevice ordinal, CUdevice peer) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal < 0 || ordinal >= rt.deviceCount() || peer < 0 || peer >= rt.deviceCount()) {
      return CUDA_ERROR_INVALID_DEVICE;
    }
    CallMessage call(rt.currentContextId());
    auto query = call->initPeerQuery();
    query.setDevice(ordinal);
    query.setPeer(peer);
    query.setAttribute(attribute);
    return askValue(client, call, value);
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuDeviceCanAccessPeer(int* canAccess, CUdevice ordinal, CUdevice peer) {
  return peerQuery(__func__, canAccess, -1, ordinal, peer);
}

FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetP2PAttribute(int* value, CUdevice_P2PAttribute attribute, CUdevice source,
                                                       CUdevice destination) {
  return peerQuery(__func__, value, static_cast<int>(attribute), source, destination);
}

// The server's driver knows its GPU's texture limits: one round trip (a rare question).
FASTGPU_REMOTE_EXPORT CUresult cuDeviceGetTexture1DLinearMaxWidth(size_t* elements, CUarray_format format,
                                                                  unsigned channels, CUdevice ordinal) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (elements == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal < 0 || ordinal >= rt.deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    CallMessage call(rt.currentContextId());
    auto query = call->initTexture1DLinearMaxWidth();
    query.setDevice(ordinal);
    query.setFormat(static_cast<std::uint32_t>(format));
    query.setChannels(channels);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.size() != 1) return CUDA_ERROR_UNKNOWN;
    *elements = static_cast<std::size_t>(values[0]);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}
