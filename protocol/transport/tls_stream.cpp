// See tls_stream.h.
#include "protocol/transport/tls_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "protocol/transport/stream_connection.h"
#include "protocol/transport/syscall.h"

namespace fastgpu::protocol {
namespace {

// Pieces smaller than a TLS record are gathered into one, so that a frame's 16-byte header and a
// small call travel in one record and one system call.
constexpr std::size_t kGatherBytes = 16 << 10;
// Records on their way out collect in a buffer this big and leave in one system call when a
// frame is complete (or the buffer full): a 9 MiB frame is about 40 sends, not 600.
constexpr int kWriteBufferBytes = 256 << 10;

bool isIpAddress(const std::string& name) {
  in6_addr address{};
  return inet_pton(AF_INET, name.c_str(), &address) == 1 || inet_pton(AF_INET6, name.c_str(), &address) == 1;
}

// Makes `ssl` check the server's certificate names `serverName` (and sends it as SNI).
bool expectServerName(SSL* ssl, const std::string& serverName) {
  if (isIpAddress(serverName)) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName.c_str()) == 1;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, serverName.c_str()) == 1 && SSL_set_tlsext_host_name(ssl, serverName.c_str()) == 1;
}

bool peerIsGone(int error) {
  return error == 0 || error == EPIPE || error == ECONNRESET || error == ENOTCONN || error == ESHUTDOWN;
}

}  // namespace

Result<std::shared_ptr<TlsStream>> TlsStream::open(std::shared_ptr<const TlsContext> context, int fd, std::string peer,
                                                   const std::string& serverName) {
  ERR_clear_error();
  int flags = ::fcntl(fd, F_GETFL);
  SSL* ssl = SSL_new(context->get());
  BIO* socket = ssl != nullptr ? newSocketBio(fd) : nullptr;
  BIO* buffered = socket != nullptr ? BIO_new(BIO_f_buffer()) : nullptr;
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || buffered == nullptr ||
      BIO_set_write_buffer_size(buffered, kWriteBufferBytes) != 1) {
    BIO_free(buffered);
    BIO_free(socket);
    SSL_free(ssl);
    ::close(fd);
    return Status(CUDA_ERROR_OUT_OF_MEMORY, "cannot start TLS with " + peer + ": " + takeTlsErrors("out of resources"));
  }
  // Reads come straight from the socket; writes through the buffer. The session owns both
  // (the socket BIO twice: once read side, once at the end of the write chain); neither owns
  // the descriptor.
  BIO_up_ref(socket);
  BIO_push(buffered, socket);
  SSL_set_bio(ssl, socket, buffered);
  if (context->serverSide()) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    if (!expectServerName(ssl, serverName)) {
      SSL_free(ssl);
      ::close(fd);
      return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("'{}' cannot be checked against a certificate", serverName));
    }
  }
  return std::shared_ptr<TlsStream>(new TlsStream(std::move(context), fd, std::move(peer), ssl));
}

TlsStream::TlsStream(std::shared_ptr<const TlsContext> context, int fd, std::string peer, SSL* ssl)
    : context_(std::move(context)),
      fd_(fd),
      peer_(std::move(peer)),
      loopback_(socketPeerIsLoopback(fd)),
      ssl_(ssl),
      gather_(std::make_unique<std::uint8_t[]>(kGatherBytes)) {}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
  ::close(fd_);
}

void TlsStream::shutdown() {
  if (!shutDown_.exchange(true)) ::shutdown(fd_, SHUT_RDWR);  // wakes every poll on it
}

void TlsStream::closeNotify() {
  std::lock_guard lock(mutex_);
  if (!handshaken_ || shutDown_) return;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);  // one try: the peer learns the stream ended in order, if it can
  (void)BIO_flush(SSL_get_wbio(ssl_));
  ERR_clear_error();
}

Status TlsStream::awaitSocket(short events, const char* what, const TlsWait& wait) {
  int timeoutMillis = -1;
  if (wait.deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*wait.deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status(ErrorKind::kFailed, CUDA_ERROR_TIMEOUT, fmt::format("{} {} timed out", what, peer_));
    timeoutMillis = static_cast<int>(std::min<std::int64_t>(left.count() + 1, INT32_MAX));  // never wake just before
  }
  if (wait.idle) {
    int idle = static_cast<int>(std::clamp<std::int64_t>(wait.idle->count(), 1, INT32_MAX));
    timeoutMillis = timeoutMillis < 0 ? idle : std::min(timeoutMillis, idle);
  }
  pollfd wanted{fd_, events, 0};
  auto ready = retrySyscall("wait for", peer_, [&] { return ::poll(&wanted, 1, timeoutMillis); });
  if (!ready) return ready.status();
  if (*ready == 0) return Status(ErrorKind::kFailed, CUDA_ERROR_TIMEOUT, fmt::format("{} {} timed out", what, peer_));
  return Status::ok();  // ready, closed or failed: the next call tells which
}

