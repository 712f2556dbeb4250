// Graph nodes read back and changed after they were made, as programs update graphs between
// replays instead of capturing again (cudaGraphExecMemcpyNodeSetParams1D in training loops that
// move their host buffers, the generic cudaGraphNodeSetParams / cudaGraphExecNodeSetParams of
// CUDA 12): copy nodes (device and pageable host sides, added and captured) read and changed in the
// graph and in an executable; a child graph replaced in an executable, and read through the
// handle its node holds; a node found in a clone.
// A run through FastGPU must print the same.
#include <cuda.h>

#include <cstdio>
#include <vector>

#include "call_report.h"
#include "linear_copy.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::linearCopy;
using fastgpu::e2e::report;

namespace {

CUcontext context;
CUstream stream;
CUdeviceptr input, result, flag;
int hostA[4] = {10, 11, 12, 13};  // pageable sources
int hostB[4] = {20, 21, 22, 23};
int outA = -1, outB = -1;  // pageable destinations

const char* memoryName(CUmemorytype type) {
  switch (type) {
    case CU_MEMORYTYPE_HOST: return "host";
    case CU_MEMORYTYPE_DEVICE: return "device";
    case CU_MEMORYTYPE_UNIFIED: return "unified";
    default: return "other";
  }
}

// A copy node's parameters, named by what they point at (addresses differ between runs).
void printCopy(const char* what, const CUDA_MEMCPY3D& p) {
  auto name = [](CUmemorytype type, const void* host, CUdeviceptr device) -> const char* {
    if (type == CU_MEMORYTYPE_UNIFIED) host = reinterpret_cast<const void*>(device);
    if (type != CU_MEMORYTYPE_DEVICE) {
      if (host == hostA) return "hostA";
      if (host == hostB) return "hostB";
      if (host == &outA) return "outA";
      if (host == &outB) return "outB";
      return "other host memory";
    }
    if (device == input) return "input";
    if (device == input + 4) return "input+4";
    if (device == input + 8) return "input+8";
    if (device == result) return "result";
    return "other device memory";
  };
  std::printf("%s: %s %s (x %zu) -> %s %s (x %zu), %zu x %zu x %zu bytes\n", what, memoryName(p.srcMemoryType),
              name(p.srcMemoryType, p.srcHost, p.srcDevice), p.srcXInBytes, memoryName(p.dstMemoryType),
              name(p.dstMemoryType, p.dstHost, p.dstDevice), p.dstXInBytes, p.WidthInBytes, p.Height, p.Depth);
}

void launchAndShow(CUgraphExec exec, const char* when) {
  outA = outB = -1;
  report("cuGraphLaunch", cuGraphLaunch(exec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  int flagValue = 0;
  cuMemcpyDtoH(&flagValue, flag, sizeof(flagValue));
  std::printf("%s: outA %d, outB %d, flag %d\n", when, outA, outB, flagValue);
}

CUgraphNode typedNode(CUgraph graph, CUgraphNodeType wanted) {
  std::size_t count = 0;
  cuGraphGetNodes(graph, nullptr, &count);
  std::vector<CUgraphNode> nodes(count);
  cuGraphGetNodes(graph, nodes.data(), &count);
  for (CUgraphNode node : nodes) {
    CUgraphNodeType type;
    if (cuGraphNodeGetType(node, &type) == CUDA_SUCCESS && type == wanted) return node;
  }
  return nullptr;
}

}  // namespace

int main() {
  CUdevice device;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&device, 0) != CUDA_SUCCESS ||
      cuCtxCreate(&context, nullptr, 0, device) != CUDA_SUCCESS ||
      cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      cuMemAlloc(&input, sizeof(hostA)) != CUDA_SUCCESS || cuMemAlloc(&result, sizeof(int)) != CUDA_SUCCESS ||
      cuMemAlloc(&flag, sizeof(int)) != CUDA_SUCCESS) {
    std::printf("graph_node_updates: setup failed\n");
    return 1;
  }
  report("cuMemsetD32(flag, 0)", cuMemsetD32(flag, 0, 1));

