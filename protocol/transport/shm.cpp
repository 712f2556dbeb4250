// See shm.h.
#include "protocol/transport/shm.h"

#include <sys/socket.h>
#include <unistd.h>

#include "protocol/transport/descriptor_passing.h"
#include "protocol/transport/shm_connection.h"
#include "protocol/transport/system_failure.h"

namespace fastgpu::protocol {

Result<std::unique_ptr<Connection>> offerSharedMemory(SharedSegment segment, int socket, std::string peer,
                                                      int heap) {
  // The rings start empty at position 0 on both sides: whatever the client writes once it has
  // the segment waits there for this side's connection.
  Status sent = sendDescriptor(socket, segment.descriptor(), peer);
  if (sent && heap >= 0) sent = sendDescriptor(socket, heap, peer);
  if (!sent) {
    ::close(socket);
    return sent;
  }
  return openShmConnection(std::move(segment), ShmSide::kServer, socket, std::move(peer));
}

Result<std::unique_ptr<Connection>> acceptSharedMemory(int socket, std::string peer, std::optional<SharedHeap>* heap) {
  auto memfd = receiveDescriptor(socket, peer);
  if (!memfd) {
    ::close(socket);
    return memfd.status();
  }
  auto segment = SharedSegment::adopt(*memfd);
  if (!segment) {
    ::close(socket);
    return segment.status();
  }
  if (heap != nullptr) {
    auto heapfd = receiveDescriptor(socket, peer);
    auto adopted = heapfd ? SharedHeap::adopt(*heapfd) : Result<SharedHeap>(heapfd.status());
    if (!adopted) {
      ::close(socket);
      return adopted.status();
    }
    heap->emplace(std::move(*adopted));
  }
  return openShmConnection(std::move(*segment), ShmSide::kClient, socket, std::move(peer));
}

Result<std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>>> sharedMemoryPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return systemFailure("socketpair");
  }
  auto segment = SharedSegment::create();
  if (!segment) {
    ::close(fds[0]);
    ::close(fds[1]);
    return segment.status();
  }
  auto server = offerSharedMemory(std::move(*segment), fds[1], "shm:server");
  if (!server) {
    ::close(fds[0]);
    return server.status();
  }
  auto client = acceptSharedMemory(fds[0], "shm:client");
  if (!client) return client.status();
  return std::make_pair(std::move(*client), std::move(*server));
}

}  // namespace fastgpu::protocol
