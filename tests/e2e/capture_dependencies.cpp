// A capture's graph and dependencies used during the capture, as NCCL, PyTorch's caching allocator
// and cuda-python's conditional nodes use them: cuStreamGetCaptureInfo with the graph and the
// current dependencies, a node added to the capturing graph and made the stream's dependency with
// cuStreamUpdateCaptureDependencies, and cuStreamBeginCaptureToGraph into a graph the program
// built. A run through FastGPU must print the same.
//   capture_dependencies FATBIN     (the test kernels; their twins must be loaded)
#include <cuda.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "call_report.h"
#include "test_kernels_setup.h"

// The forms programs built against CUDA 12 call (the toolkit's header now names the newer ones).
extern "C" CUresult cuStreamGetCaptureInfo_v2(CUstream, CUstreamCaptureStatus*, cuuint64_t*, CUgraph*,
                                              const CUgraphNode**, size_t*);
#undef cuStreamUpdateCaptureDependencies
extern "C" CUresult cuStreamUpdateCaptureDependencies(CUstream, CUgraphNode*, size_t, unsigned int);

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

CUfunction appendValue;
CUdeviceptr logBuffer, length;
CUstream stream, other;

// Appends `value` to the device's log.
CUresult append(CUstream on, int value) {
  void* params[] = {&logBuffer, &length, &value};
  return cuLaunchKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, on, params, nullptr);
}

