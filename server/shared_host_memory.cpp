// See shared_host_memory.h.
#include "server/shared_host_memory.h"

#include <sys/mman.h>

#include <fmt/format.h>

namespace fastgpu::server {

std::optional<std::uint64_t> SharedHostMemory::takeFreeRange(std::uint64_t bytes) {
  for (auto it = unused_.begin(); it != unused_.end(); ++it) {
    if (it->second < bytes) continue;
    std::uint64_t offset = it->first, left = it->second - bytes;
    unused_.erase(it);
    if (left > 0) unused_.emplace(offset + bytes, left);
    return offset;
  }
  return std::nullopt;
}

void SharedHostMemory::giveBackRange(std::uint64_t offset, std::uint64_t bytes) {
  heap_.release(offset, bytes);
  auto [it, added] = unused_.emplace(offset, bytes);
  // Merge with the next range, then with the previous one.
  if (auto next = std::next(it); next != unused_.end() && offset + it->second == next->first) {
    it->second += next->second;
    unused_.erase(next);
  }
  if (it != unused_.begin()) {
    auto previous = std::prev(it);
    if (previous->first + previous->second == it->first) {
      previous->second += it->second;
      unused_.erase(it);
    }
  }
}

Result<SharedHostMemory::Granted> SharedHostMemory::allocate(std::uint64_t bytes) {
  auto pages = protocol::wholePages(bytes);
  if (bytes == 0 || !pages) return Status(CUDA_ERROR_INVALID_VALUE, "a shared pinned allocation of no or too many bytes");
  if (live_.size() >= kMaxAllocations) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("more than {} shared pinned allocations", kMaxAllocations));
  }
  std::optional<std::uint64_t> offset = takeFreeRange(*pages);
  bool fresh = !offset;
  if (fresh) {
    if (*pages > limit_ || end_ > limit_ - *pages) {
      return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("the session's shared pinned memory would pass its {} bytes",
                                                          limit_));
    }
    offset = end_;
    if (Status grown = heap_.reserve(*offset, *pages); !grown) return grown;
    end_ += *pages;
  }
  auto undo = [&] {
    if (fresh && *offset + *pages == end_) {
      heap_.release(*offset, *pages);
      end_ = *offset;
    } else {
      giveBackRange(*offset, *pages);
    }
  };
  auto mapped = heap_.map(*offset, *pages);
  if (!mapped) {
    undo();
    return mapped.status();
  }
  if (CUresult result =
          driver_.cuMemHostRegister_v2(*mapped, *pages, CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP);
      result != CUDA_SUCCESS) {
    ::munmap(*mapped, *pages);
    undo();
    return Status(result, "cuMemHostRegister of shared pinned memory failed");
  }
  live_.emplace(*offset, Allocation{*pages, *mapped});
  CUdeviceptr device = 0;
  if (driver_.cuMemHostGetDevicePointer_v2(&device, *mapped, 0) != CUDA_SUCCESS) device = 0;
  return Granted{*offset, device};
}

Status SharedHostMemory::free(std::uint64_t offset) {
  auto found = live_.find(offset);
  if (found == live_.end()) return Status(CUDA_ERROR_INVALID_VALUE, "no shared pinned allocation there");
  // The driver waits for copies still using the memory before it lets go of it.
  driver_.cuMemHostUnregister(found->second.address);
  ::munmap(found->second.address, found->second.bytes);
  giveBackRange(offset, found->second.bytes);
  live_.erase(found);
  return Status::ok();
}

Result<void*> SharedHostMemory::find(std::uint64_t offset, std::uint64_t bytes) const {
  auto after = live_.upper_bound(offset);
  if (after != live_.begin()) {
    const auto& [base, allocation] = *std::prev(after);
    std::uint64_t within = offset - base;
    if (within < allocation.bytes && bytes <= allocation.bytes - within) {
      return static_cast<void*>(static_cast<std::uint8_t*>(allocation.address) + within);
    }
  }
  return Status(CUDA_ERROR_INVALID_VALUE,
                fmt::format("shared pinned range {}+{} is not inside one of the session's allocations", offset, bytes));
}

void SharedHostMemory::clear() {
  for (auto& [offset, allocation] : live_) {
    driver_.cuMemHostUnregister(allocation.address);
    ::munmap(allocation.address, allocation.bytes);
  }
  live_.clear();
  unused_.clear();
  end_ = 0;
}

}  // namespace fastgpu::server
