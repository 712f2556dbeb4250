// A Connection through a shared-memory segment (same-host clients): frames travel through the
// segment's two rings (shared_ring.h), framed as over a socket. The Unix socket the segment came
// over stays open beside it, carrying nothing: its hang-up is how each end learns that the other
// is gone (killed or ended), at once, and on the client's side it brings the server's last words
// (why the server ended the session) after the worker is gone.
//
// Threading as every Connection: one sender and one receiver at a time; shutdown() from any
// thread. One watcher thread per connection waits on the socket (blocked, no CPU).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "protocol/transport/framed_connection.h"
#include "protocol/transport/shm_segment.h"

namespace fastgpu::protocol {

enum class ShmSide { kServer, kClient };

// Takes over `segment` and the connected Unix socket `socket` (closed on failure too).
Result<std::unique_ptr<Connection>> openShmConnection(SharedSegment segment, ShmSide side, int socket, std::string peer);

class ShmConnection final : public FramedConnection {
 public:
  ShmConnection(SharedSegment segment, ShmSide side, int socket, std::string peer);
  ~ShmConnection() override;
  ShmConnection(const ShmConnection&) = delete;
  ShmConnection& operator=(const ShmConnection&) = delete;

  using FramedConnection::send;
  Status receive(std::vector<std::uint8_t>& payload) override;
  void setIdleTimeout(std::optional<std::chrono::milliseconds> timeout) override { idleTimeout_ = timeout; }
  void shutdown() override;
  std::string peer() const override { return peer_; }
  bool loopback() const override { return true; }

 private:
  Status writeAll(std::span<iovec> pieces) override;
  Status readExactly(std::uint8_t* into, std::size_t bytes) override;
  // The watcher: waits for the socket to hang up (or carry anything), then ends the connection.
  void watchSocket();
  void end();
  // After the rings ended at a frame boundary, the client's side reads one last frame from the
  // socket, if the server sent one.
  Status receiveLastWords(std::vector<std::uint8_t>& payload);

  SharedSegment segment_;
  const ShmSide side_;
  const int socket_;
  const std::string peer_;
  RingProducer outbound_;
  RingConsumer inbound_;
  std::atomic<bool> ended_{false};
  std::atomic<bool> shutDown_{false};
  std::optional<std::chrono::milliseconds> idleTimeout_;  // set before other threads use it
  std::thread watcher_;  // last: started once everything it reads exists
};

}  // namespace fastgpu::protocol
