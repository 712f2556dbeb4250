// See shared_pinned.h.
#include "interposer/shared_pinned.h"

#include "interposer/remote.h"
#include "protocol/call_kinds.h"

namespace fastgpu::interposer {

std::optional<SharedPages> allocateShared(Runtime& rt, Client& client, std::uint64_t bytes) {
  const protocol::SharedHeap* heap = client.sharedHeap();
  auto pages = protocol::wholePages(bytes);
  if (heap == nullptr || !pages) return std::nullopt;
  CallMessage call(rt.currentContextId());
  call->setHostAllocShared(bytes);
  auto reply = ask(client, call);
  if (!reply) return std::nullopt;
  auto values = valuesOf(**reply);
  if (values.size() != 2) return std::nullopt;
  auto offset = static_cast<std::uint64_t>(values[0]);
  auto device = static_cast<std::uint64_t>(values[1]);
  auto mapped = heap->map(offset, *pages, reinterpret_cast<void*>(device));
  if (mapped) return SharedPages{*mapped, offset, device};
  CallMessage free(rt.currentContextId());
  free->setHostFreeShared(offset);
  (void)askResult(client, free);
  return std::nullopt;
}

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
  return StagingLease{SharedPages{slot.memory, slot.offset, 0}, kStagingBytes, std::move(hold)};
}

}  // namespace fastgpu::interposer
