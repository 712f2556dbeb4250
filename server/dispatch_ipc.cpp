// Device memory and events shared between sessions of one vGPU (scheduler/ipc_exports.h): the
// driver's IPC handles stay on the server; a client's handle holds a token that only sessions of
// the exporter's vGPU can open. Opened memory is a range of the opening session (so copies and
// kernels may use it), charged to nobody but its owner, and cannot be freed there. An opened event
// is an event of the opening session like any other.
#include <cstring>

#include "server/session.h"

namespace fastgpu::server {

namespace {

// A client's handle: a magic (which kind it shares), then the token; the rest is zero.
constexpr std::uint32_t kMemoryHandleMagic = 0x50494746;  // "FGIP"
constexpr std::uint32_t kEventHandleMagic = 0x45494746;   // "FGIE"

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
