// FastGPU's NVML as a framework meets it (torch.cuda.device_count, OOM messages, vLLM): it loads
// libnvidia-ml.so.1 by name, as PyTorch does, and checks that NVML describes the devices the
// program's driver shows: the driver's devices, their memory (a vGPU's quota) as total, what is
// held as used, this process among the running ones, and NVML's errors for bad arguments.
//   nvml_probe remote   under `fastgpu run` inside a vGPU (GPU time is metered)
//   nvml_probe sim      under `fastgpu sim`, natively on cudasim (nothing is metered)
// Prints one line per check; the last says whether all held.
#include <cuda.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "nvml/nvml_api.h"

namespace {

int failures = 0;

void check(bool held, const std::string& what) {
  std::printf("%s: %s\n", held ? "ok" : "FAILED", what.c_str());
  if (!held) ++failures;
}

template <typename Fn>
Fn find(void* library, const char* name) {
  auto fn = reinterpret_cast<Fn>(dlsym(library, name));
  check(fn != nullptr, std::string("NVML exports ") + name);
  return fn;
}

std::string uuidOf(const CUuuid& uuid) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  char text[64];
  std::snprintf(text, sizeof(text), "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const bool remote = argc < 2 || std::string(argv[1]) != "sim";
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  if (nvml == nullptr) {
    std::printf("FAILED: libnvidia-ml.so.1 does not load: %s\n", dlerror());
    return 1;
  }
  Dl_info where{};
  dladdr(dlsym(nvml, "nvmlInit_v2"), &where);
  check(where.dli_fname != nullptr && std::strstr(where.dli_fname, remote ? "/lib/fastgpu/" : "/lib/cudasim/") != nullptr,
        "the NVML loaded is FastGPU's");
  auto init = find<nvmlReturn_t (*)()>(nvml, "nvmlInit");
  auto shutdown = find<nvmlReturn_t (*)()>(nvml, "nvmlShutdown");
  auto count = find<nvmlReturn_t (*)(unsigned*)>(nvml, "nvmlDeviceGetCount_v2");
  auto byIndex = find<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>(nvml, "nvmlDeviceGetHandleByIndex_v2");
  auto byUuid = find<nvmlReturn_t (*)(const char*, nvmlDevice_t*)>(nvml, "nvmlDeviceGetHandleByUUID");
  auto byBusId = find<nvmlReturn_t (*)(const char*, nvmlDevice_t*)>(nvml, "nvmlDeviceGetHandleByPciBusId_v2");
  auto name = find<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>(nvml, "nvmlDeviceGetName");
  auto uuid = find<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>(nvml, "nvmlDeviceGetUUID");
  auto pci = find<nvmlReturn_t (*)(nvmlDevice_t, nvmlPciInfo_t*)>(nvml, "nvmlDeviceGetPciInfo_v3");
  auto memory = find<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*)>(nvml, "nvmlDeviceGetMemoryInfo");
  auto memoryV2 = find<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_v2_t*)>(nvml, "nvmlDeviceGetMemoryInfo_v2");
  auto utilization = find<nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*)>(nvml, "nvmlDeviceGetUtilizationRates");
  auto capability = find<nvmlReturn_t (*)(nvmlDevice_t, int*, int*)>(nvml, "nvmlDeviceGetCudaComputeCapability");
  auto processes = find<nvmlReturn_t (*)(nvmlDevice_t, unsigned*, nvmlProcessInfo_t*)>(
      nvml, "nvmlDeviceGetComputeRunningProcesses_v3");
  auto driverVersion = find<nvmlReturn_t (*)(int*)>(nvml, "nvmlSystemGetCudaDriverVersion_v2");
  auto nvlink = find<nvmlReturn_t (*)(nvmlDevice_t, unsigned, int*)>(nvml, "nvmlDeviceGetNvLinkRemoteDeviceType");
  if (failures > 0) return 1;

  unsigned devices = 99;
  check(count(&devices) == NVML_ERROR_UNINITIALIZED, "a query before nvmlInit is UNINITIALIZED");
  check(init() == NVML_SUCCESS, "nvmlInit");
  int cudaDevices = 0;
  check(cuDeviceGetCount(&cudaDevices) == CUDA_SUCCESS, "the driver was initialized by NVML");
  nvmlReturn_t counted = count(&devices);
  check(counted == NVML_SUCCESS && static_cast<int>(devices) == cudaDevices,
        "NVML counts the session's devices (" + std::to_string(devices) + ")");
  int version = 0, cudaVersion = 0;
  cuDriverGetVersion(&cudaVersion);
  check(driverVersion(&version) == NVML_SUCCESS && version == cudaVersion, "the CUDA driver version is the driver's");

  nvmlDevice_t device = nullptr, again = nullptr;
  check(byIndex(0, &device) == NVML_SUCCESS, "a handle for device 0");
  check(byIndex(static_cast<unsigned>(cudaDevices), &again) == NVML_ERROR_INVALID_ARGUMENT,
        "no handle past the last device");
  char text[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = {}, cudaName[256] = {};
  cuDeviceGetName(cudaName, sizeof(cudaName), 0);
  nvmlReturn_t named = name(device, text, sizeof(text));
  check(named == NVML_SUCCESS && std::string(text) == cudaName, std::string("the name is the driver's: ") + text);
  check(name(device, text, 4) == NVML_ERROR_INSUFFICIENT_SIZE, "a short buffer is INSUFFICIENT_SIZE");
  CUuuid cudaUuid;
  cuDeviceGetUuid_v2(&cudaUuid, 0);
  char uuidText[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = {};
  check(uuid(device, uuidText, sizeof(uuidText)) == NVML_SUCCESS && uuidOf(cudaUuid) == uuidText,
        "the UUID is the driver's, in NVML's form");
  check(byUuid(uuidText, &again) == NVML_SUCCESS && again == device, "the UUID finds the same handle");
  check(byUuid("GPU-00000000-0000-0000-0000-000000000000", &again) == NVML_ERROR_NOT_FOUND, "an unknown UUID is NOT_FOUND");
  nvmlPciInfo_t bus{};
  check(pci(device, &bus) == NVML_SUCCESS && byBusId(bus.busId, &again) == NVML_SUCCESS && again == device,
        "the PCI bus id finds the same handle");
  int major = 0, minor = 0, cudaMajor = 0, cudaMinor = 0;
  cuDeviceGetAttribute(&cudaMajor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0);
  cuDeviceGetAttribute(&cudaMinor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0);
  check(capability(device, &major, &minor) == NVML_SUCCESS && major == cudaMajor && minor == cudaMinor,
        "the compute capability is the driver's");

  // Memory: the vGPU's quota is the total; what this session allocates is used.
  CUcontext context = nullptr;
  cuDevicePrimaryCtxRetain(&context, 0);
  cuCtxSetCurrent(context);
  std::size_t cudaFree = 0, cudaTotal = 0;
  cuMemGetInfo_v2(&cudaFree, &cudaTotal);
  nvmlMemory_t before{}, during{}, after{};
  nvmlReturn_t measured = memory(device, &before);
  check(measured == NVML_SUCCESS && before.total == cudaTotal && before.used + before.free == before.total,
        "total memory is the driver's (" + std::to_string(before.total) + " bytes)");
  constexpr std::size_t kBytes = 64ULL << 20;
  CUdeviceptr block = 0;
  check(cuMemAlloc_v2(&block, kBytes) == CUDA_SUCCESS, "cuMemAlloc of 64 MiB");
  check(memory(device, &during) == NVML_SUCCESS && during.used == before.used + kBytes,
        "the allocation is used memory");
  unsigned listed = 0;
  check(processes(device, &listed, nullptr) == NVML_ERROR_INSUFFICIENT_SIZE && listed >= 1,
        "asking with no room says how many processes run");
  nvmlProcessInfo_t infos[64] = {};
  listed = 64;
  bool mine = false;
  check(processes(device, &listed, infos) == NVML_SUCCESS, "the running processes");
  for (unsigned i = 0; i < listed; ++i) {
    if (infos[i].pid == static_cast<unsigned>(getpid()) && infos[i].usedGpuMemory == kBytes) mine = true;
  }
  check(mine, "this process is running with its 64 MiB");
  cuMemFree_v2(block);
  check(memory(device, &after) == NVML_SUCCESS && after.used == before.used, "freed memory is no longer used");
  nvmlMemory_v2_t versioned{};
  check(memoryV2(device, &versioned) == NVML_ERROR_ARGUMENT_VERSION_MISMATCH, "an unversioned v2 struct is refused");
  versioned.version = nvmlMemory_v2;
  check(memoryV2(device, &versioned) == NVML_SUCCESS && versioned.total == before.total, "nvmlMemory_v2_t");
  nvmlUtilization_t busy{};
  if (remote) {
    check(utilization(device, &busy) == NVML_SUCCESS && busy.gpu <= 100, "the vGPU's utilization is metered");
  } else {
    check(utilization(device, &busy) == NVML_ERROR_NOT_SUPPORTED, "cudasim meters no GPU time");
  }

  auto forged = reinterpret_cast<nvmlDevice_t>(&busy);
  check(name(forged, text, sizeof(text)) == NVML_ERROR_INVALID_ARGUMENT, "a forged handle is INVALID_ARGUMENT");
  int type = 0;
  check(nvlink(device, 0, &type) == NVML_ERROR_NOT_SUPPORTED, "NVLink queries are NOT_SUPPORTED");
  check(dlsym(nvml, "nvmlNoSuchFunction") == nullptr && dlsym(nvml, "cuInit") == nullptr,
        "NVML exports NVML's functions only");
  check(shutdown() == NVML_SUCCESS && shutdown() == NVML_ERROR_UNINITIALIZED, "nvmlShutdown once per nvmlInit");
  std::printf(failures == 0 ? "nvml_probe: all checks passed\n" : "nvml_probe: %d checks failed\n", failures);
  return failures == 0 ? 0 : 1;
}
