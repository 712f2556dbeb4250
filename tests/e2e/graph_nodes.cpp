// CUDA graphs built node by node, as the CUDA samples (simpleCudaGraphs, jacobiCudaGraphs,
// graphMemoryNodes) and libraries build them: copies from and to pageable host memory, memsets,
// kernels, a host node, an event record node; the graph's nodes, roots, edges and node types asked;
// a clone; kernel parameters changed in the graph and in an executable; a node destroyed; graph
// memory nodes; a child graph; cuGraphAddNode; a captured copy from pageable memory replayed with
// new bytes. A run through FastGPU must print the same.
//   graph_nodes FATBIN     (the test kernels; their twins must be loaded)
#include <cuda.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "call_report.h"
#include "linear_copy.h"
#include "test_kernels_setup.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::linearCopy;
using fastgpu::e2e::report;

namespace {

CUfunction appendValue, touch;
CUdeviceptr logBuffer, length, input, result;
CUstream stream;
CUevent done;
int hostInput[4] = {1, 2, 3, 4};  // pageable
int hostResult = -1;               // pageable
int hostCalls = 0;

void countOnHost(void* data) { hostCalls += *static_cast<int*>(data); }
int hostIncrement = 1;

CUDA_KERNEL_NODE_PARAMS kernelNode(CUfunction function, void** params) {
  CUDA_KERNEL_NODE_PARAMS p{};
  p.func = function;
  p.gridDimX = p.gridDimY = p.gridDimZ = 1;
  p.blockDimX = p.blockDimY = p.blockDimZ = 1;
  p.kernelParams = params;
  return p;
}

void printLog(const char* when) {
  int count = 0;
  cuMemcpyDtoH(&count, length, sizeof(count));
  std::vector<int> values(static_cast<std::size_t>(count < 0 || count > 64 ? 0 : count));
  if (!values.empty()) cuMemcpyDtoH(values.data(), logBuffer, values.size() * sizeof(int));
  std::printf("%s: log", when);
  for (int value : values) std::printf(" %d", value);
  std::printf("; result on the host %d; host node calls %d\n", hostResult, hostCalls);
}

const char* typeName(CUgraphNodeType type) {
  switch (type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: return "kernel";
    case CU_GRAPH_NODE_TYPE_MEMCPY: return "memcpy";
    case CU_GRAPH_NODE_TYPE_MEMSET: return "memset";
    case CU_GRAPH_NODE_TYPE_HOST: return "host";
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return "event record";
    default: return "other";
  }
}

int indexOf(const std::vector<CUgraphNode>& nodes, CUgraphNode node) {
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i] == node) return static_cast<int>(i);
  }
  return -1;
}

// The graph's shape as the queries tell it, in terms of the order cuGraphGetNodes lists nodes.
void printShape(CUgraph graph) {
  std::size_t count = 0;
  report("cuGraphGetNodes(count)", cuGraphGetNodes(graph, nullptr, &count));
  std::vector<CUgraphNode> nodes(count);
  report("cuGraphGetNodes", cuGraphGetNodes(graph, nodes.data(), &count));
  std::printf("nodes: %zu:", count);
  for (CUgraphNode node : nodes) {
    CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
    cuGraphNodeGetType(node, &type);
    std::printf(" %s", typeName(type));
  }
  std::printf("\n");
  std::size_t roots = 0;
  report("cuGraphGetRootNodes(count)", cuGraphGetRootNodes(graph, nullptr, &roots));
  std::vector<CUgraphNode> rootNodes(roots);
  report("cuGraphGetRootNodes", cuGraphGetRootNodes(graph, rootNodes.data(), &roots));
  std::printf("roots:");
  for (CUgraphNode node : rootNodes) std::printf(" %d", indexOf(nodes, node));
  std::printf("\n");
  std::size_t edges = 0;
  report("cuGraphGetEdges(count)", cuGraphGetEdges(graph, nullptr, nullptr, nullptr, &edges));
  std::vector<CUgraphNode> from(edges), to(edges);
  report("cuGraphGetEdges", cuGraphGetEdges(graph, from.data(), to.data(), nullptr, &edges));
  std::printf("edges:");
  for (std::size_t i = 0; i < edges; ++i) std::printf(" %d->%d", indexOf(nodes, from[i]), indexOf(nodes, to[i]));
  std::printf("\n");
  std::size_t dependencies = 0, dependents = 0;
  report("cuGraphNodeGetDependencies", cuGraphNodeGetDependencies(nodes.back(), nullptr, nullptr, &dependencies));
  report("cuGraphNodeGetDependentNodes", cuGraphNodeGetDependentNodes(nodes.front(), nullptr, nullptr, &dependents));
  std::printf("the last node depends on %zu, the first has %zu dependents\n", dependencies, dependents);
}

