#include "cudasim/virtual_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cudasim/device.h"

namespace fastgpu::sim {
namespace {

Status invalid(const std::string& why) { return Status(CUDA_ERROR_INVALID_VALUE, why); }

bool granular(std::uint64_t value) { return value % kVmmGranularity == 0; }

std::uint64_t roundUp(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// Inaccessible, uncommitted pages over [base, base + size), replacing whatever was there.
bool closePages(std::uint64_t base, std::uint64_t size) {
  return mmap(reinterpret_cast<void*>(base), size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
              -1, 0) != MAP_FAILED;
}

int protectionOf(CUmemAccess_flags access) {
  switch (access) {
    case CU_MEM_ACCESS_FLAGS_PROT_READ: return PROT_READ;
    case CU_MEM_ACCESS_FLAGS_PROT_READWRITE: return PROT_READ | PROT_WRITE;
    default: return PROT_NONE;
  }
}

}  // namespace

VirtualMemory::~VirtualMemory() {
  std::lock_guard lock(mutex_);
  for (auto& [handle, physical] : physical_) close(physical.fd);
  if (windowReserved_) munmap(reinterpret_cast<void*>(kVirtualBase), kVirtualWindowBytes);
}

Status VirtualMemory::ensureWindowLocked() {
  if (windowReserved_) return Status::ok();
  void* window = mmap(reinterpret_cast<void*>(kVirtualBase), kVirtualWindowBytes, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (window != reinterpret_cast<void*>(kVirtualBase)) {
    if (window != MAP_FAILED) munmap(window, kVirtualWindowBytes);
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot reserve the virtual address window: {}",
                                                        std::strerror(errno)));
  }
  windowReserved_ = true;
  freeRanges_[0] = kVirtualWindowBytes;
  return Status::ok();
}

Result<std::uint64_t> VirtualMemory::reserve(std::uint64_t size, std::uint64_t alignment, std::uint64_t hint) {
  if (size == 0 || !granular(size)) return invalid("reservation size not a multiple of the granularity");
  if (alignment != 0 && (alignment & (alignment - 1)) != 0) return invalid("alignment not a power of two");
  alignment = std::max(alignment, kVmmGranularity);
  std::lock_guard lock(mutex_);
  if (Status window = ensureWindowLocked(); !window) return window;
  // The hint first, when it is free and aligned; else the first free place.
  auto place = [&](std::uint64_t offset) -> std::optional<std::uint64_t> {
    auto it = freeRanges_.upper_bound(offset);
    if (it == freeRanges_.begin()) return std::nullopt;
    --it;
    if (offset < it->first || offset + size > it->first + it->second) return std::nullopt;
    return it->first;
  };
  std::optional<std::uint64_t> offset;
  if (hint != 0 && inWindow(hint) && (hint - kVirtualBase) % alignment == 0 && place(hint - kVirtualBase)) {
    offset = hint - kVirtualBase;
  }
  for (auto it = freeRanges_.begin(); !offset && it != freeRanges_.end(); ++it) {
    std::uint64_t start = roundUp(it->first, alignment);
    if (start + size <= it->first + it->second) offset = start;
  }
  if (!offset) return Status(CUDA_ERROR_OUT_OF_MEMORY, "no free virtual address range that large");
  std::uint64_t blockStart = *place(*offset);
  std::uint64_t blockEnd = blockStart + freeRanges_[blockStart];
  freeRanges_.erase(blockStart);
  if (*offset > blockStart) freeRanges_[blockStart] = *offset - blockStart;
  if (*offset + size < blockEnd) freeRanges_[*offset + size] = blockEnd - (*offset + size);
  reservations_[kVirtualBase + *offset] = size;
  return kVirtualBase + *offset;
}

Status VirtualMemory::free(std::uint64_t base, std::uint64_t size) {
  std::lock_guard lock(mutex_);
  auto it = reservations_.find(base);
  if (it == reservations_.end() || it->second != size) return invalid("not a reservation (base and size)");
  auto mapped = mappings_.lower_bound(base);
  if (mapped != mappings_.end() && mapped->first < base + size) return invalid("the reservation still has mappings");
  reservations_.erase(it);
  std::uint64_t offset = base - kVirtualBase, length = size;
  auto next = freeRanges_.lower_bound(offset);
  if (next != freeRanges_.end() && offset + length == next->first) {
    length += next->second;
    next = freeRanges_.erase(next);
  }
  if (next != freeRanges_.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == offset) {
      offset = previous->first;
      length += previous->second;
      freeRanges_.erase(previous);
    }
  }
  freeRanges_[offset] = length;
  return Status::ok();
}

