// Host work in the middle of a graph, in stream order: a captured host function and a host node
// added by hand, each with device work and copies before and after it, a captured copy from host
// memory to host memory, a host node in a child graph, and captured stream memory operations. A host function reads
// what a copy to the host before it delivered and writes what a copy from the host after it
// sends; device work after it runs once it returned. Two replays of each, and two threads
// launching graphs with host work at once while a third synchronizes. A run through FastGPU must
// print the same as natively.
#include <cuda.h>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <utility>

#include "call_report.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

constexpr int kWords = 256;

struct Buffers {
  CUdeviceptr a = 0, b = 0, c = 0;
  int* seenA = nullptr;   // pinned: a copy to the host before the host work
  int* sendB = nullptr;   // pinned: what the host work sends to the device after it
  int* seenB = nullptr;   // pinned: b, copied back after the host work
  int* seenC = nullptr;   // pinned: a parallel branch's result
  int* copyB = nullptr;   // pinned: seenB copied host to host at the end of the capture
  int replay = 0;
  int hostCalls = 0;
  int sawFirst = 0, sawLast = 0;  // what the host work saw of a (printed after the replay: a host
                                  // function runs on another thread, natively)
};

// The host work: what it saw of `a`, and a value for `b` made from it.
void onHost(void* data) {
  auto* buffers = static_cast<Buffers*>(data);
  ++buffers->hostCalls;
  buffers->sawFirst = buffers->seenA[0];
  buffers->sawLast = buffers->seenA[kWords - 1];
  for (int i = 0; i < kWords; ++i) buffers->sendB[i] = buffers->seenA[i] * 10 + buffers->replay;
}

bool allocate(Buffers& buffers) {
  bool ok = cuMemAlloc(&buffers.a, kWords * sizeof(int)) == CUDA_SUCCESS &&
            cuMemAlloc(&buffers.b, kWords * sizeof(int)) == CUDA_SUCCESS &&
            cuMemAlloc(&buffers.c, kWords * sizeof(int)) == CUDA_SUCCESS;
  for (int** host : {&buffers.seenA, &buffers.sendB, &buffers.seenB, &buffers.seenC, &buffers.copyB}) {
    ok = ok && cuMemAllocHost(reinterpret_cast<void**>(host), kWords * sizeof(int)) == CUDA_SUCCESS;
    if (ok) std::fill_n(*host, kWords, 0);
  }
  return ok;
}

void release(Buffers& buffers) {
  for (CUdeviceptr device : {buffers.a, buffers.b, buffers.c}) cuMemFree(device);
  for (int* host : {buffers.seenA, buffers.sendB, buffers.seenB, buffers.seenC, buffers.copyB}) cuMemFreeHost(host);
}

void print(const char* what, const Buffers& buffers) {
  std::printf("  %s: the host work saw a[0]=%d a[%d]=%d; b[0]=%d b[%d]=%d c[0]=%d host calls=%d; copied b[0]=%d\n",
              what, buffers.sawFirst, kWords - 1, buffers.sawLast, buffers.seenB[0], kWords - 1,
              buffers.seenB[kWords - 1], buffers.seenC[0], buffers.hostCalls, buffers.copyB[0]);
}

