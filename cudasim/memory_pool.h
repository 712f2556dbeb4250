// A stream-ordered memory pool (cuMemPoolCreate, cuMemAllocAsync, cuMemFreeAsync): blocks taken
// from its device's memory and kept for reuse when freed; what it holds beyond its release
// threshold goes back to the device at the next synchronization (as the driver documents), and
// cuMemPoolTrimTo gives back what is unused. A free returns its block when the stream reaches it, so a block is never
// handed out again before the work before its free is done.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"

namespace fastgpu::sim {

class Device;

class MemoryPool {
 public:
  explicit MemoryPool(Device& device) : device_(device) {}
  ~MemoryPool();
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  Device& device() const { return device_; }
  // A block of at least `bytes`, reused if one is free, else taken from the device.
  Result<std::uint64_t> allocate(std::uint64_t bytes, std::uint64_t owner);
  // Whether `base` is a live allocation of this pool.
  bool owns(std::uint64_t base) const;
  // The block at `base` is free again (its free was reached in stream order).
  void returned(std::uint64_t base);
  // The block at `base` leaves the pool for good (cuMemFree of a pool allocation).
  Status forget(std::uint64_t base);
  // Gives back unused blocks until the pool holds at most `keep` bytes (or has nothing unused).
  void trimTo(std::uint64_t keep);
  // What a synchronization does: gives back what the pool holds beyond its release threshold.
  void releaseAboveThreshold();

  Status setAttribute(CUmemPool_attribute attribute, const void* value);
  Status getAttribute(CUmemPool_attribute attribute, void* value) const;

 private:
  void trimLocked(std::uint64_t keep);

  Device& device_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::uint64_t> live_;  // base -> block bytes
  std::multimap<std::uint64_t, std::uint64_t> unused_;     // block bytes -> base
  std::uint64_t reserved_ = 0, reservedHigh_ = 0, used_ = 0, usedHigh_ = 0;
  std::uint64_t releaseThreshold_ = 0;
  int reuseFollowEvents_ = 1, reuseOpportunistic_ = 1, reuseInternal_ = 1;
};

// Every pool of the process: the devices' default and current pools, the pools created, and
// which pool each stream-ordered allocation came from. A pool's handle is its address.
class MemoryPools {
 public:
  CUmemoryPool defaultPool(Device& device);
  CUmemoryPool currentPool(Device& device);
  void setCurrentPool(Device& device, CUmemoryPool pool);
  CUmemoryPool create(Device& device);
  // Not a default pool; its live allocations keep it until they are freed.
  Status destroy(CUmemoryPool pool);
  std::shared_ptr<MemoryPool> find(CUmemoryPool pool) const;
  void allocated(std::uint64_t base, std::shared_ptr<MemoryPool> pool);
  std::shared_ptr<MemoryPool> ownerOf(std::uint64_t base) const;
  void freed(std::uint64_t base);
  // At every context, stream or event synchronization (as the driver does).
  void releaseAboveThresholds();

 private:
  static CUmemoryPool handleOf(MemoryPool& pool) { return reinterpret_cast<CUmemoryPool>(&pool); }
  CUmemoryPool defaultPoolLocked(Device& device);

  mutable std::mutex mutex_;
  std::map<Device*, std::shared_ptr<MemoryPool>> defaults_;
  std::map<Device*, CUmemoryPool> current_;
  std::map<CUmemoryPool, std::shared_ptr<MemoryPool>> pools_;
  std::unordered_map<std::uint64_t, std::shared_ptr<MemoryPool>> owners_;  // allocation base -> pool
};

}  // namespace fastgpu::sim
