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
  // A client on the server's host is offered shared memory whichever way it came.
  if (forced.empty()) return TransportChoice{unixUrl || tcpUrl, false};
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
    return Status(CUDA_ERROR_NO_DEVICE, "FASTGPU_TRANSPORT=rdma: fastgpu-server does not serve RDMA yet (docs/rdma.md)");
  }
  return Status(CUDA_ERROR_NO_DEVICE,
                fmt::format("FASTGPU_TRANSPORT='{}' is not one of tcp, unix, shm, rdma", forced.substr(0, 64)));
}

}  // namespace fastgpu::interposer
