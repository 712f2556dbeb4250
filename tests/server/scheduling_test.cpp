// The compute gate with saturating clients on a real server over TCP: weighted shares, caps and
// priorities. Spin kernels hold the simulated GPU for a known time, and every share is measured
// from the clients' side, as a tenant would: completed kernels × their length ÷ wall time.
#include <atomic>
#include <condition_variable>

#include "session_test_support.h"

namespace fastgpu::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A client that keeps its vGPU busy: rounds of `batch` spin kernels of `micros` each, each round
// synchronized (so its queue stays short, as a real program's does), counting the kernel time
// it has seen complete.
class SaturatingClient {
 public:
  SaturatingClient(const std::string& url, const std::string& vgpu, std::uint64_t micros, int batch)
      : client_(url, vgpu, "t") {
    client_.retainPrimary();
    kernel_ = client_.loadSpinKernel();
    thread_ = std::thread([this, micros, batch] {
      while (!stop_) {
        for (int i = 0; i < batch; ++i) client_.spin(kernel_, micros);
        if (client_.synchronize() != CUDA_SUCCESS) {
          failed_ = true;
          break;
        }
        std::lock_guard lock(mutex_);
        completedMicros_ += micros * static_cast<std::uint64_t>(batch);
        ++rounds_;
        roundDone_.notify_all();
      }
    });
  }
  ~SaturatingClient() {
    stop_ = true;
    thread_.join();
  }

  // Kernel time seen complete so far, in seconds.
  double completedSeconds() {
    std::lock_guard lock(mutex_);
    return static_cast<double>(completedMicros_) * 1e-6;
  }
  // Waits (at most 10 s) until the client has completed `rounds` rounds in all.
  bool waitForRounds(int rounds) {
    std::unique_lock lock(mutex_);
    return roundDone_.wait_for(lock, 10s, [&] { return rounds_ >= rounds || failed_; }) && !failed_;
  }

 private:
  RawClient client_;
  std::uint64_t kernel_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::condition_variable roundDone_;
  std::uint64_t completedMicros_ = 0;  // guarded by mutex_
  int rounds_ = 0;                     // guarded by mutex_
  std::thread thread_;
};

constexpr const char* kSharesConfig = R"(
[[vgpu]]
name = "heavy"
gpu = 0
memory = "256MiB"
compute_share = 3
tokens = ["t"]

[[vgpu]]
name = "light"
gpu = 0
memory = "256MiB"
compute_share = 1
tokens = ["t"]
)";

constexpr auto kWindow = 3s;

// Runs a weight-3 and a weight-1 client, each with its own kernel length, and returns the
// heavy one's share of the kernel time both completed in the window.
double heavyShare(ServerTest& test, std::uint64_t heavyMicros, int heavyBatch, std::uint64_t lightMicros,
                  int lightBatch) {
  SaturatingClient heavy(test.url, "heavy", heavyMicros, heavyBatch), light(test.url, "light", lightMicros, lightBatch);
  // Both running before the window opens.
  EXPECT_TRUE(heavy.waitForRounds(3) && light.waitForRounds(3)) << "a client did not get going";
  double heavyBefore = heavy.completedSeconds(), lightBefore = light.completedSeconds();
  auto start = Clock::now();
  std::this_thread::sleep_for(kWindow);  // the measurement window, timed below
  double heavyUsed = heavy.completedSeconds() - heavyBefore, lightUsed = light.completedSeconds() - lightBefore;
  double wall = secondsSince(start);
  double share = heavyUsed / (heavyUsed + lightUsed);
  std::printf("heavy (%llu us kernels) %.3f s, light (%llu us kernels) %.3f s in %.3f s: heavy's share %.1f%%\n",
              static_cast<unsigned long long>(heavyMicros), heavyUsed, static_cast<unsigned long long>(lightMicros),
              lightUsed, wall, 100 * share);
  EXPECT_GT(heavyUsed + lightUsed, 0.75 * wall) << "the GPU was not kept busy (work-conserving)";
  return share;
}

