// See descriptor_passing.h.
#include "protocol/transport/descriptor_passing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "protocol/transport/syscall.h"

namespace fastgpu::protocol {
namespace {

constexpr char kMarker = 'D';

// One marker byte and a control buffer: the message both directions pass. Receiving, the buffer
// has room for several descriptors, so that a peer sending more than one is seen (and each one
// closed) rather than truncated silently.
struct MarkedMessage {
  explicit MarkedMessage(char marker) : byte(marker) {
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
  }
  MarkedMessage(const MarkedMessage&) = delete;
  char byte;
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxDescriptors)] = {};
  msghdr header{};
};

}  // namespace

Status sendDescriptors(int socket, std::span<const int> descriptors, std::string_view peer) {
  if (descriptors.empty() || descriptors.size() > kMaxDescriptors) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("cannot send {} descriptors at once", descriptors.size()));
  }
  MarkedMessage marked(kMarker);
  msghdr& message = marked.header;
  message.msg_controllen = CMSG_SPACE(sizeof(int) * descriptors.size());
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int) * descriptors.size());
  std::memcpy(CMSG_DATA(header), descriptors.data(), sizeof(int) * descriptors.size());
  auto sent = retrySyscall("send a descriptor to", peer, [&] { return ::sendmsg(socket, &message, MSG_NOSIGNAL); });
  return sent ? Status::ok() : sent.status();
}

Result<int> receiveDescriptor(int socket, std::string_view peer) {
  MarkedMessage marked(0);
  msghdr& message = marked.header;
  auto got = retrySyscall("receive a descriptor from", peer, [&] { return ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC); });
  if (!got) return got.status();
  if (*got == 0) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, fmt::format("{} closed the connection", peer));
  std::vector<int> received;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      received.push_back(fd);
    }
  }
  bool truncated = (message.msg_flags & MSG_CTRUNC) != 0;
  if (marked.byte == kMarker && received.size() == 1 && !truncated) return received.front();
  for (int fd : received) ::close(fd);
  return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE,
                fmt::format("{} sent {} descriptors{} where one was expected", peer, received.size(),
                            marked.byte == kMarker ? "" : " and an unknown marker"));
}

}  // namespace fastgpu::protocol
