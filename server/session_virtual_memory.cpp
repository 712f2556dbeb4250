// Virtual memory management for one session (DESIGN.md, decision 9): cuMemCreate charges the
// vGPU's quota, a reservation does not; a mapping is a range of the session (copies, memsets and
// launches may name it) until it is unmapped. Every id and range the client names is checked
// here before the driver sees it, so the bookkeeping stays the driver's mirror.
#include <unistd.h>

#include <fmt/format.h>

#include "server/session_state.h"

namespace fastgpu::server {
namespace {

Status refused(const std::string& why) { return Status(CUDA_ERROR_INVALID_VALUE, why); }

Status tooMany(std::size_t limit, const char* what) {
  return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("the session holds {} {}, its limit", limit, what));
}

CUmemGenericAllocationHandle realHandle(void* entry) {
  return static_cast<CUmemGenericAllocationHandle>(reinterpret_cast<std::uintptr_t>(entry));
}

}  // namespace

// The driver's handle behind a kMemory id. An unknown, forged or released one is
// CUDA_ERROR_INVALID_VALUE, as the driver answers for an allocation handle it does not know.
Result<CUmemGenericAllocationHandle> SessionState::physicalHandle(std::uint64_t id) const {
  auto entry = find(HandleKind::kMemory, id);
  if (!entry) return refused("not a live allocation handle of this session");
  return realHandle(*entry);
}

Result<std::uint64_t> SessionState::reserveAddresses(std::uint64_t size, std::uint64_t alignment, std::uint64_t hint) {
  if (reservations_.size() >= kMaxReservations) return tooMany(kMaxReservations, "address reservations");
  CUdeviceptr base = 0;
  if (CUresult result = driver_.cuMemAddressReserve(&base, size, alignment, hint, 0); result != CUDA_SUCCESS) {
    return Status(result, "cuMemAddressReserve failed");
  }
  reservations_[base] = size;
  return base;
}

Status SessionState::freeAddresses(std::uint64_t base, std::uint64_t size) {
  auto it = reservations_.find(base);
  if (it == reservations_.end() || it->second != size) return refused("not a reservation of this session");
  auto mapped = ranges_.lower_bound(base);
  if (mapped != ranges_.end() && mapped->first < base + size) return refused("the reservation still has mappings");
  if (CUresult result = driver_.cuMemAddressFree(base, size); result != CUDA_SUCCESS) {
    return Status(result, "cuMemAddressFree failed");
  }
  reservations_.erase(it);
  return Status::ok();
}

Result<std::uint64_t> SessionState::createPhysical(int device, std::uint64_t size, std::uint32_t handleTypes) {
  if (physical_.size() >= kMaxPhysicalAllocations) return tooMany(kMaxPhysicalAllocations, "physical allocations");
  // Made shareable as a POSIX descriptor (PyTorch's expandable segments ask it), or not at all.
  if (handleTypes != CU_MEM_HANDLE_TYPE_NONE && handleTypes != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, "only POSIX file descriptors are remoted as shareable handle types");
  }
  int physicalDevice = lease_->physicalDevice(device);
  if (physicalDevice < 0) return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("device {} is not in this session's view", device));
  if (Status reserved = lease_->reserve(size); !reserved) return reserved;
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = physicalDevice;
  prop.requestedHandleTypes = static_cast<CUmemAllocationHandleType>(handleTypes);
  CUmemGenericAllocationHandle handle = 0;
  if (CUresult result = driver_.cuMemCreate(&handle, size, &prop, 0); result != CUDA_SUCCESS) {
    lease_->release(size);
    return Status(result, "cuMemCreate failed");
  }
  std::uint64_t id = add(HandleKind::kMemory, reinterpret_cast<void*>(static_cast<std::uintptr_t>(handle)));
  physical_[id] = Physical{size};
  physical_[id].shareable = handleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  physical_[id].gpu = physicalDevice;
  return id;
}

Result<int> SessionState::exportDescriptor(std::uint64_t id) {
  auto handle = physicalHandle(id);
  if (!handle) return handle.status();
  Physical& physical = physical_.at(id);
  if (!physical.shareable) return Status(CUDA_ERROR_INVALID_VALUE, "the allocation was not made to be shared");
  if (physical.exportFd >= 0) return physical.exportFd;
  int fd = -1;
  CUresult result = driver_.cuMemExportToShareableHandle(&fd, *handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
  if (result != CUDA_SUCCESS) return Status(result, "cuMemExportToShareableHandle failed");
  physical.exportFd = fd;
  return fd;
}

void SessionState::published(std::uint64_t id, const scheduler::DriverIpcHandle& handle) {
  if (auto it = physical_.find(id); it != physical_.end()) it->second.published = handle;
}

Result<std::pair<std::uint64_t, int>> SessionState::physicalShape(std::uint64_t id) const {
  auto handle = physicalHandle(id);
  if (!handle) return handle.status();
  const Physical& physical = physical_.at(id);
  return std::pair{physical.bytes, physical.gpu};
}

Result<std::uint64_t> SessionState::importPhysical(int fd, std::uint64_t bytes, int gpu) {
  if (physical_.size() >= kMaxPhysicalAllocations) return tooMany(kMaxPhysicalAllocations, "physical allocations");
  CUmemGenericAllocationHandle handle = 0;
  CUresult result = driver_.cuMemImportFromShareableHandle(&handle, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)),
                                                          CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  if (result != CUDA_SUCCESS) return Status(result, "cuMemImportFromShareableHandle failed");
  std::uint64_t id = add(HandleKind::kMemory, reinterpret_cast<void*>(static_cast<std::uintptr_t>(handle)));
  physical_[id] = Physical{bytes};
  physical_[id].charged = false;
  physical_[id].gpu = gpu;
  return id;
}

