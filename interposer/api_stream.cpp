// Streams, events and host functions. Creation and queries wait for the server; records, waits
// and destruction are posted.
#include <cstring>

#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

CUresult createStream(CUstream* stream, unsigned flags, int priority) {
  return remoteEntry("cuStreamCreate", [&](Runtime& rt, Client& client) {
    if (stream == nullptr || (flags & ~static_cast<unsigned>(CU_STREAM_NON_BLOCKING)) != 0) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto create = call->initStreamCreate();
    create.setFlags(flags);
    create.setPriority(priority);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    rt.addStream(id, StreamInfo{rt.currentContextId(), flags, std::clamp(priority, -5, 0)});
    *stream = handleOf<CUstream>(id);
    return CUDA_SUCCESS;
  });
}

template <typename Set>
CUresult streamCall(const char* name, CUstream stream, bool perThread, bool synchronizing, Set&& set) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    // Synchronizing or querying a capturing stream fails and invalidates its capture.
    CUresult refused = rt.captures().synchronizing(CaptureMirror::keyOf(stream, perThread));
    if (refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    set(call.call(), idOf(stream), perThread);
    return askResult(client, call, synchronizing);
  });
}

CUresult query(CUstream stream, bool perThread) {
  return streamCall("cuStreamQuery", stream, perThread, false, [](wire::Call::Builder call, std::uint64_t id, bool pt) {
    auto ref = call.initStreamQuery();
    ref.setStream(id);
    ref.setPerThread(pt);
  });
}

CUresult synchronize(CUstream stream, bool perThread) {
  return streamCall("cuStreamSynchronize", stream, perThread, true,
                    [](wire::Call::Builder call, std::uint64_t id, bool pt) {
                      auto ref = call.initStreamSynchronize();
                      ref.setStream(id);
                      ref.setPerThread(pt);
                    });
}

CUresult waitEvent(CUstream stream, CUevent event, unsigned flags, bool perThread) {
  return remoteEntry("cuStreamWaitEvent", [&](Runtime& rt, Client& client) {
    if (CUresult refused = captureCheck(rt, stream, perThread, true, true); refused != CUDA_SUCCESS) return refused;
    auto [context, blocking] = traitsOf(rt, stream);
    CUresult joined = rt.captures().waiting(CaptureMirror::keyOf(stream, perThread), idOf(event), flags, context, blocking);
    if (joined != CUDA_SUCCESS) return joined;
    CallMessage call(rt.currentContextId());
    auto wait = call->initStreamWaitEvent();
    wait.setStream(idOf(stream));
    wait.setEvent(idOf(event));
    wait.setFlags(flags);
    wait.setPerThread(perThread);
    post(client, call);
    return CUDA_SUCCESS;
  });
}

