// Transports: how frames travel between an interposer and fastgpu-server. An abstract interface
// with no data members, chosen at run time by the URL's scheme:
//
//   tcp://HOST:PORT    TCP (TCP_NODELAY), the default across machines
//   tls://HOST:PORT    TCP with TLS (OpenSSL): the server's certificate checked against HOST,
//                      optionally a client certificate
//   unix:///PATH       a Unix stream socket, for clients on the server's host (mode 0660; the
//                      peer's uid and pid in peer())
//   rdma://HOST:PORT   RDMA (libibverbs): a TCP bootstrap, then rings in registered memory
//                      (rdma.h; where a device exists)
//   loopback           an in-process pair (socketpair), for tests
//
// Threading: one thread may send while another receives on the same connection; two threads
// must not send (or receive) at once. shutdown() may be called from any thread and makes
// blocked calls return kDisconnected.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cudaabi/result.h"
#include "protocol/transport/tls_settings.h"

namespace fastgpu::protocol {

class RdmaLink;

class Connection {
 public:
  virtual ~Connection() = default;

  // Sends one frame whose payload is the concatenation of `parts` (a payload over
  // kMaxFrameBytes is refused). Blocks until the bytes are handed to the transport. A dead peer
  // gives kDisconnected.
  virtual Status send(std::span<const std::span<const std::uint8_t>> parts) = 0;
  Status send(std::span<const std::uint8_t> payload) {
    std::span<const std::uint8_t> parts[] = {payload};
    return send(parts);
  }

  // Receives the next frame into `payload` (resized; its capacity is reused). A closed
  // connection gives kDisconnected; a malformed frame gives kFailed, after which the connection
  // is unusable.
  virtual Status receive(std::vector<std::uint8_t>& payload) = 0;

  // From now on, a frame announcing more than `bytes` (at most kMaxFrameBytes) fails receive()
  // with kFailed before anything is allocated for it; the connection is then unusable. A server
  // keeps this small until the peer has logged in. Call from the receiving thread.
  virtual void setMaxFrameBytes(std::uint32_t bytes) = 0;

  // A receive() that has not got its whole frame by `deadline` fails with kFailed ("timed out");
  // nullopt: no deadline (the default). Bounds how long a slow or silent peer can hold a
  // receiving thread. Call from the receiving thread.
  virtual void setReceiveDeadline(std::optional<std::chrono::steady_clock::time_point> deadline) = 0;

  // From now on, a receive() that waits longer than `timeout` for the next bytes, or a send()
  // that cannot hand any bytes over for that long (the peer reads nothing), fails with kFailed
  // and CUDA_ERROR_TIMEOUT; nullopt: wait forever (the default). Unlike the deadline it costs
  // nothing per call (socket timeouts, set once): for telling a silent or stuck peer from an idle
  // one after login, where the peer sends heartbeats. Call before other threads use it.
  virtual void setIdleTimeout(std::optional<std::chrono::milliseconds> timeout) = 0;

  // Ends the connection in both directions; idempotent.
  virtual void shutdown() = 0;

  // Who is at the other end, for logs ("tcp://10.0.0.2:51234").
  virtual std::string peer() const = 0;
  // Who the peer proved to be: the subject of the certificate it presented over TLS
  // ("CN=alice,O=team-a"), or "" (no TLS, no certificate). Peer-chosen text: escape it for logs.
  virtual std::string peerIdentity() const { return ""; }
  // Whether the other end is on this host's loopback (or a socketpair): what is sent never
  // leaves the machine. A client warns before sending its token in clear anywhere else.
  virtual bool loopback() const = 0;

  // A descriptor of a stream socket that carries this connection's frames in clear from now on,
  // for the caller to hand to another process (a session worker); the caller owns it. A plain
  // socket gives its own descriptor and leaves this object inert (it neither shuts down nor
  // closes it any more); TLS gives one end of a socket pair and relays the other through TLS
  // until this object is destroyed. -1 when the transport cannot (no descriptor; out of
  // descriptors or threads). Call when no other thread uses the connection.
  virtual int detach() { return -1; }
  // Whether detach() gives a Unix socket whose other end is the peer itself (not a relay), so
  // that descriptors sent over it reach the peer: what moving a session onto shared memory needs.
  virtual bool passesDescriptors() const { return false; }
  // A descriptor poll() finds readable once the peer has sent something (or gone), for waiting
  // on this connection together with something else (shm_rendezvous.h); never read from it. -1
  // when the transport has none.
  virtual int pollDescriptor() const { return -1; }
  // The RDMA link under an rdma:// connection, for bulk copies by one-sided READ and WRITE
  // (rdma_link.h); it lives as long as the connection. Null on every other transport.
  virtual RdmaLink* rdmaLink() { return nullptr; }
};

class Listener {
 public:
  virtual ~Listener() = default;
  // Waits for the next connection. After close(), returns kDisconnected.
  virtual Result<std::unique_ptr<Connection>> accept() = 0;
  // Stops accepting; idempotent, callable from any thread.
  virtual void close() = 0;
  // The URL it listens on, with the port the system chose for port 0.
  virtual std::string url() const = 0;
};

struct ConnectOptions {
  // A peer that does not answer the connection (and, over TLS, the handshake) within it fails
  // with CUDA_ERROR_TIMEOUT ("timed out"); nullopt: the system's own bounds.
  std::optional<std::chrono::milliseconds> timeout;
  TlsClientSettings tls;  // for tls:// URLs
};

struct ListenOptions {
  TlsServerSettings tls;  // for tls:// URLs: a certificate and key are required
};

// Connects to a URL; fails with a message naming the URL and the reason: kDisconnected when
// nobody answers, kFailed when the TLS handshake fails (the server's certificate does not verify,
// the peer speaks no TLS).
Result<std::unique_ptr<Connection>> connect(std::string_view url, const ConnectOptions& options = {});
// Listens on a URL ("tcp://127.0.0.1:0" picks a free port). A tls:// listener's connections run
// their TLS handshake on their first receive, within its deadline: accept() never waits for a
// peer.
Result<std::unique_ptr<Listener>> listen(std::string_view url, const ListenOptions& options = {});
// A Connection over a connected stream socket that another process detached and passed here
// (taken over); `peer` names the other end for logs.
std::unique_ptr<Connection> adoptStream(int fd, std::string peer);
// A connected in-process pair.
std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> loopbackPair();

}  // namespace fastgpu::protocol