// memset a -> copy a to the host -> host work -> copy the host's values to b -> memset a again ->
// copy b to the host -> copy that host to host; a side stream sets c and copies it to the host
// meanwhile.
CUgraph capture(CUstream stream, CUstream side, CUevent fork, CUevent join, Buffers& buffers, unsigned value) {
  CUgraph graph = nullptr;
  report("cuStreamBeginCapture(global)", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  report("  capture cuMemsetD32Async(a)", cuMemsetD32Async(buffers.a, value, kWords, stream));
  report("  capture cuEventRecord(fork)", cuEventRecord(fork, stream));
  report("  cuStreamWaitEvent(side, fork)", cuStreamWaitEvent(side, fork, 0));
  report("  capture cuMemsetD32Async(c) on the side", cuMemsetD32Async(buffers.c, value + 100, kWords, side));
  report("  capture cuMemcpyDtoHAsync(c) on the side",
         cuMemcpyDtoHAsync(buffers.seenC, buffers.c, kWords * sizeof(int), side));
  report("  capture cuEventRecord(join) on the side", cuEventRecord(join, side));
  report("  capture cuMemcpyDtoHAsync(a)", cuMemcpyDtoHAsync(buffers.seenA, buffers.a, kWords * sizeof(int), stream));
  report("  capture cuLaunchHostFunc", cuLaunchHostFunc(stream, onHost, &buffers));
  report("  capture cuMemcpyHtoDAsync(b) after it",
         cuMemcpyHtoDAsync(buffers.b, buffers.sendB, kWords * sizeof(int), stream));
  report("  capture cuMemsetD32Async(a) after it", cuMemsetD32Async(buffers.a, 0, kWords, stream));
  report("  capture cuMemcpyDtoHAsync(b)", cuMemcpyDtoHAsync(buffers.seenB, buffers.b, kWords * sizeof(int), stream));
  report("  capture cuMemcpyAsync(host to host)",
         cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(buffers.copyB), reinterpret_cast<CUdeviceptr>(buffers.seenB),
                       kWords * sizeof(int), stream));
  report("  cuStreamWaitEvent(join)", cuStreamWaitEvent(stream, join, 0));
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &graph));
  return graph;
}

// A copy node's parameters: the words of `device` to `host`.
CUDA_MEMCPY3D toHostCopy(CUdeviceptr device, int* host) {
  CUDA_MEMCPY3D copy{};
  copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = device;
  copy.dstMemoryType = CU_MEMORYTYPE_HOST;
  copy.dstHost = host;
  copy.WidthInBytes = kWords * sizeof(int);
  copy.Height = 1;
  copy.Depth = 1;
  return copy;
}

// Stream memory operations captured between device work and host work: a write of `value` to
// a's first word, a wait for it, a copy of a to the host, the host work.
CUgraph captureMemoryOperations(CUstream stream, Buffers& buffers, unsigned value) {
  CUgraph graph = nullptr;
  report("cuStreamBeginCapture(global)", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  report("  capture cuMemsetD32Async(a, 0)", cuMemsetD32Async(buffers.a, 0, kWords, stream));
  report("  capture cuStreamWriteValue32(a)", cuStreamWriteValue32(stream, buffers.a, value, 0));
  report("  capture cuStreamWaitValue32(a, EQ)", cuStreamWaitValue32(stream, buffers.a, value, CU_STREAM_WAIT_VALUE_EQ));
  report("  capture cuMemcpyDtoHAsync(a)", cuMemcpyDtoHAsync(buffers.seenA, buffers.a, kWords * sizeof(int), stream));
  report("  capture cuLaunchHostFunc", cuLaunchHostFunc(stream, onHost, &buffers));
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &graph));
  return graph;
}

// A memset node of `words` of `value` at `device`, after `after` (when not null).
CUgraphNode addMemset(CUgraph graph, CUgraphNode after, CUdeviceptr device, unsigned value, CUcontext context,
                      const char* what) {
  CUDA_MEMSET_NODE_PARAMS set{};
  set.dst = device;
  set.value = value;
  set.elementSize = 4;
  set.width = kWords;
  set.height = 1;
  CUgraphNode node = nullptr;
  report(what, cuGraphAddMemsetNode(&node, graph, after != nullptr ? &after : nullptr, after != nullptr ? 1 : 0, &set,
                                    context));
  return node;
}

// A copy node of `device` to `host`, after `after`.
CUgraphNode addToHost(CUgraph graph, CUgraphNode after, CUdeviceptr device, int* host, CUcontext context,
                      const char* what) {
  CUDA_MEMCPY3D copy = toHostCopy(device, host);
  CUgraphNode node = nullptr;
  report(what, cuGraphAddMemcpyNode(&node, graph, &after, 1, &copy, context));
  return node;
}