TEST_F(ServerTest, ThreeToOneWeightsHoldWithEqualKernels) {
  start(kSharesConfig);
  EXPECT_NEAR(heavyShare(*this, 1000, 10, 1000, 10), 0.75, 0.05);
}

TEST_F(ServerTest, ThreeToOneWeightsHoldWithShortKernelsAgainstLongOnes) {
  start(kSharesConfig);
  EXPECT_NEAR(heavyShare(*this, 200, 10, 10000, 1), 0.75, 0.05);
}

TEST_F(ServerTest, ThreeToOneWeightsHoldWithLongKernelsAgainstShortOnes) {
  start(kSharesConfig);
  EXPECT_NEAR(heavyShare(*this, 10000, 1, 200, 10), 0.75, 0.05);
}

// A vGPU capped at 25% alone on the GPU: its clients' kernel time over the window.
double cappedShare(ServerTest& test, std::uint64_t micros, int batch) {
  test.start(R"(
[[vgpu]]
name = "capped"
memory = "256MiB"
compute_cap = 25
tokens = ["t"]
)");
  SaturatingClient capped(test.url, "capped", micros, batch);
  EXPECT_TRUE(capped.waitForRounds(3));
  double before = capped.completedSeconds();
  auto start = Clock::now();
  std::this_thread::sleep_for(kWindow);
  double used = capped.completedSeconds() - before;
  double wall = secondsSince(start);
  std::printf("capped at 25%% (%llu us kernels): %.3f s of kernel time in %.3f s (%.1f%%)\n",
              static_cast<unsigned long long>(micros), used, wall, 100 * used / wall);
  return used / wall;
}

// A cap is a ceiling: the share may not pass it (by more than the window's granularity). How close
// below it a client gets depends on how fast this machine turns its batches round (a round trip
// between batches; on a loaded 2-core machine 15-24% of a 25% cap was measured with the gate
// unchanged), so the floor only proves the gate lets a capped client run at all.
void expectCapHolds(double share) {
  EXPECT_LE(share, 0.25 + 0.05) << "the cap did not hold";
  EXPECT_GE(share, 0.10) << "the capped client was starved";
}

TEST_F(ServerTest, ACapHoldsWithShortKernels) { expectCapHolds(cappedShare(*this, 200, 10)); }

TEST_F(ServerTest, ACapHoldsWithLongKernels) { expectCapHolds(cappedShare(*this, 10000, 1)); }

TEST_F(ServerTest, HighPriorityWorkWaitsAtMostForTheLowPriorityKernelOnTheGpu) {
  start(R"(
[[vgpu]]
name = "batch"
gpu = 0
memory = "256MiB"
priority = "low"
tokens = ["t"]

[[vgpu]]
name = "interactive"
gpu = 0
memory = "256MiB"
priority = "high"
tokens = ["t"]
)");
  constexpr std::uint64_t kLowMicros = 200000, kHighMicros = 1000;
  SaturatingClient batch(url, "batch", kLowMicros, 2);
  RawClient interactive(url, "interactive", "t");
  interactive.retainPrimary();
  std::uint64_t kernel = interactive.loadSpinKernel();
  ASSERT_TRUE(batch.waitForRounds(1)) << "the low-priority client did not get going";
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    interactive.spin(kernel, kHighMicros);
    ASSERT_EQ(interactive.synchronize(), CUDA_SUCCESS);
    auto took = Clock::now() - start;
    std::printf("high-priority round %d: %.1f ms\n", i, std::chrono::duration<double, std::milli>(took).count());
    // At most the low-priority kernel already on the GPU and our own; waiting behind a second
    // low-priority kernel would take at least twice kLowMicros. Half a kernel of room for the
    // host (the gate, the network, a busy 2-core machine) still tells the two apart.
    EXPECT_LT(took, std::chrono::microseconds(kLowMicros + kHighMicros + kLowMicros / 2))
        << "round " << i << " took " << std::chrono::duration<double, std::milli>(took).count() << " ms";
  }
}

}  // namespace
}  // namespace fastgpu::server
