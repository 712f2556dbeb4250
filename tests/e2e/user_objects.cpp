// CUDA user objects as libraries use them (NCCL ties its captured plans to the graph being
// captured; the programming guide's pattern moves a resource's reference into a graph): the
// program's references, a graph's (added, or moved from the program), copied into clones and
// executables, replaced by an executable's update, and released with their graphs; the
// destructor runs once the last reference goes, on a thread of the driver's. Bad arguments and
// forged handles are refused. A run through FastGPU must print the same.
#include <cuda.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>

#include "call_report.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

// Which objects' destructors ran (each object's pointer is its name).
std::mutex destroyedMutex;
std::condition_variable destroyedChanged;
std::set<char> destroyed;

void destroy(void* name) {
  std::lock_guard lock(destroyedMutex);
  destroyed.insert(*static_cast<char*>(name));
  destroyedChanged.notify_all();
}

// Once its last reference went, its destructor runs soon (on another thread).
void expectDestroyed(char& name) {
  std::unique_lock lock(destroyedMutex);
  bool ran = destroyedChanged.wait_for(lock, std::chrono::seconds(10), [&] { return destroyed.contains(name); });
  std::printf("object %c: %s\n", name, ran ? "destroyed" : "NOT destroyed");
  if (!ran) ++failures;
}

// While references remain, it must not have run. A destructor released too early runs on
// another thread a moment later: watched for 100 ms (never long for a correct run, which passes
// either way).
void expectAlive(char& name) {
  std::unique_lock lock(destroyedMutex);
  bool ran = destroyedChanged.wait_for(lock, std::chrono::milliseconds(100), [&] { return destroyed.contains(name); });
  std::printf("object %c: %s\n", name, ran ? "destroyed too early" : "alive");
  if (ran) ++failures;
}

