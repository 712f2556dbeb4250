// The tcp transport's control path, for transport.cpp and the transports built on TCP (tls.cpp).
// Internal to protocol/transport.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/transport/transport.h"

namespace fastgpu::protocol {

inline constexpr std::string_view kTcpScheme = "tcp://";
inline constexpr std::string_view kTlsScheme = "tls://";  // the same addresses, TLS on top (tls.cpp)

struct HostPort {
  std::string host;  // "[::1]" unbracketed
  std::string port;
};

// The host and port of tcp://HOST:PORT or tls://HOST:PORT; errors name `url`.
Result<HostPort> parseTcpUrl(std::string_view url);

// Connects to tcp://HOST:PORT (or tls://HOST:PORT, for TCP only: the caller adds TLS); errors
// name `url`. The connection's peer() is "tcp://ADDRESS:PORT".
Result<std::unique_ptr<Connection>> connectTcp(std::string_view url, std::optional<std::chrono::milliseconds> timeout);
// Listens on tcp://HOST:PORT (or tls://..., as above); url() is "tcp://ADDRESS:PORT".
Result<std::unique_ptr<Listener>> listenTcp(std::string_view url);

}  // namespace fastgpu::protocol
