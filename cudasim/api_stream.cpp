// Streams, events and host functions.
#include <chrono>

#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace fastgpu::sim {

Result<std::shared_ptr<Stream>> resolveStream(Driver& driver, CUstream handle, DefaultStream nullMeans) {
  if (handle == nullptr || handle == CU_STREAM_LEGACY || handle == CU_STREAM_PER_THREAD) {
    auto context = driver.requireCurrentContext();
    if (!context) return context.status();
    bool perThread = handle == CU_STREAM_PER_THREAD || (handle == nullptr && nullMeans == DefaultStream::kPerThread);
    return perThread ? (*context)->perThreadStream() : (*context)->legacyStream();
  }
  auto stream = driver.handles().find<Stream>(HandleKind::kStream, handle);
  if (!stream) return Status(CUDA_ERROR_INVALID_HANDLE, "unknown or destroyed stream");
  return stream;
}

}  // namespace fastgpu::sim

namespace {

template <typename Body>
CUresult withEvent(const char* name, CUevent handle, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto event = driver.handles().find<Event>(HandleKind::kEvent, handle);
    if (!event) return CUDA_ERROR_INVALID_HANDLE;
    return body(driver, *event);
  });
}

CUresult createStream(CUstream* handle, unsigned flags, int priority) {
  return driverEntry("cuStreamCreate", [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    if (handle == nullptr || (flags & ~static_cast<unsigned>(CU_STREAM_NON_BLOCKING)) != 0) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    // Priorities outside [-5, 0] are clamped, as CUDA does.
    auto stream = (*context)->createStream(flags, clampPriority(priority));
    driver.handles().add(HandleKind::kStream, stream);
    driver.own(**context, stream->handle());
    *handle = toHandle<CUstream>(stream->handle());
    return CUDA_SUCCESS;
  });
}

CUresult streamQuery(CUstream handle, DefaultStream nullMeans) {
  return withStream("cuStreamQuery", handle, nullMeans, [](Driver& driver, Stream& stream) {
    if (Status status = driver.captures().refuseIfCapturing(stream); !status) return fail(status);
    return stream.idle() ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
  });
}

CUresult streamSynchronize(CUstream handle, DefaultStream nullMeans) {
  return withStream("cuStreamSynchronize", handle, nullMeans, [](Driver& driver, Stream& stream) {
    if (Status status = driver.captures().refuseIfCapturing(stream); !status) return fail(status);
    stream.synchronize();
    driver.synchronized();
    return asyncError(stream.context());
  });
}

CUresult streamWaitEvent(CUstream handle, CUevent eventHandle, unsigned flags, DefaultStream nullMeans) {
  return withStream("cuStreamWaitEvent", handle, nullMeans, [&](Driver& driver, Stream& stream) {
    if ((flags & ~static_cast<unsigned>(CU_EVENT_WAIT_EXTERNAL)) != 0) return CUDA_ERROR_INVALID_VALUE;
    auto event = driver.handles().find<Event>(HandleKind::kEvent, eventHandle);
    if (!event) return CUDA_ERROR_INVALID_HANDLE;
    auto route = driver.captures().waitEvent(stream, *event, flags);
    if (!route) return fail(route);
    if (*route == Captures::Route::kCaptured) return CUDA_SUCCESS;
    Operation wait;
    // Waits for the record that is latest now; a never-recorded event is already complete.
    if (const auto& shared = event->shared()) {
      std::uint64_t generation = shared->newest();
      if (shared->isReached(generation)) return CUDA_SUCCESS;
      wait = Operation{Operation::Kind::kHostWork, [shared, generation] {
                         shared->waitFor(generation);
                         return CUDA_SUCCESS;
                       }, {}};
    } else if (auto record = event->lastRecord()) {
      wait.waitFor.push_back(std::move(record));
    }
    stream.context().enqueue(stream, std::move(wait));
    return CUDA_SUCCESS;
  });
}

