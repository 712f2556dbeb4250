// Handing a descriptor to the process at the other end of a Unix socket (SCM_RIGHTS): how a
// shared-memory session's segment reaches the client.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

inline constexpr std::size_t kMaxDescriptors = 4;

// Sends `descriptors` (1 to kMaxDescriptors; copies: the caller keeps its own) with one marker
// byte over the Unix socket `socket`.
Status sendDescriptors(int socket, std::span<const int> descriptors, std::string_view peer);
inline Status sendDescriptor(int socket, int descriptor, std::string_view peer) {
  return sendDescriptors(socket, std::span(&descriptor, 1), peer);
}

// Receives the one descriptor sendDescriptor sent, close-on-exec; the caller owns it. Fails
// (closing whatever arrived) when the peer sends anything else: no descriptor, several, or a
// different marker. Waits as long as the socket's receive timeout (SO_RCVTIMEO) allows.
Result<int> receiveDescriptor(int socket, std::string_view peer);

}  // namespace fastgpu::protocol