// After `after` (the host work): what the host work left is copied to b, and b back to the host.
void addSendAndReceive(CUgraph graph, CUgraphNode after, Buffers& buffers, CUcontext context) {
  CUDA_MEMCPY3D send = toHostCopy(buffers.b, buffers.sendB);  // turned round: from the host to b
  std::swap(send.srcMemoryType, send.dstMemoryType);
  send.srcHost = buffers.sendB;
  send.dstDevice = buffers.b;
  CUgraphNode toB = nullptr;
  report("cuGraphAddMemcpyNode(to b after the host work)", cuGraphAddMemcpyNode(&toB, graph, &after, 1, &send, context));
  addToHost(graph, toB, buffers.b, buffers.seenB, context, "cuGraphAddMemcpyNode(b to the host)");
}

// The same shape, node by node: memset a -> copy a to the host -> host node -> copy to b ->
// copy b to the host; memset c -> copy c to the host beside it.
CUgraph build(Buffers& buffers, unsigned value) {
  CUgraph graph = nullptr;
  report("cuGraphCreate", cuGraphCreate(&graph, 0));
  CUcontext context = nullptr;
  cuCtxGetCurrent(&context);
  CUgraphNode setA = addMemset(graph, nullptr, buffers.a, value, context, "cuGraphAddMemsetNode(a)");
  CUgraphNode toHost = addToHost(graph, setA, buffers.a, buffers.seenA, context, "cuGraphAddMemcpyNode(a to the host)");
  CUgraphNode host = nullptr;
  CUDA_HOST_NODE_PARAMS onHostParams{onHost, &buffers};
  report("cuGraphAddHostNode", cuGraphAddHostNode(&host, graph, &toHost, 1, &onHostParams));
  addSendAndReceive(graph, host, buffers, context);
  CUgraphNode setC = addMemset(graph, nullptr, buffers.c, value + 100, context, "cuGraphAddMemsetNode(c)");
  addToHost(graph, setC, buffers.c, buffers.seenC, context, "cuGraphAddMemcpyNode(c to the host)");
  return graph;
}

// A child graph of one host node between a copy of a to the host and a copy to b: the host
// work reaches the child's graph through its holding graph.
CUgraph withChild(Buffers& buffers, unsigned value) {
  CUcontext context = nullptr;
  cuCtxGetCurrent(&context);
  CUgraph child = nullptr, graph = nullptr;
  report("cuGraphCreate(child)", cuGraphCreate(&child, 0));
  CUgraphNode host = nullptr, inChild = nullptr;
  CUDA_HOST_NODE_PARAMS onHostParams{onHost, &buffers};
  report("cuGraphAddHostNode(in the child)", cuGraphAddHostNode(&host, child, nullptr, 0, &onHostParams));
  report("cuGraphCreate", cuGraphCreate(&graph, 0));
  CUgraphNode setA = addMemset(graph, nullptr, buffers.a, value, context, "cuGraphAddMemsetNode(a)");
  CUgraphNode toHost = addToHost(graph, setA, buffers.a, buffers.seenA, context, "cuGraphAddMemcpyNode(a to the host)");
  report("cuGraphAddChildGraphNode", cuGraphAddChildGraphNode(&inChild, graph, &toHost, 1, child));
  report("cuGraphDestroy(child)", cuGraphDestroy(child));
  addSendAndReceive(graph, inChild, buffers, context);
  return graph;
}

void replay(CUgraph graph, CUstream stream, Buffers& buffers, const char* what) {
  CUgraphExec exec = nullptr;
  report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&exec, graph, 0));
  for (int i = 1; i <= 2; ++i) {
    buffers.replay = i;
    report("cuGraphLaunch", cuGraphLaunch(exec, stream));
    report("cuStreamSynchronize", cuStreamSynchronize(stream));
    print(what, buffers);
  }
  report("cuGraphExecDestroy", cuGraphExecDestroy(exec));
  report("cuGraphDestroy", cuGraphDestroy(graph));
}

