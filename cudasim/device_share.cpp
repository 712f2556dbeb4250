#include "cudasim/device_share.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>

#include <fmt/format.h>

namespace fastgpu::sim {
namespace {

constexpr std::uint64_t kMagic = 0x4653'4753'494d'0001;  // "FSGSIM", layout 1

struct SegmentLayout {
  std::uint64_t magic;
  std::uint64_t bytes;
  DeviceShare devices[kMaxDevices];
};

// When a process started (field 22 of /proc/PID/stat, in clock ticks since boot); 0 when gone.
std::uint64_t startTimeOf(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

// The process that created a group's segment removes its name when it exits (processes that
// have it mapped keep using it).
void removeAtExit(const std::string& name) {
  static std::string created;
  static struct Remover {
    ~Remover() {
      if (!created.empty()) ::shm_unlink(created.c_str());
    }
  } remover;
  created = name;
}

std::uint64_t myStartTime() {
  static const std::uint64_t mine = startTimeOf(::getpid());
  return mine;
}

}  // namespace

int DeviceShare::mine() {
  pid_t pid = ::getpid();
  int free = -1;
  for (int i = 0; i < holderEnd_; ++i) {
    if (holders_[i].pid == pid && holders_[i].startTime == myStartTime()) return i;
    if (holders_[i].pid == 0 && free < 0) free = i;
  }
  if (free < 0 && holderEnd_ < kMaxProcesses) free = holderEnd_++;
  if (free < 0) {
    forgetTheDead();
    for (int i = 0; i < holderEnd_ && free < 0; ++i) free = holders_[i].pid == 0 ? i : -1;
    if (free < 0) return -1;
  }
  holders_[free] = Holder{pid, myStartTime(), 0};
  return free;
}

void DeviceShare::forgetTheDead() {
  for (int i = 0; i < holderEnd_; ++i) {
    Holder& holder = holders_[i];
    if (holder.pid == 0 || holder.pid == ::getpid()) continue;
    bool alive = (::kill(holder.pid, 0) == 0 || errno == EPERM) && startTimeOf(holder.pid) == holder.startTime;
    if (!alive) holder = Holder{};
  }
}

bool DeviceShare::take(std::uint64_t bytes, std::uint64_t capacity) {
  std::lock_guard lock(memory_);
  auto total = [&] {
    std::uint64_t sum = 0;
    for (int i = 0; i < holderEnd_; ++i) sum += holders_[i].bytes;
    return sum;
  };
  std::uint64_t used = total();
  if (used > capacity || bytes > capacity - used) {
    forgetTheDead();  // only when full: it reads /proc
    used = total();
    if (used > capacity || bytes > capacity - used) return false;
  }
  int me = mine();
  if (me < 0) return false;
  holders_[me].bytes += bytes;
  return true;
}

void DeviceShare::giveBack(std::uint64_t bytes) {
  std::lock_guard lock(memory_);
  int me = mine();
  if (me >= 0) holders_[me].bytes -= std::min(bytes, holders_[me].bytes);
}

std::uint64_t DeviceShare::used() {
  std::lock_guard lock(memory_);
  forgetTheDead();
  std::uint64_t sum = 0;
  for (int i = 0; i < holderEnd_; ++i) sum += holders_[i].bytes;
  return sum;
}

Result<std::unique_ptr<DeviceShares>> DeviceShares::open() {
  const char* group = std::getenv("FASTGPU_SIM_SHARED");
  if (group == nullptr || *group == '\0') {
    // Zero-filled pages, laid out like a group's segment.
    void* mapping = ::mmap(nullptr, sizeof(SegmentLayout), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return Status(CUDA_ERROR_OUT_OF_MEMORY, "cannot map the device shares");
    auto* layout = new (mapping) SegmentLayout;
    return std::unique_ptr<DeviceShares>(new DeviceShares(mapping, sizeof(SegmentLayout), layout->devices));
  }
  std::string name = fmt::format("/fastgpu-sim-{}", group);
  if (name.size() > 200 || name.find('/', 1) != std::string::npos) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("FASTGPU_SIM_SHARED='{}' is not a usable name", group));
  }
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("FASTGPU_SIM_SHARED: shm_open {}: {}", name, std::strerror(errno)));
  }
  // One process lays the segment out; the others wait for it under the same lock.
  ::flock(fd, LOCK_EX);
  struct stat info {};
  ::fstat(fd, &info);
  bool created = info.st_size == 0;
  if (created && ::ftruncate(fd, sizeof(SegmentLayout)) != 0) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("FASTGPU_SIM_SHARED: sizing {}", name));
  }
  void* mapping = ::mmap(nullptr, sizeof(SegmentLayout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("FASTGPU_SIM_SHARED: mapping {}", name));
  }
  auto* layout = static_cast<SegmentLayout*>(mapping);
  if (created) {
    new (layout) SegmentLayout;  // default-initialized: the holders stay untouched zero pages
    layout->magic = kMagic;
    layout->bytes = sizeof(SegmentLayout);
  }
  bool fits = layout->magic == kMagic && layout->bytes == sizeof(SegmentLayout);
  ::flock(fd, LOCK_UN);
  ::close(fd);
  if (!fits) {
    ::munmap(mapping, sizeof(SegmentLayout));
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("FASTGPU_SIM_SHARED: {} has another layout", name));
  }
  if (created) removeAtExit(name);
  return std::unique_ptr<DeviceShares>(new DeviceShares(mapping, sizeof(SegmentLayout), layout->devices));
}

DeviceShares::~DeviceShares() {
  ::munmap(mapping_, bytes_);
}

}  // namespace fastgpu::sim
