// What a TLS endpoint presents and whom it trusts (PEM files), as a server's configuration file
// and a client's environment give them. Plain data; tls_context.h turns it into an OpenSSL
// context and reports unreadable or mismatched files.
#pragma once

#include <string>

namespace fastgpu::protocol {

struct TlsServerSettings {
  std::string certificateFile;  // the server's certificate, followed by its chain
  std::string keyFile;          // its private key
  // When set, every client must present a certificate that chains to one of these CAs; the
  // handshake fails otherwise. Empty: clients are not asked for one.
  std::string clientCaFile;
};

struct TlsClientSettings {
  // The CAs the server's certificate must chain to; empty: the system's trust store.
  std::string caFile;
  // A client certificate and its key, for servers that require one; both or neither.
  std::string certificateFile;
  std::string keyFile;
};

}  // namespace fastgpu::protocol
