// Stream captures of one thread while another thread works, as a multi-threaded framework does
// (each thread captures its own graphs in thread-local mode): the other thread's page-locked
// memory comes and goes and its stream is synchronized meanwhile, which the driver allows and
// which must not invalidate the capture; the capturing thread's own unsafe call does invalidate
// its capture. The threads take turns (so the output is deterministic) and report at the end.
#include <cuda.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

CUcontext context = nullptr;
std::vector<std::string> lines;  // what each step did, in the order the steps took turns
std::mutex mutex;
std::condition_variable turned;
int turn = 0;
int failures = 0;

void record(const char* who, const char* what, CUresult result, CUresult expected = CUDA_SUCCESS) {
  const char* name = nullptr;
  cuGetErrorName(result, &name);
  lines.push_back(std::string(who) + ": " + what + " -> " + (name != nullptr ? name : "?"));
  if (result != expected) ++failures;
}

// Runs `step` when it is step `mine`'s turn, then gives the turn on.
template <typename Step>
void inTurn(int mine, Step&& step) {
  std::unique_lock lock(mutex);
  turned.wait(lock, [&] { return turn == mine; });
  step();
  ++turn;
  turned.notify_all();
}

void capturing() {
  cuCtxSetCurrent(context);
  CUstream stream = nullptr;
  CUdeviceptr a = 0, b = 0;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  inTurn(0, [&] {
    record("capturer", "cuStreamCreate", cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    record("capturer", "cuMemAlloc(a)", cuMemAlloc(&a, 4096));
    record("capturer", "cuMemAlloc(b)", cuMemAlloc(&b, 4096));
    record("capturer", "cuStreamBeginCapture(thread-local)",
           cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    record("capturer", "cuMemsetD32Async(a, 77) captured", cuMemsetD32Async(a, 77, 1024, stream));
  });
  inTurn(2, [&] {
    record("capturer", "cuMemcpyDtoDAsync(b, a) captured", cuMemcpyDtoDAsync(b, a, 4096, stream));
    record("capturer", "cuStreamEndCapture", cuStreamEndCapture(stream, &graph));
    record("capturer", "cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&exec, graph, 0));
    record("capturer", "cuGraphLaunch", cuGraphLaunch(exec, stream));
    record("capturer", "cuStreamSynchronize", cuStreamSynchronize(stream));
    unsigned last = 0;
    record("capturer", "cuMemcpyDtoH(b's last word)", cuMemcpyDtoH(&last, b + 4092, sizeof(last)));
    lines.push_back("capturer: the replay wrote " + std::to_string(last));
    // Its own unsafe call, under its own thread-local capture: refused, and the capture is lost.
    record("capturer", "cuStreamBeginCapture(thread-local) again",
           cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    void* pinned = nullptr;
    record("capturer", "cuMemAllocHost during its own capture", cuMemAllocHost(&pinned, 4096),
           CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CUgraph lost = nullptr;
    record("capturer", "cuStreamEndCapture", cuStreamEndCapture(stream, &lost), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    record("capturer", "cuGraphExecDestroy", cuGraphExecDestroy(exec));
    record("capturer", "cuGraphDestroy", cuGraphDestroy(graph));
    record("capturer", "cuStreamDestroy", cuStreamDestroy(stream));
    cuMemFree(a);
    cuMemFree(b);
  });
}

void working() {
  cuCtxSetCurrent(context);
  inTurn(1, [&] {
    CUstream stream = nullptr;
    CUdeviceptr c = 0;
    void* pinned = nullptr;
    static char pageable[8192];
    record("worker", "cuStreamCreate", cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    record("worker", "cuMemAlloc", cuMemAlloc(&c, 4096));
    record("worker", "cuMemAllocHost", cuMemAllocHost(&pinned, 4096));
    record("worker", "cuMemsetD32Async", cuMemsetD32Async(c, 5, 1024, stream));
    record("worker", "cuMemcpyDtoHAsync", cuMemcpyDtoHAsync(pinned, c, 4096, stream));
    record("worker", "cuStreamSynchronize", cuStreamSynchronize(stream));
    unsigned first = 0;
    std::memcpy(&first, pinned, sizeof(first));
    lines.push_back("worker: read " + std::to_string(first));
    record("worker", "cuMemFreeHost", cuMemFreeHost(pinned));
    void* page = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(pageable) + 4095) & ~std::uintptr_t{4095});
    record("worker", "cuMemHostRegister", cuMemHostRegister(page, 4096, 0));
    record("worker", "cuMemHostUnregister", cuMemHostUnregister(page));
    record("worker", "cuStreamDestroy", cuStreamDestroy(stream));
    cuMemFree(c);
  });
}

}  // namespace

int main() {
  if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&context, 0) != CUDA_SUCCESS) {
    std::printf("capture_threads: setup failed\n");
    return 1;
  }
  std::thread capturer(capturing), worker(working);
  capturer.join();
  worker.join();
  for (const auto& line : lines) std::printf("%s\n", line.c_str());
  if (failures == 0) std::printf("capture_threads: done\n");
  return failures == 0 ? 0 : 1;
}
