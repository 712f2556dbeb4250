// Page-locked host memory as cudasim tracks it: allocations made by cuMemHostAlloc and
// friends, and ranges registered with cuMemHostRegister. With unified addressing the device
// pointer of such memory is its host pointer. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include "cudaabi/result.h"

namespace fastgpu::sim {

struct HostRange {
  std::uint64_t base = 0;
  std::uint64_t size = 0;
  unsigned flags = 0;
  bool allocated = false;  // by the driver (freed by cuMemFreeHost) or registered by the user
  std::uint64_t contextHandle = 0;
};

class HostMemory {
 public:
  HostMemory() = default;
  ~HostMemory();
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;

  Result<void*> allocate(std::uint64_t bytes, unsigned flags, std::uint64_t contextHandle);
  Status free(void* pointer);
  Status registerRange(void* pointer, std::uint64_t bytes, unsigned flags, std::uint64_t contextHandle);
  Status unregisterRange(void* pointer);
  // The tracked range containing [address, address + bytes), if any.
  std::optional<HostRange> find(std::uint64_t address, std::uint64_t bytes = 1) const;

 private:
  std::optional<HostRange> findLocked(std::uint64_t address, std::uint64_t bytes) const;

  mutable std::mutex mutex_;
  std::map<std::uint64_t, HostRange> ranges_;  // base -> range
};

}  // namespace fastgpu::sim