Result<CUmemGenericAllocationHandle> VirtualMemory::create(Device& device, std::uint64_t size, bool shareable) {
  if (size == 0 || !granular(size)) return invalid("allocation size not a multiple of the granularity");
  if (!device.memory().takeCapacity(size)) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("out of memory: {} bytes asked", size));
  }
  std::string name = fmt::format("{}{}", kPhysicalMemfdPrefix, device.ordinal());
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (fd >= 0) close(fd);
    device.memory().returnCapacity(size);
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot back physical memory: {}", std::strerror(errno)));
  }
  std::lock_guard lock(mutex_);
  CUmemGenericAllocationHandle handle = nextHandle_++;
  physical_[handle] = Physical{&device, size, fd, 1, 0, shareable, true};
  return handle;
}

Result<int> VirtualMemory::exportDescriptor(CUmemGenericAllocationHandle handle) const {
  std::lock_guard lock(mutex_);
  auto it = physical_.find(handle);
  if (it == physical_.end() || it->second.references == 0) return invalid("not a live allocation handle");
  if (!it->second.shareable) return invalid("the allocation was not made to be shared (requestedHandleTypes)");
  int fd = fcntl(it->second.fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot export: {}", std::strerror(errno)));
  return fd;
}

Result<CUmemGenericAllocationHandle> VirtualMemory::importDescriptor(int fd,
                                                                     const std::function<Device*(int)>& deviceOf) {
  // Only cudasim's physical memory: a memfd named for its device, whole granules long.
  char target[256] = {};
  std::string link = fmt::format("/proc/self/fd/{}", fd);
  ssize_t length = fd < 0 ? -1 : readlink(link.c_str(), target, sizeof(target) - 1);
  std::string_view name(target, length > 0 ? static_cast<std::size_t>(length) : 0);
  std::string_view prefix = "/memfd:";
  if (!name.starts_with(prefix) || !name.substr(prefix.size()).starts_with(kPhysicalMemfdPrefix)) {
    return invalid("not a descriptor of a shareable allocation");
  }
  int ordinal = std::atoi(std::string(name.substr(prefix.size() + std::strlen(kPhysicalMemfdPrefix))).c_str());
  Device* device = deviceOf(ordinal);
  struct stat info {};
  if (device == nullptr || fstat(fd, &info) != 0 || info.st_size <= 0 ||
      !granular(static_cast<std::uint64_t>(info.st_size))) {
    return invalid("not a descriptor of a shareable allocation");
  }
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot import: {}", std::strerror(errno)));
  std::lock_guard lock(mutex_);
  CUmemGenericAllocationHandle handle = nextHandle_++;
  physical_[handle] = Physical{device, static_cast<std::uint64_t>(info.st_size), own, 1, 0, true, false};
  return handle;
}

void VirtualMemory::dropIfUnusedLocked(CUmemGenericAllocationHandle handle) {
  auto it = physical_.find(handle);
  if (it == physical_.end() || it->second.references > 0 || it->second.mappings > 0) return;
  close(it->second.fd);
  if (it->second.charged) it->second.device->memory().returnCapacity(it->second.size);
  physical_.erase(it);
}

Status VirtualMemory::release(CUmemGenericAllocationHandle handle) {
  std::lock_guard lock(mutex_);
  auto it = physical_.find(handle);
  if (it == physical_.end() || it->second.references == 0) return invalid("not a live allocation handle");
  --it->second.references;
  dropIfUnusedLocked(handle);
  return Status::ok();
}

Result<CUmemGenericAllocationHandle> VirtualMemory::retain(std::uint64_t address) {
  std::lock_guard lock(mutex_);
  auto it = mappings_.upper_bound(address);
  if (it == mappings_.begin()) return invalid("address not mapped");
  --it;
  if (address >= it->first + it->second.size) return invalid("address not mapped");
  ++physical_.at(it->second.handle).references;
  return it->second.handle;
}

Result<VirtualMemory::Properties> VirtualMemory::properties(CUmemGenericAllocationHandle handle) const {
  std::lock_guard lock(mutex_);
  auto it = physical_.find(handle);
  if (it == physical_.end() || it->second.references == 0) return invalid("not a live allocation handle");
  return Properties{it->second.device->ordinal(), it->second.size, it->second.shareable};
}

Status VirtualMemory::map(std::uint64_t base, std::uint64_t size, std::uint64_t offset,
                          CUmemGenericAllocationHandle handle) {
  if (size == 0 || !granular(base) || !granular(size) || !granular(offset)) {
    return invalid("mapping not aligned to the granularity");
  }
  std::lock_guard lock(mutex_);
  auto physical = physical_.find(handle);
  if (physical == physical_.end() || physical->second.references == 0) return invalid("not a live allocation handle");
  if (offset > physical->second.size || size > physical->second.size - offset) {
    return invalid("mapping beyond the allocation");
  }
  auto reservation = reservations_.upper_bound(base);
  if (reservation == reservations_.begin()) return invalid("address not reserved");
  --reservation;
  if (base < reservation->first || base + size > reservation->first + reservation->second) {
    return invalid("range not inside one reservation");
  }
  auto next = mappings_.lower_bound(base);
  bool overlapsNext = next != mappings_.end() && next->first < base + size;
  bool overlapsPrevious = next != mappings_.begin() && std::prev(next)->first + std::prev(next)->second.size > base;
  if (overlapsNext || overlapsPrevious) return invalid("range already mapped");
  if (mmap(reinterpret_cast<void*>(base), size, PROT_NONE, MAP_SHARED | MAP_FIXED, physical->second.fd,
           static_cast<off_t>(offset)) == MAP_FAILED) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot map: {}", std::strerror(errno)));
  }
  mappings_[base] = Mapping{size, offset, handle};
  ++physical->second.mappings;
  return Status::ok();
}

