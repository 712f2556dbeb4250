// Stream-ordered memory through the runtime API, as PyTorch's cudaMallocAsync backend and the
// CUDA samples use it: the default pool with a release threshold, a pool of the program's own,
// allocations across two streams, trimming, pool attributes and access; graph memory nodes
// (added, and captured from cudaMallocAsync), auto-free-on-launch, the graph memory attributes;
// a user object moved into a graph. No kernels: it runs on cudasim without twins. A run through
// FastGPU must print the same.
#include <cuda_runtime.h>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#define CHECK(x) do { cudaError_t err_ = (x); std::printf("%-72s %s\n", #x, cudaGetErrorName(err_)); } while (0)
static std::mutex destroyedMutex;
static std::condition_variable destroyedChanged;
static bool destroyed = false;
static void CUDART_CB destroy(void*) {
  std::lock_guard<std::mutex> lock(destroyedMutex);
  destroyed = true;
  destroyedChanged.notify_all();
}
int main() {
  const size_t MiB = 1 << 20;
  cudaStream_t s1, s2;
  CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CHECK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  cudaMemPool_t pool;
  CHECK(cudaDeviceGetDefaultMemPool(&pool, 0));
  uint64_t threshold = UINT64_MAX;
  CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  void *a = nullptr, *b = nullptr, *c = nullptr;
  CHECK(cudaMallocAsync(&a, 4 * MiB, s1));
  CHECK(cudaMallocAsync(&b, 2 * MiB, s2));
  CHECK(cudaMemsetAsync(a, 7, 4 * MiB, s1));
  cudaEvent_t done; CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  CHECK(cudaEventRecord(done, s1));
  CHECK(cudaStreamWaitEvent(s2, done, 0));
  CHECK(cudaMemcpyAsync(b, a, 2 * MiB, cudaMemcpyDeviceToDevice, s2));
  static unsigned char host[2 << 20];
  CHECK(cudaMemcpyAsync(host, b, 2 * MiB, cudaMemcpyDeviceToHost, s2));
  CHECK(cudaStreamSynchronize(s2));
  std::printf("copied through the pool: %d %d\n", host[0], host[2 * MiB - 1]);
  CHECK(cudaFreeAsync(a, s1));
  CHECK(cudaFreeAsync(b, s2));
  CHECK(cudaDeviceSynchronize());
  uint64_t used = 1, reserved = 0;
  CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used));
  CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved));
  std::printf("after the frees: used %llu, reserved at least 6 MiB: %s\n", (unsigned long long)used,
              reserved >= 6 * MiB ? "yes" : "no");
  CHECK(cudaMemPoolTrimTo(pool, 0));
  CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved));
  std::printf("after trimming: reserved %llu\n", (unsigned long long)reserved);

  cudaMemPoolProps props = {};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = 0;
  cudaMemPool_t own;
  CHECK(cudaMemPoolCreate(&own, &props));
  CHECK(cudaMallocFromPoolAsync(&c, MiB, own, s1));
  cudaMemLocation where = {cudaMemLocationTypeDevice, 0};
  cudaMemAccessFlags flags;
  CHECK(cudaMemPoolGetAccess(&flags, own, &where));
  std::printf("own pool access from device 0: %d\n", (int)flags);
  CHECK(cudaDeviceSetMemPool(0, own));
  cudaMemPool_t current;
  CHECK(cudaDeviceGetMemPool(&current, 0));
  std::printf("the device's pool is the program's: %s\n", current == own ? "yes" : "no");
  void* d = nullptr;
  CHECK(cudaMallocAsync(&d, MiB, s1));  // from the device's pool now
  CHECK(cudaFreeAsync(d, s1));
  CHECK(cudaFreeAsync(c, s1));
  CHECK(cudaStreamSynchronize(s1));
  CHECK(cudaDeviceSetMemPool(0, pool));
  CHECK(cudaMemPoolDestroy(own));

  // Graph memory: a node pair added by hand, then one captured.
  cudaGraph_t g; CHECK(cudaGraphCreate(&g, 0));
  cudaMemAllocNodeParams alloc = {};
  alloc.poolProps.allocType = cudaMemAllocationTypePinned;
  alloc.poolProps.location = where;
  alloc.bytesize = 2 * MiB;
  cudaGraphNode_t allocNode, setNode, freeNode;
  CHECK(cudaGraphAddMemAllocNode(&allocNode, g, nullptr, 0, &alloc));
  cudaMemsetParams m = {}; m.dst = alloc.dptr; m.value = 3; m.elementSize = 1; m.width = 2 * MiB; m.height = 1;
  CHECK(cudaGraphAddMemsetNode(&setNode, g, &allocNode, 1, &m));
  CHECK(cudaGraphAddMemFreeNode(&freeNode, g, &setNode, 1, alloc.dptr));
  cudaGraphExec_t e; CHECK(cudaGraphInstantiate(&e, g, 0));
  CHECK(cudaGraphLaunch(e, s1));
  CHECK(cudaGraphLaunch(e, s1));
  CHECK(cudaStreamSynchronize(s1));
  uint64_t graphReserved = 0;
  CHECK(cudaDeviceGetGraphMemAttribute(0, cudaGraphMemAttrReservedMemCurrent, &graphReserved));
  std::printf("graph memory reserved at least 2 MiB: %s\n", graphReserved >= 2 * MiB ? "yes" : "no");
  CHECK(cudaGraphExecDestroy(e));
  CHECK(cudaGraphDestroy(g));

  void* kept = nullptr;
  CHECK(cudaStreamBeginCapture(s1, cudaStreamCaptureModeGlobal));
  CHECK(cudaMallocAsync(&kept, MiB, s1));
  CHECK(cudaMemsetAsync(kept, 9, MiB, s1));
  CHECK(cudaStreamEndCapture(s1, &g));
  CHECK(cudaGraphInstantiate(&e, g, 0));
  CHECK(cudaGraphLaunch(e, s1));
  CHECK(cudaGraphLaunch(e, s1));  // its allocation is still live: refused
  CHECK(cudaStreamSynchronize(s1));
  CHECK(cudaGetLastError());
  CHECK(cudaFree(kept));
  cudaGraphExec_t autoFree;
  CHECK(cudaGraphInstantiateWithFlags(&autoFree, g, cudaGraphInstantiateFlagAutoFreeOnLaunch));
  CHECK(cudaGraphLaunch(autoFree, s1));
  CHECK(cudaGraphLaunch(autoFree, s1));
  CHECK(cudaStreamSynchronize(s1));
  CHECK(cudaMemcpy(host, kept, 16, cudaMemcpyDeviceToHost));
  std::printf("the captured allocation holds %d\n", host[0]);
  CHECK(cudaFree(kept));

  cudaUserObject_t object;
  CHECK(cudaUserObjectCreate(&object, nullptr, destroy, 1, cudaUserObjectNoDestructorSync));
  CHECK(cudaGraphRetainUserObject(g, object, 1, cudaGraphUserObjectMove));
  CHECK(cudaGraphExecDestroy(e));
  CHECK(cudaGraphExecDestroy(autoFree));
  CHECK(cudaGraphDestroy(g));
  {
    // Its destructor runs on a thread of the driver's, soon after the last reference went.
    std::unique_lock<std::mutex> lock(destroyedMutex);
    bool ran = destroyedChanged.wait_for(lock, std::chrono::seconds(10), [] { return destroyed; });
    std::printf("user object destroyed with its graph: %s\n", ran ? "yes" : "no");
  }
  CHECK(cudaDeviceSynchronize());
  std::printf("runtime_memory: done\n");
  return 0;
}
