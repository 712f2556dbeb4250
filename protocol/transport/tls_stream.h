// One TLS session over a connected TCP socket: bytes in and bytes out, encrypted and
// authenticated by OpenSSL. The framing above it is TlsConnection's; TlsRelay uses it directly.
//
// Threading: one thread may read while another writes (OpenSSL's calls on the session are
// serialized by a mutex; waiting for the socket, which is non-blocking, happens outside it).
// shutdown() may be called from any thread and wakes both.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "cudaabi/result.h"
#include "protocol/transport/tls_context.h"

namespace fastgpu::protocol {

// How long one read or write may wait: until a deadline for the whole call, and for at most
// `idle` without progress; either ends it with kFailed and CUDA_ERROR_TIMEOUT.
struct TlsWait {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::optional<std::chrono::milliseconds> idle;
};

class TlsStream {
 public:
  // Takes `fd` (a connected TCP socket; made non-blocking here; closed on failure too). A
  // client-side context checks the server's certificate against `serverName` (a DNS name or an
  // IP address); `peer` names the other end in messages ("tls://10.0.0.2:7600").
  static Result<std::shared_ptr<TlsStream>> open(std::shared_ptr<const TlsContext> context, int fd, std::string peer,
                                                 const std::string& serverName);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Runs the handshake if it has not run (the first read or write runs it too). A certificate
  // that does not verify, a peer that speaks no TLS or sends garbage fails with kFailed and a
  // reason; a peer that closes, with kDisconnected.
  Status handshake(const TlsWait& wait);
  // Reads at least one byte (at most `bytes`); kDisconnected when the peer has closed.
  Result<std::size_t> readSome(std::uint8_t* into, std::size_t bytes, const TlsWait& wait);
  // Writes every byte of `pieces`, small pieces gathered into records of up to 16 KiB, and
  // returns once they are all handed to the socket.
  Status writeAll(std::span<const iovec> pieces, const TlsWait& wait);
  // Tells the peer that nothing more comes (TLS close_notify), without waiting: best effort.
  void closeNotify();
  // Ends the connection in both directions; waits in progress and later calls fail with
  // kDisconnected. Idempotent.
  void shutdown();

  const std::string& peer() const { return peer_; }
  bool loopback() const { return loopback_; }
  // The subject of the certificate the peer presented ("CN=alice,O=team-a"), or "".
  std::string peerIdentity() const;

 private:
  TlsStream(std::shared_ptr<const TlsContext> context, int fd, std::string peer, SSL* ssl);

  // Runs `call` (an OpenSSL call that returns > 0 on success) until it succeeds, waiting for the
  // socket as OpenSSL asks. `what` names the operation in errors.
  template <typename Call>
  Status retry(const char* what, const TlsWait& wait, Call&& call);
  Status awaitSocket(short events, const char* what, const TlsWait& wait);
  Status writeBytes(const std::uint8_t* data, std::size_t bytes, const TlsWait& wait);
  // Sends what the write buffer holds.
  Status flush(const TlsWait& wait);

  const std::shared_ptr<const TlsContext> context_;
  const int fd_;
  const std::string peer_;
  const bool loopback_;
  std::atomic<bool> shutDown_{false};
  std::atomic<bool> handshaken_{false};
  mutable std::mutex mutex_;  // guards every call on ssl_
  SSL* const ssl_;            // owned
  std::unique_ptr<std::uint8_t[]> gather_;  // writing thread only: small pieces made one record
};

}  // namespace fastgpu::protocol
