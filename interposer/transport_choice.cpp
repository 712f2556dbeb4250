// See transport_choice.h.
#include "interposer/transport_choice.h"

#include <fmt/format.h>

namespace fastgpu::interposer {
namespace {

Status wrongUrl(std::string_view forced, std::string_view server, std::string_view wanted) {
  return Status(CUDA_ERROR_NO_DEVICE, fmt::format("FASTGPU_TRANSPORT={} needs FASTGPU_SERVER to be {} (it is '{}')",
                                                  forced, wanted, server));
}

}  // namespace

Result<TransportChoice> chooseTransport(std::string_view forced, std::string_view server) {
  bool unixUrl = server.starts_with("unix://");
  bool tcpUrl = server.starts_with("tcp://") || server.starts_with("tls://");
  bool rdmaUrl = server.starts_with("rdma://");
  // A client on the server's host is offered shared memory whichever way it came, but RDMA.
  if (forced.empty()) return TransportChoice{unixUrl || tcpUrl, false, rdmaUrl};
  if (forced == "tcp") {
    if (!tcpUrl) return wrongUrl(forced, server, "a tcp:// or tls:// URL");
    return TransportChoice{};
  }
  if (forced == "unix") {
    if (!unixUrl) return wrongUrl(forced, server, "a unix:///PATH URL");
    return TransportChoice{};
  }
  if (forced == "shm") {
    if (!unixUrl && !tcpUrl) return wrongUrl(forced, server, "the unix://, tcp:// or tls:// URL of a server on this host");
    return TransportChoice{true, true};
  }
  if (forced == "rdma") {
    if (!rdmaUrl) return wrongUrl(forced, server, "an rdma://HOST:PORT URL");
    return TransportChoice{false, false, true};
  }
  return Status(CUDA_ERROR_NO_DEVICE,
                fmt::format("FASTGPU_TRANSPORT='{}' is not one of tcp, unix, shm, rdma", forced.substr(0, 64)));
}

}  // namespace fastgpu::interposer
