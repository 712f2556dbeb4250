// TLS test scaffolding: connected tls:// pairs, and a server end relayed as a worker gets it.
#pragma once

#include <gtest/gtest.h>
#include <memory>
#include <thread>
#include <utility>

#include "protocol/transport/tls_connection.h"
#include "protocol/transport/transport.h"
#include "tests/support/test_certificates.h"

namespace fastgpu::testing {

using ConnectionPair = std::pair<std::unique_ptr<protocol::Connection>, std::unique_ptr<protocol::Connection>>;

// A client connected over tls:// to a listener with `server` settings, and the server's end with
// its handshake run (its status in `serverHandshake`, when given). Either end may be null when
// its side failed.
inline ConnectionPair tlsPair(const protocol::TlsServerSettings& server, const protocol::TlsClientSettings& client,
                              Status* serverHandshake = nullptr, Status* clientConnect = nullptr) {
  auto listener = protocol::listen("tls://127.0.0.1:0", {server});
  EXPECT_TRUE(listener) << listener.status().message();
  if (!listener) return {};
  std::unique_ptr<protocol::Connection> accepted;
  std::thread acceptor([&] {
    auto connection = (*listener)->accept();
    if (!connection) return;
    Status handshake = dynamic_cast<protocol::TlsConnection&>(**connection)
                           .handshake(std::chrono::steady_clock::now() + std::chrono::seconds(10));
    if (serverHandshake != nullptr) *serverHandshake = handshake;
    accepted = std::move(*connection);
  });
  auto connected = protocol::connect((*listener)->url(), {std::chrono::seconds(10), client});
  if (clientConnect != nullptr) *clientConnect = connected.status();
  if (!connected) (*listener)->close();  // the acceptor may still wait for a connection
  acceptor.join();
  return {connected ? std::move(*connected) : nullptr, std::move(accepted)};
}

// The server's end as a session's worker gets it: a socket pair relayed through TLS.
class RelayedConnection final : public protocol::Connection {
 public:
  explicit RelayedConnection(std::unique_ptr<protocol::Connection> tls) : tls_(std::move(tls)) {
    int fd = tls_->detach();
    EXPECT_GE(fd, 0);
    plain_ = protocol::adoptStream(fd, "relayed " + tls_->peer());
  }
  ~RelayedConnection() override { plain_.reset(); }  // first: the relay then drains and ends

  using Connection::send;
  Status send(std::span<const std::span<const std::uint8_t>> parts) override { return plain_->send(parts); }
  Status receive(std::vector<std::uint8_t>& payload) override { return plain_->receive(payload); }
  void setMaxFrameBytes(std::uint32_t bytes) override { plain_->setMaxFrameBytes(bytes); }
  void setReceiveDeadline(std::optional<std::chrono::steady_clock::time_point> deadline) override {
    plain_->setReceiveDeadline(deadline);
  }
  void setIdleTimeout(std::optional<std::chrono::milliseconds> timeout) override { plain_->setIdleTimeout(timeout); }
  void shutdown() override { plain_->shutdown(); }
  std::string peer() const override { return plain_->peer(); }
  bool loopback() const override { return plain_->loopback(); }

 private:
  std::unique_ptr<protocol::Connection> tls_;  // the relay, once detached
  std::unique_ptr<protocol::Connection> plain_;
};

inline std::unique_ptr<protocol::Connection> relayed(std::unique_ptr<protocol::Connection> server) {
  return std::make_unique<RelayedConnection>(std::move(server));
}

}  // namespace fastgpu::testing