// What the device's graph memory attributes say.
void printGraphMemory(const char* when) {
  const CUgraphMem_attribute attributes[] = {CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH,
                                             CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT,
                                             CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH};
  std::printf("graph memory %s: used, high, reserved, high:", when);
  for (CUgraphMem_attribute attribute : attributes) {
    cuuint64_t value = 0;
    CUresult result = cuDeviceGetGraphMemAttribute(0, attribute, &value);
    std::printf(" %llu%s", static_cast<unsigned long long>(value), result == CUDA_SUCCESS ? "" : "(failed)");
  }
  std::printf("\n");
}

void launchAndShow(CUgraphExec exec, const char* when) {
  report("cuGraphLaunch", cuGraphLaunch(exec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  printLog(when);
}

}  // namespace

// A kernel node's attributes (cudaGraphKernelNodeSetAttribute, as programs pin an L2 window on a
// graph's kernel): set, refused where they do not apply, read back.
void setKernelAttributes(CUgraphNode kernel, CUgraphNode copy) {
  CUkernelNodeAttrValue value{};
  value.priority = -3;
  report("cuGraphKernelNodeSetAttribute(priority)", cuGraphKernelNodeSetAttribute(kernel, CU_LAUNCH_ATTRIBUTE_PRIORITY, &value));
  value = {};
  value.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(logBuffer);
  value.accessPolicyWindow.num_bytes = 64 * sizeof(int);
  value.accessPolicyWindow.hitRatio = 0.5f;
  value.accessPolicyWindow.hitProp = CU_ACCESS_PROPERTY_PERSISTING;
  value.accessPolicyWindow.missProp = CU_ACCESS_PROPERTY_STREAMING;
  report("cuGraphKernelNodeSetAttribute(access policy window)",
         cuGraphKernelNodeSetAttribute(kernel, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, &value));
  value.accessPolicyWindow.hitRatio = 2.0f;
  report("cuGraphKernelNodeSetAttribute(hit ratio 2)",
         cuGraphKernelNodeSetAttribute(kernel, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, &value), CUDA_ERROR_INVALID_VALUE);
  value = {};
  report("cuGraphKernelNodeSetAttribute(a stream's attribute)",
         cuGraphKernelNodeSetAttribute(kernel, CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY, &value), CUDA_ERROR_INVALID_VALUE);
  report("cuGraphKernelNodeSetAttribute(a copy node)",
         cuGraphKernelNodeSetAttribute(copy, CU_LAUNCH_ATTRIBUTE_PRIORITY, &value), CUDA_ERROR_INVALID_VALUE);
  CUkernelNodeAttrValue read{};
  report("cuGraphKernelNodeGetAttribute(access policy window)",
         cuGraphKernelNodeGetAttribute(kernel, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, &read));
  std::printf("the kernel node's window: %zu bytes at the log, hit ratio %.2f\n", read.accessPolicyWindow.num_bytes,
              static_cast<double>(read.accessPolicyWindow.hitRatio));
  report("cuGraphKernelNodeCopyAttributes(to a copy node)", cuGraphKernelNodeCopyAttributes(copy, kernel),
         CUDA_ERROR_INVALID_VALUE);
}

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module) ||
      cuModuleGetFunction(&appendValue, module, "appendValue") != CUDA_SUCCESS ||
      cuModuleGetFunction(&touch, module, "touch") != CUDA_SUCCESS ||
      cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      cuEventCreate(&done, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS ||
      cuMemAlloc(&logBuffer, 64 * sizeof(int)) != CUDA_SUCCESS || cuMemAlloc(&length, sizeof(int)) != CUDA_SUCCESS ||
      cuMemAlloc(&input, sizeof(hostInput)) != CUDA_SUCCESS || cuMemAlloc(&result, sizeof(int)) != CUDA_SUCCESS) {
    std::printf("graph_nodes: setup failed\n");
    return 1;
  }
  report("cuMemsetD32(length, 0)", cuMemsetD32(length, 0, 1));

  // simpleCudaGraphs' shape: host input in, a reset, a kernel, a device copy, the result out to
  // pageable memory, a host node reading it.
  CUgraph graph = nullptr;
  report("cuGraphCreate", cuGraphCreate(&graph, 0));
  CUgraphNode copyIn, reset, append, pick, copyOut, onHost, record;
  CUDA_MEMCPY3D in = linearCopy(sizeof(hostInput));
  in.srcMemoryType = CU_MEMORYTYPE_HOST;
  in.srcHost = hostInput;
  in.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  in.dstDevice = input;
  report("cuGraphAddMemcpyNode(host to device)", cuGraphAddMemcpyNode(&copyIn, graph, nullptr, 0, &in, context));
  CUDA_MEMSET_NODE_PARAMS zero{length, 0, 0, 4, 1, 1};
  report("cuGraphAddMemsetNode", cuGraphAddMemsetNode(&reset, graph, nullptr, 0, &zero, context));
  int seven = 7;
  void* appendParams[] = {&logBuffer, &length, &seven};
  CUDA_KERNEL_NODE_PARAMS appendNode = kernelNode(appendValue, appendParams);
  CUgraphNode afterBoth[] = {copyIn, reset};
  report("cuGraphAddKernelNode", cuGraphAddKernelNode(&append, graph, afterBoth, 2, &appendNode));
  CUDA_MEMCPY3D third = linearCopy(sizeof(int));
  third.srcMemoryType = third.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  third.srcDevice = input;
  third.srcXInBytes = 2 * sizeof(int);
  third.dstDevice = result;
  report("cuGraphAddMemcpyNode(device to device)", cuGraphAddMemcpyNode(&pick, graph, &copyIn, 1, &third, context));
  CUDA_MEMCPY3D narrow = third;  // two rows, the source's pitch narrower than a row
  narrow.WidthInBytes = 2 * sizeof(int);
  narrow.Height = 2;
  narrow.srcPitch = sizeof(int);
  CUgraphNode refused = nullptr;
  report("cuGraphAddMemcpyNode(pitch narrower than a row)", cuGraphAddMemcpyNode(&refused, graph, nullptr, 0, &narrow, context),
         CUDA_ERROR_INVALID_VALUE);
  CUDA_MEMCPY3D out = linearCopy(sizeof(int));
  out.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  out.srcDevice = result;
  out.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
  out.dstDevice = reinterpret_cast<CUdeviceptr>(&hostResult);
  CUgraphNode beforeOut[] = {pick, append};
  report("cuGraphAddMemcpyNode(device to host)", cuGraphAddMemcpyNode(&copyOut, graph, beforeOut, 2, &out, context));
  CUDA_HOST_NODE_PARAMS host{countOnHost, &hostIncrement};
  report("cuGraphAddHostNode", cuGraphAddHostNode(&onHost, graph, &copyOut, 1, &host));
  report("cuGraphAddEventRecordNode", cuGraphAddEventRecordNode(&record, graph, &append, 1, done));
  printShape(graph);
  setKernelAttributes(append, pick);

  CUgraph clone = nullptr;
  report("cuGraphClone", cuGraphClone(&clone, graph));
  CUgraphNode appendInClone = nullptr;
  report("cuGraphNodeFindInClone", cuGraphNodeFindInClone(&appendInClone, append, clone));
  CUkernelNodeAttrValue cloned{};
  report("cuGraphKernelNodeGetAttribute(the clone's, priority)",
         cuGraphKernelNodeGetAttribute(appendInClone, CU_LAUNCH_ATTRIBUTE_PRIORITY, &cloned));
  std::printf("the clone's kernel node has priority %d\n", cloned.priority);
  CUgraphExec exec = nullptr, cloneExec = nullptr;
  report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&exec, graph, 0));
  report("cuGraphInstantiateWithFlags(clone)", cuGraphInstantiateWithFlags(&cloneExec, clone, 0));
  for (int replay = 1; replay <= 3; ++replay) {
    hostInput[2] = 100 * replay;  // every replay reads the host input anew
    launchAndShow(exec, "after a replay");
  }
  hostInput[2] = 555;
  launchAndShow(cloneExec, "after the clone's replay");

  // jacobiCudaGraphs: a kernel node's parameters changed in the executable, then in the graph.
  int nine = 9;
  void* nineParams[] = {&logBuffer, &length, &nine};
  CUDA_KERNEL_NODE_PARAMS withNine = kernelNode(appendValue, nineParams);
  report("cuGraphExecKernelNodeSetParams", cuGraphExecKernelNodeSetParams(exec, append, &withNine));
  launchAndShow(exec, "after the executable's kernel changed");
  int eleven = 11;
  void* elevenParams[] = {&logBuffer, &length, &eleven};
  CUDA_KERNEL_NODE_PARAMS withEleven = kernelNode(appendValue, elevenParams);
  CUDA_KERNEL_NODE_PARAMS readKernel{};
  report("cuGraphKernelNodeGetParams", cuGraphKernelNodeGetParams(append, &readKernel));
  std::printf("kernel node: the function added %d, grid %u, block %u, shared %u, value %d\n",
              readKernel.func == appendValue, readKernel.gridDimX, readKernel.blockDimX, readKernel.sharedMemBytes,
              *static_cast<int*>(readKernel.kernelParams[2]));
  report("cuGraphKernelNodeSetParams", cuGraphKernelNodeSetParams(append, &withEleven));
  report("cuGraphKernelNodeGetParams", cuGraphKernelNodeGetParams(append, &readKernel));
  std::printf("after setting it: value %d, the log at the same address %d\n",
              *static_cast<int*>(readKernel.kernelParams[2]),
              *static_cast<CUdeviceptr*>(readKernel.kernelParams[0]) == logBuffer);
  report("cuGraphKernelNodeGetParams(a memset node)", cuGraphKernelNodeGetParams(reset, &readKernel),
         CUDA_ERROR_INVALID_VALUE);
  report("cuGraphDestroyNode(event record)", cuGraphDestroyNode(record));
  std::size_t count = 0;
  report("cuGraphGetNodes(count)", cuGraphGetNodes(graph, nullptr, &count));
  std::printf("nodes after destroying one: %zu\n", count);
  CUgraphExec changedExec = nullptr;
  report("cuGraphInstantiateWithFlags(changed)", cuGraphInstantiateWithFlags(&changedExec, graph, 0));
  launchAndShow(changedExec, "after the graph's kernel changed");
  // A node disabled in one executable, then enabled again; the executable's flags.
  unsigned enabled = 9;
  report("cuGraphNodeGetEnabled", cuGraphNodeGetEnabled(changedExec, append, &enabled));
  std::printf("the kernel node is enabled: %u\n", enabled);
  report("cuGraphNodeSetEnabled(0)", cuGraphNodeSetEnabled(changedExec, append, 0));
  report("cuGraphNodeGetEnabled", cuGraphNodeGetEnabled(changedExec, append, &enabled));
  std::printf("after disabling it: %u\n", enabled);
  launchAndShow(changedExec, "with the kernel node disabled");
  report("cuGraphNodeSetEnabled(1)", cuGraphNodeSetEnabled(changedExec, append, 1));
  launchAndShow(changedExec, "with it enabled again");
  report("cuGraphNodeGetEnabled(a destroyed node)", cuGraphNodeGetEnabled(changedExec, record, &enabled),
         CUDA_ERROR_INVALID_VALUE);
  cuuint64_t flags = 99;
  report("cuGraphExecGetFlags", cuGraphExecGetFlags(changedExec, &flags));
  std::printf("its flags: %llu\n", static_cast<unsigned long long>(flags));
  std::size_t dependencies = 99;
  report("cuGraphNodeGetDependencies(destroyed node)", cuGraphNodeGetDependencies(record, nullptr, nullptr, &dependencies),
         CUDA_ERROR_INVALID_VALUE);

  // graphMemoryNodes: memory allocated, used and freed by the graph.
  CUgraph withMemory = nullptr;
  report("cuGraphCreate(graph memory)", cuGraphCreate(&withMemory, 0));
  CUDA_MEM_ALLOC_NODE_PARAMS allocation{};
  allocation.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  allocation.poolProps.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  allocation.bytesize = 1 << 20;
  CUgraphNode allocate, fill, keep, release;
  report("cuGraphAddMemAllocNode(1 MiB)", cuGraphAddMemAllocNode(&allocate, withMemory, nullptr, 0, &allocation));
  std::printf("graph memory given an address: %d\n", allocation.dptr != 0);
  CUDA_MEMSET_NODE_PARAMS fives{allocation.dptr, 0, 5, 4, (1 << 20) / 4, 1};
  report("cuGraphAddMemsetNode(graph memory)", cuGraphAddMemsetNode(&fill, withMemory, &allocate, 1, &fives, context));
  CUDA_MEMCPY3D save = linearCopy(sizeof(int));
  save.srcMemoryType = save.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  save.srcDevice = allocation.dptr + 4096;
  save.dstDevice = result;
  report("cuGraphAddMemcpyNode(graph memory)", cuGraphAddMemcpyNode(&keep, withMemory, &fill, 1, &save, context));
  report("cuGraphAddMemFreeNode", cuGraphAddMemFreeNode(&release, withMemory, &keep, 1, allocation.dptr));
  report("cuGraphAddMemFreeNode(not graph memory)", cuGraphAddMemFreeNode(&release, withMemory, &keep, 1, input),
         CUDA_ERROR_INVALID_VALUE);
  CUgraphExec memoryExec = nullptr;
  report("cuGraphInstantiateWithFlags(graph memory)",
         cuGraphInstantiateWithFlags(&memoryExec, withMemory, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH));
  report("cuGraphExecGetFlags", cuGraphExecGetFlags(memoryExec, &flags));
  std::printf("flags of the executable with graph memory: %llu\n", static_cast<unsigned long long>(flags));
  report("cuGraphLaunch(graph memory)", cuGraphLaunch(memoryExec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  int saved = 0;
  report("cuMemcpyDtoH(result)", cuMemcpyDtoH(&saved, result, sizeof(saved)));
  std::printf("a word of the graph's memory: %d\n", saved);
  printGraphMemory("after its launch");
  cuuint64_t resetTo = 0, notZero = 1;
  report("cuDeviceSetGraphMemAttribute(used high, 0)",
         cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &resetTo));
  report("cuDeviceSetGraphMemAttribute(used high, 1)",
         cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &notZero), CUDA_ERROR_INVALID_VALUE);
  report("cuDeviceGraphMemTrim", cuDeviceGraphMemTrim(0));
  printGraphMemory("after a reset of the used high");

  // A host node's function read, and changed in the graph and in an executable.
  CUDA_HOST_NODE_PARAMS readHost{};
  report("cuGraphHostNodeGetParams", cuGraphHostNodeGetParams(onHost, &readHost));
  std::printf("host node: the function added %d, its data %d\n", readHost.fn == countOnHost,
              readHost.userData == &hostIncrement);
  report("cuGraphHostNodeGetParams(a kernel node)", cuGraphHostNodeGetParams(append, &readHost), CUDA_ERROR_INVALID_VALUE);
  int hostTen = 10, hostHundred = 100;
  CUDA_HOST_NODE_PARAMS byTen{countOnHost, &hostTen}, byHundred{countOnHost, &hostHundred};
  report("cuGraphExecHostNodeSetParams(by 100)", cuGraphExecHostNodeSetParams(changedExec, onHost, &byHundred));
  launchAndShow(changedExec, "after the executable's host node changed");
  report("cuGraphHostNodeSetParams(by 10)", cuGraphHostNodeSetParams(onHost, &byTen));
  report("cuGraphHostNodeGetParams", cuGraphHostNodeGetParams(onHost, &readHost));
  std::printf("the graph's host node data is the new one: %d\n", readHost.userData == &hostTen);
  launchAndShow(changedExec, "the executable keeps its own");
  CUgraphExec byTenExec = nullptr;
  report("cuGraphInstantiateWithFlags(host node changed)", cuGraphInstantiateWithFlags(&byTenExec, graph, 0));
  launchAndShow(byTenExec, "an executable of the changed graph");
  report("cuGraphExecDestroy", cuGraphExecDestroy(byTenExec));

  // Node parameters read and changed: a memset (in the graph, then in an executable), event nodes,
  // the memory nodes above.
  CUDA_MEM_ALLOC_NODE_PARAMS readAllocation{};
  report("cuGraphMemAllocNodeGetParams", cuGraphMemAllocNodeGetParams(allocate, &readAllocation));
  std::printf("allocation node: %zu bytes at the node's address %d, pinned %d, device %d\n", readAllocation.bytesize,
              readAllocation.dptr == allocation.dptr, readAllocation.poolProps.allocType == CU_MEM_ALLOCATION_TYPE_PINNED,
              readAllocation.poolProps.location.id);
  CUdeviceptr freedAt = 0;
  report("cuGraphMemFreeNodeGetParams", cuGraphMemFreeNodeGetParams(release, &freedAt));
  std::printf("free node frees the allocation: %d\n", freedAt == allocation.dptr);
  report("cuGraphMemFreeNodeGetParams(an allocation node)", cuGraphMemFreeNodeGetParams(allocate, &freedAt),
         CUDA_ERROR_INVALID_VALUE);
  CUgraph tweaked = nullptr;
  CUgraphNode fiveNode, recordNode, waitNode;
  CUevent other = nullptr;
  report("cuEventCreate(other)", cuEventCreate(&other, CU_EVENT_DISABLE_TIMING));
  report("cuGraphCreate(tweaked)", cuGraphCreate(&tweaked, 0));
  CUDA_MEMSET_NODE_PARAMS five{result, 4, 5, 4, 1, 1};
  report("cuGraphAddMemsetNode(five)", cuGraphAddMemsetNode(&fiveNode, tweaked, nullptr, 0, &five, context));
  report("cuGraphAddEventRecordNode", cuGraphAddEventRecordNode(&recordNode, tweaked, &fiveNode, 1, done));
  report("cuGraphAddEventWaitNode", cuGraphAddEventWaitNode(&waitNode, tweaked, &recordNode, 1, done));
  CUDA_MEMSET_NODE_PARAMS readSet{};
  report("cuGraphMemsetNodeGetParams", cuGraphMemsetNodeGetParams(fiveNode, &readSet));
  std::printf("memset node: value %u, element %u, width %zu, height %zu, pitch %zu, at result %d\n", readSet.value,
              readSet.elementSize, readSet.width, readSet.height, readSet.pitch, readSet.dst == result);
  report("cuGraphMemsetNodeGetParams(an event node)", cuGraphMemsetNodeGetParams(recordNode, &readSet),
         CUDA_ERROR_INVALID_VALUE);
  CUDA_MEMSET_NODE_PARAMS six = five;
  six.value = 6;
  report("cuGraphMemsetNodeSetParams(six)", cuGraphMemsetNodeSetParams(fiveNode, &six));
  CUDA_MEMSET_NODE_PARAMS outside = five;
  outside.dst = 0x10;
  report("cuGraphMemsetNodeSetParams(outside memory)", cuGraphMemsetNodeSetParams(fiveNode, &outside),
         CUDA_ERROR_INVALID_VALUE);
  CUevent named = nullptr;
  report("cuGraphEventRecordNodeGetEvent", cuGraphEventRecordNodeGetEvent(recordNode, &named));
  std::printf("the record node's event is the one added: %d\n", named == done);
  report("cuGraphEventWaitNodeSetEvent(other)", cuGraphEventWaitNodeSetEvent(waitNode, other));
  report("cuGraphEventWaitNodeGetEvent", cuGraphEventWaitNodeGetEvent(waitNode, &named));
  std::printf("the wait node's event is the new one: %d\n", named == other);
  CUgraphExec tweakedExec = nullptr;
  report("cuGraphInstantiateWithFlags(tweaked)", cuGraphInstantiateWithFlags(&tweakedExec, tweaked, 0));
  report("cuGraphLaunch(tweaked)", cuGraphLaunch(tweakedExec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  report("cuMemcpyDtoH(result)", cuMemcpyDtoH(&saved, result, sizeof(saved)));
  std::printf("the memset wrote %d\n", saved);
  CUDA_MEMSET_NODE_PARAMS eight = five;
  eight.value = 8;
  report("cuGraphExecMemsetNodeSetParams(eight)", cuGraphExecMemsetNodeSetParams(tweakedExec, fiveNode, &eight, context));
  report("cuGraphExecEventRecordNodeSetEvent(other)", cuGraphExecEventRecordNodeSetEvent(tweakedExec, recordNode, other));
  report("cuGraphExecEventWaitNodeSetEvent(other)", cuGraphExecEventWaitNodeSetEvent(tweakedExec, waitNode, other));
  report("cuGraphLaunch(tweaked)", cuGraphLaunch(tweakedExec, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  report("cuMemcpyDtoH(result)", cuMemcpyDtoH(&saved, result, sizeof(saved)));
  std::printf("after the executable's memset changed it wrote %d\n", saved);
  report("cuGraphMemsetNodeGetParams(the graph's, unchanged)", cuGraphMemsetNodeGetParams(fiveNode, &readSet));
  std::printf("the graph's memset value is still %u\n", readSet.value);
  report("cuGraphExecDestroy(tweaked)", cuGraphExecDestroy(tweakedExec));
  report("cuGraphDestroy(tweaked)", cuGraphDestroy(tweaked));
  report("cuEventDestroy(other)", cuEventDestroy(other));

  // A child graph, and nodes added through cuGraphAddNode.
  CUgraph child = nullptr, parent = nullptr;
  report("cuGraphCreate(child)", cuGraphCreate(&child, 0));
  int fortyTwo = 42;
  void* childParams[] = {&logBuffer, &length, &fortyTwo};
  CUDA_KERNEL_NODE_PARAMS childKernel = kernelNode(appendValue, childParams);
  CUgraphNode childNode, parentReset, nested, generic;
  report("cuGraphAddKernelNode(child)", cuGraphAddKernelNode(&childNode, child, nullptr, 0, &childKernel));
  report("cuGraphCreate(parent)", cuGraphCreate(&parent, 0));
  CUgraphNodeParams memsetParams{};
  memsetParams.type = CU_GRAPH_NODE_TYPE_MEMSET;
  memsetParams.memset = {length, 0, 0, 4, 1, 1, context};
  report("cuGraphAddNode(memset)", cuGraphAddNode(&parentReset, parent, nullptr, nullptr, 0, &memsetParams));
  report("cuGraphAddChildGraphNode", cuGraphAddChildGraphNode(&nested, parent, &parentReset, 1, child));
  int fortyThree = 43;
  void* genericParams[] = {&logBuffer, &length, &fortyThree};
  CUgraphNodeParams kernelParams{};
  kernelParams.type = CU_GRAPH_NODE_TYPE_KERNEL;
  kernelParams.kernel.func = appendValue;
  kernelParams.kernel.gridDimX = kernelParams.kernel.gridDimY = kernelParams.kernel.gridDimZ = 1;
  kernelParams.kernel.blockDimX = kernelParams.kernel.blockDimY = kernelParams.kernel.blockDimZ = 1;
  kernelParams.kernel.kernelParams = genericParams;
  report("cuGraphAddNode(kernel)", cuGraphAddNode(&generic, parent, &nested, nullptr, 1, &kernelParams));
  report("cuGraphAddKernelNode(a dependency of another graph)",
         cuGraphAddKernelNode(&generic, parent, &childNode, 1, &childKernel), CUDA_ERROR_INVALID_VALUE);
  CUgraphExec parentExec = nullptr;
  report("cuGraphInstantiateWithFlags(parent)", cuGraphInstantiateWithFlags(&parentExec, parent, 0));
  launchAndShow(parentExec, "after the parent's replay");

  // A captured copy from pageable memory: each replay copies what the buffer holds then.
  report("cuStreamBeginCapture", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  report("  capture cuMemcpyHtoDAsync(pageable)", cuMemcpyHtoDAsync(input, hostInput, sizeof(hostInput), stream));
  report("  capture cuMemcpyDtoDAsync", cuMemcpyDtoDAsync(result, input + 2 * sizeof(int), sizeof(int), stream));
  report("  capture cuMemcpyDtoHAsync(pageable)", cuMemcpyDtoHAsync(&hostResult, result, sizeof(int), stream));
  CUgraph captured = nullptr;
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &captured));
  CUgraphExec capturedExec = nullptr;
  report("cuGraphInstantiateWithFlags(captured)", cuGraphInstantiateWithFlags(&capturedExec, captured, 0));
  for (int replay = 1; replay <= 2; ++replay) {
    hostInput[2] = 1000 * replay;
    launchAndShow(capturedExec, "after a captured replay");
  }

  const char* dot = "graph_nodes.dot";
  report("cuGraphDebugDotPrint", cuGraphDebugDotPrint(graph, dot, 0));
  std::ifstream printed(dot);
  std::printf("dot file written: %d\n", printed.good() && printed.peek() != EOF);
  std::remove(dot);

  for (CUgraphExec e : {exec, cloneExec, changedExec, memoryExec, parentExec, capturedExec}) {
    report("cuGraphExecDestroy", cuGraphExecDestroy(e));
  }
  for (CUgraph g : {graph, clone, withMemory, child, parent, captured}) report("cuGraphDestroy", cuGraphDestroy(g));
  report("cuGraphGetNodes(destroyed graph)", cuGraphGetNodes(graph, nullptr, &count), CUDA_ERROR_INVALID_VALUE);
  printGraphMemory("after every graph is gone");
  if (failures == 0) std::printf("graph_nodes: done\n");
  return failures == 0 ? 0 : 1;
}
