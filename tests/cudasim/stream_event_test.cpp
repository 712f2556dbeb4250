// cudasim: stream order, events and elapsed time, cross-stream waits, the legacy default
// stream, host functions, asynchronous errors.
#include <atomic>
#include <thread>
#include <vector>

#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

class SimStreams : public SimTest {
 protected:
  void SetUp() override {
    SimTest::SetUp();
    module = loadTestModule();
    appendValue = function(module, "appendValue");
    spinKernel = function(module, "fastgpu_spin");
    ASSERT_CU(d.cuMemAlloc_v2(&log, 4096));
    ASSERT_CU(d.cuMemAlloc_v2(&length, sizeof(int)));
    ASSERT_CU(d.cuMemsetD32_v2(length, 0, 1));
  }
  void TearDown() override {
    d.cuMemFree_v2(log);
    d.cuMemFree_v2(length);
    d.cuModuleUnload(module);
    SimTest::TearDown();
  }

  CUmodule module = nullptr;
  CUfunction appendValue = nullptr;
  CUfunction spinKernel = nullptr;
  CUdeviceptr log = 0;
  CUdeviceptr length = 0;
};

TEST_F(SimStreams, WorkOnOneStreamRunsInIssueOrder) {
  CUstream stream;
  ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  std::vector<int> expected;
  for (int i = 0; i < 50; ++i) {
    if (i % 10 == 0) spin(spinKernel, 1000, stream);
    append(appendValue, log, length, i, stream);
    expected.push_back(i);
  }
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(readLog(log, length), expected);
  ASSERT_CU(d.cuStreamDestroy_v2(stream));
}

TEST_F(SimStreams, StreamQueryReportsPendingWork) {
  CUstream stream;
  ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  // Work held back until the test lets it go: pending however slowly this thread runs.
  std::atomic<bool> release{false};
  ASSERT_CU(d.cuLaunchHostFunc(stream, gate, &release));
  spin(spinKernel, 1000, stream);
  EXPECT_EQ(d.cuStreamQuery(stream), CUDA_ERROR_NOT_READY);
  release = true;
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_CU(d.cuStreamQuery(stream));
  ASSERT_CU(d.cuStreamDestroy_v2(stream));
}

