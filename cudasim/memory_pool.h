// A stream-ordered memory pool (cuMemPoolCreate, cuMemAllocAsync, cuMemFreeAsync): blocks taken
// from its device's memory and kept for reuse when freed; what it holds beyond its release
// threshold goes back to the device at the next synchronization (as the driver documents), and
// cuMemPoolTrimTo gives back what is unused. A free returns its block when the stream reaches it, so a block is never
// handed out again before the work before its free is done.
// A pool made with POSIX descriptors as its handle type may be shared with other processes
// (pool_sharing.h); a pool imported there allocates nothing.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"

namespace fastgpu::sim {

class Device;

// A pool as processes name it: the process that made it and its serial there.
struct PoolIdentity {
  std::uint32_t pid = 0;
  std::uint64_t serial = 0;
  bool operator==(const PoolIdentity&) const = default;
};

class MemoryPool {
 public:
  // `exportable`: made with POSIX descriptors as its handle type. `importedFrom`: another
  // process's pool, imported here.
  explicit MemoryPool(Device& device, bool exportable = false, std::optional<PoolIdentity> importedFrom = {});
  ~MemoryPool();
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  Device& device() const { return device_; }
  bool exportable() const { return exportable_; }
  bool imported() const { return importedFrom_.has_value(); }
  // The pool's name for every process: its own, or the one it was imported from.
  PoolIdentity identity() const;
  // A block of at least `bytes`, reused if one is free, else taken from the device; an imported
  // pool refuses (CUDA_ERROR_INVALID_VALUE).
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
  const bool exportable_;
  const std::optional<PoolIdentity> importedFrom_;
  const std::uint64_t serial_;
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
  CUmemoryPool create(Device& device, bool exportable = false);
  // A pool of `device` standing for another process's pool `from` (pool_sharing.h).
  CUmemoryPool import(Device& device, const PoolIdentity& from);
  // Not a default pool; its live allocations keep it until they are freed.
  Status destroy(CUmemoryPool pool);
  std::shared_ptr<MemoryPool> find(CUmemoryPool pool) const;
  void allocated(std::uint64_t base, std::shared_ptr<MemoryPool> pool);
  std::shared_ptr<MemoryPool> ownerOf(std::uint64_t base) const;
  void freed(std::uint64_t base);
  // Another process's allocation taken in at `base` through imported pool `pool`, until freed here.
  void importedPointer(std::uint64_t base, std::shared_ptr<MemoryPool> pool);
  bool isImportedPointer(std::uint64_t base) const;
  // Forgets the imported allocation at `base`; false when it is not one.
  bool forgetImportedPointer(std::uint64_t base);
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
  std::unordered_map<std::uint64_t, std::shared_ptr<MemoryPool>> imported_;  // imported allocation -> pool
};

}  // namespace fastgpu::sim
