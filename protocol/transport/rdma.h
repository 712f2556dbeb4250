// The rdma transport's control path: rdma://HOST:PORT is TCP to HOST:PORT for the bootstrap
// (verbs_link.h), then frames over RDMA (rdma_connection.h) with the TCP socket kept for liveness.
// protocol::connect/listen use it for rdma:// URLs; a FastGPU session logs in over TCP first and
// then moves (moveOntoRdma: the interposer's client and the server's worker).
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "protocol/transport/transport.h"

namespace fastgpu::protocol {

inline constexpr std::string_view kRdmaScheme = "rdma://";
// Each ring of an RDMA connection, as a shared-memory connection's (kShmRingBytes).
inline constexpr std::size_t kRdmaRingBytes = 4 << 20;

Result<std::unique_ptr<Connection>> connectRdma(std::string_view url, const ConnectOptions& options);
// Its accept() runs the bootstrap with the peer (at most 10 s): a listener for tools and tests.
// A FastGPU session instead logs in over TCP first and then moves (moveOntoRdma).
Result<std::unique_ptr<Listener>> listenRdma(std::string_view url);

// Moves a logged-in session's TCP connection onto RDMA: the bootstrap over its socket (the peer
// runs this too), then frames by RDMA with the socket kept for liveness. `tcp` is left inert
// either way (detached: its socket belongs to the new connection, or is closed); a failure says
// why ("no RDMA device ...", the verbs call that failed).
Result<std::unique_ptr<Connection>> moveOntoRdma(Connection& tcp, std::chrono::steady_clock::time_point deadline);

}  // namespace fastgpu::protocol
