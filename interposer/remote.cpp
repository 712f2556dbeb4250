#include "interposer/remote.h"


#include "cudaabi/check.h"
#include "protocol/call_kinds.h"

namespace fastgpu::interposer {

void post(Client& client, CallMessage& call, std::span<const std::uint8_t> bulk) {
  FASTGPU_CHECK(!protocol::expectsReply(call.call().asReader()), "posting call {} that gets a reply",
                static_cast<int>(call.call().which()));
  // Not while another thread's replay may be held at a host point (host_point_launches.h).
  auto turn = runtime().hostPointLaunches().callTurn();
  client.post(call.builder(), bulk);
}

Result<std::unique_ptr<ReplyMessage>> ask(Client& client, CallMessage& call, std::span<const std::uint8_t> bulk) {
  FASTGPU_CHECK(protocol::expectsReply(call.call().asReader()), "asking call {} that gets no reply",
                static_cast<int>(call.call().which()));
  // Not while another thread's replay may be held at a host point (host_point_launches.h).
  auto turn = runtime().hostPointLaunches().callTurn();
  auto reply = client.call(call.builder(), bulk);
  if (!reply) return reply.status();
  auto result = static_cast<CUresult>((*reply)->get().getResult());
  if (result != CUDA_SUCCESS) {
    std::string message = (*reply)->get().getMessage().cStr();
    if (!message.empty()) cudaabi::driverLogger().debug("server: {}", message);
    return Status(result, message);
  }
  return reply;
}

CUresult resultOf(Client& client, const Result<std::unique_ptr<ReplyMessage>>& reply, bool synchronizing) {
  if (!reply) {
    if (reply.status().kind() == ErrorKind::kDisconnected) {
      cudaabi::driverLogger().error("{}", reply.status().message());
      // A session the server ended carries its reason's code (a kernel over its time limit:
      // CUDA_ERROR_LAUNCH_TIMEOUT); a lost connection has none.
      CUresult code = reply.code();
      return code != CUDA_ERROR_UNKNOWN && code != CUDA_SUCCESS ? code : CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    return reply.code();
  }
  if (synchronizing) {
    if (CUresult deferred = client.takeDeferredError(); deferred != CUDA_SUCCESS) return deferred;
  }
  return CUDA_SUCCESS;
}

CUresult askResult(Client& client, CallMessage& call, bool synchronizing, std::span<const std::uint8_t> bulk) {
  return resultOf(client, ask(client, call, bulk), synchronizing);
}

CUresult sendInStreamOrder(Client& client, CallMessage& call, std::span<const std::uint8_t> bulk) {
  if (!protocol::expectsReply(call.call().asReader())) {
    post(client, call, bulk);
    return CUDA_SUCCESS;
  }
  return askResult(client, call, true, bulk);
}

CUresult synchronizeStream(Client& client, std::uint64_t context, std::uint64_t stream, bool perThread,
                           bool synchronizing, std::uint32_t thread) {
  CallMessage call(context);
  if (thread != 0) call->setThread(thread);
  auto sync = call->initStreamSynchronize();
  sync.setStream(stream);
  sync.setPerThread(perThread);
  return askResult(client, call, synchronizing);
}

std::vector<std::int64_t> valuesOf(const ReplyMessage& reply) {
  std::vector<std::int64_t> values;
  if (reply.get().isValues()) {
    for (auto value : reply.get().getValues()) values.push_back(value);
  }
  return values;
}

CUresult refuseBorrowedGraph(Runtime& rt, std::uint64_t graph, const char* what) {
  return rt.isBorrowedGraph(graph) ? cudaabi::reportNotSupported(what) : CUDA_SUCCESS;
}

std::pair<std::uint64_t, bool> traitsOf(Runtime& rt, CUstream stream) {
  auto info = idOf(stream) > 2 ? rt.stream(idOf(stream)) : std::nullopt;
  if (!info) return {rt.currentContextId(), true};
  return {info->context, (info->flags & CU_STREAM_NON_BLOCKING) == 0};
}

CUresult captureCheck(Runtime& rt, CUstream stream, bool perThread, bool async, bool capturable) {
  CaptureMirror& captures = rt.captures();
  if (!captures.anyActive()) return CUDA_SUCCESS;
  auto key = CaptureMirror::keyOf(stream, perThread);
  if (!async) {
    if (CUresult result = captures.unsafeCall(); result != CUDA_SUCCESS) return result;
    if (CUresult result = captures.synchronizing(key); result != CUDA_SUCCESS) return result;
  }
  return captures.work(key, rt.currentContextId(), capturable);
}

}  // namespace fastgpu::interposer
