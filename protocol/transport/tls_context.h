// An OpenSSL context for one side of FastGPU's TLS (tls:// URLs): the certificates and trust of
// tls_settings.h, loaded and checked once, with the options every FastGPU TLS session uses
// (TLS 1.2 or newer, no renegotiation, no session tickets, partial writes). Immutable after
// creation; shared by the connections made from it, from any thread.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>

#include "cudaabi/result.h"
#include "protocol/transport/tls_settings.h"

namespace fastgpu::protocol {

class TlsContext {
 public:
  // Loads the files; a missing or unreadable file, a key that does not match its certificate or
  // a bad PEM fails with a message naming the file and OpenSSL's reason.
  static Result<std::shared_ptr<const TlsContext>> forServer(const TlsServerSettings& settings);
  static Result<std::shared_ptr<const TlsContext>> forClient(const TlsClientSettings& settings);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return context_; }
  bool serverSide() const { return serverSide_; }

 private:
  TlsContext(SSL_CTX* context, bool serverSide) : context_(context), serverSide_(serverSide) {}

  SSL_CTX* const context_;  // owned
  const bool serverSide_;
};

// Sets up a server context someone else created (the admin API's HTTPS server) as forServer()
// does: the same options, certificate, key and client CAs, the same errors.
Status configureServerContext(SSL_CTX* context, const TlsServerSettings& settings);

// The calling thread's pending OpenSSL errors as one line ("a; b"), and the queue emptied;
// `fallback` when there are none.
std::string takeTlsErrors(const std::string& fallback);

// A BIO over a socket that never raises SIGPIPE (send with MSG_NOSIGNAL): the client library
// lives in programs whose signal handling is not ours. The descriptor stays the caller's.
BIO* newSocketBio(int fd);

}  // namespace fastgpu::protocol