  // host -> input, input+8 -> result, result -> host.
  CUgraph graph = nullptr;
  report("cuGraphCreate", cuGraphCreate(&graph, 0));
  CUgraphNode copyIn, pick, copyOut;
  CUDA_MEMCPY3D in = linearCopy(sizeof(hostA));
  in.srcMemoryType = CU_MEMORYTYPE_HOST;
  in.srcHost = hostA;
  in.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  in.dstDevice = input;
  report("cuGraphAddMemcpyNode(in)", cuGraphAddMemcpyNode(&copyIn, graph, nullptr, 0, &in, context));
  CUDA_MEMCPY3D third = linearCopy(sizeof(int));
  third.srcMemoryType = third.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  third.srcDevice = input;
  third.srcXInBytes = 8;
  third.dstDevice = result;
  report("cuGraphAddMemcpyNode(pick)", cuGraphAddMemcpyNode(&pick, graph, &copyIn, 1, &third, context));
  CUDA_MEMCPY3D out = linearCopy(sizeof(int));
  out.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  out.srcDevice = result;
  out.dstMemoryType = CU_MEMORYTYPE_HOST;
  out.dstHost = &outA;
  report("cuGraphAddMemcpyNode(out)", cuGraphAddMemcpyNode(&copyOut, graph, &pick, 1, &out, context));
  CUDA_MEMCPY3D read{};
  for (auto [node, name] : {std::pair{copyIn, "in"}, {pick, "pick"}, {copyOut, "out"}}) {
    report("cuGraphMemcpyNodeGetParams", cuGraphMemcpyNodeGetParams(node, &read));
    printCopy(name, read);
  }

