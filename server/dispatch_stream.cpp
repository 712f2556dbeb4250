// Calls on streams and events.
#include <cstring>
#include <vector>

#include "cudaabi/stream_attributes.h"
#include "server/session.h"

namespace fastgpu::server {

Result<CUstream> Session::stream(std::uint64_t id, bool perThread) {
  if (id == 0) return perThread ? perThreadStream() : static_cast<CUstream>(nullptr);
  if (id == reinterpret_cast<std::uintptr_t>(CU_STREAM_LEGACY)) return CU_STREAM_LEGACY;
  if (id == reinterpret_cast<std::uintptr_t>(CU_STREAM_PER_THREAD)) return perThreadStream();
  auto found = state_->find(HandleKind::kStream, id);
  if (!found) return found.status();
  return static_cast<CUstream>(*found);
}

CUstream Session::perThreadStream() {
  std::uint64_t context = state_->current();
  if (callThread_ == 0 || context == 0) return CU_STREAM_PER_THREAD;  // the driver answers for itself
  auto key = std::pair{context, callThread_};
  if (auto known = perThreadStreams_.find(key); known != perThreadStreams_.end()) {
    if (auto found = state_->find(HandleKind::kStream, known->second)) return static_cast<CUstream>(*found);
    perThreadStreams_.erase(known);  // its context was destroyed, and the stream with it
  }
  if (perThreadStreams_.size() >= kMaxPerThreadStreams || !state_->roomFor(HandleKind::kStream)) {
    return CU_STREAM_PER_THREAD;
  }
  // A per-thread default stream is a blocking stream: it synchronizes with the legacy stream.
  CUstream created = nullptr;
  if (driver_.cuStreamCreate(&created, CU_STREAM_DEFAULT) != CUDA_SUCCESS) return CU_STREAM_PER_THREAD;
  perThreadStreams_[key] = state_->add(HandleKind::kStream, created, context);
  return created;
}

Result<CUevent> Session::event(std::uint64_t id) {
  auto found = state_->find(HandleKind::kEvent, id);
  if (!found) return found.status();
  return static_cast<CUevent>(*found);
}

Status Session::streamAttribute(wire::Call::Reader call, Answer& answer) {
  bool setting = call.which() == wire::Call::STREAM_SET_ATTRIBUTE;
  auto request = setting ? call.getStreamSetAttribute() : call.getStreamGetAttribute();
  auto found = stream(request.getStream(), request.getPerThread());
  if (!found) return found.status();
  auto id = static_cast<CUstreamAttrID>(request.getAttribute().getId());
  if (!cudaabi::isStreamAttribute(id)) return Status(CUDA_ERROR_INVALID_VALUE, "not an attribute a stream carries");
  CUstreamAttrValue value{};
  if (!setting) {
    CUresult result = driver_.cuStreamGetAttribute(*found, id, &value);
    answer.kind = Answer::Kind::kData;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
    answer.data.assign(bytes, bytes + sizeof(value));
    return driverResult(result, "cuStreamGetAttribute");
  }
  auto bytes = request.getAttribute().getValue();
  if (bytes.size() > sizeof(value)) return Status(CUDA_ERROR_INVALID_VALUE, "a stream attribute's value is too large");
  std::memcpy(&value, bytes.begin(), bytes.size());
  if (CUresult invalid = cudaabi::checkStreamAttribute(id, value); invalid != CUDA_SUCCESS) {
    return Status(invalid, "an invalid stream attribute value");
  }
  if (id == CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW) {
    if (Status status = checkAccessPolicyWindow(value.accessPolicyWindow); !status) return status;
  }
  return driverResult(driver_.cuStreamSetAttribute(*found, id, &value), "cuStreamSetAttribute");
}

Status Session::checkAccessPolicyWindow(const CUaccessPolicyWindow& window) const {
  if (window.num_bytes == 0) return Status::ok();
  return state_->checkDeviceRange(reinterpret_cast<std::uintptr_t>(window.base_ptr), window.num_bytes);
}

Status Session::executeStreamCall(wire::Call::Reader call, Answer& answer) {
  SessionState& state = *state_;
  switch (call.which()) {
    case wire::Call::STREAM_CREATE: {
      if (Status room = state.roomFor(HandleKind::kStream); !room) return room;
      CUstream created = nullptr;
      CUresult result = driver_.cuStreamCreateWithPriority(&created, call.getStreamCreate().getFlags(),
                                                           call.getStreamCreate().getPriority());
      if (result != CUDA_SUCCESS) return driverResult(result, "cuStreamCreate");
      answer.setHandle(state.add(HandleKind::kStream, created, state.current()));
      return Status::ok();
    }
    case wire::Call::STREAM_DESTROY: {
      auto found = state.find(HandleKind::kStream, call.getStreamDestroy());
      if (!found) return found.status();
      state.remove(call.getStreamDestroy());
      return driverResult(driver_.cuStreamDestroy_v2(static_cast<CUstream>(*found)), "cuStreamDestroy");
    }
    case wire::Call::STREAM_QUERY: {
      auto found = stream(call.getStreamQuery().getStream(), call.getStreamQuery().getPerThread());
      if (!found) return found.status();
      CUresult result = driver_.cuStreamQuery(*found);
      return result == CUDA_ERROR_NOT_READY ? Status(result, "") : driverResult(result, "cuStreamQuery");
    }
    case wire::Call::STREAM_SYNCHRONIZE: {
      auto found = stream(call.getStreamSynchronize().getStream(), call.getStreamSynchronize().getPerThread());
      if (!found) return found.status();
      return driverResult(driver_.cuStreamSynchronize(*found), "cuStreamSynchronize");
    }
    case wire::Call::STREAM_WAIT_EVENT: {
      auto wait = call.getStreamWaitEvent();
      auto found = stream(wait.getStream(), wait.getPerThread());
      if (!found) return found.status();
      auto waited = event(wait.getEvent());
      if (!waited) return waited.status();
      return driverResult(driver_.cuStreamWaitEvent(*found, *waited, wait.getFlags()), "cuStreamWaitEvent");
    }
    case wire::Call::STREAM_MEM_OPS:
      return streamMemOps(call.getStreamMemOps());
    case wire::Call::STREAM_SET_ATTRIBUTE:
    case wire::Call::STREAM_GET_ATTRIBUTE:
      return streamAttribute(call, answer);
    case wire::Call::STREAM_COPY_ATTRIBUTES: {
      auto pair = call.getStreamCopyAttributes();
      auto destination = stream(pair.getDestination(), pair.getPerThread());
      if (!destination) return destination.status();
      auto source = stream(pair.getSource(), pair.getPerThread());
      if (!source) return source.status();
      return driverResult(driver_.cuStreamCopyAttributes(*destination, *source), "cuStreamCopyAttributes");
    }
    case wire::Call::RESET_PERSISTING_L2_CACHE:
      // The device's persisting lines are every tenant's; a session's set-aside is virtual
      // (SessionState::setLimit), so it has no lines of its own to reset.
      if (state.current() == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
      return Status::ok();
    case wire::Call::STREAM_GET_ID: {
      auto found = stream(call.getStreamGetId().getStream(), call.getStreamGetId().getPerThread());
      if (!found) return found.status();
      unsigned long long id = 0;
      CUresult result = driver_.cuStreamGetId(*found, &id);
      answer.setValues({static_cast<std::int64_t>(id)});
      return driverResult(result, "cuStreamGetId");
    }
    case wire::Call::EVENT_CREATE: {
      if (Status room = state.roomFor(HandleKind::kEvent); !room) return room;
      CUevent created = nullptr;
      CUresult result = driver_.cuEventCreate(&created, call.getEventCreate());
      if (result != CUDA_SUCCESS) return driverResult(result, "cuEventCreate");
      answer.setHandle(state.add(HandleKind::kEvent, created, state.current()));
      return Status::ok();
    }
    case wire::Call::EVENT_DESTROY: {
      auto found = event(call.getEventDestroy());
      if (!found) return found.status();
      state.remove(call.getEventDestroy());
      return driverResult(driver_.cuEventDestroy_v2(*found), "cuEventDestroy");
    }
    case wire::Call::EVENT_RECORD: {
      auto record = call.getEventRecord();
      auto found = event(record.getEvent());
      if (!found) return found.status();
      auto where = stream(record.getStream(), record.getPerThread());
      if (!where) return where.status();
      return driverResult(driver_.cuEventRecord(*found, *where), "cuEventRecord");
    }
    case wire::Call::EVENT_QUERY: {
      auto found = event(call.getEventQuery());
      if (!found) return found.status();
      CUresult result = driver_.cuEventQuery(*found);
      return result == CUDA_ERROR_NOT_READY ? Status(result, "") : driverResult(result, "cuEventQuery");
    }
    case wire::Call::EVENT_SYNCHRONIZE: {
      auto found = event(call.getEventSynchronize());
      if (!found) return found.status();
      return driverResult(driver_.cuEventSynchronize(*found), "cuEventSynchronize");
    }
    case wire::Call::EVENT_ELAPSED: {
      auto start = event(call.getEventElapsed().getStart());
      if (!start) return start.status();
      auto end = event(call.getEventElapsed().getEnd());
      if (!end) return end.status();
      float milliseconds = 0;
      CUresult result = driver_.cuEventElapsedTime_v2(&milliseconds, *start, *end);
      std::uint32_t bits;
      std::memcpy(&bits, &milliseconds, sizeof(bits));
      answer.setValues({bits});
      return result == CUDA_ERROR_NOT_READY ? Status(result, "") : driverResult(result, "cuEventElapsedTime");
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a stream call");
  }
}

// Stream memory operations: every address must lie in the session's own memory (the driver would
// write or wait on whatever it is given), at most 256 in a batch, as the driver allows.
Status Session::streamMemOps(wire::StreamMemOps::Reader request) {
  constexpr unsigned kMaxOps = 256;
  auto where = stream(request.getStream(), request.getPerThread());
  if (!where) return where.status();
  if (capturing(*where)) {
    if (Status room = state_->chargeCapturedNode(); !room) return room;
  }
  auto ops = request.getOps();
  if (ops.size() == 0 || ops.size() > kMaxOps) {
    return Status(CUDA_ERROR_INVALID_VALUE, "a batch of memory operations holds 1 to 256");
  }
  std::vector<CUstreamBatchMemOpParams> params(ops.size());
  for (unsigned i = 0; i < ops.size(); ++i) {
    auto op = ops[i];
    CUstreamBatchMemOpParams& p = params[i];
    p = CUstreamBatchMemOpParams{};
    if (op.getKind() == 2) {
      p.flushRemoteWrites.operation = CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES;
      continue;
    }
    unsigned bytes = op.getBytes();
    if ((bytes != 4 && bytes != 8) || op.getKind() > 1) {
      return Status(CUDA_ERROR_INVALID_VALUE, "a memory operation of unknown kind or width");
    }
    if (Status inside = state_->checkDeviceRange(op.getAddress(), bytes); !inside) return inside;
    bool wait = op.getKind() == 0;
    p.operation = wait ? (bytes == 4 ? CU_STREAM_MEM_OP_WAIT_VALUE_32 : CU_STREAM_MEM_OP_WAIT_VALUE_64)
                       : (bytes == 4 ? CU_STREAM_MEM_OP_WRITE_VALUE_32 : CU_STREAM_MEM_OP_WRITE_VALUE_64);
    auto fill = [&](auto& value) {
      value.operation = p.operation;
      value.address = op.getAddress();
      value.value64 = op.getValue();
      if (bytes == 4) value.value = static_cast<cuuint32_t>(op.getValue());
      value.flags = op.getFlags();
    };
    if (wait) {
      fill(p.waitValue);
    } else {
      fill(p.writeValue);
    }
  }
  return driverResult(driver_.cuStreamBatchMemOp_v2(*where, static_cast<unsigned>(params.size()), params.data(), 0),
                      "cuStreamBatchMemOp");
}

}  // namespace fastgpu::server
