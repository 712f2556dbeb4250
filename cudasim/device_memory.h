// One simulated device's memory, as this process sees it: a reserved range of its address space
// at a device-looking address, handed out by a first-fit allocator. The device's capacity is
// shared with the other processes using it (device_share.h); the contents and addresses are
// this process's own, as on a GPU.
//
// Device i's range starts at kDeviceAddressBase + i * kMaxDeviceMemoryBytes, so every device
// pointer of every device is unique (unified addressing) and host twins can dereference device
// pointers directly. The range is reserved inaccessible and only allocated pages are opened, so
// a kernel that touches memory its process has not allocated faults in that process, as it would
// on a GPU; pages are committed on first touch and returned to the OS on free.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "cudaabi/result.h"
#include "cudasim/device_share.h"

namespace fastgpu::sim {

inline constexpr std::uint64_t kDeviceAddressBase = 0x200000000000ULL;  // 32 TiB

struct DeviceAllocation {
  std::uint64_t base = 0;
  std::uint64_t size = 0;       // as requested
  std::uint64_t owner = 0;      // the context handle that allocated (or opened) it
  bool imported = false;        // another process's memory, opened through IPC
};

// An allocation made shareable with other processes (cuIpcGetMemHandle): its pages are a memfd's,
// which another process opens through /proc/<pid>/fd/<fd> and maps into its own device range.
struct ExportedMemory {
  int fd = -1;               // open while the allocation lives
  std::uint64_t serial = 0;  // in the memfd's name: a stale descriptor number is told apart
  std::uint64_t length = 0;  // whole pages
};

class DeviceMemory {
 public:
  // Reserves the range; fails when the address space cannot be reserved. `share` holds the
  // capacity shared with other processes and must outlive this object.
  static Result<std::unique_ptr<DeviceMemory>> reserve(int ordinal, std::uint64_t capacityBytes, DeviceShare& share);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  std::uint64_t capacity() const { return capacity_; }
  // Bytes in use on the device, by every process using it.
  std::uint64_t used() const;
  std::uint64_t rangeBegin() const { return begin_; }
  std::uint64_t rangeEnd() const { return begin_ + capacity_; }

  // A new allocation of `bytes` (> 0), or CUDA_ERROR_OUT_OF_MEMORY. Every allocation owns whole
  // pages, so that one can be shared with another process alone.
  Result<std::uint64_t> allocate(std::uint64_t bytes, std::uint64_t owner);
  // Frees the allocation starting exactly at `base` (not one opened through IPC);
  // CUDA_ERROR_INVALID_VALUE otherwise.
  Status free(std::uint64_t base);

  // ---- interprocess sharing ----
  // Makes the allocation at `base` shareable (once; later calls return the same): its contents
  // move into shared memory in place. Work running on it meanwhile may lose writes.
  Result<ExportedMemory> exportAllocation(std::uint64_t base);
  // Maps another process's exported memory (`fd`, `length` bytes, of which `bytes` are the
  // allocation) into this device's range, charging nothing (it counts against its owner).
  Result<std::uint64_t> mapImported(int fd, std::uint64_t bytes, std::uint64_t length, std::uint64_t owner);
  // Unmaps memory opened by mapImported.
  Status unmapImported(std::uint64_t base);
  // Frees every allocation of `owner` (a destroyed context).
  void freeAllOf(std::uint64_t owner);
  // Capacity for memory allocated elsewhere (virtual memory's physical allocations): false when
  // the device is full.
  bool takeCapacity(std::uint64_t bytes) { return bytes <= capacity_ && share_.take(bytes, capacity_); }
  void returnCapacity(std::uint64_t bytes) { share_.giveBack(bytes); }
  // The live allocation containing [address, address + bytes), if there is one.
  std::optional<DeviceAllocation> find(std::uint64_t address, std::uint64_t bytes = 1) const;

 private:
  DeviceMemory(std::uint64_t begin, std::uint64_t capacity, DeviceShare& share);
  static std::uint64_t footprint(std::uint64_t bytes);
  // Takes a free range for `bytes` and opens it: fresh memory charged to the device's capacity, or
  // (importFd >= 0) another process's shared pages, charged nothing.
  Result<std::uint64_t> place(std::uint64_t bytes, std::uint64_t owner, int importFd);
  void releaseLocked(std::map<std::uint64_t, DeviceAllocation>::iterator it);

  const std::uint64_t begin_;
  const std::uint64_t capacity_;
  DeviceShare& share_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::uint64_t> free_;        // offset -> length, coalesced
  std::map<std::uint64_t, DeviceAllocation> allocations_;  // base -> allocation
  std::map<std::uint64_t, ExportedMemory> exported_;       // base -> its shared memory
  std::uint64_t exportSerial_ = 0;
};

}  // namespace fastgpu::sim
