// A Connection over a connected stream socket (TCP or a Unix socketpair): the data path shared
// by the tcp and loopback transports. Owns the descriptor.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>

#include "protocol/transport/transport.h"

namespace fastgpu::protocol {

class StreamConnection final : public Connection {
 public:
  StreamConnection(int fd, std::string peer);
  ~StreamConnection() override;
  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;

  using Connection::send;
  Status send(std::span<const std::span<const std::uint8_t>> parts) override;
  Status receive(std::vector<std::uint8_t>& payload) override;
  void setMaxFrameBytes(std::uint32_t bytes) override { maxFrameBytes_ = bytes; }
  void setReceiveDeadline(std::optional<std::chrono::steady_clock::time_point> deadline) override {
    deadline_ = deadline;
  }
  void setIdleTimeout(std::optional<std::chrono::milliseconds> timeout) override;
  void shutdown() override;
  std::string peer() const override { return peer_; }
  bool loopback() const override { return loopback_; }
  int detach() override;

 private:
  Status receiveExactly(std::uint8_t* into, std::size_t bytes);
  // Waits until the socket has bytes or the deadline passes (without a deadline: at once).
  Status awaitReadable();

  int fd_;  // -1 once detached
  const std::string peer_;
  const bool loopback_;
  std::atomic<bool> shutDown_{false};
  std::uint32_t maxFrameBytes_;  // receiving thread only
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // receiving thread only
  std::optional<std::chrono::milliseconds> idleTimeout_;  // set before other threads use it
};

}  // namespace fastgpu::protocol