CUresult eventRecord(CUevent eventHandle, CUstream handle, DefaultStream nullMeans) {
  return withStream("cuEventRecord", handle, nullMeans, [&](Driver& driver, Stream& stream) {
    auto event = driver.handles().find<Event>(HandleKind::kEvent, eventHandle);
    if (!event) return CUDA_ERROR_INVALID_HANDLE;
    if (event->contextHandle() != stream.context().handle()) return CUDA_ERROR_INVALID_HANDLE;
    auto route = driver.captures().recordEvent(stream, *event);
    if (!route) return fail(route);
    if (*route == Captures::Route::kCaptured) return CUDA_SUCCESS;
    Operation record{Operation::Kind::kHostWork, {}, {}};
    if (const auto& shared = event->shared()) {  // other processes see the record reached
      record.work = [shared, generation = shared->recordMade()] {
        shared->reached(generation);
        return CUDA_SUCCESS;
      };
    }
    event->setRecord(stream.context().enqueue(stream, std::move(record)));
    return CUDA_SUCCESS;
  });
}

CUresult launchHostFunc(CUstream handle, CUhostFn function, void* userData, DefaultStream nullMeans) {
  return withStream("cuLaunchHostFunc", handle, nullMeans, [&](Driver& driver, Stream& stream) {
    if (function == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto route = driver.captures().route(stream, CU_GRAPH_NODE_TYPE_HOST, [&] { return HostNode{function, userData}; });
    if (!route) return fail(route);
    if (*route == Captures::Route::kCaptured) return CUDA_SUCCESS;
    stream.context().enqueue(stream, hostOperation(function, userData));
    return CUDA_SUCCESS;
  });
}

CUresult addCallback(CUstream handle, CUstreamCallback callback, void* userData, unsigned flags,
                     DefaultStream nullMeans) {
  return withStream("cuStreamAddCallback", handle, nullMeans, [&](Driver& driver, Stream& stream) {
    if (callback == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    // Not capturable in CUDA (cuLaunchHostFunc is).
    if (Status status = driver.captures().refuseIfCapturing(stream); !status) return fail(status);
    CUstream reported = handle;
    Context& context = stream.context();
    Operation call{Operation::Kind::kHostWork, [callback, userData, reported, &context] {
                     callback(reported, context.errors().sticky(), userData);
                     return CUDA_SUCCESS;
                   }, {}};
    context.enqueue(stream, std::move(call));
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuStreamCreate(CUstream* handle, unsigned int flags) { return createStream(handle, flags, 0); }

FASTGPU_SIM_EXPORT CUresult cuStreamCreateWithPriority(CUstream* handle, unsigned int flags, int priority) {
  return createStream(handle, flags, priority);
}

FASTGPU_SIM_EXPORT CUresult cuStreamDestroy_v2(CUstream handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto stream = driver.handles().find<Stream>(HandleKind::kStream, handle);
    if (!stream) return CUDA_ERROR_INVALID_HANDLE;
    driver.handles().remove(stream->handle());
    driver.captures().streamDestroyed(*stream);
    // Queued work still completes (the stream drains before its worker ends), as in CUDA.
    stream->context().forgetStream(*stream);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuStreamDestroy(CUstream handle) { return cuStreamDestroy_v2(handle); }

namespace {

// The stream queries: `get` reads one property of the stream into *out.
template <typename T, typename Get>
CUresult queryStream(const char* name, CUstream handle, T* out, Get&& get) {
  return withStream(name, handle, DefaultStream::kLegacy, [&](Driver&, Stream& stream) {
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *out = get(stream);
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuStreamGetFlags(CUstream handle, unsigned int* flags) {
  return queryStream(__func__, handle, flags, [](Stream& s) { return s.flags(); });
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetFlags_ptsz(CUstream handle, unsigned int* flags) {
  return cuStreamGetFlags(perThreadIfNull(handle), flags);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetPriority(CUstream handle, int* priority) {
  return queryStream(__func__, handle, priority, [](Stream& s) { return s.priority(); });
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetPriority_ptsz(CUstream handle, int* priority) {
  return cuStreamGetPriority(perThreadIfNull(handle), priority);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCtx(CUstream handle, CUcontext* context) {
  return queryStream(__func__, handle, context, [](Stream& s) { return toHandle<CUcontext>(s.context().handle()); });
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCtx_ptsz(CUstream handle, CUcontext* context) {
  return cuStreamGetCtx(perThreadIfNull(handle), context);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCtx_v2(CUstream handle, CUcontext* context, CUgreenCtx* green) {
  if (green != nullptr) *green = nullptr;  // cudasim has no green contexts
  return cuStreamGetCtx(handle, context);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetCtx_v2_ptsz(CUstream handle, CUcontext* context, CUgreenCtx* green) {
  return cuStreamGetCtx_v2(perThreadIfNull(handle), context, green);
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetDevice(CUstream handle, CUdevice* device) {
  return queryStream(__func__, handle, device, [](Stream& s) { return s.context().device().ordinal(); });
}
FASTGPU_SIM_EXPORT CUresult cuStreamGetDevice_ptsz(CUstream handle, CUdevice* device) {
  return cuStreamGetDevice(perThreadIfNull(handle), device);
}

FASTGPU_SIM_EXPORT CUresult cuStreamQuery(CUstream handle) { return streamQuery(handle, DefaultStream::kLegacy); }
FASTGPU_SIM_EXPORT CUresult cuStreamQuery_ptsz(CUstream handle) { return streamQuery(handle, DefaultStream::kPerThread); }
FASTGPU_SIM_EXPORT CUresult cuStreamSynchronize(CUstream handle) {
  return streamSynchronize(handle, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream handle) {
  return streamSynchronize(handle, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuStreamWaitEvent(CUstream handle, CUevent event, unsigned int flags) {
  return streamWaitEvent(handle, event, flags, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream handle, CUevent event, unsigned int flags) {
  return streamWaitEvent(handle, event, flags, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuLaunchHostFunc(CUstream handle, CUhostFn function, void* userData) {
  return launchHostFunc(handle, function, userData, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuLaunchHostFunc_ptsz(CUstream handle, CUhostFn function, void* userData) {
  return launchHostFunc(handle, function, userData, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuStreamAddCallback(CUstream handle, CUstreamCallback callback, void* userData,
                                                unsigned int flags) {
  return addCallback(handle, callback, userData, flags, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuStreamAddCallback_ptsz(CUstream handle, CUstreamCallback callback, void* userData,
                                                     unsigned int flags) {
  return addCallback(handle, callback, userData, flags, DefaultStream::kPerThread);
}

// ---- events ----

FASTGPU_SIM_EXPORT CUresult cuEventCreate(CUevent* handle, unsigned int flags) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    constexpr unsigned kKnown = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
    if (handle == nullptr || (flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
    // An interprocess event must also disable timing.
    if ((flags & CU_EVENT_INTERPROCESS) != 0 && (flags & CU_EVENT_DISABLE_TIMING) == 0) return CUDA_ERROR_INVALID_VALUE;
    std::shared_ptr<SharedEventState> shared;
    if ((flags & CU_EVENT_INTERPROCESS) != 0) {
      auto made = SharedEventState::create();
      if (!made) return fail(made);
      shared = std::move(*made);
    }
    auto event = std::make_shared<Event>(flags, (*context)->handle(), std::move(shared));
    driver.handles().add(HandleKind::kEvent, event);
    driver.own(**context, event->handle());
    *handle = toHandle<CUevent>(event->handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuEventDestroy_v2(CUevent handle) {
  return withEvent(__func__, handle, [](Driver& driver, Event& event) {
    driver.handles().remove(event.handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuEventDestroy(CUevent handle) { return cuEventDestroy_v2(handle); }

FASTGPU_SIM_EXPORT CUresult cuEventRecord(CUevent event, CUstream stream) {
  return eventRecord(event, stream, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuEventRecord_ptsz(CUevent event, CUstream stream) {
  return eventRecord(event, stream, DefaultStream::kPerThread);
}
FASTGPU_SIM_EXPORT CUresult cuEventRecordWithFlags(CUevent event, CUstream stream, unsigned int flags) {
  if ((flags & ~static_cast<unsigned>(CU_EVENT_RECORD_EXTERNAL)) != 0) return CUDA_ERROR_INVALID_VALUE;
  return eventRecord(event, stream, DefaultStream::kLegacy);
}
FASTGPU_SIM_EXPORT CUresult cuEventRecordWithFlags_ptsz(CUevent event, CUstream stream, unsigned int flags) {
  if ((flags & ~static_cast<unsigned>(CU_EVENT_RECORD_EXTERNAL)) != 0) return CUDA_ERROR_INVALID_VALUE;
  return eventRecord(event, stream, DefaultStream::kPerThread);
}

FASTGPU_SIM_EXPORT CUresult cuEventQuery(CUevent handle) {
  return withEvent(__func__, handle, [](Driver& driver, Event& event) {
    if (Status status = driver.captures().checkEventSynchronize(event); !status) return fail(status);
    if (const auto& shared = event.shared()) {
      return shared->isReached(shared->newest()) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
    }
    auto record = event.lastRecord();
    return !record || driver.progress().isDone(*record) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
  });
}

FASTGPU_SIM_EXPORT CUresult cuEventSynchronize(CUevent handle) {
  return withEvent(__func__, handle, [](Driver& driver, Event& event) {
    if (Status status = driver.captures().checkEventSynchronize(event); !status) return fail(status);
    if (const auto& shared = event.shared()) {
      shared->waitFor(shared->newest());
    } else if (auto record = event.lastRecord()) {
      driver.progress().wait(*record);
    }
    driver.synchronized();
    auto context = driver.findContext(toHandle<CUcontext>(event.contextHandle()));
    return context ? asyncError(*context) : CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuEventElapsedTime_v2(float* milliseconds, CUevent startHandle, CUevent endHandle) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (milliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto start = driver.handles().find<Event>(HandleKind::kEvent, startHandle);
    auto end = driver.handles().find<Event>(HandleKind::kEvent, endHandle);
    if (!start || !end) return CUDA_ERROR_INVALID_HANDLE;
    if (start->timingDisabled() || end->timingDisabled()) return CUDA_ERROR_INVALID_HANDLE;
    auto startRecord = start->lastRecord();
    auto endRecord = end->lastRecord();
    if (!startRecord || !endRecord) return CUDA_ERROR_INVALID_HANDLE;
    if (!driver.progress().isDone(*startRecord) || !driver.progress().isDone(*endRecord)) return CUDA_ERROR_NOT_READY;
    std::lock_guard lock(driver.progress().mutex());
    std::chrono::duration<float, std::milli> elapsed = endRecord->when - startRecord->when;
    *milliseconds = elapsed.count();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuEventElapsedTime(float* milliseconds, CUevent start, CUevent end) {
  return cuEventElapsedTime_v2(milliseconds, start, end);
}

FASTGPU_SIM_EXPORT CUresult cuStreamGetId(CUstream handle, unsigned long long* id) {
  return withStream(__func__, handle, DefaultStream::kLegacy, [&](Driver&, Stream& stream) {
    if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *id = stream.id();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuStreamGetId_ptsz(CUstream handle, unsigned long long* id) {
  return withStream(__func__, handle, DefaultStream::kPerThread, [&](Driver&, Stream& stream) {
    if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *id = stream.id();
    return CUDA_SUCCESS;
  });
}
