// The compute gate with saturating clients: weighted shares, caps, priorities. Spin kernels hold
// the simulated GPU for a known time; shares are measured from the GPU time the gate charged.
#include <atomic>

#include "session_test_support.h"

namespace fastgpu::server {
namespace {

using namespace std::chrono_literals;

// A client that keeps its vGPU busy: rounds of `batch` spin kernels, each round synchronized so
// that the queue stays short.
class SaturatingClient {
 public:
  SaturatingClient(const std::string& url, const std::string& vgpu, std::uint64_t micros, int batch)
      : client_(url, vgpu, "t") {
    client_.retainPrimary();
    kernel_ = client_.loadSpinKernel();
    thread_ = std::thread([this, micros, batch] {
      while (!stop_) {
        for (int i = 0; i < batch; ++i) client_.spin(kernel_, micros);
        if (client_.synchronize() != CUDA_SUCCESS) return;
      }
    });
  }
  ~SaturatingClient() {
    stop_ = true;
    thread_.join();
  }

 private:
  RawClient client_;
  std::uint64_t kernel_ = 0;
  std::atomic<bool> stop_{false};
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

double gpuSeconds(scheduler::VgpuRegistry& registry, const std::string& name) {
  for (const auto& vgpu : registry.vgpus()) {
    if (vgpu->spec().name == name) return vgpu->gpuSeconds();
  }
  ADD_FAILURE() << "no vGPU " << name;
  return 0;
}

TEST_F(ServerTest, ThreeToOneWeightsShareWithinFivePoints) {
  start(kSharesConfig);
  SaturatingClient heavy(url, "heavy", 2000, 10), light(url, "light", 2000, 10);
  std::this_thread::sleep_for(500ms);  // let both reach a steady state before measuring
  double heavyBefore = gpuSeconds(*registry_, "heavy"), lightBefore = gpuSeconds(*registry_, "light");
  std::this_thread::sleep_for(2500ms);  // the measurement window
  double heavyUsed = gpuSeconds(*registry_, "heavy") - heavyBefore;
  double lightUsed = gpuSeconds(*registry_, "light") - lightBefore;
  double share = heavyUsed / (heavyUsed + lightUsed);
  std::printf("heavy %.3f s, light %.3f s: heavy's share %.1f%%\n", heavyUsed, lightUsed, 100 * share);
  EXPECT_NEAR(share, 0.75, 0.05) << "heavy " << heavyUsed << " s, light " << lightUsed << " s";
  EXPECT_GT(heavyUsed + lightUsed, 2.0) << "the GPU was not kept busy (work-conserving)";
}

TEST_F(ServerTest, ACappedVgpuAloneGetsAtMostItsCap) {
  start(R"(
[[vgpu]]
name = "capped"
memory = "256MiB"
compute_cap = 25
tokens = ["t"]
)");
  SaturatingClient capped(url, "capped", 2000, 10);
  std::this_thread::sleep_for(500ms);
  double before = gpuSeconds(*registry_, "capped");
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(2500ms);
  double used = gpuSeconds(*registry_, "capped") - before;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("capped at 25%%: %.3f s of GPU time in %.3f s (%.1f%%)\n", used, wall, 100 * used / wall);
  EXPECT_LE(used / wall, 0.27) << used << " s of GPU time in " << wall << " s";
  EXPECT_GE(used / wall, 0.15) << "the capped vGPU should still get close to its cap";
}

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
  constexpr std::uint64_t kLowMicros = 100000, kHighMicros = 1000;
  SaturatingClient batch(url, "batch", kLowMicros, 4);
  RawClient interactive(url, "interactive", "t");
  interactive.retainPrimary();
  std::uint64_t kernel = interactive.loadSpinKernel();
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    interactive.spin(kernel, kHighMicros);
    ASSERT_EQ(interactive.synchronize(), CUDA_SUCCESS);
    auto took = std::chrono::steady_clock::now() - start;
    std::printf("high-priority round %d: %.1f ms\n", i, std::chrono::duration<double, std::milli>(took).count());
    // One low-priority kernel already on the GPU, plus our own, plus 90 ms for the host (the
    // gate, the network, a busy 2-core machine). Waiting behind a second low-priority kernel
    // would take at least 200 ms.
    EXPECT_LT(took, std::chrono::microseconds(kLowMicros + kHighMicros) + 90ms)
        << "round " << i << " took " << std::chrono::duration<double, std::milli>(took).count() << " ms";
  }
}

}  // namespace
}  // namespace fastgpu::server
