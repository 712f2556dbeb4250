// cudasim's stream memory operations: a wait holds its stream until a write (from another stream,
// or the host) satisfies it; batches run in order; misuse is refused at the call.
#include <atomic>
#include <thread>

#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

class SimMemOps : public SimTest {
 protected:
  void SetUp() override {
    SimTest::SetUp();
    ASSERT_CU(d.cuStreamCreate(&waiter, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(d.cuStreamCreate(&writer, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(d.cuMemAlloc_v2(&flags, 64));
    ASSERT_CU(d.cuMemsetD32_v2(flags, 0, 16));
  }
  void TearDown() override {
    d.cuMemFree_v2(flags);
    d.cuStreamDestroy_v2(waiter);
    d.cuStreamDestroy_v2(writer);
    SimTest::TearDown();
  }
  CUstream waiter = nullptr, writer = nullptr;
  CUdeviceptr flags = 0;
};

TEST_F(SimMemOps, AWaitHoldsItsStreamUntilAnotherStreamsWriteSatisfiesIt) {
  ASSERT_CU(d.cuStreamWaitValue32_v2(waiter, flags, 7, CU_STREAM_WAIT_VALUE_GEQ));
  ASSERT_CU(d.cuStreamWriteValue64_v2(waiter, flags + 8, 0x1122334455667788ULL, 0));
  EXPECT_EQ(d.cuStreamQuery(waiter), CUDA_ERROR_NOT_READY) << "the wait holds the stream";
  ASSERT_CU(d.cuStreamWriteValue32_v2(writer, flags, 9, 0));
  ASSERT_CU(d.cuStreamSynchronize(waiter));
  std::uint64_t written = 0;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&written, flags + 8, 8));
  EXPECT_EQ(written, 0x1122334455667788ULL);
}

// On a capturing stream, memory operations become one batch node each: nothing runs at the
// capture, and every replay runs them in stream order.
TEST_F(SimMemOps, CapturedOperationsBecomeBatchNodesThatRunInEachReplay) {
  ASSERT_CU(d.cuStreamBeginCapture_v2(waiter, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(d.cuStreamWriteValue32_v2(waiter, flags, 5, 0));
  ASSERT_CU(d.cuStreamWaitValue32_v2(waiter, flags, 5, CU_STREAM_WAIT_VALUE_EQ));
  ASSERT_CU(d.cuStreamWriteValue64_v2(waiter, flags + 8, 0x99, 0));
  CUgraph graph = nullptr;
  ASSERT_CU(d.cuStreamEndCapture(waiter, &graph));
  std::uint32_t first = 1;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&first, flags, 4));
  EXPECT_EQ(first, 0u) << "nothing ran at the capture";
  std::size_t count = 0;
  ASSERT_CU(d.cuGraphGetNodes(graph, nullptr, &count));
  ASSERT_EQ(count, 3u);
  CUgraphNode nodes[3] = {};
  ASSERT_CU(d.cuGraphGetNodes(graph, nodes, &count));
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  ASSERT_CU(d.cuGraphNodeGetType(nodes[1], &type));
  EXPECT_EQ(type, CU_GRAPH_NODE_TYPE_BATCH_MEM_OP);
  CUgraphExec exec = nullptr;
  ASSERT_CU(d.cuGraphInstantiateWithFlags(&exec, graph, 0));
  for (int replay = 0; replay < 2; ++replay) {
    ASSERT_CU(d.cuMemsetD32_v2(flags, 0, 4));
    ASSERT_CU(d.cuGraphLaunch(exec, waiter));
    ASSERT_CU(d.cuStreamSynchronize(waiter));
    std::uint64_t written = 0;
    ASSERT_CU(d.cuMemcpyDtoH_v2(&written, flags + 8, 8));
    EXPECT_EQ(written, 0x99u) << "replay " << replay;
  }
  ASSERT_CU(d.cuGraphExecDestroy(exec));
  ASSERT_CU(d.cuGraphDestroy(graph));
}

TEST_F(SimMemOps, ABatchRunsInOrderAndEachConditionIsTheDocumentedOne) {
  // Only the host and then the writer stream write the flag, so the order is fixed.
  ASSERT_CU(d.cuMemsetD32_v2(flags, 0x0f, 1));
  CUstreamBatchMemOpParams ops[3] = {};
  ops[0].waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_32;
  ops[0].waitValue.address = flags;
  ops[0].waitValue.value = 0x04;
  ops[0].waitValue.flags = CU_STREAM_WAIT_VALUE_AND;  // 0x0f & 0x04 != 0: passes
  ops[1].waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_32;
  ops[1].waitValue.address = flags;
  ops[1].waitValue.value = 0xfffffff0u;
  ops[1].waitValue.flags = CU_STREAM_WAIT_VALUE_NOR;  // ~(0x0f | 0xfffffff0) == 0: holds
  ops[2].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
  ops[2].writeValue.address = flags + 8;
  ops[2].writeValue.value = 0x77;
  ASSERT_CU(d.cuStreamBatchMemOp_v2(waiter, 3, ops, 0));
  EXPECT_EQ(d.cuStreamQuery(waiter), CUDA_ERROR_NOT_READY);
  ASSERT_CU(d.cuStreamWriteValue32_v2(writer, flags, 0x0e, 0));  // bit 0 clear in both: the NOR passes
  ASSERT_CU(d.cuStreamSynchronize(waiter));
  std::uint32_t written = 0;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&written, flags + 8, 4));
  EXPECT_EQ(written, 0x77u) << "the write after the waits ran";
}

TEST_F(SimMemOps, MisuseIsRefusedAtTheCall) {
  EXPECT_EQ(d.cuStreamWriteValue32_v2(waiter, flags + 2, 1, 0), CUDA_ERROR_INVALID_VALUE) << "misaligned";
  EXPECT_EQ(d.cuStreamWriteValue64_v2(waiter, flags + 4, 1, 0), CUDA_ERROR_INVALID_VALUE) << "misaligned";
  EXPECT_EQ(d.cuStreamWaitValue32_v2(waiter, flags, 1, 0x100), CUDA_ERROR_INVALID_VALUE) << "unknown flags";
  EXPECT_EQ(d.cuStreamWriteValue32_v2(waiter, 0x1234560, 1, 0), CUDA_ERROR_INVALID_VALUE) << "not device memory";
  CUstreamBatchMemOpParams op = {};
  op.operation = static_cast<CUstreamBatchMemOpType>(77);
  EXPECT_EQ(d.cuStreamBatchMemOp_v2(waiter, 1, &op, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuStreamBatchMemOp_v2(waiter, 0, &op, 0), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(d.cuStreamSynchronize(waiter));
}

}  // namespace
}  // namespace fastgpu::testing
