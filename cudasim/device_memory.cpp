#include "cudasim/device_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cudasim/sim_config.h"

namespace fastgpu::sim {
namespace {

// Whole pages, more than the 256 bytes cuMemAlloc guarantees: an allocation shares no page with
// another, so it alone can be shared with another process (cuIpcGetMemHandle).
constexpr std::uint64_t kSmallAlignment = 4096;
constexpr std::uint64_t kLargeAlignment = 2ULL << 20;  // large allocations get whole 2 MiB pages

std::uint64_t roundUp(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

Result<std::unique_ptr<DeviceMemory>> DeviceMemory::reserve(int ordinal, std::uint64_t capacityBytes,
                                                           DeviceShare& share) {
  std::uint64_t begin = kDeviceAddressBase + static_cast<std::uint64_t>(ordinal) * kMaxDeviceMemoryBytes;
  void* want = reinterpret_cast<void*>(begin);
  void* got = mmap(want, capacityBytes, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (got == MAP_FAILED || got != want) {
    if (got != MAP_FAILED) munmap(got, capacityBytes);
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot reserve {} bytes of device address space at {:#x}: {}",
                                                        capacityBytes, begin, std::strerror(errno)));
  }
  return std::unique_ptr<DeviceMemory>(new DeviceMemory(begin, capacityBytes, share));
}

DeviceMemory::DeviceMemory(std::uint64_t begin, std::uint64_t capacity, DeviceShare& share)
    : begin_(begin), capacity_(capacity), share_(share) {
  free_[0] = capacity;
}

DeviceMemory::~DeviceMemory() { munmap(reinterpret_cast<void*>(begin_), capacity_); }

std::uint64_t DeviceMemory::used() const { return share_.used(); }

std::uint64_t DeviceMemory::footprint(std::uint64_t bytes) {
  return bytes >= kLargeAlignment ? roundUp(bytes, kLargeAlignment) : roundUp(bytes, kSmallAlignment);
}

Result<std::uint64_t> DeviceMemory::allocate(std::uint64_t bytes, std::uint64_t owner) {
  return place(bytes, owner, -1);
}

Result<std::uint64_t> DeviceMemory::place(std::uint64_t bytes, std::uint64_t owner, int importFd) {
  if (bytes == 0 || bytes > capacity_) return Status(CUDA_ERROR_OUT_OF_MEMORY, "allocation larger than the device");
  std::uint64_t length = footprint(bytes);
  std::uint64_t alignment = bytes >= kLargeAlignment ? kLargeAlignment : kSmallAlignment;
  bool imported = importFd >= 0;
  std::lock_guard lock(mutex_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    std::uint64_t start = roundUp(it->first, alignment);
    std::uint64_t end = it->first + it->second;
    if (start + length > end) continue;
    if (!imported && !share_.take(length, capacity_)) break;  // other processes hold the rest
    void* at = reinterpret_cast<void*>(begin_ + start);
    bool opened = imported ? mmap(at, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, importFd, 0) != MAP_FAILED
                           : mprotect(at, length, PROT_READ | PROT_WRITE) == 0;
    if (!opened) {
      if (!imported) share_.giveBack(length);
      return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot open device memory: {}", std::strerror(errno)));
    }
    // Split the free block into what stays free before and after the allocation.
    std::uint64_t before = start - it->first;
    std::uint64_t after = end - (start + length);
    std::uint64_t blockStart = it->first;
    free_.erase(it);
    if (before > 0) free_[blockStart] = before;
    if (after > 0) free_[start + length] = after;
    std::uint64_t base = begin_ + start;
    allocations_[base] = DeviceAllocation{base, bytes, owner, imported};
    return base;
  }
  return Status(CUDA_ERROR_OUT_OF_MEMORY,
                fmt::format("out of memory: {} bytes asked, {} of {} in use", bytes, share_.used(), capacity_));
}

Result<ExportedMemory> DeviceMemory::exportAllocation(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  auto it = allocations_.find(base);
  if (it == allocations_.end() || it->second.imported) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{:#x} is not the start of an allocation of this process", base));
  }
  if (auto done = exported_.find(base); done != exported_.end()) return done->second;
  ExportedMemory exported{-1, ++exportSerial_, footprint(it->second.size)};
  exported.fd = memfd_create(fmt::format("cudasim-ipc-{}", exported.serial).c_str(), MFD_CLOEXEC);
  void* at = reinterpret_cast<void*>(base);
  auto failed = [&](const char* what) -> Status {
    int error = errno;
    if (exported.fd >= 0) close(exported.fd);
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot share device memory ({}): {}", what, std::strerror(error)));
  };
  if (exported.fd < 0) return failed("memfd_create");
  if (ftruncate(exported.fd, static_cast<off_t>(exported.length)) != 0) return failed("ftruncate");
  // The contents move into the shared pages, which then replace the private ones in place.
  for (std::uint64_t done = 0; done < exported.length;) {
    ssize_t wrote = pwrite(exported.fd, static_cast<const char*>(at) + done, exported.length - done,
                           static_cast<off_t>(done));
    if (wrote <= 0) return failed("copying the contents");
    done += static_cast<std::uint64_t>(wrote);
  }
  if (mmap(at, exported.length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, exported.fd, 0) == MAP_FAILED) {
    return failed("mmap");
  }
  exported_[base] = exported;
  return exported;
}

Result<std::uint64_t> DeviceMemory::mapImported(int fd, std::uint64_t bytes, std::uint64_t length, std::uint64_t owner) {
  if (footprint(bytes) != length) return Status(CUDA_ERROR_INVALID_VALUE, "the shared memory's size does not match");
  return place(bytes, owner, fd);
}

Status DeviceMemory::unmapImported(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  auto it = allocations_.find(base);
  if (it == allocations_.end() || !it->second.imported) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{:#x} is not memory opened from another process", base));
  }
  releaseLocked(it);
  return Status::ok();
}

void DeviceMemory::releaseLocked(std::map<std::uint64_t, DeviceAllocation>::iterator it) {
  std::uint64_t offset = it->first - begin_;
  std::uint64_t length = footprint(it->second.size);
  void* at = reinterpret_cast<void*>(it->first);
  bool shared = it->second.imported;
  if (!it->second.imported) share_.giveBack(length);  // opened memory counts against its owner
  if (auto exported = exported_.find(it->first); exported != exported_.end()) {
    close(exported->second.fd);  // processes that opened it keep their mapping
    exported_.erase(exported);
    shared = true;
  }
  allocations_.erase(it);
  // Give the pages back to the OS so that freed memory stops counting against the host, and
  // close them: touching freed memory faults. Shared pages are replaced by private ones again.
  if (shared) {
    mmap(at, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  } else {
    madvise(at, length, MADV_DONTNEED);
    mprotect(at, length, PROT_NONE);
  }
  // Coalesce with the neighbouring free blocks.
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && offset + length == next->first) {
    length += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      prev->second += length;
      return;
    }
  }
  free_[offset] = length;
}

Status DeviceMemory::free(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  auto it = allocations_.find(base);
  if (it == allocations_.end() || it->second.imported) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{:#x} is not the start of a live allocation", base));
  }
  releaseLocked(it);
  return Status::ok();
}

void DeviceMemory::freeAllOf(std::uint64_t owner) {
  std::lock_guard lock(mutex_);
  for (auto it = allocations_.begin(); it != allocations_.end();) {
    auto current = it++;
    if (current->second.owner == owner) releaseLocked(current);
  }
}

std::optional<DeviceAllocation> DeviceMemory::find(std::uint64_t address, std::uint64_t bytes) const {
  std::lock_guard lock(mutex_);
  auto it = allocations_.upper_bound(address);
  if (it == allocations_.begin()) return std::nullopt;
  const DeviceAllocation& allocation = std::prev(it)->second;
  if (address - allocation.base >= allocation.size) return std::nullopt;
  if (bytes > allocation.size - (address - allocation.base)) return std::nullopt;
  return allocation;
}

}  // namespace fastgpu::sim
