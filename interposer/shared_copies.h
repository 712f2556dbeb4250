// Copies through memory the client shares with the server (same host; shared_pinned.h): page-
// locked memory in the heap is copied by the server's driver in place, pageable memory passes
// through the heap's staging area. Neither sends a byte through the rings.
#pragma once

#include <optional>

#include "interposer/client.h"
#include "interposer/runtime.h"
#include "interposer/stream_arg.h"

namespace fastgpu::interposer {

// A copy between the device and page-locked memory at `offset` in the shared heap: the server's
// driver copies it in stream order, an asynchronous one after the call returned (as natively: the
// host bytes are read or written when the copy runs).
CUresult copyShared(Runtime& rt, Client& client, std::uint64_t device, std::uint64_t offset, std::uint64_t bytes,
                    bool toHost, StreamArg stream);

// A copy of `bytes` (> 0) of pageable memory at `host` through the staging area, in stream order.
// To the host it returns once the bytes are there, asynchronous or not (as the driver's copies
// to pageable memory); an asynchronous one to the device returns once its last bytes are in the
// area, which the next staged copy waits for. Nullopt when the session has no staging area.
std::optional<CUresult> copyThroughStaging(Runtime& rt, Client& client, std::uint64_t device, std::uint8_t* host,
                                           std::uint64_t bytes, bool toHost, StreamArg stream);

}  // namespace fastgpu::interposer
