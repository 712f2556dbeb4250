// Registrations of this process's memory for one-sided RDMA (rdma_link.h), kept for reuse:
// registering costs a system call and pins pages, so the buffers a program copies from and to
// again and again are registered once (issue 11: "memory registration cached"). Bounded in count
// and bytes, the least recently used going first; a range the program frees is forgotten before
// its pages can change hands, so a cached registration never pins memory the program no longer
// owns.
//
// A lease keeps its registration alive while an operation uses it, even after eviction or
// forget(): the registration ends when the last lease drops. The link must outlive the cache and
// every lease. Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>

#include "protocol/transport/rdma_link.h"

namespace fastgpu::protocol {

class RdmaRegistrationCache {
 public:
  using Lease = std::shared_ptr<const RdmaRegion>;

  // `peerMayAccess` as RdmaLink::registerMemory's, for every registration the cache makes.
  RdmaRegistrationCache(RdmaLink& link, bool peerMayAccess, std::size_t maxRegions, std::uint64_t maxBytes);
  RdmaRegistrationCache(const RdmaRegistrationCache&) = delete;
  RdmaRegistrationCache& operator=(const RdmaRegistrationCache&) = delete;

  // A registration that covers [data, data + bytes): a cached one, else the whole pages around
  // the range, registered now and cached (unless larger than the cache's byte bound alone).
  // Refuses an empty or wrapping range (CUDA_ERROR_INVALID_VALUE); a failed registration (the
  // locked-memory limit) is reported and nothing is cached.
  Result<Lease> cover(const void* data, std::uint64_t bytes);
  // Drops every cached registration that overlaps [data, data + bytes): the program frees or
  // unregisters that memory.
  void forget(const void* data, std::uint64_t bytes);

  std::size_t regions() const;
  std::uint64_t bytes() const;

 private:
  void evictBeyondBounds();

  RdmaLink& link_;
  const bool peerMayAccess_;
  const std::size_t maxRegions_;
  const std::uint64_t maxBytes_;
  mutable std::mutex mutex_;
  std::list<Lease> recent_;  // most recently used first
  std::uint64_t bytes_ = 0;
};

}  // namespace fastgpu::protocol
