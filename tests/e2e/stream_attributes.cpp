// Stream attributes as L2-persistence and scheduling code sets them (cudaStreamSetAttribute with an
// access policy window, then cudaCtxResetPersistingL2Cache): defaults, each attribute set and read
// back, values refused, priorities clamped and kept, attributes copied between streams. A run
// through FastGPU must print the same.
#include <cuda.h>

#include <cstdio>

#include "call_report.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

CUstreamAttrValue read(CUstream stream, CUstreamAttrID attribute, const char* what) {
  CUstreamAttrValue value{};
  report(what, cuStreamGetAttribute(stream, attribute, &value));
  return value;
}

void printWindow(const char* what, const CUaccessPolicyWindow& window, CUdeviceptr buffer) {
  std::printf("%s: %s + %zu bytes, hit ratio %.2f, hit %d, miss %d\n", what,
              window.num_bytes == 0                                               ? "none"
              : reinterpret_cast<CUdeviceptr>(window.base_ptr) == buffer ? "buffer"
                                                                                  : "elsewhere",
              window.num_bytes, window.hitRatio, static_cast<int>(window.hitProp), static_cast<int>(window.missProp));
}

}  // namespace

int main() {
  CUdevice device;
  CUcontext context;
  CUstream stream, other;
  CUdeviceptr buffer;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&device, 0) != CUDA_SUCCESS ||
      cuCtxCreate(&context, nullptr, 0, device) != CUDA_SUCCESS ||
      cuStreamCreateWithPriority(&stream, CU_STREAM_NON_BLOCKING, -1) != CUDA_SUCCESS ||
      cuStreamCreate(&other, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS || cuMemAlloc(&buffer, 4 << 20) != CUDA_SUCCESS) {
    std::printf("stream_attributes: setup failed\n");
    return 1;
  }

  std::printf("-- defaults\n");
  printWindow("window", read(stream, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, "get(window)").accessPolicyWindow, buffer);
  std::printf("sync policy %d\n", static_cast<int>(read(stream, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY,
                                                          "get(sync policy)").syncPolicy));
  std::printf("priority %d\n", read(stream, CU_STREAM_ATTRIBUTE_PRIORITY, "get(priority)").priority);
  CUstreamAttrValue map = read(stream, CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP, "get(domain map)");
  std::printf("domain map default %d remote %d\n", map.memSyncDomainMap.default_, map.memSyncDomainMap.remote);
  std::printf("domain %d\n", static_cast<int>(read(stream, CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN, "get(domain)")
                                                  .memSyncDomain));

  std::printf("-- an L2 access policy window, as persistence code sets it\n");
  report("cuCtxSetLimit(persisting L2, 1 MiB)", cuCtxSetLimit(CU_LIMIT_PERSISTING_L2_CACHE_SIZE, 1 << 20));
  CUstreamAttrValue value{};
  value.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(buffer);
  value.accessPolicyWindow.num_bytes = 1 << 20;
  value.accessPolicyWindow.hitRatio = 0.5f;
  value.accessPolicyWindow.hitProp = CU_ACCESS_PROPERTY_PERSISTING;
  value.accessPolicyWindow.missProp = CU_ACCESS_PROPERTY_STREAMING;
  report("set(window)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, &value));
  printWindow("window", read(stream, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, "get(window)").accessPolicyWindow, buffer);
  CUstreamAttrValue bad = value;
  bad.accessPolicyWindow.hitRatio = 1.5f;
  report("set(window, hit ratio 1.5)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, &bad),
         CUDA_ERROR_INVALID_VALUE);
  bad = value;
  bad.accessPolicyWindow.missProp = CU_ACCESS_PROPERTY_PERSISTING;
  report("set(window, misses persist)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, &bad),
         CUDA_ERROR_INVALID_VALUE);
  bad = value;
  bad.accessPolicyWindow.num_bytes = std::size_t{1} << 40;
  report("set(window, 1 TiB)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, &bad),
         CUDA_ERROR_INVALID_VALUE);
  report("set(window, no value)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, nullptr),
         CUDA_ERROR_INVALID_VALUE);
  report("set(cooperative: not a stream's)", cuStreamSetAttribute(stream, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, &value),
         CUDA_ERROR_INVALID_VALUE);
  report("cuMemsetD8Async under the window", cuMemsetD8Async(buffer, 1, 1 << 20, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  report("cuCtxResetPersistingL2Cache", cuCtxResetPersistingL2Cache());

  std::printf("-- the other attributes\n");
  value = CUstreamAttrValue{};
  value.syncPolicy = CU_SYNC_POLICY_BLOCKING_SYNC;
  report("set(sync policy)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &value));
  std::printf("sync policy %d\n", static_cast<int>(read(stream, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY,
                                                          "get(sync policy)").syncPolicy));
  value.syncPolicy = static_cast<CUsynchronizationPolicy>(9);
  report("set(sync policy 9)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &value),
         CUDA_ERROR_INVALID_VALUE);
  value = CUstreamAttrValue{};
  value.memSyncDomainMap.default_ = 1;
  value.memSyncDomainMap.remote = 2;
  report("set(domain map)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP, &value));
  map = read(stream, CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP, "get(domain map)");
  std::printf("domain map default %d remote %d\n", map.memSyncDomainMap.default_, map.memSyncDomainMap.remote);
  value = CUstreamAttrValue{};
  value.memSyncDomain = CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE;
  report("set(domain)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN, &value));
  value.memSyncDomain = static_cast<CUlaunchMemSyncDomain>(5);
  report("set(domain 5)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN, &value),
         CUDA_ERROR_INVALID_VALUE);

  std::printf("-- priorities\n");
  value = CUstreamAttrValue{};
  value.priority = -3;
  report("set(priority -3)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_PRIORITY, &value));
  int priority = 99;
  report("cuStreamGetPriority", cuStreamGetPriority(stream, &priority));
  std::printf("priority %d\n", priority);
  value.priority = 7;
  report("set(priority 7)", cuStreamSetAttribute(stream, CU_STREAM_ATTRIBUTE_PRIORITY, &value));
  report("cuStreamGetPriority", cuStreamGetPriority(stream, &priority));
  std::printf("priority %d (clamped)\n", priority);
  report("set(priority of the default stream)", cuStreamSetAttribute(nullptr, CU_STREAM_ATTRIBUTE_PRIORITY, &value),
         CUDA_ERROR_INVALID_VALUE);

  std::printf("-- copied to another stream (its priority stays its own)\n");
  report("cuStreamCopyAttributes", cuStreamCopyAttributes(other, stream));
  printWindow("window", read(other, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, "get(window)").accessPolicyWindow, buffer);
  std::printf("domain %d\n", static_cast<int>(read(other, CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN, "get(domain)")
                                                  .memSyncDomain));
  std::printf("priority %d\n", read(other, CU_STREAM_ATTRIBUTE_PRIORITY, "get(priority)").priority);

  if (failures > 0) {
    std::printf("stream_attributes: %d unexpected results\n", failures);
    return 1;
  }
  std::printf("stream_attributes: done\n");
  return 0;
}
