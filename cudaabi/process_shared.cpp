#include "cudaabi/process_shared.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "cudaabi/check.h"

namespace fastgpu {

Result<SharedRegion> SharedRegion::create(const char* name, std::size_t bytes) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("memfd_create: {}", std::strerror(errno)));
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    int error = errno;
    ::close(fd);
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("sizing shared memory: {}", std::strerror(error)));
  }
  return adopt(fd, bytes);
}

Result<SharedRegion> SharedRegion::adopt(int fd, std::size_t bytes) {
  struct stat info {};
  if (::fstat(fd, &info) != 0 || static_cast<std::size_t>(info.st_size) < bytes) {
    ::close(fd);
    return Status(CUDA_ERROR_INVALID_VALUE, "shared memory is missing or too small");
  }
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    int error = errno;
    ::close(fd);
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("mapping shared memory: {}", std::strerror(error)));
  }
  return SharedRegion(fd, data, bytes);
}

SharedRegion::SharedRegion(SharedRegion&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), data_(std::exchange(other.data_, nullptr)), bytes_(other.bytes_) {}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  if (this != &other) {
    this->~SharedRegion();
    fd_ = std::exchange(other.fd_, -1);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = other.bytes_;
  }
  return *this;
}

SharedRegion::~SharedRegion() {
  if (data_ != nullptr) ::munmap(data_, bytes_);
  if (fd_ >= 0) ::close(fd_);
}

ProcessMutex::ProcessMutex() {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&mutex_, &attributes);
  pthread_mutexattr_destroy(&attributes);
}

ProcessMutex::~ProcessMutex() { pthread_mutex_destroy(&mutex_); }

void ProcessMutex::lock() {
  int result = pthread_mutex_lock(&mutex_);
  // Its holder died: the state it guards was left between two short updates at worst.
  if (result == EOWNERDEAD) result = pthread_mutex_consistent(&mutex_);
  FASTGPU_CHECK(result == 0, "locking a process-shared mutex: {}", std::strerror(result));
}

void ProcessMutex::unlock() { pthread_mutex_unlock(&mutex_); }

void ChangeSignal::notify() {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  // Not FUTEX_PRIVATE: waiters live in other processes.
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&generation_), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void ChangeSignal::wait(std::uint32_t seen, std::optional<std::chrono::steady_clock::time_point> deadline) const {
  timespec until{};
  if (deadline) {
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch()).count();
    if (nanos < 0) nanos = 0;
    until.tv_sec = static_cast<time_t>(nanos / 1'000'000'000);
    until.tv_nsec = static_cast<long>(nanos % 1'000'000'000);
  }
  // steady_clock is CLOCK_MONOTONIC, the clock FUTEX_WAIT_BITSET's absolute deadline uses.
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&generation_), FUTEX_WAIT_BITSET, seen,
            deadline ? &until : nullptr, nullptr, FUTEX_BITSET_MATCH_ANY);
}

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) && std::atomic<std::uint32_t>::is_always_lock_free,
              "the futex word must be a plain 32-bit word");

}  // namespace fastgpu
