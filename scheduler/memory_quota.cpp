#include "scheduler/memory_quota.h"

#include <fmt/format.h>

#include "cudaabi/check.h"

namespace fastgpu::scheduler {

Status MemoryQuota::reserve(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (used_ > limit_ || bytes > limit_ - used_) {
    ++refusals_;
    return Status(CUDA_ERROR_OUT_OF_MEMORY,
                  fmt::format("over quota: {} bytes asked, {} of {} in use", bytes, used_, limit_));
  }
  used_ += bytes;
  return Status::ok();
}

void MemoryQuota::release(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  FASTGPU_CHECK(bytes <= used_, "releasing {} bytes with {} reserved", bytes, used_);
  used_ -= bytes;
}

std::uint64_t MemoryQuota::used() const {
  std::lock_guard lock(mutex_);
  return used_;
}

std::uint64_t MemoryQuota::limit() const {
  std::lock_guard lock(mutex_);
  return limit_;
}

void MemoryQuota::setLimit(std::uint64_t limitBytes) {
  std::lock_guard lock(mutex_);
  limit_ = limitBytes;
}

std::uint64_t MemoryQuota::available() const {
  std::lock_guard lock(mutex_);
  return used_ >= limit_ ? 0 : limit_ - used_;
}

std::uint64_t MemoryQuota::refusals() const {
  std::lock_guard lock(mutex_);
  return refusals_;
}

}  // namespace fastgpu::scheduler
