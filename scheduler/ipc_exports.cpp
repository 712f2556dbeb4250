#include "scheduler/ipc_exports.h"

#include <sys/random.h>

#include <cerrno>
#include <mutex>

#include <fmt/format.h>

namespace fastgpu::scheduler {

namespace {

Result<IpcToken> randomToken() {
  IpcToken token{};
  std::size_t filled = 0;
  while (filled < token.size()) {
    ssize_t got = getrandom(token.data() + filled, token.size() - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, "getrandom failed");
    filled += static_cast<std::size_t>(got);
  }
  return token;
}

}  // namespace

Result<IpcToken> IpcExports::publish(std::uint64_t session, int vgpuPlace, IpcKind kind,
                                     const DriverIpcHandle& handle, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  Entry* free = nullptr;
  int mine = 0;
  for (Entry& entry : entries_) {
    if (entry.session == 0) {
      if (free == nullptr) free = &entry;
      continue;
    }
    if (entry.session != session) continue;
    if (entry.kind == kind && entry.handle == handle) return entry.token;
    ++mine;
  }
  if (mine >= kMaxPerSession) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("the session shares {} allocations and events, its limit", kMaxPerSession));
  }
  if (free == nullptr) return Status(CUDA_ERROR_OUT_OF_MEMORY, "the server's table of shared allocations and events is full");
  auto token = randomToken();
  if (!token) return token.status();
  *free = Entry{session, vgpuPlace, kind, *token, handle, bytes};
  return *token;
}

Result<IpcExports::Found> IpcExports::find(const IpcToken& token, int vgpuPlace, IpcKind kind) {
  std::lock_guard lock(mutex_);
  for (const Entry& entry : entries_) {
    if (entry.session == 0 || entry.token != token) continue;
    if (entry.vgpuPlace != vgpuPlace || entry.kind != kind) break;
    return Found{entry.handle, entry.bytes, entry.session};
  }
  return Status(CUDA_ERROR_INVALID_HANDLE, "not an IPC handle of this vGPU (or what it shared is gone)");
}

void IpcExports::withdrawSession(std::uint64_t session) {
  if (session == 0) return;
  std::lock_guard lock(mutex_);
  for (Entry& entry : entries_) {
    if (entry.session == session) entry = Entry{};
  }
}

void IpcExports::withdraw(IpcKind kind, const DriverIpcHandle& handle) {
  std::lock_guard lock(mutex_);
  for (Entry& entry : entries_) {
    if (entry.session != 0 && entry.kind == kind && entry.handle == handle) entry = Entry{};
  }
}

}  // namespace fastgpu::scheduler
