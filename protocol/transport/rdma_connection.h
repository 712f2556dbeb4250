// A Connection over RDMA (rdma_link.h): frames travel through two rings laid out as the
// shared-memory transport's (shared_ring.h). Each side's registered region holds its inbound
// ring's data, written by the peer, and its own copy of the outbound ring's data, from which it
// writes each published range into the peer's inbound ring with an immediate that says how far
// the ring moved. The control blocks are each side's private memory: a completion thread turns
// the peer's immediates into position moves and wakes the ring's waiter, so a peer can write
// nothing but ring data, and a position it claims is checked as over shared memory.
//
// Immediates: bit 31 clear, the peer published that many more bytes into our inbound ring; set,
// it read that many more of our outbound ring (bits 0-30).
//
// Liveness as over shared memory: the bootstrap socket the link was set up over stays open,
// carrying nothing; its hang-up ends the connection at once.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "protocol/transport/framed_connection.h"
#include "protocol/transport/rdma_link.h"
#include "protocol/transport/shared_ring.h"

namespace fastgpu::protocol {

inline constexpr std::uint32_t kRdmaSpaceImmediate = 1u << 31;

// Takes over `link` (its region's size a power of two times two) and the connected socket `socket`
// (closed on failure too). `onThisHost`: whether the peer is on this host (loopback()).
Result<std::unique_ptr<Connection>> openRdmaConnection(std::unique_ptr<RdmaLink> link, int socket, std::string peer,
                                                       bool onThisHost);

class RdmaConnection final : public FramedConnection {
 public:
  RdmaConnection(std::unique_ptr<RdmaLink> link, int socket, std::string peer, bool onThisHost);
  ~RdmaConnection() override;
  RdmaConnection(const RdmaConnection&) = delete;
  RdmaConnection& operator=(const RdmaConnection&) = delete;

  void setIdleTimeout(std::optional<std::chrono::milliseconds> timeout) override { idleTimeout_ = timeout; }
  void shutdown() override;
  std::string peer() const override { return peer_; }
  bool loopback() const override { return onThisHost_; }
  RdmaLink* rdmaLink() override { return link_.get(); }

 private:
  // Carries a ring's moves to the peer: the outbound ring's bytes and position, or how far this
  // side read the inbound ring.
  class Publisher final : public RingPublisher {
   public:
    Publisher(RdmaConnection& owner, bool outbound) : owner_(owner), outbound_(outbound) {}
    Status published(std::uint64_t from, std::uint64_t to) override;

   private:
    RdmaConnection& owner_;
    const bool outbound_;
  };

  Status writeAll(std::span<iovec> pieces) override;
  Status readExactly(std::uint8_t* into, std::size_t bytes) override;
  Status publishOutbound(std::uint64_t from, std::uint64_t to);
  Status publishRead(std::uint64_t from, std::uint64_t to);
  // The completion thread: the peer's immediates, until the link ends.
  void takeImmediates();
  // The watcher: the bootstrap socket's hang-up.
  void watchSocket();
  void end();

  std::unique_ptr<RdmaLink> link_;
  const int socket_;
  const std::string peer_;
  const bool onThisHost_;
  const std::uint64_t capacity_;
  RingControl inboundControl_{};
  RingControl outboundControl_{};
  Publisher outboundPublisher_{*this, true};
  Publisher inboundPublisher_{*this, false};
  RingProducer outbound_;
  RingConsumer inbound_;
  std::atomic<bool> ended_{false};
  std::atomic<bool> shutDown_{false};
  std::optional<std::chrono::milliseconds> idleTimeout_;  // set before other threads use it
  std::thread completions_;  // last two: started once everything they read exists
  std::thread watcher_;
};

}  // namespace fastgpu::protocol
