// See shm_rendezvous.h.
#include "protocol/transport/shm_rendezvous.h"

#include <openssl/crypto.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "protocol/transport/syscall.h"
#include "protocol/transport/system_failure.h"

namespace fastgpu::protocol {
namespace {

constexpr std::string_view kNamePrefix = "fastgpu-shm-";

Status fillRandom(std::span<std::uint8_t> bytes) {
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    ssize_t got = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return systemFailure("getrandom");
    }
    filled += static_cast<std::size_t>(got);
  }
  return Status::ok();
}

// The abstract-namespace address of `name`: a NUL, then the name, not NUL-terminated.
std::pair<sockaddr_un, socklen_t> abstractAddress(std::string_view name) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());  // names are checked shorter
  return {address, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())};
}

bool wellFormedName(std::string_view name) {
  if (name.size() <= kNamePrefix.size() || name.size() > kMaxRendezvousName || !name.starts_with(kNamePrefix)) {
    return false;
  }
  for (char c : name.substr(kNamePrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

int millisecondsUntil(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
}

void setReceiveTimeout(int socket, std::chrono::milliseconds timeout) {
  timeval bound{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
}

std::string describePeer(int socket) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return "an unknown process";
  return fmt::format("uid={} pid={}", credentials.uid, credentials.pid);
}

}  // namespace

Result<RendezvousPoint> RendezvousPoint::open() {
  std::array<std::uint8_t, kRendezvousNonceBytes> nonce{};
  std::array<std::uint8_t, 16> tag{};
  if (Status status = fillRandom(nonce); !status) return status;
  if (Status status = fillRandom(tag); !status) return status;
  std::string name = fmt::format("{}{:02x}", kNamePrefix, fmt::join(tag, ""));
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return systemFailure("create the rendezvous socket");
  auto [address, length] = abstractAddress(name);  // (no lambda below: clang 14 cannot capture bindings)
  if (::bind(listener, reinterpret_cast<const sockaddr*>(&address), length) != 0 || ::listen(listener, 16) != 0) {
    Status failed = systemFailure("listen on the rendezvous socket");
    ::close(listener);
    return failed;
  }
  return RendezvousPoint(listener, std::move(name), nonce);
}

RendezvousPoint::RendezvousPoint(RendezvousPoint&& other) noexcept
    : listener_(std::exchange(other.listener_, -1)), name_(std::move(other.name_)), nonce_(other.nonce_) {}

RendezvousPoint::~RendezvousPoint() { close(); }

void RendezvousPoint::close() {
  if (listener_ >= 0) ::close(std::exchange(listener_, -1));
}

bool RendezvousPoint::provesNonce(int socket, std::chrono::steady_clock::time_point deadline) const {
  std::array<std::uint8_t, kRendezvousNonceBytes> offered{};
  std::size_t got = 0;
  while (got < offered.size()) {
    pollfd wanted{socket, POLLIN, 0};
    int ready = ::poll(&wanted, 1, millisecondsUntil(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t read = ::recv(socket, offered.data() + got, offered.size() - got, MSG_DONTWAIT);
    if (read < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (read <= 0) return false;
    got += static_cast<std::size_t>(read);
  }
  return CRYPTO_memcmp(offered.data(), nonce_.data(), offered.size()) == 0;
}

Result<std::optional<int>> RendezvousPoint::await(int connection, std::chrono::steady_clock::time_point deadline,
                                                  const std::function<void(const std::string&)>& stranger) {
  int strangers = 0;
  std::optional<int> arrived;
  while (!arrived && strangers < kMaxStrangers && std::chrono::steady_clock::now() < deadline) {
    pollfd wanted[2] = {{listener_, POLLIN, 0}, {connection, POLLIN, 0}};
    int ready = ::poll(wanted, connection >= 0 ? 2 : 1, millisecondsUntil(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      Status failed = systemFailure("wait at the rendezvous socket");
      close();
      return failed;
    }
    if (ready == 0 || wanted[1].revents != 0) break;  // the deadline; or the client stays
    int socket = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (socket < 0) continue;  // gone before it was accepted
    // A stranger gets a second at most: it must not hold the session's client up.
    auto proofDeadline = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    if (provesNonce(socket, proofDeadline)) {
      arrived = socket;
    } else {
      stranger(describePeer(socket));
      ::close(socket);
      ++strangers;
    }
  }
  close();
  return arrived;
}

Result<std::optional<int>> joinRendezvous(std::string_view name, std::span<const std::uint8_t> nonce,
                                          std::chrono::milliseconds timeout) {
  if (!wellFormedName(name) || nonce.size() != kRendezvousNonceBytes) {
    return Status(CUDA_ERROR_INVALID_VALUE, "the server's shared-memory rendezvous is malformed");
  }
  int socket = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (socket < 0) return systemFailure("create a socket for the shared-memory rendezvous");
  const auto where = abstractAddress(name);  // a pair, not bindings: the lambda below captures it
  std::string subject = fmt::format("the server's rendezvous socket @{}", name);
  auto connected = retrySyscall("connect to", subject, [&] {
    return ::connect(socket, reinterpret_cast<const sockaddr*>(&where.first), where.second);
  });
  if (!connected) {  // not in this network namespace, or the worker stopped waiting
    ::close(socket);
    return std::optional<int>();
  }
  setReceiveTimeout(socket, timeout);
  auto sent = retrySyscall("send the nonce to", subject, [&] {
    return ::send(socket, nonce.data(), nonce.size(), MSG_NOSIGNAL);
  });
  // The worker's first byte (the segment's marker, shm.h) says it took us; the end of the
  // socket says it stopped waiting before.
  std::uint8_t first = 0;
  if (sent && static_cast<std::size_t>(*sent) != nonce.size()) {
    sent = Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the rendezvous took part of the nonce");
  }
  auto answered = sent ? retrySyscall("wait for", subject, [&] { return ::recv(socket, &first, 1, MSG_PEEK); })
                       : Result<long>(sent.status());
  if (answered && *answered == 1) return std::optional<int>(socket);
  ::close(socket);
  if (!answered && answered.status().kind() != ErrorKind::kDisconnected) return answered.status();
  return std::optional<int>();
}

}  // namespace fastgpu::protocol
