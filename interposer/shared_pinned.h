// Page-locked memory in the heap a same-host session shares with its worker
// (protocol/transport/shared_heap.h): what cuMemHostAlloc hands out there, and the staging chunk
// that synchronous copies of pageable memory pass through, so that their bytes are copied twice
// (into the chunk, and by the server's driver) rather than through the rings.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "interposer/runtime.h"

namespace fastgpu::interposer {

struct SharedPages {
  void* memory;
  std::uint64_t offset;  // in the heap
  std::uint64_t device;  // the device's address of it (0: none); `memory` too when it could be
                         // mapped where the server has it (unified addressing)
};

// A range of the shared heap the server handed out (registered there): where it starts in the
// heap, and the device's address of it (0: none). Nullopt when there is no heap or the server
// cannot give more; not mapped here yet.
struct SharedRange {
  std::uint64_t offset;
  std::uint64_t device;
};
std::optional<SharedRange> askSharedRange(Runtime& rt, Client& client, std::uint64_t bytes);
// Gives a range back to the server, which first waits for the device's work.
CUresult freeSharedRange(Runtime& rt, Client& client, std::uint64_t offset);
// Waits for the current context's work (or context `context`'s), as the driver does before host
// memory stops being page-locked: not a synchronization of the program's, so another thread's
// capture goes on; its errors stay deferred for the next synchronizing call.
void awaitContextWork(Runtime& rt, Client& client);
void awaitContextWork(Client& client, std::uint64_t context);

// Page-locked memory from the shared heap: mapped here, registered by the server. Nullopt when
// there is no heap or the server cannot give more (the caller makes it locally).
std::optional<SharedPages> allocateShared(Runtime& rt, Client& client, std::uint64_t bytes);

// The staging area, in two halves that take turns (shared_copies.cpp); held for one copy at a
// time (threads take turns).
inline constexpr std::uint64_t kStagingBytes = 16ULL << 20;
struct StagingLease {
  SharedPages pages;
  std::uint64_t bytes;
  std::unique_lock<std::mutex> hold;
  Client::StagingSlot* slot;

  // The copy returns with work of `stream` still to read the area.
  void leaveBusy(std::uint64_t context, std::uint64_t stream, bool perThread) {
    slot->busy = Client::StagingSlot::Busy{context, stream, perThread, threadSerial()};
  }
};
// Nullopt when the session has no heap or the server gave no chunk (the copy goes through the
// connection as before). An area left busy is free once this returns.
std::optional<StagingLease> leaseStaging(Runtime& rt, Client& client);

}  // namespace fastgpu::interposer
