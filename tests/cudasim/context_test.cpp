// cudasim: initialization, devices, contexts (primary refcounting, the per-thread current context).
#include <cstring>
#include <thread>

#include "cudaabi/honest_attributes.h"
#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

TEST(SimDevices, ReportTheConfiguredDevicesAndMemory) {
  const auto& d = sim();
  int count = 0;
  ASSERT_CU(d.cuDeviceGetCount(&count));
  EXPECT_EQ(count, 2);
  int version = 0;
  ASSERT_CU(d.cuDriverGetVersion(&version));
  EXPECT_GE(version, 13000);
  std::size_t total = 0;
  ASSERT_CU(d.cuDeviceTotalMem_v2(&total, 1));
  EXPECT_EQ(total, kSimMemoryBytes);
  int major = 0, minor = -1, sms = 0;
  ASSERT_CU(d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0));
  ASSERT_CU(d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0));
  ASSERT_CU(d.cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
  EXPECT_EQ(major * 10 + minor, 90);
  EXPECT_EQ(sms, 132);
  char name[64];
  ASSERT_CU(d.cuDeviceGetName(name, sizeof(name), 0));
  EXPECT_NE(std::strstr(name, "H100"), nullptr);
  char bus0[32], bus1[32];
  ASSERT_CU(d.cuDeviceGetPCIBusId(bus0, sizeof(bus0), 0));
  ASSERT_CU(d.cuDeviceGetPCIBusId(bus1, sizeof(bus1), 1));
  EXPECT_STRNE(bus0, bus1);
  CUdevice byBus = -1;
  ASSERT_CU(d.cuDeviceGetByPCIBusId(&byBus, bus1));
  EXPECT_EQ(byBus, 1);
  CUuuid uuid0, uuid1;
  ASSERT_CU(d.cuDeviceGetUuid_v2(&uuid0, 0));
  ASSERT_CU(d.cuDeviceGetUuid_v2(&uuid1, 1));
  EXPECT_NE(std::memcmp(uuid0.bytes, uuid1.bytes, 16), 0);
}

TEST(SimDevices, RejectBadOrdinalsAndAttributes) {
  const auto& d = sim();
  CUdevice device;
  EXPECT_EQ(d.cuDeviceGet(&device, 2), CUDA_ERROR_INVALID_DEVICE);
  EXPECT_EQ(d.cuDeviceGet(&device, -1), CUDA_ERROR_INVALID_DEVICE);
  int value;
  EXPECT_EQ(d.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuDeviceGetAttribute(nullptr, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuInit(1), CUDA_ERROR_INVALID_VALUE);
}

TEST(SimDevices, AttributesPromiseOnlyWhatTheDriverDoes) {
  // An H100 has memory pools, virtual memory management and managed memory; cudasim does not
  // implement them yet, so it says 0 rather than fail the calls a framework then makes. Mapped
  // pinned memory it does implement.
  const auto& d = sim();
  for (int attribute = 1; attribute < CU_DEVICE_ATTRIBUTE_MAX; ++attribute) {
    auto which = static_cast<CUdevice_attribute>(attribute);
    int value = -1;
    if (d.cuDeviceGetAttribute(&value, which, 0) != CUDA_SUCCESS) continue;
    if (cudaabi::announcesUnimplementedFeature(which)) {
      EXPECT_EQ(value, 0) << "attribute " << attribute;
    }
  }
  int value = 0;
  ASSERT_CU(d.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0));
  EXPECT_EQ(value, 0) << "managed memory is not implemented";
  ASSERT_CU(d.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 0));
  EXPECT_EQ(value, 1) << "pools are";
  ASSERT_CU(d.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 0));
  EXPECT_EQ(value, 1);
  void* pinned = nullptr;
  CUdeviceptr mapped = 0;
  CUcontext context = nullptr;
  ASSERT_CU(d.cuDevicePrimaryCtxRetain(&context, 0));
  ASSERT_CU(d.cuCtxSetCurrent(context));
  ASSERT_CU(d.cuMemHostAlloc(&pinned, 4096, CU_MEMHOSTALLOC_DEVICEMAP));
  EXPECT_CU(d.cuMemHostGetDevicePointer_v2(&mapped, pinned, 0));
  EXPECT_NE(mapped, 0u);
  EXPECT_CU(d.cuMemFreeHost(pinned));
  EXPECT_CU(d.cuDevicePrimaryCtxRelease_v2(0));
}

