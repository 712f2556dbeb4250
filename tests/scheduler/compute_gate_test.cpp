// The compute gate's shell: session threads blocked and released, pieces metered with the
// driver's events. A fake driver whose events complete when the test says so.
#include "scheduler/compute_gate.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/blocked_thread.h"

namespace fastgpu::scheduler {
namespace {

using namespace std::chrono_literals;

// Events that complete on command, with the GPU time the test gives them.
class FakeEvents {
 public:
  static FakeEvents& instance() {
    static FakeEvents events;
    return events;
  }

  CUevent create() {
    std::lock_guard lock(mutex_);
    CUevent event = reinterpret_cast<CUevent>(++next_);
    states_[event] = State{};
    return event;
  }
  CUresult record(CUevent event) {
    std::lock_guard lock(mutex_);
    if (failRecords_) return CUDA_ERROR_LAUNCH_FAILED;
    states_[event].recorded = ++recordSerial_;
    return CUDA_SUCCESS;
  }
  void synchronize(CUevent event) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return states_[event].done; });
  }
  CUresult elapsed(float* milliseconds, CUevent start, CUevent end) {
    std::lock_guard lock(mutex_);
    if (!states_[start].done || !states_[end].done) return CUDA_ERROR_NOT_READY;
    *milliseconds = states_[end].gpuMilliseconds;
    return CUDA_SUCCESS;
  }
  void destroy(CUevent event) {
    std::lock_guard lock(mutex_);
    states_.erase(event);
  }

  // Completes every recorded event, ends first; each end reports `gpuMilliseconds` since its start.
  void completeAll(float gpuMilliseconds) {
    {
      std::lock_guard lock(mutex_);
      for (auto& [event, state] : states_) {
        if (state.recorded != 0) {
          state.done = true;
          state.gpuMilliseconds = gpuMilliseconds;
        }
      }
    }
    changed_.notify_all();
  }
  void failRecords(bool fail) {
    std::lock_guard lock(mutex_);
    failRecords_ = fail;
  }
  // Events recorded so far (start and end events together).
  int recorded() {
    std::lock_guard lock(mutex_);
    return recordSerial_;
  }

 private:
  struct State {
    int recorded = 0;
    bool done = false;
    float gpuMilliseconds = 0;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<CUevent, State> states_;
  std::uintptr_t next_ = 0x1000;
  int recordSerial_ = 0;
  bool failRecords_ = false;
};

cudaabi::DriverTable fakeDriver() {
  cudaabi::DriverTable table;
  table.cuEventCreate = [](CUevent* event, unsigned) {
    *event = FakeEvents::instance().create();
    return CUDA_SUCCESS;
  };
  table.cuEventRecord = [](CUevent event, CUstream) { return FakeEvents::instance().record(event); };
  table.cuEventSynchronize = [](CUevent event) {
    FakeEvents::instance().synchronize(event);
    return CUDA_SUCCESS;
  };
  table.cuEventElapsedTime_v2 = [](float* ms, CUevent start, CUevent end) {
    return FakeEvents::instance().elapsed(ms, start, end);
  };
  table.cuEventDestroy_v2 = [](CUevent event) {
    FakeEvents::instance().destroy(event);
    return CUDA_SUCCESS;
  };
  return table;
}

class ComputeGateShell : public ::testing::Test {
 protected:
  cudaabi::DriverTable driver = fakeDriver();
  GateBoard board;
  GatePieces pieces;
  ComputeGate gate{driver, board, &pieces};
  ComputeGate::TenantId a = *board.addTenant({1, std::nullopt, Priority::kNormal});
  ComputeGate::TenantId b = *board.addTenant({1, std::nullopt, Priority::kNormal});
  CUstream stream = reinterpret_cast<CUstream>(0x10);

  // Waits (at most 10 s) until the meter has charged `tenant` something.
  void waitUntilCharged(ComputeGate::TenantId tenant) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (board.gpuSeconds(tenant) == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  }
};

