#include "cudasim/memory_pool.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "cudasim/device.h"

namespace fastgpu::sim {
namespace {

constexpr std::uint64_t kBlockAlignment = 512;

std::uint64_t blockBytes(std::uint64_t bytes) { return (bytes + kBlockAlignment - 1) / kBlockAlignment * kBlockAlignment; }

std::atomic<std::uint64_t> poolSerials{0};

}  // namespace

MemoryPool::MemoryPool(Device& device, bool exportable, std::optional<PoolIdentity> importedFrom)
    : device_(device), exportable_(exportable), importedFrom_(importedFrom), serial_(++poolSerials) {}

PoolIdentity MemoryPool::identity() const {
  return importedFrom_ ? *importedFrom_ : PoolIdentity{static_cast<std::uint32_t>(getpid()), serial_};
}

MemoryPool::~MemoryPool() {
  std::lock_guard lock(mutex_);
  // Blocks this pool took from the device, each freed exactly once here: nothing can fail.
  for (const auto& [bytes, base] : unused_) (void)device_.memory().free(base);
  for (const auto& [base, bytes] : live_) (void)device_.memory().free(base);
}

Result<std::uint64_t> MemoryPool::allocate(std::uint64_t bytes, std::uint64_t owner) {
  if (bytes == 0) return Status(CUDA_ERROR_INVALID_VALUE, "zero bytes");
  if (imported()) return Status(CUDA_ERROR_INVALID_VALUE, "an imported pool allocates nothing");
  std::uint64_t want = blockBytes(bytes);
  std::lock_guard lock(mutex_);
  // Reuse a free block of the size, or one at most twice it.
  auto reuse = unused_.lower_bound(want);
  std::uint64_t base = 0, block = 0;
  if (reuse != unused_.end() && reuse->first <= 2 * want) {
    block = reuse->first;
    base = reuse->second;
    unused_.erase(reuse);
  } else {
    auto fresh = device_.memory().allocate(want, owner);
    if (!fresh) {
      trimLocked(0);  // what the pool keeps unused is the first memory to give up
      fresh = device_.memory().allocate(want, owner);
      if (!fresh) return fresh.status();
    }
    base = *fresh;
    block = want;
    reserved_ += block;
    reservedHigh_ = std::max(reservedHigh_, reserved_);
  }
  live_[base] = block;
  used_ += block;
  usedHigh_ = std::max(usedHigh_, used_);
  return base;
}

bool MemoryPool::owns(std::uint64_t base) const {
  std::lock_guard lock(mutex_);
  return live_.count(base) != 0;
}

void MemoryPool::returned(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(base);
  if (it == live_.end()) return;
  used_ -= it->second;
  unused_.emplace(it->second, base);
  live_.erase(it);
}

void MemoryPool::releaseAboveThreshold() {
  std::lock_guard lock(mutex_);
  trimLocked(releaseThreshold_);
}

Status MemoryPool::forget(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(base);
  if (it == live_.end()) return Status(CUDA_ERROR_INVALID_VALUE, "not a live allocation of this pool");
  used_ -= it->second;
  reserved_ -= it->second;
  live_.erase(it);
  return device_.memory().free(base);
}

void MemoryPool::trimTo(std::uint64_t keep) {
  std::lock_guard lock(mutex_);
  trimLocked(keep);
}

void MemoryPool::trimLocked(std::uint64_t keep) {
  // Largest blocks first: the fewest blocks freed for the memory given back.
  while (reserved_ > keep && !unused_.empty()) {
    auto largest = std::prev(unused_.end());
    (void)device_.memory().free(largest->second);  // a block of ours: freeing it cannot fail
    reserved_ -= largest->first;
    unused_.erase(largest);
  }
}

Status MemoryPool::setAttribute(CUmemPool_attribute attribute, const void* value) {
  if (value == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "NULL value");
  std::lock_guard lock(mutex_);
  std::uint64_t wide = 0;
  switch (attribute) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES: std::memcpy(&reuseFollowEvents_, value, sizeof(int)); break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC: std::memcpy(&reuseOpportunistic_, value, sizeof(int)); break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: std::memcpy(&reuseInternal_, value, sizeof(int)); break;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
      std::memcpy(&releaseThreshold_, value, sizeof(std::uint64_t));
      break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      // Only a reset to 0 is allowed: the high-water mark starts again from the current value.
      std::memcpy(&wide, value, sizeof(wide));
      if (wide != 0) return Status(CUDA_ERROR_INVALID_VALUE, "a high-water mark can only be reset to 0");
      (attribute == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH ? reservedHigh_ : usedHigh_) =
          attribute == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH ? reserved_ : used_;
      break;
    default:
      return Status(CUDA_ERROR_INVALID_VALUE, "attribute cannot be set");
  }
  return Status::ok();
}

