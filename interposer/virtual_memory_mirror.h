// What this process knows of its virtual memory management objects on the server: physical
// allocations (their device, size and references) and mappings (their allocation and access),
// so that the queries (cuMemGetAccess, cuMemRetainAllocationHandle, properties) cost no round
// trip and a handle's last release is the only one the server hears of.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace fastgpu::interposer {

class VirtualMemoryMirror {
 public:
  struct Physical {
    int device;
    std::uint64_t bytes;
    CUmemAllocationHandleType handleTypes = CU_MEM_HANDLE_TYPE_NONE;
    int references = 1;
  };
  struct Mapping {
    std::uint64_t bytes;
    std::uint64_t handle;
    unsigned access = 0;  // CUmemAccess_flags
  };

  void created(std::uint64_t handle, int device, std::uint64_t bytes,
               CUmemAllocationHandleType handleTypes = CU_MEM_HANDLE_TYPE_NONE) {
    std::lock_guard lock(mutex_);
    physical_[handle] = Physical{device, bytes, handleTypes};
  }
  std::optional<Physical> physical(std::uint64_t handle) {
    std::lock_guard lock(mutex_);
    auto it = physical_.find(handle);
    if (it == physical_.end()) return std::nullopt;
    return it->second;
  }
  // Drops a reference: nullopt for an unknown handle, else whether it was the last.
  std::optional<bool> release(std::uint64_t handle) {
    std::lock_guard lock(mutex_);
    auto it = physical_.find(handle);
    if (it == physical_.end()) return std::nullopt;
    if (--it->second.references > 0) return false;
    physical_.erase(it);
    return true;
  }
  // The handle mapped at `address`, with one more reference; nullopt if none is (or it was
  // released already).
  std::optional<std::uint64_t> retain(std::uint64_t address) {
    std::lock_guard lock(mutex_);
    auto mapping = containingLocked(address);
    if (mapping == mappings_.end()) return std::nullopt;
    auto physical = physical_.find(mapping->second.handle);
    if (physical == physical_.end()) return std::nullopt;
    ++physical->second.references;
    return mapping->second.handle;
  }

  void mapped(std::uint64_t base, std::uint64_t bytes, std::uint64_t handle) {
    std::lock_guard lock(mutex_);
    mappings_[base] = Mapping{bytes, handle};
  }
  // Forgets the mappings inside [base, base + bytes); returns their bases.
  std::vector<std::uint64_t> unmapped(std::uint64_t base, std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    std::vector<std::uint64_t> bases;
    for (auto it = mappings_.lower_bound(base); it != mappings_.end() && it->first - base < bytes;) {
      bases.push_back(it->first);
      it = mappings_.erase(it);
    }
    return bases;
  }
  void accessSet(std::uint64_t base, std::uint64_t bytes, unsigned access) {
    std::lock_guard lock(mutex_);
    for (auto it = mappings_.lower_bound(base); it != mappings_.end() && it->first - base < bytes; ++it) {
      it->second.access = access;
    }
  }
  std::optional<Mapping> mappingAt(std::uint64_t address) {
    std::lock_guard lock(mutex_);
    auto it = containingLocked(address);
    if (it == mappings_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::uint64_t, Mapping>::iterator containingLocked(std::uint64_t address) {
    auto it = mappings_.upper_bound(address);
    if (it == mappings_.begin()) return mappings_.end();
    --it;
    return address - it->first < it->second.bytes ? it : mappings_.end();
  }

  std::mutex mutex_;
  std::map<std::uint64_t, Physical> physical_;
  std::map<std::uint64_t, Mapping> mappings_;
};

}  // namespace fastgpu::interposer
