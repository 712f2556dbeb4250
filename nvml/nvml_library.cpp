// FastGPU's libnvidia-ml.so.1: NVML answered from the program's FastGPU session, so that a
// framework asking NVML (torch.cuda.device_count, OOM messages, vLLM, NCCL) sees the vGPU and not
// the client machine's own GPUs. Device queries come from FastGPU's driver library in the same
// process (session_driver.h); memory, utilization and processes from the server's view of the
// vGPU. What NVML offers beyond this returns NVML_ERROR_NOT_SUPPORTED (unsupported_functions.cpp).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "cudaabi/gpu_uuid_text.h"
#include "nvml/nvml_api.h"
#include "nvml/nvml_export.h"
#include "nvml/session_driver.h"

namespace fastgpu::nvml {
namespace {

constexpr int kMaxDevices = 64;
constexpr unsigned kNoMigInstance = 0xFFFFFFFFu;

}  // namespace
}  // namespace fastgpu::nvml

// A handle is the address of one of these; it names a device ordinal of the session.
struct nvmlDevice_st {
  int ordinal = 0;
};

namespace fastgpu::nvml {
namespace {

struct Library {
  std::mutex mutex;
  int initCount = 0;
  bool opened = false;
  SessionDriver driver;
  nvmlDevice_st devices[kMaxDevices];
  // Utilization is GPU time over wall time since the previous sample of the device (or nvmlInit).
  struct Sample {
    std::uint64_t gpuNanos = 0;
    std::uint64_t atNanos = 0;
  };
  Sample samples[kMaxDevices];
};

Library& library() {
  static Library* state = new Library();  // never destroyed: programs call NVML from exit handlers too
  return *state;
}

nvmlReturn_t fromCuda(CUresult result) {
  switch (result) {
    case CUDA_SUCCESS:
      return NVML_SUCCESS;
    case CUDA_ERROR_INVALID_VALUE:
    case CUDA_ERROR_INVALID_DEVICE:
      return NVML_ERROR_INVALID_ARGUMENT;
    case CUDA_ERROR_NOT_INITIALIZED:
    case CUDA_ERROR_DEINITIALIZED:
      return NVML_ERROR_UNINITIALIZED;
    case CUDA_ERROR_NOT_SUPPORTED:
      return NVML_ERROR_NOT_SUPPORTED;
    case CUDA_ERROR_OUT_OF_MEMORY:
      return NVML_ERROR_MEMORY;
    default:
      return NVML_ERROR_UNKNOWN;
  }
}

// Runs `body` with the library locked and initialized.
template <typename Body>
nvmlReturn_t withLibrary(Body&& body) {
  Library& lib = library();
  std::lock_guard lock(lib.mutex);
  if (lib.initCount == 0) return NVML_ERROR_UNINITIALIZED;
  return body(lib);
}

int deviceCount(const Library& lib) { return std::min(lib.driver.deviceCount(), kMaxDevices); }

// Runs `body` with the library initialized and `device` one of the session's.
template <typename Body>
nvmlReturn_t withDevice(nvmlDevice_t device, Body&& body) {
  return withLibrary([&](Library& lib) {
    auto* first = &lib.devices[0];
    if (device < first || device >= first + deviceCount(lib)) return NVML_ERROR_INVALID_ARGUMENT;
    return body(lib, device->ordinal);
  });
}

// The first of the session's devices `matches` (an ordinal), into `device`; NOT_FOUND if none.
template <typename Matches>
nvmlReturn_t findDevice(nvmlDevice_t* device, Matches&& matches) {
  return withLibrary([&](Library& lib) {
    for (int i = 0; i < deviceCount(lib); ++i) {
      if (matches(lib, i)) {
        *device = &lib.devices[i];
        return NVML_SUCCESS;
      }
    }
    return NVML_ERROR_NOT_FOUND;
  });
}

nvmlReturn_t initialize(unsigned flags) {
  Library& lib = library();
  std::lock_guard lock(lib.mutex);
  if (!lib.opened) {
    CUresult result = lib.driver.open();
    if (result != CUDA_SUCCESS && !(result == CUDA_ERROR_NO_DEVICE && (flags & NVML_INIT_FLAG_NO_GPUS) != 0)) {
      return NVML_ERROR_DRIVER_NOT_LOADED;
    }
    for (int i = 0; i < kMaxDevices; ++i) lib.devices[i].ordinal = i;
    lib.opened = true;
  }
  if (lib.initCount == 0) {  // the first sample of each device, for utilization
    for (int i = 0; i < deviceCount(lib); ++i) {
      cudaabi::VgpuStatus status;
      if (lib.driver.status(i, status) == CUDA_SUCCESS) lib.samples[i] = {status.gpuNanos, status.atNanos};
    }
  }
  ++lib.initCount;
  return NVML_SUCCESS;
}

// Copies `text` with its NUL into a caller's buffer of `length` bytes.
nvmlReturn_t copyOut(const std::string& text, char* out, unsigned length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (text.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return NVML_SUCCESS;
}

nvmlReturn_t pciInfo(const SessionDriver& driver, int ordinal, nvmlPciInfo_t& pci) {
  int domain = 0, bus = 0, slot = 0;
  if (CUresult r = driver.attribute(ordinal, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, domain); r != CUDA_SUCCESS) {
    return fromCuda(r);
  }
  if (CUresult r = driver.attribute(ordinal, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, bus); r != CUDA_SUCCESS) return fromCuda(r);
  if (CUresult r = driver.attribute(ordinal, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, slot); r != CUDA_SUCCESS) {
    return fromCuda(r);
  }
  pci = nvmlPciInfo_t{};
  pci.domain = static_cast<unsigned>(domain);
  pci.bus = static_cast<unsigned>(bus);
  pci.device = static_cast<unsigned>(slot);
  std::snprintf(pci.busIdLegacy, sizeof(pci.busIdLegacy), "%04x:%02x:%02x.0", pci.domain & 0xffff, pci.bus & 0xff,
                pci.device & 0xff);
  std::snprintf(pci.busId, sizeof(pci.busId), "%08x:%02x:%02x.0", pci.domain, pci.bus & 0xff, pci.device & 0xff);
  return NVML_SUCCESS;
}

nvmlReturn_t memory(Library& lib, int ordinal, unsigned long long& total, unsigned long long& used) {
  cudaabi::VgpuStatus status;
  if (CUresult r = lib.driver.status(ordinal, status); r != CUDA_SUCCESS) return fromCuda(r);
  total = status.totalBytes;
  used = std::min(status.usedBytes, status.totalBytes);
  return NVML_SUCCESS;
}

// The session's processes in NVML's shape `Info`; INSUFFICIENT_SIZE with the count needed when
// `infos` is too small.
template <typename Info, typename Fill>
nvmlReturn_t processes(nvmlDevice_t device, unsigned* count, Info* infos, Fill&& fill) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withDevice(device, [&](Library& lib, int ordinal) {
    cudaabi::VgpuStatus status;
    if (CUresult r = lib.driver.status(ordinal, status); r != CUDA_SUCCESS) return fromCuda(r);
    unsigned capacity = *count;
    *count = status.processCount;
    if (status.processCount > capacity) return NVML_ERROR_INSUFFICIENT_SIZE;
    if (status.processCount > 0 && infos == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned i = 0; i < status.processCount; ++i) fill(infos[i], status.processes[i]);
    return NVML_SUCCESS;
  });
}

void fillV1(nvmlProcessInfo_v1_t& info, const cudaabi::VgpuStatus::Process& process) {
  info = {process.pid, process.heldBytes};
}

void fillV2(nvmlProcessInfo_t& info, const cudaabi::VgpuStatus::Process& process) {
  info = {process.pid, process.heldBytes, kNoMigInstance, kNoMigInstance};
}

}  // namespace
}  // namespace fastgpu::nvml