TEST_F(ComputeGateShell, APieceWaitsUntilTheWorkOnTheGpuCompletes) {
  {
    GatedWork first(&gate, a, stream);
    first.submitted();
  }
  // b's first piece (of unknown length) must wait for a's: its thread blocks in the gate.
  std::atomic<pid_t> tid{0};
  std::atomic<bool> admitted{false};
  std::thread second([&] {
    tid = testing::currentThreadId();
    GatedWork work(&gate, b, stream);
    admitted = true;
    work.submitted();
  });
  EXPECT_TRUE(testing::waitUntilBlockedIn(tid, {SYS_futex})) << "the second piece never waited";
  EXPECT_FALSE(admitted) << "admitted while the GPU was full";
  FakeEvents::instance().completeAll(1.0f);
  second.join();
  EXPECT_TRUE(admitted);
  FakeEvents::instance().completeAll(1.0f);
}

// A session whose replay is held at a host point lets other tenants' pieces go, and its own
// piece does not count as running (max_kernel_ms) while held, nor the time it was held after.
TEST_F(ComputeGateShell, APieceHeldAtTheHostLetsOthersGoAndIsNotRunning) {
  {
    GatedWork held(&gate, a, stream);
    held.submitted();
  }
  std::this_thread::sleep_for(60ms);  // makes the piece old, orders nothing
  ASSERT_TRUE(board.runningSeconds(pieces));
  EXPECT_GE(*board.runningSeconds(pieces), 0.05);
  gate.holdAtHost(a, true);
  EXPECT_FALSE(board.runningSeconds(pieces)) << "a held replay runs no kernel";
  GatePieces other;
  ComputeGate second{driver, board, &other};
  {
    GatedWork work(&second, b, stream);  // would wait for a's piece if it counted
    work.submitted();
  }
  gate.holdAtHost(a, false);
  ASSERT_TRUE(board.runningSeconds(pieces));
  EXPECT_LT(*board.runningSeconds(pieces), 0.05) << "running again since the hold ended";
  FakeEvents::instance().completeAll(1.0f);
}

TEST_F(ComputeGateShell, APieceIsChargedItsGpuTimeNotTheHostsDelay) {
  GatedWork work(&gate, a, stream);
  work.submitted();
  // The host sees the piece complete 20 ms after admission; the GPU says it ran 0.25 ms.
  std::this_thread::sleep_for(20ms);  // makes the host's view long, orders nothing
  FakeEvents::instance().completeAll(0.25f);
  waitUntilCharged(a);
  EXPECT_NEAR(board.gpuSeconds(a), 0.00025, 1e-6);
}

TEST_F(ComputeGateShell, WorkBehindTheTenantsOwnNeedsNoStartEvent) {
  int before = FakeEvents::instance().recorded();
  {
    GatedWork first(&gate, a, stream);
    first.submitted();
  }
  EXPECT_EQ(FakeEvents::instance().recorded() - before, 2) << "start and end";
  FakeEvents::instance().completeAll(0.1f);
  // Teach the gate that a's pieces are short, then queue two: the second is behind the first.
  waitUntilCharged(a);
  before = FakeEvents::instance().recorded();
  GatedWork second(&gate, a, stream);
  second.submitted();
  GatedWork third(&gate, a, stream);
  third.submitted();
  EXPECT_EQ(FakeEvents::instance().recorded() - before, 3) << "start and end, then an end only";
  FakeEvents::instance().completeAll(0.1f);
}

TEST_F(ComputeGateShell, WorkThatNeverReachedTheGpuFreesItsPlace) {
  { GatedWork cancelled(&gate, a, stream); }  // destroyed without submitted(): cancelled
  // b goes at once (after a's short anticipation window), without any completion.
  GatedWork work(&gate, b, stream);
  work.submitted();
  EXPECT_EQ(board.gpuSeconds(a), 0);
  FakeEvents::instance().completeAll(0.1f);
}

TEST_F(ComputeGateShell, WorkThatCannotBeMeteredIsChargedNothingAndFreesItsPlace) {
  FakeEvents::instance().failRecords(true);
  {
    GatedWork work(&gate, a, stream);
    work.submitted();
  }
  FakeEvents::instance().failRecords(false);
  GatedWork next(&gate, b, stream);
  next.submitted();
  EXPECT_EQ(board.gpuSeconds(a), 0);
  FakeEvents::instance().completeAll(0.1f);
}

}  // namespace
}  // namespace fastgpu::scheduler
