// Calls on contexts: the client's primary contexts are virtualized on contexts of the session
// (DESIGN.md, decision 3); tenants never share a driver context.
#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "server/session.h"

namespace fastgpu::server {

namespace {

// A limit the client names, as the driver's enum only when it is one (a value outside the enum
// may not even be held in it).
Result<CUlimit> limitOf(std::uint32_t raw) {
  if (raw >= static_cast<std::uint32_t>(CU_LIMIT_MAX)) return Status(CUDA_ERROR_UNSUPPORTED_LIMIT, "no such limit");
  return static_cast<CUlimit>(raw);
}

}  // namespace

Status Session::executeContextCall(wire::Call::Reader call, Answer& answer) {
  SessionState& state = *state_;
  switch (call.which()) {
    case wire::Call::PRIMARY_RETAIN: {
      int device = call.getPrimaryRetain();
      if (auto existing = state.primaryOf(device)) {
        ++state.context(*existing)->retains;
        answer.setHandle(*existing);
        return Status::ok();
      }
      auto created = state.createContext(device, 0, true);
      if (!created) return created.status();
      answer.setHandle(*created);
      return Status::ok();
    }
    case wire::Call::PRIMARY_RELEASE: {
      auto existing = state.primaryOf(call.getPrimaryRelease());
      if (!existing) return Status(CUDA_ERROR_INVALID_CONTEXT, "primary context is not retained");
      if (--state.context(*existing)->retains > 0) return Status::ok();
      return state.destroyContext(*existing);
    }
    case wire::Call::PRIMARY_RESET: {
      auto existing = state.primaryOf(call.getPrimaryReset());
      return existing ? state.destroyContext(*existing) : Status::ok();
    }
    case wire::Call::PRIMARY_GET_STATE: {
      answer.setValues({0, state.primaryOf(call.getPrimaryGetState()) ? 1 : 0});
      return Status::ok();
    }
    case wire::Call::PRIMARY_SET_FLAGS:
      return Status::ok();  // scheduling flags of the virtualized primary context: a hint only
    case wire::Call::CONTEXT_CREATE: {
      auto created = state.createContext(call.getContextCreate().getDevice(), call.getContextCreate().getFlags(), false);
      if (!created) return created.status();
      answer.setHandle(*created);
      return Status::ok();
    }
    case wire::Call::CONTEXT_DESTROY: {
      SessionContext* context = state.context(call.getContextDestroy());
      if (context == nullptr || context->primary) return Status(CUDA_ERROR_INVALID_CONTEXT, "not a created context");
      return state.destroyContext(call.getContextDestroy());
    }
    case wire::Call::CONTEXT_SYNCHRONIZE: {
      if (std::uint64_t id = call.getContextSynchronize(); id != 0) {
        if (Status status = state.makeCurrent(id); !status) return status;
      }
      if (state.current() == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
      return driverResult(driver_.cuCtxSynchronize(), "cuCtxSynchronize");
    }
    case wire::Call::AWAIT_CONTEXT_WORK:
      return awaitContextWork();
    case wire::Call::GET_LIMIT: {
      auto which = limitOf(call.getGetLimit());
      if (!which) return which.status();
      auto value = state.limit(*which);
      if (!value) return value.status();
      answer.setValues({static_cast<std::int64_t>(*value)});
      return Status::ok();
    }
    case wire::Call::SET_LIMIT: {
      auto which = limitOf(call.getSetLimit().getLimit());
      if (!which) return which.status();
      return state.setLimit(*which, call.getSetLimit().getValue());
    }
    case wire::Call::PEER_QUERY: {
      auto query = call.getPeerQuery();
      int device = state.lease().physicalDevice(query.getDevice());
      int peer = state.lease().physicalDevice(query.getPeer());
      if (device < 0 || peer < 0) return Status(CUDA_ERROR_INVALID_DEVICE, "a device outside the session's view");
      int value = 0;
      CUresult result = query.getAttribute() < 0
                            ? driver_.cuDeviceCanAccessPeer(&value, device, peer)
                            : driver_.cuDeviceGetP2PAttribute(&value, static_cast<CUdevice_P2PAttribute>(query.getAttribute()),
                                                              device, peer);
      answer.setValues({value});
      return driverResult(result, query.getAttribute() < 0 ? "cuDeviceCanAccessPeer" : "cuDeviceGetP2PAttribute");
    }
    case wire::Call::TEXTURE1_D_LINEAR_MAX_WIDTH: {
      auto query = call.getTexture1DLinearMaxWidth();
      int device = state.lease().physicalDevice(query.getDevice());
      if (device < 0) return Status(CUDA_ERROR_INVALID_DEVICE, "a device outside the session's view");
      std::size_t elements = 0;
      CUresult result = driver_.cuDeviceGetTexture1DLinearMaxWidth(
          &elements, static_cast<CUarray_format>(query.getFormat()), query.getChannels(), device);
      answer.setValues({static_cast<std::int64_t>(elements)});
      return driverResult(result, "cuDeviceGetTexture1DLinearMaxWidth");
    }
    case wire::Call::VGPU_STATUS: {
      int device = state.lease().physicalDevice(static_cast<int>(call.getVgpuStatus()));
      if (device < 0) return Status(CUDA_ERROR_INVALID_DEVICE, "a device outside the session's view");
      auto snapshot = state.lease().snapshot();
      std::uint64_t total = snapshot.limitBytes;
      if (total == 0) {  // an open server: the GPU's memory
        std::size_t bytes = 0;
        if (CUresult result = driver_.cuDeviceTotalMem_v2(&bytes, device); result != CUDA_SUCCESS) {
          return driverResult(result, "cuDeviceTotalMem");
        }
        total = bytes;
      }
      auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now().time_since_epoch());
      std::vector<std::int64_t> values{static_cast<std::int64_t>(std::min(snapshot.heldBytes, total)),
                                       static_cast<std::int64_t>(total), snapshot.metered ? 1 : 0,
                                       static_cast<std::int64_t>(snapshot.gpuNanos), now.count()};
      for (const auto& process : snapshot.processes) {
        values.push_back(process.pid);
        values.push_back(static_cast<std::int64_t>(process.heldBytes));
      }
      answer.setValues(std::move(values));
      return Status::ok();
    }
    case wire::Call::PEER_ACCESS: {
      auto access = call.getPeerAccess();
      SessionContext* peer = state.context(access.getPeer());
      if (peer == nullptr) return Status(CUDA_ERROR_INVALID_CONTEXT, "not a context of this session");
      if (state.current() == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
      return access.getEnable() ? driverResult(driver_.cuCtxEnablePeerAccess(peer->real, 0), "cuCtxEnablePeerAccess")
                                : driverResult(driver_.cuCtxDisablePeerAccess(peer->real), "cuCtxDisablePeerAccess");
    }
    case wire::Call::STREAM_PRIORITY_RANGE: {
      int least = 0, greatest = 0;
      CUresult result = driver_.cuCtxGetStreamPriorityRange(&least, &greatest);
      answer.setValues({least, greatest});
      return driverResult(result, "cuCtxGetStreamPriorityRange");
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a context call");
  }
}

}  // namespace fastgpu::server