void SessionState::forgetExport(Physical& physical) {
  if (physical.exportFd < 0) return;
  if (lease_->ipc() != nullptr) lease_->ipc()->withdraw(scheduler::IpcKind::kPhysical, physical.published);
  ::close(physical.exportFd);
  physical.exportFd = -1;
}

void SessionState::forgetPhysicalIfUnused(std::uint64_t id) {
  auto it = physical_.find(id);
  if (it == physical_.end() || !it->second.released || it->second.mappings > 0) return;
  if (it->second.charged) lease_->release(it->second.bytes);
  forgetExport(it->second);
  physical_.erase(it);
}

Status SessionState::releasePhysical(std::uint64_t id) {
  auto handle = physicalHandle(id);
  if (!handle) return handle.status();
  if (CUresult result = driver_.cuMemRelease(*handle); result != CUDA_SUCCESS) {
    return Status(result, "cuMemRelease failed");
  }
  remove(id);  // no new mappings; the memory lives on while mapped
  physical_.at(id).released = true;
  forgetPhysicalIfUnused(id);
  return Status::ok();
}

Status SessionState::mapPhysical(std::uint64_t base, std::uint64_t size, std::uint64_t offset, std::uint64_t id) {
  auto handle = physicalHandle(id);
  if (!handle) return handle.status();
  if (mappingCount_ >= kMaxMappings) return tooMany(kMaxMappings, "mappings");
  auto reservation = reservations_.upper_bound(base);
  if (reservation == reservations_.begin()) return refused("address not reserved by this session");
  --reservation;
  if (base - reservation->first >= reservation->second || size > reservation->second - (base - reservation->first)) {
    return refused("range not inside one reservation of this session");
  }
  if (CUresult result = driver_.cuMemMap(base, size, offset, *handle, 0); result != CUDA_SUCCESS) {
    return Status(result, "cuMemMap failed");
  }
  ranges_[base] = Range{size, 0, false, 0, id};
  ++physical_.at(id).mappings;
  ++mappingCount_;
  return Status::ok();
}

std::vector<std::map<std::uint64_t, SessionState::Range>::iterator> SessionState::mappingsCovering(std::uint64_t base,
                                                                                                 std::uint64_t size) {
  std::vector<std::map<std::uint64_t, Range>::iterator> covering;
  std::uint64_t at = base;
  for (auto it = ranges_.find(base); it != ranges_.end() && it->first == at && it->second.memory != 0 &&
                                     at - base < size;
       ++it) {
    covering.push_back(it);
    at += it->second.bytes;
  }
  if (at - base != size) covering.clear();
  return covering;
}

Status SessionState::unmapRange(std::uint64_t base, std::uint64_t size) {
  auto covering = mappingsCovering(base, size);
  if (covering.empty()) return refused("range is not a run of whole mappings of this session");
  if (CUresult result = driver_.cuMemUnmap(base, size); result != CUDA_SUCCESS) {
    return Status(result, "cuMemUnmap failed");
  }
  for (auto it : covering) {
    std::uint64_t id = it->second.memory;
    ranges_.erase(it);
    --physical_.at(id).mappings;
    --mappingCount_;
    forgetPhysicalIfUnused(id);
  }
  return Status::ok();
}

Status SessionState::setAccess(std::uint64_t base, std::uint64_t size,
                               const std::vector<std::pair<int, unsigned>>& access) {
  if (access.empty()) return refused("no access descriptors");
  if (mappingsCovering(base, size).empty()) return refused("range is not a run of whole mappings of this session");
  std::vector<CUmemAccessDesc> descriptors;
  for (const auto& [device, flags] : access) {
    int physicalDevice = lease_->physicalDevice(device);
    if (physicalDevice < 0) {
      return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("device {} is not in this session's view", device));
    }
    CUmemAccessDesc descriptor{};
    descriptor.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    descriptor.location.id = physicalDevice;
    descriptor.flags = static_cast<CUmemAccess_flags>(flags);
    descriptors.push_back(descriptor);
  }
  CUresult result = driver_.cuMemSetAccess(base, size, descriptors.data(), descriptors.size());
  return result == CUDA_SUCCESS ? Status::ok() : Status(result, "cuMemSetAccess failed");
}

Result<std::uint64_t> SessionState::granularity(int device, unsigned option) {
  int physicalDevice = lease_->physicalDevice(device);
  if (physicalDevice < 0) return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("device {} is not in this session's view", device));
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = physicalDevice;
  size_t bytes = 0;
  CUresult result = driver_.cuMemGetAllocationGranularity(&bytes, &prop,
                                                          static_cast<CUmemAllocationGranularity_flags>(option));
  if (result != CUDA_SUCCESS) return Status(result, "cuMemGetAllocationGranularity failed");
  return bytes;
}

}  // namespace fastgpu::server
