// The data path of stream-socket transports: frames out with one gathered write, frames in with
// exact reads. See stream_connection.h.
#include "protocol/transport/stream_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>

#include "protocol/transport/syscall.h"

namespace fastgpu::protocol {

namespace {

bool isLoopbackAddress(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&address)->sin_addr.s_addr) >> 24) == 127;
  }
  if (address.ss_family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

// Whether two IP socket addresses name the same host address (ports aside).
bool sameHostAddress(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&a)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&b)->sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    return IN6_ARE_ADDR_EQUAL(&reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr,
                              &reinterpret_cast<const sockaddr_in6*>(&b)->sin6_addr);
  }
  return false;
}

bool isUnixSocket(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 && address.ss_family == AF_UNIX;
}

}  // namespace

void awaitHangUp(int fd) {
  pollfd wanted{fd, POLLIN | POLLRDHUP, 0};
  while (::poll(&wanted, 1, -1) < 0 && errno == EINTR) {
  }
}

bool socketPeerIsLoopback(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return false;
  if (peer.ss_family == AF_UNIX || isLoopbackAddress(peer)) return true;
  sockaddr_storage local{};
  length = sizeof(local);
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 && sameHostAddress(peer, local);
}

StreamConnection::StreamConnection(int fd, std::string peer)
    : fd_(fd), peer_(std::move(peer)), loopback_(socketPeerIsLoopback(fd)), unixSocket_(isUnixSocket(fd)) {}

StreamConnection::~StreamConnection() {
  shutdown();
  if (fd_ >= 0) ::close(fd_);
}

void StreamConnection::shutdown() {
  if (!shutDown_.exchange(true) && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void StreamConnection::setIdleTimeout(std::optional<std::chrono::milliseconds> timeout) {
  idleTimeout_ = timeout;
  timeval bound{};
  if (timeout) {
    auto millis = std::max<std::int64_t>(1, timeout->count());
    bound.tv_sec = static_cast<time_t>(millis / 1000);
    bound.tv_usec = static_cast<suseconds_t>(millis % 1000 * 1000);
  }
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound));
}

int StreamConnection::detach() {
  shutDown_ = true;
  int fd = fd_;
  fd_ = -1;
  return fd;
}

Status StreamConnection::writeAll(std::span<iovec> pieces) {
  // sendmsg may write part of the frame; continue from where it stopped.
  std::size_t first = 0;
  while (first < pieces.size()) {
    msghdr message{};
    message.msg_iov = pieces.data() + first;
    message.msg_iovlen = pieces.size() - first;
    auto started = std::chrono::steady_clock::now();
    auto written = retrySyscall("send to", peer_, [&] { return ::sendmsg(fd_, &message, MSG_NOSIGNAL); });
    if (!written) return written.status();
    auto bytes = static_cast<std::size_t>(*written);
    // The idle timeout ran out after some bytes went: the peer stopped taking them.
    if (idleTimeout_ && std::chrono::steady_clock::now() - started >= *idleTimeout_ &&
        bytes < remainingBytes(pieces, first)) {
      return Status(ErrorKind::kFailed, CUDA_ERROR_TIMEOUT, "send to " + peer_ + " timed out");
    }
    first = consumePieces(pieces, first, bytes);
  }
  return Status::ok();
}

Status StreamConnection::awaitReadable() {
  auto deadline = receiveDeadline();
  if (!deadline) return Status::ok();
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status(ErrorKind::kFailed, CUDA_ERROR_TIMEOUT, "receive from " + peer_ + " timed out");
    pollfd wanted{fd_, POLLIN, 0};
    // Rounded up, so that a wait never ends just before the deadline and spins.
    auto ready = retrySyscall("wait for", peer_, [&] { return ::poll(&wanted, 1, static_cast<int>(left.count()) + 1); });
    if (!ready) return ready.status();
    if (*ready > 0) return Status::ok();  // readable, closed or failed: recv tells which
  }
}

Status StreamConnection::readExactly(std::uint8_t* into, std::size_t bytes) {
  while (bytes > 0) {
    if (Status status = awaitReadable(); !status) return status;
    auto got = retrySyscall("receive from", peer_, [&] { return ::recv(fd_, into, bytes, 0); });
    if (!got) return got.status();
    if (*got == 0) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, peer_ + " closed the connection");
    into += *got;
    bytes -= static_cast<std::size_t>(*got);
  }
  return Status::ok();
}

}  // namespace fastgpu::protocol
