// Per-thread default streams (built with --default-stream per-thread): each thread of a process
// has its own, as a framework's worker threads do. Four threads capture their per-thread streams
// at the same time (thread-local mode), each a memset, a copy into page-locked memory and a host
// function, then replay their graphs. Through FastGPU each client thread must get a stream of its
// own on the server, or the second capture would find the stream capturing already. Each thread
// reports when all are done.
#include <cuda_runtime.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 4;
constexpr size_t kBytes = 1 << 16;

// All threads wait here until every one has arrived (reused: generations).
class Barrier {
 public:
  void arriveAndWait() {
    std::unique_lock lock(mutex_);
    int generation = generation_;
    if (++arrived_ == kThreads) {
      arrived_ = 0;
      ++generation_;
      all_.notify_all();
      return;
    }
    all_.wait(lock, [&] { return generation_ != generation; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_;
  int arrived_ = 0, generation_ = 0;
};

Barrier barrier;
std::vector<std::string> lines[kThreads];
int failures[kThreads] = {};

void CUDART_CB countCall(void* calls) { ++*static_cast<int*>(calls); }

void report(int id, const char* what, cudaError_t result) {
  lines[id].push_back(std::string("thread ") + std::to_string(id) + ": " + what + " -> " + cudaGetErrorName(result));
  if (result != cudaSuccess) ++failures[id];
}

void work(int id) {
  cudaStream_t stream = cudaStreamPerThread;
  void* device = nullptr;
  unsigned char* pinned = nullptr;
  int calls = 0;
  report(id, "cudaSetDevice", cudaSetDevice(0));
  report(id, "cudaMallocHost", cudaMallocHost(reinterpret_cast<void**>(&pinned), kBytes));
  report(id, "cudaMallocAsync(per-thread stream)", cudaMallocAsync(&device, kBytes, stream));
  report(id, "cudaStreamSynchronize", cudaStreamSynchronize(stream));
  barrier.arriveAndWait();
  report(id, "cudaStreamBeginCapture(thread-local)", cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  barrier.arriveAndWait();  // every thread's per-thread stream is capturing now
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  report(id, "cudaStreamIsCapturing", cudaStreamIsCapturing(stream, &status));
  lines[id].push_back("thread " + std::to_string(id) + ": capturing " + std::to_string(status == cudaStreamCaptureStatusActive));
  report(id, "cudaMemsetAsync", cudaMemsetAsync(device, 10 + id, kBytes, stream));
  report(id, "cudaMemcpyAsync(to page-locked)", cudaMemcpyAsync(pinned, device, kBytes, cudaMemcpyDeviceToHost, stream));
  report(id, "cudaLaunchHostFunc", cudaLaunchHostFunc(stream, countCall, &calls));
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  report(id, "cudaStreamEndCapture", cudaStreamEndCapture(stream, &graph));
  barrier.arriveAndWait();
  report(id, "cudaGraphInstantiate", cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 2; ++replay) report(id, "cudaGraphLaunch", cudaGraphLaunch(exec, stream));
  report(id, "cudaStreamSynchronize", cudaStreamSynchronize(stream));
  int right = 0;
  for (size_t i = 0; i < kBytes; ++i) right += pinned[i] == 10 + id;
  lines[id].push_back("thread " + std::to_string(id) + ": " + std::to_string(right) + " bytes of " +
                      std::to_string(10 + id) + ", the host function ran " + std::to_string(calls) + " times");
  if (right != static_cast<int>(kBytes) || calls != 2) ++failures[id];
  report(id, "cudaGraphExecDestroy", cudaGraphExecDestroy(exec));
  report(id, "cudaGraphDestroy", cudaGraphDestroy(graph));
  report(id, "cudaFreeAsync", cudaFreeAsync(device, stream));
  report(id, "cudaStreamSynchronize", cudaStreamSynchronize(stream));
  report(id, "cudaFreeHost", cudaFreeHost(pinned));
}

}  // namespace

int main() {
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) threads.emplace_back(work, id);
  for (auto& thread : threads) thread.join();
  int total = 0;
  for (int id = 0; id < kThreads; ++id) {
    for (const auto& line : lines[id]) std::printf("%s\n", line.c_str());
    total += failures[id];
  }
  if (total == 0) std::printf("per_thread_streams: done\n");
  return total == 0 ? 0 : 1;
}
