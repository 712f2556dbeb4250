// See tls_context.h.
#include "protocol/transport/tls_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include <fmt/format.h>

namespace fastgpu::protocol {
namespace {

// What one read from the socket may take: several records, so bulk data costs fewer system calls.
constexpr std::size_t kReadBufferBytes = 256 << 10;

// A context under construction: freed unless handed over.
using OwnedContext = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

Status loadFailure(const std::string& what, const std::string& file) {
  return Status(CUDA_ERROR_INVALID_VALUE,
                fmt::format("cannot load the {} '{}': {}", what, file, takeTlsErrors("unreadable or not PEM")));
}

// Options every FastGPU TLS context shares. Session tickets are off: sessions are long and not
// resumed, and a ticket sent after the handshake would be one more thing in flight.
void applyCommonOptions(SSL_CTX* context) {
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(context, 0);
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
}

// A context for TlsStream: writes return after each record (so a stalled peer is noticed) and
// may resume from a moved buffer; reads take what the socket has, saving a system call per
// record (TlsStream always asks OpenSSL before it waits for the socket).
Result<OwnedContext> newContext(const SSL_METHOD* method) {
  OwnedContext context(SSL_CTX_new(method), SSL_CTX_free);
  if (!context) return Status(CUDA_ERROR_OUT_OF_MEMORY, "cannot create a TLS context: " + takeTlsErrors("?"));
  SSL_CTX_set_mode(context.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(context.get(), 1);
  SSL_CTX_set_default_read_buffer_len(context.get(), kReadBufferBytes);
  return context;
}

Status loadIdentity(SSL_CTX* context, const std::string& certificate, const std::string& key, const char* whose) {
  if (SSL_CTX_use_certificate_chain_file(context, certificate.c_str()) != 1) {
    return loadFailure(fmt::format("{} certificate", whose), certificate);
  }
  if (SSL_CTX_use_PrivateKey_file(context, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return loadFailure(fmt::format("{} key", whose), key);
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("the {} key '{}' does not match the certificate '{}'", whose,
                                                        key, certificate));
  }
  return Status::ok();
}

int socketWrite(BIO* bio, const char* data, int length) {
  int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  for (;;) {
    ssize_t sent = ::send(fd, data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
    if (sent >= 0) return static_cast<int>(sent);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

int socketRead(BIO* bio, char* data, int length) {
  int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  for (;;) {
    ssize_t got = ::recv(fd, data, static_cast<std::size_t>(length), 0);
    if (got >= 0) return static_cast<int>(got);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;
  }
}

long socketControl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

int socketCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* socketMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* created = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fastgpu socket");
    if (created != nullptr) {
      BIO_meth_set_write(created, socketWrite);
      BIO_meth_set_read(created, socketRead);
      BIO_meth_set_ctrl(created, socketControl);
      BIO_meth_set_create(created, socketCreate);
    }
    return created;
  }();
  return method;
}

}  // namespace

std::string takeTlsErrors(const std::string& fallback) {
  std::string text;
  while (unsigned long error = ERR_get_error()) {
    char reason[256];
    ERR_error_string_n(error, reason, sizeof(reason));
    // "error:0A000086:SSL routines::certificate verify failed": the reason is what people read.
    std::string_view line(reason);
    if (auto colon = line.rfind(':'); colon != std::string_view::npos) line.remove_prefix(colon + 1);
    if (!text.empty()) text += "; ";
    text += line;
  }
  return text.empty() ? fallback : text;
}

BIO* newSocketBio(int fd) {
  const BIO_METHOD* method = socketMethod();
  if (method == nullptr) return nullptr;
  BIO* bio = BIO_new(method);
  if (bio != nullptr) BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  return bio;
}

TlsContext::~TlsContext() { SSL_CTX_free(context_); }

Status configureServerContext(SSL_CTX* context, const TlsServerSettings& settings) {
  ERR_clear_error();
  if (settings.certificateFile.empty() || settings.keyFile.empty()) {
    return Status(CUDA_ERROR_INVALID_VALUE, "a TLS listener needs a certificate and a key (tls_cert, tls_key)");
  }
  applyCommonOptions(context);
  if (Status status = loadIdentity(context, settings.certificateFile, settings.keyFile, "server"); !status) return status;
  if (!settings.clientCaFile.empty()) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.clientCaFile.c_str());
    if (names == nullptr || SSL_CTX_load_verify_locations(context, settings.clientCaFile.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return loadFailure("client CA file", settings.clientCaFile);
    }
    SSL_CTX_set_client_CA_list(context, names);  // takes the list
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return Status::ok();
}

Result<std::shared_ptr<const TlsContext>> TlsContext::forServer(const TlsServerSettings& settings) {
  auto context = newContext(TLS_server_method());
  if (!context) return context.status();
  if (Status status = configureServerContext(context->get(), settings); !status) return status;
  return std::shared_ptr<const TlsContext>(new TlsContext(context->release(), true));
}

Result<std::shared_ptr<const TlsContext>> TlsContext::forClient(const TlsClientSettings& settings) {
  ERR_clear_error();
  auto context = newContext(TLS_client_method());
  if (!context) return context.status();
  applyCommonOptions(context->get());
  if (settings.caFile.empty()) {
    if (SSL_CTX_set_default_verify_paths(context->get()) != 1) {
      return Status(CUDA_ERROR_INVALID_VALUE, "cannot load the system's trust store: " + takeTlsErrors("?"));
    }
  } else if (SSL_CTX_load_verify_locations(context->get(), settings.caFile.c_str(), nullptr) != 1) {
    return loadFailure("CA file", settings.caFile);
  }
  SSL_CTX_set_verify(context->get(), SSL_VERIFY_PEER, nullptr);
  if (settings.certificateFile.empty() != settings.keyFile.empty()) {
    return Status(CUDA_ERROR_INVALID_VALUE, "a client certificate needs its key, and a key its certificate");
  }
  if (!settings.certificateFile.empty()) {
    if (Status status = loadIdentity(context->get(), settings.certificateFile, settings.keyFile, "client"); !status) {
      return status;
    }
  }
  return std::shared_ptr<const TlsContext>(new TlsContext(context->release(), false));
}

}  // namespace fastgpu::protocol