TEST_F(SimStreams, EventsMeasureElapsedTime) {
  CUstream stream;
  ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUevent start, stop;
  ASSERT_CU(d.cuEventCreate(&start, CU_EVENT_DEFAULT));
  ASSERT_CU(d.cuEventCreate(&stop, CU_EVENT_DEFAULT));
  EXPECT_CU(d.cuEventQuery(stop)) << "a never-recorded event is complete";
  std::atomic<bool> release{false};
  ASSERT_CU(d.cuEventRecord(start, stream));
  ASSERT_CU(d.cuLaunchHostFunc(stream, gate, &release));  // holds the stream until released
  spin(spinKernel, 30000, stream);
  ASSERT_CU(d.cuEventRecord(stop, stream));
  EXPECT_EQ(d.cuEventQuery(stop), CUDA_ERROR_NOT_READY);
  float early = 0;
  EXPECT_EQ(d.cuEventElapsedTime_v2(&early, start, stop), CUDA_ERROR_NOT_READY);
  release = true;
  ASSERT_CU(d.cuEventSynchronize(stop));
  float ms = 0;
  ASSERT_CU(d.cuEventElapsedTime_v2(&ms, start, stop));
  EXPECT_GE(ms, 29.0f);
  EXPECT_LT(ms, 5000.0f);
  // Timing-disabled events cannot be timed.
  CUevent untimed;
  ASSERT_CU(d.cuEventCreate(&untimed, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(d.cuEventRecord(untimed, stream));
  ASSERT_CU(d.cuEventSynchronize(untimed));
  EXPECT_EQ(d.cuEventElapsedTime_v2(&ms, start, untimed), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(d.cuEventCreate(&untimed, 0x100), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(d.cuEventDestroy_v2(start));
  ASSERT_CU(d.cuEventDestroy_v2(stop));
  ASSERT_CU(d.cuEventDestroy_v2(untimed));
  ASSERT_CU(d.cuStreamDestroy_v2(stream));
}

TEST_F(SimStreams, StreamWaitEventOrdersWorkAcrossStreams) {
  CUstream first, second;
  ASSERT_CU(d.cuStreamCreate(&first, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(d.cuStreamCreate(&second, CU_STREAM_NON_BLOCKING));
  CUevent ready;
  ASSERT_CU(d.cuEventCreate(&ready, CU_EVENT_DISABLE_TIMING));
  // Hold `first` back behind a host function that waits until the test lets it go, so that
  // without the wait `second` would certainly run first.
  std::atomic<bool> release{false};
  ASSERT_CU(d.cuLaunchHostFunc(first, gate, &release));
  append(appendValue, log, length, 1, first);
  ASSERT_CU(d.cuEventRecord(ready, first));
  ASSERT_CU(d.cuStreamWaitEvent(second, ready, 0));
  append(appendValue, log, length, 2, second);
  EXPECT_EQ(d.cuStreamQuery(second), CUDA_ERROR_NOT_READY) << "second must wait for first";
  release = true;
  ASSERT_CU(d.cuCtxSynchronize());
  EXPECT_EQ(readLog(log, length), (std::vector<int>{1, 2}));
  ASSERT_CU(d.cuEventDestroy_v2(ready));
  ASSERT_CU(d.cuStreamDestroy_v2(first));
  ASSERT_CU(d.cuStreamDestroy_v2(second));
}

TEST_F(SimStreams, AStreamThatNeverBeganACaptureIsNotCapturing) {
  CUstream stream = nullptr;
  ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  for (CUstream which : {stream, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD, static_cast<CUstream>(nullptr)}) {
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
    ASSERT_CU(d.cuStreamIsCapturing(which, &status));
    EXPECT_EQ(status, CU_STREAM_CAPTURE_STATUS_NONE);
    status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
    ASSERT_CU(d.cuStreamGetCaptureInfo_v3(which, &status, nullptr, nullptr, nullptr, nullptr, nullptr));
    EXPECT_EQ(status, CU_STREAM_CAPTURE_STATUS_NONE);
  }
  CUstreamCaptureStatus status;
  const CUgraphEdgeData* edges = nullptr;
  EXPECT_EQ(d.cuStreamIsCapturing(stream, nullptr), CUDA_ERROR_INVALID_VALUE);
  // Accepted while nothing captures, as the real driver does (driver 580, H200).
  ASSERT_CU(d.cuStreamGetCaptureInfo_v3(stream, &status, nullptr, nullptr, nullptr, &edges, nullptr));
  EXPECT_EQ(status, CU_STREAM_CAPTURE_STATUS_NONE);
  EXPECT_EQ(d.cuStreamIsCapturing(reinterpret_cast<CUstream>(0x5151), &status), CUDA_ERROR_INVALID_HANDLE);
  ASSERT_CU(d.cuStreamDestroy_v2(stream));
}

TEST_F(SimStreams, TheCaptureModeIsEachThreadsOwn) {
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
  ASSERT_CU(d.cuThreadExchangeStreamCaptureMode(&mode));
  EXPECT_EQ(mode, CU_STREAM_CAPTURE_MODE_GLOBAL);  // the default
  std::thread other([&] {
    CUstreamCaptureMode theirs = CU_STREAM_CAPTURE_MODE_THREAD_LOCAL;
    EXPECT_CU(d.cuThreadExchangeStreamCaptureMode(&theirs));
    EXPECT_EQ(theirs, CU_STREAM_CAPTURE_MODE_GLOBAL) << "another thread sees its own mode";
  });
  other.join();
  mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  ASSERT_CU(d.cuThreadExchangeStreamCaptureMode(&mode));
  EXPECT_EQ(mode, CU_STREAM_CAPTURE_MODE_RELAXED);
  mode = static_cast<CUstreamCaptureMode>(7);  // taken as the real driver takes it (driver 580, H200)
  ASSERT_CU(d.cuThreadExchangeStreamCaptureMode(&mode));
  EXPECT_EQ(mode, CU_STREAM_CAPTURE_MODE_GLOBAL);
  EXPECT_EQ(d.cuThreadExchangeStreamCaptureMode(nullptr), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(SimStreams, LegacyStreamWaitsForBlockingStreamsButNotNonBlockingOnes) {
  CUstream blocking, nonBlocking;
  ASSERT_CU(d.cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
  ASSERT_CU(d.cuStreamCreate(&nonBlocking, CU_STREAM_NON_BLOCKING));
  std::atomic<bool> releaseBlocking{false}, releaseNonBlocking{false};
  ASSERT_CU(d.cuLaunchHostFunc(blocking, gate, &releaseBlocking));
  append(appendValue, log, length, 1, blocking);
  ASSERT_CU(d.cuLaunchHostFunc(nonBlocking, gate, &releaseNonBlocking));
  append(appendValue, log, length, 3, nonBlocking);
  append(appendValue, log, length, 2, nullptr);  // the legacy stream
  EXPECT_EQ(d.cuStreamQuery(nullptr), CUDA_ERROR_NOT_READY) << "legacy work waits for the blocking stream";
  releaseBlocking = true;
  ASSERT_CU(d.cuStreamSynchronize(nullptr));
  EXPECT_EQ(readLog(log, length), (std::vector<int>{1, 2})) << "the non-blocking stream is still held";
  releaseNonBlocking = true;
  ASSERT_CU(d.cuCtxSynchronize());
  EXPECT_EQ(readLog(log, length), (std::vector<int>{1, 2, 3}));
  ASSERT_CU(d.cuStreamDestroy_v2(blocking));
  ASSERT_CU(d.cuStreamDestroy_v2(nonBlocking));
}

TEST_F(SimStreams, HostFunctionsRunInStreamOrder) {
  CUstream stream;
  ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  struct Probe {
    const cudaabi::DriverTable* d;
    CUdeviceptr length;
    int seen = -1;
  } probe{&d, length};
  append(appendValue, log, length, 1, stream);
  append(appendValue, log, length, 2, stream);
  // The host function sees both appends done: it reads the length straight from device memory
  // (cudasim's device memory is host memory; host functions must not call CUDA).
  ASSERT_CU(d.cuLaunchHostFunc(stream, [](void* p) {
    auto* probe = static_cast<Probe*>(p);
    probe->seen = *reinterpret_cast<int*>(probe->length);
  }, &probe));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  EXPECT_EQ(probe.seen, 2);
  ASSERT_CU(d.cuStreamDestroy_v2(stream));
}

TEST_F(SimStreams, DestroyedAndForgedStreamsAndEventsAreRejected) {
  CUstream stream;
  ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(d.cuStreamDestroy_v2(stream));
  EXPECT_EQ(d.cuStreamSynchronize(stream), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(d.cuStreamDestroy_v2(stream), CUDA_ERROR_INVALID_HANDLE);
  CUevent event;
  ASSERT_CU(d.cuEventCreate(&event, 0));
  ASSERT_CU(d.cuEventDestroy_v2(event));
  EXPECT_EQ(d.cuEventRecord(event, nullptr), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(d.cuEventSynchronize(event), CUDA_ERROR_INVALID_HANDLE);
  // Forged values, and a handle of the wrong kind.
  EXPECT_EQ(d.cuStreamQuery(reinterpret_cast<CUstream>(0xdeadbeef0)), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(d.cuEventQuery(reinterpret_cast<CUevent>(stream)), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(d.cuStreamSynchronize(reinterpret_cast<CUstream>(module)), CUDA_ERROR_INVALID_HANDLE);
}

TEST_F(SimStreams, AsynchronousErrorsSurfaceAtTheNextSynchronizingCallAndStick) {
  CUfunction failWith = function(module, "failWith");
  int code = CUDA_ERROR_ILLEGAL_ADDRESS;
  void* params[] = {&code};
  // The launch itself succeeds; the failure shows at the next synchronizing call.
  ASSERT_CU(d.cuLaunchKernel(failWith, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  EXPECT_EQ(d.cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
  EXPECT_EQ(d.cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS) << "illegal address is sticky";
  EXPECT_EQ(d.cuStreamSynchronize(nullptr), CUDA_ERROR_ILLEGAL_ADDRESS);
  // Another context is unaffected.
  CUcontext clean = nullptr;
  ASSERT_CU(d.cuCtxCreate_v2(&clean, 0, 0));
  EXPECT_CU(d.cuCtxSynchronize());
  ASSERT_CU(d.cuCtxDestroy_v2(clean));
  // Reset the primary context so that later tests in this process get a clean one.
  ASSERT_CU(d.cuDevicePrimaryCtxReset_v2(0));
  ASSERT_CU(d.cuDevicePrimaryCtxRetain(&context, 0));
  ASSERT_CU(d.cuCtxSetCurrent(context));
  EXPECT_CU(d.cuCtxSynchronize());
  module = loadTestModule();
  ASSERT_CU(d.cuMemAlloc_v2(&log, 64));
  ASSERT_CU(d.cuMemAlloc_v2(&length, 4));
}

TEST_F(SimStreams, NonStickyAsynchronousErrorsAreReportedOnce) {
  CUfunction failWith = function(module, "failWith");
  int code = CUDA_ERROR_INVALID_VALUE;
  void* params[] = {&code};
  ASSERT_CU(d.cuLaunchKernel(failWith, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  EXPECT_EQ(d.cuCtxSynchronize(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_CU(d.cuCtxSynchronize());
}

}  // namespace
}  // namespace fastgpu::testing

namespace fastgpu::testing {
namespace {

class SimDefaultStreams : public SimTest {};

// Each thread's per-thread default stream is independent of other threads' and of created
// streams, but the legacy stream waits for it.
TEST_F(SimDefaultStreams, PerThreadStreamsAreIndependentAndTheLegacyStreamWaitsForThem) {
  CUmodule module = loadTestModule();
  CUfunction appendValue = function(module, "appendValue");
  CUdeviceptr log = 0, length = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&log, 256));
  ASSERT_CU(d.cuMemAlloc_v2(&length, 4));
  ASSERT_CU(d.cuMemsetD32_v2(length, 0, 1));
  std::atomic<bool> release{false};
  // This thread's per-thread stream is held.
  ASSERT_CU(d.cuLaunchHostFunc_ptsz(nullptr, gate, &release));
  append(appendValue, log, length, 1, CU_STREAM_PER_THREAD);
  // Another thread's per-thread stream is not.
  std::thread other([&] {
    EXPECT_CU(d.cuCtxSetCurrent(context));
    int value = 2;
    void* params[] = {&log, &length, &value};
    EXPECT_CU(d.cuLaunchKernel_ptsz(appendValue, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
    EXPECT_CU(d.cuStreamSynchronize_ptsz(nullptr));
  });
  other.join();
  EXPECT_EQ(readLogNow(log, length), (std::vector<int>{2}));
  // Legacy work waits for this thread's per-thread stream.
  append(appendValue, log, length, 3, CU_STREAM_LEGACY);
  EXPECT_EQ(d.cuStreamQuery(CU_STREAM_LEGACY), CUDA_ERROR_NOT_READY);
  release = true;
  ASSERT_CU(d.cuCtxSynchronize());
  EXPECT_EQ(readLog(log, length), (std::vector<int>{2, 1, 3}));
  ASSERT_CU(d.cuModuleUnload(module));
}

}  // namespace
}  // namespace fastgpu::testing

namespace fastgpu::testing {
namespace {

TEST_F(SimTest, EveryStreamHasAnIdOfItsOwn) {
  CUstream first = nullptr, second = nullptr;
  ASSERT_CU(d.cuStreamCreate(&first, 0));
  ASSERT_CU(d.cuStreamCreate(&second, 0));
  unsigned long long a = 0, b = 0, again = 0, legacy = 0, perThread = 0;
  ASSERT_CU(d.cuStreamGetId(first, &a));
  ASSERT_CU(d.cuStreamGetId(second, &b));
  ASSERT_CU(d.cuStreamGetId(first, &again));
  ASSERT_CU(d.cuStreamGetId(CU_STREAM_LEGACY, &legacy));
  ASSERT_CU(d.cuStreamGetId(CU_STREAM_PER_THREAD, &perThread));
  EXPECT_EQ(a, again);
  EXPECT_NE(a, b);
  EXPECT_NE(legacy, perThread);
  EXPECT_NE(a, legacy);
  EXPECT_EQ(d.cuStreamGetId(first, nullptr), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(d.cuStreamDestroy_v2(first));
  ASSERT_CU(d.cuStreamDestroy_v2(second));
  EXPECT_EQ(d.cuStreamGetId(first, &a), CUDA_ERROR_INVALID_HANDLE);
}

}  // namespace
}  // namespace fastgpu::testing

namespace fastgpu::testing {
namespace {

// The per-thread forms name the calling thread's default stream by NULL: what is set there is read
// back there, and not from the legacy stream.
TEST_F(SimDefaultStreams, StreamAttributesOfThePerThreadDefaultStreamAreItsOwn) {
  CUstreamAttrValue value{};
  value.syncPolicy = CU_SYNC_POLICY_YIELD;
  ASSERT_CU(d.cuStreamSetAttribute_ptsz(nullptr, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &value));
  CUstreamAttrValue back{};
  ASSERT_CU(d.cuStreamGetAttribute_ptsz(nullptr, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &back));
  EXPECT_EQ(back.syncPolicy, CU_SYNC_POLICY_YIELD);
  ASSERT_CU(d.cuStreamGetAttribute(nullptr, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &back));
  EXPECT_EQ(back.syncPolicy, CU_SYNC_POLICY_AUTO) << "the legacy stream keeps its own";
  CUstream created = nullptr;
  ASSERT_CU(d.cuStreamCreate(&created, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(d.cuStreamCopyAttributes_ptsz(created, nullptr));
  ASSERT_CU(d.cuStreamGetAttribute(created, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &back));
  EXPECT_EQ(back.syncPolicy, CU_SYNC_POLICY_YIELD);
  ASSERT_CU(d.cuStreamDestroy_v2(created));
}

}  // namespace
}  // namespace fastgpu::testing
