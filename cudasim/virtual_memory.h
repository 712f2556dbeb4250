// Virtual memory management (cuMemAddressReserve, cuMemCreate, cuMemMap, cuMemSetAccess, ...), as
// the driver does it: address ranges are reserved apart from memory, physical allocations are
// made apart from addresses, and a mapping joins the two; memory is reachable only where access
// was granted.
//
// Reservations come from a window of this process's address space of its own (kVirtualBase,
// above every device's window), reserved inaccessible. A physical allocation is a memfd the size
// of the allocation, charged to its device's capacity like any allocation; a mapping maps that
// file over the reserved pages, so one allocation can be mapped at several addresses and every
// mapping sees the same bytes. Unmapping puts inaccessible pages back; the allocation is freed
// when it has been released and is no longer mapped.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"

namespace fastgpu::sim {

class Device;

inline constexpr std::uint64_t kVirtualBase = 0x400000000000ULL;  // 64 TiB, above the devices' windows
inline constexpr std::uint64_t kVirtualWindowBytes = 16ULL << 40;
inline constexpr std::uint64_t kVmmGranularity = 2ULL << 20;      // minimum and recommended
inline constexpr const char* kPhysicalMemfdPrefix = "cudasim-physical-d";  // + the device ordinal

// What a mapped address reaches.
struct VirtualMapping {
  std::uint64_t base = 0;
  std::uint64_t size = 0;
  int device = 0;                         // the physical allocation's device
  CUmemAccess_flags access = CU_MEM_ACCESS_FLAGS_PROT_NONE;
  CUmemGenericAllocationHandle handle = 0;
};

class VirtualMemory {
 public:
  VirtualMemory() = default;
  ~VirtualMemory();
  VirtualMemory(const VirtualMemory&) = delete;
  VirtualMemory& operator=(const VirtualMemory&) = delete;

  // ---- addresses ----
  Result<std::uint64_t> reserve(std::uint64_t size, std::uint64_t alignment, std::uint64_t hint);
  // The whole of one reservation, with nothing mapped in it.
  Status free(std::uint64_t base, std::uint64_t size);

  // ---- physical memory ----
  // `shareable`: made to be exported as a POSIX file descriptor.
  Result<CUmemGenericAllocationHandle> create(Device& device, std::uint64_t size, bool shareable = false);
  // A new descriptor of a shareable allocation's memory, close-on-exec, the caller's to close.
  Result<int> exportDescriptor(CUmemGenericAllocationHandle handle) const;
  // An allocation of the memory behind descriptor `fd` (exported by cudasim, in any process of
  // this user); `deviceOf` finds the device of an ordinal.
  Result<CUmemGenericAllocationHandle> importDescriptor(int fd, const std::function<Device*(int)>& deviceOf);
  // Drops one reference (create and retain each take one); the memory goes with the last
  // reference and the last mapping.
  Status release(CUmemGenericAllocationHandle handle);
  // The allocation mapped at `address`, with one more reference (cuMemRetainAllocationHandle).
  Result<CUmemGenericAllocationHandle> retain(std::uint64_t address);
  // The allocation's device and size, and whether it is shareable.
  struct Properties {
    int device;
    std::uint64_t size;
    bool shareable;
  };
  Result<Properties> properties(CUmemGenericAllocationHandle handle) const;

  // ---- mappings ----
  Status map(std::uint64_t base, std::uint64_t size, std::uint64_t offset, CUmemGenericAllocationHandle handle);
  // Unmaps whole mappings exactly covering [base, base + size).
  Status unmap(std::uint64_t base, std::uint64_t size);
  // Sets the access of whole mappings exactly covering [base, base + size).
  Status setAccess(std::uint64_t base, std::uint64_t size, CUmemAccess_flags access);
  // The mapping holding `address`, if [address, address + bytes) lies in it and the mappings
  // right after it; `access` is the least of theirs.
  std::optional<VirtualMapping> find(std::uint64_t address, std::uint64_t bytes = 1) const;
  bool inWindow(std::uint64_t address) const {
    return address >= kVirtualBase && address - kVirtualBase < kVirtualWindowBytes;
  }

 private:
  struct Physical {
    Device* device;
    std::uint64_t size;
    int fd;
    int references = 1;
    int mappings = 0;
    bool shareable = false;
    bool charged = true;  // false for imported memory: its maker's device capacity holds it
  };
  struct Mapping {
    std::uint64_t size;
    std::uint64_t offset;
    CUmemGenericAllocationHandle handle;
    CUmemAccess_flags access = CU_MEM_ACCESS_FLAGS_PROT_NONE;
  };
  Status ensureWindowLocked();
  // The mappings that exactly cover [base, base + size), in order; empty if they do not.
  std::vector<std::map<std::uint64_t, Mapping>::iterator> coveringLocked(std::uint64_t base, std::uint64_t size);
  void dropIfUnusedLocked(CUmemGenericAllocationHandle handle);

  mutable std::mutex mutex_;
  bool windowReserved_ = false;
  std::map<std::uint64_t, std::uint64_t> freeRanges_;     // offset in the window -> length
  std::map<std::uint64_t, std::uint64_t> reservations_;   // base -> size
  std::map<std::uint64_t, Mapping> mappings_;             // base -> mapping
  std::map<CUmemGenericAllocationHandle, Physical> physical_;
  CUmemGenericAllocationHandle nextHandle_ = 0x7e0000000001ULL;
};

}  // namespace fastgpu::sim