CUuserObject make(char& name, unsigned count = 1) {
  CUuserObject object = nullptr;
  char what[64];
  std::snprintf(what, sizeof(what), "cuUserObjectCreate(%c, count %u)", name, count);
  report(what, cuUserObjectCreate(&object, &name, destroy, count, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  return object;
}

// A graph of one memset (so that an executable made from it can be updated from another).
CUgraph memsetGraph(CUdeviceptr target, unsigned value) {
  CUgraph graph = nullptr;
  report("cuGraphCreate", cuGraphCreate(&graph, 0));
  CUDA_MEMSET_NODE_PARAMS set{};
  set.dst = target;
  set.value = value;
  set.elementSize = 4;
  set.width = 1;
  set.height = 1;
  CUcontext context = nullptr;
  cuCtxGetCurrent(&context);
  CUgraphNode node;
  report("cuGraphAddMemsetNode", cuGraphAddMemsetNode(&node, graph, nullptr, 0, &set, context));
  return graph;
}

}  // namespace

int main() {
  CUdevice device;
  CUcontext context;
  CUstream stream;
  CUdeviceptr word;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&device, 0) != CUDA_SUCCESS ||
      cuCtxCreate(&context, nullptr, 0, device) != CUDA_SUCCESS ||
      cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS || cuMemAlloc(&word, 4) != CUDA_SUCCESS) {
    std::printf("user_objects: setup failed\n");
    return 1;
  }
  char a = 'A', b = 'B', c = 'C', d = 'D', e = 'E';

  std::printf("-- arguments\n");
  CUuserObject refused = nullptr;
  report("cuUserObjectCreate(no destructor)", cuUserObjectCreate(&refused, &a, nullptr, 1, 1), CUDA_ERROR_INVALID_VALUE);
  report("cuUserObjectCreate(count 0)", cuUserObjectCreate(&refused, &a, destroy, 0, 1), CUDA_ERROR_INVALID_VALUE);
  report("cuUserObjectCreate(flags 0)", cuUserObjectCreate(&refused, &a, destroy, 1, 0), CUDA_ERROR_INVALID_VALUE);
  report("cuUserObjectRetain(a forged handle)", cuUserObjectRetain(reinterpret_cast<CUuserObject>(0x1234), 1),
         CUDA_ERROR_INVALID_VALUE);

  std::printf("-- the program's references\n");
  CUuserObject objectA = make(a);
  report("cuUserObjectRetain(A, 2)", cuUserObjectRetain(objectA, 2));
  report("cuUserObjectRetain(A, 0)", cuUserObjectRetain(objectA, 0), CUDA_ERROR_INVALID_VALUE);
  report("cuUserObjectRelease(A, 5)", cuUserObjectRelease(objectA, 5), CUDA_ERROR_INVALID_VALUE);
  report("cuUserObjectRelease(A, 2)", cuUserObjectRelease(objectA, 2));
  expectAlive(a);
  report("cuUserObjectRelease(A, 1)", cuUserObjectRelease(objectA, 1));
  expectDestroyed(a);
  report("cuUserObjectRetain(A, gone)", cuUserObjectRetain(objectA, 1), CUDA_ERROR_INVALID_VALUE);

  std::printf("-- a graph's references: moved, cloned, instantiated\n");
  CUuserObject objectB = make(b);
  CUgraph graph = memsetGraph(word, 1);
  report("cuGraphRetainUserObject(B, move 2)", cuGraphRetainUserObject(graph, objectB, 2, CU_GRAPH_USER_OBJECT_MOVE),
         CUDA_ERROR_INVALID_VALUE);  // the program has one
  report("cuGraphRetainUserObject(B, flags 2)", cuGraphRetainUserObject(graph, objectB, 1, 2), CUDA_ERROR_INVALID_VALUE);
  report("cuGraphRetainUserObject(B, move 1)", cuGraphRetainUserObject(graph, objectB, 1, CU_GRAPH_USER_OBJECT_MOVE));
  report("cuUserObjectRelease(B, the graph's)", cuUserObjectRelease(objectB, 1), CUDA_ERROR_INVALID_VALUE);
  report("cuGraphReleaseUserObject(B, 2)", cuGraphReleaseUserObject(graph, objectB, 2), CUDA_ERROR_INVALID_VALUE);
  CUgraph clone = nullptr;
  report("cuGraphClone", cuGraphClone(&clone, graph));
  CUgraphExec exec = nullptr;
  report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&exec, graph, 0));
  report("cuGraphLaunch", cuGraphLaunch(exec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  report("cuGraphDestroy(graph)", cuGraphDestroy(graph));
  expectAlive(b);
  report("cuGraphDestroy(clone)", cuGraphDestroy(clone));
  expectAlive(b);
  report("cuGraphExecDestroy", cuGraphExecDestroy(exec));
  expectDestroyed(b);

  std::printf("-- a graph's own references, released by the program\n");
  CUuserObject objectC = make(c);
  graph = memsetGraph(word, 2);
  report("cuGraphRetainUserObject(C, new 3)", cuGraphRetainUserObject(graph, objectC, 3, 0));
  report("cuUserObjectRelease(C, 1)", cuUserObjectRelease(objectC, 1));
  report("cuGraphReleaseUserObject(C, 2)", cuGraphReleaseUserObject(graph, objectC, 2));
  expectAlive(c);
  report("cuGraphReleaseUserObject(C, 1)", cuGraphReleaseUserObject(graph, objectC, 1));
  expectDestroyed(c);
  report("cuGraphReleaseUserObject(C, gone)", cuGraphReleaseUserObject(graph, objectC, 1), CUDA_ERROR_INVALID_VALUE);
  report("cuGraphDestroy", cuGraphDestroy(graph));

  std::printf("-- an executable's update takes the new graph's references\n");
  CUuserObject objectD = make(d);
  CUuserObject objectE = make(e);
  CUgraph first = memsetGraph(word, 3);
  CUgraph second = memsetGraph(word, 4);
  report("cuGraphRetainUserObject(first, D)", cuGraphRetainUserObject(first, objectD, 1, CU_GRAPH_USER_OBJECT_MOVE));
  report("cuGraphRetainUserObject(second, E)", cuGraphRetainUserObject(second, objectE, 1, CU_GRAPH_USER_OBJECT_MOVE));
  report("cuGraphInstantiateWithFlags(first)", cuGraphInstantiateWithFlags(&exec, first, 0));
  report("cuGraphDestroy(first)", cuGraphDestroy(first));
  expectAlive(d);
  CUgraphExecUpdateResultInfo info{};
  report("cuGraphExecUpdate(from second)", cuGraphExecUpdate(exec, second, &info));
  expectDestroyed(d);
  report("cuGraphDestroy(second)", cuGraphDestroy(second));
  expectAlive(e);
  report("cuGraphLaunch", cuGraphLaunch(exec, stream));
  report("cuGraphExecDestroy", cuGraphExecDestroy(exec));
  expectDestroyed(e);
  report("cuStreamSynchronize", cuStreamSynchronize(stream));

  std::printf("-- the graph of a capture (as NCCL ties its plans to it)\n");
  char f = 'F';
  CUuserObject objectF = make(f);
  report("cuStreamBeginCapture", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  report("cuMemsetD32Async (captured)", cuMemsetD32Async(word, 5, 1, stream));
  CUstreamCaptureStatus status;
  CUgraph capturing = nullptr;
  report("cuStreamGetCaptureInfo", cuStreamGetCaptureInfo(stream, &status, nullptr, &capturing, nullptr, nullptr,
                                                          nullptr));
  report("cuGraphRetainUserObject(capture's graph, F)",
         cuGraphRetainUserObject(capturing, objectF, 1, CU_GRAPH_USER_OBJECT_MOVE));
  CUgraph captured = nullptr;
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &captured));
  std::printf("the captured graph is the capture's graph: %s\n", captured == capturing ? "yes" : "no");
  report("cuGraphInstantiateWithFlags(captured)", cuGraphInstantiateWithFlags(&exec, captured, 0));
  report("cuGraphDestroy(captured)", cuGraphDestroy(captured));
  expectAlive(f);
  report("cuGraphLaunch", cuGraphLaunch(exec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  unsigned value = 0;
  report("cuMemcpyDtoH", cuMemcpyDtoH(&value, word, 4));
  std::printf("the replay wrote %u\n", value);
  report("cuGraphExecDestroy", cuGraphExecDestroy(exec));
  expectDestroyed(f);

  if (failures > 0) {
    std::printf("user_objects: %d unexpected results\n", failures);
    return 1;
  }
  std::printf("user_objects: done\n");
  return 0;
}
