// Device memory and events shared between sessions of one vGPU (scheduler/ipc_exports.h): the
// driver's IPC handles stay on the server; a client's handle holds a token that only sessions of
// the exporter's vGPU can open. Opened memory is a range of the opening session (so copies and
// kernels may use it), charged to nobody but its owner, and cannot be freed there. An opened event
// is an event of the opening session like any other.
//
// Physical allocations of virtual memory management shared as POSIX descriptors
// (cuMemExportToShareableHandle): the exporting worker keeps the driver's descriptor and publishes
// where it is (its process, descriptor number, and the file's identity); an importing worker of
// the same vGPU takes its own copy of that descriptor (reopening it through /proc, or with
// pidfd_getfd where it cannot be reopened), checks it is the same file, and imports it. Imported
// memory is charged to its exporter only. Memory pools made shareable travel the same way, and
// their allocations' exports (cuMemPoolExportPointer) are published like IPC handles
// (session_pool_sharing.cpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "server/session.h"

namespace fastgpu::server {

namespace {

// A client's handle: a magic (which kind it shares), then the token; the rest is zero.
constexpr std::uint32_t kMemoryHandleMagic = 0x50494746;  // "FGIP"
constexpr std::uint32_t kEventHandleMagic = 0x45494746;   // "FGIE"
constexpr std::uint32_t kPhysicalHandleMagic = 0x58504746;  // "FGPX"
constexpr std::uint32_t kPoolHandleMagic = 0x4c504746;      // "FGPL"
constexpr std::uint32_t kPoolPointerMagic = 0x50504746;     // "FGPP"

// Where an exported physical allocation's descriptor is, as the board publishes it.
struct PhysicalExport {
  std::int32_t pid = 0;
  std::int32_t fd = -1;
  std::int32_t gpu = -1;
  std::int32_t reserved = 0;
  std::uint64_t device = 0;  // the file's st_dev and st_ino: a reused descriptor number is refused
  std::uint64_t inode = 0;
  std::uint64_t bytes = 0;
};
static_assert(sizeof(PhysicalExport) <= sizeof(scheduler::DriverIpcHandle));

// This worker's own copy of descriptor `fd` of process `pid`, if it is still the file exported.
int copyDescriptor(const PhysicalExport& at) {
  int fd = -1;
  if (at.pid == getpid()) {
    fd = fcntl(at.fd, F_DUPFD_CLOEXEC, 0);
  } else {
    std::string path = "/proc/" + std::to_string(at.pid) + "/fd/" + std::to_string(at.fd);
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {  // a device's descriptor cannot be reopened: take a copy from its process
      int process = static_cast<int>(syscall(SYS_pidfd_open, at.pid, 0));
      if (process >= 0) {
        fd = static_cast<int>(syscall(SYS_pidfd_getfd, process, at.fd, 0));
        close(process);
      }
    }
  }
  struct stat info {};
  if (fd >= 0 && (fstat(fd, &info) != 0 || info.st_dev != at.device || info.st_ino != at.inode)) {
    close(fd);
    fd = -1;
  }
  return fd;
}

// How the board names descriptor `fd` of this worker (of device `gpu`, `bytes` of memory).
Result<scheduler::DriverIpcHandle> describeDescriptor(int fd, int gpu, std::uint64_t bytes) {
  struct stat info {};
  if (fstat(fd, &info) != 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, "the exported descriptor cannot be read");
  PhysicalExport where{getpid(), fd, gpu, 0, info.st_dev, info.st_ino, bytes};
  scheduler::DriverIpcHandle handle{};
  std::memcpy(handle.data(), &where, sizeof(where));
  return handle;
}

// The exporter's descriptor that the board names by `handle`, as this worker's own, with the
// device's ordinal in `state`'s view and what the board says of the export.
struct TakenDescriptor {
  int fd = -1;
  int ordinal = -1;
  PhysicalExport where;
};
Result<TakenDescriptor> takeDescriptor(const SessionState& state, const scheduler::DriverIpcHandle& handle) {
  PhysicalExport where;
  std::memcpy(&where, handle.data(), sizeof(where));
  int ordinal = -1;
  for (int i = 0; i < static_cast<int>(state.lease().devices().size()); ++i) {
    if (state.lease().physicalDevice(i) == where.gpu) ordinal = i;
  }
  if (ordinal < 0) return Status(CUDA_ERROR_INVALID_DEVICE, "the shared object's device is not in this session's view");
  int fd = copyDescriptor(where);
  if (fd < 0) {
    return Status(CUDA_ERROR_NOT_SUPPORTED,
                  "the exporter's descriptor cannot be taken (it is gone, or this host forbids pidfd_getfd)");
  }
  return TakenDescriptor{fd, ordinal, where};
}

void answerClientHandle(std::uint32_t magic, const scheduler::IpcToken& token, Answer& answer) {
  std::array<std::uint8_t, 64> handle{};
  std::memcpy(handle.data(), &magic, sizeof(magic));
  std::memcpy(handle.data() + 8, token.data(), token.size());
  answer.kind = Answer::Kind::kData;
  answer.data.assign(handle.begin(), handle.end());
}

Result<scheduler::IpcToken> tokenOf(capnp::Data::Reader handle, std::uint32_t expected) {
  std::uint32_t magic = 0;
  if (handle.size() != 64) return Status(CUDA_ERROR_INVALID_VALUE, "an IPC handle is 64 bytes");
  std::memcpy(&magic, handle.begin(), sizeof(magic));
  if (magic != expected) {
    return Status(CUDA_ERROR_INVALID_VALUE, expected == kEventHandleMagic ? "not an IPC event handle of FastGPU"
                                                                          : "not an IPC memory handle of FastGPU");
  }
  scheduler::IpcToken token{};
  std::memcpy(token.data(), handle.begin() + 8, token.size());
  return token;
}

template <typename Handle>
scheduler::DriverIpcHandle driverHandleOf(const Handle& real) {
  scheduler::DriverIpcHandle handle{};
  std::memcpy(handle.data(), real.reserved, handle.size());
  return handle;
}

}  // namespace

Status Session::executeIpcCall(wire::Call::Reader call, Answer& answer) {
  SessionState& state = *state_;
  scheduler::IpcExports* exports = state.lease().ipc();
  if (exports == nullptr) return Status(CUDA_ERROR_NOT_SUPPORTED, "this session cannot share memory (IPC)");
  int place = state.lease().vgpuPlace();
  switch (call.which()) {
    case wire::Call::IPC_GET_MEM_HANDLE: {
      std::uint64_t base = call.getIpcGetMemHandle();
      if (!state.isOwnAllocation(base)) {
        return Status(CUDA_ERROR_INVALID_VALUE, "only the start of an allocation of the session can be shared");
      }
      CUipcMemHandle real{};
      if (CUresult result = driver_.cuIpcGetMemHandle(&real, base); result != CUDA_SUCCESS) {
        return driverResult(result, "cuIpcGetMemHandle");
      }
      auto token = exports->publish(id_, place, scheduler::IpcKind::kMemory, driverHandleOf(real),
                                    state.allocationBytes(base));
      if (!token) return token.status();
      answerClientHandle(kMemoryHandleMagic, *token, answer);
      return Status::ok();
    }
    case wire::Call::IPC_OPEN_MEM_HANDLE: {
      auto token = tokenOf(call.getIpcOpenMemHandle(), kMemoryHandleMagic);
      if (!token) return token.status();
      auto found = exports->find(*token, place, scheduler::IpcKind::kMemory);
      if (!found) return found.status();
      if (found->session == id_) {
        return Status(CUDA_ERROR_INVALID_CONTEXT, "an IPC handle cannot be opened by the session that made it");
      }
      CUipcMemHandle real{};
      std::memcpy(real.reserved, found->handle.data(), found->handle.size());
      CUdeviceptr base = 0;
      CUresult result = driver_.cuIpcOpenMemHandle_v2(&base, real, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
      if (result != CUDA_SUCCESS) return driverResult(result, "cuIpcOpenMemHandle");
      state.opened(base, found->bytes);
      answer.setValues({static_cast<std::int64_t>(base), static_cast<std::int64_t>(found->bytes)});
      return Status::ok();
    }
    case wire::Call::IPC_CLOSE_MEM_HANDLE: {
      std::uint64_t base = call.getIpcCloseMemHandle();
      auto left = state.closedOpening(base);
      if (!left) return left.status();
      CUresult result = driver_.cuIpcCloseMemHandle(base);
      answer.setValues({*left});
      return driverResult(result, "cuIpcCloseMemHandle");
    }
    case wire::Call::MEM_EXPORT: {
      std::uint64_t id = call.getMemExport();
      auto shape = state.physicalShape(id);
      if (!shape) return shape.status();
      auto fd = state.exportDescriptor(id);
      if (!fd) return fd.status();
      auto handle = describeDescriptor(*fd, shape->second, shape->first);
      if (!handle) return handle.status();
      auto token = exports->publish(id_, place, scheduler::IpcKind::kPhysical, *handle, shape->first);
      if (!token) return token.status();
      state.published(id, *handle);
      answerClientHandle(kPhysicalHandleMagic, *token, answer);
      return Status::ok();
    }
    case wire::Call::MEM_IMPORT: {
      auto token = tokenOf(call.getMemImport(), kPhysicalHandleMagic);
      if (!token) return token.status();
      auto found = exports->find(*token, place, scheduler::IpcKind::kPhysical);
      if (!found) return found.status();
      auto taken = takeDescriptor(state, found->handle);
      if (!taken) return taken.status();
      auto id = state.importPhysical(taken->fd, taken->where.bytes, taken->where.gpu);
      close(taken->fd);  // the driver holds the memory now
      if (!id) return id.status();
      answer.setValues({static_cast<std::int64_t>(*id), taken->ordinal, static_cast<std::int64_t>(taken->where.bytes)});
      return Status::ok();
    }
    case wire::Call::MEM_POOL_EXPORT: {
      std::uint64_t id = call.getMemPoolExport();
      auto exported = state.exportPool(id);
      if (!exported) return exported.status();
      auto handle = describeDescriptor(exported->first, exported->second, 0);
      if (!handle) return handle.status();
      auto token = exports->publish(id_, place, scheduler::IpcKind::kPool, *handle, 0);
      if (!token) return token.status();
      state.poolPublished(id, *handle);
      answerClientHandle(kPoolHandleMagic, *token, answer);
      return Status::ok();
    }
    case wire::Call::MEM_POOL_IMPORT: {
      auto token = tokenOf(call.getMemPoolImport(), kPoolHandleMagic);
      if (!token) return token.status();
      auto found = exports->find(*token, place, scheduler::IpcKind::kPool);
      if (!found) return found.status();
      if (found->session == id_) return Status(CUDA_ERROR_INVALID_VALUE, "a pool is imported by other processes");
      auto taken = takeDescriptor(state, found->handle);
      if (!taken) return taken.status();
      auto id = state.importPool(taken->fd, taken->where.gpu);
      close(taken->fd);  // the driver holds the pool now
      if (!id) return id.status();
      answer.setHandle(*id);
      return Status::ok();
    }
    case wire::Call::MEM_POOL_EXPORT_POINTER: {
      std::uint64_t base = call.getMemPoolExportPointer();
      auto data = state.exportPoolPointer(base);
      if (!data) return data.status();
      auto token = exports->publish(id_, place, scheduler::IpcKind::kPoolPointer, *data, state.allocationBytes(base));
      if (!token) return token.status();
      state.pointerPublished(base, *data);
      answerClientHandle(kPoolPointerMagic, *token, answer);
      return Status::ok();
    }
    case wire::Call::MEM_POOL_IMPORT_POINTER: {
      auto request = call.getMemPoolImportPointer();
      auto token = tokenOf(request.getData(), kPoolPointerMagic);
      if (!token) return token.status();
      auto found = exports->find(*token, place, scheduler::IpcKind::kPoolPointer);
      if (!found) return found.status();
      auto base = state.importPoolPointer(request.getPool(), found->handle, found->bytes);
      if (!base) return base.status();
      answer.setValues({static_cast<std::int64_t>(*base), static_cast<std::int64_t>(found->bytes)});
      return Status::ok();
    }
    case wire::Call::IPC_GET_EVENT_HANDLE: {
      auto found = event(call.getIpcGetEventHandle());
      if (!found) return found.status();
      CUipcEventHandle real{};
      if (CUresult result = driver_.cuIpcGetEventHandle(&real, *found); result != CUDA_SUCCESS) {
        return driverResult(result, "cuIpcGetEventHandle");
      }
      auto token = exports->publish(id_, place, scheduler::IpcKind::kEvent, driverHandleOf(real), 0);
      if (!token) return token.status();
      answerClientHandle(kEventHandleMagic, *token, answer);
      return Status::ok();
    }
    case wire::Call::IPC_OPEN_EVENT_HANDLE: {
      auto token = tokenOf(call.getIpcOpenEventHandle(), kEventHandleMagic);
      if (!token) return token.status();
      auto found = exports->find(*token, place, scheduler::IpcKind::kEvent);
      if (!found) return found.status();
      if (found->session == id_) {
        return Status(CUDA_ERROR_INVALID_CONTEXT, "an IPC event handle cannot be opened by the session that made it");
      }
      if (Status room = state.roomFor(HandleKind::kEvent); !room) return room;
      CUipcEventHandle real{};
      std::memcpy(real.reserved, found->handle.data(), found->handle.size());
      CUevent opened = nullptr;
      if (CUresult result = driver_.cuIpcOpenEventHandle(&opened, real); result != CUDA_SUCCESS) {
        return driverResult(result, "cuIpcOpenEventHandle");
      }
      answer.setHandle(state.add(HandleKind::kEvent, opened, state.current()));
      return Status::ok();
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not an IPC call");
  }
}

}  // namespace fastgpu::server
