// A Connection over a connected stream socket (TCP or a Unix socketpair): the data path shared
// by the tcp and loopback transports. Owns the descriptor.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>

#include "protocol/transport/framed_connection.h"

namespace fastgpu::protocol {

class StreamConnection final : public FramedConnection {
 public:
  StreamConnection(int fd, std::string peer);
  ~StreamConnection() override;
  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;

  void setIdleTimeout(std::optional<std::chrono::milliseconds> timeout) override;
  void shutdown() override;
  std::string peer() const override { return peer_; }
  bool loopback() const override { return loopback_; }
  int detach() override;
  bool passesDescriptors() const override { return unixSocket_; }
  int pollDescriptor() const override { return fd_; }  // frames are read exactly: nothing is buffered

 private:
  Status writeAll(std::span<iovec> pieces) override;
  Status readExactly(std::uint8_t* into, std::size_t bytes) override;
  // Waits until the socket has bytes or the deadline passes (without a deadline: at once).
  Status awaitReadable();

  int fd_;  // -1 once detached
  const std::string peer_;
  const bool loopback_;
  const bool unixSocket_;
  std::atomic<bool> shutDown_{false};
  std::optional<std::chrono::milliseconds> idleTimeout_;  // set before other threads use it
};

// Whether a connected socket's peer is this host: a Unix socket, 127.0.0.0/8, ::1, ::ffff:127.x,
// or the very address the socket has here (a client that dialed one of the host's own
// addresses: the kernel routes that through loopback too).
bool socketPeerIsLoopback(int fd);

// Blocks until a socket that carries nothing while a memory transport works (shared memory,
// RDMA) hangs up, or carries anything: either way that transport is done (its watcher thread).
void awaitHangUp(int fd);

}  // namespace fastgpu::protocol
