// Initialization, versions and device queries.
#include <cstring>

#include <fmt/format.h>

#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

template <typename Body>
CUresult withDevice(const char* name, CUdevice ordinal, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    Device* device = driver.device(ordinal);
    if (device == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    return body(driver, *device);
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return Driver::initialize();
}

FASTGPU_SIM_EXPORT CUresult cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = kDriverVersion;
  return CUDA_SUCCESS;
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetCount(int* count) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *count = driver.deviceCount();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (driver.device(ordinal) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    *device = ordinal;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetName(char* name, int length, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](Driver&, Device& device) {
    if (name == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
    auto copied = std::min(device.name().size(), static_cast<std::size_t>(length - 1));
    std::memcpy(name, device.name().data(), copied);
    name[copied] = '\0';
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](Driver&, Device& device) {
    if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *uuid = device.uuid();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice ordinal) { return cuDeviceGetUuid_v2(uuid, ordinal); }

FASTGPU_SIM_EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](Driver&, Device& device) {
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *bytes = device.memory().capacity();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](Driver&, Device& device) {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto result = device.attribute(attribute);
    if (!result) return fail(result);
    *value = *result;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetTexture1DLinearMaxWidth(size_t* elements, CUarray_format format,
                                                               unsigned channels, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](Driver&, Device&) {
    // The element formats of linear textures (the block-compressed, video and normalized packed
    // formats are for arrays); one, two or four channels.
    bool linearFormat = format == CU_AD_FORMAT_UNSIGNED_INT8 || format == CU_AD_FORMAT_UNSIGNED_INT16 ||
                        format == CU_AD_FORMAT_UNSIGNED_INT32 || format == CU_AD_FORMAT_SIGNED_INT8 ||
                        format == CU_AD_FORMAT_SIGNED_INT16 || format == CU_AD_FORMAT_SIGNED_INT32 ||
                        format == CU_AD_FORMAT_HALF || format == CU_AD_FORMAT_FLOAT;
    if (elements == nullptr || !linearFormat || (channels != 1 && channels != 2 && channels != 4)) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    *elements = kTexture1DLinearMaxWidth;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](Driver&, Device&) {
    if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *major = 9;
    *minor = 0;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetPCIBusId(char* busId, int length, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](Driver&, Device& device) {
    if (busId == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
    std::string id = fmt::format("0000:{:02x}:00.0", device.pciBus());
    auto copied = std::min(id.size(), static_cast<std::size_t>(length - 1));
    std::memcpy(busId, id.data(), copied);
    busId[copied] = '\0';
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetByPCIBusId(CUdevice* device, const char* busId) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (device == nullptr || busId == nullptr) return CUDA_ERROR_INVALID_VALUE;
    unsigned domain = 0, bus = 0, slot = 0, function = 0;
    if (std::sscanf(busId, "%x:%x:%x.%x", &domain, &bus, &slot, &function) < 3 &&
        std::sscanf(busId, "%x:%x.%x", &bus, &slot, &function) < 2) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    for (int ordinal = 0; ordinal < driver.deviceCount(); ++ordinal) {
      if (domain == 0 && slot == 0 && static_cast<int>(bus) == driver.device(ordinal)->pciBus()) {
        *device = ordinal;
        return CUDA_SUCCESS;
      }
    }
    return CUDA_ERROR_INVALID_DEVICE;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceGetProperties(CUdevprop* properties, CUdevice ordinal) {
  return withDevice(__func__, ordinal, [&](Driver&, Device& device) {
    if (properties == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto get = [&](CUdevice_attribute attribute) { return *device.attribute(attribute); };
    properties->maxThreadsPerBlock = get(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    properties->maxThreadsDim[0] = get(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X);
    properties->maxThreadsDim[1] = get(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y);
    properties->maxThreadsDim[2] = get(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z);
    properties->maxGridSize[0] = get(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X);
    properties->maxGridSize[1] = get(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y);
    properties->maxGridSize[2] = get(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z);
    properties->sharedMemPerBlock = get(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    properties->totalConstantMemory = get(CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY);
    properties->SIMDWidth = get(CU_DEVICE_ATTRIBUTE_WARP_SIZE);
    properties->memPitch = get(CU_DEVICE_ATTRIBUTE_MAX_PITCH);
    properties->regsPerBlock = get(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK);
    properties->clockRate = get(CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
    properties->textureAlign = get(CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuDeviceCanAccessPeer(int* canAccess, CUdevice ordinal, CUdevice peer) {
  return withDevice(__func__, ordinal, [&](Driver& driver, Device&) {
    if (canAccess == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (driver.device(peer) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    *canAccess = peer != ordinal ? 1 : 0;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}

// Between two distinct simulated devices: access and native atomics (one address space), no CUDA
// arrays (not simulated), rank 0.
FASTGPU_SIM_EXPORT CUresult cuDeviceGetP2PAttribute(int* value, CUdevice_P2PAttribute attribute, CUdevice source,
                                                    CUdevice destination) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (driver.device(source) == nullptr || driver.device(destination) == nullptr || source == destination) {
      return CUDA_ERROR_INVALID_DEVICE;
    }
    switch (attribute) {
      case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK: *value = 0; return CUDA_SUCCESS;
      case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED: *value = 1; return CUDA_SUCCESS;
      case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED: *value = 1; return CUDA_SUCCESS;
      case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED: *value = 0; return CUDA_SUCCESS;
      case CU_DEVICE_P2P_ATTRIBUTE_ONLY_PARTIAL_NATIVE_ATOMIC_SUPPORTED: *value = 0; return CUDA_SUCCESS;
      default: return CUDA_ERROR_INVALID_VALUE;
    }
  });
}
