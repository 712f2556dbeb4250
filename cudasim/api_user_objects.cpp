// User objects (cudaabi/user_objects.h): the program's references, and those its graphs own.
// Clones, instantiations, updates and destruction of graphs tell the table (api_graph.cpp,
// api_graph_exec.cpp, capture.cpp).
#include "cudasim/graph_api.h"

using namespace fastgpu;
using namespace fastgpu::sim;

FASTGPU_SIM_EXPORT CUresult cuUserObjectCreate(CUuserObject* out, void* pointer, CUhostFn destroy,
                                               unsigned int initialCount, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    return driver.userObjects().create(out, pointer, destroy, initialCount, flags);
  });
}

FASTGPU_SIM_EXPORT CUresult cuUserObjectRetain(CUuserObject object, unsigned int count) {
  return driverEntry(__func__, [&](Driver& driver) { return driver.userObjects().retain(object, count); });
}

FASTGPU_SIM_EXPORT CUresult cuUserObjectRelease(CUuserObject object, unsigned int count) {
  return driverEntry(__func__, [&](Driver& driver) { return driver.userObjects().release(object, count); });
}

FASTGPU_SIM_EXPORT CUresult cuGraphRetainUserObject(CUgraph graph, CUuserObject object, unsigned int count,
                                                    unsigned int flags) {
  return withGraph(__func__, graph, [&](Driver& driver, const std::shared_ptr<Graph>& found) {
    return driver.userObjects().ownerRetain(found->handle(), object, count, flags);
  });
}

FASTGPU_SIM_EXPORT CUresult cuGraphReleaseUserObject(CUgraph graph, CUuserObject object, unsigned int count) {
  return withGraph(__func__, graph, [&](Driver& driver, const std::shared_ptr<Graph>& found) {
    return driver.userObjects().ownerRelease(found->handle(), object, count);
  });
}
