// Copies between device memory and this process's pinned memory on an rdma:// session: the
// pinned range is registered with the link once (the client's registration cache) and the server
// READs or WRITEs it straight from or to its own pinned staging by RDMA (copyRdma): no byte passes
// through the rings or the CPU on this side. Pageable memory keeps to the rings, which are
// themselves registered memory written by RDMA.
#pragma once

#include <cstdint>
#include <optional>

#include "interposer/client.h"
#include "interposer/runtime.h"
#include "interposer/stream_arg.h"

namespace fastgpu::interposer {

// `bytes` between device address `device` and `host`, inside one pinned range, as the copy's
// stream says (an asynchronous one is posted; its bytes are in place before the next reply).
// nullopt when this is not an RDMA session or the range cannot be registered (the locked-memory
// limit: said once): the caller copies another way.
std::optional<CUresult> copyByRdma(Runtime& rt, Client& client, std::uint64_t device, std::uint8_t* host,
                                   std::uint64_t bytes, bool toHost, StreamArg stream);

// The program frees or unregisters pinned memory: its registration ends (once the copies that
// name it are done).
void forgetRdmaRegistration(Client& client, const void* base, std::uint64_t bytes);

}  // namespace fastgpu::interposer
