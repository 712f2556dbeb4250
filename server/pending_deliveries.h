// Asynchronous device-to-host copies into a client's pinned memory, on the server's side
// (stageToHost): each copies into a pinned buffer of the server's in stream order, with an event
// recorded after it, and its bytes leave with the first reply written after that event completed.
// The client's call returned at once; it finds the bytes in its memory when it learns that the
// stream's work is done (a synchronize, an event or stream query, any later reply).
//
// Bounded per session (kMaxPending deliveries, kMaxPendingBytes in flight): a client that asks for
// more gets CUDA_ERROR_OUT_OF_MEMORY (the client keeps below both and copies synchronously
// instead). Buffers are kept for reuse, as pinning memory is slow on a GPU host: at most
// kMaxPending of them, kMaxHeldBytes in all, each used for copies of more than half its size.
//
// Threading: the session's thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "cudaabi/driver_symbols.h"
#include "cudaabi/result.h"
#include "protocol/call_kinds.h"

namespace fastgpu::server {

class PendingDeliveries {
 public:
  static constexpr std::size_t kMaxPending = protocol::kMaxPendingDeliveries;
  static constexpr std::uint64_t kMaxPendingBytes = protocol::kMaxPendingDeliveryBytes;
  // Pinned memory a session's buffers hold, pending and spare: twice the bytes in flight, as a
  // buffer serves copies of more than half its size.
  static constexpr std::uint64_t kMaxHeldBytes = 2 * kMaxPendingBytes;
  // How many bytes of deliveries one reply carries at most (the rest follow on request).
  static constexpr std::uint64_t kMaxBytesPerReply = 16ULL << 20;

  explicit PendingDeliveries(const cudaabi::DriverTable& driver) : driver_(driver) {}
  ~PendingDeliveries() { clear(); }
  // Drops every delivery and frees every buffer (before the session's contexts go).
  void clear();
  PendingDeliveries(const PendingDeliveries&) = delete;
  PendingDeliveries& operator=(const PendingDeliveries&) = delete;

  // Queues delivery `id` (the session's next: 1, 2, 3, ...): `bytes` from device address `source`
  // (range-checked by the caller) on `stream`, in the current context. Fails with nothing queued.
  Status stage(std::uint64_t id, CUdeviceptr source, std::uint64_t bytes, CUstream stream);

  struct Collected {
    std::uint64_t id;
    std::uint64_t bytes;  // 0: the copy failed
  };
  // Delivery `id` could not be staged: the next reply says so (bytes 0), so that the client stops
  // waiting for it. Its error is the call's (deferred).
  void fail(std::uint64_t id);
  // Moves every delivery whose copy is done into `done` and its bytes onto `bulk` (up to
  // kMaxBytesPerReply of them). Returns whether completed ones were left for another reply.
  bool collect(std::vector<Collected>& done, std::vector<std::uint8_t>& bulk);

  // Waits until every pending copy is done (the client's memory they go to is going away).
  void finishAll();

 private:
  struct Buffer {
    void* host = nullptr;
    std::uint64_t capacity = 0;
  };
  struct Pending {
    std::uint64_t id;
    Buffer buffer;
    std::uint64_t bytes;
    CUevent done;
  };
  Result<Buffer> takeBuffer(std::uint64_t bytes);
  void giveBack(Buffer buffer);
  void freeOldestSpare();

  const cudaabi::DriverTable& driver_;
  std::deque<Pending> pending_;
  std::vector<Collected> failed_;  // at most kMaxPending
  std::vector<Buffer> spare_;      // at most kMaxPending
  std::uint64_t pendingBytes_ = 0;  // of the copies in pending_
  std::uint64_t heldBytes_ = 0;     // the capacity of the buffers in pending_ and spare_
  std::uint64_t nextId_ = 1;
};

}  // namespace fastgpu::server
