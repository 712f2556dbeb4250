// See tls_relay.h.
#include "protocol/transport/tls_relay.h"

#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

#include "protocol/transport/syscall.h"

namespace fastgpu::protocol {
namespace {

// Bytes moved per step: a few TLS records, one system call on the plain side.
constexpr std::size_t kRelayBytes = 256 << 10;

}  // namespace

TlsRelay::TlsRelay(std::shared_ptr<TlsStream> stream, int plainFd) : stream_(std::move(stream)), plainFd_(plainFd) {
  try {
    toPeer_ = std::thread([this] { toPeer(); });
    fromPeer_ = std::thread([this] { fromPeer(); });
  } catch (...) {
    ::shutdown(plainFd_, SHUT_RDWR);
    stream_->shutdown();
    if (toPeer_.joinable()) toPeer_.join();
    ::close(plainFd_);
    throw;
  }
}

TlsRelay::~TlsRelay() {
  {
    std::unique_lock lock(mutex_);
    flushed_.wait_for(lock, kFlushSeconds, [this] { return toPeerDone_; });
  }
  stream_->shutdown();             // wakes fromPeer() (and toPeer() if the peer still reads nothing)
  ::shutdown(plainFd_, SHUT_RDWR);  // wakes toPeer() if the worker's end is still open
  toPeer_.join();
  fromPeer_.join();
  ::close(plainFd_);
}

void TlsRelay::fromPeer() {
  auto buffer = std::make_unique<std::uint8_t[]>(kRelayBytes);
  for (;;) {
    auto got = stream_->readSome(buffer.get(), kRelayBytes, {});
    if (!got) {
      // The client left (in order or not): the worker reads end-of-stream and ends the session.
      ::shutdown(plainFd_, SHUT_WR);
      return;
    }
    const std::uint8_t* data = buffer.get();
    std::size_t left = *got;
    while (left > 0) {
      auto sent = retrySyscall("relay to", "worker", [&] { return ::send(plainFd_, data, left, MSG_NOSIGNAL); });
      if (!sent) {
        stream_->shutdown();  // the worker is gone: so is the session
        return;
      }
      data += *sent;
      left -= static_cast<std::size_t>(*sent);
    }
  }
}

void TlsRelay::toPeer() {
  auto buffer = std::make_unique<std::uint8_t[]>(kRelayBytes);
  for (;;) {
    auto got = retrySyscall("relay from", "worker", [&] { return ::recv(plainFd_, buffer.get(), kRelayBytes, 0); });
    if (!got || *got == 0) {
      stream_->closeNotify();  // every holder of the worker's end closed it: the session is over
      break;
    }
    iovec piece{buffer.get(), static_cast<std::size_t>(*got)};
    if (!stream_->writeAll(std::span(&piece, 1), {})) {
      ::shutdown(plainFd_, SHUT_RDWR);  // the client is gone: the worker's sends fail, its session ends
      break;
    }
  }
  std::lock_guard lock(mutex_);
  toPeerDone_ = true;
  flushed_.notify_all();
}

}  // namespace fastgpu::protocol