using namespace fastgpu::nvml;
using fastgpu::cudaabi::VgpuStatus;

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { return initialize(flags); }
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlInit_v2() { return initialize(0); }
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlInit() { return initialize(0); }

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlShutdown() {
  return withLibrary([](Library& lib) {
    --lib.initCount;  // the session stays: it is the program's, not NVML's
    return NVML_SUCCESS;
  });
}

FASTGPU_NVML_EXPORT const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument Version Mismatch";
    default: return "Unknown Error";
  }
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* version) {
  if (version == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withLibrary([&](Library& lib) {
    *version = lib.driver.driverVersion();
    return NVML_SUCCESS;
  });
}
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) {
  return nvmlSystemGetCudaDriverVersion(version);
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withLibrary([&](Library& lib) {
    *count = static_cast<unsigned>(deviceCount(lib));
    return NVML_SUCCESS;
  });
}
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int* count) { return nvmlDeviceGetCount_v2(count); }

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withLibrary([&](Library& lib) {
    if (index >= static_cast<unsigned>(deviceCount(lib))) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &lib.devices[index];
    return NVML_SUCCESS;
  });
}
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByIndex_v2(index, device);
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int* index) {
  if (index == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withDevice(device, [&](Library&, int ordinal) {
    *index = static_cast<unsigned>(ordinal);
    return NVML_SUCCESS;
  });
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  return withDevice(device, [&](Library& lib, int ordinal) {
    char text[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = {};
    if (CUresult r = lib.driver.name(ordinal, text, sizeof(text) - 1); r != CUDA_SUCCESS) return fromCuda(r);
    return copyOut(text, name, length);
  });
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  return withDevice(device, [&](Library& lib, int ordinal) {
    CUuuid id;
    if (CUresult r = lib.driver.uuid(ordinal, id); r != CUDA_SUCCESS) return fromCuda(r);
    return copyOut(fastgpu::cudaabi::gpuUuidText(id), uuid, length);
  });
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return findDevice(device, [&](Library& lib, int ordinal) {
    CUuuid id;
    return lib.driver.uuid(ordinal, id) == CUDA_SUCCESS && fastgpu::cudaabi::gpuUuidText(id) == uuid;
  });
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withDevice(device, [&](Library& lib, int ordinal) { return pciInfo(lib.driver, ordinal, *pci); });
}
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return nvmlDeviceGetPciInfo_v3(device, pci);
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char* busId, nvmlDevice_t* device) {
  if (busId == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return findDevice(device, [&](Library& lib, int ordinal) {
    nvmlPciInfo_t pci;
    return pciInfo(lib.driver, ordinal, pci) == NVML_SUCCESS &&
           (strcasecmp(busId, pci.busId) == 0 || strcasecmp(busId, pci.busIdLegacy) == 0);
  });
}
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char* busId, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByPciBusId_v2(busId, device);
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int* major, int* minor) {
  if (major == nullptr || minor == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withDevice(device, [&](Library& lib, int ordinal) {
    if (CUresult r = lib.driver.attribute(ordinal, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, *major);
        r != CUDA_SUCCESS) {
      return fromCuda(r);
    }
    return fromCuda(lib.driver.attribute(ordinal, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, *minor));
  });
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* out) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withDevice(device, [&](Library& lib, int ordinal) {
    unsigned long long total = 0, used = 0;
    if (nvmlReturn_t r = memory(lib, ordinal, total, used); r != NVML_SUCCESS) return r;
    *out = {total, total - used, used};
    return NVML_SUCCESS;
  });
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* out) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (out->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  return withDevice(device, [&](Library& lib, int ordinal) {
    unsigned long long total = 0, used = 0;
    if (nvmlReturn_t r = memory(lib, ordinal, total, used); r != NVML_SUCCESS) return r;
    *out = {nvmlMemory_v2, total, 0, total - used, used};
    return NVML_SUCCESS;
  });
}

// The vGPU's GPU time over wall time since this process's previous sample of the device;
// NOT_SUPPORTED where GPU time is not metered (an open server, cudasim). Device memory traffic
// is not measured: memory reads 0.
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* out) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return withDevice(device, [&](Library& lib, int ordinal) {
    VgpuStatus status;
    if (CUresult r = lib.driver.status(ordinal, status); r != CUDA_SUCCESS) return fromCuda(r);
    if (!status.metered) return NVML_ERROR_NOT_SUPPORTED;
    Library::Sample& last = lib.samples[ordinal];
    std::uint64_t wall = status.atNanos > last.atNanos ? status.atNanos - last.atNanos : 0;
    std::uint64_t busy = status.gpuNanos > last.gpuNanos ? status.gpuNanos - last.gpuNanos : 0;
    last = {status.gpuNanos, status.atNanos};
    out->gpu = wall == 0 ? 0 : static_cast<unsigned>(std::min<std::uint64_t>(100, busy * 100 / wall));
    out->memory = 0;
    return NVML_SUCCESS;
  });
}

FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int* count,
                                                                      nvmlProcessInfo_v1_t* infos) {
  return processes(device, count, infos, fillV1);
}
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int* count,
                                                                         nvmlProcessInfo_t* infos) {
  return processes(device, count, infos, fillV2);
}
FASTGPU_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int* count,
                                                                         nvmlProcessInfo_t* infos) {
  return processes(device, count, infos, fillV2);
}
