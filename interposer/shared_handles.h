// The handles a program passes to another process to share device memory, events and pools: all
// of them are 64 bytes the server makes (a token of its board, server/dispatch_ipc.cpp), either
// handed over as they are (IPC handles, pool pointer exports) or wrapped in a sealed memory file
// whose descriptor the program passes as it would the driver's (cudaabi/sealed_descriptor.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "interposer/remote.h"

namespace fastgpu::interposer {

inline constexpr std::size_t kSharedHandleBytes = 64;
using SharedHandle = std::array<std::uint8_t, kSharedHandleBytes>;

// Sends `call` (which asks for a handle) and gives the server's 64 bytes.
Result<SharedHandle> askSharedHandle(Client& client, CallMessage& call);
// The same, into a new descriptor of a sealed memory file holding them.
Result<int> askSharedDescriptor(Client& client, CallMessage& call);
// The handle held by descriptor `fd`; nothing for a descriptor FastGPU did not make.
std::optional<SharedHandle> handleInDescriptor(int fd);
// The descriptor a driver call takes in the bits of its `void*` argument.
inline int descriptorOf(void* shareable) { return static_cast<int>(reinterpret_cast<std::intptr_t>(shareable)); }

}  // namespace fastgpu::interposer
