// CUDA graphs as frameworks use them (torch.cuda.graph, torch.compile's reduce-overhead mode,
// vLLM's decode loop): capture a step on a stream with a fork and join through events, a copy of a
// result into a static output buffer, a copy of it to pinned host memory and a host function;
// instantiate; read its kernel nodes back; replay it; update the executable from a second capture
// of the same shape; and the mistakes a capture does not forgive. A run through FastGPU must print the same.
//   graphs FATBIN     (the test kernels; their twins must be loaded)
#include <cuda.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "call_report.h"
#include "test_kernels_setup.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

CUfunction appendValue;
CUdeviceptr logBuffer, length, output;
CUstream stream, side;
CUevent forked, joined;
int* seen;  // pinned: a captured copy's destination
int hostCalls = 0;

void countOnHost(void*) { ++hostCalls; }
void append(CUstream where, int value) {
  void* params[] = {&logBuffer, &length, &value};
  report("  capture appendValue", cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, where, params, nullptr));
}

// One training-step-like capture: reset, three kernels (two of them concurrent on a fork), the
// length copied to a static output buffer and to the host, a host function.
CUgraph captureStep(int first, int forkedValue, int last) {
  CUgraph graph = nullptr;
  report("cuStreamBeginCapture(global)", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  cuuint64_t id = 0;
  report("cuStreamGetCaptureInfo", cuStreamGetCaptureInfo(stream, &status, &id, nullptr, nullptr, nullptr, nullptr));
  std::printf("  capturing: %d, id given: %d\n", status == CU_STREAM_CAPTURE_STATUS_ACTIVE, id != 0);
  report("  capture cuMemsetD32Async(length, 0)", cuMemsetD32Async(length, 0, 1, stream));
  append(stream, first);
  report("  capture cuEventRecord(fork)", cuEventRecord(forked, stream));
  report("  cuStreamWaitEvent(side, fork)", cuStreamWaitEvent(side, forked, 0));
  cuStreamIsCapturing(side, &status);
  std::printf("  the side stream joined the capture: %d\n", status == CU_STREAM_CAPTURE_STATUS_ACTIVE);
  append(side, forkedValue);
  append(stream, last);
  report("  capture cuEventRecord(join)", cuEventRecord(joined, side));
  report("  cuStreamWaitEvent(stream, join)", cuStreamWaitEvent(stream, joined, 0));
  report("  capture cuMemcpyDtoDAsync(output, length)", cuMemcpyDtoDAsync(output, length, sizeof(int), stream));
  report("  capture cuMemcpyDtoHAsync(pinned, length)", cuMemcpyDtoHAsync(seen, length, sizeof(int), stream));
  report("  capture cuLaunchHostFunc", cuLaunchHostFunc(stream, countOnHost, nullptr));
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &graph));
  return graph;
}

std::vector<int> readLog() {
  int count = 0;
  cuMemcpyDtoH(&count, length, sizeof(count));
  std::vector<int> values(static_cast<std::size_t>(std::clamp(count, 0, 64)));
  if (!values.empty()) cuMemcpyDtoH(values.data(), logBuffer, values.size() * sizeof(int));
  std::sort(values.begin(), values.end());  // forked kernels may run in either order on a GPU
  return values;
}

void printLog(const char* when) {
  int copied = -1;
  cuMemcpyDtoH(&copied, output, sizeof(copied));
  std::printf("%s: log", when);
  for (int value : readLog()) std::printf(" %d", value);
  std::printf("; length copied to the output %d, to the host %d; host function calls %d\n", copied, *seen,
              hostCalls);
}

