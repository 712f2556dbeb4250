// The RdmaLink over libibverbs (rdma-core): one reliable-connected queue pair per connection, set
// up over a connected TCP socket (the bootstrap: each side sends its QP number, PSN, GID, LID,
// region address, size and rkey, then both move their QP to RTS), for InfiniBand and RoCE (v2
// GIDs preferred). libibverbs.so.1 is loaded when first needed (dlopen), so that neither the
// server nor the interposer depends on it where no RDMA is used; the device's own provider comes
// with it. docs/rdma.md says how to run it.
//
// Environment: FASTGPU_RDMA_DEVICE (a device name, e.g. mlx5_0; default: the first whose port is
// active), FASTGPU_RDMA_PORT (default 1), FASTGPU_RDMA_GID_INDEX (default: a RoCE v2 GID on
// Ethernet ports, 0 on InfiniBand).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "protocol/transport/rdma_link.h"

namespace fastgpu::protocol {

// Whether RDMA can be used here: libibverbs loads and lists a device. "" when so, else why not
// (for the tests' and benchmarks' "skipped" lines).
std::string rdmaUnavailableReason();

// Sets up a link of `bytes` of registered memory (a power of two times two) with the peer at the
// other end of `socket` (connected; left open, not owned), which runs this too. Fails when the
// bootstrap does not finish by `deadline`, or with the verbs call and its error.
Result<std::unique_ptr<RdmaLink>> bootstrapVerbsLink(int socket, std::size_t bytes,
                                                     std::chrono::steady_clock::time_point deadline);

}  // namespace fastgpu::protocol
