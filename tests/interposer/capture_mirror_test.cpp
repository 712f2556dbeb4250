// The client's capture mirror applies the capture rules that cudasim applies natively, without
// the server: forks and joins through events, invalidation by the calls a capture forbids, the
// legacy stream beside a capturing blocking stream, and the capture modes of calling threads.
#include "interposer/capture_mirror.h"

#include <gtest/gtest.h>

#include <thread>

#include "cudaabi/stream_capture.h"

namespace fastgpu::interposer {
namespace {

using Key = CaptureMirror::Key;

constexpr std::uint64_t kContext = 7;
const Key kStream{0x100, {}};
const Key kSide{0x200, {}};
const Key kLegacy{};

TEST(CaptureMirror, AStreamWaitingForACapturedEventJoinsTheCaptureUntilItEnds) {
  CaptureMirror mirror;
  EXPECT_FALSE(mirror.state(kStream));
  mirror.begin(kStream, 11, CU_STREAM_CAPTURE_MODE_GLOBAL, kContext, false);
  mirror.recorded(kStream, 0xe1);
  ASSERT_EQ(mirror.waiting(kSide, 0xe1, 0, kContext, false), CUDA_SUCCESS);
  auto side = mirror.state(kSide);
  ASSERT_TRUE(side);
  EXPECT_EQ(side->id, 11u);
  EXPECT_FALSE(side->origin);
  EXPECT_TRUE(mirror.state(kStream)->origin);
  mirror.end(kStream);
  EXPECT_FALSE(mirror.state(kSide));
  EXPECT_FALSE(mirror.anyActive());
  EXPECT_EQ(mirror.waiting(kSide, 0xe1, 0, kContext, false), CUDA_SUCCESS) << "the event is an ordinary one again";
  EXPECT_FALSE(mirror.state(kSide));
}

TEST(CaptureMirror, ForbiddenCallsFailAndInvalidateTheCapture) {
  CaptureMirror mirror;
  mirror.begin(kStream, 1, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  EXPECT_EQ(mirror.work(kStream, kContext, true), CUDA_SUCCESS);
  EXPECT_EQ(mirror.work(kStream, kContext, false), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) << "not capturable";
  EXPECT_TRUE(mirror.state(kStream)->invalidated);
  EXPECT_EQ(mirror.work(kStream, kContext, true), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  mirror.end(kStream);

  mirror.begin(kStream, 2, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  mirror.recorded(kStream, 0xe2);
  EXPECT_EQ(mirror.eventSynchronizing(0xe2), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  mirror.end(kStream);
  mirror.begin(kStream, 3, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  EXPECT_EQ(mirror.contextSynchronizing(kContext + 1), CUDA_SUCCESS) << "another context";
  EXPECT_EQ(mirror.contextSynchronizing(kContext), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  mirror.end(kStream);
  mirror.begin(kStream, 4, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  EXPECT_EQ(mirror.waiting(kStream, 0xe9, 0, kContext, false), CUDA_ERROR_STREAM_CAPTURE_ISOLATION);
  mirror.end(kStream);
  mirror.begin(kStream, 5, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  EXPECT_EQ(mirror.waiting(kStream, 0xe9, CU_EVENT_WAIT_EXTERNAL, kContext, false), CUDA_SUCCESS);
  mirror.begin(kSide, 6, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  mirror.recorded(kSide, 0xe3);
  EXPECT_EQ(mirror.waiting(kStream, 0xe3, 0, kContext, false), CUDA_ERROR_STREAM_CAPTURE_MERGE);
  EXPECT_TRUE(mirror.state(kStream)->invalidated);
  EXPECT_TRUE(mirror.state(kSide)->invalidated);
  mirror.end(kStream);
  mirror.end(kSide);
  EXPECT_FALSE(mirror.anyActive());

  // A destroyed stream leaves its capture invalidated; a destroyed origin ends it.
  mirror.begin(kStream, 7, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  mirror.recorded(kStream, 0xe4);
  ASSERT_EQ(mirror.waiting(kSide, 0xe4, 0, kContext, false), CUDA_SUCCESS);
  mirror.streamDestroyed(kSide);
  EXPECT_FALSE(mirror.state(kSide));
  EXPECT_TRUE(mirror.state(kStream)->invalidated);
  mirror.streamDestroyed(kStream);
  EXPECT_FALSE(mirror.anyActive());
}

TEST(CaptureMirror, TheLegacyStreamIsRefusedBesideACapturingBlockingStreamOnly) {
  CaptureMirror mirror;
  mirror.begin(kStream, 1, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  EXPECT_EQ(mirror.work(kLegacy, kContext, true), CUDA_SUCCESS) << "a non-blocking stream does not sync with it";
  mirror.end(kStream);
  mirror.begin(kStream, 2, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, true);
  EXPECT_EQ(mirror.work(kLegacy, kContext + 1, true), CUDA_SUCCESS) << "another context's legacy stream";
  EXPECT_EQ(mirror.work(kLegacy, kContext, true), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  EXPECT_TRUE(mirror.state(kStream)->invalidated);
  mirror.end(kStream);
}

TEST(CaptureMirror, UnsafeCallsFollowTheCaptureModesOfEveryThread) {
  CaptureMirror mirror;
  mirror.begin(kStream, 1, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, kContext, false);
  CUresult otherThread = CUDA_ERROR_UNKNOWN;
  std::thread([&] { otherThread = mirror.unsafeCall(); }).join();
  EXPECT_EQ(otherThread, CUDA_SUCCESS) << "a thread-local capture prohibits its own thread only";
  EXPECT_EQ(mirror.unsafeCall(), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  mirror.end(kStream);

  mirror.begin(kStream, 2, CU_STREAM_CAPTURE_MODE_GLOBAL, kContext, false);
  std::thread([&] {
    otherThread = mirror.unsafeCall();
  }).join();
  EXPECT_EQ(otherThread, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) << "a global capture prohibits every global thread";
  mirror.end(kStream);

  mirror.begin(kStream, 3, CU_STREAM_CAPTURE_MODE_GLOBAL, kContext, false);
  std::thread([&] {
    CUstreamCaptureMode relaxed = CU_STREAM_CAPTURE_MODE_RELAXED;
    cudaabi::exchangeThreadCaptureMode(&relaxed);
    otherThread = mirror.unsafeCall();
  }).join();
  EXPECT_EQ(otherThread, CUDA_SUCCESS) << "a relaxed thread may";
  EXPECT_FALSE(mirror.state(kStream)->invalidated);
  EXPECT_TRUE(mirror.endsOnThisThread(kStream));
  std::thread([&] { otherThread = mirror.endsOnThisThread(kStream) ? CUDA_SUCCESS : CUDA_ERROR_UNKNOWN; }).join();
  EXPECT_EQ(otherThread, CUDA_ERROR_UNKNOWN) << "a global capture ends on its own thread";
  mirror.end(kStream);
}

TEST(CaptureMirror, HostEffectsMayBeCapturedAnywhereAndComeBackInCaptureOrder) {
  CaptureMirror mirror;
  int destination = 0;
  auto copy = HostEffect{HostEffect::Kind::kCopyToHost, 0x5001, &destination, sizeof(int), nullptr, nullptr};
  auto function = HostEffect{HostEffect::Kind::kHostFunction, 0, nullptr, 0, [](void*) {}, nullptr};
  EXPECT_EQ(mirror.addEffect(kStream, copy), CUDA_ERROR_ILLEGAL_STATE) << "not capturing";
  mirror.begin(kStream, 1, CU_STREAM_CAPTURE_MODE_RELAXED, kContext, false);
  mirror.recorded(kStream, 0xe1);
  ASSERT_EQ(mirror.waiting(kSide, 0xe1, 0, kContext, false), CUDA_SUCCESS);
  EXPECT_EQ(mirror.addEffect(kSide, copy), CUDA_SUCCESS) << "copies to the host may be captured anywhere";
  EXPECT_EQ(mirror.addEffect(kStream, function), CUDA_SUCCESS);
  EXPECT_EQ(mirror.addEffect(kStream, function), CUDA_SUCCESS) << "host functions may follow host functions";
  EXPECT_EQ(mirror.work(kStream, kContext, true), CUDA_SUCCESS) << "and device work may follow them (host points)";
  EXPECT_EQ(mirror.addEffect(kSide, function), CUDA_SUCCESS) << "on any stream of the capture";
  EXPECT_EQ(mirror.addEffect(kSide, copy), CUDA_SUCCESS) << "copies may follow them too";
  HostEffects effects = mirror.end(kStream).effects;
  ASSERT_EQ(effects.size(), 5u);
  EXPECT_EQ(effects[0].staging, 0x5001u);
  EXPECT_EQ(effects[1].kind, HostEffect::Kind::kHostFunction);
  EXPECT_EQ(effects[4].kind, HostEffect::Kind::kCopyToHost) << "in capture order";
}

TEST(CaptureMirror, PerThreadDefaultStreamsAreEachThreadsOwn) {
  Key here = CaptureMirror::keyOf(nullptr, true);
  Key there;
  std::thread([&] { there = CaptureMirror::keyOf(CU_STREAM_PER_THREAD, false); }).join();
  EXPECT_NE(here, there);
  EXPECT_TRUE(CaptureMirror::isLegacy(CaptureMirror::keyOf(nullptr, false)));
  EXPECT_TRUE(CaptureMirror::isLegacy(CaptureMirror::keyOf(CU_STREAM_LEGACY, true)));
  EXPECT_FALSE(CaptureMirror::isLegacy(here));
}

}  // namespace
}  // namespace fastgpu::interposer