// The kernel nodes the capture made, read back as frameworks inspect captured graphs: the
// function, geometry and parameters the launches gave.
void printCapturedKernels(CUgraph graph) {
  std::size_t count = 0;
  cuGraphGetNodes(graph, nullptr, &count);
  std::vector<CUgraphNode> nodes(count);
  cuGraphGetNodes(graph, nodes.data(), &count);
  std::vector<int> values;
  for (CUgraphNode node : nodes) {
    CUgraphNodeType type;
    if (cuGraphNodeGetType(node, &type) != CUDA_SUCCESS || type != CU_GRAPH_NODE_TYPE_KERNEL) continue;
    CUDA_KERNEL_NODE_PARAMS params{};
    report("cuGraphKernelNodeGetParams(captured)", cuGraphKernelNodeGetParams(node, &params));
    if (params.kernelParams == nullptr) continue;
    bool same = params.func == appendValue && params.gridDimX == 1 && params.blockDimX == 1 &&
                *static_cast<CUdeviceptr*>(params.kernelParams[0]) == logBuffer &&
                *static_cast<CUdeviceptr*>(params.kernelParams[1]) == length;
    std::printf("  a captured kernel node: appendValue(log, length, ...) as launched: %d\n", same);
    values.push_back(*static_cast<int*>(params.kernelParams[2]));
  }
  std::sort(values.begin(), values.end());
  std::printf("  the captured kernels' values:");
  for (int value : values) std::printf(" %d", value);
  std::printf("\n");
  CUDA_KERNEL_NODE_PARAMS none{};
  CUgraphNodeType type;
  for (CUgraphNode node : nodes) {
    if (cuGraphNodeGetType(node, &type) == CUDA_SUCCESS && type == CU_GRAPH_NODE_TYPE_MEMSET) {
      report("cuGraphKernelNodeGetParams(a memset node)", cuGraphKernelNodeGetParams(node, &none), CUDA_ERROR_INVALID_VALUE);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module) ||
      cuModuleGetFunction(&appendValue, module, "appendValue") != CUDA_SUCCESS ||
      cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      cuStreamCreate(&side, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      cuEventCreate(&forked, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS ||
      cuEventCreate(&joined, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS ||
      cuMemAlloc(&logBuffer, 64 * sizeof(int)) != CUDA_SUCCESS || cuMemAlloc(&length, sizeof(int)) != CUDA_SUCCESS ||
      cuMemAlloc(&output, sizeof(int)) != CUDA_SUCCESS) {
    std::printf("graphs: setup failed\n");
    return 1;
  }
  report("cuMemAllocHost(pinned result)", cuMemAllocHost(reinterpret_cast<void**>(&seen), sizeof(int)));
  *seen = -1;
  report("cuMemsetD32(length, 0)", cuMemsetD32(length, 0, 1));
  report("cuMemsetD32(output, 0)", cuMemsetD32(output, 0, 1));

  CUgraph step = captureStep(1, 2, 3);
  cuStreamSynchronize(stream);
  printLog("after the capture (nothing ran)");
  std::size_t nodes = 0;
  report("cuGraphGetNodes", cuGraphGetNodes(step, nullptr, &nodes));
  std::printf("nodes in the graph: %zu\n", nodes);
  printCapturedKernels(step);
  CUgraphExec exec = nullptr;
  report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&exec, step, 0));
  for (int replay = 1; replay <= 3; ++replay) {
    report("cuGraphLaunch", cuGraphLaunch(exec, stream));
    report("cuStreamSynchronize", cuStreamSynchronize(stream));
    printLog("after a replay");
  }

  // The same step with other values: the executable takes them without a new instantiation.
  CUgraph changed = captureStep(10, 20, 30);
  CUgraphExecUpdateResultInfo info{};
  report("cuGraphExecUpdate", cuGraphExecUpdate(exec, changed, &info));
  std::printf("update result: %d\n", static_cast<int>(info.result));
  report("cuGraphLaunch (updated)", cuGraphLaunch(exec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  printLog("after the updated replay");

  // Graph memory (PyTorch's cudaMallocAsync backend under a graph): scratch memory allocated and
  // freed inside the capture, an output allocated inside it and left live after a launch.
  report("cuStreamBeginCapture(graph memory)", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUdeviceptr scratch = 0, result = 0;
  report("  capture cuMemAllocAsync(scratch, 1 MiB)", cuMemAllocAsync(&scratch, 1 << 20, stream));
  report("  capture cuMemAllocAsync(result, 4 KiB)", cuMemAllocAsync(&result, 4096, stream));
  report("  capture cuMemsetD32Async(scratch, 9)", cuMemsetD32Async(scratch, 9, (1 << 20) / 4, stream));
  report("  capture cuMemcpyDtoDAsync(result, scratch)", cuMemcpyDtoDAsync(result, scratch + 4096, 4096, stream));
  report("  capture cuMemFreeAsync(scratch)", cuMemFreeAsync(scratch, stream));
  CUgraph withMemory = nullptr;
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &withMemory));
  CUgraphExec memoryExec = nullptr;
  report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&memoryExec, withMemory, 0));
  report("cuGraphLaunch", cuGraphLaunch(memoryExec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  unsigned copiedWord = 0;
  report("cuMemcpyDtoH(result)", cuMemcpyDtoH(&copiedWord, result + 4092, sizeof(copiedWord)));
  std::printf("the graph's output after its launch: %u\n", copiedWord);
  report("cuGraphLaunch (its output still live)", cuGraphLaunch(memoryExec, stream), CUDA_ERROR_INVALID_VALUE);
  report("cuMemFreeAsync(result)", cuMemFreeAsync(result, stream));
  report("cuGraphLaunch (output freed)", cuGraphLaunch(memoryExec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  report("cuMemFree(result)", cuMemFree(result));
  report("cuGraphExecDestroy", cuGraphExecDestroy(memoryExec));
  report("cuGraphDestroy", cuGraphDestroy(withMemory));

  // What a capture does not forgive: a copy to the host's memory from a thread in global mode
  // (a potentially unsafe call), then synchronizing the capturing stream.
  report("cuStreamBeginCapture(global)", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  int host = 0;
  report("cuMemcpyDtoH during a global capture", cuMemcpyDtoH(&host, length, sizeof(host)),
         CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  cuStreamIsCapturing(stream, &status);
  std::printf("the capture is invalidated: %d\n", status == CU_STREAM_CAPTURE_STATUS_INVALIDATED);
  CUgraph none = nullptr;
  report("cuStreamEndCapture(invalidated)", cuStreamEndCapture(stream, &none), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  report("cuStreamBeginCapture(thread local)", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
  report("cuStreamSynchronize(capturing)", cuStreamSynchronize(stream), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  CUgraph broken = nullptr;
  report("cuStreamEndCapture(invalidated)", cuStreamEndCapture(stream, &broken), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  std::printf("no graph from an invalidated capture: %d\n", broken == nullptr);

  report("cuGraphExecDestroy", cuGraphExecDestroy(exec));
  report("cuGraphDestroy(step)", cuGraphDestroy(step));
  report("cuGraphDestroy(changed)", cuGraphDestroy(changed));
  report("cuGraphDestroy(destroyed)", cuGraphDestroy(changed), CUDA_ERROR_INVALID_VALUE);
  cuMemFreeHost(seen);
  if (failures == 0) std::printf("graphs: done\n");
  return failures == 0 ? 0 : 1;
}
