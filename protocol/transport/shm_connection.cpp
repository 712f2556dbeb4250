// See shm_connection.h.
#include "protocol/transport/shm_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

#include "protocol/transport/stream_connection.h"

namespace fastgpu::protocol {
namespace {

// The server's main process writes the session's last words as soon as the worker is gone.
constexpr auto kLastWordsWait = std::chrono::seconds(2);

RingDirection outboundOf(ShmSide side) {
  return side == ShmSide::kServer ? RingDirection::kToClient : RingDirection::kToServer;
}

RingDirection inboundOf(ShmSide side) {
  return side == ShmSide::kServer ? RingDirection::kToServer : RingDirection::kToClient;
}

}  // namespace

Result<std::unique_ptr<Connection>> openShmConnection(SharedSegment segment, ShmSide side, int socket, std::string peer) {
  try {
    return std::unique_ptr<Connection>(std::make_unique<ShmConnection>(std::move(segment), side, socket, std::move(peer)));
  } catch (const std::system_error& error) {  // no thread for the watcher
    ::close(socket);
    return Status(CUDA_ERROR_OPERATING_SYSTEM, std::string("cannot start a shared-memory connection: ") + error.what());
  }
}

ShmConnection::ShmConnection(SharedSegment segment, ShmSide side, int socket, std::string peer)
    : segment_(std::move(segment)),
      side_(side),
      socket_(socket),
      peer_(std::move(peer)),
      outbound_(segment_.control(outboundOf(side)), segment_.data(outboundOf(side))),
      inbound_(segment_.control(inboundOf(side)), segment_.data(inboundOf(side))),
      watcher_([this] { watchSocket(); }) {}

ShmConnection::~ShmConnection() {
  shutdown();
  watcher_.join();
  ::close(socket_);
}

void ShmConnection::shutdown() {
  if (shutDown_.exchange(true)) return;
  ::shutdown(socket_, SHUT_RDWR);  // the peer's watcher sees it, and so does ours
  end();
}

void ShmConnection::end() {
  ended_.store(true, std::memory_order_seq_cst);
  wakeRingWaiters(segment_.control(RingDirection::kToServer));
  wakeRingWaiters(segment_.control(RingDirection::kToClient));
}

void ShmConnection::watchSocket() {
  // Nothing travels on the socket while the rings work: readable means the peer hung up (or, on
  // the client's side, that the server's last words are there); either way the rings are done.
  awaitHangUp(socket_);
  end();
}

Status ShmConnection::writeAll(std::span<iovec> pieces) {
  return outbound_.write(pieces, RingWait{&ended_, std::nullopt, idleTimeout_}, peer_);
}

Status ShmConnection::readExactly(std::uint8_t* into, std::size_t bytes) {
  return inbound_.read(into, bytes, RingWait{&ended_, receiveDeadline(), idleTimeout_}, peer_);
}

Status ShmConnection::receive(std::vector<std::uint8_t>& payload) {
  std::uint64_t before = inbound_.position();
  Status status = FramedConnection::receive(payload);
  bool atFrameBoundary = inbound_.position() == before;
  if (status.kind() != ErrorKind::kDisconnected || side_ != ShmSide::kClient || !atFrameBoundary ||
      shutDown_.load()) {
    return status;
  }
  Status last = receiveLastWords(payload);
  return last ? last : status;
}

Status ShmConnection::receiveLastWords(std::vector<std::uint8_t>& payload) {
  int copy = ::dup(socket_);
  if (copy < 0) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, peer_ + " closed the connection");
  StreamConnection socket(copy, peer_);
  socket.setReceiveDeadline(std::chrono::steady_clock::now() + kLastWordsWait);
  return socket.receive(payload);
}

}  // namespace fastgpu::protocol