std::vector<std::map<std::uint64_t, VirtualMemory::Mapping>::iterator> VirtualMemory::coveringLocked(
    std::uint64_t base, std::uint64_t size) {
  std::vector<std::map<std::uint64_t, Mapping>::iterator> covering;
  std::uint64_t at = base;
  for (auto it = mappings_.find(base); it != mappings_.end() && it->first == at && at < base + size; ++it) {
    covering.push_back(it);
    at += it->second.size;
  }
  if (at != base + size) covering.clear();
  return covering;
}

Status VirtualMemory::unmap(std::uint64_t base, std::uint64_t size) {
  std::lock_guard lock(mutex_);
  auto covering = coveringLocked(base, size);
  if (covering.empty()) return invalid("range is not a run of whole mappings");
  if (!closePages(base, size)) return Status(CUDA_ERROR_UNKNOWN, fmt::format("cannot unmap: {}", std::strerror(errno)));
  for (auto it : covering) {
    CUmemGenericAllocationHandle handle = it->second.handle;
    mappings_.erase(it);
    --physical_.at(handle).mappings;
    dropIfUnusedLocked(handle);
  }
  return Status::ok();
}

Status VirtualMemory::setAccess(std::uint64_t base, std::uint64_t size, CUmemAccess_flags access) {
  std::lock_guard lock(mutex_);
  auto covering = coveringLocked(base, size);
  if (covering.empty()) return invalid("range is not a run of whole mappings");
  if (mprotect(reinterpret_cast<void*>(base), size, protectionOf(access)) != 0) {
    return Status(CUDA_ERROR_UNKNOWN, fmt::format("cannot set access: {}", std::strerror(errno)));
  }
  for (auto it : covering) it->second.access = access;
  return Status::ok();
}

std::optional<VirtualMapping> VirtualMemory::find(std::uint64_t address, std::uint64_t bytes) const {
  std::lock_guard lock(mutex_);
  auto it = mappings_.upper_bound(address);
  if (it == mappings_.begin()) return std::nullopt;
  --it;
  if (address >= it->first + it->second.size) return std::nullopt;
  VirtualMapping found{it->first, it->second.size, physical_.at(it->second.handle).device->ordinal(),
                       it->second.access, it->second.handle};
  // A range may run on across adjacent mappings (a tensor across two chunks of a growing
  // segment); it is reachable as far as the least accessible of them.
  std::uint64_t end = it->first + it->second.size;
  while (bytes > end - address) {
    auto next = std::next(it);
    if (next == mappings_.end() || next->first != end) return std::nullopt;
    it = next;
    end += it->second.size;
    if (protectionOf(it->second.access) != protectionOf(found.access)) {
      found.access = it->second.access == CU_MEM_ACCESS_FLAGS_PROT_NONE || found.access == CU_MEM_ACCESS_FLAGS_PROT_NONE
                         ? CU_MEM_ACCESS_FLAGS_PROT_NONE
                         : CU_MEM_ACCESS_FLAGS_PROT_READ;
    }
  }
  return found;
}

}  // namespace fastgpu::sim
