// See tls.h.
#include "protocol/transport/tls.h"

#include <fmt/format.h>

#include "protocol/transport/tcp.h"
#include "protocol/transport/tls_connection.h"

namespace fastgpu::protocol {
namespace {

// "tcp://10.0.0.2:7600" -> "tls://10.0.0.2:7600": what logs and errors call a TLS peer.
std::string asTls(const std::string& tcpUrl) {
  return tcpUrl.starts_with(kTcpScheme) ? std::string(kTlsScheme) + tcpUrl.substr(kTcpScheme.size()) : tcpUrl;
}

class TlsListener final : public Listener {
 public:
  TlsListener(std::unique_ptr<Listener> tcp, std::shared_ptr<const TlsContext> context)
      : tcp_(std::move(tcp)), context_(std::move(context)) {}

  Result<std::unique_ptr<Connection>> accept() override {
    auto accepted = tcp_->accept();
    if (!accepted) return accepted.status();
    std::string peer = asTls((*accepted)->peer());
    auto stream = TlsStream::open(context_, (*accepted)->detach(), peer, "");
    if (!stream) return stream.status();
    return std::unique_ptr<Connection>(std::make_unique<TlsConnection>(std::move(*stream)));
  }
  void close() override { tcp_->close(); }
  std::string url() const override { return asTls(tcp_->url()); }

 private:
  const std::unique_ptr<Listener> tcp_;
  const std::shared_ptr<const TlsContext> context_;
};

}  // namespace

Result<std::unique_ptr<Connection>> connectTls(std::string_view url, const ConnectOptions& options) {
  auto where = parseTcpUrl(url);  // its host is the name the server's certificate must carry
  if (!where) return where.status();
  auto context = TlsContext::forClient(options.tls);
  if (!context) return context.status();
  auto deadline = options.timeout ? std::optional(std::chrono::steady_clock::now() + *options.timeout) : std::nullopt;
  auto tcp = connectTcp(url, options.timeout);
  if (!tcp) return tcp.status();
  std::string peer = asTls((*tcp)->peer());
  auto stream = TlsStream::open(std::move(*context), (*tcp)->detach(), peer, where->host);
  if (!stream) return stream.status();
  auto connection = std::make_unique<TlsConnection>(std::move(*stream));
  if (Status status = connection->handshake(deadline); !status) {
    if (status.code() == CUDA_ERROR_TIMEOUT) {
      return Status(ErrorKind::kDisconnected, CUDA_ERROR_TIMEOUT,
                    fmt::format("TLS handshake with {} timed out after {} ms", url, options.timeout->count()));
    }
    return status;
  }
  return std::unique_ptr<Connection>(std::move(connection));
}

Result<std::unique_ptr<Listener>> listenTls(std::string_view url, const TlsServerSettings& settings) {
  auto context = TlsContext::forServer(settings);
  if (!context) return context.status();
  auto tcp = listenTcp(url);
  if (!tcp) return tcp.status();
  return std::unique_ptr<Listener>(std::make_unique<TlsListener>(std::move(*tcp), std::move(*context)));
}

}  // namespace fastgpu::protocol
