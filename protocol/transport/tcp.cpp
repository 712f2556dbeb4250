// The control path of the tcp transport: URL parsing, connect, listen, accept. The data path is
// StreamConnection.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <fmt/format.h>

#include "protocol/transport/stream_connection.h"
#include "protocol/transport/syscall.h"
#include "protocol/transport/tcp.h"

namespace fastgpu::protocol {

Result<HostPort> parseTcpUrl(std::string_view url) {
  if (!url.starts_with(kTcpScheme) && !url.starts_with(kTlsScheme)) {
    return Status(ErrorKind::kUnimplemented, CUDA_ERROR_INVALID_VALUE,
                  fmt::format("'{}' is not a tcp://HOST:PORT URL", url));
  }
  std::string_view rest = url.substr(kTcpScheme.size());
  std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == rest.size()) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("'{}' has no port (expected {}HOST:PORT)", url, url.substr(0, 6)));
  }
  std::string host(rest.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);  // [::1]
  return HostPort{host, std::string(rest.substr(colon + 1))};
}

namespace {

constexpr int kListenBacklog = 128;

std::string describe(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    port = ntohs(v4->sin_port);
    return fmt::format("tcp://{}:{}", text, port);
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
  inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
  return fmt::format("tcp://[{}]:{}", text, ntohs(v6->sin6_port));
}

void setNoDelay(int fd) {
  int one = 1;
  // Best effort: without it small frames wait for Nagle, which costs latency, not correctness.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

using AddressList = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

Result<AddressList> resolve(const HostPort& where, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* found = nullptr;
  int error = getaddrinfo(where.host.empty() ? nullptr : where.host.c_str(), where.port.c_str(), &hints, &found);
  if (error != 0) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("cannot resolve {}:{}: {}", where.host, where.port,
                                                        gai_strerror(error)));
  }
  return AddressList(found, freeaddrinfo);
}

class TcpListener final : public Listener {
 public:
  TcpListener(int fd, std::string url) : fd_(fd), url_(std::move(url)) {}
  ~TcpListener() override {
    close();
    ::close(fd_);
  }

  Result<std::unique_ptr<Connection>> accept() override {
    sockaddr_storage peer{};
    socklen_t length = sizeof(peer);
    auto fd = retrySyscall("accept on", url_, [&] {
      return ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    });
    if (!fd) {
      if (closed_) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, url_ + " is closed");
      return fd.status();
    }
    setNoDelay(static_cast<int>(*fd));
    return std::unique_ptr<Connection>(
        std::make_unique<StreamConnection>(static_cast<int>(*fd), describe(reinterpret_cast<sockaddr*>(&peer))));
  }

  void close() override {
    if (!closed_.exchange(true)) ::shutdown(fd_, SHUT_RDWR);  // wakes a blocked accept()
  }

  std::string url() const override { return url_; }

 private:
  const int fd_;
  const std::string url_;
  std::atomic<bool> closed_{false};
};

}  // namespace

Result<std::unique_ptr<Connection>> connectTcp(std::string_view url, std::optional<std::chrono::milliseconds> timeout) {
  auto where = parseTcpUrl(url);
  if (!where) return where.status();
  auto addresses = resolve(*where, false);
  if (!addresses) return addresses.status();
  Status last(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, fmt::format("no address for {}", url));
  for (addrinfo* address = addresses->get(); address != nullptr; address = address->ai_next) {
    int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
    if (fd < 0) continue;
    // Linux bounds a blocking connect by the socket's send timeout; cleared again after it.
    timeval bound{};
    if (timeout) {
      bound.tv_sec = static_cast<time_t>(timeout->count() / 1000);
      bound.tv_usec = static_cast<suseconds_t>(timeout->count() % 1000 * 1000);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound));
    }
    auto connected = retrySyscall("connect to", url, [&] { return ::connect(fd, address->ai_addr, address->ai_addrlen); });
    if (!connected && connected.code() == CUDA_ERROR_TIMEOUT) {
      connected = Status(ErrorKind::kDisconnected, CUDA_ERROR_TIMEOUT,
                         fmt::format("connect to {} timed out after {} ms", url, timeout ? timeout->count() : 0));
    }
    if (connected) {
      timeval none{};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
      setNoDelay(fd);
      return std::unique_ptr<Connection>(std::make_unique<StreamConnection>(fd, describe(address->ai_addr)));
    }
    last = connected.status();
    ::close(fd);
  }
  return last;
}

Result<std::unique_ptr<Listener>> listenTcp(std::string_view url) {
  auto where = parseTcpUrl(url);
  if (!where) return where.status();
  auto addresses = resolve(*where, true);
  if (!addresses) return addresses.status();
  addrinfo* address = addresses->get();
  int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
  if (fd < 0) return Status(CUDA_ERROR_UNKNOWN, fmt::format("cannot create a socket for {}", url));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  auto bound = retrySyscall("bind", url, [&] { return ::bind(fd, address->ai_addr, address->ai_addrlen); });
  if (bound) bound = retrySyscall("listen on", url, [&] { return ::listen(fd, kListenBacklog); });
  if (!bound) {
    ::close(fd);
    return bound.status();
  }
  sockaddr_storage actual{};
  socklen_t length = sizeof(actual);
  getsockname(fd, reinterpret_cast<sockaddr*>(&actual), &length);
  return std::unique_ptr<Listener>(std::make_unique<TcpListener>(fd, describe(reinterpret_cast<sockaddr*>(&actual))));
}

}  // namespace fastgpu::protocol
