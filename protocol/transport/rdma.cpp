// See rdma.h.
#include "protocol/transport/rdma.h"

#include <unistd.h>

#include <chrono>

#include "protocol/transport/rdma_connection.h"
#include "protocol/transport/stream_connection.h"
#include "protocol/transport/tcp.h"
#include "protocol/transport/verbs_link.h"

namespace fastgpu::protocol {
namespace {

constexpr auto kRdmaBootstrapTimeout = std::chrono::seconds(10);

// "tcp://10.0.0.2:7600" <-> "rdma://10.0.0.2:7600".
std::string withScheme(std::string_view url, std::string_view from, std::string_view to) {
  return url.starts_with(from) ? std::string(to) + std::string(url.substr(from.size())) : std::string(url);
}

// The bootstrap over `socket` (taken over: closed on failure), then the connection.
Result<std::unique_ptr<Connection>> overRdma(int socket, std::string peer, std::chrono::steady_clock::time_point deadline) {
  if (socket < 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, "cannot take over the RDMA bootstrap socket");
  auto link = bootstrapVerbsLink(socket, 2 * kRdmaRingBytes, deadline);
  if (!link) {
    ::close(socket);
    return Status(link.status().kind(), link.status().code(), peer + ": " + link.status().message());
  }
  return openRdmaConnection(std::move(*link), socket, std::move(peer), socketPeerIsLoopback(socket));
}

class RdmaListener final : public Listener {
 public:
  explicit RdmaListener(std::unique_ptr<Listener> tcp) : tcp_(std::move(tcp)) {}

  Result<std::unique_ptr<Connection>> accept() override {
    auto accepted = tcp_->accept();
    if (!accepted) return accepted.status();
    std::string peer = withScheme((*accepted)->peer(), kTcpScheme, kRdmaScheme);
    return overRdma((*accepted)->detach(), std::move(peer), std::chrono::steady_clock::now() + kRdmaBootstrapTimeout);
  }
  void close() override { tcp_->close(); }
  std::string url() const override { return withScheme(tcp_->url(), kTcpScheme, kRdmaScheme); }

 private:
  const std::unique_ptr<Listener> tcp_;
};

}  // namespace

Result<std::unique_ptr<Connection>> connectRdma(std::string_view url, const ConnectOptions& options) {
  auto deadline = std::chrono::steady_clock::now() +
                  (options.timeout ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(*options.timeout)
                                   : std::chrono::duration_cast<std::chrono::steady_clock::duration>(kRdmaBootstrapTimeout));
  auto tcp = connectTcp(withScheme(url, kRdmaScheme, kTcpScheme), options.timeout);
  if (!tcp) return tcp.status();
  std::string peer = withScheme((*tcp)->peer(), kTcpScheme, kRdmaScheme);
  return overRdma((*tcp)->detach(), std::move(peer), deadline);
}

Result<std::unique_ptr<Connection>> moveOntoRdma(Connection& tcp, std::chrono::steady_clock::time_point deadline) {
  std::string peer = withScheme(tcp.peer(), kTcpScheme, kRdmaScheme);
  return overRdma(tcp.detach(), std::move(peer), deadline);
}

Result<std::unique_ptr<Listener>> listenRdma(std::string_view url) {
  auto tcp = listenTcp(withScheme(url, kRdmaScheme, kTcpScheme));
  if (!tcp) return tcp.status();
  return std::unique_ptr<Listener>(std::make_unique<RdmaListener>(std::move(*tcp)));
}

}  // namespace fastgpu::protocol
