#include "cudasim/ipc_event.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "cudasim/ipc.h"

namespace fastgpu::sim {

namespace {

constexpr std::size_t kPageBytes = 4096;
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared counters must be lock-free across processes");

std::string memfdName(std::uint64_t serial) { return fmt::format("cudasim-ipc-event-{}", serial); }

Result<void*> mapPage(int fd) {
  void* page = mmap(nullptr, kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (page == MAP_FAILED) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot map an interprocess event: {}", std::strerror(errno)));
  }
  return page;
}

}  // namespace

Result<std::shared_ptr<SharedEventState>> SharedEventState::create() {
  static std::atomic<std::uint64_t> serials{0};
  std::uint64_t serial = ++serials;
  int fd = memfd_create(memfdName(serial).c_str(), MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, kPageBytes) != 0) {
    int error = errno;
    if (fd >= 0) ::close(fd);
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("cannot make an interprocess event: {}", std::strerror(error)));
  }
  auto page = mapPage(fd);
  if (!page) {
    ::close(fd);
    return page.status();
  }
  return std::shared_ptr<SharedEventState>(new SharedEventState(fd, serial, new (*page) Page{}));
}

Result<std::shared_ptr<SharedEventState>> SharedEventState::open(const IpcEventHandleContents& handle) {
  if (handle.magic != IpcEventHandleContents::kMagic) return Status(CUDA_ERROR_INVALID_VALUE, "not an IPC event handle");
  if (handle.pid == static_cast<std::uint32_t>(getpid())) {
    return Status(CUDA_ERROR_INVALID_CONTEXT, "an IPC event handle cannot be opened in the process that made it");
  }
  auto fd = openSharedMemfd(handle.pid, handle.fd, memfdName(handle.serial), kPageBytes);
  if (!fd) return fd.status();
  auto page = mapPage(*fd);
  if (!page) {
    ::close(*fd);
    return page.status();
  }
  return std::shared_ptr<SharedEventState>(new SharedEventState(*fd, handle.serial, static_cast<Page*>(*page)));
}

SharedEventState::~SharedEventState() {
  munmap(page_, kPageBytes);
  ::close(fd_);
}

IpcEventHandleContents SharedEventState::handle() const {
  IpcEventHandleContents contents;
  contents.pid = static_cast<std::uint32_t>(getpid());
  contents.fd = fd_;
  contents.serial = serial_;
  return contents;
}

std::uint64_t SharedEventState::recordMade() { return page_->made.fetch_add(1) + 1; }

void SharedEventState::reached(std::uint64_t generation) {
  std::uint64_t now = page_->reached.load();
  while (now < generation && !page_->reached.compare_exchange_weak(now, generation)) {
  }
}

std::uint64_t SharedEventState::newest() const { return page_->made.load(); }

bool SharedEventState::isReached(std::uint64_t generation) const { return page_->reached.load() >= generation; }

void SharedEventState::waitFor(std::uint64_t generation) const {
  // Another process completes it: poll, briefly spinning, then sleeping a little at a time.
  for (int polls = 0; !isReached(generation); ++polls) {
    if (polls < 1000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

}  // namespace fastgpu::sim
