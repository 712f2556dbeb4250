// A vGPU's memory quota, shared by all its sessions. The one door of every allocation path
// (DESIGN.md, decision 9): a path reserves here before the driver allocates, and releases what
// it frees. An allocation over quota fails with CUDA_ERROR_OUT_OF_MEMORY and changes nothing.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>

#include "cudaabi/result.h"

namespace fastgpu::scheduler {

class MemoryQuota {
 public:
  explicit MemoryQuota(std::uint64_t limitBytes) : limit_(limitBytes) {}

  Status reserve(std::uint64_t bytes);
  void release(std::uint64_t bytes);
  std::uint64_t used() const;
  std::uint64_t limit() const;
  // Live change: a limit below current use refuses new allocations and frees nothing.
  void setLimit(std::uint64_t limitBytes);
  // limit - used, never negative.
  std::uint64_t available() const;
  // Allocations refused for being over quota.
  std::uint64_t refusals() const;

 private:
  mutable std::mutex mutex_;
  std::uint64_t limit_;
  std::uint64_t used_ = 0;
  std::uint64_t refusals_ = 0;
};

}  // namespace fastgpu::scheduler