// Runs `graph` once from an empty log and prints what it appended.
void replay(CUgraph graph, const char* what) {
  CUgraphExec exec = nullptr;
  report("cuMemsetD32(length, 0)", cuMemsetD32(length, 0, 1));
  report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&exec, graph, 0));
  report("cuGraphLaunch", cuGraphLaunch(exec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  int count = 0;
  cuMemcpyDtoH(&count, length, sizeof(count));
  std::vector<int> values(static_cast<std::size_t>(count < 0 || count > 64 ? 0 : count));
  if (!values.empty()) cuMemcpyDtoH(values.data(), logBuffer, values.size() * sizeof(int));
  std::size_t nodes = 0;
  cuGraphGetNodes(graph, nullptr, &nodes);
  std::size_t edges = 0;
  cuGraphGetEdges(graph, nullptr, nullptr, nullptr, &edges);
  std::printf("%s: %zu nodes, %zu edges; log", what, nodes, edges);
  for (int value : values) std::printf(" %d", value);
  std::printf("\n");
  report("cuGraphExecDestroy", cuGraphExecDestroy(exec));
}

void printDependencies(const char* when, CUstream on) {
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  cuuint64_t id = 0;
  CUgraph graph = nullptr;
  const CUgraphNode* dependencies = nullptr;
  const CUgraphEdgeData* edges = nullptr;
  std::size_t count = 99;
  report("cuStreamGetCaptureInfo_v3", cuStreamGetCaptureInfo_v3(on, &status, &id, &graph, &dependencies, &edges, &count));
  std::vector<CUgraphNode> nodes(dependencies, dependencies + count);  // valid until the next call
  std::vector<CUgraphNodeType> types(count, CU_GRAPH_NODE_TYPE_EMPTY);
  for (std::size_t i = 0; i < count; ++i) report("cuGraphNodeGetType(dependency)", cuGraphNodeGetType(nodes[i], &types[i]));
  std::printf("%s: status %d, a graph %d, %zu dependencies, edge data %s:", when, static_cast<int>(status),
              graph != nullptr, count, edges == nullptr ? "none" : "given");
  for (CUgraphNodeType type : types) std::printf(" type %d", static_cast<int>(type));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module) ||
      cuModuleGetFunction(&appendValue, module, "appendValue") != CUDA_SUCCESS ||
      cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      cuStreamCreate(&other, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      cuMemAlloc(&logBuffer, 64 * sizeof(int)) != CUDA_SUCCESS || cuMemAlloc(&length, sizeof(int)) != CUDA_SUCCESS) {
    std::printf("capture_dependencies: setup failed\n");
    return 1;
  }

  // NCCL's way: the capture's frontier read, a node added after it, the stream moved past it.
  report("cuStreamBeginCapture", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  printDependencies("at the start", stream);
  report("  capture append(1)", append(stream, 1));
  printDependencies("after a kernel", stream);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  CUgraph capturing = nullptr;
  const CUgraphNode* frontier = nullptr;
  std::size_t count = 0;
  report("cuStreamGetCaptureInfo_v2",
         cuStreamGetCaptureInfo_v2(stream, &status, nullptr, &capturing, &frontier, &count));
  CUgraphNode after = count == 1 ? frontier[0] : nullptr;
  int two = 2;
  void* params[] = {&logBuffer, &length, &two};
  CUDA_KERNEL_NODE_PARAMS kernel{};
  kernel.func = appendValue;
  kernel.gridDimX = kernel.gridDimY = kernel.gridDimZ = 1;
  kernel.blockDimX = kernel.blockDimY = kernel.blockDimZ = 1;
  kernel.kernelParams = params;
  CUgraphNode added = nullptr;
  report("cuGraphAddKernelNode(into the capturing graph)", cuGraphAddKernelNode(&added, capturing, &after, 1, &kernel));
  report("cuStreamUpdateCaptureDependencies(bad flags)", cuStreamUpdateCaptureDependencies(stream, &added, 1, 7),
         CUDA_ERROR_INVALID_VALUE);
  report("cuStreamUpdateCaptureDependencies(not capturing)",
         cuStreamUpdateCaptureDependencies(other, &added, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES), CUDA_ERROR_ILLEGAL_STATE);
  report("cuStreamUpdateCaptureDependencies(set)",
         cuStreamUpdateCaptureDependencies(stream, &added, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES));
  printDependencies("after the update", stream);
  report("cuStreamUpdateCaptureDependencies(add)",
         cuStreamUpdateCaptureDependencies_v2(stream, &after, nullptr, 1, CU_STREAM_ADD_CAPTURE_DEPENDENCIES));
  printDependencies("after adding one", stream);
  report("  capture append(3)", append(stream, 3));
  CUgraph captured = nullptr;
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &captured));
  std::printf("the capture's graph is the one its queries named: %d\n", captured == capturing);
  replay(captured, "captured with a node added");
  report("cuStreamUpdateCaptureDependencies(after the capture)",
         cuStreamUpdateCaptureDependencies(stream, &added, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES), CUDA_ERROR_ILLEGAL_STATE);

  // cuStreamBeginCaptureToGraph: captured work joins a graph the program built.
  CUgraph built = nullptr;
  report("cuGraphCreate", cuGraphCreate(&built, 0));
  CUgraphNode first = nullptr;
  int ten = 10;
  void* tenParams[] = {&logBuffer, &length, &ten};
  kernel.kernelParams = tenParams;
  report("cuGraphAddKernelNode", cuGraphAddKernelNode(&first, built, nullptr, 0, &kernel));
  report("cuStreamBeginCaptureToGraph(a node of another graph)",
         cuStreamBeginCaptureToGraph(stream, built, &added, nullptr, 1, CU_STREAM_CAPTURE_MODE_GLOBAL),
         CUDA_ERROR_INVALID_VALUE);
  report("cuStreamBeginCaptureToGraph",
         cuStreamBeginCaptureToGraph(stream, built, &first, nullptr, 1, CU_STREAM_CAPTURE_MODE_GLOBAL));
  printDependencies("captured into a graph", stream);
  report("  capture append(11)", append(stream, 11));
  report("  capture append(12)", append(stream, 12));
  CUgraph ended = nullptr;
  report("cuStreamEndCapture(into the graph)", cuStreamEndCapture(stream, &ended));
  std::printf("the capture ended into the program's graph: %d\n", ended == built);
  replay(built, "captured into a built graph");

  report("cuGraphDestroy(captured)", cuGraphDestroy(captured));
  report("cuGraphDestroy(built)", cuGraphDestroy(built));
  report("cuStreamBeginCaptureToGraph(a destroyed graph)",
         cuStreamBeginCaptureToGraph(stream, built, nullptr, nullptr, 0, CU_STREAM_CAPTURE_MODE_GLOBAL),
         CUDA_ERROR_INVALID_VALUE);
  if (failures == 0) std::printf("capture_dependencies: done\n");
  return failures == 0 ? 0 : 1;
}
