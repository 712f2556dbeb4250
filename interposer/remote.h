// Helpers shared by the interposer's entry points (api_*.cpp).
#pragma once

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>

#include "cudaabi/log.h"
#include "interposer/runtime.h"

namespace fastgpu::interposer {

#define FASTGPU_REMOTE_EXPORT extern "C" __attribute__((visibility("default")))

// Runs an entry point's body with the connected client. No exception crosses the C boundary.
template <typename Body>
CUresult remoteEntry(const char* name, Body&& body) noexcept {
  try {
    Runtime& rt = runtime();
    Client* client = rt.client();
    if (client == nullptr) return rt.initError();
    return body(rt, *client);
  } catch (const std::bad_alloc&) {
    return CUDA_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    cudaabi::driverLogger().error("{} failed: {}", name, e.what());
    return CUDA_ERROR_UNKNOWN;
  } catch (...) {
    cudaabi::driverLogger().error("{} failed with an unknown exception", name);
    return CUDA_ERROR_UNKNOWN;
  }
}

// Posts an asynchronous call. Which calls are posted is protocol::expectsReply's rule alone; a
// call that gets a reply must be ask()ed, or the replies would fall out of step.
void post(Client& client, CallMessage& call, std::span<const std::uint8_t> bulk = {});
// Sends `call` and waits for the reply; a failed call becomes its Status.
Result<std::unique_ptr<ReplyMessage>> ask(Client& client, CallMessage& call, std::span<const std::uint8_t> bulk = {});
// The CUresult of an answered call. Synchronizing calls also report the deferred errors of
// asynchronous ones.
CUresult resultOf(Client& client, const Result<std::unique_ptr<ReplyMessage>>& reply, bool synchronizing);
// Copies and memsets: posted when the one rule gives them no reply (asynchronous ones), else
// asked as synchronizing calls. Returns what the caller returns.
CUresult sendInStreamOrder(Client& client, CallMessage& call, std::span<const std::uint8_t> bulk = {});
// A call whose only answer is its result.
CUresult askResult(Client& client, CallMessage& call, bool synchronizing = false,
                   std::span<const std::uint8_t> bulk = {});
// cuStreamSynchronize of stream `stream` (per-thread default stream when `perThread` and the id
// is null) in context `context`. `synchronizing` as for askResult: whether the wait reports the
// deferred errors of earlier asynchronous calls (a wait the program did not ask for does not).
// `thread`: the client thread whose per-thread default stream it is, when not the caller's.
CUresult synchronizeStream(Client& client, std::uint64_t context, std::uint64_t stream, bool perThread,
                           bool synchronizing, std::uint32_t thread = 0);
// The values of an answered call (empty on failure).
std::vector<std::int64_t> valuesOf(const ReplyMessage& reply);
// A query answered with one value: *answer gets it (0 if the reply has none) when the call
// succeeds, and is left alone when it fails.
template <typename T>
CUresult askValue(Client& client, CallMessage& call, T* answer) {
  auto reply = ask(client, call);
  if (!reply) return resultOf(client, reply, false);
  auto values = valuesOf(**reply);
  *answer = values.empty() ? T{} : static_cast<T>(values[0]);
  return CUDA_SUCCESS;
}

// A query answered with data: *answer gets its bytes (zero-filled past them, the excess dropped)
// when the call succeeds, and is left alone when it fails. For plain structures.
template <typename T>
CUresult askData(Client& client, CallMessage& call, T* answer) {
  auto reply = ask(client, call);
  if (!reply) return resultOf(client, reply, false);
  auto data = (*reply)->get().getData();
  *answer = T{};
  std::memcpy(answer, data.begin(), std::min<std::size_t>(data.size(), sizeof(T)));
  return CUDA_SUCCESS;
}

// The capture rules (capture_mirror.h) for work about to go to `stream`: a synchronous call is a
// potentially unsafe one and may not run on a capturing stream; `capturable` says whether the
// server can capture the work (copies of client memory and host functions it cannot). Returns
// CUDA_SUCCESS when the work may go.
CUresult captureCheck(Runtime& rt, CUstream stream, bool perThread, bool async, bool capturable);
// Host work of a capture on `stream`: `effect` (a host function) becomes a host point of the
// capture's graph (host_point_launches.h). CUDA_ERROR_NOT_FOUND when the stream is not capturing.
CUresult captureHostPoint(Runtime& rt, Client& client, CUstream stream, bool perThread, HostEffect effect);

// For a call that changes, clones or instantiates graph `graph`: CUDA_ERROR_NOT_SUPPORTED (`what`
// logged once) when it is a child graph borrowed for queries (cuGraphChildGraphNodeGetGraph), else
// CUDA_SUCCESS (the caller checks the rest).
CUresult refuseBorrowedGraph(Runtime& rt, std::uint64_t graph, const char* what);
// Where a stream belongs and whether it synchronizes with the legacy stream, for the capture
// mirror (a default stream: the current context, blocking).
std::pair<std::uint64_t, bool> traitsOf(Runtime& rt, CUstream stream);

// Launches and kernel nodes (api_launch.cpp): packs a kernel's parameters with the layout its load
// brought; describes a kernel node (function, geometry checked as a launch's, parameters).
CUresult packParameters(Runtime& rt, wire::Launch::Builder message, CUfunction function, void** params, void** extra);
CUresult describeKernelNode(Runtime& rt, wire::Launch::Builder message, CUfunction function, const unsigned (&grid)[3],
                            const unsigned (&block)[3], unsigned sharedBytes, void** params, void** extra);

// Shared with the private export tables.
CUresult retainPrimaryContext(CUcontext* context, CUdevice device);
CUresult loadModule(CUmodule* module, const void* image);

// Handles cross the API as pointers holding the server's ids.
template <typename Handle>
std::uint64_t idOf(Handle handle) {
  return reinterpret_cast<std::uintptr_t>(handle);
}
template <typename Handle>
Handle handleOf(std::uint64_t id) {
  return reinterpret_cast<Handle>(static_cast<std::uintptr_t>(id));
}

// What a NULL stream means to a _ptsz entry point: the per-thread default stream.
inline CUstream perThreadIfNull(CUstream stream) { return stream == nullptr ? CU_STREAM_PER_THREAD : stream; }

}  // namespace fastgpu::interposer
