// What a vGPU has used, for metrics and accounting: counted by its sessions' workers, read by the
// main process. Lives in the shared board; lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <iterator>

namespace fastgpu::scheduler {

struct VgpuUsage {
  std::atomic<std::uint64_t> launches{0};
  std::atomic<std::uint64_t> bytesToDevice{0};
  std::atomic<std::uint64_t> bytesFromDevice{0};
  std::atomic<std::uint64_t> sessionsServed{0};
  std::atomic<std::uint64_t> endedGpuNanos{0};  // GPU time of its sessions that have ended
  // Latency of answered calls on the server, in buckets of kLatencyBoundsSeconds (+Inf last).
  static constexpr double kLatencyBoundsSeconds[] = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
  std::atomic<std::uint64_t> latencyBuckets[std::size(kLatencyBoundsSeconds) + 1] = {};
  std::atomic<std::uint64_t> latencyCount{0};
  std::atomic<std::uint64_t> latencyNanos{0};

  void recordLatency(double seconds) {
    std::size_t bucket = 0;
    while (bucket < std::size(kLatencyBoundsSeconds) && seconds > kLatencyBoundsSeconds[bucket]) ++bucket;
    latencyBuckets[bucket].fetch_add(1, std::memory_order_relaxed);
    latencyCount.fetch_add(1, std::memory_order_relaxed);
    latencyNanos.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  }
};

// What one session has done, for its usage-ledger record: counted by its worker.
struct SessionCounters {
  std::atomic<std::uint64_t> launches{0};
  std::atomic<std::uint64_t> bytesToDevice{0};
  std::atomic<std::uint64_t> bytesFromDevice{0};
};

}  // namespace fastgpu::scheduler
