// Which calls get a reply: the one rule both ends of a connection follow. A call that gets a
// reply ends its batch (the client waits for the answer); every other call is asynchronous and
// its errors are deferred to the next reply.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protocol/schema/fastgpu.capnp.h"

namespace fastgpu::protocol {

// Bulk copies travel in chunks of at most this many bytes per call (each way): a frame stays
// far below kMaxFrameBytes and transfer overlaps with copying on the other side.
inline constexpr std::uint64_t kMaxCopyChunkBytes = 8ULL << 20;
// Asynchronous copies to a client's pinned memory one session may have in flight (stageToHost):
// the client stays below both bounds, the server refuses what passes them.
inline constexpr std::size_t kMaxPendingDeliveries = 1024;
inline constexpr std::uint64_t kMaxPendingDeliveryBytes = 64ULL << 20;
// A code image larger than this is uploaded in parts of kMaxCopyChunkBytes (codeUpload), then
// loaded (codeLoadUploaded); a smaller one travels in its load call.
inline constexpr std::uint64_t kMaxInlineImageBytes = 32ULL << 20;

inline bool expectsReply(wire::Call::Reader call) {
  switch (call.which()) {
    case wire::Call::PRIMARY_SET_FLAGS:
    case wire::Call::MEM_FREE:
    case wire::Call::STREAM_DESTROY:
    case wire::Call::STREAM_WAIT_EVENT:
    case wire::Call::EVENT_DESTROY:
    case wire::Call::EVENT_RECORD:
    case wire::Call::FUNC_SET_ATTRIBUTE:
    case wire::Call::LAUNCH:
    case wire::Call::MEM_FREE_ASYNC:
    case wire::Call::STREAM_MEM_OPS:
    case wire::Call::GRAPH_LAUNCH:
    case wire::Call::GRAPH_EXEC_DESTROY:
    case wire::Call::GRAPH_DESTROY:
    case wire::Call::CAPTURE_HOST_NODE:
    case wire::Call::HOST_POINT_RELEASE:
    case wire::Call::WRITE_STAGED:
    case wire::Call::CODE_UPLOAD:
    case wire::Call::STAGE_TO_HOST:
      return false;
    case wire::Call::COPY:
      // Device-to-host copies return data; asynchronous ones to the device do not wait.
      return call.getCopy().getDst() == 0 || !call.getCopy().getAsync();
    case wire::Call::COPY2_D:
      return call.getCopy2D().getToHost() || !call.getCopy2D().getAsync();
    case wire::Call::MEMSET:
      return !call.getMemset().getAsync();
    case wire::Call::COPY_SHARED:
      return !call.getCopyShared().getAsync();
    case wire::Call::COPY_RDMA:
      return !call.getCopyRdma().getAsync();
    default:
      return true;
  }
}

// How many raw bytes follow a call in its frame (host bytes going to the server), 0 for none.
inline std::uint64_t inboundBulkBytes(wire::Call::Reader call) {
  if (call.isCopy() && call.getCopy().getSrc() == 0) return call.getCopy().getBytes();
  if (call.isWriteStaged()) return call.getWriteStaged().getBytes();
  if (call.isCodeUpload()) return call.getCodeUpload().getBytes();
  return 0;
}

}  // namespace fastgpu::protocol
