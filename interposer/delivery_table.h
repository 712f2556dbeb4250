// Where the bytes of asynchronous device-to-host copies go: the client's side of
// server/pending_deliveries.h. A copy into pinned memory is posted with the next delivery id and
// returns at once; the bytes come with a later reply (the first one after the copy completed) and
// are written into the program's memory before that reply's call returns, so a program that
// synchronizes, or sees its event or stream complete, finds them in place.
//
// Not thread-safe: the Client guards it with its call mutex, so that ids reach the server in
// order and a reply's deliveries are written before the memory they go to can be freed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "cudaabi/result.h"
#include "protocol/call_kinds.h"
#include "protocol/schema/fastgpu.capnp.h"

namespace fastgpu::interposer {

class DeliveryTable {
 public:
  // The server's bounds: staying within them, a copy is never refused there.
  static constexpr std::size_t kMaxPending = protocol::kMaxPendingDeliveries;
  static constexpr std::uint64_t kMaxPendingBytes = protocol::kMaxPendingDeliveryBytes;

  // The id of a new delivery of `bytes` into `destination`; nullopt when the bounds are reached
  // (the caller copies synchronously instead).
  std::optional<std::uint64_t> add(void* destination, std::uint64_t bytes);
  // Whether a delivery into [base, base + bytes) is pending.
  bool anyInto(std::uintptr_t base, std::uint64_t bytes) const;
  // The memory [base, base + bytes) is going away: deliveries into it are dropped on arrival.
  void dropInto(std::uintptr_t base, std::uint64_t bytes);
  // The bytes a reply's deliveries carry (back to back after the reply's own bulk).
  static Result<std::uint64_t> bytesOf(capnp::List<wire::Delivery>::Reader deliveries);
  // Writes a reply's deliveries from `bytes`. A delivery nobody asked for, or of another size,
  // fails (the connection is then out of step).
  Status apply(capnp::List<wire::Delivery>::Reader deliveries, std::span<const std::uint8_t> bytes);

  bool empty() const { return pending_.empty(); }

 private:
  struct Pending {
    void* destination;  // null: dropped
    std::uint64_t bytes;
  };
  std::map<std::uint64_t, Pending> pending_;
  std::uint64_t pendingBytes_ = 0;
  std::uint64_t next_ = 1;
};

}  // namespace fastgpu::interposer