CUresult record(CUevent event, CUstream stream, bool perThread) {
  return remoteEntry("cuEventRecord", [&](Runtime& rt, Client& client) {
    if (event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (CUresult refused = captureCheck(rt, stream, perThread, true, true); refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    auto rec = call->initEventRecord();
    rec.setEvent(idOf(event));
    rec.setStream(idOf(stream));
    rec.setPerThread(perThread);
    post(client, call);
    rt.captures().recorded(CaptureMirror::keyOf(stream, perThread), idOf(event));
    return CUDA_SUCCESS;
  });
}

}  // namespace

CUresult fastgpu::interposer::captureHostPoint(Runtime& rt, Client& client, CUstream stream, bool perThread,
                                               HostEffect effect) {
  auto key = CaptureMirror::keyOf(stream, perThread);
  auto state = rt.captures().state(key);
  if (!state) return CUDA_ERROR_NOT_FOUND;  // not capturing
  if (state->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  effect.point = rt.hostPointLaunches().nextPoint();
  if (CUresult refused = rt.captures().addEffect(key, effect); refused != CUDA_SUCCESS) return refused;
  CallMessage call(rt.currentContextId());
  auto ref = call->initCaptureHostNode();
  ref.setStream(idOf(stream));
  ref.setPerThread(perThread);
  ref.setPoint(effect.point);
  post(client, call);
  return CUDA_SUCCESS;
}

namespace {

// Host functions run in this process. TODO(perf): the stream is drained first (one round trip)
// and the function runs on the calling thread; a callback channel from the server would let the
// call return at once. Captured, one is a host point (host_point_launches.h).
CUresult hostFunction(CUstream stream, CUhostFn function, void* data, bool perThread) {
  if (function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Captured: the function runs here when a replay reaches its place in the server's graph.
  CUresult captured = remoteEntry("cuLaunchHostFunc", [&](Runtime& rt, Client& client) -> CUresult {
    HostEffect effect{.kind = HostEffect::Kind::kHostFunction, .function = function, .data = data};
    return captureHostPoint(rt, client, stream, perThread, std::move(effect));
  });
  if (captured != CUDA_ERROR_NOT_FOUND) return captured;
  CUresult result = synchronize(stream, perThread);
  if (result != CUDA_SUCCESS) return result;
  function(data);
  return CUDA_SUCCESS;
}

template <typename Get>
CUresult streamProperty(CUstream stream, Get&& get) {
  return remoteEntry("cuStreamGet", [&](Runtime& rt, Client&) -> CUresult {
    std::uint64_t id = idOf(stream);
    if (id <= 2) return get(StreamInfo{rt.currentContextId(), 0, 0});  // a default stream
    auto info = rt.stream(id);
    if (!info) return CUDA_ERROR_INVALID_HANDLE;
    return get(*info);
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuStreamCreate(CUstream* s, unsigned int flags) { return createStream(s, flags, 0); }
FASTGPU_REMOTE_EXPORT CUresult cuStreamCreateWithPriority(CUstream* s, unsigned int flags, int priority) {
  return createStream(s, flags, priority);
}

FASTGPU_REMOTE_EXPORT CUresult cuStreamDestroy_v2(CUstream stream) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (!rt.stream(idOf(stream))) return CUDA_ERROR_INVALID_HANDLE;
    rt.removeStream(idOf(stream));
    rt.captures().streamDestroyed(CaptureMirror::keyOf(stream, false));
    CallMessage call(rt.currentContextId());
    call->setStreamDestroy(idOf(stream));
    post(client, call);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuStreamQuery(CUstream s) { return query(s, false); }
FASTGPU_REMOTE_EXPORT CUresult cuStreamQuery_ptsz(CUstream s) { return query(s, true); }
FASTGPU_REMOTE_EXPORT CUresult cuStreamSynchronize(CUstream s) { return synchronize(s, false); }
FASTGPU_REMOTE_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream s) { return synchronize(s, true); }
FASTGPU_REMOTE_EXPORT CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) {
  return waitEvent(s, e, flags, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream s, CUevent e, unsigned int flags) {
  return waitEvent(s, e, flags, true);
}
FASTGPU_REMOTE_EXPORT CUresult cuLaunchHostFunc(CUstream s, CUhostFn fn, void* data) {
  return hostFunction(s, fn, data, false);
}
FASTGPU_REMOTE_EXPORT CUresult cuLaunchHostFunc_ptsz(CUstream s, CUhostFn fn, void* data) {
  return hostFunction(s, fn, data, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuStreamGetFlags(CUstream stream, unsigned int* flags) {
  return streamProperty(stream, [&](const StreamInfo& info) {
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *flags = info.flags;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuStreamGetPriority(CUstream stream, int* priority) {
  return streamProperty(stream, [&](const StreamInfo& info) {
    if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *priority = info.priority;
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuStreamGetCtx(CUstream stream, CUcontext* context) {
  return streamProperty(stream, [&](const StreamInfo& info) {
    if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *context = handleOf<CUcontext>(info.context);
    return CUDA_SUCCESS;
  });
}

// ---- events ----

FASTGPU_REMOTE_EXPORT CUresult cuEventCreate(CUevent* event, unsigned int flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (event == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setEventCreate(flags);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *event = handleOf<CUevent>((*reply)->get().getHandle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuEventDestroy_v2(CUevent event) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    call->setEventDestroy(idOf(event));
    post(client, call);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuEventRecord(CUevent e, CUstream s) { return record(e, s, false); }
FASTGPU_REMOTE_EXPORT CUresult cuEventRecord_ptsz(CUevent e, CUstream s) { return record(e, s, true); }
FASTGPU_REMOTE_EXPORT CUresult cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int) { return record(e, s, false); }
FASTGPU_REMOTE_EXPORT CUresult cuEventRecordWithFlags_ptsz(CUevent e, CUstream s, unsigned int) {
  return record(e, s, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuEventQuery(CUevent event) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (CUresult refused = rt.captures().eventSynchronizing(idOf(event)); refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    call->setEventQuery(idOf(event));
    return askResult(client, call);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuEventSynchronize(CUevent event) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (CUresult refused = rt.captures().eventSynchronizing(idOf(event)); refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    call->setEventSynchronize(idOf(event));
    return askResult(client, call, true);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuEventElapsedTime_v2(float* milliseconds, CUevent start, CUevent end) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (milliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto pair = call->initEventElapsed();
    pair.setStart(idOf(start));
    pair.setEnd(idOf(end));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.empty()) return CUDA_ERROR_UNKNOWN;
    auto bits = static_cast<std::uint32_t>(values[0]);
    std::memcpy(milliseconds, &bits, sizeof(bits));
    return CUDA_SUCCESS;
  });
}

namespace {

// The driver's id of a stream (unique among the streams of the server's process, as natively).
CUresult streamId(const char* name, CUstream stream, unsigned long long* id, bool perThread) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto ref = call->initStreamGetId();
    ref.setStream(idOf(stream));
    ref.setPerThread(perThread);
    return askValue(client, call, id);
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuStreamGetId(CUstream s, unsigned long long* id) { return streamId(__func__, s, id, false); }
FASTGPU_REMOTE_EXPORT CUresult cuStreamGetId_ptsz(CUstream s, unsigned long long* id) {
  return streamId(__func__, s, id, true);
}
