// Graph calls that only the interposer answers the way it does (they differ from a driver's on
// purpose, so the end-to-end comparisons cannot hold them).
#include "interposer_test_support.h"

namespace fastgpu::interposer {
namespace {

// The graph a child graph node holds is borrowed for queries: changing, cloning, instantiating or
// destroying it is CUDA_ERROR_NOT_SUPPORTED (the client keeps no record of it, so a change made
// there could not be replayed right), and it is forgotten with the graph that holds its node.
TEST_F(Interposer, AChildGraphsHandleIsForQueriesOnly) {
  CUgraph child = nullptr, parent = nullptr, held = nullptr;
  CUgraphNode empty = nullptr, nested = nullptr, added = nullptr;
  ASSERT_CU(cu.cuGraphCreate(&child, 0));
  ASSERT_CU(cu.cuGraphAddEmptyNode(&empty, child, nullptr, 0));
  ASSERT_CU(cu.cuGraphCreate(&parent, 0));
  ASSERT_CU(cu.cuGraphAddChildGraphNode(&nested, parent, nullptr, 0, child));
  ASSERT_CU(cu.cuGraphChildGraphNodeGetGraph(nested, &held));

  std::size_t count = 0;
  EXPECT_CU(cu.cuGraphGetNodes(held, nullptr, &count));
  EXPECT_EQ(count, 1u);
  CUgraphNode inside = nullptr;
  count = 1;
  EXPECT_CU(cu.cuGraphGetNodes(held, &inside, &count));

  CUgraphExec exec = nullptr;
  CUgraph clone = nullptr;
  EXPECT_EQ(cu.cuGraphInstantiateWithFlags(&exec, held, 0), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(cu.cuGraphClone(&clone, held), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(cu.cuGraphAddEmptyNode(&added, held, nullptr, 0), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(cu.cuGraphAddChildGraphNode(&added, parent, nullptr, 0, held), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(cu.cuGraphAddDependencies(held, &inside, &inside, 1), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(cu.cuGraphDestroyNode(inside), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(cu.cuGraphDestroy(held), CUDA_ERROR_NOT_SUPPORTED) << "its node owns it";
  EXPECT_CU(cu.cuGraphGetNodes(held, nullptr, &count)) << "still there after the refusals";

  EXPECT_CU(cu.cuGraphDestroy(parent));
  EXPECT_EQ(cu.cuGraphGetNodes(held, nullptr, &count), CUDA_ERROR_INVALID_VALUE) << "gone with its holder";
  EXPECT_CU(cu.cuGraphDestroy(child));
}

}  // namespace
}  // namespace fastgpu::interposer