TEST(SimContexts, FixedSharedMemoryBanksAndNoProfilerAreAnsweredTruthfully) {
  const auto& d = sim();
  CUsharedconfig banks = CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE;
  ASSERT_CU(d.cuCtxSetCurrent(nullptr));
  EXPECT_EQ(d.cuCtxGetSharedMemConfig(&banks), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(d.cuProfilerStart(), CUDA_ERROR_INVALID_CONTEXT);
  CUcontext context = nullptr;
  ASSERT_CU(d.cuDevicePrimaryCtxRetain(&context, 0));
  ASSERT_CU(d.cuCtxSetCurrent(context));
  ASSERT_CU(d.cuCtxGetSharedMemConfig(&banks));
  EXPECT_EQ(banks, CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE);
  EXPECT_CU(d.cuCtxSetSharedMemConfig(CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE));
  ASSERT_CU(d.cuCtxGetSharedMemConfig(&banks));
  EXPECT_EQ(banks, CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE) << "sm_90's banks are fixed";
  EXPECT_EQ(d.cuCtxSetSharedMemConfig(static_cast<CUsharedconfig>(9)), CUDA_ERROR_INVALID_VALUE);
  EXPECT_CU(d.cuProfilerStart());
  EXPECT_CU(d.cuProfilerStop());
  CUstream stream = nullptr;
  ASSERT_CU(d.cuStreamCreate(&stream, 0));
  CUcontext owner = nullptr;
  CUgreenCtx green = reinterpret_cast<CUgreenCtx>(1);
  ASSERT_CU(d.cuStreamGetCtx_v2(stream, &owner, &green));
  EXPECT_EQ(owner, context);
  EXPECT_EQ(green, nullptr);
  ASSERT_CU(d.cuStreamDestroy_v2(stream));
  ASSERT_CU(d.cuCtxSetCurrent(nullptr));
  ASSERT_CU(d.cuDevicePrimaryCtxRelease_v2(0));
}

TEST(SimContexts, PrimaryContextIsReferenceCounted) {
  const auto& d = sim();
  CUcontext first = nullptr, second = nullptr;
  unsigned flags = 0;
  int active = 0;
  ASSERT_CU(d.cuDevicePrimaryCtxGetState(1, &flags, &active));
  EXPECT_EQ(active, 0);
  ASSERT_CU(d.cuDevicePrimaryCtxRetain(&first, 1));
  ASSERT_CU(d.cuDevicePrimaryCtxRetain(&second, 1));
  EXPECT_EQ(first, second);
  ASSERT_CU(d.cuDevicePrimaryCtxGetState(1, &flags, &active));
  EXPECT_EQ(active, 1);
  // Release once: still active, still usable.
  ASSERT_CU(d.cuDevicePrimaryCtxRelease_v2(1));
  ASSERT_CU(d.cuDevicePrimaryCtxGetState(1, &flags, &active));
  EXPECT_EQ(active, 1);
  ASSERT_CU(d.cuCtxPushCurrent_v2(first));
  CUdeviceptr pointer;
  ASSERT_CU(d.cuMemAlloc_v2(&pointer, 1024));
  ASSERT_CU(d.cuCtxPopCurrent_v2(nullptr));
  // The last release destroys it: its handle and its memory are gone.
  ASSERT_CU(d.cuDevicePrimaryCtxRelease_v2(1));
  ASSERT_CU(d.cuDevicePrimaryCtxGetState(1, &flags, &active));
  EXPECT_EQ(active, 0);
  EXPECT_EQ(d.cuCtxPushCurrent_v2(first), CUDA_ERROR_INVALID_CONTEXT);
  CUdeviceptr base;
  EXPECT_EQ(d.cuMemGetAddressRange_v2(&base, nullptr, pointer), CUDA_ERROR_NOT_FOUND);
  // Releasing a context that is not retained is an error.
  EXPECT_EQ(d.cuDevicePrimaryCtxRelease_v2(1), CUDA_ERROR_INVALID_CONTEXT);
}

TEST(SimContexts, CurrentContextIsPerThread) {
  const auto& d = sim();
  CUcontext created = nullptr;
  ASSERT_CU(d.cuCtxCreate_v2(&created, 0, 0));  // also makes it current on this thread
  CUcontext current = nullptr;
  ASSERT_CU(d.cuCtxGetCurrent(&current));
  EXPECT_EQ(current, created);
  std::thread other([&] {
    CUcontext seen = reinterpret_cast<CUcontext>(1);
    EXPECT_CU(d.cuCtxGetCurrent(&seen));
    EXPECT_EQ(seen, nullptr) << "a new thread has no current context";
    CUdeviceptr pointer;
    EXPECT_EQ(d.cuMemAlloc_v2(&pointer, 16), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_CU(d.cuCtxSetCurrent(created));
    EXPECT_CU(d.cuMemAlloc_v2(&pointer, 16));
    EXPECT_CU(d.cuMemFree_v2(pointer));
  });
  other.join();
  // Push and pop nest.
  CUcontext second = nullptr;
  ASSERT_CU(d.cuCtxCreate_v2(&second, 0, 1));
  CUdevice device = -1;
  ASSERT_CU(d.cuCtxGetDevice(&device));
  EXPECT_EQ(device, 1);
  CUcontext popped = nullptr;
  ASSERT_CU(d.cuCtxPopCurrent_v2(&popped));
  EXPECT_EQ(popped, second);
  ASSERT_CU(d.cuCtxGetDevice(&device));
  EXPECT_EQ(device, 0);
  ASSERT_CU(d.cuCtxDestroy_v2(second));
  ASSERT_CU(d.cuCtxDestroy_v2(created));
  ASSERT_CU(d.cuCtxGetCurrent(&current));
  EXPECT_EQ(current, nullptr);
}

TEST(SimContexts, DestroyedAndForgedContextsAreRejected) {
  const auto& d = sim();
  CUcontext context = nullptr;
  ASSERT_CU(d.cuCtxCreate_v2(&context, 0, 0));
  ASSERT_CU(d.cuCtxDestroy_v2(context));
  EXPECT_EQ(d.cuCtxDestroy_v2(context), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(d.cuCtxSetCurrent(context), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(d.cuCtxPushCurrent_v2(reinterpret_cast<CUcontext>(0x1234)), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(d.cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT) << "no current context";
  EXPECT_EQ(d.cuCtxCreate_v2(&context, 0x1000000, 0), CUDA_ERROR_INVALID_VALUE) << "unknown flags";
}

TEST(SimContexts, GetProcAddressAnswersWithTheDriversOwnFunctions) {
  const auto& d = sim();
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult status;
  ASSERT_CU(d.cuGetProcAddress_v2("cuMemAlloc", &pfn, 12000, 0, &status));
  EXPECT_EQ(status, CU_GET_PROC_ADDRESS_SUCCESS);
  EXPECT_EQ(pfn, reinterpret_cast<void*>(d.cuMemAlloc_v2));
  ASSERT_CU(d.cuGetProcAddress_v2("cuLaunchKernel", &pfn, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                                  &status));
  EXPECT_EQ(pfn, reinterpret_cast<void*>(d.cuLaunchKernel_ptsz));
  EXPECT_EQ(d.cuGetProcAddress_v2("", &pfn, 12000, 0, &status), CUDA_ERROR_NOT_FOUND);
  const char* name = nullptr;
  ASSERT_CU(d.cuGetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &name));
  EXPECT_STREQ(name, "CUDA_ERROR_OUT_OF_MEMORY");
  EXPECT_EQ(d.cuGetErrorName(static_cast<CUresult>(12345), &name), CUDA_ERROR_INVALID_VALUE);
  // A function cudasim does not implement is absent, to dlsym and to cuGetProcAddress alike.
  EXPECT_EQ(d.cuGraphicsUnregisterResource, nullptr);
  pfn = &status;
  EXPECT_EQ(d.cuGetProcAddress_v2("cuGraphicsUnregisterResource", &pfn, 13000, 0, &status), CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  EXPECT_EQ(pfn, nullptr);
}

}  // namespace
}  // namespace fastgpu::testing
