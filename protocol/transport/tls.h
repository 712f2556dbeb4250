// The tls transport's control path: TCP connect and listen with TLS on top. Internal to
// protocol/transport; transport.cpp chooses it for tls:// URLs.
#pragma once

#include <memory>
#include <string_view>

#include "protocol/transport/transport.h"

namespace fastgpu::protocol {

// Connects and runs the handshake within options.timeout, so that a server whose certificate
// does not verify fails here (kFailed, with OpenSSL's reason and the verification error).
Result<std::unique_ptr<Connection>> connectTls(std::string_view url, const ConnectOptions& options);
// Loads the certificate and key once; accept() returns connections whose handshake runs on
// their first receive.
Result<std::unique_ptr<Listener>> listenTls(std::string_view url, const TlsServerSettings& settings);

}  // namespace fastgpu::protocol
