// Calls of virtual memory management: their arguments handed to the session's state
// (session_virtual_memory.cpp), which checks them against what the session holds.
#include "server/session.h"

namespace fastgpu::server {

Status Session::executeVirtualMemoryCall(wire::Call::Reader call, Answer& answer) {
  SessionState& state = *state_;
  switch (call.which()) {
    case wire::Call::MEM_ADDRESS_RESERVE: {
      auto r = call.getMemAddressReserve();
      auto base = state.reserveAddresses(r.getSize(), r.getAlignment(), r.getHint());
      if (!base) return base.status();
      answer.setValues({static_cast<std::int64_t>(*base)});
      return Status::ok();
    }
    case wire::Call::MEM_ADDRESS_FREE:
      return state.freeAddresses(call.getMemAddressFree().getAddress(), call.getMemAddressFree().getSize());
    case wire::Call::MEM_CREATE: {
      auto create = call.getMemCreate();
      auto id = state.createPhysical(create.getDevice(), create.getSize(), create.getHandleTypes());
      if (!id) return id.status();
      answer.setHandle(*id);
      return Status::ok();
    }
    case wire::Call::MEM_RELEASE:
      return state.releasePhysical(call.getMemRelease());
    case wire::Call::MEM_MAP: {
      auto m = call.getMemMap();
      return state.mapPhysical(m.getAddress(), m.getSize(), m.getOffset(), m.getHandle());
    }
    case wire::Call::MEM_UNMAP:
      return state.unmapRange(call.getMemUnmap().getAddress(), call.getMemUnmap().getSize());
    case wire::Call::MEM_SET_ACCESS: {
      auto a = call.getMemSetAccess();
      if (a.getDevices().size() != a.getFlags().size() || a.getDevices().size() > kMaxAccessDescriptors) {
        return Status(CUDA_ERROR_INVALID_VALUE, "access descriptors: devices and flags differ in number, or too many");
      }
      std::vector<std::pair<int, unsigned>> access;
      for (unsigned i = 0; i < a.getDevices().size(); ++i) access.emplace_back(a.getDevices()[i], a.getFlags()[i]);
      return state.setAccess(a.getAddress(), a.getSize(), access);
    }
    case wire::Call::MEM_GRANULARITY: {
      auto bytes = state.granularity(call.getMemGranularity().getDevice(), call.getMemGranularity().getOption());
      if (!bytes) return bytes.status();
      answer.setValues({static_cast<std::int64_t>(*bytes)});
      return Status::ok();
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a virtual memory call");
  }
}

}  // namespace fastgpu::server
