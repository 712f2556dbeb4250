// The rdma transport's control path, for transport.cpp: rdma://HOST:PORT is TCP to HOST:PORT for
// the bootstrap (verbs_link.h), then frames over RDMA (rdma_connection.h) with the TCP socket kept
// for liveness. Internal to protocol/transport.
#pragma once

#include <memory>
#include <string_view>

#include "protocol/transport/transport.h"

namespace fastgpu::protocol {

inline constexpr std::string_view kRdmaScheme = "rdma://";
// Each ring of an RDMA connection, as a shared-memory connection's (kShmRingBytes).
inline constexpr std::size_t kRdmaRingBytes = 4 << 20;

Result<std::unique_ptr<Connection>> connectRdma(std::string_view url, const ConnectOptions& options);
// Its accept() runs the bootstrap with the peer (at most kRdmaBootstrapTimeout): a listener for
// tools and tests. fastgpu-server does not serve rdma:// yet (docs/rdma.md).
Result<std::unique_ptr<Listener>> listenRdma(std::string_view url);

}  // namespace fastgpu::protocol
