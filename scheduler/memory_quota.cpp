#include "scheduler/memory_quota.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include <fmt/format.h>

#include "cudaabi/check.h"

namespace fastgpu::scheduler {
namespace {

std::int64_t steadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void SessionMemory::accountUntilNow() {
  std::int64_t now = steadyNanos();
  std::int64_t since = sinceNanos.exchange(now);
  if (since != 0 && now > since) {
    byteSeconds.store(byteSeconds.load() + static_cast<double>(heldBytes.load()) * static_cast<double>(now - since) * 1e-9);
  }
}

void SessionMemory::add(std::uint64_t bytes) {
  accountUntilNow();
  heldBytes.fetch_add(bytes);
}

void SessionMemory::remove(std::uint64_t bytes) {
  accountUntilNow();
  std::uint64_t held = heldBytes.load();
  FASTGPU_CHECK(bytes <= held, "releasing {} bytes of a session holding {}", bytes, held);
  heldBytes.store(held - bytes);
}

double SessionMemory::gibSeconds() const {
  double total = byteSeconds.load();
  std::int64_t since = sinceNanos.load(), now = steadyNanos();
  if (since != 0 && now > since) total += static_cast<double>(heldBytes.load()) * static_cast<double>(now - since) * 1e-9;
  return total / static_cast<double>(1ULL << 30);
}

Status MemoryQuota::reserve(std::uint64_t bytes, SessionMemory& held) {
  std::lock_guard lock(mutex_);
  if (used_ > limit_ || bytes > limit_ - used_) {
    ++refusals_;
    return Status(CUDA_ERROR_OUT_OF_MEMORY,
                  fmt::format("over quota: {} bytes asked, {} of {} in use", bytes, used_, limit_));
  }
  used_ += bytes;
  held.add(bytes);
  return Status::ok();
}

void MemoryQuota::release(std::uint64_t bytes, SessionMemory& held) {
  std::lock_guard lock(mutex_);
  FASTGPU_CHECK(bytes <= used_, "releasing {} bytes with {} reserved", bytes, used_);
  used_ -= bytes;
  held.remove(bytes);
}

void MemoryQuota::releaseAll(SessionMemory& held) {
  std::lock_guard lock(mutex_);
  std::uint64_t bytes = held.heldBytes.load();
  used_ -= std::min(bytes, used_);
  held.remove(bytes);
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
