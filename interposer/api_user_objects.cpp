// User objects live in this process (their destructors are its functions): the table is the
// runtime's (cudaabi/user_objects.h), and no call reaches the server. Graphs and executables own
// references by their server ids; clones, instantiations, updates and destruction tell the table
// (api_graph.cpp, api_graph_build.cpp, Runtime::removeGraphObject).
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

// `graph` may own references: a graph of this process's, or the graph of a capture in progress
// (as cuStreamGetCaptureInfo named it: libraries tie resources to the graph being captured). A
// child graph borrowed from its node is not: its references would outlive it.
CUresult checkOwner(Runtime& rt, CUgraph graph) {
  if (CUresult refused = refuseBorrowedGraph(rt, idOf(graph), "user objects on a child graph's handle");
      refused != CUDA_SUCCESS) {
    return refused;
  }
  bool known = rt.hasGraphObject(idOf(graph)) || rt.captures().isCaptureGraph(idOf(graph));
  return known ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuUserObjectCreate(CUuserObject* out, void* pointer, CUhostFn destroy,
                                                  unsigned int initialCount, unsigned int flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    return rt.userObjects().create(out, pointer, destroy, initialCount, flags);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuUserObjectRetain(CUuserObject object, unsigned int count) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) { return rt.userObjects().retain(object, count); });
}

FASTGPU_REMOTE_EXPORT CUresult cuUserObjectRelease(CUuserObject object, unsigned int count) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) { return rt.userObjects().release(object, count); });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphRetainUserObject(CUgraph graph, CUuserObject object, unsigned int count,
                                                       unsigned int flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (CUresult refused = checkOwner(rt, graph); refused != CUDA_SUCCESS) return refused;
    return rt.userObjects().ownerRetain(idOf(graph), object, count, flags);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuGraphReleaseUserObject(CUgraph graph, CUuserObject object, unsigned int count) {
  return remoteEntry(__func__, [&](Runtime& rt, Client&) {
    if (CUresult refused = checkOwner(rt, graph); refused != CUDA_SUCCESS) return refused;
    return rt.userObjects().ownerRelease(idOf(graph), object, count);
  });
}
