// See tls_connection.h.
#include "protocol/transport/tls_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

namespace fastgpu::protocol {

TlsConnection::~TlsConnection() {
  if (relay_) {
    relay_.reset();
  } else {
    stream_->closeNotify();
    stream_->shutdown();
  }
}

Status TlsConnection::writeAll(std::span<iovec> pieces) { return stream_->writeAll(pieces, {std::nullopt, idleTimeout_}); }

Status TlsConnection::readExactly(std::uint8_t* into, std::size_t bytes) {
  TlsWait wait{receiveDeadline(), idleTimeout_};
  while (bytes > 0) {
    auto got = stream_->readSome(into, bytes, wait);
    if (!got) return got.status();
    into += *got;
    bytes -= *got;
  }
  return Status::ok();
}

int TlsConnection::detach() {
  if (relay_) return -1;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  try {
    relay_ = std::make_unique<TlsRelay>(stream_, pair[1]);
  } catch (const std::system_error&) {
    ::close(pair[0]);  // the relay closed its end
    return -1;
  }
  return pair[0];
}

}  // namespace fastgpu::protocol
