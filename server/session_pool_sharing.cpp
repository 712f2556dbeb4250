// Memory pools shared between sessions of one vGPU (cuMemPoolExportToShareableHandle and
// cuMemPoolExportPointer in one client process, the imports in another): each session has its own
// worker, so the driver's pool descriptor and pointer exports pass between workers as its IPC
// does (server/dispatch_ipc.cpp publishes them on the board under tokens). A pool's memory is
// charged to the session that made the pool alone: an imported pool allocates nothing and is
// charged nothing, and an imported allocation is a range of the importer, charged nothing, that
// the importer frees (which unmaps it there).
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "server/session_state.h"

namespace fastgpu::server {
namespace {

Status refused(const std::string& why) { return Status(CUDA_ERROR_INVALID_VALUE, why); }

}  // namespace

bool SessionState::isImportedPool(std::uint64_t id) const {
  auto it = sharedPools_.find(id);
  return it != sharedPools_.end() && it->second.imported;
}

Result<std::pair<int, int>> SessionState::exportPool(std::uint64_t id) {
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  auto shared = sharedPools_.find(id);
  if (shared == sharedPools_.end() || shared->second.imported) return refused("the pool was not made to be shared");
  if (shared->second.exportFd < 0) {
    int fd = -1;
    CUresult result = driver_.cuMemPoolExportToShareableHandle(&fd, *pool, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
    if (result != CUDA_SUCCESS) return Status(result, "cuMemPoolExportToShareableHandle failed");
    shared->second.exportFd = fd;
  }
  return std::pair{shared->second.exportFd, shared->second.gpu};
}

void SessionState::poolPublished(std::uint64_t id, const scheduler::DriverIpcHandle& handle) {
  if (auto it = sharedPools_.find(id); it != sharedPools_.end()) it->second.published = handle;
}

Result<std::uint64_t> SessionState::importPool(int fd, int gpu) {
  if (poolCharges_.size() + sharedPools_.size() >= kMaxPools) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("the session holds {} memory pools, its limit", kMaxPools));
  }
  CUmemoryPool pool = nullptr;
  CUresult result = driver_.cuMemPoolImportFromShareableHandle(
      &pool, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
  if (result != CUDA_SUCCESS) return Status(result, "cuMemPoolImportFromShareableHandle failed");
  std::uint64_t id = add(HandleKind::kPool, pool);
  sharedPools_[id] = SharedPool{true, gpu};
  return id;
}

Result<scheduler::DriverIpcHandle> SessionState::exportPoolPointer(std::uint64_t base) {
  auto range = ranges_.find(base);
  if (range == ranges_.end() || range->second.pool == 0 || isImportedPool(range->second.pool)) {
    return refused(fmt::format("{:#x} does not start an allocation of a pool of this session", base));
  }
  if (sharedPools_.count(range->second.pool) == 0) return refused("the allocation's pool was not made to be shared");
  CUmemPoolPtrExportData data{};
  if (CUresult result = driver_.cuMemPoolExportPointer(&data, base); result != CUDA_SUCCESS) {
    return Status(result, "cuMemPoolExportPointer failed");
  }
  scheduler::DriverIpcHandle handle{};
  static_assert(sizeof(data.reserved) == sizeof(handle));
  std::memcpy(handle.data(), data.reserved, handle.size());
  return handle;
}

void SessionState::pointerPublished(std::uint64_t base, const scheduler::DriverIpcHandle& handle) {
  pointerExports_[base] = handle;
}

Result<std::uint64_t> SessionState::importPoolPointer(std::uint64_t id, const scheduler::DriverIpcHandle& handle,
                                                      std::uint64_t bytes) {
  if (current_ == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  if (!isImportedPool(id)) return refused("allocations are taken in through an imported pool");
  CUmemPoolPtrExportData data{};
  std::memcpy(data.reserved, handle.data(), handle.size());
  CUdeviceptr base = 0;
  if (CUresult result = driver_.cuMemPoolImportPointer(&base, *pool, &data); result != CUDA_SUCCESS) {
    return Status(result, "cuMemPoolImportPointer failed");
  }
  ranges_.try_emplace(base, Range{bytes, current_, false, 0, 0, id});
  return base;
}

void SessionState::forgetSharedPool(std::uint64_t id) {
  auto it = sharedPools_.find(id);
  if (it == sharedPools_.end()) return;
  if (it->second.exportFd >= 0) {
    if (lease_->ipc() != nullptr) lease_->ipc()->withdraw(scheduler::IpcKind::kPool, it->second.published);
    ::close(it->second.exportFd);
  }
  sharedPools_.erase(it);
}

void SessionState::forgetPointerExport(std::uint64_t base) {
  auto it = pointerExports_.find(base);
  if (it == pointerExports_.end()) return;
  if (lease_->ipc() != nullptr) lease_->ipc()->withdraw(scheduler::IpcKind::kPoolPointer, it->second);
  pointerExports_.erase(it);
}

}  // namespace fastgpu::server
