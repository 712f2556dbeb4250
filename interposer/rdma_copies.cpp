#include "interposer/rdma_copies.h"

#include <atomic>

#include "cudaabi/log.h"
#include "interposer/remote.h"

namespace fastgpu::interposer {

std::optional<CUresult> copyByRdma(Runtime& rt, Client& client, std::uint64_t device, std::uint8_t* host,
                                   std::uint64_t bytes, bool toHost, StreamArg stream) {
  protocol::RdmaRegistrationCache* registrations = client.rdmaRegistrations();
  if (registrations == nullptr) return std::nullopt;
  auto range = rt.hostRangeContaining(reinterpret_cast<std::uint64_t>(host));
  if (!range) return std::nullopt;
  // The whole pinned range at once: later copies of any part of it find it registered.
  auto lease = registrations->cover(reinterpret_cast<const void*>(range->first), range->second.bytes);
  if (!lease) {
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) {
      cudaabi::driverLogger().warn("pinned memory cannot be registered for RDMA ({}); its copies travel through the "
                                   "rings (raise the locked-memory limit: ulimit -l)",
                                   lease.status().message());
    }
    return std::nullopt;
  }
  CallMessage call(rt.currentContextId());
  auto copy = call->initCopyRdma();
  copy.setDevice(device);
  copy.setAddress(reinterpret_cast<std::uint64_t>(host));
  copy.setKey((*lease)->remoteKey);
  copy.setBytes(bytes);
  copy.setToHost(toHost);
  copy.setStream(stream.id);
  copy.setPerThread(stream.perThread);
  copy.setAsync(stream.async);
  CUresult result = sendInStreamOrder(client, call);
  if (stream.async) client.holdUntilNextReply(std::move(*lease));
  return result;
}

void forgetRdmaRegistration(Client& client, const void* base, std::uint64_t bytes) {
  if (protocol::RdmaRegistrationCache* registrations = client.rdmaRegistrations()) registrations->forget(base, bytes);
}

}  // namespace fastgpu::interposer
