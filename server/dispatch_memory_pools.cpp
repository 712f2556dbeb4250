// Calls of stream-ordered allocation: their arguments handed to the session's state
// (session_memory_pools.cpp), which checks them against what the session holds.
#include "server/session.h"

namespace fastgpu::server {
namespace {

Result<std::vector<std::pair<int, unsigned>>> accessList(capnp::List<std::int32_t>::Reader devices,
                                                          capnp::List<std::uint32_t>::Reader flags) {
  if (devices.size() != flags.size() || devices.size() > kMaxAccessDescriptors) {
    return Status(CUDA_ERROR_INVALID_VALUE, "access descriptors: devices and flags differ in number, or too many");
  }
  std::vector<std::pair<int, unsigned>> access;
  for (unsigned i = 0; i < devices.size(); ++i) access.emplace_back(devices[i], flags[i]);
  return access;
}

}  // namespace

Status Session::executePoolCall(wire::Call::Reader call, Answer& answer) {
  SessionState& state = *state_;
  auto handleOr = [&](Result<std::uint64_t> id) {
    if (!id) return id.status();
    answer.setHandle(*id);
    return Status::ok();
  };
  switch (call.which()) {
    case wire::Call::MEM_POOL_DEFAULT: return handleOr(state.defaultPool(call.getMemPoolDefault()));
    case wire::Call::MEM_POOL_CURRENT: return handleOr(state.currentPool(call.getMemPoolCurrent()));
    case wire::Call::MEM_POOL_SET_CURRENT:
      return state.setCurrentPool(call.getMemPoolSetCurrent().getDevice(), call.getMemPoolSetCurrent().getPool());
    case wire::Call::MEM_POOL_CREATE:
      return handleOr(state.createPool(call.getMemPoolCreate().getDevice(), call.getMemPoolCreate().getHandleTypes()));
    case wire::Call::MEM_POOL_DESTROY: return state.destroyPool(call.getMemPoolDestroy());
    case wire::Call::MEM_POOL_TRIM: return state.trimPool(call.getMemPoolTrim().getPool(), call.getMemPoolTrim().getValue());
    case wire::Call::MEM_POOL_SET_ATTRIBUTE: {
      auto a = call.getMemPoolSetAttribute();
      return state.setPoolAttribute(a.getPool(), static_cast<CUmemPool_attribute>(a.getAttribute()), a.getValue());
    }
    case wire::Call::MEM_POOL_GET_ATTRIBUTE: {
      auto a = call.getMemPoolGetAttribute();
      auto value = state.poolAttribute(a.getPool(), static_cast<CUmemPool_attribute>(a.getAttribute()));
      if (!value) return value.status();
      answer.setValues({static_cast<std::int64_t>(*value)});
      return Status::ok();
    }
    case wire::Call::MEM_POOL_SET_ACCESS: {
      auto a = call.getMemPoolSetAccess();
      auto access = accessList(a.getDevices(), a.getFlags());
      if (!access) return access.status();
      return state.setPoolAccess(a.getPool(), *access);
    }
    case wire::Call::MEM_POOL_GET_ACCESS: {
      auto flags = state.poolAccess(call.getMemPoolGetAccess().getPool(), call.getMemPoolGetAccess().getDevice());
      if (!flags) return flags.status();
      answer.setValues({static_cast<std::int64_t>(*flags)});
      return Status::ok();
    }
    case wire::Call::MEM_ALLOC_ASYNC: {
      auto a = call.getMemAllocAsync();
      auto where = stream(a.getStream(), a.getPerThread());
      if (!where) return where.status();
      // Captured: graph memory, charged to the quota until its graph and executables are gone.
      std::uint64_t capture = captureId(*where);
      if (capture != 0) {
        if (Status room = state.chargeCapturedNode(); !room) return room;
      }
      auto base = capture != 0 ? state.allocateInCapture(a.getBytes(), *where, capture)
                               : state.allocateAsync(a.getBytes(), a.getPool(), *where);
      if (!base) return base.status();
      answer.setValues({static_cast<std::int64_t>(*base)});
      return Status::ok();
    }
    case wire::Call::MEM_FREE_ASYNC: {
      auto f = call.getMemFreeAsync();
      auto where = stream(f.getStream(), f.getPerThread());
      if (!where) return where.status();
      if (state.isGraphMemory(f.getAddress())) {  // a free node when captured; its graph holds the memory
        if (capturing(*where)) {
          if (Status room = state.chargeCapturedNode(); !room) return room;
        }
        return driverResult(driver_.cuMemFreeAsync(f.getAddress(), *where), "cuMemFreeAsync (graph memory)");
      }
      return state.freeAsync(f.getAddress(), *where);
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a memory pool call");
  }
}

}  // namespace fastgpu::server
