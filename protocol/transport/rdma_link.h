// The verbs-specific layer under the RDMA transport, kept thin (issue 11): one registered region
// of memory on each side, RDMA WRITEs into the peer's region that may carry a 32-bit immediate,
// and the immediates the peer sent, in order. Everything above it (rdma_connection.h, the rings
// of shared_ring.h) is shared with the shared-memory transport and tested on an in-process link
// (tests/protocol/fake_rdma_link.h); verbs_link.h is the one over libibverbs.
//
// Threading: write() from any thread (a connection's sender and receiver both write); one thread
// takes immediates; shutdown() from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

class RdmaLink {
 public:
  virtual ~RdmaLink() = default;

  // This side's registered region; the peer's has the same size.
  virtual std::span<std::uint8_t> memory() = 0;

  // Writes `bytes` of this side's region at `localOffset` into the peer's at `remoteOffset`
  // (RDMA WRITE), then, with `immediate`, tells the peer (RDMA WRITE WITH IMM: the peer sees the
  // immediate only once these bytes and every earlier write's are in its memory). `bytes` may be
  // 0 with an immediate. Returns once the link has taken the request; fails with kDisconnected
  // after shutdown or when the link broke.
  virtual Status write(std::uint64_t localOffset, std::uint64_t remoteOffset, std::uint32_t bytes,
                       std::optional<std::uint32_t> immediate) = 0;

  // The next immediate the peer sent, waiting for it (a bounded spin, then a sleep on the
  // completion channel). kDisconnected after shutdown() or when the link broke.
  virtual Result<std::uint32_t> nextImmediate() = 0;

  // Ends the link: blocked and later calls fail with kDisconnected. Idempotent.
  virtual void shutdown() = 0;
};

}  // namespace fastgpu::protocol
