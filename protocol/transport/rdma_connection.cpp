// See rdma_connection.h.
#include "protocol/transport/rdma_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <system_error>

#include "protocol/transport/stream_connection.h"

namespace fastgpu::protocol {

Result<std::unique_ptr<Connection>> openRdmaConnection(std::unique_ptr<RdmaLink> link, int socket, std::string peer,
                                                       bool onThisHost) {
  std::uint64_t half = link ? link->memory().size() / 2 : 0;
  if (half == 0 || !std::has_single_bit(half) || half > (1ULL << 30)) {
    ::close(socket);
    return Status(CUDA_ERROR_INVALID_VALUE, "an RDMA link's region must be two rings of a power of two bytes");
  }
  try {
    return std::unique_ptr<Connection>(
        std::make_unique<RdmaConnection>(std::move(link), socket, std::move(peer), onThisHost));
  } catch (const std::system_error& error) {  // no thread for the watcher or the completions
    ::close(socket);
    return Status(CUDA_ERROR_OPERATING_SYSTEM, std::string("cannot start an RDMA connection: ") + error.what());
  }
}

// The region: [0, capacity) the inbound ring, written by the peer; [capacity, 2 capacity) this
// side's copy of the outbound ring, written into the peer's [0, capacity).
RdmaConnection::RdmaConnection(std::unique_ptr<RdmaLink> link, int socket, std::string peer, bool onThisHost)
    : link_(std::move(link)),
      socket_(socket),
      peer_(std::move(peer)),
      onThisHost_(onThisHost),
      capacity_(link_->memory().size() / 2),
      outbound_(outboundControl_, link_->memory().subspan(capacity_, capacity_), &outboundPublisher_),
      inbound_(inboundControl_, link_->memory().first(capacity_), &inboundPublisher_) {
  resetRing(inboundControl_);
  resetRing(outboundControl_);
  completions_ = std::thread([this] { takeImmediates(); });
  try {
    watcher_ = std::thread([this] { watchSocket(); });
  } catch (...) {
    end();
    completions_.join();
    throw;
  }
}

RdmaConnection::~RdmaConnection() {
  shutdown();
  completions_.join();
  watcher_.join();
  ::close(socket_);
}

void RdmaConnection::shutdown() {
  if (shutDown_.exchange(true)) return;
  ::shutdown(socket_, SHUT_RDWR);  // the peer's watcher sees it, and so does ours
  end();
}

void RdmaConnection::end() {
  ended_.store(true, std::memory_order_seq_cst);
  link_->shutdown();
  wakeRingWaiters(inboundControl_);
  wakeRingWaiters(outboundControl_);
}

void RdmaConnection::watchSocket() {
  awaitHangUp(socket_);
  end();
}

void RdmaConnection::takeImmediates() {
  for (;;) {
    auto immediate = link_->nextImmediate();
    if (!immediate) break;
    std::uint64_t bytes = *immediate & ~kRdmaSpaceImmediate;
    if ((*immediate & kRdmaSpaceImmediate) != 0) {
      advanceRingTail(outboundControl_, bytes);
    } else {
      advanceRingHead(inboundControl_, bytes);
    }
  }
  end();
}

Status RdmaConnection::Publisher::published(std::uint64_t from, std::uint64_t to) {
  return outbound_ ? owner_.publishOutbound(from, to) : owner_.publishRead(from, to);
}

// The bytes from `from` to `to` of the outbound ring, one write, or two where they wrap; the last
// carries the immediate (kRingPublishBytes at most: it fits).
Status RdmaConnection::publishOutbound(std::uint64_t from, std::uint64_t to) {
  auto total = static_cast<std::uint32_t>(to - from);
  std::uint64_t at = from & (capacity_ - 1);
  auto first = static_cast<std::uint32_t>(std::min<std::uint64_t>(total, capacity_ - at));
  if (first < total) {
    if (Status status = link_->write(capacity_ + at, at, first, std::nullopt); !status) return status;
    return link_->write(capacity_, 0, total - first, total);
  }
  return link_->write(capacity_ + at, at, total, total);
}

Status RdmaConnection::publishRead(std::uint64_t from, std::uint64_t to) {
  return link_->write(0, 0, 0, static_cast<std::uint32_t>(to - from) | kRdmaSpaceImmediate);
}

Status RdmaConnection::writeAll(std::span<iovec> pieces) {
  return outbound_.write(pieces, RingWait{&ended_, std::nullopt, idleTimeout_}, peer_);
}

Status RdmaConnection::readExactly(std::uint8_t* into, std::size_t bytes) {
  return inbound_.read(into, bytes, RingWait{&ended_, receiveDeadline(), idleTimeout_}, peer_);
}

}  // namespace fastgpu::protocol
