// A Connection over TLS (tls:// URLs): FastGPU's frames inside a TLS stream. The client's end of
// a tls:// session, and the server's until login; then detach() hands the worker a socket pair
// and this object relays between the two (tls_relay.h) until it is destroyed.
//
// Threading: as Connection: one sending and one receiving thread at once.
#pragma once

#include <memory>
#include <optional>

#include "protocol/transport/framed_connection.h"
#include "protocol/transport/tls_relay.h"
#include "protocol/transport/tls_stream.h"

namespace fastgpu::protocol {

class TlsConnection final : public FramedConnection {
 public:
  explicit TlsConnection(std::shared_ptr<TlsStream> stream) : stream_(std::move(stream)) {}
  // Ends the relay, if detach() started one (see TlsRelay's destructor), and the connection.
  ~TlsConnection() override;

  // Runs the TLS handshake now (a client does so at connect, to fail there when the server's
  // certificate does not verify); otherwise the first send or receive runs it, bounded by its
  // deadline or idle timeout.
  Status handshake(std::optional<std::chrono::steady_clock::time_point> deadline) {
    return stream_->handshake({deadline, idleTimeout_});
  }

  void setIdleTimeout(std::optional<std::chrono::milliseconds> timeout) override { idleTimeout_ = timeout; }
  void shutdown() override { stream_->shutdown(); }
  std::string peer() const override { return stream_->peer(); }
  bool loopback() const override { return stream_->loopback(); }
  std::string peerIdentity() const override { return stream_->peerIdentity(); }
  // A socket pair's end that carries this connection's frames in clear; this object relays it
  // through TLS from now on. -1 (the connection unchanged) when no pair or thread can be made.
  int detach() override;

 private:
  Status writeAll(std::span<iovec> pieces) override;
  Status readExactly(std::uint8_t* into, std::size_t bytes) override;

  const std::shared_ptr<TlsStream> stream_;
  std::optional<std::chrono::milliseconds> idleTimeout_;  // set before other threads use it
  std::unique_ptr<TlsRelay> relay_;                       // once detached
};

}  // namespace fastgpu::protocol