template <typename Call>
Status TlsStream::retry(const char* what, const TlsWait& wait, Call&& call) {
  for (;;) {
    if (shutDown_) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the connection to " + peer_ + " is shut down");
    int error = SSL_ERROR_NONE;
    int systemError = 0;
    long verified = X509_V_OK;
    std::string reasons;
    {
      std::lock_guard lock(mutex_);
      ERR_clear_error();
      errno = 0;
      int result = call();
      if (result > 0) return Status::ok();
      error = SSL_get_error(ssl_, result);
      systemError = errno;
      reasons = takeTlsErrors("");
      verified = SSL_get_verify_result(ssl_);
    }
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      if (Status status = awaitSocket(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, what, wait); !status) return status;
      continue;
    }
    if (shutDown_) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the connection to " + peer_ + " is shut down");
    if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && reasons.empty() && peerIsGone(systemError))) {
      return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN,
                    handshaken_ ? peer_ + " closed the connection"
                                : fmt::format("TLS handshake with {} failed: the peer closed the connection (is it a "
                                              "TLS endpoint? did it refuse this side's certificate?)",
                                              peer_));
    }
    if (reasons.empty()) reasons = systemError != 0 ? std::strerror(systemError) : "protocol error";
    if (verified != X509_V_OK) reasons += fmt::format(" ({})", X509_verify_cert_error_string(verified));
    return Status(ErrorKind::kFailed, CUDA_ERROR_UNKNOWN, fmt::format("TLS {} {} failed: {}", what, peer_, reasons));
  }
}

Status TlsStream::handshake(const TlsWait& wait) {
  if (handshaken_) return Status::ok();
  Status status = retry("handshake with", wait, [&] { return SSL_is_init_finished(ssl_) ? 1 : SSL_do_handshake(ssl_); });
  if (status) handshaken_ = true;
  return status;
}

Result<std::size_t> TlsStream::readSome(std::uint8_t* into, std::size_t bytes, const TlsWait& wait) {
  if (Status status = handshake(wait); !status) return status;
  std::size_t got = 0;
  Status status = retry("receive from", wait, [&] {
    int result = SSL_read_ex(ssl_, into, bytes, &got);
    // Records already read from the socket come along: one call, not one per 16 KiB record.
    std::size_t more = 0;
    while (result > 0 && got < bytes && SSL_has_pending(ssl_) && SSL_read_ex(ssl_, into + got, bytes - got, &more) > 0) {
      got += more;
    }
    return result;
  });
  if (!status) return status;
  return got;
}

Status TlsStream::writeBytes(const std::uint8_t* data, std::size_t bytes, const TlsWait& wait) {
  while (bytes > 0) {
    std::size_t written = 0;
    if (Status status = retry("send to", wait, [&] { return SSL_write_ex(ssl_, data, bytes, &written); }); !status) {
      return status;
    }
    data += written;
    bytes -= written;
  }
  return Status::ok();
}

Status TlsStream::flush(const TlsWait& wait) {
  for (;;) {
    if (shutDown_) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the connection to " + peer_ + " is shut down");
    int systemError = 0;
    {
      std::lock_guard lock(mutex_);
      BIO* out = SSL_get_wbio(ssl_);
      errno = 0;
      if (BIO_flush(out) > 0) return Status::ok();
      systemError = errno;
      if (!BIO_should_retry(out)) {
        return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN,
                      fmt::format("send to {}: {}", peer_, std::strerror(systemError != 0 ? systemError : EPIPE)));
      }
    }
    if (Status status = awaitSocket(POLLOUT, "send to", wait); !status) return status;
  }
}

Status TlsStream::writeAll(std::span<const iovec> pieces, const TlsWait& wait) {
  if (Status status = handshake(wait); !status) return status;
  std::size_t gathered = 0;
  for (const iovec& piece : pieces) {
    const auto* data = static_cast<const std::uint8_t*>(piece.iov_base);
    if (gathered + piece.iov_len <= kGatherBytes) {
      std::memcpy(gather_.get() + gathered, data, piece.iov_len);
      gathered += piece.iov_len;
      continue;
    }
    if (Status status = writeBytes(gather_.get(), gathered, wait); !status) return status;
    gathered = 0;
    if (piece.iov_len < kGatherBytes) {
      std::memcpy(gather_.get(), data, piece.iov_len);
      gathered = piece.iov_len;
    } else if (Status status = writeBytes(data, piece.iov_len, wait); !status) {
      return status;
    }
  }
  if (Status status = writeBytes(gather_.get(), gathered, wait); !status) return status;
  return flush(wait);
}

std::string TlsStream::peerIdentity() const {
  std::lock_guard lock(mutex_);
  X509* certificate = SSL_get1_peer_certificate(ssl_);
  if (certificate == nullptr) return "";
  std::string subject;
  if (BIO* text = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(text, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long length = BIO_get_mem_data(text, &data);
    if (length > 0) subject.assign(data, static_cast<std::size_t>(length));
    BIO_free(text);
  }
  X509_free(certificate);
  return subject;
}

}  // namespace fastgpu::protocol
