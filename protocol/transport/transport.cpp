// Choosing a transport by URL scheme, and the transports that need no URL.
#include "protocol/transport/transport.h"

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "protocol/transport/rdma.h"
#include "protocol/transport/stream_connection.h"
#include "protocol/transport/tcp.h"
#include "protocol/transport/tls.h"
#include "protocol/transport/unix_socket.h"

namespace fastgpu::protocol {
namespace {

Status unknownScheme(std::string_view url) {
  return Status(ErrorKind::kUnimplemented, CUDA_ERROR_INVALID_VALUE,
                fmt::format("unsupported transport URL '{}' (expected tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH or rdma://HOST:PORT)", url));
}

}  // namespace

Result<std::unique_ptr<Connection>> connect(std::string_view url, const ConnectOptions& options) {
  if (url.starts_with(kTcpScheme)) return connectTcp(url, options.timeout);
  if (url.starts_with(kTlsScheme)) return connectTls(url, options);
  if (url.starts_with(kUnixScheme)) return connectUnix(url, options.timeout);
  if (url.starts_with(kRdmaScheme)) return connectRdma(url, options);
  return unknownScheme(url);
}

Result<std::unique_ptr<Listener>> listen(std::string_view url, const ListenOptions& options) {
  if (url.starts_with(kTcpScheme)) return listenTcp(url);
  if (url.starts_with(kTlsScheme)) return listenTls(url, options.tls);
  if (url.starts_with(kUnixScheme)) return listenUnix(url);
  if (url.starts_with(kRdmaScheme)) return listenRdma(url);
  return unknownScheme(url);
}

std::unique_ptr<Connection> adoptStream(int fd, std::string peer) {
  return std::make_unique<StreamConnection>(fd, std::move(peer));
}

std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> loopbackPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    // Only fails when the process is out of descriptors or memory.
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  return {std::make_unique<StreamConnection>(fds[0], "loopback:0"), std::make_unique<StreamConnection>(fds[1], "loopback:1")};
}

}  // namespace fastgpu::protocol
