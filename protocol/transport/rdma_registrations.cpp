#include "protocol/transport/rdma_registrations.h"

#include <unistd.h>

#include <algorithm>

namespace fastgpu::protocol {
namespace {

std::uint64_t pageBytes() {
  static const auto bytes = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return bytes;
}

std::uint64_t startOf(const RdmaRegion& region) { return reinterpret_cast<std::uint64_t>(region.data); }

}  // namespace

RdmaRegistrationCache::RdmaRegistrationCache(RdmaLink& link, bool peerMayAccess, std::size_t maxRegions,
                                             std::uint64_t maxBytes)
    : link_(link), peerMayAccess_(peerMayAccess), maxRegions_(std::max<std::size_t>(maxRegions, 1)),
      maxBytes_(maxBytes) {}

Result<RdmaRegistrationCache::Lease> RdmaRegistrationCache::cover(const void* data, std::uint64_t bytes) {
  auto first = reinterpret_cast<std::uint64_t>(data);
  std::uint64_t page = pageBytes();
  if (data == nullptr || bytes == 0 || first > UINT64_MAX - bytes || first + bytes > UINT64_MAX - page) {
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "an empty or wrapping range to register");
  }
  std::uint64_t end = first + bytes;
  std::lock_guard hold(mutex_);
  auto found = std::find_if(recent_.begin(), recent_.end(), [&](const Lease& lease) {
    return startOf(*lease) <= first && end <= startOf(*lease) + lease->bytes;
  });
  if (found != recent_.end()) {
    recent_.splice(recent_.begin(), recent_, found);
    return recent_.front();
  }
  std::uint64_t pagesStart = first / page * page;
  std::uint64_t pagesEnd = (end + page - 1) / page * page;
  auto registered = link_.registerMemory(
      std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(pagesStart), pagesEnd - pagesStart), peerMayAccess_);
  if (!registered) return registered.status();
  RdmaLink* link = &link_;
  Lease lease(new RdmaRegion(*registered), [link](const RdmaRegion* region) {
    link->deregister(*region);
    delete region;
  });
  if (lease->bytes > maxBytes_) return lease;  // used once, not kept
  recent_.push_front(lease);
  bytes_ += lease->bytes;
  evictBeyondBounds();
  return lease;
}

void RdmaRegistrationCache::evictBeyondBounds() {
  // The newest (the one just made) stays.
  while (recent_.size() > 1 && (recent_.size() > maxRegions_ || bytes_ > maxBytes_)) {
    bytes_ -= recent_.back()->bytes;
    recent_.pop_back();
  }
}

void RdmaRegistrationCache::forget(const void* data, std::uint64_t bytes) {
  auto first = reinterpret_cast<std::uint64_t>(data);
  std::uint64_t end = first > UINT64_MAX - bytes ? UINT64_MAX : first + bytes;
  std::lock_guard hold(mutex_);
  for (auto at = recent_.begin(); at != recent_.end();) {
    bool overlaps = startOf(**at) < end && first < startOf(**at) + (*at)->bytes;
    if (overlaps) {
      bytes_ -= (*at)->bytes;
      at = recent_.erase(at);
    } else {
      ++at;
    }
  }
}

std::size_t RdmaRegistrationCache::regions() const {
  std::lock_guard hold(mutex_);
  return recent_.size();
}

std::uint64_t RdmaRegistrationCache::bytes() const {
  std::lock_guard hold(mutex_);
  return bytes_;
}

}  // namespace fastgpu::protocol
