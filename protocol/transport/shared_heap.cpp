// See shared_heap.h.
#include "protocol/transport/shared_heap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "cudaabi/checked_math.h"
#include "protocol/transport/system_failure.h"

namespace fastgpu::protocol {
namespace {

constexpr unsigned kRequiredSeals = F_SEAL_SHRINK | F_SEAL_SEAL;
constexpr std::uint64_t kPage = 4096;

Result<std::uint64_t> fileSize(int descriptor) {
  struct stat info {};
  if (::fstat(descriptor, &info) != 0) return systemFailure("cannot read the shared heap's size");
  return static_cast<std::uint64_t>(info.st_size);
}

}  // namespace

std::optional<std::uint64_t> wholePages(std::uint64_t bytes) {
  auto padded = cudaabi::checkedAdd(bytes, kPage - 1);
  if (!padded) return std::nullopt;
  return *padded / kPage * kPage;
}

Result<SharedHeap> SharedHeap::create() {
  int descriptor = ::memfd_create("fastgpu-pinned", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (descriptor < 0) return systemFailure("cannot create the shared heap (memfd_create)");
  if (::fcntl(descriptor, F_ADD_SEALS, kRequiredSeals) != 0) {
    Status failed = systemFailure("cannot seal the shared heap");
    ::close(descriptor);
    return failed;
  }
  return SharedHeap(descriptor);
}

Result<SharedHeap> SharedHeap::adopt(int descriptor) {
  struct stat info {};
  int seals = ::fcntl(descriptor, F_GET_SEALS);
  if (::fstat(descriptor, &info) != 0 || !S_ISREG(info.st_mode) || seals < 0 ||
      (static_cast<unsigned>(seals) & kRequiredSeals) != kRequiredSeals) {
    ::close(descriptor);
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "the shared heap is unusable: not a sealed memory file");
  }
  return SharedHeap(descriptor);
}

SharedHeap::SharedHeap(SharedHeap&& other) noexcept : descriptor_(other.descriptor_) { other.descriptor_ = -1; }

SharedHeap::~SharedHeap() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

Status SharedHeap::reserve(std::uint64_t offset, std::uint64_t bytes) const {
  auto end = cudaabi::checkedAdd(offset, bytes);
  if (!end || *end > static_cast<std::uint64_t>(INT64_MAX)) return Status(CUDA_ERROR_INVALID_VALUE, "a shared heap range past any file");
  auto size = fileSize(descriptor_);
  if (!size) return size.status();
  // Grown by the client already: the range is there (growing only; shrinking is sealed).
  if (*size >= *end) return Status::ok();
  if (::ftruncate(descriptor_, static_cast<off_t>(*end)) != 0) return systemFailure("cannot grow the shared heap");
  return Status::ok();
}

Result<void*> SharedHeap::map(std::uint64_t offset, std::uint64_t bytes, void* at) const {
  auto end = cudaabi::checkedAdd(offset, bytes);
  if (bytes == 0 || offset % kPage != 0 || bytes % kPage != 0 || !end) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("shared heap range {}+{} is not whole pages", offset, bytes));
  }
  auto size = fileSize(descriptor_);
  if (!size) return size.status();
  if (*end > *size) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("shared heap range {}+{} lies past its {} bytes", offset, bytes, *size));
  }
  // Populated, as page-locked memory is resident from its allocation on: no copy waits for
  // page faults (on a GPU the driver would pin every page of it anyway).
  void* mapped = MAP_FAILED;
  if (at != nullptr && reinterpret_cast<std::uintptr_t>(at) % kPage == 0) {
    mapped = ::mmap(at, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE | MAP_FIXED_NOREPLACE, descriptor_,
                    static_cast<off_t>(offset));
    // An old kernel takes the flag for a hint: a mapping elsewhere is no use as `at`.
    if (mapped != MAP_FAILED && mapped != at) {
      ::munmap(mapped, bytes);
      mapped = MAP_FAILED;
    }
  }
  if (mapped == MAP_FAILED) {
    mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, descriptor_,
                    static_cast<off_t>(offset));
  }
  if (mapped == MAP_FAILED) return systemFailure("cannot map a shared heap range");
  // As the driver does with pinned memory: a forked child does not get it.
  ::madvise(mapped, bytes, MADV_DONTFORK);
  return mapped;
}

void SharedHeap::release(std::uint64_t offset, std::uint64_t bytes) const {
  ::fallocate(descriptor_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
              static_cast<off_t>(bytes));
}

}  // namespace fastgpu::protocol
