// The verbs-specific layer under the RDMA transport, kept thin (issue 11): one registered region
// of memory on each side, RDMA WRITEs into the peer's region that may carry a 32-bit immediate,
// and the immediates the peer sent, in order; for bulk data, more of this process's memory
// registered on demand and one-sided READs and WRITEs between it and the peer's. Everything above it (rdma_connection.h, the rings
// of shared_ring.h) is shared with the shared-memory transport and tested on an in-process link
// (tests/protocol/fake_rdma_link.h); verbs_link.h is the one over libibverbs.
//
// Threading: write(), read(), writeTo(), registerMemory() and deregister() from any thread (a
// connection's sender and receiver both write); one thread takes immediates; shutdown() from any
// thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

// Memory of this process registered with a link (registerMemory): the NIC reads and writes it
// without the CPU, and its pages stay put until it is deregistered.
struct RdmaRegion {
  std::uint64_t id = 0;  // the link's name for it (deregister)
  std::uint8_t* data = nullptr;
  std::uint64_t bytes = 0;
  std::uint32_t remoteKey = 0;  // what the peer names it by; 0 when the peer may not touch it
};

// A place in the peer's registered memory: an address in the peer's process and the remote key of
// the registration that holds it (the peer sends both; the peer's NIC checks them).
struct RdmaPeerAddress {
  std::uint64_t address = 0;
  std::uint32_t key = 0;
};

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

  // Registers `memory` (this process's; it must outlive the registration). `peerMayAccess`: the
  // peer may READ and WRITE it through the region's remote key; else only this side's read() and
  // writeTo() use it. Fails with the verbs call's error (e.g. the locked-memory limit).
  virtual Result<RdmaRegion> registerMemory(std::span<std::uint8_t> memory, bool peerMayAccess) = 0;
  // Ends a registration. Its memory may be freed once this returns; a peer operation on it after
  // that fails on the peer's side (a remote access error: its link breaks).
  virtual void deregister(const RdmaRegion& region) = 0;

  // RDMA READ: `bytes` at `from` in the peer's memory into `into` at `offset`; returns once they
  // are here. A place the peer did not register for access (key, bounds) breaks the link
  // (kDisconnected), as it puts a queue pair in error; a local range outside `into` is refused
  // (kFailed, CUDA_ERROR_INVALID_VALUE) and the link goes on.
  virtual Status read(const RdmaRegion& into, std::uint64_t offset, RdmaPeerAddress from, std::uint32_t bytes) = 0;
  // RDMA WRITE: `bytes` of `from` at `offset` to `to` in the peer's memory; returns once they are
  // there (and `from` may be reused). Ordered before every later write() on the link: the peer
  // sees them before any later immediate. Errors as read()'s.
  virtual Status writeTo(const RdmaRegion& from, std::uint64_t offset, RdmaPeerAddress to, std::uint32_t bytes) = 0;

  // Ends the link: blocked and later calls fail with kDisconnected. Idempotent.
  virtual void shutdown() = 0;
};

}  // namespace fastgpu::protocol