  CUgraphExec exec = nullptr;
  report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&exec, graph, 0));
  launchAndShow(exec, "first replay");

  // The executable's host buffers moved: reads hostB, writes outB.
  CUDA_MEMCPY3D fromB = in;
  fromB.srcHost = hostB;
  report("cuGraphExecMemcpyNodeSetParams(in from hostB)", cuGraphExecMemcpyNodeSetParams(exec, copyIn, &fromB, context));
  CUDA_MEMCPY3D toB = out;
  toB.dstHost = &outB;
  report("cuGraphExecMemcpyNodeSetParams(out to outB)", cuGraphExecMemcpyNodeSetParams(exec, copyOut, &toB, context));
  launchAndShow(exec, "after the executable's buffers moved");
  report("cuGraphMemcpyNodeGetParams(the graph's, unchanged)", cuGraphMemcpyNodeGetParams(copyIn, &read));
  printCopy("in", read);

  // The graph's device copy picks another word; through the generic call too.
  CUDA_MEMCPY3D second = third;
  second.srcXInBytes = 4;
  report("cuGraphMemcpyNodeSetParams(pick the second)", cuGraphMemcpyNodeSetParams(pick, &second));
  report("cuGraphMemcpyNodeGetParams", cuGraphMemcpyNodeGetParams(pick, &read));
  printCopy("pick", read);
  CUDA_MEMCPY3D outside = third;
  outside.srcDevice = 0x10;
  outside.srcXInBytes = 0;
  report("cuGraphMemcpyNodeSetParams(outside memory)", cuGraphMemcpyNodeSetParams(pick, &outside),
         CUDA_ERROR_INVALID_VALUE);
  report("cuGraphMemcpyNodeSetParams(null)", cuGraphMemcpyNodeSetParams(pick, nullptr), CUDA_ERROR_INVALID_VALUE);
  CUgraphExec changed = nullptr;
  report("cuGraphInstantiateWithFlags(changed)", cuGraphInstantiateWithFlags(&changed, graph, 0));
  launchAndShow(changed, "an executable of the changed graph");
  CUgraphNodeParams generic{};
  generic.type = CU_GRAPH_NODE_TYPE_MEMCPY;
  generic.memcpy.copyCtx = context;
  generic.memcpy.copyParams = third;
  report("cuGraphExecNodeSetParams(pick the third)", cuGraphExecNodeSetParams(changed, pick, &generic));
  CUDA_MEMCPY3D toA = out;
  generic.memcpy.copyParams = toA;
  generic.memcpy.copyParams.dstHost = &outB;
  report("cuGraphNodeSetParams(out to outB)", cuGraphNodeSetParams(copyOut, &generic));
  report("cuGraphMemcpyNodeGetParams", cuGraphMemcpyNodeGetParams(copyOut, &read));
  printCopy("out", read);
  launchAndShow(changed, "after the generic calls (the executable keeps writing outA)");
  generic.memcpy.flags = 1;
  report("cuGraphNodeSetParams(flags set)", cuGraphNodeSetParams(copyOut, &generic), CUDA_ERROR_INVALID_VALUE);
  generic.type = CU_GRAPH_NODE_TYPE_MEMSET;
  generic.memset = {flag, 0, 3, 4, 1, 1, context};
  report("cuGraphNodeSetParams(memset on a copy node)", cuGraphNodeSetParams(copyOut, &generic),
         CUDA_ERROR_INVALID_VALUE);
  report("cuGraphMemsetNodeGetParams(a copy node)", [&] {
    CUDA_MEMSET_NODE_PARAMS memset{};
    return cuGraphMemsetNodeGetParams(copyOut, &memset);
  }(), CUDA_ERROR_INVALID_VALUE);

  // A clone's nodes found from the original's.
  CUgraph clone = nullptr;
  report("cuGraphClone", cuGraphClone(&clone, graph));
  CUgraphNode pickInClone = nullptr, stranger = nullptr;
  report("cuGraphNodeFindInClone", cuGraphNodeFindInClone(&pickInClone, pick, clone));
  std::printf("the clone's node is another node: %d\n", pickInClone != nullptr && pickInClone != pick);
  report("cuGraphMemcpyNodeGetParams(the clone's)", cuGraphMemcpyNodeGetParams(pickInClone, &read));
  printCopy("pick in the clone", read);
  report("cuGraphAddEmptyNode(after the clone)", cuGraphAddEmptyNode(&stranger, graph, nullptr, 0));
  report("cuGraphNodeFindInClone(added after the clone)", cuGraphNodeFindInClone(&pickInClone, stranger, clone),
         CUDA_ERROR_INVALID_VALUE);

  // A child graph replaced in an executable by one of the same shape, with other values.
  CUgraph child = nullptr, other = nullptr, wider = nullptr, parent = nullptr;
  CUgraphNode set, nested, extra;
  CUDA_MEMSET_NODE_PARAMS five{flag, 0, 5, 4, 1, 1}, six{flag, 0, 6, 4, 1, 1};
  report("cuGraphCreate(child)", cuGraphCreate(&child, 0));
  report("cuGraphAddMemsetNode(five)", cuGraphAddMemsetNode(&set, child, nullptr, 0, &five, context));
  report("cuGraphCreate(other)", cuGraphCreate(&other, 0));
  report("cuGraphAddMemsetNode(six)", cuGraphAddMemsetNode(&set, other, nullptr, 0, &six, context));
  report("cuGraphCreate(wider)", cuGraphCreate(&wider, 0));
  report("cuGraphAddMemsetNode(six)", cuGraphAddMemsetNode(&set, wider, nullptr, 0, &six, context));
  report("cuGraphAddEmptyNode", cuGraphAddEmptyNode(&extra, wider, &set, 1));
  report("cuGraphCreate(parent)", cuGraphCreate(&parent, 0));
  report("cuGraphAddChildGraphNode", cuGraphAddChildGraphNode(&nested, parent, nullptr, 0, child));
  CUgraphExec parentExec = nullptr;
  report("cuGraphInstantiateWithFlags(parent)", cuGraphInstantiateWithFlags(&parentExec, parent, 0));
  launchAndShow(parentExec, "the parent");
  report("cuGraphExecChildGraphNodeSetParams(other)", cuGraphExecChildGraphNodeSetParams(parentExec, nested, other));
  launchAndShow(parentExec, "the parent with the other child");
  report("cuGraphExecChildGraphNodeSetParams(another shape)",
         cuGraphExecChildGraphNodeSetParams(parentExec, nested, wider), CUDA_ERROR_INVALID_VALUE);
  generic = CUgraphNodeParams{};
  generic.type = CU_GRAPH_NODE_TYPE_GRAPH;
  generic.graph.graph = child;
  report("cuGraphExecNodeSetParams(the first child again)", cuGraphExecNodeSetParams(parentExec, nested, &generic));
  launchAndShow(parentExec, "the parent with its first child again");

  // The graph a child graph node holds, as graph inspectors walk nested graphs: the same handle
  // each time, not the graph it was made from (the node holds a copy), its node and parameters.
  CUgraph held = nullptr, heldAgain = nullptr;
  report("cuGraphChildGraphNodeGetGraph", cuGraphChildGraphNodeGetGraph(nested, &held));
  report("cuGraphChildGraphNodeGetGraph(again)", cuGraphChildGraphNodeGetGraph(nested, &heldAgain));
  std::printf("the same graph both times: %d, a copy of the child: %d\n", held == heldAgain, held != child);
  std::size_t heldCount = 0;
  report("cuGraphGetNodes(held, count)", cuGraphGetNodes(held, nullptr, &heldCount));
  CUgraphNode heldRoot = nullptr;
  std::size_t roots = 1;
  report("cuGraphGetRootNodes(held)", cuGraphGetRootNodes(held, &heldRoot, &roots));
  CUgraphNodeType heldType = CU_GRAPH_NODE_TYPE_EMPTY;
  report("cuGraphNodeGetType(held root)", cuGraphNodeGetType(heldRoot, &heldType));
  CUDA_MEMSET_NODE_PARAMS heldSet{};
  report("cuGraphMemsetNodeGetParams(held root)", cuGraphMemsetNodeGetParams(heldRoot, &heldSet));
  std::printf("held: %zu node(s), %zu root, a memset node: %d, of %u\n", heldCount, roots,
              heldType == CU_GRAPH_NODE_TYPE_MEMSET, heldSet.value);
  report("cuGraphChildGraphNodeGetGraph(a memset node)", cuGraphChildGraphNodeGetGraph(set, &heldAgain),
         CUDA_ERROR_INVALID_VALUE);

  // A captured copy to pageable memory, read back and moved in an executable.
  report("cuStreamBeginCapture", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  report("  capture cuMemcpyDtoHAsync(pageable)", cuMemcpyDtoHAsync(&outA, input + 4, sizeof(int), stream));
  CUgraph captured = nullptr;
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &captured));
  CUgraphNode capturedCopy = typedNode(captured, CU_GRAPH_NODE_TYPE_MEMCPY);
  report("cuGraphMemcpyNodeGetParams(captured)", cuGraphMemcpyNodeGetParams(capturedCopy, &read));
  printCopy("captured", read);
  CUgraphExec capturedExec = nullptr;
  report("cuGraphInstantiateWithFlags(captured)", cuGraphInstantiateWithFlags(&capturedExec, captured, 0));
  launchAndShow(capturedExec, "the captured copy");
  if (read.dstMemoryType == CU_MEMORYTYPE_UNIFIED) {
    read.dstDevice = reinterpret_cast<CUdeviceptr>(&outB);
  } else {
    read.dstHost = &outB;
  }
  report("cuGraphExecMemcpyNodeSetParams(captured to outB)",
         cuGraphExecMemcpyNodeSetParams(capturedExec, capturedCopy, &read, context));
  launchAndShow(capturedExec, "the captured copy moved");

  for (CUgraphExec e : {exec, changed, parentExec, capturedExec}) report("cuGraphExecDestroy", cuGraphExecDestroy(e));
  for (CUgraph g : {graph, clone, child, other, wider, parent, captured}) report("cuGraphDestroy", cuGraphDestroy(g));
  if (failures == 0) std::printf("graph_node_updates: done\n");
  return failures == 0 ? 0 : 1;
}