// Two threads each replay a graph with host work on their own stream, four times, while a third
// synchronizes the context; each checks its own results (printed after the threads joined).
void concurrently(CUcontext context) {
  Buffers buffers[2];
  CUgraphExec execs[2] = {};
  CUstream streams[2] = {};
  for (int t = 0; t < 2; ++t) {
    if (!allocate(buffers[t])) {
      ++failures;
      return;
    }
    cuStreamCreate(&streams[t], CU_STREAM_NON_BLOCKING);
    CUgraph graph = build(buffers[t], 10 * (t + 1));
    report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&execs[t], graph, 0));
    cuGraphDestroy(graph);
  }
  bool right[2] = {true, true};
  auto launcher = [&](int t) {
    cuCtxSetCurrent(context);
    for (int i = 1; i <= 4; ++i) {
      buffers[t].replay = i;
      bool ok = cuGraphLaunch(execs[t], streams[t]) == CUDA_SUCCESS && cuStreamSynchronize(streams[t]) == CUDA_SUCCESS;
      right[t] = right[t] && ok && buffers[t].seenB[0] == 10 * (t + 1) * 10 + i;
    }
  };
  std::thread first(launcher, 0), second(launcher, 1);
  std::thread synchronizer([&] {
    cuCtxSetCurrent(context);
    for (int i = 0; i < 4; ++i) {
      if (cuCtxSynchronize() != CUDA_SUCCESS) ++failures;
    }
  });
  first.join();
  second.join();
  synchronizer.join();
  for (int t = 0; t < 2; ++t) {
    std::printf("  thread %d: every replay right: %d, host calls=%d\n", t, right[t], buffers[t].hostCalls);
    if (!right[t]) ++failures;
    cuGraphExecDestroy(execs[t]);
    cuStreamDestroy(streams[t]);
    release(buffers[t]);
  }
}

}  // namespace

int main() {
  CUdevice device = 0;
  CUcontext context = nullptr;
  report("cuInit", cuInit(0));
  report("cuDeviceGet", cuDeviceGet(&device, 0));
  report("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(&context, device));
  report("cuCtxSetCurrent", cuCtxSetCurrent(context));
  CUstream stream = nullptr, side = nullptr;
  CUevent fork = nullptr, join = nullptr;
  report("cuStreamCreate", cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  report("cuStreamCreate(side)", cuStreamCreate(&side, CU_STREAM_NON_BLOCKING));
  report("cuEventCreate", cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING));
  report("cuEventCreate", cuEventCreate(&join, CU_EVENT_DISABLE_TIMING));
  Buffers captured, built;
  if (!allocate(captured) || !allocate(built)) {
    std::printf("graph_host_points: allocation failed\n");
    return 1;
  }
  std::printf("a captured host function between device work:\n");
  replay(capture(stream, side, fork, join, captured, 7), stream, captured, "captured");
  std::printf("a host node added between copies:\n");
  replay(build(built, 3), stream, built, "built");
  Buffers held;
  if (!allocate(held)) return 1;
  Buffers operated;
  if (!allocate(operated)) return 1;
  std::printf("stream memory operations captured:\n");
  replay(captureMemoryOperations(stream, operated, 9), stream, operated, "memory operations");
  release(operated);
  std::printf("a host node in a child graph:\n");
  replay(withChild(held, 5), stream, held, "child");
  release(held);
  std::printf("two threads replaying while a third synchronizes:\n");
  concurrently(context);
  release(captured);
  release(built);
  cuEventDestroy(fork);
  cuEventDestroy(join);
  cuStreamDestroy(side);
  cuStreamDestroy(stream);
  cuDevicePrimaryCtxRelease(device);
  if (failures > 0) {
    std::printf("graph_host_points: %d failures\n", failures);
    return 1;
  }
  std::printf("graph_host_points: done\n");
  return 0;
}
