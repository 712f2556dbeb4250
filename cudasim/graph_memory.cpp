#include "cudasim/graph_memory.h"

#include <algorithm>

#include "cudasim/device.h"

namespace fastgpu::sim {

GraphAllocation::~GraphAllocation() {
  if (live()) registry_.changed(device_, -static_cast<std::int64_t>(bytes_), 0);
  registry_.changed(device_, 0, -static_cast<std::int64_t>(bytes_));
  registry_.forget(base_);
  (void)device_.memory().free(base_);
}

void GraphAllocation::setLive(bool live) {
  if (live_.exchange(live) == live) return;
  registry_.changed(device_, live ? static_cast<std::int64_t>(bytes_) : -static_cast<std::int64_t>(bytes_), 0);
}

Result<std::shared_ptr<GraphAllocation>> GraphMemory::allocate(Device& device, std::uint64_t bytes) {
  if (bytes == 0) return Status(CUDA_ERROR_INVALID_VALUE, "a graph allocation of 0 bytes");
  auto base = device.memory().allocate(bytes, 0);  // owned by graphs, not by a context
  if (!base) return base.status();
  auto allocation = std::make_shared<GraphAllocation>(*this, device, *base, bytes);
  {
    std::lock_guard lock(mutex_);
    allocations_[*base] = allocation;
  }
  changed(device, 0, static_cast<std::int64_t>(bytes));
  return allocation;
}

std::shared_ptr<GraphAllocation> GraphMemory::find(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  auto it = allocations_.find(base);
  return it == allocations_.end() ? nullptr : it->second.lock();
}

void GraphMemory::changed(const Device& device, std::int64_t used, std::int64_t reserved) {
  std::lock_guard lock(mutex_);
  Usage& usage = usage_[&device];
  usage.used = static_cast<std::uint64_t>(static_cast<std::int64_t>(usage.used) + used);
  usage.reserved = static_cast<std::uint64_t>(static_cast<std::int64_t>(usage.reserved) + reserved);
  usage.usedHigh = std::max(usage.usedHigh, usage.used);
  usage.reservedHigh = std::max(usage.reservedHigh, usage.reserved);
}

void GraphMemory::forget(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  allocations_.erase(base);
}

Result<std::uint64_t> GraphMemory::attribute(const Device& device, CUgraphMem_attribute attribute) {
  std::lock_guard lock(mutex_);
  const Usage& usage = usage_[&device];
  switch (attribute) {
    case CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT: return usage.used;
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH: return usage.usedHigh;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT: return usage.reserved;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: return usage.reservedHigh;
    default: return Status(CUDA_ERROR_INVALID_VALUE, "unknown graph memory attribute");
  }
}

Status GraphMemory::resetHigh(const Device& device, CUgraphMem_attribute attribute) {
  std::lock_guard lock(mutex_);
  Usage& usage = usage_[&device];
  switch (attribute) {
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH: usage.usedHigh = usage.used; return Status::ok();
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: usage.reservedHigh = usage.reserved; return Status::ok();
    default: return Status(CUDA_ERROR_INVALID_VALUE, "only the high watermarks can be reset");
  }
}

}  // namespace fastgpu::sim
