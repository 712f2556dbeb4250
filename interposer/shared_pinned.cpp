// See shared_pinned.h.
#include "interposer/shared_pinned.h"

#include "interposer/remote.h"
#include "protocol/call_kinds.h"

namespace fastgpu::interposer {

std::optional<SharedRange> askSharedRange(Runtime& rt, Client& client, std::uint64_t bytes) {
  if (client.sharedHeap() == nullptr) return std::nullopt;
  CallMessage call(rt.currentContextId());
  call->setHostAllocShared(bytes);
  auto reply = ask(client, call);
  if (!reply) return std::nullopt;
  auto values = valuesOf(**reply);
  if (values.size() != 2) return std::nullopt;
  return SharedRange{static_cast<std::uint64_t>(values[0]), static_cast<std::uint64_t>(values[1])};
}

CUresult freeSharedRange(Runtime& rt, Client& client, std::uint64_t offset) {
  CallMessage call(rt.currentContextId());
  call->setHostFreeShared(offset);
  return askResult(client, call);
}

void awaitContextWork(Runtime& rt, Client& client) { awaitContextWork(client, rt.currentContextId()); }

void awaitContextWork(Client& client, std::uint64_t context) {
  CallMessage call(context);
  call->setAwaitContextWork();
  (void)askResult(client, call);
}

std::optional<SharedPages> allocateShared(Runtime& rt, Client& client, std::uint64_t bytes) {
  auto pages = protocol::wholePages(bytes);
  auto range = pages ? askSharedRange(rt, client, bytes) : std::nullopt;
  if (!range) return std::nullopt;
  auto mapped = client.sharedHeap()->map(range->offset, *pages, reinterpret_cast<void*>(range->device));
  if (mapped) return SharedPages{*mapped, range->offset, range->device};
  (void)freeSharedRange(rt, client, range->offset);
  return std::nullopt;
}

namespace {

// Waits until the stream of the copy that left the staging area busy has read it, or, for a
// stream destroyed since, its context's work. Errors stay for the program's own synchronizing
// calls: this wait is not one of them.
void awaitStagingFree(Client& client, const Client::StagingSlot::Busy& busy) {
  if (synchronizeStream(client, busy.context, busy.stream, busy.perThread, false, busy.thread) == CUDA_SUCCESS) return;
  awaitContextWork(client, busy.context);
}

}  // namespace

std::optional<StagingLease> leaseStaging(Runtime& rt, Client& client) {
  if (client.sharedHeap() == nullptr) return std::nullopt;
  Client::StagingSlot& slot = client.staging();
  std::unique_lock hold(slot.mutex);
  if (!slot.asked) {
    slot.asked = true;
    if (auto pages = allocateShared(rt, client, kStagingBytes)) {
      slot.memory = pages->memory;
      slot.offset = pages->offset;
    }
  }
  if (slot.memory == nullptr) return std::nullopt;
  if (slot.busy) {
    awaitStagingFree(client, *slot.busy);
    slot.busy.reset();
  }
  return StagingLease{SharedPages{slot.memory, slot.offset, 0}, kStagingBytes, std::move(hold), &slot};
}

}  // namespace fastgpu::interposer