Status MemoryPool::getAttribute(CUmemPool_attribute attribute, void* value) const {
  if (value == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "NULL value");
  std::lock_guard lock(mutex_);
  auto wide = [&](std::uint64_t v) { std::memcpy(value, &v, sizeof(v)); };
  switch (attribute) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES: std::memcpy(value, &reuseFollowEvents_, sizeof(int)); break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC: std::memcpy(value, &reuseOpportunistic_, sizeof(int)); break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: std::memcpy(value, &reuseInternal_, sizeof(int)); break;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: wide(releaseThreshold_); break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT: wide(reserved_); break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH: wide(reservedHigh_); break;
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: wide(used_); break;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: wide(usedHigh_); break;
    default: return Status(CUDA_ERROR_INVALID_VALUE, "unknown pool attribute");
  }
  return Status::ok();
}

}  // namespace fastgpu::sim

namespace fastgpu::sim {

CUmemoryPool MemoryPools::defaultPool(Device& device) {
  std::lock_guard lock(mutex_);
  return defaultPoolLocked(device);
}

CUmemoryPool MemoryPools::defaultPoolLocked(Device& device) {
  auto& pool = defaults_[&device];
  if (!pool) pool = std::make_shared<MemoryPool>(device);
  pools_[handleOf(*pool)] = pool;
  return handleOf(*pool);
}

CUmemoryPool MemoryPools::currentPool(Device& device) {
  std::lock_guard lock(mutex_);
  auto it = current_.find(&device);
  return it != current_.end() ? it->second : defaultPoolLocked(device);
}

void MemoryPools::setCurrentPool(Device& device, CUmemoryPool pool) {
  std::lock_guard lock(mutex_);
  current_[&device] = pool;
}

CUmemoryPool MemoryPools::create(Device& device, bool exportable) {
  auto pool = std::make_shared<MemoryPool>(device, exportable);
  std::lock_guard lock(mutex_);
  pools_[handleOf(*pool)] = pool;
  return handleOf(*pool);
}

CUmemoryPool MemoryPools::import(Device& device, const PoolIdentity& from) {
  auto pool = std::make_shared<MemoryPool>(device, false, from);
  std::lock_guard lock(mutex_);
  pools_[handleOf(*pool)] = pool;
  return handleOf(*pool);
}

Status MemoryPools::destroy(CUmemoryPool handle) {
  std::lock_guard lock(mutex_);
  auto it = pools_.find(handle);
  if (it == pools_.end()) return Status(CUDA_ERROR_INVALID_VALUE, "not a memory pool");
  if (defaults_[&it->second->device()] == it->second) {
    return Status(CUDA_ERROR_INVALID_VALUE, "a device's default pool cannot be destroyed");
  }
  for (auto current = current_.begin(); current != current_.end();) {
    current = current->second == handle ? current_.erase(current) : std::next(current);
  }
  pools_.erase(it);  // its live allocations keep it until they are freed
  return Status::ok();
}

std::shared_ptr<MemoryPool> MemoryPools::find(CUmemoryPool handle) const {
  std::lock_guard lock(mutex_);
  auto it = pools_.find(handle);
  return it == pools_.end() ? nullptr : it->second;
}

void MemoryPools::allocated(std::uint64_t base, std::shared_ptr<MemoryPool> pool) {
  std::lock_guard lock(mutex_);
  owners_[base] = std::move(pool);
}

std::shared_ptr<MemoryPool> MemoryPools::ownerOf(std::uint64_t base) const {
  std::lock_guard lock(mutex_);
  auto it = owners_.find(base);
  return it == owners_.end() ? nullptr : it->second;
}

void MemoryPools::releaseAboveThresholds() {
  std::vector<std::shared_ptr<MemoryPool>> pools;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [handle, pool] : pools_) pools.push_back(pool);
  }
  for (const auto& pool : pools) pool->releaseAboveThreshold();
}

void MemoryPools::freed(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  owners_.erase(base);
}

void MemoryPools::importedPointer(std::uint64_t base, std::shared_ptr<MemoryPool> pool) {
  std::lock_guard lock(mutex_);
  imported_[base] = std::move(pool);
}

bool MemoryPools::isImportedPointer(std::uint64_t base) const {
  std::lock_guard lock(mutex_);
  return imported_.count(base) != 0;
}

bool MemoryPools::forgetImportedPointer(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  return imported_.erase(base) != 0;
}

}  // namespace fastgpu::sim
