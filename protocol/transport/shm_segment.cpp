// See shm_segment.h.
#include "protocol/transport/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include <fmt/format.h>

#include "protocol/transport/system_failure.h"

namespace fastgpu::protocol {
namespace {

struct SegmentHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t reserved0;
  std::uint64_t ringBytes;
  std::uint8_t reserved[40];
};
static_assert(sizeof(SegmentHeader) == 64, "the shared layout is fixed");

constexpr std::size_t kControlOffset = 64;
constexpr std::size_t kDataOffset = 4096;
constexpr std::size_t kSegmentBytes = kDataOffset + 2 * kShmRingBytes;
static_assert(kControlOffset + 2 * sizeof(RingControl) <= kDataOffset);
static_assert((kShmRingBytes & (kShmRingBytes - 1)) == 0, "a ring's size is a power of two");

constexpr unsigned kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

Result<std::uint8_t*> mapSegment(int descriptor) {
  void* mapped = ::mmap(nullptr, kSegmentBytes, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0);
  if (mapped == MAP_FAILED) return systemFailure("cannot map the shared-memory segment");
  // A forked child never uses its parent's session: it does not get the mapping either.
  ::madvise(mapped, kSegmentBytes, MADV_DONTFORK);
  return static_cast<std::uint8_t*>(mapped);
}

}  // namespace

Result<SharedSegment> SharedSegment::create() {
  int descriptor = ::memfd_create("fastgpu-session", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (descriptor < 0) return systemFailure("cannot create a shared-memory segment (memfd_create)");
  if (::ftruncate(descriptor, kSegmentBytes) != 0 || ::fcntl(descriptor, F_ADD_SEALS, kRequiredSeals) != 0) {
    Status failed = systemFailure("cannot size and seal the shared-memory segment");
    ::close(descriptor);
    return failed;
  }
  auto base = mapSegment(descriptor);
  if (!base) {
    ::close(descriptor);
    return base.status();
  }
  new (*base) SegmentHeader{kSegmentMagic, kSegmentVersion, 0, kShmRingBytes, {}};
  SharedSegment segment(descriptor, *base);
  for (auto direction : {RingDirection::kToServer, RingDirection::kToClient}) {
    resetRing(*new (&segment.control(direction)) RingControl);
  }
  return segment;
}

Result<SharedSegment> SharedSegment::adopt(int descriptor) {
  auto refuse = [&](std::string why) -> Status {
    ::close(descriptor);
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "the shared-memory segment is unusable: " + why);
  };
  struct stat info {};
  if (::fstat(descriptor, &info) != 0 || !S_ISREG(info.st_mode)) return refuse("not a memory file");
  if (static_cast<std::uint64_t>(info.st_size) != kSegmentBytes) {
    return refuse(fmt::format("{} bytes where {} were expected", info.st_size, kSegmentBytes));
  }
  // Without the seals, the other side could shrink the file under this mapping and make every
  // access to it fault.
  int seals = ::fcntl(descriptor, F_GET_SEALS);
  if (seals < 0 || (static_cast<unsigned>(seals) & kRequiredSeals) != kRequiredSeals) return refuse("not sealed");
  auto base = mapSegment(descriptor);
  if (!base) {
    ::close(descriptor);
    return base.status();
  }
  SegmentHeader header;
  std::memcpy(&header, *base, sizeof(header));
  SharedSegment segment(descriptor, *base);
  if (header.magic != kSegmentMagic || header.version != kSegmentVersion || header.ringBytes != kShmRingBytes) {
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE,
                  fmt::format("the shared-memory segment has version {} and rings of {} bytes; this side speaks version "
                              "{} with {}",
                              header.version, header.ringBytes, kSegmentVersion, kShmRingBytes));
  }
  return segment;
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept : descriptor_(other.descriptor_), base_(other.base_) {
  other.descriptor_ = -1;
  other.base_ = nullptr;
}

SharedSegment::~SharedSegment() {
  if (base_ != nullptr) ::munmap(base_, kSegmentBytes);
  if (descriptor_ >= 0) ::close(descriptor_);
}

RingControl& SharedSegment::control(RingDirection direction) const {
  return *reinterpret_cast<RingControl*>(base_ + kControlOffset + static_cast<std::size_t>(direction) * sizeof(RingControl));
}

std::span<std::uint8_t> SharedSegment::data(RingDirection direction) const {
  return {base_ + kDataOffset + static_cast<std::size_t>(direction) * kShmRingBytes, kShmRingBytes};
}

}  // namespace fastgpu::protocol
