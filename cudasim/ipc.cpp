#include "cudasim/ipc.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "cudasim/device.h"

namespace fastgpu::sim {

Result<int> openSharedMemfd(std::uint32_t pid, int fd, const std::string& name, std::uint64_t minimumBytes) {
  std::string path = fmt::format("/proc/{}/fd/{}", pid, fd);
  char target[256] = {};
  ssize_t length = readlink(path.c_str(), target, sizeof(target) - 1);
  std::string expected = fmt::format("/memfd:{} ", name);
  if (length <= 0 || std::string(target, static_cast<std::size_t>(length)).rfind(expected, 0) != 0) {
    return Status(CUDA_ERROR_INVALID_HANDLE, "what this IPC handle names is gone (freed, or its process ended)");
  }
  int opened = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (opened < 0) {
    return Status(CUDA_ERROR_INVALID_HANDLE, fmt::format("cannot open what this IPC handle names: {}", std::strerror(errno)));
  }
  struct stat status {};
  if (fstat(opened, &status) != 0 || static_cast<std::uint64_t>(status.st_size) < minimumBytes) {
    ::close(opened);
    return Status(CUDA_ERROR_INVALID_HANDLE, "what this IPC handle names is smaller than it says");
  }
  return opened;
}

namespace {

// The exporter's memfd, checked to be the one the handle names.
Result<int> openExported(const IpcMemHandleContents& handle) {
  return openSharedMemfd(handle.pid, handle.fd, fmt::format("cudasim-ipc-{}", handle.serial), handle.length);
}

}  // namespace

Result<IpcMemHandleContents> shareAllocation(Device& device, std::uint64_t base) {
  auto exported = device.memory().exportAllocation(base);
  if (!exported) return exported.status();
  IpcMemHandleContents contents;
  contents.pid = static_cast<std::uint32_t>(getpid());
  contents.fd = exported->fd;
  contents.serial = exported->serial;
  contents.bytes = device.memory().find(base)->size;
  contents.length = exported->length;
  return contents;
}

Result<std::uint64_t> IpcImports::open(const IpcMemHandleContents& handle, Device& device, std::uint64_t owner) {
  if (handle.magic != IpcMemHandleContents::kMagic) return Status(CUDA_ERROR_INVALID_VALUE, "not an IPC memory handle");
  if (handle.pid == static_cast<std::uint32_t>(getpid())) {
    return Status(CUDA_ERROR_INVALID_CONTEXT, "an IPC handle cannot be opened in the process that made it");
  }
  std::lock_guard lock(mutex_);
  auto key = std::pair{handle.pid, handle.serial};
  if (auto it = opened_.find(key); it != opened_.end()) {
    auto mapped = it->second.device->memory().find(it->second.base);
    if (mapped && mapped->imported && mapped->base == it->second.base) {
      ++it->second.references;
      return it->second.base;
    }
    opened_.erase(it);  // its context was destroyed, and the mapping with it
  }
  auto fd = openExported(handle);
  if (!fd) return fd.status();
  auto base = device.memory().mapImported(*fd, handle.bytes, handle.length, owner);
  ::close(*fd);  // the mapping keeps the memory
  if (!base) return base.status();
  opened_[key] = Opened{&device, *base, 1};
  return *base;
}

Status IpcImports::close(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  for (auto it = opened_.begin(); it != opened_.end(); ++it) {
    if (it->second.base != base) continue;
    if (--it->second.references > 0) return Status::ok();
    Status unmapped = it->second.device->memory().unmapImported(base);
    opened_.erase(it);
    return unmapped;
  }
  return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{:#x} is not memory opened through IPC", base));
}

}  // namespace fastgpu::sim
