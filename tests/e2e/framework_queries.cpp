// What a framework asks before it does work: stream capture before it captures anything
// (PyTorch's caching allocator asks cudaStreamIsCapturing before every new segment), the
// attributes it trusts to choose an allocator, and context and stream queries of its libraries.
// Prints the same lines natively and through FastGPU.
#include <cuda.h>
#include <cudaProfiler.h>

#include <cstdio>
#include <thread>

namespace {

void show(const char* what, CUresult result) { std::printf("%-58s -> %d\n", what, static_cast<int>(result)); }

// Runs `query` (which writes *status) first, then prints: arguments are evaluated in no set order.
template <typename Query>
void showStatus(const char* what, Query&& query) {
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
  CUresult result = query(&status);
  std::printf("%-58s -> %d, status %d\n", what, static_cast<int>(result), result == CUDA_SUCCESS ? status : -1);
}

}  // namespace

int main() {
  if (cuInit(0) != CUDA_SUCCESS) return 1;
  CUcontext context;
  if (cuDevicePrimaryCtxRetain(&context, 0) != CUDA_SUCCESS || cuCtxSetCurrent(context) != CUDA_SUCCESS) return 1;
  CUstream stream;
  if (cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) return 1;

  showStatus("cuStreamIsCapturing(stream)", [&](CUstreamCaptureStatus* s) { return cuStreamIsCapturing(stream, s); });
  showStatus("cuStreamIsCapturing(legacy stream)",
             [](CUstreamCaptureStatus* s) { return cuStreamIsCapturing(CU_STREAM_LEGACY, s); });
  showStatus("cuStreamIsCapturing(per-thread stream)",
             [](CUstreamCaptureStatus* s) { return cuStreamIsCapturing(CU_STREAM_PER_THREAD, s); });
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
  show("cuStreamIsCapturing(stream, NULL)", cuStreamIsCapturing(stream, nullptr));

  cuuint64_t id = 0;
  CUgraph graph = nullptr;
  const CUgraphNode* nodes = nullptr;
  const CUgraphEdgeData* edges = nullptr;
  size_t count = 0;
  showStatus("cuStreamGetCaptureInfo(stream, all outputs)", [&](CUstreamCaptureStatus* s) {
    return cuStreamGetCaptureInfo(stream, s, &id, &graph, &nodes, &edges, &count);
  });
  show("cuStreamGetCaptureInfo(edge data without nodes)",
       cuStreamGetCaptureInfo(stream, &status, &id, &graph, nullptr, &edges, &count));

  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
  CUresult exchanged = cuThreadExchangeStreamCaptureMode(&mode);
  std::printf("%-58s -> %d, previous mode %d\n", "cuThreadExchangeStreamCaptureMode(relaxed)",
              static_cast<int>(exchanged), mode);
  std::thread other([] {
    CUstreamCaptureMode theirs = CU_STREAM_CAPTURE_MODE_THREAD_LOCAL;
    CUresult result = cuThreadExchangeStreamCaptureMode(&theirs);
    std::printf("%-58s -> %d, previous mode %d\n", "another thread's mode", static_cast<int>(result), theirs);
  });
  other.join();
  mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  exchanged = cuThreadExchangeStreamCaptureMode(&mode);
  std::printf("%-58s -> %d, previous mode %d\n", "cuThreadExchangeStreamCaptureMode(global)",
              static_cast<int>(exchanged), mode);
  mode = static_cast<CUstreamCaptureMode>(7);
  show("cuThreadExchangeStreamCaptureMode(7)", cuThreadExchangeStreamCaptureMode(&mode));

  // Attributes promise only what the calls deliver.
  const struct {
    const char* name;
    CUdevice_attribute attribute;
  } promises[] = {{"MEMORY_POOLS_SUPPORTED", CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED},
                  {"VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED", CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED},
                  {"MANAGED_MEMORY", CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY},
                  {"IPC_EVENT_SUPPORTED", CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED},
                  {"CAN_USE_64_BIT_STREAM_MEM_OPS", CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS},
                  {"UNIFIED_ADDRESSING", CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING}};
  for (const auto& promise : promises) {
    int value = -1;
    CUresult result = cuDeviceGetAttribute(&value, promise.attribute, 0);
    std::printf("attribute %-48s -> %d, %d\n", promise.name, static_cast<int>(result), value);
  }
  // Texture limits (cuDNN and texture code ask before binding linear memory).
  std::size_t linearWidth = 0;
  CUresult asked = cuDeviceGetTexture1DLinearMaxWidth(&linearWidth, CU_AD_FORMAT_FLOAT, 4, 0);
  std::printf("%-58s -> %d, %zu\n", "cuDeviceGetTexture1DLinearMaxWidth(float4)", static_cast<int>(asked), linearWidth);
  show("cuDeviceGetTexture1DLinearMaxWidth(3 channels)",
       cuDeviceGetTexture1DLinearMaxWidth(&linearWidth, CU_AD_FORMAT_FLOAT, 3, 0));
  show("cuDeviceGetTexture1DLinearMaxWidth(device 99)",
       cuDeviceGetTexture1DLinearMaxWidth(&linearWidth, CU_AD_FORMAT_FLOAT, 1, 99));
  show("cuDeviceGetTexture1DLinearMaxWidth(null)", cuDeviceGetTexture1DLinearMaxWidth(nullptr, CU_AD_FORMAT_FLOAT, 1, 0));
  // Context and stream queries.
  CUsharedconfig banks = CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE;
  CUresult got = cuCtxGetSharedMemConfig(&banks);
  std::printf("%-58s -> %d, %d\n", "cuCtxGetSharedMemConfig", static_cast<int>(got), banks);
  show("cuCtxSetSharedMemConfig(eight bytes)", cuCtxSetSharedMemConfig(CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE));
  show("cuCtxSetSharedMemConfig(9)", cuCtxSetSharedMemConfig(static_cast<CUsharedconfig>(9)));
  show("cuProfilerStart", cuProfilerStart());
  show("cuProfilerStop", cuProfilerStop());
  CUcontext owner = nullptr;
  CUgreenCtx green = reinterpret_cast<CUgreenCtx>(1);
  got = cuStreamGetCtx_v2(stream, &owner, &green);
  std::printf("%-58s -> %d, own context %d, green %d\n", "cuStreamGetCtx_v2(stream)", static_cast<int>(got),
              owner == context, green == nullptr);
  unsigned long long idOfStream = 0, idAgain = 0, idOfLegacy = 0;
  show("cuStreamGetId(stream)", cuStreamGetId(stream, &idOfStream));
  cuStreamGetId(stream, &idAgain);
  cuStreamGetId(CU_STREAM_LEGACY, &idOfLegacy);
  std::printf("%-58s -> same %d, distinct from the legacy stream %d\n", "stream ids", idOfStream == idAgain,
              idOfStream != idOfLegacy);
  // Managed-memory hints on memory that is not managed: accepted, they change nothing.
  CUdeviceptr buffer = 0;
  cuMemAlloc(&buffer, 1 << 20);
  CUmemLocation onDevice{CU_MEM_LOCATION_TYPE_DEVICE, 0};
  show("cuMemPrefetchAsync(device memory)", cuMemPrefetchAsync(buffer, 1 << 20, onDevice, 0, stream));
  show("cuMemPrefetchAsync(past its end)", cuMemPrefetchAsync(buffer, (1 << 20) + 1, onDevice, 0, stream));
  show("cuMemAdvise(read mostly)", cuMemAdvise(buffer, 4096, CU_MEM_ADVISE_SET_READ_MOSTLY, onDevice));
  show("cuMemAdvise(advice 99)", cuMemAdvise(buffer, 4096, static_cast<CUmem_advise>(99), onDevice));
  show("cuMemAdvise(not memory)", cuMemAdvise(0x1000, 4096, CU_MEM_ADVISE_SET_READ_MOSTLY, onDevice));
  cuMemFree(buffer);
  cuStreamDestroy(stream);
  cuCtxSetCurrent(nullptr);
  show("cuProfilerStart without a context", cuProfilerStart());
  show("cuCtxGetSharedMemConfig without a context", cuCtxGetSharedMemConfig(&banks));
  std::printf("framework_queries: done\n");
  return 0;
}
