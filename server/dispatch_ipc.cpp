// Device memory shared between sessions of one vGPU (scheduler/ipc_exports.h): the driver's IPC
// handles stay on the server; a client's handle holds a token that only sessions of the exporter's
// vGPU can open. Opened memory is a range of the opening session (so copies and kernels may use
// it), charged to nobody but its owner, and cannot be freed there.
#include <cstring>

#include "server/session.h"

namespace fastgpu::server {

namespace {

// A client's handle: a magic, then the token; the rest is zero.
constexpr std::uint32_t kClientHandleMagic = 0x50494746;  // "FGIP"

std::array<std::uint8_t, 64> clientHandle(const scheduler::IpcToken& token) {
  std::array<std::uint8_t, 64> handle{};
  std::memcpy(handle.data(), &kClientHandleMagic, sizeof(kClientHandleMagic));
  std::memcpy(handle.data() + 8, token.data(), token.size());
  return handle;
}

Result<scheduler::IpcToken> tokenOf(capnp::Data::Reader handle) {
  std::uint32_t magic = 0;
  if (handle.size() != 64) return Status(CUDA_ERROR_INVALID_VALUE, "an IPC handle is 64 bytes");
  std::memcpy(&magic, handle.begin(), sizeof(magic));
  if (magic != kClientHandleMagic) return Status(CUDA_ERROR_INVALID_VALUE, "not an IPC memory handle of FastGPU");
  scheduler::IpcToken token{};
  std::memcpy(token.data(), handle.begin() + 8, token.size());
  return token;
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
      scheduler::DriverIpcHandle driverHandle{};
      std::memcpy(driverHandle.data(), real.reserved, driverHandle.size());
      auto token = exports->publish(id_, place, driverHandle, state.allocationBytes(base));
      if (!token) return token.status();
      auto handle = clientHandle(*token);
      answer.kind = Answer::Kind::kData;
      answer.data.assign(handle.begin(), handle.end());
      return Status::ok();
    }
    case wire::Call::IPC_OPEN_MEM_HANDLE: {
      auto token = tokenOf(call.getIpcOpenMemHandle());
      if (!token) return token.status();
      auto found = exports->find(*token, place);
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
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not an IPC call");
  }
}

}  // namespace fastgpu::server
