#include "cudasim/host_memory.h"

#include <sys/mman.h>

#include <fmt/format.h>

namespace fastgpu::sim {

HostMemory::~HostMemory() {
  for (const auto& [base, range] : ranges_) {
    if (range.allocated) munmap(reinterpret_cast<void*>(base), range.size);
  }
}

Result<void*> HostMemory::allocate(std::uint64_t bytes, unsigned flags, std::uint64_t contextHandle) {
  if (bytes == 0) return Status(CUDA_ERROR_INVALID_VALUE, "zero-byte host allocation");
  void* pointer = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pointer == MAP_FAILED) return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot map {} host bytes", bytes));
  std::lock_guard lock(mutex_);
  auto base = reinterpret_cast<std::uint64_t>(pointer);
  ranges_[base] = HostRange{base, bytes, flags, true, contextHandle};
  return pointer;
}

Status HostMemory::free(void* pointer) {
  std::lock_guard lock(mutex_);
  auto it = ranges_.find(reinterpret_cast<std::uint64_t>(pointer));
  if (it == ranges_.end() || !it->second.allocated) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{} was not allocated by cuMemHostAlloc", pointer));
  }
  munmap(pointer, it->second.size);
  ranges_.erase(it);
  return Status::ok();
}

Status HostMemory::registerRange(void* pointer, std::uint64_t bytes, unsigned flags, std::uint64_t contextHandle) {
  if (pointer == nullptr || bytes == 0) return Status(CUDA_ERROR_INVALID_VALUE, "empty host range");
  auto base = reinterpret_cast<std::uint64_t>(pointer);
  std::lock_guard lock(mutex_);
  // Any overlap with a tracked range is an error, as in CUDA.
  auto next = ranges_.lower_bound(base);
  bool overlapsNext = next != ranges_.end() && next->first < base + bytes;
  bool overlapsPrev = next != ranges_.begin() && std::prev(next)->first + std::prev(next)->second.size > base;
  if (overlapsNext || overlapsPrev) {
    return Status(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "range overlaps registered host memory");
  }
  ranges_[base] = HostRange{base, bytes, flags, false, contextHandle};
  return Status::ok();
}

Status HostMemory::unregisterRange(void* pointer) {
  std::lock_guard lock(mutex_);
  auto it = ranges_.find(reinterpret_cast<std::uint64_t>(pointer));
  if (it == ranges_.end() || it->second.allocated) {
    return Status(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "not the start of a registered range");
  }
  ranges_.erase(it);
  return Status::ok();
}

std::optional<HostRange> HostMemory::find(std::uint64_t address, std::uint64_t bytes) const {
  std::lock_guard lock(mutex_);
  return findLocked(address, bytes);
}

std::optional<HostRange> HostMemory::findLocked(std::uint64_t address, std::uint64_t bytes) const {
  auto it = ranges_.upper_bound(address);
  if (it == ranges_.begin()) return std::nullopt;
  const HostRange& range = std::prev(it)->second;
  if (address - range.base >= range.size || bytes > range.size - (address - range.base)) return std::nullopt;
  return range;
}

}  // namespace fastgpu::sim
